use super::*;

fn setup() -> Message {
    let mut m = Message::new(MessageType::Setup, 0x1234, false);
    m.ies = vec![
        Ie::BearerCapability(BearerCapability::speech_alaw()),
        Ie::Display("Room 1".into()),
        Ie::CallingPartyNumber(PartyNumber {
            type_of_number: 0,
            numbering_plan: 1,
            presentation: Some((0, 3)),
            digits: "1001".into(),
        }),
        Ie::CalledPartyNumber(PartyNumber {
            type_of_number: 0,
            numbering_plan: 1,
            presentation: None,
            digits: "2002".into(),
        }),
        Ie::UserUser {
            protocol_discriminator: UU_PROTOCOL_X208,
            data: vec![0x20; 300],
        },
    ];
    m
}

#[test]
fn setup_builds_to_known_bytes_and_parses_back() {
    let m = setup();
    let b = m.build().unwrap();
    assert_eq!(&b[..5], &[0x08, 0x02, 0x12, 0x34, 0x05]);
    // bearer capability: speech, circuit 64k, layer 1 A-law
    assert_eq!(&b[5..10], &[0x04, 0x03, 0x80, 0x90, 0xA3]);
    assert_eq!(
        &b[10..18],
        &[0x28, 0x06, b'R', b'o', b'o', b'm', b' ', b'1']
    );
    // calling party: octet 3 without ext bit, 3a = presentation/screening
    assert_eq!(&b[18..24], &[0x6C, 0x06, 0x01, 0x83, b'1', b'0']);
    // user-user: two-octet length (301 = pd + 300)
    let uu = b.len() - 304;
    assert_eq!(&b[uu..uu + 4], &[0x7E, 0x01, 0x2D, 0x05]);
    let p = Message::parse(&b).unwrap();
    assert_eq!(p, m);
    assert_eq!(p.user_user().unwrap().len(), 300);
}

#[test]
fn call_reference_flag_and_short_references() {
    let m = Message::new(MessageType::ReleaseComplete, 0x7FFF, true);
    let b = m.build().unwrap();
    assert_eq!(b, vec![0x08, 0x02, 0xFF, 0xFF, 0x5A]);
    let p = Message::parse(&b).unwrap();
    assert!(p.from_destination);
    assert_eq!(p.call_reference, 0x7FFF);
    // one-octet and dummy (zero-length) call references are accepted
    let p = Message::parse(&[0x08, 0x01, 0x85, 0x7D]).unwrap();
    assert_eq!((p.call_reference, p.from_destination), (5, true));
    assert_eq!(p.message_type, MessageType::Status);
    let p = Message::parse(&[0x08, 0x00, 0x62]).unwrap();
    assert_eq!(p.message_type, MessageType::Facility);
    assert_eq!(
        Message::parse(&[0x08, 0x03, 0, 0, 0, 5]),
        Err(Q931Error::BadCallReferenceLength(3))
    );
    assert_eq!(
        Message::parse(&[0x09, 0x02, 0, 1, 5]),
        Err(Q931Error::BadProtocolDiscriminator(9))
    );
}

#[test]
fn every_message_type_round_trips() {
    for mt in [
        MessageType::Setup,
        MessageType::CallProceeding,
        MessageType::Alerting,
        MessageType::Progress,
        MessageType::Connect,
        MessageType::ReleaseComplete,
        MessageType::Facility,
        MessageType::Status,
        MessageType::StatusEnquiry,
        MessageType::Information,
        MessageType::Notify,
        MessageType::Other(0x99),
    ] {
        let b = Message::new(mt, 1, false).build().unwrap();
        assert_eq!(Message::parse(&b).unwrap().message_type, mt);
    }
}

#[test]
fn cause_progress_keypad_signal() {
    let mut m = Message::new(MessageType::ReleaseComplete, 9, true);
    m.ies = vec![
        Ie::Cause {
            coding_standard: 0,
            location: 1,
            value: 17,
            diagnostics: vec![],
        },
        Ie::ProgressIndicator {
            coding_standard: 0,
            location: 0,
            description: 8,
        },
        Ie::Keypad("12#".into()),
        Ie::Signal(0x3F),
        Ie::SingleOctet(0xA1),
        Ie::Other {
            id: 0x1C,
            data: vec![0x91, 0xA1],
        },
    ];
    let b = m.build().unwrap();
    assert_eq!(&b[5..9], &[0x08, 0x02, 0x81, 0x91]);
    let p = Message::parse(&b).unwrap();
    assert_eq!(p, m);
    assert_eq!(p.cause(), Some(17));
    // cause with octet 3a (recommendation) and diagnostics
    let p = Message::parse(&[0x08, 0x02, 0, 1, 0x5A, 0x08, 0x04, 0x02, 0x80, 0x90, 0x55]).unwrap();
    assert_eq!(
        p.ies[0],
        Ie::Cause {
            coding_standard: 0,
            location: 2,
            value: 16,
            diagnostics: vec![0x55]
        }
    );
}

#[test]
fn multirate_bearer_capability() {
    let mut m = Message::new(MessageType::Setup, 2, false);
    m.ies = vec![Ie::BearerCapability(BearerCapability::multirate_video(6))];
    let b = m.build().unwrap();
    assert_eq!(&b[5..], &[0x04, 0x04, 0x88, 0x98, 0x86, 0xA5]);
    assert_eq!(Message::parse(&b).unwrap(), m);
}

#[test]
fn truncated_ies_are_refused_with_their_name() {
    let b = setup().build().unwrap();
    // every truncation point either parses a prefix of IEs or fails cleanly
    for n in 0..b.len() {
        let _ = Message::parse(&b[..n]);
    }
    // user-user cut short
    let err = Message::parse(&b[..b.len() - 1]).unwrap_err();
    assert_eq!(
        err,
        Q931Error::IeTruncated {
            name: "User-user",
            id: 0x7E,
            len: 301,
            left: 300
        }
    );
    // display length past the end
    let err = Message::parse(&[0x08, 0x02, 0, 1, 0x05, 0x28, 0x05, b'a']).unwrap_err();
    assert!(matches!(
        err,
        Q931Error::IeTruncated {
            name: "Display",
            ..
        }
    ));
    // an IE id with no length octet
    assert_eq!(
        Message::parse(&[0x08, 0x02, 0, 1, 0x05, 0x04]),
        Err(Q931Error::Truncated("IE length"))
    );
    // a cause with only octet 3
    assert_eq!(
        Message::parse(&[0x08, 0x02, 0, 1, 0x5A, 0x08, 0x01, 0x80]),
        Err(Q931Error::IeInvalid {
            name: "Cause",
            reason: "shorter than 2 octets"
        })
    );
    // bearer capability whose octet 3 extension never ends
    assert!(matches!(
        Message::parse(&[0x08, 0x02, 0, 1, 0x05, 0x04, 0x02, 0x00, 0x00]),
        Err(Q931Error::IeInvalid {
            name: "Bearer capability",
            ..
        })
    ));
    // empty user-user
    assert!(matches!(
        Message::parse(&[0x08, 0x02, 0, 1, 0x05, 0x7E, 0x00, 0x00]),
        Err(Q931Error::IeInvalid {
            name: "User-user",
            ..
        })
    ));
    // keypad must be IA5
    assert!(matches!(
        Message::parse(&[0x08, 0x02, 0, 1, 0x7B, 0x2C, 0x01, 0xFF]),
        Err(Q931Error::IeInvalid { name: "Keypad", .. })
    ));
}

use super::*;

fn setup() -> SetupUuie {
    SetupUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        h245_address: None,
        source_address: Some(vec![AliasAddress::H323Id("room-2001".into())]),
        source_info: EndpointType::terminal(),
        destination_address: Some(vec![AliasAddress::DialedDigits("1001".into())]),
        dest_call_signal_address: Some(TransportAddress::ip([10, 0, 0, 1], 1720)),
        dest_extra_call_info: None,
        active_mc: false,
        conference_id: [7; 16],
        conference_goal: ConferenceGoal::Create,
        call_type: CallType::PointToPoint,
        source_call_signal_address: Some(TransportAddress::ip([10, 0, 0, 5], 1720)),
        call_identifier: Some(CallIdentifier { guid: [9; 16] }),
        fast_start: Some(vec![vec![1, 2, 3], vec![4]]),
        media_wait_for_connect: false,
        can_overlap_send: false,
        endpoint_identifier: None,
        multiple_calls: false,
        maintain_connection: false,
    }
}

#[test]
fn setup_round_trips_with_tunnelling() {
    let mut ui = H323UserInformation::new(UuBody::Setup(setup()));
    ui.pdu.h245_tunnelling = true;
    ui.pdu.h245_control = Some(vec![vec![0x02, 0x70, 0x01]]);
    let b = ui.encode().unwrap();
    assert_eq!(H323UserInformation::decode(&b).unwrap(), ui);
}

#[test]
fn every_release_reason_round_trips() {
    for r in H225ReleaseReason::ALL {
        let reason = match r {
            H225ReleaseReason::NonStandardReason => {
                ReleaseCompleteReason::NonStandard(NonStandardParameter {
                    identifier: NonStandardIdentifier::Object(vec![1, 2, 3]),
                    data: vec![1],
                })
            }
            H225ReleaseReason::ReplaceWithConferenceInvite => {
                ReleaseCompleteReason::ReplaceWithConferenceInvite([3; 16])
            }
            H225ReleaseReason::SecurityError => continue,
            r => ReleaseCompleteReason::Reason(r),
        };
        let ui = H323UserInformation::new(UuBody::ReleaseComplete(ReleaseCompleteUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            reason: Some(reason.clone()),
            call_identifier: Some(CallIdentifier { guid: [1; 16] }),
        }));
        let b = ui.encode().unwrap();
        let back = H323UserInformation::decode(&b).unwrap();
        assert_eq!(back, ui, "{r:?}");
        assert_eq!(reason.reason(), Some(r));
    }
}

#[test]
fn unknown_body_alternative_is_other() {
    let ui = H323UserInformation::new(UuBody::Other {
        ext_index: 9,
        encoded: vec![0xAB, 0xCD],
    });
    let b = ui.encode().unwrap();
    assert_eq!(H323UserInformation::decode(&b).unwrap(), ui);
}

#[test]
fn truncated_setup_names_the_field() {
    let ui = H323UserInformation::new(UuBody::Setup(setup()));
    let b = ui.encode().unwrap();
    let err = H323UserInformation::decode(&b[..12]).unwrap_err();
    assert!(
        err.path
            .starts_with("H323-UserInformation.h323-uu-pdu.h323-message-body.setup"),
        "{err}"
    );
}

#[test]
fn status_with_tokens_is_reported_not_fatal() {
    // Status-UUIE with the tokens bit set: we cannot walk it, the body
    // becomes Other and the PDU still decodes.
    let mut e = Encoder::new();
    e.preamble(true, true, &[false]);
    e.choice_index(Index::Ext(2), BODY_ROOT, true).unwrap();
    let content = e
        .sub(|e| {
            e.preamble(true, false, &[true, false]);
            e.object_identifier(&H225_PROTOCOL_V4)?;
            CallIdentifier { guid: [0; 16] }.encode(e)?;
            e.length(0, Size::unbounded())
        })
        .unwrap();
    e.open_type_bytes(&content).unwrap();
    e.extensions(&[None, add_null(true).map(|_| vec![0]), None])
        .unwrap();
    let b = e.finish();
    let mut d = Decoder::new(&b);
    let pdu = H323UuPdu::decode(&mut d).unwrap();
    assert!(matches!(pdu.body, UuBody::Other { ext_index: 2, .. }));
}

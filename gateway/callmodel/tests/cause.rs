use gateway_callmodel::cause::sip_status_phrase;
use gateway_callmodel::{Cause, H225ReleaseReason, LegEvent, Q850};
use proptest::prelude::*;

fn q(v: u8) -> Q850 {
    Q850::new(v).unwrap()
}

/// RFC 3398 §7.2.4.1, every row (16 has no status in the RFC; see below).
const ISUP_TO_SIP: &[(u8, u16)] = &[
    (1, 404),
    (2, 404),
    (3, 404),
    (17, 486),
    (18, 408),
    (19, 480),
    (20, 480),
    (21, 403),
    (22, 410),
    (23, 410),
    (26, 404),
    (27, 502),
    (28, 484),
    (29, 501),
    (31, 480),
    (34, 503),
    (38, 503),
    (41, 503),
    (42, 503),
    (47, 503),
    (55, 403),
    (57, 403),
    (58, 503),
    (65, 488),
    (70, 488),
    (79, 501),
    (87, 403),
    (88, 503),
    (102, 504),
    (111, 500),
    (127, 500),
];

/// RFC 3398 §8.2.6.1, every row with a number (487, 488 and 606 have none
/// in the RFC; see below).
const SIP_TO_ISUP: &[(u16, u8)] = &[
    (400, 41),
    (401, 21),
    (402, 21),
    (403, 21),
    (404, 1),
    (405, 63),
    (406, 79),
    (407, 21),
    (408, 102),
    (410, 22),
    (413, 127),
    (414, 127),
    (415, 79),
    (416, 127),
    (420, 127),
    (421, 127),
    (423, 127),
    (480, 18),
    (481, 41),
    (482, 25),
    (483, 25),
    (484, 28),
    (485, 1),
    (486, 17),
    (500, 41),
    (501, 79),
    (502, 38),
    (503, 41),
    (504, 102),
    (505, 127),
    (513, 127),
    (600, 17),
    (603, 21),
    (604, 1),
];

/// H.225.0 Table 5, in CHOICE order.
const H225_TABLE: &[(H225ReleaseReason, u8)] = &[
    (H225ReleaseReason::NoBandwidth, 34),
    (H225ReleaseReason::GatekeeperResources, 47),
    (H225ReleaseReason::UnreachableDestination, 3),
    (H225ReleaseReason::DestinationRejection, 16),
    (H225ReleaseReason::InvalidRevision, 88),
    (H225ReleaseReason::NoPermission, 111),
    (H225ReleaseReason::UnreachableGatekeeper, 38),
    (H225ReleaseReason::GatewayResources, 42),
    (H225ReleaseReason::BadFormatAddress, 28),
    (H225ReleaseReason::AdaptiveBusy, 41),
    (H225ReleaseReason::InConf, 17),
    (H225ReleaseReason::UndefinedReason, 31),
    (H225ReleaseReason::FacilityCallDeflection, 16),
    (H225ReleaseReason::SecurityDenied, 31),
    (H225ReleaseReason::CalledPartyNotRegistered, 20),
    (H225ReleaseReason::CallerNotRegistered, 31),
    (H225ReleaseReason::NewConnectionNeeded, 47),
    (H225ReleaseReason::NonStandardReason, 127),
    (H225ReleaseReason::ReplaceWithConferenceInvite, 31),
    (H225ReleaseReason::GenericDataReason, 31),
    (H225ReleaseReason::NeededFeatureNotSupported, 31),
    (H225ReleaseReason::TunnelledSignallingRejected, 127),
    (H225ReleaseReason::InvalidCid, 31),
    (H225ReleaseReason::SecurityError, 31),
    (H225ReleaseReason::HopCountExceeded, 25),
];

#[test]
fn q850_to_sip_follows_rfc3398_7_2_4_1() {
    for &(cause, status) in ISUP_TO_SIP {
        assert_eq!(
            Cause::new(q(cause)).to_sip_status(),
            status,
            "Q.850 {cause}"
        );
    }
}

#[test]
fn sip_to_q850_follows_rfc3398_8_2_6_1() {
    for &(status, cause) in SIP_TO_ISUP {
        let c = Cause::from_sip_status(status, "");
        assert_eq!(c.q850().value(), cause, "SIP {status}");
        assert_eq!(c.sip_status(), Some(status));
    }
}

#[test]
fn reversible_rows_round_trip_through_q850_alone() {
    // A status whose cause maps straight back: the round trip holds even
    // without the kept status (the SIP→H.323→SIP path).
    let mut reversible = 0;
    for &(status, cause) in SIP_TO_ISUP {
        if ISUP_TO_SIP.contains(&(cause, status)) {
            assert_eq!(Cause::new(q(cause)).to_sip_status(), status);
            reversible += 1;
        }
    }
    for &(cause, status) in ISUP_TO_SIP {
        if SIP_TO_ISUP.contains(&(status, cause)) {
            assert_eq!(Cause::from_sip_status(status, "").q850(), q(cause));
        }
    }
    // 403↔21 404↔1 410↔22 484↔28 486↔17 501↔79 503↔41 504↔102; not e.g.
    // 502 (→38→503) or 480 (→18→408).
    assert_eq!(reversible, 8);
}

#[test]
fn named_pairs_from_the_brief() {
    let via_q850 = |status: u16| Cause::new(Cause::from_sip_status(status, "").q850());
    assert_eq!(Cause::from_sip_status(486, "").q850(), Q850::USER_BUSY);
    assert_eq!(Cause::new(Q850::USER_BUSY).to_sip_status(), 486);
    assert_eq!(
        Cause::from_sip_status(404, "").q850(),
        Q850::UNALLOCATED_NUMBER
    );
    assert_eq!(Cause::new(Q850::UNALLOCATED_NUMBER).to_sip_status(), 404);
    // 480 → 18, but 18 → 408 and 20 → 480: not an identity through Q.850.
    assert_eq!(
        Cause::from_sip_status(480, "").q850(),
        Q850::NO_USER_RESPONDING
    );
    assert_eq!(via_q850(480).to_sip_status(), 408);
    assert_eq!(Cause::new(Q850::SUBSCRIBER_ABSENT).to_sip_status(), 480);
    // 503 → 41; 34, 41, 47 → 503.
    assert_eq!(
        Cause::from_sip_status(503, "").q850(),
        Q850::TEMPORARY_FAILURE
    );
    for c in [
        Q850::NO_CIRCUIT_AVAILABLE,
        Q850::TEMPORARY_FAILURE,
        Q850::RESOURCE_UNAVAILABLE,
    ] {
        assert_eq!(Cause::new(c).to_sip_status(), 503);
    }
    assert_eq!(via_q850(503).to_sip_status(), 503);
    // 500 → 41 → 503.
    assert_eq!(
        Cause::from_sip_status(500, "").q850(),
        Q850::TEMPORARY_FAILURE
    );
    assert_eq!(via_q850(500).to_sip_status(), 503);
    // 65 → 488; 88 → 503 (the RFC's row, not 488).
    assert_eq!(
        Cause::new(Q850::BEARER_CAPABILITY_NOT_IMPLEMENTED).to_sip_status(),
        488
    );
    assert_eq!(
        Cause::new(Q850::INCOMPATIBLE_DESTINATION).to_sip_status(),
        503
    );
}

#[test]
fn choices_where_the_rfc_has_no_number() {
    // 488/606 "by Warning header": 65, whose forward row is 488.
    assert_eq!(
        Cause::from_sip_status(488, "").q850(),
        Q850::BEARER_CAPABILITY_NOT_IMPLEMENTED
    );
    assert_eq!(
        Cause::from_sip_status(606, "").q850(),
        Q850::BEARER_CAPABILITY_NOT_IMPLEMENTED
    );
    assert_eq!(
        Cause::new(Cause::from_sip_status(488, "").q850()).to_sip_status(),
        488
    );
    // 487 echoes our CANCEL: normal clearing.
    assert!(Cause::from_sip_status(487, "").is_normal());
    // 16 has no response in the RFC; a forced one is 480.
    assert_eq!(Cause::normal_clearing().to_sip_status(), 480);
}

#[test]
fn unlisted_statuses_map_to_31_per_rfc3398() {
    for status in [
        300, 302, 409, 411, 412, 417, 422, 428, 429, 489, 491, 493, 494, 499, 506, 555, 580, 599,
        601, 605, 699,
    ] {
        let c = Cause::from_sip_status(status, "");
        assert_eq!(c.q850(), Q850::NORMAL_UNSPECIFIED, "SIP {status}");
        assert_eq!(c.sip_status(), Some(status));
    }
}

#[test]
fn non_failure_and_invalid_statuses() {
    let ok = Cause::from_sip_status(200, "Call completed elsewhere");
    assert!(ok.is_normal());
    assert_eq!(ok.sip_status(), Some(200));
    // A 2xx is no rejection status: the SIP leg gets one from the Q.850 value.
    assert_eq!(ok.to_sip_status(), 480);
    for bogus in [0, 99, 700, 1000, u16::MAX] {
        let c = Cause::from_sip_status(bogus, "x");
        assert_eq!(c.sip_status(), None, "{bogus}");
        assert_eq!(c.q850(), Q850::NORMAL_UNSPECIFIED);
        assert!((300..=699).contains(&c.to_sip_status()));
    }
}

#[test]
fn unlisted_q850_values_take_their_class_default() {
    // 6 (normal class) as 31, 44 (resource) as 47, 50 (service n/a) 503,
    // 66 (not implemented) as 79, 81/96/110 (invalid message, protocol) 500.
    for (cause, status) in [
        (6, 480),
        (25, 480),
        (44, 503),
        (50, 503),
        (63, 503),
        (66, 501),
        (69, 501),
        (81, 500),
        (95, 500),
        (96, 500),
        (110, 500),
        (120, 500),
    ] {
        assert_eq!(
            Cause::new(q(cause)).to_sip_status(),
            status,
            "Q.850 {cause}"
        );
    }
}

#[test]
fn sip_status_survives_sip_to_sip_exactly() {
    for status in 300..=699u16 {
        let c = Cause::from_sip_status(status, "");
        assert_eq!(c.to_sip_status(), status);
        // ...and through the neutral event the owner passes on.
        let LegEvent::Ended(carried) = LegEvent::Ended(c.clone()) else {
            unreachable!()
        };
        assert_eq!(carried.to_sip_status(), status);
    }
}

#[test]
fn every_q850_value_gives_a_final_failure_status() {
    for v in 1..=127u8 {
        let s = Cause::new(q(v)).to_sip_status();
        assert!((400..=699).contains(&s), "Q.850 {v} -> {s}");
    }
}

#[test]
fn q850_values_are_bounded() {
    assert_eq!(Q850::new(0), None);
    assert_eq!(Q850::new(128), None);
    assert_eq!(Q850::new(127).map(Q850::value), Some(127));
    // Extension bit dropped; 0 is unassigned and reads as 31.
    assert_eq!(Q850::from_wire(0x80 | 17), Q850::USER_BUSY);
    assert_eq!(Q850::from_wire(0), Q850::NORMAL_UNSPECIFIED);
    assert_eq!(Q850::from_wire(0x80), Q850::NORMAL_UNSPECIFIED);
}

#[test]
fn h225_table_5_reason_to_q850() {
    assert_eq!(H225_TABLE.len(), H225ReleaseReason::ALL.len());
    for (i, &(reason, cause)) in H225_TABLE.iter().enumerate() {
        assert_eq!(reason.choice_index() as usize, i, "{reason}");
        assert_eq!(H225ReleaseReason::from_choice_index(i as u32), Some(reason));
        let c = Cause::from_h225(reason);
        assert_eq!(c.q850().value(), cause, "{reason}");
        // The exact reason survives H.323→H.323.
        assert_eq!(c.to_h225(), reason);
    }
    assert_eq!(H225ReleaseReason::from_choice_index(25), None);
    assert_eq!(H225ReleaseReason::from_choice_index(u32::MAX), None);
    assert!(!H225ReleaseReason::UndefinedReason.is_extension());
    assert!(H225ReleaseReason::FacilityCallDeflection.is_extension());
    assert_eq!(H225ReleaseReason::InvalidCid.asn1_name(), "invalidCID");
}

#[test]
fn h225_reverse_is_the_inverse_of_table_5() {
    let mut reversible = 0;
    for &(reason, cause) in H225_TABLE {
        let back = Cause::new(q(cause)).to_h225();
        // Every cause with a row maps back to a reason with that same cause,
        // except 127: its reasons (nonStandardReason needs a payload,
        // tunnelledSignallingRejected is too specific) are no fit for an
        // arbitrary interworking failure.
        if cause == 127 {
            assert_eq!(back, H225ReleaseReason::UndefinedReason);
            continue;
        }
        assert_eq!(back.q850().value(), cause, "{reason}");
        if back == reason {
            reversible += 1;
        }
    }
    // The generic reason of each cause: 34 47 3 16 88 111 38 42 28 41 17 31
    // 20 25; shared causes go to the first (destinationRejection for 16, ...).
    assert_eq!(reversible, 14);
    assert_eq!(
        Cause::new(Q850::NORMAL_CLEARING).to_h225(),
        H225ReleaseReason::DestinationRejection
    );
    assert_eq!(
        Cause::new(Q850::RESOURCE_UNAVAILABLE).to_h225(),
        H225ReleaseReason::GatekeeperResources
    );
    // No row: undefinedReason (the Cause IE carries the exact value).
    for v in [1, 18, 19, 21, 102, 127] {
        assert_eq!(
            Cause::new(q(v)).to_h225(),
            H225ReleaseReason::UndefinedReason,
            "Q.850 {v}"
        );
    }
}

#[test]
fn sip_and_h323_interwork_through_q850() {
    // SIP 486 to an H.323 peer: inConf (busy); back to SIP: 486.
    let busy = Cause::from_sip_status(486, "Busy Here");
    assert_eq!(busy.to_h225(), H225ReleaseReason::InConf);
    assert_eq!(
        Cause::from_h225(H225ReleaseReason::InConf).to_sip_status(),
        486
    );
    assert_eq!(
        Cause::from_h225(H225ReleaseReason::CalledPartyNotRegistered).to_sip_status(),
        480
    );
    assert_eq!(
        Cause::from_h225(H225ReleaseReason::UnreachableDestination).to_sip_status(),
        404
    );
    assert_eq!(
        Cause::from_sip_status(404, "").to_h225(),
        H225ReleaseReason::UndefinedReason
    );
}

#[test]
fn display_for_logs() {
    assert_eq!(
        Cause::from_sip_status(486, "").to_string(),
        "Q.850 17 user busy (SIP 486)"
    );
    assert_eq!(
        Cause::normal_clearing().to_string(),
        "Q.850 16 normal clearing"
    );
    assert_eq!(
        Cause::from_h225(H225ReleaseReason::InConf).to_string(),
        "Q.850 17 user busy (H.225 inConf)"
    );
    assert_eq!(
        Cause::from_sip_status(603, "Decline").to_string(),
        "Q.850 21 call rejected (SIP 603): \"Decline\""
    );
    assert_eq!(Cause::new(q(10)).to_string(), "Q.850 10");
}

#[test]
fn is_normal_only_for_normal_clearing() {
    assert!(Cause::normal_clearing().is_normal());
    assert!(Cause::from_h225(H225ReleaseReason::DestinationRejection).is_normal());
    assert!(!Cause::new(Q850::NORMAL_UNSPECIFIED).is_normal());
    assert!(!Cause::from_sip_status(486, "").is_normal());
}

#[test]
fn text_is_cleaned_and_bounded() {
    let c = Cause::from_sip_status(486, "Busy\r\nX-Injected: 1");
    assert_eq!(c.text(), Some("Busy  X-Injected: 1"));
    assert!(!c.reason_header().contains('\n'));
    let long = "é".repeat(500);
    let c = Cause::from_sip_status(486, &long);
    let t = c.text().unwrap();
    assert!(t.len() <= gateway_callmodel::cause::MAX_TEXT_LEN);
    assert!(t.chars().all(|ch| ch == 'é'));
    assert_eq!(Cause::from_sip_status(486, "   ").text(), None);
}

#[test]
fn sip_reason_phrase_prefers_the_peer_text() {
    assert_eq!(
        Cause::from_sip_status(486, "Line busy").sip_reason_phrase(),
        "Line busy"
    );
    assert_eq!(Cause::new(Q850::USER_BUSY).sip_reason_phrase(), "Busy Here");
    assert_eq!(sip_status_phrase(503), "Service Unavailable");
    assert_eq!(sip_status_phrase(499), "Request Failure");
}

// --- Reason header ------------------------------------------------------

#[test]
fn reason_header_formats_rfc6432() {
    assert_eq!(
        Cause::new(Q850::USER_BUSY).reason_header(),
        "Q.850;cause=17;text=\"user busy\""
    );
    assert_eq!(Cause::new(q(10)).reason_header(), "Q.850;cause=10");
    let c = Cause::new(Q850::CALL_REJECTED).with_text(r#"said "no" \o/"#);
    assert_eq!(
        c.reason_header(),
        r#"Q.850;cause=21;text="said \"no\" \\o/""#
    );
    assert_eq!(Cause::new(Q850::USER_BUSY).sip_reason_header(), None);
    assert_eq!(
        Cause::from_sip_status(200, "Call completed elsewhere")
            .sip_reason_header()
            .as_deref(),
        Some("SIP;cause=200;text=\"Call completed elsewhere\"")
    );
}

#[test]
fn reason_header_round_trips() {
    for v in 1..=127u8 {
        let c = Cause::new(q(v)).with_text("a \"quoted\" \\ text, with; separators=");
        let back = Cause::from_reason_header(&c.reason_header()).unwrap();
        assert_eq!(back, c, "Q.850 {v}");
    }
    let sip = Cause::from_sip_status(200, "Call completed elsewhere");
    assert_eq!(
        Cause::from_reason_header(&sip.sip_reason_header().unwrap()),
        Some(sip)
    );
}

#[test]
fn reason_header_parses_common_and_odd_forms() {
    let c = Cause::from_reason_header("Reason: Q.850;cause=16;text=\"Terminated\"").unwrap();
    assert_eq!(
        (c.q850(), c.text()),
        (Q850::NORMAL_CLEARING, Some("Terminated"))
    );
    assert_eq!(c.sip_status(), None);

    let c = Cause::from_reason_header("  q.850 ; CAUSE = 17 ;\tTEXT = \"busy\"  ").unwrap();
    assert_eq!((c.q850(), c.text()), (Q850::USER_BUSY, Some("busy")));

    let c = Cause::from_reason_header("reason :Q.850;cause=041").unwrap();
    assert_eq!(c.q850(), Q850::TEMPORARY_FAILURE);

    // Folded across lines.
    let c = Cause::from_reason_header("Q.850;\r\n cause=34").unwrap();
    assert_eq!(c.q850(), Q850::NO_CIRCUIT_AVAILABLE);

    // Escapes and separators inside the quoted text.
    let c = Cause::from_reason_header(r#"Q.850;cause=21;text="a \"b\", c; d=e \\ f""#).unwrap();
    assert_eq!(c.text(), Some(r#"a "b", c; d=e \ f"#));

    // Unquoted text (seen in the wild) and unknown params are tolerated.
    let c = Cause::from_reason_header("Q.850;cause=18;text=NoAnswer;foo;bar=\"x\"").unwrap();
    assert_eq!(
        (c.q850(), c.text()),
        (Q850::NO_USER_RESPONDING, Some("NoAnswer"))
    );

    // UTF-8 text.
    let c = Cause::from_reason_header("Q.850;cause=17;text=\"Besetzt – später\"").unwrap();
    assert_eq!(c.text(), Some("Besetzt – später"));
}

#[test]
fn reason_header_sip_protocol() {
    let c = Cause::from_reason_header("SIP;cause=486;text=\"Busy Here\"").unwrap();
    assert_eq!(c.q850(), Q850::USER_BUSY);
    assert_eq!(c.sip_status(), Some(486));
    assert_eq!(c.to_sip_status(), 486);
    assert_eq!(c.text(), Some("Busy Here"));

    let c = Cause::from_reason_header("SIP;cause=200;text=\"Call completed elsewhere\"").unwrap();
    assert!(c.is_normal());
    assert_eq!(c.sip_status(), Some(200));
}

#[test]
fn reason_header_with_both_protocols_keeps_both() {
    // Either order: the Q.850 value is the cause, the SIP status is kept.
    for h in [
        "SIP;cause=480;text=\"Away\", Q.850;cause=20",
        "Q.850;cause=20, SIP;cause=480;text=\"Away\"",
    ] {
        let c = Cause::from_reason_header(h).unwrap();
        assert_eq!(c.q850(), Q850::SUBSCRIBER_ABSENT, "{h}");
        assert_eq!(c.sip_status(), Some(480), "{h}");
        assert_eq!(c.text(), Some("Away"), "{h}");
    }
    // Unknown protocols are skipped; the first entry per protocol wins.
    let c =
        Cause::from_reason_header("preemption;cause=1;text=\"x\", Q.850;cause=17, Q.850;cause=3")
            .unwrap();
    assert_eq!(c.q850(), Q850::USER_BUSY);
    // An invalid Q.850 entry leaves the valid SIP one.
    let c = Cause::from_reason_header("Q.850;cause=200, SIP;cause=503").unwrap();
    assert_eq!(
        (c.q850(), c.sip_status()),
        (Q850::TEMPORARY_FAILURE, Some(503))
    );
}

#[test]
fn reason_header_garbage_is_none() {
    for h in [
        "",
        "   ",
        "Reason:",
        "Reason",
        "Q.850",
        "Q.850;text=\"no cause\"",
        "Q.850;cause=",
        "Q.850;cause=0",
        "Q.850;cause=128",
        "Q.850;cause=16abc",
        "Q.850;cause=-16",
        "Q.850;cause=99999999999999999999",
        "Q.850;cause=\"16\"",
        "Q.850 cause=16",
        "Q.850;cause=16;text=\"unterminated",
        "Q.850;cause=16;text=\"bad escape \\",
        "Q.850;;cause=16",
        "Q.850;cause=16 garbage",
        "<sip:a@b>;cause=16",
        "SIP;cause=99",
        "SIP;cause=700",
        "SIP;cause=4860",
        "preemption;cause=1",
        "Q.850;cause=16,",
        ",Q.850;cause=16",
        "\"Q.850\";cause=16",
        "Q.850;cause=16;text=\"a\\\r\nb\"",
    ] {
        assert_eq!(Cause::from_reason_header(h), None, "{h:?}");
    }
}

#[test]
fn sip_response_with_reason_header_prefers_its_q850() {
    let c = Cause::from_sip_response(
        480,
        "Temporarily Unavailable",
        Some("Q.850;cause=19;text=\"No answer\""),
    );
    assert_eq!(c.q850(), Q850::NO_ANSWER);
    assert_eq!(c.sip_status(), Some(480));
    assert_eq!(c.to_sip_status(), 480);
    assert_eq!(c.text(), Some("No answer"));
    // Without a usable header, the table.
    let c = Cause::from_sip_response(480, "Temporarily Unavailable", Some("garbage"));
    assert_eq!(c.q850(), Q850::NO_USER_RESPONDING);
    assert_eq!(c.text(), Some("Temporarily Unavailable"));
}

proptest! {
    #[test]
    fn reason_header_parser_never_panics(s in "\\PC*") {
        let _ = Cause::from_reason_header(&s);
    }

    #[test]
    fn reason_header_parser_never_panics_on_near_misses(
        s in "(Reason: ?)?(Q\\.850|SIP|x)[ ;=,\"\\\\a-z0-9\r\n\t]{0,40}"
    ) {
        if let Some(c) = Cause::from_reason_header(&s) {
            // Whatever parses re-formats into something that parses the same.
            let back = Cause::from_reason_header(&c.reason_header()).unwrap();
            prop_assert_eq!(back.q850(), c.q850());
            prop_assert!(c.text().is_none_or(|t| !t.chars().any(char::is_control)));
        }
    }

    #[test]
    fn any_status_gives_a_valid_cause(status: u16, reason in ".{0,300}") {
        let c = Cause::from_sip_status(status, &reason);
        prop_assert!((1..=127).contains(&c.q850().value()));
        prop_assert!((300..=699).contains(&c.to_sip_status()));
        prop_assert!(c.text().map_or(0, str::len) <= gateway_callmodel::cause::MAX_TEXT_LEN);
        if (300..=699).contains(&status) {
            prop_assert_eq!(c.to_sip_status(), status);
        }
    }
}

//! pycrate as the oracle for H323-UserInformation (the H.323-UU-PDU of
//! call signalling): our encodings decode there to the same values and
//! re-encode to the same octets; pycrate's encodings, with additions and
//! alternatives we do not model and older versions, decode in ours.

mod common;

use common::calls::*;
use common::*;
use gateway_callmodel::H225ReleaseReason;
use gateway_h323::h225::*;
use serde_json::{json, Value};

fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    v.pointer(path)
        .unwrap_or_else(|| panic!("no {path} in pycrate value {v}"))
}

#[test]
fn our_uu_pdus_decode_in_pycrate_to_the_same_values() {
    let samples = uu_samples();
    let mut input = String::new();
    let mut encoded = Vec::new();
    for (label, ui) in &samples {
        let b = ui.encode().unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(
            &H323UserInformation::decode(&b).unwrap(),
            ui,
            "{label} round trip"
        );
        input.push_str(&format!("{label} {}\n", hex(&b)));
        encoded.push(b);
    }
    let results = oracle("uu-check", &input);
    assert_eq!(results.len(), samples.len());
    let mut failures = Vec::new();
    for ((label, ui), (res, ours)) in samples.iter().zip(results.iter().zip(&encoded)) {
        assert_eq!(res["label"], *label);
        if let Some(err) = res.get("error") {
            failures.push(format!(
                "{label}: pycrate cannot decode {}: {err}",
                hex(ours)
            ));
            continue;
        }
        let pdu = at(res, "/value/h323-uu-pdu");
        assert_eq!(
            at(pdu, "/h323-message-body/0"),
            ui.pdu.body.name(),
            "{label}"
        );
        assert_eq!(
            at(pdu, "/h245Tunnelling"),
            ui.pdu.h245_tunnelling,
            "{label}"
        );
        let readable = res["reencoding_readable"].as_bool().unwrap();
        if readable && res["reencoded"].as_str().unwrap() != hex(ours) {
            failures.push(format!(
                "{label}: pycrate re-encodes\n  {}\n  ours\n  {}",
                res["reencoded"].as_str().unwrap(),
                hex(ours)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let exact = results
        .iter()
        .filter(|r| r["reencoding_readable"] == true)
        .count();
    assert!(
        exact >= samples.len() - 4,
        "only {exact} byte-exact comparisons"
    );

    let by = |l: &str| {
        let i = samples.iter().position(|(x, _)| *x == l).unwrap();
        at(&results[i], "/value/h323-uu-pdu")
    };
    let setup = at(by("setup"), "/h323-message-body/1");
    assert_eq!(
        at(setup, "/protocolIdentifier"),
        &json!([0, 0, 8, 2250, 0, 4])
    );
    assert_eq!(
        at(setup, "/sourceAddress/0"),
        &json!(["h323-ID", "gateway"])
    );
    assert_eq!(
        at(setup, "/destinationAddress/0"),
        &json!(["dialledDigits", "2001"])
    );
    assert_eq!(at(setup, "/destCallSignalAddress/1/ip"), "7f000001");
    assert_eq!(at(setup, "/destCallSignalAddress/1/port"), 1720);
    assert_eq!(
        at(setup, "/sourceInfo/vendor/productId"),
        &json!(hex(b"gateway"))
    );
    assert_eq!(at(setup, "/conferenceID"), &json!(hex(&CID)));
    assert_eq!(at(setup, "/conferenceGoal/0"), "create");
    assert_eq!(at(setup, "/callType/0"), "pointToPoint");
    assert_eq!(at(setup, "/callIdentifier/guid"), &json!(hex(&GUID)));
    assert_eq!(at(setup, "/sourceCallSignalAddress/1/ip"), "7f000002");
    let fs: Vec<String> = fast_start().iter().map(|f| hex(f)).collect();
    assert_eq!(at(setup, "/fastStart"), &json!(fs));
    assert_eq!(at(setup, "/mediaWaitForConnect"), false);
    assert_eq!(at(setup, "/canOverlapSend"), false);
    let slow = at(by("setup_slow"), "/h323-message-body/1");
    assert_eq!(at(slow, "/conferenceGoal/0"), "join");
    assert_eq!(at(slow, "/mediaWaitForConnect"), true);
    assert_eq!(at(slow, "/endpointIdentifier"), "EP0001");
    assert_eq!(at(slow, "/h245Address/1/port"), 30010);
    let conn = at(by("connect"), "/h323-message-body/1");
    assert_eq!(at(conn, "/h245Address/1/port"), 30001);
    assert_eq!(at(conn, "/maintainConnection"), true);
    assert_eq!(
        at(by("alerting"), "/h323-message-body/1/fastConnectRefused"),
        0,
        "NULL is 0 in pycrate"
    );
    assert_eq!(
        at(by("release_busy"), "/h323-message-body/1/reason/0"),
        "adaptiveBusy"
    );
    assert_eq!(
        at(
            by("release_not_registered"),
            "/h323-message-body/1/reason/0"
        ),
        "calledPartyNotRegistered"
    );
    let fac = at(by("facility_start_h245"), "/h323-message-body/1");
    assert_eq!(at(fac, "/reason/0"), "startH245");
    assert_eq!(at(fac, "/h245Address/1/port"), 30002);
    let fac = at(by("facility_route_to_gk"), "/h323-message-body/1");
    assert_eq!(at(fac, "/reason/0"), "routeCallToGatekeeper");
    assert_eq!(at(fac, "/alternativeAddress/1/port"), 1720);
    assert_eq!(
        at(by("empty_tunnel"), "/h245Control"),
        &json!(["6000", "208001"])
    );
}

#[test]
fn pycrate_uu_pdus_decode_in_ours() {
    let vectors = oracle("uu-vectors", "");
    let get = |l: &str| -> H323UserInformation {
        let v = vectors
            .iter()
            .find(|v| v["label"] == l)
            .unwrap_or_else(|| panic!("no vector {l}"));
        let b = unhex(v["hex"].as_str().unwrap());
        H323UserInformation::decode(&b).unwrap_or_else(|e| panic!("{l}: {e}"))
    };
    assert_eq!(vectors.len(), 15);

    let ui = get("setup_v7");
    assert!(ui.pdu.h245_tunnelling);
    let UuBody::Setup(s) = &ui.pdu.body else {
        panic!("{ui:?}")
    };
    assert_eq!(s.protocol_identifier, H225_PROTOCOL_V7.to_vec());
    assert_eq!(
        s.source_address.as_deref(),
        Some(
            &[
                AliasAddress::H323Id("Room 2001".into()),
                AliasAddress::DialedDigits("2001".into())
            ][..]
        )
    );
    assert_eq!(
        s.source_info.vendor.as_ref().unwrap().product_id.as_deref(),
        Some(&b"HDX 8000 HD"[..])
    );
    assert_eq!(
        s.dest_call_signal_address,
        Some(TransportAddress::ip([10, 0, 0, 1], 1720))
    );
    assert_eq!(s.conference_id, CID);
    assert_eq!(s.call_identifier, Some(CallIdentifier { guid: GUID }));
    assert_eq!(
        s.source_call_signal_address,
        Some(TransportAddress::ip([10, 0, 0, 5], 1720))
    );
    let olc = unhex("00000c6001000080110000010000");
    assert_eq!(s.fast_start, Some(vec![olc.clone(), olc.clone()]));
    assert_eq!(s.endpoint_identifier.as_deref(), Some("EP0001"));
    assert_eq!(ui.pdu.h4501_supplementary_service, Some(vec![vec![1, 2]]));

    let ui = get("setup_v2");
    let UuBody::Setup(s) = &ui.pdu.body else {
        panic!("{ui:?}")
    };
    assert_eq!(s.call_identifier, None);
    assert_eq!(s.fast_start, None);
    assert_eq!(s.conference_goal, ConferenceGoal::Invite);
    assert_eq!(s.call_type, CallType::OneToN);
    assert!(!ui.pdu.h245_tunnelling);

    let ui = get("call_proceeding_refused");
    let UuBody::CallProceeding(p) = &ui.pdu.body else {
        panic!("{ui:?}")
    };
    assert!(p.fast_connect_refused);
    let ui = get("alerting_v7");
    let UuBody::Alerting(a) = &ui.pdu.body else {
        panic!("{ui:?}")
    };
    assert_eq!(
        a.h245_address,
        Some(TransportAddress::ip([10, 0, 0, 9], 40000))
    );
    assert_eq!(a.fast_start, Some(vec![olc.clone()]));
    assert!(!a.fast_connect_refused);

    let ui = get("connect_v7");
    let UuBody::Connect(c) = &ui.pdu.body else {
        panic!("{ui:?}")
    };
    assert!(c.maintain_connection);
    assert_eq!(c.fast_start.as_ref().map(|f| f.len()), Some(2));
    assert_eq!(
        ui.pdu.h245_control,
        Some(vec![unhex(
            "027001060008817500 0d".replace(' ', "").as_str()
        )])
    );

    let reason = |l: &str| match get(l).pdu.body {
        UuBody::ReleaseComplete(r) => r.reason,
        b => panic!("{l}: {b:?}"),
    };
    assert_eq!(
        reason("release_generic").and_then(|r| r.reason()),
        Some(H225ReleaseReason::GenericDataReason)
    );
    assert_eq!(reason("release_no_reason_v2"), None);
    assert!(matches!(
        reason("release_nonstandard"),
        Some(ReleaseCompleteReason::NonStandard(_))
    ));

    let UuBody::Facility(f) = get("facility_forwarded").pdu.body else {
        panic!()
    };
    assert_eq!(f.reason, FacilityReason::CallForwarded);
    assert_eq!(
        f.h245_address,
        Some(TransportAddress::ip([10, 0, 0, 7], 40002))
    );
    assert_eq!(
        f.alternative_alias_address,
        Some(vec![AliasAddress::DialedDigits("3001".into())])
    );
    let UuBody::Facility(f) = get("facility_transported").pdu.body else {
        panic!()
    };
    assert_eq!(f.reason, FacilityReason::TransportedInformation);

    let UuBody::Progress(p) = get("progress").pdu.body else {
        panic!()
    };
    assert!(p.fast_connect_refused);
    assert_eq!(p.call_identifier.guid, GUID);
    assert!(matches!(
        get("status_tokens").pdu.body,
        UuBody::Other { ext_index: 2, .. }
    ));
    let UuBody::Information(i) = get("information").pdu.body else {
        panic!()
    };
    assert_eq!(i.call_identifier, Some(CallIdentifier { guid: GUID }));
    assert!(matches!(get("notify").pdu.body, UuBody::Notify(_)));
    let ui = get("empty_tunnel");
    assert_eq!(ui.pdu.body, UuBody::Empty);
    assert_eq!(ui.pdu.h245_control.as_ref().map(|c| c.len()), Some(1));
}

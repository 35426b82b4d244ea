//! pycrate as the oracle for H.245 (MultimediaSystemControlMessage): our
//! encodings decode there to the same values and re-encode to the same
//! octets; pycrate's, with capabilities, additions and alternatives we do
//! not model, decode in ours (unknown ones reported, never fatal).

mod common;

use common::h245::*;
use common::*;
use gateway_h323::h245::*;
use gateway_h323::per::Index;
use serde_json::{json, Value};

fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    v.pointer(path)
        .unwrap_or_else(|| panic!("no {path} in pycrate value {v}"))
}

#[test]
fn our_h245_messages_decode_in_pycrate_to_the_same_values() {
    let samples = h245_samples();
    let mut input = String::new();
    let mut encoded = Vec::new();
    for (label, m) in &samples {
        let b = m.encode().unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(&H245Message::decode(&b).unwrap(), m, "{label} round trip");
        input.push_str(&format!("{label} {}\n", hex(&b)));
        encoded.push(b);
    }
    let results = oracle("h245-check", &input);
    assert_eq!(results.len(), samples.len());
    let mut failures = Vec::new();
    for ((label, m), (res, ours)) in samples.iter().zip(results.iter().zip(&encoded)) {
        if let Some(err) = res.get("error") {
            failures.push(format!(
                "{label}: pycrate cannot decode {}: {err}",
                hex(ours)
            ));
            continue;
        }
        assert_eq!(at(res, "/value/1/0"), m.name(), "{label}");
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
        exact >= samples.len() - 3,
        "only {exact} byte-exact comparisons"
    );

    let by = |l: &str| {
        let i = samples.iter().position(|(x, _)| *x == l).unwrap();
        at(&results[i], "/value/1/1")
    };
    let tcs = by("tcs");
    assert_eq!(at(tcs, "/protocolIdentifier"), &json!([0, 0, 8, 245, 0, 7]));
    let table = at(tcs, "/capabilityTable");
    assert_eq!(
        at(table, "/0/capability"),
        &json!(["receiveAudioCapability", ["g711Alaw64k", 20]])
    );
    assert_eq!(
        at(table, "/2/capability"),
        &json!(["receiveAudioCapability", ["g722-64k", 20]])
    );
    assert_eq!(
        at(table, "/3/capability/1/1/capabilityIdentifier"),
        &json!(["standard", [0, 0, 7, 7221, 1, 0]])
    );
    assert_eq!(at(table, "/4/capability/1/1/maxBitRate"), 19200);
    assert_eq!(at(table, "/5/capability/1/1/cif4MPI"), 2);
    let h264 = at(table, "/6/capability/1");
    assert_eq!(at(h264, "/0"), "genericVideoCapability");
    assert_eq!(
        at(h264, "/1/capabilityIdentifier"),
        &json!(["standard", [0, 0, 8, 241, 0, 0, 1]])
    );
    assert_eq!(
        at(h264, "/1/collapsing"),
        &json!([
            {"parameterIdentifier": ["standard", 41], "parameterValue": ["booleanArray", 64]},
            {"parameterIdentifier": ["standard", 42], "parameterValue": ["unsignedMin", 71]}
        ])
    );
    assert_eq!(
        at(table, "/8/capability"),
        &json!(["receiveAndTransmitUserInputCapability", ["dtmf", 0]])
    );
    assert_eq!(
        at(tcs, "/capabilityDescriptors/0/simultaneousCapabilities"),
        &json!([[1, 2, 3, 4], [5, 6, 7], [8, 9]])
    );
    assert!(by("tcs_empty").get("capabilityTable").is_none());
    assert_eq!(at(by("msd"), "/statusDeterminationNumber"), 0x123456);
    assert_eq!(at(by("msd_ack"), "/decision/0"), "slave");
    let olc = by("olc_video");
    assert_eq!(at(olc, "/forwardLogicalChannelNumber"), 2);
    let h2250 = at(
        olc,
        "/forwardLogicalChannelParameters/multiplexParameters/1",
    );
    assert_eq!(at(h2250, "/sessionID"), 2);
    assert_eq!(at(h2250, "/dynamicRTPPayloadType"), 97);
    assert_eq!(
        at(h2250, "/mediaChannel"),
        &json!(["unicastAddress", ["iPAddress", {"network": "7f000001", "tsapIdentifier": 30002}]])
    );
    assert_eq!(
        at(olc, "/reverseLogicalChannelParameters/multiplexParameters/1/mediaControlChannel/1/1/tsapIdentifier"),
        30005
    );
    let ack = at(by("olc_ack"), "/forwardMultiplexAckParameters/1");
    assert_eq!(at(ack, "/mediaChannel/1/1/tsapIdentifier"), 40000);
    assert_eq!(at(ack, "/mediaControlChannel/1/1/tsapIdentifier"), 40001);
    assert_eq!(at(by("olc_reject"), "/cause/0"), "dataTypeNotSupported");
    assert_eq!(at(by("clc"), "/reason/0"), "unknown");
    assert_eq!(at(by("rcc"), "/reason/0"), "normal");
    assert_eq!(at(by("uii_alnum"), "/1"), "5");
    assert_eq!(at(by("uii_signal"), "/1/signalType"), "#");
    assert_eq!(at(by("uii_signal"), "/1/duration"), 250);
    assert_eq!(at(by("vfu"), "/type/0"), "videoFastUpdatePicture");
    assert_eq!(
        at(by("flow_control"), "/restriction"),
        &json!(["maximumBitRate", 5120])
    );
    assert_eq!(at(by("end_session"), "/0"), "disconnect");
}

#[test]
fn pycrate_h245_messages_decode_in_ours() {
    let vectors = oracle("h245-vectors", "");
    assert_eq!(vectors.len(), 14);
    let get = |l: &str| -> H245Message {
        let v = vectors
            .iter()
            .find(|v| v["label"] == l)
            .unwrap_or_else(|| panic!("no {l}"));
        let b = unhex(v["hex"].as_str().unwrap());
        let m = H245Message::decode(&b).unwrap_or_else(|e| panic!("{l}: {e}"));
        // unknown messages are re-sent verbatim
        if let H245Message::Other { raw, .. } = &m {
            assert_eq!(raw, &b);
        }
        m
    };

    let H245Message::TerminalCapabilitySet(t) = get("tcs_full") else {
        panic!()
    };
    assert_eq!(
        t.multiplex_capability.as_ref().map(|m| m.0),
        Some(0),
        "h2250Capability"
    );
    let table = t.capability_table.unwrap();
    assert_eq!(table.len(), 14);
    let cap = |n: u16| {
        table
            .iter()
            .find(|e| e.number == n)
            .unwrap()
            .capability
            .clone()
    };
    use Capability as C;
    use Direction::*;
    assert_eq!(
        cap(1),
        Some(C::Audio(
            Receive,
            AudioCapability::Framed(FramedAudio::G711Ulaw64k, 60)
        ))
    );
    assert_eq!(
        cap(2),
        Some(C::Audio(
            Receive,
            AudioCapability::Framed(FramedAudio::G722_64k, 60)
        ))
    );
    let Some(C::Audio(_, AudioCapability::Generic(g))) = cap(3) else {
        panic!()
    };
    assert!(g.is(&G7221_CAPABILITY_OID));
    assert_eq!(g.max_bit_rate, Some(320));
    assert!(matches!(
        cap(4),
        Some(C::Audio(_, AudioCapability::G7231 { .. }))
    ));
    let Some(C::Video(_, VideoCapability::H263(h))) = cap(5) else {
        panic!()
    };
    assert_eq!(
        (
            h.sqcif_mpi,
            h.cif_mpi,
            h.max_bit_rate,
            h.advanced_prediction
        ),
        (Some(1), Some(1), 19200, true)
    );
    let Some(C::Video(_, VideoCapability::Generic(g))) = cap(6) else {
        panic!()
    };
    assert!(g.is(&H264_CAPABILITY_OID));
    assert_eq!(
        g.collapsing_param(H264_PARAM_PROFILE),
        Some(&ParameterValue::BooleanArray(64))
    );
    assert_eq!(
        g.collapsing_param(H264_PARAM_LEVEL),
        Some(&ParameterValue::UnsignedMin(71))
    );
    assert!(matches!(
        cap(7),
        Some(C::Data {
            direction: ReceiveAndTransmit,
            max_bit_rate: 640,
            ..
        })
    ));
    assert!(matches!(
        cap(8),
        Some(C::Data {
            application: Index::Root(6),
            max_bit_rate: 48,
            ..
        })
    ));
    assert!(matches!(cap(9), Some(C::Other { ext_index: 2, .. })));
    assert!(matches!(cap(10), Some(C::Other { ext_index: 6, .. })));
    assert_eq!(
        cap(11),
        Some(C::UserInput(
            ReceiveAndTransmit,
            UserInputCapabilityKind::Dtmf
        ))
    );
    assert!(matches!(cap(12), Some(C::Other { ext_index: 10, .. })));
    assert_eq!(cap(13), None);
    assert!(matches!(
        cap(14),
        Some(C::Video(_, VideoCapability::H261(_)))
    ));
    assert_eq!(
        t.capability_descriptors.unwrap()[0]
            .simultaneous_capabilities
            .as_ref()
            .unwrap()
            .len(),
        6
    );

    let H245Message::OpenLogicalChannel(o) = get("olc_fast_start_like") else {
        panic!()
    };
    assert_eq!(o.forward_logical_channel_number, 101);
    assert_eq!(
        o.forward.data_type,
        DataType::Audio(AudioCapability::Framed(FramedAudio::G711Alaw64k, 20))
    );
    let h = o.forward.h2250.unwrap();
    assert_eq!(h.session_id, 1);
    assert_eq!(
        h.media_control_channel,
        Some(H245Address::Unicast("10.0.0.5:5005".parse().unwrap()))
    );
    let r = o.reverse.unwrap().h2250.unwrap();
    assert_eq!(
        r.media_channel,
        Some(H245Address::Unicast("10.0.0.5:5004".parse().unwrap()))
    );

    let H245Message::OpenLogicalChannelAck(a) = get("olc_ack_full") else {
        panic!()
    };
    let p = a.h2250_ack.unwrap();
    assert_eq!(
        p.media_channel,
        Some(H245Address::Unicast("10.0.0.9:6000".parse().unwrap()))
    );
    assert_eq!(p.dynamic_rtp_payload_type, Some(96));
    assert!(p.flow_control_to_zero);
    assert_eq!(
        get("olc_reject_ext"),
        H245Message::OpenLogicalChannelReject {
            forward_logical_channel_number: 5,
            cause: OlcRejectCause::InsufficientBandwidth
        }
    );
    assert_eq!(
        get("clc_ext_reason"),
        H245Message::CloseLogicalChannel {
            forward_logical_channel_number: 5,
            source_user: false,
            reason: Some(CloseReason::Reopen)
        }
    );
    assert_eq!(
        get("uii_signal_rtp"),
        H245Message::UserInput(UserInputIndication::Signal {
            signal_type: '7',
            duration: Some(100),
            rtp: Some(SignalRtp {
                timestamp: Some(8000),
                expiration_time: None,
                logical_channel_number: 101
            }),
        })
    );
    assert!(matches!(
        get("uii_support"),
        H245Message::UserInput(UserInputIndication::Other { ext_index: 0, .. })
    ));
    assert_eq!(
        get("vfu"),
        H245Message::MiscellaneousCommand(MiscellaneousCommand {
            logical_channel_number: 2,
            command: MiscCommandType::VideoFastUpdatePicture
        })
    );
    assert!(matches!(
        get("lost_picture"),
        H245Message::MiscellaneousCommand(MiscellaneousCommand {
            command: MiscCommandType::Other { ext_index: 10, .. },
            ..
        })
    ));
    assert_eq!(
        get("flow_none"),
        H245Message::FlowControlCommand(FlowControlCommand {
            scope: FlowControlScope::WholeMultiplex,
            maximum_bit_rate: None
        })
    );
    assert!(matches!(
        get("end_session_gen"),
        H245Message::EndSessionCommand(EndSessionCommand::Other { ext_index: 1, .. })
    ));
    assert!(matches!(
        get("request_mode"),
        H245Message::Other {
            category: Category::Request,
            index: Index::Root(8),
            ..
        }
    ));
    assert!(matches!(
        get("vendor_id"),
        H245Message::Other {
            category: Category::Indication,
            index: Index::Ext(3),
            ..
        }
    ));
    assert!(matches!(
        get("generic_request"),
        H245Message::Other {
            category: Category::Request,
            index: Index::Ext(4),
            ..
        }
    ));
}

//! A room that forwards our call (Facility callForwarded /
//! routeCallToGatekeeper): the call is placed again.

use super::*;

/// The room's Facility sending our call elsewhere.
fn redirect_facility(crv: u16, to: Option<SocketAddr>, aliases: Vec<AliasAddress>) -> Vec<u8> {
    answer_frame(
        crv,
        MessageType::Facility,
        UuBody::Facility(FacilityUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            alternative_address: to.map(|a| match a {
                SocketAddr::V4(a) => TransportAddress::ip(a.ip().octets(), a.port()),
                _ => unreachable!(),
            }),
            alternative_alias_address: (!aliases.is_empty()).then_some(aliases),
            conference_id: None,
            reason: FacilityReason::CallForwarded,
            call_identifier: None,
            h245_address: None,
            fast_start: None,
            multiple_calls: false,
            maintain_connection: false,
        }),
    )
}

#[tokio::test]
async fn a_room_forwarding_our_call_gets_it_placed_again_on_a_new_connection() {
    use crate::engine_tests::{resp, Caller};
    let mut h = harness(gateway_dialplan::SAMPLE_DIALPLAN);
    register(&mut h);
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.5\r\ns=-\r\nc=IN IP4 127.0.0.5\r\nt=0 0\r\n\
               m=audio 40100 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n";
    let a_addr = addr("127.0.0.1:40011");
    let mut a = Caller::new(a_addr, "5551234", "2001");
    h.send(a_addr, &a.invite(&[], sdp));
    h.out();
    let p = placed(&mut h);
    let (conn, _) = p.connect.unwrap();
    let crv = p.msgs[0].0.call_reference;
    let UuBody::Setup(first) = &p.msgs[0].1.pdu.body else {
        panic!()
    };
    let first_call_id = first.call_identifier;
    input(&mut h, H323Input::Connected { conn });

    // forwarded to another address: the first connection is released
    // (facilityCallDeflection) and closed, the call placed again under the
    // same number
    let other = addr("127.0.0.9:41800");
    input(
        &mut h,
        H323Input::Bytes {
            conn,
            data: redirect_facility(crv, Some(other), vec![]),
        },
    );
    let out = outputs(&mut h);
    let close_at = out
        .iter()
        .position(|o| *o == H323Output::Close { conn })
        .expect("the first connection closed");
    let connect_at = out
        .iter()
        .position(|o| *o == H323Output::Connect { conn, addr: other })
        .expect("a connection to the new target");
    assert!(close_at < connect_at, "{out:?}");
    let mut framer = TpktFramer::new(65535);
    let mut msgs = Vec::new();
    for (i, o) in out.iter().enumerate() {
        if let H323Output::Send { data, .. } = o {
            framer.push(data);
            while let Some(f) = framer.next_frame().unwrap() {
                msgs.push((i, Message::parse(&f).unwrap()));
            }
        }
    }
    let (rc_at, rc) = &msgs[0];
    assert_eq!(rc.message_type, MessageType::ReleaseComplete);
    assert!(*rc_at < close_at, "released before the close");
    let (setup_at, setup) = &msgs[1];
    assert_eq!(setup.message_type, MessageType::Setup);
    assert!(*setup_at > connect_at);
    let uu = H323UserInformation::decode(setup.user_user().unwrap()).unwrap();
    let UuBody::Setup(second) = &uu.pdu.body else {
        panic!()
    };
    assert_eq!(second.call_identifier, first_call_id, "the same call");
    let crv2 = setup.call_reference;
    assert_ne!(crv2, crv);

    // the new callee answers: the caller gets its 200
    input(&mut h, H323Input::Connected { conn });
    let connect = UuBody::Connect(ConnectUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        h245_address: None,
        destination_info: EndpointType::terminal(),
        conference_id: second.conference_id,
        call_identifier: second.call_identifier,
        fast_start: Some(accept_pcmu(second)),
        multiple_calls: false,
        maintain_connection: false,
        fast_connect_refused: false,
    });
    input(
        &mut h,
        H323Input::Bytes {
            conn,
            data: answer_frame(crv2, MessageType::Connect, connect),
        },
    );
    let out = h.out();
    let ok = resp(&out, a_addr, 200);
    a.learn(&ok);
    h.send(a_addr, &a.ack_2xx());
    h.out();
    h.send(a_addr, &a.in_dialog("BYE", ""));
    resp(&h.out(), a_addr, 200);
    assert!(placed(&mut h).closed);
    assert_eq!(h.metrics.calls_active.get(), 0);

    // forwarded to an alias nobody registered: no target, 404 (Q.850 3)
    let mut a = Caller::new(a_addr, "5551234", "2001");
    h.send(a_addr, &a.invite(&[], sdp));
    h.out();
    let p = placed(&mut h);
    let (conn, _) = p.connect.unwrap();
    let crv = p.msgs[0].0.call_reference;
    input(&mut h, H323Input::Connected { conn });
    input(
        &mut h,
        H323Input::Bytes {
            conn,
            data: redirect_facility(crv, None, vec![AliasAddress::H323Id("nobody".into())]),
        },
    );
    let p = placed(&mut h);
    assert!(p.closed);
    assert!(p.connect.is_none(), "nowhere to go");
    let out = h.out();
    let fail = crate::engine_tests::responses(&out, a_addr)
        .into_iter()
        .find(|r| r.status >= 300)
        .expect("a final failure");
    assert_eq!(fail.status, 404, "Q.850 3 is 404 (RFC 3398)");
    assert_eq!(h.metrics.calls_active.get(), 0);
}

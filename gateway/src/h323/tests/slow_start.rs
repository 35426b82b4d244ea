//! A room without Fast Start in a meeting: the meeting offers over H.245.

use super::*;

/// A room without Fast Start joins meeting 8000 on the meeting's offer:
/// Connect without fastStart, our µ-law channel opened over (tunnelled)
/// H.245, the room's channel acked with the meeting's port, and the
/// room's ack of our channel is where the mix goes from then on.
#[tokio::test]
async fn a_slow_start_room_joins_the_meeting_and_gets_the_mix_where_it_acked() {
    use gateway_h323::h245::{
        Capability, CapabilityDescriptor, CapabilityTableEntry, Direction as CapDirection,
        H2250LogicalChannelAckParameters, H245Message, OpenLogicalChannelAck,
        TerminalCapabilitySet, H245_PROTOCOL_V7,
    };
    let tunnelled = |mt: MessageType, body: UuBody, pdus: Vec<H245Message>| {
        let mut ui = H323UserInformation::new(body);
        ui.pdu.h245_tunnelling = true;
        ui.pdu.h245_control = Some(pdus.iter().map(|p| p.encode().unwrap()).collect());
        let mut m = Message::new(mt, CRV, mt != MessageType::Setup);
        m.ies.push(Ie::UserUser {
            protocol_discriminator: UU_PROTOCOL_X208,
            data: ui.encode().unwrap(),
        });
        tpkt::encode(&m.build().unwrap()).unwrap()
    };
    let h245_of = |msgs: &[(Message, H323UserInformation)]| -> Vec<H245Message> {
        msgs.iter()
            .flat_map(|(_, u)| u.pdu.h245_control.iter().flatten())
            .map(|b| H245Message::decode(b).unwrap())
            .collect()
    };
    let mut h = harness(gateway_dialplan::SAMPLE_DIALPLAN);
    let eid = register(&mut h);
    let tcs = H245Message::TerminalCapabilitySet(TerminalCapabilitySet {
        sequence_number: 1,
        protocol_identifier: H245_PROTOCOL_V7.to_vec(),
        multiplex_capability: None,
        capability_table: Some(vec![CapabilityTableEntry {
            number: 1,
            capability: Some(Capability::Audio(
                CapDirection::Receive,
                AudioCapability::Framed(FramedAudio::G711Ulaw64k, 20),
            )),
        }]),
        capability_descriptors: Some(vec![CapabilityDescriptor {
            number: 0,
            simultaneous_capabilities: Some(vec![vec![1]]),
        }]),
    });
    let msd = H245Message::MasterSlaveDetermination {
        terminal_type: 50,
        status_determination_number: 77,
    };
    let mut s = setup_uuie("8000", Some(eid));
    s.fast_start = None;
    input(
        &mut h,
        H323Input::Accepted {
            conn: 1,
            peer: addr(CS_PEER),
        },
    );
    input(
        &mut h,
        H323Input::Bytes {
            conn: 1,
            data: tunnelled(MessageType::Setup, UuBody::Setup(s), vec![tcs, msd]),
        },
    );
    let (msgs, closed) = received(&mut h);
    assert!(!closed);
    let types: Vec<MessageType> = msgs.iter().map(|m| m.0.message_type).collect();
    assert_eq!(
        types[..2],
        [MessageType::CallProceeding, MessageType::Connect]
    );
    let UuBody::Connect(c) = &msgs[1].1.pdu.body else {
        panic!()
    };
    assert!(c.fast_start.is_none(), "slow start: no fastStart answered");
    assert_eq!(h.e.meeting_participants("8000"), 1);
    let ours = h245_of(&msgs)
        .into_iter()
        .find_map(|m| match m {
            H245Message::OpenLogicalChannel(o) => Some(o),
            _ => None,
        })
        .expect("our audio channel opened with the Connect");
    assert_eq!(
        ours.forward.data_type,
        DataType::Audio(AudioCapability::Framed(FramedAudio::G711Ulaw64k, 20)),
        "the meeting's codec"
    );

    // the room opens its channel and acks ours with where it receives
    let room_rtp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let room_addr = room_rtp.local_addr().unwrap();
    let room_olc = OpenLogicalChannel {
        forward_logical_channel_number: 11,
        forward: ForwardLogicalChannelParameters {
            port_number: None,
            data_type: DataType::Audio(AudioCapability::Framed(FramedAudio::G711Ulaw64k, 20)),
            h2250: Some(h2250(None, addr("127.0.0.1:9999"))),
        },
        reverse: None,
    };
    let ack = H245Message::OpenLogicalChannelAck(OpenLogicalChannelAck {
        forward_logical_channel_number: ours.forward_logical_channel_number,
        reverse: None,
        h2250_ack: Some(H2250LogicalChannelAckParameters {
            session_id: Some(1),
            media_channel: Some(H245Address::Unicast(room_addr)),
            media_control_channel: None,
            dynamic_rtp_payload_type: None,
            flow_control_to_zero: false,
        }),
    });
    input(
        &mut h,
        H323Input::Bytes {
            conn: 1,
            data: tunnelled(
                MessageType::Facility,
                UuBody::Empty,
                vec![
                    H245Message::TerminalCapabilitySetAck(1),
                    H245Message::OpenLogicalChannel(room_olc),
                    ack,
                ],
            ),
        },
    );
    let (msgs, closed) = received(&mut h);
    assert!(!closed);
    let acked = h245_of(&msgs)
        .into_iter()
        .find_map(|m| match m {
            H245Message::OpenLogicalChannelAck(a) if a.forward_logical_channel_number == 11 => {
                a.h2250_ack.and_then(|p| p.media_channel)
            }
            _ => None,
        })
        .expect("the room's channel acked");
    let H245Address::Unicast(meeting_rtp) = acked else {
        panic!("{acked:?}")
    };
    assert!(h.in_range(meeting_rtp.port()), "acked with {meeting_rtp}");

    // the mix (silence, µ-law) now goes where the room acked
    let mut buf = [0u8; 512];
    let (n, from) = tokio::time::timeout(Duration::from_secs(3), room_rtp.recv_from(&mut buf))
        .await
        .expect("the meeting sends to the address of the room's ack")
        .unwrap();
    assert!(n >= 12 && buf[1] & 0x7f == 0, "PCMU RTP: {:?}", &buf[..n]);
    assert_eq!(from.port(), meeting_rtp.port());

    input(
        &mut h,
        H323Input::Bytes {
            conn: 1,
            data: release_complete(),
        },
    );
    let (_, closed) = received(&mut h);
    assert!(closed);
    assert_eq!(h.e.meeting_participants("8000"), 0);
}

//! tshark (Wireshark's Q.931, H.225.0 and H.245 dissectors) as an
//! independent check of call signalling: Q.931 messages carrying our
//! H323-UserInformation, in TPKT over TCP 1720, dissect without malformed
//! packets or expert warnings as the right body, and every H.245 message
//! we encode, tunnelled in h245Control, dissects as the right message.

mod common;

use std::process::Command;

use common::calls::uu_samples;
use common::h245::{h245_samples, olc_audio, olc_video_reverse};
use gateway_h323::h225::*;
use gateway_h323::q931::{
    BearerCapability, Ie, Message, MessageType, PartyNumber, UU_PROTOCOL_X208,
};
use gateway_h323::tpkt;

fn ip_checksum(h: &[u8]) -> u16 {
    let sum = h
        .chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(c[1]))
        .sum::<u32>();
    let sum = (sum & 0xFFFF) + (sum >> 16);
    !((sum & 0xFFFF) + (sum >> 16)) as u16
}

/// A pcap (Ethernet/IPv4/TCP) with each payload as one segment from
/// 127.0.0.2:40000 to 127.0.0.1:1720, sequence numbers contiguous.
fn pcap(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(0xa1b2c3d4u32.to_le_bytes());
    out.extend([2, 0, 4, 0]);
    out.extend([0; 8]);
    out.extend(65535u32.to_le_bytes());
    out.extend(1u32.to_le_bytes());
    let mut seq: u32 = 1000;
    for (i, p) in payloads.iter().enumerate() {
        let tcp_len = 20 + p.len();
        let ip_len = 20 + tcp_len;
        let mut ip = vec![
            0x45,
            0,
            (ip_len >> 8) as u8,
            ip_len as u8,
            0,
            i as u8,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ];
        ip.extend([127, 0, 0, 2, 127, 0, 0, 1]);
        let sum = ip_checksum(&ip);
        ip[10] = (sum >> 8) as u8;
        ip[11] = sum as u8;
        let mut tcp = Vec::new();
        tcp.extend(40000u16.to_be_bytes());
        tcp.extend(1720u16.to_be_bytes());
        tcp.extend(seq.to_be_bytes());
        tcp.extend(1u32.to_be_bytes());
        tcp.extend([0x50, 0x18, 0xFF, 0xFF, 0, 0, 0, 0]);
        // TCP checksum over the pseudo header
        let mut ph = vec![
            127,
            0,
            0,
            2,
            127,
            0,
            0,
            1,
            0,
            6,
            (tcp_len >> 8) as u8,
            tcp_len as u8,
        ];
        ph.extend(&tcp);
        ph.extend(p);
        if ph.len() % 2 == 1 {
            ph.push(0);
        }
        let sum = ip_checksum(&ph);
        tcp[16] = (sum >> 8) as u8;
        tcp[17] = sum as u8;
        seq = seq.wrapping_add(p.len() as u32);
        let mut frame = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0x08, 0x00];
        frame.extend(ip);
        frame.extend(tcp);
        frame.extend(p);
        out.extend((i as u32 + 1).to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend((frame.len() as u32).to_le_bytes());
        out.extend((frame.len() as u32).to_le_bytes());
        out.extend(frame);
    }
    out
}

fn tshark(file: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tshark (apt-get install tshark): {e}"));
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn message_type(body: &UuBody) -> MessageType {
    match body {
        UuBody::Setup(_) => MessageType::Setup,
        UuBody::CallProceeding(_) => MessageType::CallProceeding,
        UuBody::Alerting(_) => MessageType::Alerting,
        UuBody::Connect(_) => MessageType::Connect,
        UuBody::ReleaseComplete(_) => MessageType::ReleaseComplete,
        UuBody::Progress(_) => MessageType::Progress,
        UuBody::Information(_) => MessageType::Information,
        UuBody::Status(_) => MessageType::Status,
        UuBody::StatusInquiry(_) => MessageType::StatusEnquiry,
        UuBody::Notify(_) => MessageType::Notify,
        UuBody::SetupAcknowledge(_) => MessageType::SetupAcknowledge,
        _ => MessageType::Facility,
    }
}

fn q931(ui: &H323UserInformation) -> Vec<u8> {
    let mut m = Message::new(
        message_type(&ui.pdu.body),
        77,
        !matches!(ui.pdu.body, UuBody::Setup(_)),
    );
    match &ui.pdu.body {
        UuBody::Setup(_) => {
            m.ies
                .push(Ie::BearerCapability(BearerCapability::speech_alaw()));
            m.ies.push(Ie::Display("gateway".into()));
            m.ies.push(Ie::CallingPartyNumber(PartyNumber {
                type_of_number: 0,
                numbering_plan: 1,
                presentation: Some((0, 0)),
                digits: "1001".into(),
            }));
            m.ies.push(Ie::CalledPartyNumber(PartyNumber {
                type_of_number: 0,
                numbering_plan: 1,
                presentation: None,
                digits: "2001".into(),
            }));
        }
        UuBody::ReleaseComplete(_) => m.ies.push(Ie::Cause {
            coding_standard: 0,
            location: 0,
            value: 17,
            diagnostics: vec![],
        }),
        _ => {}
    }
    m.ies.push(Ie::UserUser {
        protocol_discriminator: UU_PROTOCOL_X208,
        data: ui.encode().unwrap(),
    });
    tpkt::encode(&m.build().unwrap()).unwrap()
}

#[test]
fn tshark_dissects_our_call_signalling_and_tunnelled_h245() {
    let mut labels = Vec::new();
    let mut uis = Vec::new();
    for (label, mut ui) in uu_samples() {
        // real Fast Start proposals instead of the placeholder octets
        let fs = match &mut ui.pdu.body {
            UuBody::Setup(s) => &mut s.fast_start,
            UuBody::CallProceeding(s) | UuBody::Alerting(s) => &mut s.fast_start,
            UuBody::Connect(s) => &mut s.fast_start,
            UuBody::Progress(s) => &mut s.fast_start,
            UuBody::Facility(s) => &mut s.fast_start,
            UuBody::Information(s) => &mut s.fast_start,
            _ => &mut None,
        };
        if fs.is_some() {
            *fs = Some(vec![
                olc_audio().encode_fast_start().unwrap(),
                olc_video_reverse().encode_fast_start().unwrap(),
            ]);
        }
        if let Some(c) = &mut ui.pdu.h245_control {
            *c = vec![h245_samples()[2].1.encode().unwrap()];
        }
        labels.push(label.to_string());
        uis.push(ui);
    }
    let h245 = h245_samples();
    for (label, m) in &h245 {
        let mut ui = H323UserInformation::new(UuBody::Facility(FacilityUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            alternative_address: None,
            alternative_alias_address: None,
            conference_id: None,
            reason: FacilityReason::TransportedInformation,
            call_identifier: Some(CallIdentifier { guid: common::GUID }),
            h245_address: None,
            fast_start: None,
            multiple_calls: false,
            maintain_connection: false,
        }));
        ui.pdu.h245_tunnelling = true;
        ui.pdu.h245_control = Some(vec![m.encode().unwrap()]);
        labels.push(format!("h245 {label}"));
        uis.push(ui);
    }
    let payloads: Vec<Vec<u8>> = uis.iter().map(q931).collect();
    let dir = std::env::temp_dir().join(format!("h323-calls-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("calls.pcap");
    std::fs::write(&file, pcap(&payloads)).unwrap();

    let bad = tshark(
        &file,
        &[
            "-Y",
            "_ws.malformed || _ws.expert.severity >= \"warning\"",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.expert.message",
        ],
    );
    let fields = tshark(
        &file,
        &[
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "h225.h323_message_body",
            "-e",
            "h245.pdu_type",
            "-e",
            "h225.h245Tunnelling",
            "-e",
            "q931.message_type",
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
    let bad: Vec<String> = bad
        .lines()
        .map(|l| {
            let n: usize = l.split('\t').next().unwrap().parse().unwrap();
            format!("{} ({l})", labels[n - 1])
        })
        .collect();
    assert!(bad.is_empty(), "tshark flags: {bad:?}");
    let rows: Vec<Vec<&str>> = fields.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), uis.len(), "{fields}");
    for ((label, ui), row) in labels.iter().zip(&uis).zip(&rows) {
        // h323-message-body index as Wireshark numbers it: root then extensions
        let want = match &ui.pdu.body {
            UuBody::Setup(_) => 0,
            UuBody::CallProceeding(_) => 1,
            UuBody::Connect(_) => 2,
            UuBody::Alerting(_) => 3,
            UuBody::Information(_) => 4,
            UuBody::ReleaseComplete(_) => 5,
            UuBody::Facility(_) => 6,
            UuBody::Progress(_) => 7,
            UuBody::Empty => 8,
            UuBody::Status(_) => 9,
            UuBody::StatusInquiry(_) => 10,
            UuBody::SetupAcknowledge(_) => 11,
            UuBody::Notify(_) => 12,
            UuBody::Other { .. } => unreachable!(),
        };
        assert_eq!(row[0], want.to_string(), "{label}: {row:?}");
        assert_eq!(
            row[3],
            format!("{:#04x}", message_type(&ui.pdu.body).code()),
            "{label}: q931 type {row:?}"
        );
        assert_eq!(
            row[2],
            if ui.pdu.h245_tunnelling { "1" } else { "0" },
            "{label}: {row:?}"
        );
        if let Some(c) = &ui.pdu.h245_control {
            // MultimediaSystemControlMessage category: request 0 ... indication 3
            let cat = (c[0][0] >> 5) & 3;
            assert!(
                row[1].split(',').any(|t| t == cat.to_string()),
                "{label}: h245 {row:?}"
            );
        }
    }
}

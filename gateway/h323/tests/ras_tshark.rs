//! tshark (Wireshark's H.225.0 dissector) as an independent check that
//! every RAS message we encode is well formed: no malformed packet, no
//! expert error, and the RasMessage alternative it sees is ours.

mod common;

use std::process::Command;

use common::*;

/// A pcap (Ethernet/IPv4/UDP) with each payload as a datagram to port 1719.
fn pcap(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [
        0xa1b2c3d4u32.to_le_bytes().to_vec(),
        vec![2, 0, 4, 0],
        vec![0; 8],
    ] {
        out.extend(v);
    }
    out.extend(65535u32.to_le_bytes());
    out.extend(1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    for (i, p) in payloads.iter().enumerate() {
        let udp_len = 8 + p.len();
        let ip_len = 20 + udp_len;
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
            17,
            0,
            0,
        ];
        ip.extend([127, 0, 0, 1, 127, 0, 0, 2]);
        let sum = ip
            .chunks(2)
            .map(|c| u32::from(c[0]) << 8 | u32::from(c[1]))
            .sum::<u32>();
        let sum = !((sum & 0xFFFF) + (sum >> 16)) as u16;
        ip[10] = (sum >> 8) as u8;
        ip[11] = sum as u8;
        let mut frame = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00];
        frame.extend(ip);
        frame.extend(1719u16.to_be_bytes());
        frame.extend(1719u16.to_be_bytes());
        frame.extend((udp_len as u16).to_be_bytes());
        frame.extend([0, 0]);
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

#[test]
fn tshark_dissects_every_ras_message_we_encode() {
    let samples = samples();
    let payloads: Vec<Vec<u8>> = samples.iter().map(|(_, m)| m.encode().unwrap()).collect();
    let dir = std::env::temp_dir().join(format!("h323-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ras.pcap");
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
    let names = tshark(&file, &["-T", "fields", "-e", "h225.RasMessage"]);
    let _ = std::fs::remove_dir_all(&dir);
    let bad: Vec<String> = bad
        .lines()
        .map(|l| {
            let n: usize = l.split('\t').next().unwrap().parse().unwrap();
            format!("{} ({l})", samples[n - 1].0)
        })
        .collect();
    assert!(bad.is_empty(), "tshark flags: {bad:?}");
    let seen: Vec<&str> = names.lines().collect();
    assert_eq!(seen.len(), samples.len(), "{names}");
    for ((label, msg), got) in samples.iter().zip(seen) {
        let want = match msg.encode().unwrap()[0] {
            // root alternatives: 5 bits after the extension bit
            b if b & 0x80 == 0 => ((b >> 2) & 0x1F) as u32,
            // extension alternatives follow the 25 root ones
            b => 25 + ((b >> 1) & 0x3F) as u32,
        };
        assert_eq!(
            got,
            want.to_string(),
            "{label}: tshark sees alternative {got}"
        );
    }
}

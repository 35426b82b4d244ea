//! Property tests: the parser never panics, whatever it is fed, and every
//! description that serializes also parses back to itself.

use std::net::IpAddr;

use gateway_sdp::{
    Attribute, Bandwidth, Connection, MediaDescription, Origin, SecretKeyParams,
    SessionDescription, Timing,
};
use proptest::prelude::*;

const SAMPLES: [&str; 6] = [
    include_str!("samples/polycom_group_series.sdp"),
    include_str!("samples/cisco_sx80_srtp.sdp"),
    include_str!("samples/baresip.sdp"),
    include_str!("samples/baresip_ipv6.sdp"),
    include_str!("samples/chrome_webrtc.sdp"),
    include_str!("samples/sipp_pcap.sdp"),
];

/// Whatever parses must serialize to something that parses to the same model.
fn check_stable(input: &str) -> Result<(), TestCaseError> {
    if let Ok(sdp) = SessionDescription::parse(input) {
        let out = sdp.to_string();
        let again = SessionDescription::parse(&out);
        prop_assert_eq!(again.as_ref(), Ok(&sdp), "re-parse of {:?}", out);
        prop_assert_eq!(again.unwrap().to_string(), out);
    }
    Ok(())
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.+_/*-]{1,12}"
}

/// Free text as it may appear after `x=`: no line breaks, no trailing
/// whitespace (the parser trims it, by design).
fn text() -> impl Strategy<Value = String> {
    "[ -~]{0,30}".prop_map(|s| s.trim_end().to_string())
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u16; 8]>().prop_map(IpAddr::from),
    ]
}

fn connection() -> impl Strategy<Value = Connection> {
    prop_oneof![
        ip().prop_map(Connection::new),
        "[a-z]{1,8}\\.example\\.org".prop_map(|h| Connection {
            nettype: "IN".into(),
            addrtype: "IP4".into(),
            address: h,
        }),
        (any::<[u8; 4]>(), 1u8..=255).prop_map(|(a, ttl)| Connection {
            nettype: "IN".into(),
            addrtype: "IP4".into(),
            address: format!("{}/{ttl}", std::net::Ipv4Addr::from(a)),
        }),
    ]
}

fn bandwidth() -> impl Strategy<Value = Bandwidth> {
    ("(AS|CT|TIAS|X-[A-Z]{1,4})", any::<u64>()).prop_map(|(t, v)| Bandwidth::new(t, v))
}

fn attribute() -> impl Strategy<Value = Attribute> {
    (
        "[a-z][a-z0-9-]{0,12}",
        proptest::option::of("[ -~]{0,40}".prop_map(|s| s.trim_end().to_string())),
    )
        .prop_map(|(n, v)| Attribute::new(n, v))
}

fn media() -> impl Strategy<Value = MediaDescription> {
    (
        "(audio|video|application|text)",
        any::<u16>(),
        proptest::option::of(1u16..8),
        "(RTP/AVP|RTP/SAVP|RTP/SAVPF|UDP/TLS/RTP/SAVPF|UDP/BFCP|TCP/TLS/BFCP)",
        proptest::collection::vec("([0-9]{1,3}|\\*)", 0..6),
        proptest::option::of(text()),
        proptest::collection::vec(connection(), 0..2),
        proptest::collection::vec(bandwidth(), 0..2),
        proptest::option::of(text().prop_map(SecretKeyParams::new)),
        proptest::collection::vec(attribute(), 0..8),
    )
        .prop_map(
            |(
                media,
                port,
                port_count,
                proto,
                formats,
                information,
                connections,
                bandwidths,
                key,
                attributes,
            )| {
                MediaDescription {
                    media,
                    port,
                    port_count,
                    proto,
                    formats,
                    information,
                    connections,
                    bandwidths,
                    key,
                    attributes,
                }
            },
        )
}

fn origin() -> impl Strategy<Value = Origin> {
    (token(), "[0-9]{1,20}", any::<u64>(), ip()).prop_map(|(username, session_id, v, addr)| {
        let c = Connection::new(addr);
        Origin {
            username,
            session_id,
            session_version: v,
            nettype: c.nettype,
            addrtype: c.addrtype,
            address: c.address,
        }
    })
}

fn timing() -> impl Strategy<Value = Timing> {
    (
        any::<u64>(),
        any::<u64>(),
        proptest::collection::vec("[0-9a-z ]{0,10}[0-9a-z]", 0..2),
    )
        .prop_map(|(start, stop, repeats)| Timing {
            start,
            stop,
            repeats,
        })
}

fn description() -> impl Strategy<Value = SessionDescription> {
    let head = (
        origin(),
        text(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::collection::vec(text(), 0..2),
        proptest::collection::vec(text(), 0..2),
        proptest::option::of(connection()),
    );
    let tail = (
        proptest::collection::vec(bandwidth(), 0..3),
        proptest::collection::vec(timing(), 1..3),
        proptest::option::of(text()),
        proptest::option::of(text().prop_map(SecretKeyParams::new)),
        proptest::collection::vec(attribute(), 0..8),
        proptest::collection::vec(media(), 0..5),
    );
    (head, tail).prop_map(
        |(
            (origin, session_name, information, uri, emails, phones, connection),
            (bandwidths, timings, time_zones, key, attributes, media),
        )| SessionDescription {
            version: 0,
            origin,
            session_name,
            information,
            uri,
            emails,
            phones,
            connection,
            bandwidths,
            timings,
            time_zones,
            key,
            attributes,
            media,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(s in any::<String>()) {
        check_stable(&s)?;
    }

    #[test]
    fn parse_never_panics_on_sdp_shaped_lines(
        lines in proptest::collection::vec("[vosiuepcbtrzkamx]=[ -~\u{a0}-\u{ff}\\t]{0,40}\r?", 0..30)
    ) {
        let mut s = String::from("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\n");
        for l in &lines {
            s.push_str(l);
            s.push('\n');
        }
        check_stable(&s)?;
    }

    #[test]
    fn parse_never_panics_on_mutated_samples(
        which in 0usize..SAMPLES.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 1..8),
    ) {
        let mut chars: Vec<char> = SAMPLES[which].chars().collect();
        for (at, op, c) in edits {
            if chars.is_empty() {
                break;
            }
            let i = at.index(chars.len());
            match op {
                0 => chars[i] = c,
                1 => chars.insert(i, c),
                _ => {
                    chars.remove(i);
                }
            }
        }
        let s: String = chars.into_iter().collect();
        check_stable(&s)?;
    }

    #[test]
    fn generated_descriptions_round_trip(sdp in description()) {
        let text = sdp.to_string();
        let parsed = SessionDescription::parse(&text);
        prop_assert_eq!(parsed.as_ref(), Ok(&sdp), "text: {:?}", text);
        prop_assert_eq!(parsed.unwrap().to_string(), text);
    }

    #[test]
    fn typed_accessors_never_panic(
        value in "[ -~]{0,60}",
        pt in any::<u8>(),
    ) {
        let mut m = MediaDescription {
            media: "audio".into(), port: 1, port_count: None, proto: "RTP/AVP".into(),
            formats: vec![pt.to_string()], information: None, connections: vec![],
            bandwidths: vec![], key: None, attributes: vec![],
        };
        for name in ["rtpmap", "fmtp", "rtcp", "crypto", "setup", "fingerprint", "rtcp-fb", "sendonly"] {
            m.attributes.push(Attribute::value(name, value.clone()));
        }
        let _ = (m.rtpmap(pt), m.fmtp(pt), m.rtcp(), m.crypto(), m.setup(), m.rtcp_fb(pt));
        if let Some(f) = m.fingerprint() {
            let _ = f.bytes();
        }
        prop_assert_eq!(m.explicit_direction(), None, "a=sendonly:<value> is not a direction");
        if let Some(r) = m.rtpmap(pt) {
            prop_assert_eq!(r.payload_type, pt);
            prop_assert_eq!(gateway_sdp::RtpMap::parse(&r.to_value()), Some(r));
        }
        m.retain_payload_types(&[]);
        prop_assert!(m.formats.is_empty());
        prop_assert!(m.rtpmap(pt).is_none());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// After anchoring, every section resolves to the new address, and the
    /// edited description still round-trips.
    #[test]
    fn anchoring_reaches_every_section(mut sdp in description(), addr in ip(), port in 1u16..) {
        sdp.set_connection_addr(addr);
        for m in &mut sdp.media {
            m.set_port(port);
        }
        for m in &sdp.media {
            let c = sdp.media_connection(m);
            prop_assert_eq!(c.and_then(|c| c.ip()), Some(addr));
        }
        let text = sdp.to_string();
        prop_assert_eq!(SessionDescription::parse(&text), Ok(sdp));
    }

    /// Keeping a subset of payload types leaves no rtpmap/fmtp/rtcp-fb for
    /// a dropped one and touches nothing else.
    #[test]
    fn retain_drops_exactly_the_other_payload_types(
        pts in proptest::collection::vec(0u8..128, 1..8),
        keep_mask in any::<u8>(),
        other in proptest::collection::vec(attribute(), 0..4),
    ) {
        let mut m = MediaDescription::new("audio", 5000, "RTP/AVP", pts.iter().map(|p| p.to_string()));
        for p in &pts {
            m.attributes.push(Attribute::value("rtpmap", format!("{p} X/8000")));
            m.attributes.push(Attribute::value("fmtp", format!("{p} a=b")));
            m.attributes.push(Attribute::value("rtcp-fb", format!("{p} nack")));
        }
        m.attributes.push(Attribute::value("rtcp-fb", "* ccm fir"));
        m.attributes.extend(other.iter().filter(|a| !["rtpmap", "fmtp", "rtcp-fb"].contains(&a.name.as_str())).cloned());
        let keep: Vec<u8> = pts.iter().enumerate().filter(|(i, _)| keep_mask & (1 << i) != 0).map(|(_, p)| *p).collect();
        let before = m.clone();
        m.retain_payload_types(&keep);
        prop_assert!(m.payload_types().iter().all(|p| keep.contains(p)));
        for p in &pts {
            let kept = keep.contains(p);
            prop_assert_eq!(m.rtpmap(*p).is_some(), kept);
            prop_assert_eq!(m.fmtp(*p).is_some(), kept);
        }
        prop_assert!(m.attributes.iter().any(|a| a.value.as_deref() == Some("* ccm fir")));
        let untouched = |d: &MediaDescription| -> Vec<Attribute> {
            d.attributes.iter().filter(|a| !["rtpmap", "fmtp", "rtcp-fb"].contains(&a.name.as_str())).cloned().collect()
        };
        prop_assert_eq!(untouched(&m), untouched(&before));
    }
}

//! Offers as sent by the room systems and soft clients the gateway meets.
//! The sample files use LF; the canonical (emitted) form uses CRLF.

use std::net::IpAddr;

use gateway_sdp::{Direction, RtcpAttr, RtpMap, SdpError, SessionDescription, Setup};

const POLYCOM: &str = include_str!("samples/polycom_group_series.sdp");
const CISCO: &str = include_str!("samples/cisco_sx80_srtp.sdp");
const BARESIP: &str = include_str!("samples/baresip.sdp");
const BARESIP_V6: &str = include_str!("samples/baresip_ipv6.sdp");
const CHROME: &str = include_str!("samples/chrome_webrtc.sdp");
const SIPP: &str = include_str!("samples/sipp_pcap.sdp");

const ALL: [(&str, &str); 6] = [
    ("polycom", POLYCOM),
    ("cisco", CISCO),
    ("baresip", BARESIP),
    ("baresip_v6", BARESIP_V6),
    ("chrome", CHROME),
    ("sipp", SIPP),
];

fn crlf(s: &str) -> String {
    s.replace('\n', "\r\n")
}

fn parse(s: &str) -> SessionDescription {
    SessionDescription::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The text of one `m=` section (up to the next `m=` or the end).
fn section<'a>(sdp: &'a str, m_line_prefix: &str) -> &'a str {
    let start = sdp.find(m_line_prefix).expect("m-line present");
    let rest = &sdp[start..];
    let end = rest[2..]
        .find("\r\nm=")
        .map(|i| i + 4)
        .unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn every_sample_round_trips_byte_exact_with_crlf() {
    for (name, sample) in ALL {
        let canonical = crlf(sample);
        // LF input and CRLF input give the same model and the same output.
        let from_lf = parse(sample);
        let from_crlf = parse(&canonical);
        assert_eq!(from_lf, from_crlf, "{name}");
        assert_eq!(from_crlf.to_string(), canonical, "{name}");
        assert_eq!(parse(&from_crlf.to_string()), from_crlf, "{name}");
    }
}

#[test]
fn polycom_audio_codecs() {
    let sdp = parse(POLYCOM);
    assert_eq!(sdp.origin.username, "GroupSeries");
    assert_eq!(sdp.origin.session_version, 0);
    assert_eq!(sdp.bandwidth("AS"), Some(2048));
    assert_eq!(sdp.media.len(), 4);
    let audio = &sdp.media[0];
    assert_eq!(audio.payload_types(), vec![115, 102, 9, 15, 0, 8, 18, 101]);
    // G.722.1 Annex C (Siren14) is G7221 at 32 kHz.
    assert_eq!(
        audio.rtpmap(115),
        Some(RtpMap {
            payload_type: 115,
            encoding: "G7221".into(),
            clock_rate: 32000,
            channels: None
        })
    );
    assert_eq!(audio.fmtp(115), Some("bitrate=48000"));
    assert_eq!(audio.fmtp(102), Some("bitrate=32000"));
    assert_eq!(audio.rtpmap(9).unwrap().encoding, "G722");
    assert_eq!(audio.rtpmap(0).unwrap().encoding, "PCMU");
    assert_eq!(audio.rtpmap(8).unwrap().encoding, "PCMA");
    assert_eq!(audio.fmtp(101), Some("0-15"));
    assert_eq!(audio.rtpmap(99), None);
    assert_eq!(audio.fmtp(0), None);
    assert_eq!(sdp.media_direction(audio), Direction::SendRecv);
    assert_eq!(
        sdp.media_connection(audio).unwrap().ip(),
        Some(ip("192.168.10.21"))
    );
}

#[test]
fn polycom_video_content_and_bfcp() {
    let sdp = parse(POLYCOM);
    let main = &sdp.media[1];
    assert_eq!(main.bandwidth("TIAS"), Some(1_920_000));
    assert_eq!(main.bandwidth("tias"), Some(1_920_000));
    assert_eq!(main.bandwidth("AS"), None);
    let fmtp = main.fmtp(109).unwrap();
    assert!(fmtp.contains("profile-level-id=640020"), "{fmtp}");
    assert!(fmtp.contains("max-fs=8160"), "{fmtp}");
    assert_eq!(main.rtpmap(96).unwrap().encoding, "H263-1998");
    assert_eq!(main.rtpmap(34).unwrap().encoding, "H263");
    assert_eq!(main.attribute_value("content"), Some("main"));
    assert_eq!(
        main.rtcp_fb(109),
        vec!["nack pli", "ccm fir", "ccm tmmbr", "nack"]
    );

    let bfcp = &sdp.media[2];
    assert_eq!(bfcp.media, "application");
    assert_eq!(bfcp.proto, "UDP/BFCP");
    assert_eq!(bfcp.formats, vec!["*"]);
    assert_eq!(bfcp.attribute_value("floorctrl"), Some("c-only s-only"));
    assert_eq!(bfcp.attribute_value("floorid"), Some("2 mstrm:3"));
    assert_eq!(bfcp.attribute_value("confid"), Some("1"));
    assert_eq!(bfcp.setup(), Some(Setup::ActPass));
    assert_eq!(bfcp.attribute_value("connection"), Some("new"));
    assert!(bfcp.payload_types().is_empty());

    assert_eq!(sdp.media[3].attribute_value("content"), Some("slides"));
    assert_eq!(sdp.media[3].attribute_value("label"), Some("3"));
}

#[test]
fn cisco_srtp_crypto_and_mux() {
    let sdp = parse(CISCO);
    let audio = &sdp.media[0];
    assert_eq!(audio.proto, "RTP/SAVP");
    assert!(audio.rtcp_mux());
    let crypto = audio.crypto();
    assert_eq!(crypto.len(), 2);
    assert_eq!(crypto[0].tag, 1);
    assert_eq!(crypto[0].suite, "AES_CM_128_HMAC_SHA1_80");
    assert_eq!(
        crypto[0].key_params.inline_key(),
        Some("Y2lzY29zeDgwdGVzdGtleW1hdGVyaWFsMDEyMzQ1")
    );
    assert!(crypto[0].session_params.is_empty());
    assert_eq!(crypto[1].suite, "AES_CM_128_HMAC_SHA1_32");
    assert_eq!(crypto[1].session_params, vec!["UNENCRYPTED_SRTCP"]);
    // Re-serializing a parsed crypto line gives the original value.
    assert_eq!(
        crypto[1].to_value(),
        audio
            .attributes_named("crypto")
            .nth(1)
            .unwrap()
            .value
            .as_deref()
            .unwrap()
    );

    let video = &sdp.media[1];
    assert!(video.fmtp(97).unwrap().contains("packetization-mode=1"));
    assert!(video.fmtp(98).unwrap().contains("packetization-mode=0"));
    assert_eq!(video.attribute_value("label"), Some("12"));
    assert_eq!(video.bandwidth("TIAS"), Some(6_000_000));
    assert_eq!(
        video.attributes_named("extmap").count(),
        2,
        "unknown extmaps kept"
    );
}

#[test]
fn keys_never_reach_debug_output() {
    let sdp = parse(CISCO);
    let debug = format!("{sdp:?}");
    let pretty = format!("{sdp:#?}");
    let crypto = format!("{:?}", sdp.media[0].crypto());
    for key in [
        "Y2lzY29zeDgwdGVzdGtleW1hdGVyaWFsMDEyMzQ1",
        "c2Vjb25kdGVzdGtleW1hdGVyaWFsNjc4OWFiY2Rl",
        "dmlkZW9rZXltYXRlcmlhbGZvcnRoZXN4ODB0ZXN0",
    ] {
        assert!(!debug.contains(key));
        assert!(!pretty.contains(key));
        assert!(!crypto.contains(key));
    }
    assert!(
        debug.contains("AES_CM_128_HMAC_SHA1_80"),
        "suite still visible"
    );
    assert!(crypto.contains("<redacted>"));
    let chrome = format!("{:?}", parse(CHROME));
    assert!(
        !chrome.contains("7OPDbJtCpvFyrw3KuCBmAjDE"),
        "ICE password redacted"
    );
    assert!(chrome.contains("Oyef"), "ICE ufrag is not secret");
    let mikey = gateway_sdp::Attribute::value("key-mgmt", "mikey AQAFgM0XflABAAAAAAAAAAAAAAsAyO");
    assert_eq!(
        format!("{mikey:?}"),
        r#"Attribute { name: "key-mgmt", value: Some("mikey <redacted>") }"#
    );
    let malformed = gateway_sdp::Attribute::value("crypto", "inline:S0VZS0VZ|2^20 x");
    assert!(!format!("{malformed:?}").contains("S0VZ"));
    // The wire form, of course, carries them.
    assert!(sdp
        .to_string()
        .contains("Y2lzY29zeDgwdGVzdGtleW1hdGVyaWFsMDEyMzQ1"));
}

#[test]
fn baresip_rtcp_and_opus() {
    let sdp = parse(BARESIP);
    assert_eq!(sdp.attribute_value("tool"), Some("baresip 3.10.1"));
    let audio = &sdp.media[0];
    assert_eq!(
        audio.rtcp(),
        Some(RtcpAttr {
            port: 10037,
            connection: None
        })
    );
    let opus = audio.rtpmap(96).unwrap();
    assert_eq!((opus.clock_rate, opus.channels), (48000, Some(2)));
    assert_eq!(opus.to_value(), "96 opus/48000/2");
    assert_eq!(audio.attribute_value("ptime"), Some("20"));
    assert!(!audio.rtcp_mux());
    assert_eq!(sdp.media[1].rtcp().unwrap().port, 10041);
    // Same payload type number, different meaning per section.
    assert_eq!(sdp.media[1].rtpmap(96).unwrap().encoding, "H264");
}

#[test]
fn chrome_webrtc_bundle_ice_dtls() {
    let sdp = parse(CHROME);
    assert_eq!(sdp.origin.session_id, "4611731400430051336");
    assert_eq!(sdp.attribute_value("group"), Some("BUNDLE 0 1"));
    assert_eq!(sdp.attribute_value("msid-semantic"), Some(" WMS 7f1b"));
    assert!(sdp.has_attribute("extmap-allow-mixed"));
    assert!(sdp.connection.is_none());
    let audio = &sdp.media[0];
    assert_eq!(audio.proto, "UDP/TLS/RTP/SAVPF");
    assert_eq!(audio.mid(), Some("0"));
    assert!(audio.rtcp_mux());
    let rtcp = audio.rtcp().unwrap();
    assert_eq!(rtcp.port, 9);
    assert_eq!(rtcp.connection.unwrap().address, "0.0.0.0");
    let fp = audio.fingerprint().unwrap();
    assert_eq!(fp.hash_function, "sha-256");
    assert_eq!(fp.bytes().unwrap().len(), 32);
    assert_eq!(sdp.media_fingerprint(audio), Some(fp));
    assert_eq!(sdp.media_setup(audio), Some(Setup::ActPass));
    assert_eq!(audio.attribute_value("ice-ufrag"), Some("Oyef"));
    assert_eq!(audio.attributes_named("candidate").count(), 2);
    assert_eq!(audio.fmtp(111), Some("minptime=10;useinbandfec=1"));
    let video = &sdp.media[1];
    assert_eq!(video.fmtp(97), Some("apt=96"));
    assert_eq!(video.rtcp_fb(96).len(), 5);
    assert_eq!(
        video.attribute_value("ssrc-group"),
        Some("FID 2231627014 632943048")
    );
}

#[test]
fn sipp_pcma_and_telephone_event() {
    let sdp = parse(SIPP);
    let audio = &sdp.media[0];
    assert_eq!(audio.port, 6000);
    assert_eq!(audio.rtpmap(8).unwrap().encoding, "PCMA");
    let te = audio.rtpmap(101).unwrap();
    assert_eq!(
        (te.encoding.as_str(), te.clock_rate),
        ("telephone-event", 8000)
    );
    assert_eq!(audio.fmtp(101), Some("0-11,16"));
    assert_eq!(audio.explicit_direction(), None);
    assert_eq!(sdp.media_direction(audio), Direction::SendRecv);
}

#[test]
fn ipv6_connection_and_rtcp() {
    let sdp = parse(BARESIP_V6);
    assert_eq!(sdp.origin.addrtype, "IP6");
    let c = sdp.connection.as_ref().unwrap();
    assert_eq!(c.addrtype, "IP6");
    assert_eq!(c.ip(), Some(ip("2001:db8:0:10::50")));
    let rtcp = sdp.media[0].rtcp().unwrap();
    assert_eq!(rtcp.port, 10001);
    assert_eq!(rtcp.connection.unwrap().ip(), Some(ip("2001:db8:0:10::50")));
}

#[test]
fn anchoring_polycom_offer_leaves_bfcp_intact() {
    let original = crlf(POLYCOM);
    let mut sdp = parse(&original);
    sdp.set_connection_addr(ip("203.0.113.5"));
    sdp.set_origin_addr(ip("203.0.113.5"));
    sdp.bump_version();
    sdp.media[0].set_port(40000);
    sdp.media[1].set_port(40002);
    let removed = sdp.media[0].retain_payload_types(&[9, 0, 8, 101]);
    assert_eq!(removed, 4);
    sdp.media[1].retain_payload_types(&[109]);
    sdp.media[3].reject();

    let out = sdp.to_string();
    assert!(
        out.contains("o=GroupSeries 1647385632 1 IN IP4 203.0.113.5\r\n"),
        "{out}"
    );
    assert!(out.contains("\r\nc=IN IP4 203.0.113.5\r\n"));
    assert!(!out.contains("192.168.10.21"));
    assert!(out.contains("m=audio 40000 RTP/AVP 9 0 8 101\r\n"));
    assert!(!out.contains("G7221"));
    assert!(!out.contains("a=fmtp:18"));
    assert!(!out.contains("G729"));
    assert!(out.contains("a=fmtp:101 0-15\r\n"));
    let video = section(&out, "m=video 40002");
    assert!(
        video.starts_with("m=video 40002 RTP/AVP 109\r\n"),
        "{video}"
    );
    assert!(!video.contains("a=rtpmap:110"));
    assert!(!video.contains("a=rtcp-fb:110"));
    assert!(video.contains("a=rtcp-fb:109 nack\r\n"));
    assert!(video.contains("a=rtcp-fb:* nack pli\r\n"), "wildcards stay");
    assert!(
        out.contains("m=video 0 RTP/AVP 109 96 34\r\n"),
        "rejected stream"
    );
    // The BFCP section was not touched and is byte-identical.
    assert_eq!(
        section(&out, "m=application"),
        section(&original, "m=application")
    );
    // And the edited SDP still parses to what was serialized.
    assert_eq!(parse(&out), sdp);
}

#[test]
fn anchoring_chrome_offer_rewrites_media_level_connections() {
    let mut sdp = parse(CHROME);
    sdp.set_connection_addr(ip("2001:db8::1"));
    // Chrome has no session-level c=, and every m= has its own.
    assert!(sdp.connection.is_none());
    for m in &sdp.media {
        assert_eq!(m.connections.len(), 1);
        assert_eq!(m.connections[0].to_string(), "c=IN IP6 2001:db8::1");
    }
    sdp.media[0].set_rtcp(Some(RtcpAttr {
        port: 40001,
        connection: None,
    }));
    sdp.media[1].set_rtcp(None);
    let out = sdp.to_string();
    assert!(out.contains("a=rtcp:40001\r\n"));
    assert_eq!(out.matches("a=rtcp:").count(), 1);
    assert_eq!(out.matches("a=rtcp-mux").count(), 2);
    // The replaced a=rtcp keeps its position (after c=, before candidates).
    let audio = section(&out, "m=audio");
    assert!(audio.find("a=rtcp:40001").unwrap() < audio.find("a=candidate").unwrap());
    assert_eq!(sdp.remove_attributes_everywhere("candidate"), 2);
    assert!(!sdp.to_string().contains("a=candidate"));
}

#[test]
fn session_connection_added_when_a_section_lacks_one() {
    let mut sdp = parse(SIPP);
    sdp.connection = None;
    sdp.set_connection_addr(ip("198.51.100.7"));
    assert_eq!(
        sdp.connection.as_ref().unwrap().ip(),
        Some(ip("198.51.100.7"))
    );
    assert!(sdp.media[0].connections.is_empty());
}

#[test]
fn set_rtcp_adds_when_absent() {
    let mut sdp = parse(SIPP);
    let rtcp = RtcpAttr {
        port: 6001,
        connection: Some(gateway_sdp::Connection::new(ip("2001:db8::9"))),
    };
    sdp.media[0].set_rtcp(Some(rtcp.clone()));
    assert_eq!(sdp.media[0].rtcp(), Some(rtcp));
    assert!(sdp
        .to_string()
        .ends_with("a=rtcp:6001 IN IP6 2001:db8::9\r\n"));
}

#[test]
fn direction_fallback_and_setting() {
    let text = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\na=sendonly\r\n\
                m=audio 5000 RTP/AVP 0\r\nm=audio 5002 RTP/AVP 0\r\na=inactive\r\n";
    let mut sdp = parse(text);
    assert_eq!(sdp.direction(), Direction::SendOnly);
    assert_eq!(sdp.media_direction(&sdp.media[0]), Direction::SendOnly);
    assert_eq!(sdp.media_direction(&sdp.media[1]), Direction::Inactive);
    sdp.media[1].set_direction(Direction::RecvOnly);
    sdp.media[0].set_direction(Direction::SendRecv);
    assert_eq!(sdp.media[1].explicit_direction(), Some(Direction::RecvOnly));
    assert_eq!(sdp.media_direction(&sdp.media[0]), Direction::SendRecv);
    assert_eq!(sdp.media[1].attributes.len(), 1);
    assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
}

#[test]
fn tolerates_trailing_spaces_and_blank_session_name() {
    let text = "v=0 \r\no=- 1 1 IN IP4 10.0.0.1  \r\ns= \r\nt=0 0\r\n\r\n\
                m=audio 5000 RTP/AVP 0 \r\na=rtpmap:0 PCMU/8000 \r\n";
    let sdp = parse(text);
    assert_eq!(sdp.session_name, "");
    assert_eq!(sdp.media[0].formats, vec!["0"]);
    assert_eq!(
        sdp.media[0].attributes[0].value.as_deref(),
        Some("0 PCMU/8000")
    );
    assert_eq!(
        sdp.to_string(),
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns= \r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    );
}

#[test]
fn tolerates_missing_timing_and_reordered_session_lines() {
    let text =
        "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=x\na=tool:y\nc=IN IP4 10.0.0.1\nm=audio 5000 RTP/AVP 0\n";
    let sdp = parse(text);
    assert_eq!(sdp.timings.len(), 1);
    assert_eq!((sdp.timings[0].start, sdp.timings[0].stop), (0, 0));
    let out = sdp.to_string();
    assert_eq!(
        out,
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=tool:y\r\nm=audio 5000 RTP/AVP 0\r\n"
    );
}

fn err(text: &str) -> String {
    SessionDescription::parse(text).unwrap_err().to_string()
}

const HEAD: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\n";

#[test]
fn errors_name_line_and_field() {
    assert_eq!(
        err(&format!("{HEAD}m=audio x RTP/AVP 0\r\n")),
        "line 4: m= line: bad port 'x'"
    );
    assert_eq!(
        err(&format!("{HEAD}m=audio 70000 RTP/AVP 0\r\n")),
        "line 4: m= line: bad port '70000'"
    );
    assert_eq!(
        err(&format!("{HEAD}m=audio 5000/x RTP/AVP 0\r\n")),
        "line 4: m= line: bad port count 'x'"
    );
    assert_eq!(
        err(&format!("{HEAD}m=audio 5000\r\n")),
        "line 4: m= line: missing proto"
    );
    assert_eq!(
        err("v=0\r\no=- 1 x IN IP4 10.0.0.1\r\ns=-\r\n"),
        "line 2: o= line: bad sess-version 'x'"
    );
    assert_eq!(
        err("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\n"),
        "line 2: o= line: missing unicast-address"
    );
    assert_eq!(
        err(&format!("{HEAD}c=IN IP4\r\n")).split(':').next(),
        Some("line 4")
    );
    assert_eq!(
        err(&format!("{HEAD}c=IN IP4 2001:db8::1\r\n")),
        "line 4: c= line: bad IP4 address '2001:db8::1'"
    );
    assert_eq!(
        err(&format!("{HEAD}c=IN IP4 300.1.1.1\r\n")),
        "line 4: c= line: bad IP4 address '300.1.1.1'"
    );
    assert_eq!(
        err(&format!("{HEAD}b=AS:lots\r\n")),
        "line 4: b= line: bad value 'lots'"
    );
    assert_eq!(
        err(&format!("{HEAD}t=0\r\n")),
        "line 4: t= line: expected '<start> <stop>', got '0'"
    );
    assert_eq!(
        err(&format!("{HEAD}x=1\r\n")),
        "line 4: line type: unknown 'x='"
    );
    assert_eq!(
        err(&format!("{HEAD}m=audio 1 RTP/AVP 0\r\nt=0 0\r\n")),
        "line 5: t= line: not allowed in a media section"
    );
    assert_eq!(
        err(&format!("{HEAD}hello\r\n")),
        "line 4: syntax: expected '<type>=<value>', got 'hello'"
    );
    assert_eq!(
        err(&format!("{HEAD}a=\r\n")),
        "line 4: a= line: bad attribute name ''"
    );
    assert_eq!(
        err("o=- 1 1 IN IP4 1.2.3.4\r\n"),
        "line 1: v= line: must come first"
    );
    assert_eq!(err("v=0\r\ns=-\r\n"), "missing o= line");
    assert_eq!(err("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n"), "missing s= line");
    assert_eq!(err("\r\n\r\n"), "empty session description");
    assert_eq!(err(""), "empty session description");
    assert!(matches!(
        SessionDescription::parse(&format!("{HEAD}r=7d 1h 0 25h\r\n")),
        Err(SdpError::Invalid {
            line: 4,
            field: "r= line",
            ..
        })
    ));
}

#[test]
fn bounds_on_media_and_attributes() {
    let mut text = String::from(HEAD);
    for i in 0..64 {
        text.push_str(&format!("m=audio {} RTP/AVP 0\r\n", 5000 + 2 * i));
    }
    assert_eq!(parse(&text).media.len(), 64);
    text.push_str("m=audio 9 RTP/AVP 0\r\n");
    assert_eq!(
        SessionDescription::parse(&text),
        Err(SdpError::TooMany {
            what: "media sections",
            limit: 64
        })
    );

    let mut text = String::from(HEAD);
    text.push_str(&"a=x\r\n".repeat(1024));
    assert_eq!(parse(&text).attributes.len(), 1024);
    text.push_str("a=x\r\n");
    assert_eq!(
        SessionDescription::parse(&text),
        Err(SdpError::TooMany {
            what: "attributes",
            limit: 1024
        })
    );

    let text = format!("{HEAD}{}", "e=x@example.org\r\n".repeat(5000));
    assert_eq!(
        SessionDescription::parse(&text),
        Err(SdpError::TooMany {
            what: "lines",
            limit: 4096
        })
    );
}

#[test]
fn port_count_multicast_and_repeat_lines_survive() {
    let text = "v=0\r\no=jdoe 3724394400 3724394405 IN IP4 198.51.100.1\r\ns=Call to John Smith\r\n\
                i=SDP Offer #1\r\nu=http://www.jdoe.example.com/home.html\r\ne=Jane Doe <jane@jdoe.example.com>\r\n\
                p=+1 617 555-6011\r\nc=IN IP4 233.252.0.1/127/2\r\nb=CT:1000\r\nt=2873397496 2873404696\r\n\
                r=7d 1h 0 25h\r\nz=2882844526 -1h 2898848070 0\r\nk=clear:secret\r\na=recvonly\r\n\
                m=audio 49170 RTP/AVP 0\r\nm=video 51372/2 RTP/AVP 99\r\ni=main camera\r\nc=IN IP4 233.252.0.2/127\r\n\
                b=X-YZ:128\r\nk=prompt\r\na=rtpmap:99 h263-1998/90000\r\n";
    let sdp = parse(text);
    assert_eq!(sdp.to_string(), text);
    assert_eq!(sdp.timings[0].repeats, vec!["7d 1h 0 25h"]);
    assert_eq!(sdp.media[1].port_count, Some(2));
    assert_eq!(sdp.media[1].bandwidth("X-YZ"), Some(128));
    assert_eq!(sdp.bandwidth("CT"), Some(1000));
    assert_eq!(
        sdp.connection.as_ref().unwrap().ip(),
        Some(ip("233.252.0.1"))
    );
    assert_eq!(sdp.direction(), Direction::RecvOnly);
    assert_eq!(sdp.key.as_ref().map(|k| k.expose()), Some("clear:secret"));
    assert!(!format!("{sdp:?}").contains("clear:secret"));
}

#[test]
fn building_a_section_by_hand() {
    let mut m = gateway_sdp::MediaDescription::new("audio", 40000, "RTP/AVP", ["8", "101"]);
    m.attributes
        .push(gateway_sdp::Attribute::value("rtpmap", "8 PCMA/8000"));
    m.attributes.push(gateway_sdp::Attribute::flag("sendrecv"));
    assert_eq!(
        m.to_string(),
        "m=audio 40000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n"
    );
    assert_eq!(m.rtpmap(8).unwrap().clock_rate, 8000);
}

//! SDP (RFC 8866 / RFC 3264) to and from the neutral media capabilities of
//! the call model. A SIP leg speaks SDP on the wire; everything behind it
//! sees [`MediaCaps`].

use gateway_callmodel::{CodecCap, Direction, MediaCaps, MediaKind, MediaTransport, StreamCaps};
use gateway_sdp::{Connection, MediaDescription, RtcpAttr, RtpMap, SessionDescription};
use std::net::{IpAddr, SocketAddr};

/// What a SIP leg's offer or answer says about media.
pub fn caps_from_sdp(sdp: &SessionDescription) -> MediaCaps {
    let session_dir = sdp.direction();
    let streams = sdp
        .media
        .iter()
        .map(|m| {
            let conn_ip = sdp.media_connection(m).and_then(Connection::ip);
            let rtp = match (conn_ip, m.port) {
                (Some(ip), p) if p != 0 && !ip.is_unspecified() => Some(SocketAddr::new(ip, p)),
                _ => None,
            };
            let rtcp_mux = m.rtcp_mux();
            let rtcp = rtp.and_then(|rtp| match m.rtcp() {
                Some(RtcpAttr {
                    port,
                    connection: Some(c),
                }) => Some(SocketAddr::new(c.ip().unwrap_or(rtp.ip()), port)),
                Some(RtcpAttr { port, .. }) => Some(SocketAddr::new(rtp.ip(), port)),
                None if rtcp_mux => None,
                None => Some(SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))),
            });
            StreamCaps {
                kind: match m.media.as_str() {
                    "audio" => MediaKind::Audio,
                    "video" => MediaKind::Video,
                    _ => MediaKind::Other,
                },
                rtp,
                rtcp,
                rtcp_mux,
                transport: transport_of(sdp, m),
                direction: direction_of(m.direction_or(session_dir)),
                codecs: codecs_of(m),
                ptime_ms: m
                    .attribute_value("ptime")
                    .and_then(|v| v.trim().parse().ok()),
                bandwidth_kbps: m
                    .bandwidth("AS")
                    .or_else(|| sdp.bandwidth("AS"))
                    .map(|v| v.min(u32::MAX as u64) as u32),
            }
        })
        .collect();
    MediaCaps { streams }
}

fn transport_of(sdp: &SessionDescription, m: &MediaDescription) -> MediaTransport {
    let proto = m.proto.to_ascii_uppercase();
    if proto.contains("TLS") {
        return MediaTransport::DtlsSrtp {
            fingerprint: sdp
                .media_fingerprint(m)
                .map(|f| format!("{} {}", f.hash_function, f.fingerprint))
                .unwrap_or_default(),
        };
    }
    if proto.contains("SAVP") {
        return MediaTransport::SrtpSdes {
            crypto: m
                .attributes_named("crypto")
                .filter_map(|a| a.value.clone())
                .collect(),
        };
    }
    MediaTransport::Rtp
}

fn direction_of(d: gateway_sdp::Direction) -> Direction {
    match d {
        gateway_sdp::Direction::SendRecv => Direction::SendRecv,
        gateway_sdp::Direction::SendOnly => Direction::SendOnly,
        gateway_sdp::Direction::RecvOnly => Direction::RecvOnly,
        gateway_sdp::Direction::Inactive => Direction::Inactive,
    }
}

fn sdp_direction(d: Direction) -> gateway_sdp::Direction {
    match d {
        Direction::SendRecv => gateway_sdp::Direction::SendRecv,
        Direction::SendOnly => gateway_sdp::Direction::SendOnly,
        Direction::RecvOnly => gateway_sdp::Direction::RecvOnly,
        Direction::Inactive => gateway_sdp::Direction::Inactive,
    }
}

/// Static payload types a peer may use without an rtpmap (RFC 3551 §6).
fn static_rtpmap(pt: u8) -> Option<(&'static str, u32)> {
    match pt {
        0 => Some(("PCMU", 8000)),
        3 => Some(("GSM", 8000)),
        4 => Some(("G723", 8000)),
        8 => Some(("PCMA", 8000)),
        9 => Some(("G722", 8000)),
        18 => Some(("G729", 8000)),
        34 => Some(("H263", 90000)),
        _ => None,
    }
}

pub(crate) fn codecs_of(m: &MediaDescription) -> Vec<CodecCap> {
    m.payload_types()
        .into_iter()
        .filter_map(|pt| {
            let (name, clock_rate, channels) = match m.rtpmap(pt) {
                Some(RtpMap {
                    encoding,
                    clock_rate,
                    channels,
                    ..
                }) => (encoding, clock_rate, channels.unwrap_or(1).min(255) as u8),
                None => {
                    let (n, r) = static_rtpmap(pt)?;
                    (n.to_string(), r, 1)
                }
            };
            Some(CodecCap {
                payload_type: pt,
                name,
                clock_rate,
                channels,
                fmtp: m.fmtp(pt).map(str::to_string),
            })
        })
        .collect()
}

/// One stream of an answer the gateway terminates (a meeting leg): what it
/// accepted and where it receives.
pub struct AnsweredStream {
    pub index: usize,
    pub local_rtp: SocketAddr,
    pub local_rtcp: SocketAddr,
    pub codecs: Vec<CodecCap>,
    pub direction: Direction,
    pub ptime_ms: Option<u32>,
    /// The `a=crypto` line we answer with (SDES), already formatted.
    pub crypto: Option<String>,
}

/// An SDP answer to `offer` from the gateway itself: the accepted streams
/// get our address and their chosen codecs, every other m-line is refused
/// with port 0 (RFC 3264 §6).
pub fn answer_sdp(
    offer: &SessionDescription,
    accepted: &[AnsweredStream],
    advertised: IpAddr,
    session_id: &str,
    version: u64,
) -> Vec<u8> {
    let mut out = String::with_capacity(512);
    let ip_kind = if advertised.is_ipv6() { "IP6" } else { "IP4" };
    out.push_str("v=0\r\n");
    out.push_str(&format!(
        "o=gateway {session_id} {version} IN {ip_kind} {advertised}\r\n"
    ));
    out.push_str("s=gateway\r\n");
    out.push_str(&format!("c=IN {ip_kind} {advertised}\r\n"));
    out.push_str("t=0 0\r\n");
    for (i, m) in offer.media.iter().enumerate() {
        match accepted.iter().find(|a| a.index == i) {
            Some(a) => {
                let pts: Vec<String> = a
                    .codecs
                    .iter()
                    .map(|c| c.payload_type.to_string())
                    .collect();
                out.push_str(&format!(
                    "m={} {} {} {}\r\n",
                    m.media,
                    a.local_rtp.port(),
                    m.proto,
                    pts.join(" ")
                ));
                push_codecs(&mut out, &a.codecs);
                out.push_str(&format!("a=rtcp:{}\r\n", a.local_rtcp.port()));
                if let Some(p) = a.ptime_ms {
                    out.push_str(&format!("a=ptime:{p}\r\n"));
                }
                if let Some(c) = &a.crypto {
                    out.push_str(&format!("a=crypto:{c}\r\n"));
                }
                out.push_str(&format!("a={}\r\n", sdp_direction(a.direction).as_str()));
            }
            None => {
                let fmt = m.formats.first().cloned().unwrap_or_else(|| "0".into());
                out.push_str(&format!("m={} 0 {} {fmt}\r\n", m.media, m.proto));
            }
        }
    }
    out.into_bytes()
}

/// An SDP offer made by the gateway from neutral capabilities (the callee
/// leg of a call whose caller is not SIP, or whose offer the bridge
/// rewrote): one m-line a stream, port 0 for a disabled one.
pub fn offer_sdp(caps: &MediaCaps, advertised: IpAddr, session_id: &str, version: u64) -> Vec<u8> {
    let mut out = String::with_capacity(512);
    let ip_kind = if advertised.is_ipv6() { "IP6" } else { "IP4" };
    out.push_str(&format!(
        "v=0\r\no=gateway {session_id} {version} IN {ip_kind} {advertised}\r\ns=gateway\r\nc=IN {ip_kind} {advertised}\r\nt=0 0\r\n"
    ));
    for s in &caps.streams {
        let media = match s.kind {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Other => "application",
        };
        let proto = if s.transport.is_encrypted() {
            "RTP/SAVP"
        } else {
            "RTP/AVP"
        };
        let pts: Vec<String> = s
            .codecs
            .iter()
            .map(|c| c.payload_type.to_string())
            .collect();
        let fmt = if pts.is_empty() {
            "0".to_string()
        } else {
            pts.join(" ")
        };
        let Some(rtp) = s.rtp else {
            out.push_str(&format!("m={media} 0 {proto} {fmt}\r\n"));
            continue;
        };
        out.push_str(&format!("m={media} {} {proto} {fmt}\r\n", rtp.port()));
        push_codecs(&mut out, &s.codecs);
        if let Some(rtcp) = s.rtcp {
            out.push_str(&format!("a=rtcp:{}\r\n", rtcp.port()));
        }
        if let Some(p) = s.ptime_ms {
            out.push_str(&format!("a=ptime:{p}\r\n"));
        }
        if let MediaTransport::SrtpSdes { crypto } = &s.transport {
            for c in crypto {
                out.push_str(&format!("a=crypto:{c}\r\n"));
            }
        }
        out.push_str(&format!("a={}\r\n", sdp_direction(s.direction).as_str()));
    }
    out.into_bytes()
}

fn push_codecs(out: &mut String, codecs: &[CodecCap]) {
    for c in codecs {
        let ch = if c.channels > 1 {
            format!("/{}", c.channels)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "a=rtpmap:{} {}/{}{ch}\r\n",
            c.payload_type, c.name, c.clock_rate
        ));
        if let Some(f) = &c.fmtp {
            out.push_str(&format!("a=fmtp:{} {f}\r\n", c.payload_type));
        }
    }
}

/// Our SDP sent again as the answer to a new offer on the same dialog (a
/// refresh, a hold or a resume): version bumped, and each enabled m-line's
/// direction mirrors the offer's (RFC 3264 §6.1: a room that goes
/// `sendonly` to hold is answered `recvonly`, and `sendrecv` again when it
/// resumes). The media path itself stays as it is.
pub(crate) fn reanswer(local: &[u8], offer: &SessionDescription, version: u64) -> Vec<u8> {
    let bumped = bump_origin_version(local, version);
    let Some(mut sdp) = std::str::from_utf8(&bumped)
        .ok()
        .and_then(|t| SessionDescription::parse(t).ok())
    else {
        return bumped;
    };
    for (ours, theirs) in sdp.media.iter_mut().zip(&offer.media) {
        if ours.port != 0 {
            ours.set_direction(offer.media_direction(theirs).reversed());
        }
    }
    sdp.to_string().into_bytes()
}

/// Our SDP with the `o=` version replaced (RFC 3264 §8: a changed
/// description carries a higher version).
pub(crate) fn bump_origin_version(sdp: &[u8], version: u64) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(sdp) else {
        return sdp.to_vec();
    };
    let mut out = String::with_capacity(text.len() + 4);
    for line in text.split_inclusive("\r\n") {
        if let Some(rest) = line.strip_prefix("o=") {
            let mut f: Vec<&str> = rest.trim_end().split(' ').collect();
            if f.len() == 6 {
                let v = version.to_string();
                f[2] = &v;
                out.push_str("o=");
                out.push_str(&f.join(" "));
                out.push_str("\r\n");
                continue;
            }
        }
        out.push_str(line);
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLYCOM: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nb=AS:1024\r\nt=0 0\r\n\
m=audio 49170 RTP/SAVP 9 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31 UNENCRYPTED_SRTCP\r\n\
a=ptime:20\r\na=sendrecv\r\n\
m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";

    #[test]
    fn a_hold_is_answered_recvonly_and_a_resume_sendrecv() {
        let ours = "v=0\r\no=gateway 1 1 IN IP4 203.0.113.1\r\ns=gateway\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";
        let hold = SessionDescription::parse(
            "v=0\r\no=- 1 2 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n",
        )
        .unwrap();
        let held = String::from_utf8(reanswer(ours.as_bytes(), &hold, 2)).unwrap();
        assert!(
            held.contains("a=recvonly") && !held.contains("a=sendrecv"),
            "{held}"
        );
        assert!(held.contains("o=gateway 1 2 IN IP4"), "{held}");
        let resume = SessionDescription::parse(
            "v=0\r\no=- 1 3 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
        )
        .unwrap();
        let resumed = String::from_utf8(reanswer(held.as_bytes(), &resume, 3)).unwrap();
        assert!(
            resumed.contains("a=sendrecv") && !resumed.contains("a=recvonly"),
            "{resumed}"
        );
    }

    #[test]
    fn a_polycom_offer_becomes_neutral_capabilities() {
        let sdp = SessionDescription::parse(POLYCOM).unwrap();
        let caps = caps_from_sdp(&sdp);
        assert_eq!(caps.streams.len(), 2);
        let a = &caps.streams[0];
        assert_eq!(a.kind, MediaKind::Audio);
        assert_eq!(a.rtp, Some("192.0.2.7:49170".parse().unwrap()));
        assert_eq!(a.rtcp, Some("192.0.2.7:49171".parse().unwrap()));
        assert_eq!(a.ptime_ms, Some(20));
        assert_eq!(a.bandwidth_kbps, Some(1024));
        let names: Vec<&str> = a.codecs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["G722", "PCMU", "PCMA", "telephone-event"]);
        assert_eq!(a.telephone_event(8000), Some(101));
        match &a.transport {
            MediaTransport::SrtpSdes { crypto } => {
                assert_eq!(crypto.len(), 1);
                assert!(crypto[0].ends_with("UNENCRYPTED_SRTCP"));
            }
            t => panic!("expected SDES, got {t:?}"),
        }
        let v = &caps.streams[1];
        assert_eq!(
            (v.kind, v.rtp),
            (MediaKind::Video, None),
            "port 0 is a disabled stream"
        );
        assert!(caps.all_encrypted());
    }

    #[test]
    fn the_answer_accepts_one_stream_and_refuses_the_rest() {
        let sdp = SessionDescription::parse(POLYCOM).unwrap();
        let caps = caps_from_sdp(&sdp);
        let a = &caps.streams[0];
        let chosen = vec![a.codecs[1].clone(), a.codecs[3].clone()];
        let body = answer_sdp(
            &sdp,
            &[AnsweredStream {
                index: 0,
                local_rtp: "203.0.113.1:30000".parse().unwrap(),
                local_rtcp: "203.0.113.1:30001".parse().unwrap(),
                codecs: chosen,
                direction: Direction::SendRecv,
                ptime_ms: Some(20),
                crypto: None,
            }],
            "203.0.113.1".parse().unwrap(),
            "42",
            1,
        );
        let text = String::from_utf8(body).unwrap();
        let answer = SessionDescription::parse(&text).unwrap();
        let back = caps_from_sdp(&answer);
        assert_eq!(
            back.streams[0].rtp,
            Some("203.0.113.1:30000".parse().unwrap())
        );
        assert_eq!(
            back.streams[0].rtcp,
            Some("203.0.113.1:30001".parse().unwrap())
        );
        let pts: Vec<u8> = back.streams[0]
            .codecs
            .iter()
            .map(|c| c.payload_type)
            .collect();
        assert_eq!(pts, [0, 101]);
        assert_eq!(back.streams[0].codecs[1].fmtp.as_deref(), Some("0-15"));
        assert_eq!(back.streams[1].rtp, None);
        assert!(text.contains("m=video 0 RTP/AVP 96\r\n"), "{text}");
    }
}

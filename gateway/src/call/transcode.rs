//! Codec interworking in a two-leg call. The gateway offers the callee the
//! caller's codecs and, after them, every codec the media bridge can
//! transcode to. When the callee picks one the caller did not offer, the
//! caller is answered with its own first codec, and each direction of the
//! audio stream is transcoded (decode → 16 kHz → encode) in the relay.
//! When the callee picks one of the caller's codecs, nothing changes:
//! packets are forwarded untouched, as before.
//!
//! Only plain RTP audio is transcoded: an encrypted stream whose keys pass
//! end to end is left as it is.

use gateway_callmodel::{AudioCodec, CodecCap};
use gateway_media::transcode::CodecEnd;
use gateway_sdp::{Attribute, MediaDescription, SessionDescription};

use super::caps::codecs_of;

/// The codecs the bridge adds to an offer, in this order of preference.
const ADDED: [AudioCodec; 4] = [
    AudioCodec::Opus,
    AudioCodec::G722,
    AudioCodec::Pcmu,
    AudioCodec::Pcma,
];

/// What one side offered for the audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedAudio {
    pub index: usize,
    pub codecs: Vec<CodecCap>,
}

/// A transcoded audio stream: the offerer keeps its own codec, the
/// answerer's differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranscodePlan {
    pub index: usize,
    pub offerer: CodecEnd,
    pub answerer: CodecEnd,
}

fn parse(body: &[u8]) -> Option<SessionDescription> {
    SessionDescription::parse(std::str::from_utf8(body).ok()?).ok()
}

/// The first plain audio stream; with `decrypted`, an SRTP one too (the
/// gateway terminates its SRTP, so it sees the payloads).
fn audio_index(sdp: &SessionDescription, decrypted: bool) -> Option<usize> {
    sdp.media.iter().position(|m| {
        m.media.eq_ignore_ascii_case("audio")
            && m.port != 0
            && (m.proto.eq_ignore_ascii_case("RTP/AVP")
                || (decrypted && m.proto.eq_ignore_ascii_case("RTP/SAVP")))
    })
}

fn same_codec(a: &CodecCap, b: &CodecCap) -> bool {
    a.name.eq_ignore_ascii_case(&b.name) && a.clock_rate == b.clock_rate
}

fn end_of(codecs: &[CodecCap], chosen: &CodecCap, codec: AudioCodec) -> CodecEnd {
    CodecEnd {
        codec,
        payload_type: chosen.payload_type,
        telephone_event: codecs
            .iter()
            .find(|c| c.is_telephone_event() && c.clock_rate == codec.rtp_clock())
            .map(|c| c.payload_type),
    }
}

/// Adds the codecs the bridge can transcode to the offer going to the
/// other leg (already anchored). Returns the new body and what the offerer
/// itself offered; `None` when there is nothing to transcode from (no
/// plain audio stream, or none of its codecs is one the bridge decodes).
pub fn extend_offer(body: &[u8], decrypted: bool) -> Option<(Vec<u8>, OfferedAudio)> {
    let mut sdp = parse(body)?;
    let index = audio_index(&sdp, decrypted)?;
    let m = &mut sdp.media[index];
    let codecs = codecs_of(m);
    if !codecs.iter().any(|c| c.audio_codec().is_some()) {
        return None;
    }
    let mut used: Vec<u8> = codecs.iter().map(|c| c.payload_type).collect();
    for add in ADDED {
        if codecs.iter().any(|c| c.audio_codec() == Some(add)) {
            continue;
        }
        let pt = match add.static_payload_type() {
            Some(pt) if !used.contains(&pt) => pt,
            Some(_) => continue,
            None => match (96..=127).find(|pt| !used.contains(pt)) {
                Some(pt) => pt,
                None => continue,
            },
        };
        used.push(pt);
        add_codec(m, pt, add.rtpmap(), None);
    }
    // A telephone-event at each clock the offer now carries, so that DTMF
    // reaches the callee whichever codec it picks.
    for clock in [8000, 48000] {
        let has_clock = codecs_of(m)
            .iter()
            .any(|c| c.audio_codec().is_some_and(|a| a.rtp_clock() == clock));
        let has_event = codecs_of(m)
            .iter()
            .any(|c| c.is_telephone_event() && c.clock_rate == clock);
        if has_clock && !has_event {
            if let Some(pt) = (96..=127).find(|pt| !used.contains(pt)) {
                used.push(pt);
                add_codec(m, pt, &format!("telephone-event/{clock}"), Some("0-16"));
            }
        }
    }
    Some((sdp.to_string().into_bytes(), OfferedAudio { index, codecs }))
}

fn add_codec(m: &mut MediaDescription, pt: u8, rtpmap: &str, fmtp: Option<&str>) {
    m.formats.push(pt.to_string());
    // Before any direction or other trailing attribute is fine: order of
    // rtpmap lines carries no meaning (RFC 8866 §6.6).
    m.attributes
        .push(Attribute::value("rtpmap", format!("{pt} {rtpmap}")));
    if let Some(f) = fmtp {
        m.attributes
            .push(Attribute::value("fmtp", format!("{pt} {f}")));
    }
}

/// Whether the answer needs transcoding: the answerer's first audio codec
/// is not one the offerer offered (by name and clock, not payload type).
pub fn plan(offered: &OfferedAudio, answer: &[u8]) -> Option<TranscodePlan> {
    let sdp = parse(answer)?;
    let m = sdp.media.get(offered.index)?;
    if m.port == 0 {
        return None;
    }
    let answered = codecs_of(m);
    let (chosen, codec) = answered
        .iter()
        .find_map(|c| c.audio_codec().map(|a| (c, a)))?;
    if offered.codecs.iter().any(|c| same_codec(c, chosen)) {
        return None;
    }
    let (own, own_codec) = offered
        .codecs
        .iter()
        .find_map(|c| c.audio_codec().map(|a| (c, a)))?;
    Some(TranscodePlan {
        index: offered.index,
        offerer: end_of(&offered.codecs, own, own_codec),
        answerer: end_of(&answered, chosen, codec),
    })
}

/// The (anchored) answer as the offerer must see it: its own codec and
/// telephone-event, as it offered them.
pub fn rewrite_answer(body: &[u8], offered: &OfferedAudio, plan: &TranscodePlan) -> Vec<u8> {
    let Some(mut sdp) = parse(body) else {
        return body.to_vec();
    };
    let Some(m) = sdp.media.get_mut(plan.index) else {
        return body.to_vec();
    };
    m.retain_payload_types(&[]);
    m.formats.retain(|f| f.parse::<u8>().is_err());
    m.attributes
        .retain(|a| !matches!(a.name.as_str(), "ptime" | "maxptime"));
    let ours = [
        Some(plan.offerer.payload_type),
        plan.offerer.telephone_event,
    ];
    for pt in ours.into_iter().flatten() {
        if let Some(c) = offered.codecs.iter().find(|c| c.payload_type == pt) {
            let ch = if c.channels > 1 {
                format!("/{}", c.channels)
            } else {
                String::new()
            };
            add_codec(
                m,
                pt,
                &format!("{}/{}{ch}", c.name, c.clock_rate),
                c.fmtp.as_deref(),
            );
        }
    }
    sdp.to_string().into_bytes()
}

/// A telephone-event's payload type and clock rate.
pub type Event = (u8, u32);

/// The first telephone-event (payload type, clock) each side negotiated:
/// the offerer's from its offer, the answerer's from its answer.
pub fn telephone_events(offered: &OfferedAudio, answer: &[u8]) -> (Option<Event>, Option<Event>) {
    let te = |codecs: &[CodecCap]| {
        codecs
            .iter()
            .find(|c| c.is_telephone_event())
            .map(|c| (c.payload_type, c.clock_rate))
    };
    let answered = parse(answer)
        .and_then(|sdp| sdp.media.get(offered.index).map(codecs_of))
        .unwrap_or_default();
    (te(&offered.codecs), te(&answered))
}

/// The first audio codec the answerer chose for the offered stream, and
/// whether that stream's profile is SRTP (`RTP/SAVP…`).
pub fn answered_audio(offered: &OfferedAudio, answer: &[u8]) -> Option<(AudioCodec, bool)> {
    let sdp = parse(answer)?;
    let m = sdp.media.get(offered.index)?;
    let codec = codecs_of(m).iter().find_map(|c| c.audio_codec())?;
    Some((codec, m.proto.to_ascii_uppercase().contains("SAVP")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPUS_ONLY: &str =
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\n\
a=rtpmap:101 telephone-event/48000\r\na=sendrecv\r\n";

    #[test]
    fn an_opus_offer_grows_the_codecs_the_bridge_transcodes() {
        let (body, offered) = extend_offer(OPUS_ONLY.as_bytes(), false).unwrap();
        let sdp = parse(&body).unwrap();
        let names: Vec<String> = codecs_of(&sdp.media[0])
            .iter()
            .map(|c| format!("{}/{}", c.name, c.clock_rate))
            .collect();
        assert_eq!(
            names,
            [
                "opus/48000",
                "telephone-event/48000",
                "G722/8000",
                "PCMU/8000",
                "PCMA/8000",
                "telephone-event/8000"
            ]
        );
        assert_eq!(offered.codecs.len(), 2, "what the caller itself offered");
        // A callee that picks PCMU needs transcoding back to Opus.
        let answer = "v=0\r\no=- 2 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
m=audio 5000 RTP/AVP 0 96\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\na=ptime:20\r\n";
        let p = plan(&offered, answer.as_bytes()).unwrap();
        assert_eq!(p.offerer.codec, AudioCodec::Opus);
        assert_eq!(
            (p.offerer.payload_type, p.offerer.telephone_event),
            (111, Some(101))
        );
        assert_eq!(p.answerer.codec, AudioCodec::Pcmu);
        assert_eq!(p.answerer.telephone_event, Some(96));
        let to_caller = rewrite_answer(answer.as_bytes(), &offered, &p);
        let sdp = parse(&to_caller).unwrap();
        let m = &sdp.media[0];
        assert_eq!(m.formats, ["111", "101"]);
        assert_eq!(
            m.port, 5000,
            "addresses are the anchor's business, untouched"
        );
        let text = String::from_utf8(to_caller).unwrap();
        assert!(text.contains("a=rtpmap:111 opus/48000/2\r\n"), "{text}");
        assert!(text.contains("a=fmtp:111 useinbandfec=1\r\n"), "{text}");
        assert!(!text.contains("PCMU") && !text.contains("ptime"), "{text}");
    }

    #[test]
    fn a_callee_that_picks_an_offered_codec_is_forwarded() {
        let (_, offered) = extend_offer(OPUS_ONLY.as_bytes(), false).unwrap();
        let answer = OPUS_ONLY.replace("4000", "6000");
        assert_eq!(plan(&offered, answer.as_bytes()), None);
    }

    #[test]
    fn offers_without_plain_decodable_audio_are_left_alone() {
        let g729 = OPUS_ONLY
            .replace("111 101", "18")
            .replace(
                "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\n",
                "",
            )
            .replace("a=rtpmap:101 telephone-event/48000\r\n", "");
        assert!(extend_offer(g729.as_bytes(), false).is_none());
        let srtp = OPUS_ONLY.replace("RTP/AVP", "RTP/SAVP");
        assert!(extend_offer(srtp.as_bytes(), false).is_none());
        assert!(extend_offer(b"not sdp", false).is_none());
    }
}

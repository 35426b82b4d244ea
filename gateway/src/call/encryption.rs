//! SRTP termination in a two-leg call. When a leg offers SDES-SRTP audio,
//! the gateway answers it with a key of its own and offers the other leg
//! fresh keys of its own: "best effort" (`RTP/AVP` with `a=crypto`, which a
//! plain phone ignores and an SRTP phone accepts), or `RTP/SAVP` when the
//! call must be encrypted. Each leg is then keyed on its own, so SRTP↔RTP,
//! SRTP↔SRTP with other keys and RTP↔RTP all work; the relay decrypts
//! what arrives and encrypts what leaves (see [`super::install_media`]).
//!
//! Only the first audio stream is terminated; other SRTP streams (video)
//! still carry their keys end to end, as before.

use gateway_sdp::crypto::SdesCrypto;
use gateway_sdp::{Attribute, SessionDescription};

use super::sdes::{self, LegKeys};

/// An SRTP audio offer the gateway terminates, until its answer.
#[derive(Debug, Clone)]
pub struct SrtpOffer {
    pub index: usize,
    /// The offerer's proto (`RTP/SAVP`, `RTP/SAVPF`), restored in the answer.
    proto: String,
    /// The offerer's key and ours towards it; `None` for a plain offerer
    /// whose callee insisted on SRTP (see [`savp_retry`]).
    pub offerer: Option<LegKeys>,
    /// The keys we offered the other leg.
    ours_to_other: Vec<SdesCrypto>,
    /// We offered the other leg `RTP/AVP` with keys (best effort); a 488
    /// from it is worth one retry as `RTP/SAVP`.
    pub best_effort: bool,
}

/// Both legs' keys once the answer came (`None`: that leg is plain RTP).
#[derive(Debug, Clone)]
pub struct SrtpLegs {
    pub index: usize,
    pub offerer: Option<LegKeys>,
    pub answerer: Option<LegKeys>,
}

fn parse(body: &[u8]) -> Option<SessionDescription> {
    SessionDescription::parse(std::str::from_utf8(body).ok()?).ok()
}

fn crypto_lines(m: &gateway_sdp::MediaDescription) -> Vec<String> {
    m.attributes_named("crypto")
        .filter_map(|a| a.value.clone())
        .collect()
}

fn set_crypto(m: &mut gateway_sdp::MediaDescription, lines: &[String]) {
    m.remove_attributes("crypto");
    for l in lines {
        m.attributes.push(Attribute::value("crypto", l.clone()));
    }
}

/// The offer going to the other leg, with the offerer's SRTP terminated.
/// `None` when there is nothing to terminate: no SDES audio stream, or one
/// whose keys we cannot use (it then passes end to end, as before).
pub fn terminate_offer(body: &[u8], require_encryption: bool) -> Option<(Vec<u8>, SrtpOffer)> {
    let mut sdp = parse(body)?;
    let index = sdp.media.iter().position(|m| {
        m.media.eq_ignore_ascii_case("audio")
            && m.port != 0
            && m.proto.to_ascii_uppercase().starts_with("RTP/SAVP")
    })?;
    let m = &mut sdp.media[index];
    let offerer = match sdes::answer(&crypto_lines(m)) {
        Ok(k) => k,
        Err(why) => {
            tracing::debug!(%why, "SRTP offer passed end to end");
            return None;
        }
    };
    let proto = m.proto.clone();
    let ours_to_other = sdes::offer();
    let lines: Vec<String> = ours_to_other.iter().map(sdes::line).collect();
    set_crypto(m, &lines);
    m.proto = if require_encryption {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    }
    .to_string();
    Some((
        sdp.to_string().into_bytes(),
        SrtpOffer {
            index,
            proto,
            offerer: Some(offerer),
            ours_to_other,
            best_effort: !require_encryption,
        },
    ))
}

/// The other leg refused our offer with 488: offer it again as `RTP/SAVP`
/// with fresh keys of ours. `offer` is the SRTP offer we made (best effort),
/// or `None` when the offerer was plain and we offered no keys at all. The
/// body is the offer we sent; returns the new body and offer state.
pub fn savp_retry(body: &[u8], offer: Option<&SrtpOffer>) -> Option<(Vec<u8>, SrtpOffer)> {
    if offer.is_some_and(|o| !o.best_effort) {
        return None;
    }
    let mut sdp = parse(body)?;
    let index = match offer {
        Some(o) => o.index,
        None => sdp.media.iter().position(|m| {
            m.media.eq_ignore_ascii_case("audio")
                && m.port != 0
                && m.proto.eq_ignore_ascii_case("RTP/AVP")
        })?,
    };
    let m = sdp.media.get_mut(index)?;
    let ours_to_other = sdes::offer();
    let lines: Vec<String> = ours_to_other.iter().map(sdes::line).collect();
    set_crypto(m, &lines);
    let proto = match offer {
        Some(o) => o.proto.clone(),
        None => m.proto.clone(),
    };
    m.proto = "RTP/SAVP".to_string();
    Some((
        sdp.to_string().into_bytes(),
        SrtpOffer {
            index,
            proto,
            offerer: offer.and_then(|o| o.offerer.clone()),
            ours_to_other,
            best_effort: false,
        },
    ))
}

/// Whether the other leg's answer accepted SRTP (an `a=crypto` line on the
/// audio stream we offered keys for, with a live port).
pub fn answer_has_crypto(body: &[u8], offer: &SrtpOffer) -> bool {
    parse(body)
        .and_then(|sdp| {
            sdp.media
                .get(offer.index)
                .map(|m| m.port != 0 && !crypto_lines(m).is_empty())
        })
        .unwrap_or(false)
}

/// Whether an offer carries SRTP audio the gateway can terminate or pass:
/// some audio stream whose profile is `RTP/SAVP…` (or DTLS).
pub fn offers_encrypted_audio(body: &[u8]) -> bool {
    parse(body).is_some_and(|sdp| {
        sdp.media.iter().any(|m| {
            m.media.eq_ignore_ascii_case("audio")
                && m.port != 0
                && m.proto.to_ascii_uppercase().contains("SAVP")
        })
    })
}

/// The answer going back to the offerer: its own proto and our key for it.
/// The answerer's SRTP, if it accepted one of our keys, is in the result.
pub fn terminate_answer(body: &[u8], offer: &SrtpOffer) -> Result<(Vec<u8>, SrtpLegs), String> {
    let mut sdp = parse(body).ok_or("the answer is not SDP")?;
    let m = sdp
        .media
        .get_mut(offer.index)
        .ok_or("the answer lacks the audio stream")?;
    let theirs = crypto_lines(m);
    let answerer = if theirs.is_empty() {
        None
    } else {
        Some(sdes::accept(&offer.ours_to_other, &theirs)?)
    };
    if m.port != 0 {
        m.proto = offer.proto.clone();
        match &offer.offerer {
            Some(k) => set_crypto(m, &[k.our_line()]),
            None => set_crypto(m, &[]),
        }
    }
    Ok((
        sdp.to_string().into_bytes(),
        SrtpLegs {
            index: offer.index,
            offerer: offer.offerer.clone(),
            answerer,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRTP_OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 4000 RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\na=sendrecv\r\n";

    fn text(b: &[u8]) -> String {
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn an_srtp_offer_goes_on_best_effort_with_our_keys_and_is_answered_with_ours() {
        let (to_b, offer) = terminate_offer(SRTP_OFFER.as_bytes(), false).unwrap();
        let t = text(&to_b);
        assert!(t.contains("m=audio 4000 RTP/AVP 0 101\r\n"), "{t}");
        assert!(
            !t.contains("WVNfX19z"),
            "the caller's key never reaches the callee: {t}"
        );
        assert_eq!(t.matches("a=crypto:").count(), 4, "{t}");

        // A plain callee ignores the keys.
        let plain = "v=0\r\no=- 2 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
        let (to_a, legs) = terminate_answer(plain.as_bytes(), &offer).unwrap();
        let t = text(&to_a);
        assert!(t.contains("m=audio 5000 RTP/SAVP 0\r\n"), "{t}");
        assert!(
            t.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
            "{t}"
        );
        assert!(legs.answerer.is_none());
        assert!(legs.offerer.as_ref().unwrap().contexts().is_ok());

        // An SRTP callee takes one of our keys.
        let b_keys = sdes::answer(&[sdes::line(&offer.ours_to_other[0])]).unwrap();
        let srtp = format!("{plain}a=crypto:{}\r\n", b_keys.our_line());
        let (_, legs) = terminate_answer(srtp.as_bytes(), &offer).unwrap();
        assert!(legs.answerer.is_some());
    }

    #[test]
    fn a_required_encryption_offers_savp_and_plain_offers_are_untouched() {
        let (to_b, _) = terminate_offer(SRTP_OFFER.as_bytes(), true).unwrap();
        assert!(text(&to_b).contains("RTP/SAVP 0 101"));
        let plain = SRTP_OFFER.replace("RTP/SAVP", "RTP/AVP");
        assert!(terminate_offer(plain.as_bytes(), false).is_none());
        let bad = SRTP_OFFER.replace("AES_CM_128_HMAC_SHA1_80", "F8_128_HMAC_SHA1_80");
        assert!(
            terminate_offer(bad.as_bytes(), false).is_none(),
            "passes end to end"
        );
    }
}

#[cfg(test)]
mod retry_tests {
    use super::*;

    const PLAIN: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

    #[test]
    fn a_plain_callers_offer_is_retried_as_savp_and_its_answer_stays_plain() {
        let (to_b, offer) = savp_retry(PLAIN.as_bytes(), None).unwrap();
        let t = String::from_utf8(to_b).unwrap();
        assert!(
            t.contains("m=audio 4000 RTP/SAVP 0\r\n") && t.contains("a=crypto:1 "),
            "{t}"
        );
        assert!(
            savp_retry(t.as_bytes(), Some(&offer)).is_none(),
            "one retry only"
        );
        let b_keys = sdes::answer(&[sdes::line(&offer.ours_to_other[1])]).unwrap();
        let answer =
            PLAIN.replace("RTP/AVP", "RTP/SAVP") + &format!("a=crypto:{}\r\n", b_keys.our_line());
        let (to_a, legs) = terminate_answer(answer.as_bytes(), &offer).unwrap();
        let t = String::from_utf8(to_a).unwrap();
        assert!(t.contains("RTP/AVP 0") && !t.contains("crypto"), "{t}");
        assert!(legs.offerer.is_none() && legs.answerer.is_some());
    }
}

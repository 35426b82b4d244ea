//! SDES keying (RFC 4568) of a leg whose SRTP the gateway terminates: the
//! peer's `a=crypto` key decrypts what it sends, a fresh key of ours
//! encrypts what we send it. Each leg has its own keys, so the far leg may
//! be plain RTP or SRTP keyed differently.
//!
//! Key material stays inside `SdesCrypto` / `SrtpKey` (redacted `Debug`,
//! wiped on drop); the SDP text that carries our key is built only for
//! the message body, never logged.

use gateway_sdp::crypto::{SdesCrypto, SessionParam};
use gateway_srtp::{SrtpContext, SrtpKey, SrtpOptions, SrtpSuite};

/// Suites we offer, in our order of preference. The 80-bit tag first: it
/// is what every room system implements.
const OFFERED: [SrtpSuite; 4] = [
    SrtpSuite::AesCm128HmacSha1_80,
    SrtpSuite::AesCm128HmacSha1_32,
    SrtpSuite::AeadAes128Gcm,
    SrtpSuite::AeadAes256Gcm,
];

/// One leg's two SRTP directions.
pub struct LegSrtp {
    /// Decrypts what the peer sends (its key).
    pub inbound: SrtpContext,
    /// Encrypts what we send the peer (our key).
    pub outbound: SrtpContext,
    pub suite: SrtpSuite,
}

impl std::fmt::Debug for LegSrtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegSrtp")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

fn srtp_suite(c: &SdesCrypto) -> Option<SrtpSuite> {
    SrtpSuite::from_sdes_name(c.suite.name())
}

/// What the session parameters switch off (RFC 4568 §6.3.x), applied to
/// both directions as the SDES semantics say they are declarative.
fn options(c: &SdesCrypto) -> SrtpOptions {
    SrtpOptions {
        encrypt_rtp: !c.has(&SessionParam::UnencryptedSrtp),
        encrypt_rtcp: !c.has(&SessionParam::UnencryptedSrtcp),
        auth_rtp: !c.has(&SessionParam::UnauthenticatedSrtp),
        ..SrtpOptions::default()
    }
}

fn context(suite: SrtpSuite, c: &SdesCrypto, opts: SrtpOptions) -> Result<SrtpContext, String> {
    let k = c.single_key().map_err(|e| e.to_string())?;
    if c.kdr().is_some_and(|n| n != 0) {
        return Err("key derivation rate other than 0 is not supported".into());
    }
    let key = SrtpKey::new(suite, k.key(c.suite), k.salt(c.suite)).map_err(|e| e.to_string())?;
    SrtpContext::new(suite, &key, opts).map_err(|e| e.to_string())
}

/// The value of an `a=crypto` line (without `a=crypto:`).
pub fn line(c: &SdesCrypto) -> String {
    let a = c.to_attribute();
    let mut s = format!("{} {} {}", a.tag, a.suite, a.key_params.expose());
    for p in &a.session_params {
        s.push(' ');
        s.push_str(p);
    }
    s
}

/// The keys of one leg: the peer's (it encrypts with it) and ours (we
/// encrypt with it). Contexts are built from them whenever the relay needs
/// fresh ones.
#[derive(Clone)]
pub struct LegKeys {
    theirs: SdesCrypto,
    ours: SdesCrypto,
}

impl std::fmt::Debug for LegKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LegKeys({}, tag {}, redacted)",
            self.ours.suite.name(),
            self.ours.tag
        )
    }
}

impl LegKeys {
    /// Our `a=crypto` value for this leg's SDP.
    pub fn our_line(&self) -> String {
        line(&self.ours)
    }

    pub fn contexts(&self) -> Result<LegSrtp, String> {
        let suite = srtp_suite(&self.ours).ok_or("suite not supported")?;
        let opts = options(&self.theirs);
        Ok(LegSrtp {
            inbound: context(suite, &self.theirs, opts)?,
            outbound: context(suite, &self.ours, opts)?,
            suite,
        })
    }
}

/// Answer an offer's `a=crypto` lines: the first one whose suite and key
/// we can use, answered with the same tag and suite and a key of ours.
/// `Err` says why none would do.
pub fn answer(offered: &[String]) -> Result<LegKeys, String> {
    let mut why = String::from("no a=crypto line");
    for text in offered {
        let c = match SdesCrypto::parse(text) {
            Ok(c) => c,
            Err(e) => {
                why = e.to_string();
                continue;
            }
        };
        let Some(suite) = srtp_suite(&c) else {
            why = format!("suite {} is not supported", c.suite.name());
            continue;
        };
        if let Err(e) = context(suite, &c, options(&c)) {
            why = e;
            continue;
        }
        let mut ours = SdesCrypto::generate(c.tag, c.suite);
        // Echo what the offer switched off, so both sides agree.
        ours.session_params = c
            .session_params
            .iter()
            .filter(|p| {
                matches!(
                    p,
                    SessionParam::UnencryptedSrtp
                        | SessionParam::UnencryptedSrtcp
                        | SessionParam::UnauthenticatedSrtp
                )
            })
            .cloned()
            .collect();
        return Ok(LegKeys { theirs: c, ours });
    }
    Err(why)
}

/// Our offer: one line per suite, each with its own fresh key. Keep them
/// until the answer says which tag the peer took.
pub fn offer() -> Vec<SdesCrypto> {
    OFFERED
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let suite = gateway_sdp::crypto::SdesSuite::from_name(s.sdes_name())?;
            Some(SdesCrypto::generate(i as u32 + 1, suite))
        })
        .collect()
}

/// The peer's answer to our offer: its line names the tag it accepted.
pub fn accept(ours: &[SdesCrypto], answered: &[String]) -> Result<LegKeys, String> {
    let text = answered.first().ok_or("the answer has no a=crypto line")?;
    let theirs = SdesCrypto::parse(text).map_err(|e| e.to_string())?;
    let mine = ours
        .iter()
        .find(|c| c.tag == theirs.tag && c.suite == theirs.suite)
        .ok_or_else(|| {
            format!(
                "the answer's a=crypto tag {} matches none we offered",
                theirs.tag
            )
        })?;
    let keys = LegKeys {
        theirs,
        ours: mine.clone(),
    };
    keys.contexts()?;
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLYCOM: &str =
        "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31 UNENCRYPTED_SRTCP";

    #[test]
    fn a_polycom_line_is_answered_with_our_own_key_and_its_params() {
        let keys = answer(&[POLYCOM.to_string()]).unwrap();
        let ours = keys.our_line();
        let leg = keys.contexts().unwrap();
        assert!(
            ours.starts_with("1 AES_CM_128_HMAC_SHA1_80 inline:"),
            "{ours}"
        );
        assert!(ours.ends_with(" UNENCRYPTED_SRTCP"), "{ours}");
        assert!(!ours.contains("WVNfX19z"), "our key is not the peer's");
        assert_eq!(leg.suite, SrtpSuite::AesCm128HmacSha1_80);
        assert!(!format!("{leg:?}{keys:?}").contains("inline"));
    }

    #[test]
    fn unusable_lines_are_skipped_and_the_reason_kept() {
        let bad =
            "1 F8_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz".to_string();
        let good = POLYCOM.replacen('1', "2", 1);
        let keys = answer(&[bad.clone(), good]).unwrap();
        assert!(keys.our_line().starts_with("2 "));
        let err = answer(&[bad]).unwrap_err();
        assert!(err.contains("F8_128"), "{err}");
    }

    #[test]
    fn our_offer_and_the_peers_answer_make_working_contexts() {
        let ours = offer();
        let lines: Vec<String> = ours.iter().map(line).collect();
        assert_eq!(lines.len(), 4);
        // The peer answers tag 3 (AEAD_AES_128_GCM) with a key of its own.
        let peer_keys = answer(&lines[2..3]).unwrap();
        let mut peer = peer_keys.contexts().unwrap();
        let mut us = accept(&ours, &[peer_keys.our_line()])
            .unwrap()
            .contexts()
            .unwrap();
        assert_eq!(us.suite, SrtpSuite::AeadAes128Gcm);
        let plain = [&[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9][..], &[7u8; 160]].concat();
        let mut p = plain.clone();
        us.outbound.protect_rtp(&mut p).unwrap();
        peer.inbound.unprotect_rtp(&mut p).unwrap();
        assert_eq!(p, plain);
        let mut p = plain.clone();
        peer.outbound.protect_rtp(&mut p).unwrap();
        us.inbound.unprotect_rtp(&mut p).unwrap();
        assert_eq!(p, plain);
        let wrong_tag = lines[0].replacen('1', "9", 1);
        assert!(accept(&ours, &[wrong_tag]).is_err());
    }
}

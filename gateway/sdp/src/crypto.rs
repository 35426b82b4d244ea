//! SDES (RFC 4568) `a=crypto` attributes, typed: crypto suite, key
//! parameters checked against the suite's key and salt lengths, and session
//! parameters. Key material never appears in `Debug` output or in errors,
//! and is wiped when dropped.
//!
//! ```
//! use gateway_sdp::crypto::{SdesCrypto, SdesSuite, SessionParam};
//!
//! let line = "1 AES_CM_128_HMAC_SHA1_80 \
//!             inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 UNENCRYPTED_SRTCP";
//! let c = SdesCrypto::parse(line).unwrap();
//! assert_eq!(c.suite, SdesSuite::AesCm128HmacSha1_80);
//! assert!(c.has(&SessionParam::UnencryptedSrtcp));
//! assert_eq!(c.to_string(), line);
//! assert!(!format!("{c:?}").contains("WVNf"));
//!
//! let ours = SdesCrypto::generate(1, SdesSuite::AeadAes256Gcm);
//! assert_eq!(ours.single_key().unwrap().material().len(), 44);
//! ```

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use rand::RngCore;
use zeroize::Zeroize;

use crate::{Crypto, SecretKeyParams};

/// Most key-params accepted on one line (each needs its own MKI).
pub const MAX_KEYS: usize = 8;
/// Most session parameters accepted on one line.
pub const MAX_SESSION_PARAMS: usize = 16;
/// Largest key||salt of any suite we know (AEAD_AES_256_GCM).
const MAX_MATERIAL: usize = 44;

/// Standard alphabet; padding written, but accepted with or without,
/// since some endpoints strip the `=` from GCM keys.
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Crypto suites the gateway can key (RFC 4568 §6.2, RFC 7714 §14.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdesSuite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
    AeadAes128Gcm,
    AeadAes256Gcm,
}

impl SdesSuite {
    pub const ALL: [SdesSuite; 4] = [
        SdesSuite::AesCm128HmacSha1_80,
        SdesSuite::AesCm128HmacSha1_32,
        SdesSuite::AeadAes128Gcm,
        SdesSuite::AeadAes256Gcm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SdesSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SdesSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            SdesSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SdesSuite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// Suite names are case-sensitive in RFC 4568's grammar.
    pub fn from_name(name: &str) -> Option<SdesSuite> {
        SdesSuite::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn key_len(self) -> usize {
        match self {
            SdesSuite::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    pub fn salt_len(self) -> usize {
        match self {
            SdesSuite::AeadAes128Gcm | SdesSuite::AeadAes256Gcm => 12,
            _ => 14,
        }
    }

    /// Bytes behind `inline:`: key followed by salt.
    pub fn material_len(self) -> usize {
        self.key_len() + self.salt_len()
    }
}

impl fmt::Display for SdesSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Master key || master salt, in a fixed buffer wiped on drop.
#[derive(Clone)]
pub struct KeyMaterial {
    buf: [u8; MAX_MATERIAL],
    len: usize,
}

impl KeyMaterial {
    fn new(bytes: &[u8]) -> KeyMaterial {
        let mut k = KeyMaterial {
            buf: [0; MAX_MATERIAL],
            len: bytes.len(),
        };
        k.buf[..bytes.len()].copy_from_slice(bytes);
        k
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for KeyMaterial {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

impl PartialEq for KeyMaterial {
    fn eq(&self, other: &Self) -> bool {
        // Not constant time: this compares descriptions (tests, renegotiation
        // checks), it never decides whether a peer is authentic.
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for KeyMaterial {}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} bytes>", self.len)
    }
}

/// Master key lifetime in packets, kept in the notation it arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// `2^n`
    PowerOfTwo(u8),
    /// A plain decimal count.
    Packets(u64),
}

impl Lifetime {
    pub fn packets(self) -> u64 {
        match self {
            Lifetime::PowerOfTwo(n) => 1u64 << n,
            Lifetime::Packets(n) => n,
        }
    }
}

/// Master key identifier: `value:length`, length in bytes (1..=128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mki {
    pub value: u64,
    pub length: u8,
}

/// One `inline:` key-param.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParam {
    material: KeyMaterial,
    pub lifetime: Option<Lifetime>,
    pub mki: Option<Mki>,
}

impl KeyParam {
    /// Key followed by salt, as SRTP master key material.
    pub fn material(&self) -> &[u8] {
        self.material.as_bytes()
    }

    pub fn key(&self, suite: SdesSuite) -> &[u8] {
        &self.material()[..suite.key_len()]
    }

    pub fn salt(&self, suite: SdesSuite) -> &[u8] {
        &self.material()[suite.key_len()..]
    }
}

/// An SDES session parameter (RFC 4568 §6.3). Unknown ones are kept so
/// that they can be echoed or inspected.
#[derive(Clone, PartialEq, Eq)]
pub enum SessionParam {
    /// `KDR=n`: key derivation rate 2^n packets.
    Kdr(u8),
    UnencryptedSrtp,
    UnencryptedSrtcp,
    UnauthenticatedSrtp,
    /// `FEC_ORDER=FEC_SRTP` or `SRTP_FEC`.
    FecOrder(String),
    /// `FEC_KEY=<key-params>`: holds keys, so redacted in `Debug`.
    FecKey(String),
    /// `WSH=n`: minimum replay window size.
    Wsh(u32),
    Other(String),
}

impl fmt::Debug for SessionParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionParam::FecKey(_) => f.write_str("FecKey(<redacted>)"),
            SessionParam::Kdr(n) => write!(f, "Kdr({n})"),
            SessionParam::UnencryptedSrtp => f.write_str("UnencryptedSrtp"),
            SessionParam::UnencryptedSrtcp => f.write_str("UnencryptedSrtcp"),
            SessionParam::UnauthenticatedSrtp => f.write_str("UnauthenticatedSrtp"),
            SessionParam::FecOrder(s) => write!(f, "FecOrder({s:?})"),
            SessionParam::Wsh(n) => write!(f, "Wsh({n})"),
            SessionParam::Other(s) => write!(f, "Other({s:?})"),
        }
    }
}

impl fmt::Display for SessionParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionParam::Kdr(n) => write!(f, "KDR={n}"),
            SessionParam::UnencryptedSrtp => f.write_str("UNENCRYPTED_SRTP"),
            SessionParam::UnencryptedSrtcp => f.write_str("UNENCRYPTED_SRTCP"),
            SessionParam::UnauthenticatedSrtp => f.write_str("UNAUTHENTICATED_SRTP"),
            SessionParam::FecOrder(s) => write!(f, "FEC_ORDER={s}"),
            SessionParam::FecKey(s) => write!(f, "FEC_KEY={s}"),
            SessionParam::Wsh(n) => write!(f, "WSH={n}"),
            SessionParam::Other(s) => f.write_str(s),
        }
    }
}

impl SessionParam {
    fn parse(s: &str) -> Result<SessionParam, SdesError> {
        let bad = || SdesError::BadSessionParam(truncated(s));
        let (name, value) = match s.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (s, None),
        };
        Ok(match (name, value) {
            ("UNENCRYPTED_SRTP", None) => SessionParam::UnencryptedSrtp,
            ("UNENCRYPTED_SRTCP", None) => SessionParam::UnencryptedSrtcp,
            ("UNAUTHENTICATED_SRTP", None) => SessionParam::UnauthenticatedSrtp,
            ("KDR", Some(v)) => match digits(v, 2).ok_or_else(bad)? {
                n @ 0..=24 => SessionParam::Kdr(n as u8),
                _ => return Err(bad()),
            },
            ("WSH", Some(v)) => match digits(v, 9).ok_or_else(bad)? {
                n @ 64.. => SessionParam::Wsh(n as u32),
                _ => return Err(bad()),
            },
            ("FEC_ORDER", Some(v @ ("FEC_SRTP" | "SRTP_FEC"))) => SessionParam::FecOrder(v.into()),
            ("FEC_ORDER", _) => return Err(bad()),
            ("FEC_KEY", Some(v)) if !v.is_empty() => SessionParam::FecKey(v.into()),
            ("FEC_KEY", _) => return Err(SdesError::BadSessionParam("FEC_KEY".into())),
            _ => SessionParam::Other(s.into()),
        })
    }
}

/// Why an `a=crypto` line was refused. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdesError {
    #[error("a=crypto: missing {0}")]
    Missing(&'static str),
    #[error("a=crypto: tag {0:?} is not a number of at most 9 digits")]
    BadTag(String),
    #[error("a=crypto: unsupported crypto suite {0:?}")]
    UnknownSuite(String),
    #[error("a=crypto: key method {0:?} is not \"inline\"")]
    BadKeyMethod(String),
    #[error("a=crypto: key is not valid base64")]
    BadBase64,
    #[error("a=crypto: {suite} needs {expected} bytes of key and salt, the key has {got}")]
    KeyLength {
        suite: SdesSuite,
        expected: usize,
        got: usize,
    },
    #[error("a=crypto: lifetime {0:?} is neither 2^n (n <= 63) nor a packet count")]
    BadLifetime(String),
    #[error("a=crypto: MKI {0:?} is not value:length with length 1..=128")]
    BadMki(String),
    #[error("a=crypto: unexpected key-param field {0:?}")]
    ExtraKeyField(String),
    #[error("a=crypto: more than {MAX_KEYS} keys")]
    TooManyKeys,
    #[error("a=crypto: several keys without an MKI to tell them apart")]
    KeysWithoutMki,
    #[error("a=crypto: MKI is not supported; offer a single key without MKI")]
    MkiUnsupported,
    #[error("a=crypto: more than one key; only a single key is supported")]
    MultipleKeys,
    #[error("a=crypto: malformed session parameter {0:?}")]
    BadSessionParam(String),
    #[error("a=crypto: more than {MAX_SESSION_PARAMS} session parameters")]
    TooManySessionParams,
}

/// A parsed `a=crypto` attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesCrypto {
    pub tag: u32,
    pub suite: SdesSuite,
    /// One or more keys; more than one only with distinct MKIs.
    pub keys: Vec<KeyParam>,
    pub session_params: Vec<SessionParam>,
}

impl SdesCrypto {
    /// Parses the attribute value, i.e. what follows `a=crypto:`.
    pub fn parse(value: &str) -> Result<SdesCrypto, SdesError> {
        let mut it = value.split_ascii_whitespace();
        let tag_text = it.next().ok_or(SdesError::Missing("tag"))?;
        let tag = digits(tag_text, 9).ok_or_else(|| SdesError::BadTag(truncated(tag_text)))? as u32;
        let suite_text = it.next().ok_or(SdesError::Missing("crypto suite"))?;
        let suite = SdesSuite::from_name(suite_text)
            .ok_or_else(|| SdesError::UnknownSuite(truncated(suite_text)))?;
        let key_text = it.next().ok_or(SdesError::Missing("key parameters"))?;
        let mut keys = Vec::new();
        for kp in key_text.split(';') {
            if keys.len() == MAX_KEYS {
                return Err(SdesError::TooManyKeys);
            }
            keys.push(parse_key_param(suite, kp)?);
        }
        if keys.len() > 1 && keys.iter().any(|k| k.mki.is_none()) {
            return Err(SdesError::KeysWithoutMki);
        }
        let mut session_params = Vec::new();
        for p in it {
            if session_params.len() == MAX_SESSION_PARAMS {
                return Err(SdesError::TooManySessionParams);
            }
            session_params.push(SessionParam::parse(p)?);
        }
        Ok(SdesCrypto {
            tag,
            suite,
            keys,
            session_params,
        })
    }

    /// A fresh random key for our side of an offer or answer.
    pub fn generate(tag: u32, suite: SdesSuite) -> SdesCrypto {
        let mut material = KeyMaterial {
            buf: [0; MAX_MATERIAL],
            len: suite.material_len(),
        };
        rand::rng().fill_bytes(&mut material.buf[..material.len]);
        SdesCrypto {
            tag,
            suite,
            keys: vec![KeyParam {
                material,
                lifetime: None,
                mki: None,
            }],
            session_params: Vec::new(),
        }
    }

    /// The one key an SRTP context can use: exactly one key, no MKI.
    pub fn single_key(&self) -> Result<&KeyParam, SdesError> {
        match self.keys.as_slice() {
            [k] if k.mki.is_none() => Ok(k),
            [_] => Err(SdesError::MkiUnsupported),
            _ => Err(SdesError::MultipleKeys),
        }
    }

    pub fn has(&self, p: &SessionParam) -> bool {
        self.session_params.contains(p)
    }

    /// Key derivation rate exponent; absent means derive once.
    pub fn kdr(&self) -> Option<u8> {
        self.session_params.iter().find_map(|p| match p {
            SessionParam::Kdr(n) => Some(*n),
            _ => None,
        })
    }

    /// The untyped form the SDP model stores.
    pub fn to_attribute(&self) -> Crypto {
        Crypto {
            tag: self.tag,
            suite: self.suite.name().to_string(),
            key_params: SecretKeyParams::new(self.key_params_text()),
            session_params: self.session_params.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn key_params_text(&self) -> String {
        let mut s = String::with_capacity(80);
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                s.push(';');
            }
            s.push_str("inline:");
            B64.encode_string(k.material(), &mut s);
            match k.lifetime {
                Some(Lifetime::PowerOfTwo(n)) => s.push_str(&format!("|2^{n}")),
                Some(Lifetime::Packets(n)) => s.push_str(&format!("|{n}")),
                None => {}
            }
            if let Some(m) = k.mki {
                s.push_str(&format!("|{}:{}", m.value, m.length));
            }
        }
        s
    }
}

impl TryFrom<&Crypto> for SdesCrypto {
    type Error = SdesError;

    fn try_from(c: &Crypto) -> Result<SdesCrypto, SdesError> {
        SdesCrypto::parse(&c.to_value())
    }
}

/// The attribute value, without `a=crypto:`. Contains the key: for the
/// wire only, never for logs.
impl fmt::Display for SdesCrypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys = self.key_params_text();
        let r = write!(f, "{} {} {}", self.tag, self.suite, keys);
        keys.zeroize();
        r?;
        for p in &self.session_params {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

fn parse_key_param(suite: SdesSuite, kp: &str) -> Result<KeyParam, SdesError> {
    let (method, info) = kp
        .split_once(':')
        .ok_or(SdesError::BadKeyMethod(String::new()))?;
    if !method.eq_ignore_ascii_case("inline") {
        return Err(SdesError::BadKeyMethod(truncated(method)));
    }
    let mut fields = info.split('|');
    let b64 = fields.next().unwrap_or_default();
    let mut buf = [0u8; MAX_MATERIAL];
    // Longer text than any suite's key cannot be right; refusing it before
    // decoding also keeps decode_slice within the buffer.
    if b64.len() > MAX_MATERIAL.div_ceil(3) * 4 {
        return Err(SdesError::KeyLength {
            suite,
            expected: suite.material_len(),
            got: b64.len() / 4 * 3,
        });
    }
    let n = B64
        .decode_slice(b64, &mut buf)
        .map_err(|_| SdesError::BadBase64)?;
    if n != suite.material_len() {
        buf.zeroize();
        return Err(SdesError::KeyLength {
            suite,
            expected: suite.material_len(),
            got: n,
        });
    }
    let material = KeyMaterial::new(&buf[..n]);
    buf.zeroize();

    let mut lifetime = None;
    let mut mki = None;
    for field in fields {
        if field.contains(':') {
            if mki.is_some() {
                return Err(SdesError::ExtraKeyField(truncated(field)));
            }
            mki = Some(parse_mki(field)?);
        } else {
            // The lifetime precedes the MKI (RFC 4568 §9.2).
            if lifetime.is_some() || mki.is_some() {
                return Err(SdesError::ExtraKeyField(truncated(field)));
            }
            lifetime = Some(parse_lifetime(field)?);
        }
    }
    Ok(KeyParam {
        material,
        lifetime,
        mki,
    })
}

fn parse_lifetime(s: &str) -> Result<Lifetime, SdesError> {
    let bad = || SdesError::BadLifetime(truncated(s));
    match s.strip_prefix("2^") {
        Some(exp) => match digits(exp, 2).ok_or_else(bad)? {
            n @ 0..=63 => Ok(Lifetime::PowerOfTwo(n as u8)),
            _ => Err(bad()),
        },
        None => digits(s, 19).map(Lifetime::Packets).ok_or_else(bad),
    }
}

fn parse_mki(s: &str) -> Result<Mki, SdesError> {
    let bad = || SdesError::BadMki(truncated(s));
    let (v, l) = s.split_once(':').ok_or_else(bad)?;
    let value = digits(v, 19).ok_or_else(bad)?;
    let length = digits(l, 3).ok_or_else(bad)?;
    if !(1..=128).contains(&length) {
        return Err(bad());
    }
    Ok(Mki {
        value,
        length: length as u8,
    })
}

/// 1..=`max` ASCII digits as a number; no signs, no spaces.
fn digits(s: &str, max: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Echo at most a little of the offending text in errors.
fn truncated(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cisco_line_with_lifetime_round_trips() {
        let v = "1 AES_CM_128_HMAC_SHA1_80 inline:Y2lzY29zeDgwdGVzdGtleW1hdGVyaWFsMDEyMzQ1|2^48";
        let c = SdesCrypto::parse(v).unwrap();
        assert_eq!(c.tag, 1);
        assert_eq!(c.suite, SdesSuite::AesCm128HmacSha1_80);
        let k = c.single_key().unwrap();
        assert_eq!(k.material(), b"ciscosx80testkeymaterial012345");
        assert_eq!(k.key(c.suite), b"ciscosx80testkey");
        assert_eq!(k.salt(c.suite), b"material012345");
        assert_eq!(k.lifetime, Some(Lifetime::PowerOfTwo(48)));
        assert_eq!(k.lifetime.unwrap().packets(), 1 << 48);
        assert_eq!(c.to_string(), v);
    }

    #[test]
    fn polycom_style_session_params_are_typed_and_unknown_ones_kept() {
        let v =
            "2 AES_CM_128_HMAC_SHA1_32 inline:c2Vjb25kdGVzdGtleW1hdGVyaWFsNjc4OWFiY2Rl|2^31|1:1 \
                 UNENCRYPTED_SRTP UNENCRYPTED_SRTCP KDR=0 WSH=128 FEC_ORDER=SRTP_FEC X-VENDOR=7";
        let c = SdesCrypto::parse(v).unwrap();
        assert!(c.has(&SessionParam::UnencryptedSrtp));
        assert!(c.has(&SessionParam::UnencryptedSrtcp));
        assert!(!c.has(&SessionParam::UnauthenticatedSrtp));
        assert_eq!(c.kdr(), Some(0));
        assert!(c.has(&SessionParam::Wsh(128)));
        assert!(c.has(&SessionParam::Other("X-VENDOR=7".into())));
        assert_eq!(
            c.keys[0].mki,
            Some(Mki {
                value: 1,
                length: 1
            })
        );
        assert_eq!(c.single_key(), Err(SdesError::MkiUnsupported));
        assert_eq!(c.to_string(), v);
    }

    #[test]
    fn gcm_keys_are_checked_per_suite_and_padding_is_optional() {
        let m128: Vec<u8> = (0..28).collect();
        let m256: Vec<u8> = (0..44).collect();
        for (suite, m) in [
            (SdesSuite::AeadAes128Gcm, &m128),
            (SdesSuite::AeadAes256Gcm, &m256),
        ] {
            let padded = B64.encode(m);
            let bare = padded.trim_end_matches('=');
            assert_ne!(padded, bare, "these lengths need padding");
            for text in [padded.as_str(), bare] {
                let c = SdesCrypto::parse(&format!("3 {suite} inline:{text}")).unwrap();
                assert_eq!(c.single_key().unwrap().material(), &m[..]);
                assert_eq!(c.to_string(), format!("3 {suite} inline:{padded}"));
            }
        }
        // A 30-byte AES-CM key offered under a GCM suite.
        let cm = B64.encode([1u8; 30]);
        assert_eq!(
            SdesCrypto::parse(&format!("1 AEAD_AES_256_GCM inline:{cm}")),
            Err(SdesError::KeyLength {
                suite: SdesSuite::AeadAes256Gcm,
                expected: 44,
                got: 30
            })
        );
    }

    #[test]
    fn several_keys_need_mkis() {
        let a = B64.encode([1u8; 30]);
        let b = B64.encode([2u8; 30]);
        let v = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{a}|2^20|1:4;inline:{b}|2^20|2:4");
        let c = SdesCrypto::parse(&v).unwrap();
        assert_eq!(c.keys.len(), 2);
        assert_eq!(
            c.keys[1].mki,
            Some(Mki {
                value: 2,
                length: 4
            })
        );
        assert_eq!(c.single_key(), Err(SdesError::MultipleKeys));
        assert_eq!(c.to_string(), v);
        let v = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{a};inline:{b}");
        assert_eq!(SdesCrypto::parse(&v), Err(SdesError::KeysWithoutMki));
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        let k = B64.encode([7u8; 30]);
        let cases: Vec<(String, SdesError)> = vec![
            ("".into(), SdesError::Missing("tag")),
            ("1".into(), SdesError::Missing("crypto suite")),
            (
                "1 AES_CM_128_HMAC_SHA1_80".into(),
                SdesError::Missing("key parameters"),
            ),
            (
                format!("x1 AES_CM_128_HMAC_SHA1_80 inline:{k}"),
                SdesError::BadTag("x1".into()),
            ),
            (
                format!("1234567890 AES_CM_128_HMAC_SHA1_80 inline:{k}"),
                SdesError::BadTag("1234567890".into()),
            ),
            (
                format!("1 F8_128_HMAC_SHA1_80 inline:{k}"),
                SdesError::UnknownSuite("F8_128_HMAC_SHA1_80".into()),
            ),
            (
                format!("1 aes_cm_128_hmac_sha1_80 inline:{k}"),
                SdesError::UnknownSuite("aes_cm_128_hmac_sha1_80".into()),
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 uri:{k}"),
                SdesError::BadKeyMethod("uri".into()),
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline".into(),
                SdesError::BadKeyMethod("".into()),
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:not*base64!".into(),
                SdesError::BadBase64,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:".into(),
                SdesError::KeyLength {
                    suite: SdesSuite::AesCm128HmacSha1_80,
                    expected: 30,
                    got: 0,
                },
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{}", B64.encode([0u8; 29])),
                SdesError::KeyLength {
                    suite: SdesSuite::AesCm128HmacSha1_80,
                    expected: 30,
                    got: 29,
                },
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{}", "QUFB".repeat(40)),
                SdesError::KeyLength {
                    suite: SdesSuite::AesCm128HmacSha1_80,
                    expected: 30,
                    got: 120,
                },
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k}|2^64"),
                SdesError::BadLifetime("2^64".into()),
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k}|forever"),
                SdesError::BadLifetime("forever".into()),
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k}|1:0"),
                SdesError::BadMki("1:0".into()),
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k}|1:129"),
                SdesError::BadMki("1:129".into()),
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k}|a:4"),
                SdesError::BadMki("a:4".into()),
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k}|1:4|2^20"),
                SdesError::ExtraKeyField("2^20".into()),
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k} KDR=25"),
                SdesError::BadSessionParam("KDR=25".into()),
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k} WSH=10"),
                SdesError::BadSessionParam("WSH=10".into()),
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k} FEC_ORDER=LATER"),
                SdesError::BadSessionParam("FEC_ORDER=LATER".into()),
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k}{}", " X".repeat(17)),
                SdesError::TooManySessionParams,
            ),
        ];
        for (line, want) in cases {
            let got = SdesCrypto::parse(&line);
            assert_eq!(got, Err(want.clone()), "{line}");
            let msg = want.to_string();
            assert!(msg.starts_with("a=crypto: "), "{msg}");
            assert!(!msg.contains(&k), "error text leaks the key: {msg}");
        }
    }

    #[test]
    fn debug_never_shows_key_material() {
        let c = SdesCrypto::generate(5, SdesSuite::AesCm128HmacSha1_80);
        let text = c.to_string();
        let b64 = text
            .split_whitespace()
            .nth(2)
            .unwrap()
            .trim_start_matches("inline:");
        let with_fec = SdesCrypto::parse(&format!("{text} FEC_KEY=inline:{b64}")).unwrap();
        for dbg in [
            format!("{c:?}"),
            format!("{with_fec:#?}"),
            format!("{:?}", c.to_attribute()),
        ] {
            assert!(!dbg.contains(b64), "{dbg}");
            assert!(dbg.contains("redacted"), "{dbg}");
        }
    }

    #[test]
    fn generated_keys_are_fresh_and_parse_back() {
        for suite in SdesSuite::ALL {
            let a = SdesCrypto::generate(1, suite);
            let b = SdesCrypto::generate(1, suite);
            let ka = a.single_key().unwrap();
            assert_eq!(ka.material().len(), suite.material_len());
            assert_ne!(ka.material(), b.single_key().unwrap().material(), "{suite}");
            assert_eq!(SdesCrypto::parse(&a.to_string()).unwrap(), a);
        }
    }

    #[test]
    fn converts_from_and_to_the_untyped_attribute() {
        let v = "7 AES_CM_128_HMAC_SHA1_80 inline:dmlkZW9rZXltYXRlcmlhbGZvcnRoZXN4ODB0ZXN0|2^48 UNENCRYPTED_SRTCP";
        let raw = Crypto::parse(v).unwrap();
        let typed = SdesCrypto::try_from(&raw).unwrap();
        assert_eq!(typed.tag, 7);
        assert_eq!(typed.to_attribute(), raw);
    }
}

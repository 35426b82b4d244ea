//! H.235 password authentication of RAS messages, sans-IO: the wall clock
//! the timestamps are checked against comes in as an argument.
//!
//! Three token kinds deployed room systems and gatekeepers send, all keyed
//! by a password the endpoint and the gatekeeper share:
//!
//! - **cryptoEPPwdHash** (H.235.0 "password with hashing", MD5): the MD5
//!   of the aligned-PER encoding of a ClearToken { tokenOID 0.0, timeStamp,
//!   password, generalID = the sender's alias }. The Cisco-compatible form
//!   OpenH323, Cisco and Polycom devices use writes both BMP strings with a
//!   terminating NUL character; the form of the recommendation's text
//!   writes them without. Both are accepted.
//! - **H.235.1 baseline profile, procedure I**: nestedcryptoToken →
//!   cryptoHashedToken with tokenOID "A" (0.0.8.235.0.x.1), hashedVals a
//!   ClearToken with tokenOID "T" (…x.5), timeStamp, random, generalID
//!   (the recipient) and sendersID, and a HASHED with algorithm "U"
//!   (…x.6, HMAC-SHA1-96): the first 96 bits of HMAC-SHA1 over the whole
//!   encoded RAS message with the 96 hash bits set to zero, keyed with the
//!   SHA-1 of the password. Integrity of the whole message, not only of
//!   the token.
//! - **CAT** (Cisco Access Token, tokenOID 1.2.840.113548.10.1.2.1): a
//!   ClearToken in `tokens` with generalID, timeStamp, a one-octet random
//!   and challenge = MD5(random ‖ password ‖ timeStamp as 4 octets, big
//!   endian).
//!
//! Only the token structures are modelled; the other H.235 types met on
//! the way (Diffie-Hellman sets, certificates, encrypted and signed
//! tokens) are decoded just to get past them.

use std::time::Duration;

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::h225::common::opt;
use crate::h225::{AliasAddress, PerType, RasSecurity};
use crate::per::{Alphabet, Decoder, Encoder, Index, PerError, PerErrorKind, Result, Size};

/// MD5 (RFC 1321), algorithmOID of cryptoEPPwdHash.
pub const OID_MD5: &[u64] = &[1, 2, 840, 113549, 2, 5];
/// Cisco Access Token.
pub const OID_CAT: &[u64] = &[1, 2, 840, 113548, 10, 1, 2, 1];
/// H.235.1 "A": the whole message is authenticated (version 2 shown; the
/// version arc is not compared).
pub const OID_H2351_A: &[u64] = &[0, 0, 8, 235, 0, 2, 1];
/// H.235.1 "T": the ClearToken of the hashed token.
pub const OID_H2351_T: &[u64] = &[0, 0, 8, 235, 0, 2, 5];
/// H.235.1 "U": HMAC-SHA1-96.
pub const OID_H2351_U: &[u64] = &[0, 0, 8, 235, 0, 2, 6];

/// Octets of an HMAC-SHA1-96 value.
pub const H2351_HASH_LEN: usize = 12;

/// Arc 5 of the H.235 OIDs (0.0.8.235.0.<version>.n) names the version of
/// H.235 the sender follows; the procedure is the same in all of them.
fn h235_oid_matches(oid: &[u64], expected: &[u64]) -> bool {
    oid.len() == expected.len()
        && oid
            .iter()
            .zip(expected)
            .enumerate()
            .all(|(i, (a, b))| i == 5 || a == b)
}

// ---------------------------------------------------------------- codec

fn time_stamp(d: &mut Decoder<'_>) -> Result<u32> {
    Ok(d.constrained(1, 4294967295)? as u32)
}

fn put_time_stamp(e: &mut Encoder, v: u32) -> Result<()> {
    e.constrained(v as i64, 1, 4294967295)
}

/// Identifier and Password: BMPString (SIZE (1..128)).
fn bmp128(d: &mut Decoder<'_>) -> Result<String> {
    d.char_string(Alphabet::Bmp, Size::range(1, 128))
}

fn put_bmp128(e: &mut Encoder, s: &str) -> Result<()> {
    e.char_string(s, Alphabet::Bmp, Size::range(1, 128))
}

/// DHset: three BIT STRINGs (SIZE (0..2048)), extensible.
fn skip_dh_set(d: &mut Decoder<'_>) -> Result<()> {
    let pre = d.preamble(true, 0)?;
    for _ in 0..3 {
        d.bit_string(Size::range(0, 2048))?;
    }
    let ext = d.ext_bitmap(pre.extended)?;
    d.skip_extensions(&ext)
}

/// TypedCertificate: type OID, certificate OCTET STRING, extensible.
fn skip_typed_certificate(d: &mut Decoder<'_>) -> Result<()> {
    let pre = d.preamble(true, 0)?;
    d.object_identifier()?;
    d.octet_string(Size::unbounded())?;
    let ext = d.ext_bitmap(pre.extended)?;
    d.skip_extensions(&ext)
}

/// H.235's own NonStandardParameter (not extensible, nothing optional).
fn skip_h235_non_standard(d: &mut Decoder<'_>) -> Result<()> {
    d.object_identifier()?;
    d.octet_string(Size::unbounded())?;
    Ok(())
}

/// Params: ranInt and iv8 in the root, iv16/iv/clearSalt as additions.
fn skip_params(d: &mut Decoder<'_>) -> Result<()> {
    let pre = d.preamble(true, 2)?;
    opt(d, pre.has(0), "ranInt", |d| d.unconstrained_int())?;
    opt(d, pre.has(1), "iv8", |d| d.octet_string(Size::fixed(8)))?;
    let ext = d.ext_bitmap(pre.extended)?;
    d.skip_extensions(&ext)
}

/// Empty Params, as the hashed tokens carry them.
fn put_empty_params(e: &mut Encoder) {
    e.preamble(true, false, &[false, false]);
}

/// ENCRYPTED { algorithmOID, paramS, encryptedData }.
fn skip_encrypted(d: &mut Decoder<'_>) -> Result<()> {
    d.field("algorithmOID", |d| d.object_identifier())?;
    d.field("paramS", skip_params)?;
    d.field("encryptedData", |d| d.octet_string(Size::unbounded()))?;
    Ok(())
}

/// SIGNED { toBeSigned (open type), algorithmOID, paramS, signature }.
fn skip_signed(d: &mut Decoder<'_>) -> Result<()> {
    d.field("toBeSigned", |d| d.skip_open_type())?;
    d.field("algorithmOID", |d| d.object_identifier())?;
    d.field("paramS", skip_params)?;
    d.field("signature", |d| d.bit_string(Size::unbounded()))?;
    Ok(())
}

/// ClearToken (H.235.0), the fields the password procedures use. A
/// decoded Diffie-Hellman set, certificate or non-standard parameter is
/// passed over and not encoded again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClearToken {
    pub token_oid: Vec<u64>,
    /// Seconds since 1970-01-01 UTC.
    pub time_stamp: Option<u32>,
    pub password: Option<String>,
    pub challenge: Option<Vec<u8>>,
    pub random: Option<i64>,
    pub general_id: Option<String>,
    pub senders_id: Option<String>,
}

impl PerType for ClearToken {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 8)?;
        let mut t = ClearToken {
            token_oid: d.field("tokenOID", |d| d.object_identifier())?,
            time_stamp: opt(d, pre.has(0), "timeStamp", time_stamp)?,
            password: opt(d, pre.has(1), "password", bmp128)?,
            ..Default::default()
        };
        opt(d, pre.has(2), "dhkey", skip_dh_set)?;
        t.challenge = opt(d, pre.has(3), "challenge", |d| {
            d.octet_string(Size::range(8, 128))
        })?;
        t.random = opt(d, pre.has(4), "random", |d| d.unconstrained_int())?;
        opt(d, pre.has(5), "certificate", skip_typed_certificate)?;
        t.general_id = opt(d, pre.has(6), "generalID", bmp128)?;
        opt(d, pre.has(7), "nonStandard", skip_h235_non_standard)?;
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                1 => t.senders_id = Some(d.field("sendersID", |d| d.open_type(bmp128))?),
                _ => {
                    d.skip_open_type()?;
                }
            }
        }
        Ok(t)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let mut adds = vec![None; 5];
        if let Some(s) = &self.senders_id {
            adds[1] = Some(e.field("sendersID", |e| e.sub(|e| put_bmp128(e, s)))?);
        }
        e.preamble(
            true,
            adds.iter().any(Option::is_some),
            &[
                self.time_stamp.is_some(),
                self.password.is_some(),
                false,
                self.challenge.is_some(),
                self.random.is_some(),
                false,
                self.general_id.is_some(),
                false,
            ],
        );
        e.field("tokenOID", |e| e.object_identifier(&self.token_oid))?;
        if let Some(t) = self.time_stamp {
            e.field("timeStamp", |e| put_time_stamp(e, t))?;
        }
        if let Some(p) = &self.password {
            e.field("password", |e| put_bmp128(e, p))?;
        }
        if let Some(c) = &self.challenge {
            e.field("challenge", |e| e.octet_string(c, Size::range(8, 128)))?;
        }
        if let Some(r) = self.random {
            e.field("random", |e| e.unconstrained_int(r))?;
        }
        if let Some(g) = &self.general_id {
            e.field("generalID", |e| put_bmp128(e, g))?;
        }
        e.extensions(&adds)
    }
}

/// HASHED { algorithmOID, paramS, hash BIT STRING }.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    pub algorithm_oid: Vec<u64>,
    /// The hash bits, packed most significant first.
    pub hash: Vec<u8>,
    pub bits: usize,
}

impl PerType for Hashed {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let algorithm_oid = d.field("algorithmOID", |d| d.object_identifier())?;
        d.field("paramS", skip_params)?;
        let (hash, bits) = d.field("hash", |d| d.bit_string(Size::unbounded()))?;
        Ok(Hashed {
            algorithm_oid,
            hash,
            bits,
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.field("algorithmOID", |e| e.object_identifier(&self.algorithm_oid))?;
        put_empty_params(e);
        e.field("hash", |e| {
            e.bit_string(&self.hash, self.bits, Size::unbounded())
        })
    }
}

/// CryptoToken (H.235.0): the hashed alternative is modelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoToken {
    Hashed {
        token_oid: Vec<u64>,
        /// Boxed: the other alternatives are small.
        hashed_vals: Box<ClearToken>,
        token: Hashed,
    },
    /// cryptoEncryptedToken, cryptoSignedToken, cryptoPwdEncr or a later
    /// alternative, by name.
    Unsupported(&'static str),
}

impl PerType for CryptoToken {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(match d.choice_index(4, true)? {
            Index::Root(0) => {
                d.field("cryptoEncryptedToken", |d| {
                    d.object_identifier()?;
                    skip_encrypted(d)
                })?;
                CryptoToken::Unsupported("cryptoEncryptedToken")
            }
            Index::Root(1) => {
                d.field("cryptoSignedToken", |d| {
                    d.object_identifier()?;
                    skip_signed(d)
                })?;
                CryptoToken::Unsupported("cryptoSignedToken")
            }
            Index::Root(2) => d.field("cryptoHashedToken", |d| {
                Ok(CryptoToken::Hashed {
                    token_oid: d.field("tokenOID", |d| d.object_identifier())?,
                    hashed_vals: Box::new(d.field("hashedVals", ClearToken::decode)?),
                    token: d.field("token", Hashed::decode)?,
                })
            })?,
            Index::Root(_) => {
                d.field("cryptoPwdEncr", skip_encrypted)?;
                CryptoToken::Unsupported("cryptoPwdEncr")
            }
            Index::Ext(_) => {
                d.skip_open_type()?;
                CryptoToken::Unsupported("CryptoToken extension")
            }
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        match self {
            CryptoToken::Hashed {
                token_oid,
                hashed_vals,
                token,
            } => {
                e.choice_index(Index::Root(2), 4, true)?;
                e.field("cryptoHashedToken", |e| {
                    e.object_identifier(token_oid)?;
                    hashed_vals.encode(e)?;
                    token.encode(e)
                })
            }
            CryptoToken::Unsupported(_) => Err(e.err(PerErrorKind::Invalid(
                "only hashed crypto tokens can be encoded",
            ))),
        }
    }
}

/// CryptoH323Token (H.225.0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoH323Token {
    EpPwdHash {
        alias: AliasAddress,
        time_stamp: u32,
        token: Hashed,
    },
    GkPwdHash {
        gatekeeper_id: String,
        time_stamp: u32,
        token: Hashed,
    },
    Nested(CryptoToken),
    /// Encrypted, signed or certificate tokens, or a later alternative.
    Unsupported(&'static str),
}

impl PerType for CryptoH323Token {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        const SIGNED: [&str; 3] = ["cryptoEPCert", "cryptoGKCert", "cryptoFastStart"];
        Ok(match d.choice_index(8, true)? {
            Index::Root(0) => d.field("cryptoEPPwdHash", |d| {
                Ok(CryptoH323Token::EpPwdHash {
                    alias: d.field("alias", AliasAddress::decode)?,
                    time_stamp: d.field("timeStamp", time_stamp)?,
                    token: d.field("token", Hashed::decode)?,
                })
            })?,
            Index::Root(1) => d.field("cryptoGKPwdHash", |d| {
                Ok(CryptoH323Token::GkPwdHash {
                    gatekeeper_id: d.field("gatekeeperId", bmp128)?,
                    time_stamp: d.field("timeStamp", time_stamp)?,
                    token: d.field("token", Hashed::decode)?,
                })
            })?,
            Index::Root(i @ (2 | 3)) => {
                d.field("cryptoPwdEncr", skip_encrypted)?;
                CryptoH323Token::Unsupported(if i == 2 {
                    "cryptoEPPwdEncr"
                } else {
                    "cryptoGKPwdEncr"
                })
            }
            Index::Root(i @ 4..=6) => {
                let name = SIGNED[i as usize - 4];
                d.field(name, skip_signed)?;
                CryptoH323Token::Unsupported(name)
            }
            Index::Root(_) => {
                CryptoH323Token::Nested(d.field("nestedcryptoToken", CryptoToken::decode)?)
            }
            Index::Ext(_) => {
                d.skip_open_type()?;
                CryptoH323Token::Unsupported("CryptoH323Token extension")
            }
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        match self {
            CryptoH323Token::EpPwdHash {
                alias,
                time_stamp,
                token,
            } => {
                e.choice_index(Index::Root(0), 8, true)?;
                e.field("cryptoEPPwdHash", |e| {
                    alias.encode(e)?;
                    put_time_stamp(e, *time_stamp)?;
                    token.encode(e)
                })
            }
            CryptoH323Token::GkPwdHash {
                gatekeeper_id,
                time_stamp,
                token,
            } => {
                e.choice_index(Index::Root(1), 8, true)?;
                e.field("cryptoGKPwdHash", |e| {
                    put_bmp128(e, gatekeeper_id)?;
                    put_time_stamp(e, *time_stamp)?;
                    token.encode(e)
                })
            }
            CryptoH323Token::Nested(t) => {
                e.choice_index(Index::Root(7), 8, true)?;
                e.field("nestedcryptoToken", |e| t.encode(e))
            }
            CryptoH323Token::Unsupported(_) => Err(e.err(PerErrorKind::Invalid(
                "only password-hash crypto tokens can be encoded",
            ))),
        }
    }
}

/// AuthenticationMechanism (GRQ capability, GCF mode): whether it is
/// pwdHash is all the password procedures need to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMechanism {
    PwdHash,
    /// authenticationBES (CAT announces itself with `radius`).
    AuthenticationBes,
    Other,
}

impl PerType for AuthMechanism {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(match d.choice_index(7, true)? {
            Index::Root(2) => AuthMechanism::PwdHash,
            Index::Root(6) => {
                d.field("nonStandard", skip_h235_non_standard)?;
                AuthMechanism::Other
            }
            Index::Root(_) => AuthMechanism::Other,
            Index::Ext(0) => {
                d.skip_open_type()?;
                AuthMechanism::AuthenticationBes
            }
            Index::Ext(_) => {
                d.skip_open_type()?;
                AuthMechanism::Other
            }
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        match self {
            AuthMechanism::PwdHash => e.choice_index(Index::Root(2), 7, true),
            _ => Err(e.err(PerErrorKind::Invalid(
                "only pwdHash is encoded as an authentication mode",
            ))),
        }
    }
}

fn decode_list<T>(
    bytes: &[u8],
    root: &'static str,
    f: impl FnMut(&mut Decoder<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut d = Decoder::with_root(bytes, root);
    d.sequence_of(Size::unbounded(), f)
}

/// `cryptoTokens` of a RAS message (see [`RasSecurity`]).
pub fn decode_crypto_tokens(bytes: &[u8]) -> Result<Vec<CryptoH323Token>> {
    decode_list(bytes, "cryptoTokens", CryptoH323Token::decode)
}

/// `tokens` of a RAS message.
pub fn decode_clear_tokens(bytes: &[u8]) -> Result<Vec<ClearToken>> {
    decode_list(bytes, "tokens", ClearToken::decode)
}

/// GRQ `authenticationCapability`.
pub fn decode_auth_capability(bytes: &[u8]) -> Result<Vec<AuthMechanism>> {
    decode_list(bytes, "authenticationCapability", AuthMechanism::decode)
}

/// GRQ `algorithmOIDs`.
pub fn decode_algorithm_oids(bytes: &[u8]) -> Result<Vec<Vec<u64>>> {
    decode_list(bytes, "algorithmOIDs", |d| d.object_identifier())
}

fn encode_list<T: PerType>(root: &'static str, items: &[T]) -> Result<Vec<u8>> {
    crate::per::encode_with(root, |e| {
        e.sequence_of(items, Size::unbounded(), |e, t| t.encode(e))
    })
}

pub fn encode_crypto_tokens(tokens: &[CryptoH323Token]) -> Result<Vec<u8>> {
    encode_list("cryptoTokens", tokens)
}

pub fn encode_clear_tokens(tokens: &[ClearToken]) -> Result<Vec<u8>> {
    encode_list("tokens", tokens)
}

/// GCF authenticationMode pwdHash with `algorithm` (MD5 or HMAC-SHA1-96):
/// the two fields' encodings for [`RasSecurity`].
pub fn encode_pwd_hash_mode(algorithm: &[u64]) -> Result<(Vec<u8>, Vec<u8>)> {
    let mode = crate::per::encode_with("authenticationMode", |e| AuthMechanism::PwdHash.encode(e))?;
    let oid = crate::per::encode_with("algorithmOID", |e| e.object_identifier(algorithm))?;
    Ok((mode, oid))
}

/// The algorithm a GRQ offers for password hashing that we prefer:
/// HMAC-SHA1-96 (it covers the whole message), else MD5. None when the
/// GRQ offers no pwdHash we know (then the GCF names no mode, and the
/// endpoint sends whichever tokens it has).
pub fn choose_pwd_hash_algorithm(sec: &RasSecurity) -> Option<&'static [u64]> {
    let mechanisms = decode_auth_capability(sec.authentication_capability.as_deref()?).ok()?;
    if !mechanisms.contains(&AuthMechanism::PwdHash) {
        return None;
    }
    let oids = decode_algorithm_oids(sec.algorithm_oids.as_deref()?).ok()?;
    if oids.iter().any(|o| h235_oid_matches(o, OID_H2351_U)) {
        Some(OID_H2351_U)
    } else if oids.iter().any(|o| o == OID_MD5) {
        Some(OID_MD5)
    } else {
        None
    }
}

// --------------------------------------------------------------- hashes

/// The text of an alias as the password procedures hash it.
pub fn alias_text(a: &AliasAddress) -> Option<&str> {
    match a {
        AliasAddress::DialedDigits(s)
        | AliasAddress::H323Id(s)
        | AliasAddress::UrlId(s)
        | AliasAddress::EmailId(s) => Some(s),
        _ => None,
    }
}

fn with_nul(s: &str, nul: bool) -> String {
    if nul && !s.ends_with('\0') {
        format!("{s}\0")
    } else {
        s.to_string()
    }
}

/// The MD5 of a cryptoEPPwdHash: over the PER encoding of the ClearToken
/// {0.0, timeStamp, password, generalID = alias}. `nul`: the
/// Cisco-compatible form (both strings end in a NUL character). None when
/// the strings cannot be a ClearToken's (empty, over 128 characters).
pub fn md5_password_digest(alias: &str, password: &str, ts: u32, nul: bool) -> Option<[u8; 16]> {
    let clear = ClearToken {
        token_oid: vec![0, 0],
        time_stamp: Some(ts),
        password: Some(with_nul(password, nul)),
        general_id: Some(with_nul(alias, nul)),
        ..Default::default()
    };
    let bytes = crate::per::encode_with("ClearToken", |e| clear.encode(e)).ok()?;
    Some(Md5::digest(&bytes).into())
}

/// The CAT challenge: MD5(random ‖ password ‖ timeStamp, 4 octets big endian).
pub fn cat_challenge(random: u8, password: &str, ts: u32) -> [u8; 16] {
    let mut h = Md5::new();
    h.update([random]);
    h.update(password.as_bytes());
    h.update(ts.to_be_bytes());
    h.finalize().into()
}

/// HMAC-SHA1 (RFC 2104) truncated to its first 96 bits.
fn hmac_sha1_96_keyed(key: &[u8], message: &[u8]) -> [u8; H2351_HASH_LEN] {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; H2351_HASH_LEN];
    out.copy_from_slice(&full[..H2351_HASH_LEN]);
    out
}

/// HMAC-SHA1-96 of H.235.1: keyed with SHA-1(password), over `message`.
pub fn hmac_sha1_96(password: &str, message: &[u8]) -> [u8; H2351_HASH_LEN] {
    let key: [u8; 20] = Sha1::digest(password.as_bytes()).into();
    hmac_sha1_96_keyed(&key, message)
}

/// Whether `hash` is the HMAC-SHA1-96 of `message` with the hash's own
/// octets zeroed. The hash sits octet-aligned in the encoding (a BIT
/// STRING of 96 bits), so each place its octets occur is tried: 96
/// random bits appear elsewhere by chance practically never, and a
/// wrong place can only fail.
fn h2351_matches(password: &str, message: &[u8], hash: &[u8]) -> bool {
    if hash.len() != H2351_HASH_LEN || message.len() < H2351_HASH_LEN {
        return false;
    }
    let mut work = message.to_vec();
    for at in 0..=message.len() - H2351_HASH_LEN {
        if message[at..at + H2351_HASH_LEN] != *hash {
            continue;
        }
        work[at..at + H2351_HASH_LEN].fill(0);
        let ok: bool = hmac_sha1_96(password, &work).ct_eq(hash).into();
        work[at..at + H2351_HASH_LEN].copy_from_slice(hash);
        if ok {
            return true;
        }
    }
    false
}

// ------------------------------------------------------------- building

/// A cryptoEPPwdHash as the Cisco-compatible endpoints send it.
pub fn md5_password_token(
    alias: &AliasAddress,
    password: &str,
    ts: u32,
) -> Option<CryptoH323Token> {
    let digest = md5_password_digest(alias_text(alias)?, password, ts, true)?;
    Some(CryptoH323Token::EpPwdHash {
        alias: alias.clone(),
        time_stamp: ts,
        token: Hashed {
            algorithm_oid: OID_MD5.to_vec(),
            hash: digest.to_vec(),
            bits: 128,
        },
    })
}

/// What an H.235.1 token's hash holds until [`h2351_sign`] replaces it.
const H2351_PLACEHOLDER: [u8; H2351_HASH_LEN] = *b"H.235.1 hash";

/// An H.235.1 procedure I token with a placeholder hash: encode the
/// message carrying it, then [`h2351_sign`] the encoding.
pub fn h2351_token(
    general_id: Option<&str>,
    senders_id: Option<&str>,
    ts: u32,
    random: i64,
) -> CryptoH323Token {
    CryptoH323Token::Nested(CryptoToken::Hashed {
        token_oid: OID_H2351_A.to_vec(),
        hashed_vals: Box::new(ClearToken {
            token_oid: OID_H2351_T.to_vec(),
            time_stamp: Some(ts),
            random: Some(random),
            general_id: general_id.map(Into::into),
            senders_id: senders_id.map(Into::into),
            ..Default::default()
        }),
        token: Hashed {
            algorithm_oid: OID_H2351_U.to_vec(),
            hash: H2351_PLACEHOLDER.to_vec(),
            bits: H2351_HASH_LEN * 8,
        },
    })
}

/// Replaces the placeholder of an encoded message carrying
/// [`h2351_token`] with the HMAC-SHA1-96 of the message. False when the
/// placeholder is not there (exactly once).
pub fn h2351_sign(encoded: &mut [u8], password: &str) -> bool {
    let places: Vec<usize> = encoded
        .windows(H2351_HASH_LEN)
        .enumerate()
        .filter(|(_, w)| *w == H2351_PLACEHOLDER)
        .map(|(i, _)| i)
        .collect();
    let [at] = places[..] else {
        return false;
    };
    encoded[at..at + H2351_HASH_LEN].fill(0);
    let mac = hmac_sha1_96(password, encoded);
    encoded[at..at + H2351_HASH_LEN].copy_from_slice(&mac);
    true
}

/// A CAT ClearToken (for `tokens`).
pub fn cat_token(alias: &str, password: &str, ts: u32, random: u8) -> ClearToken {
    ClearToken {
        token_oid: OID_CAT.to_vec(),
        time_stamp: Some(ts),
        random: Some(random as i64),
        general_id: Some(with_nul(alias, true)),
        challenge: Some(cat_challenge(random, password, ts).to_vec()),
        ..Default::default()
    }
}

// --------------------------------------------------------- verification

/// The token procedure that authenticated a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// cryptoEPPwdHash (MD5).
    Md5Password,
    /// H.235.1 procedure I (HMAC-SHA1-96 over the message).
    H2351,
    /// Cisco Access Token.
    Cat,
}

/// Why a message was not authenticated. Never carries the password or a
/// hash: these are logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no H.235 password token (cryptoEPPwdHash, H.235.1 or CAT)")]
    Missing,
    #[error("H.235 tokens do not decode: {0}")]
    Malformed(PerError),
    #[error("{0}")]
    Incomplete(&'static str),
    #[error("{method:?} token names {name:?}, not this endpoint or gatekeeper")]
    Identity { method: AuthMethod, name: String },
    #[error("{method:?} hash does not match the endpoint's password")]
    BadHash { method: AuthMethod },
    #[error("{method:?} timestamp is {skew_s} s off our clock (allowed: {window_s} s)")]
    Timestamp {
        method: AuthMethod,
        skew_s: i64,
        window_s: u64,
    },
    #[error("{method:?} token seen before (replay)")]
    Replay { method: AuthMethod },
}

impl AuthError {
    /// Which error to report when several tokens fail: the one that says
    /// most about the endpoint's credentials.
    fn weight(&self) -> u8 {
        match self {
            AuthError::Missing => 0,
            AuthError::Malformed(_) => 1,
            AuthError::Incomplete(_) => 2,
            AuthError::Identity { .. } => 3,
            AuthError::Replay { .. } => 4,
            AuthError::Timestamp { .. } => 5,
            AuthError::BadHash { .. } => 6,
        }
    }
}

/// What the message must prove.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    pub password: &'a str,
    /// The aliases the endpoint registers with or registered (the names an
    /// MD5 or CAT token may carry).
    pub aliases: &'a [AliasAddress],
    /// The endpointIdentifier we assigned, once registered (an H.235.1
    /// sendersID must be it).
    pub endpoint_identifier: Option<&'a str>,
    /// Ours (an H.235.1 generalID must be it).
    pub gatekeeper_identifier: &'a str,
    /// Now, in seconds since 1970-01-01 UTC.
    pub unix_now: u64,
    /// Largest accepted difference between a token's timestamp and now.
    pub window: Duration,
}

/// A message that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub method: AuthMethod,
    pub time_stamp: u32,
    /// (timeStamp, random) for the procedures that carry a random, so the
    /// caller can refuse the same pair twice.
    pub replay_key: Option<(u32, i64)>,
}

fn trim_nul(s: &str) -> &str {
    s.strip_suffix('\0').unwrap_or(s)
}

fn names_alias(expect: &Expect<'_>, name: &str) -> bool {
    let name = trim_nul(name);
    expect.aliases.iter().any(|a| alias_text(a) == Some(name))
}

fn check_time(
    expect: &Expect<'_>,
    method: AuthMethod,
    ts: u32,
) -> std::result::Result<(), AuthError> {
    let skew = expect.unix_now as i64 - ts as i64;
    if skew.unsigned_abs() > expect.window.as_secs() {
        return Err(AuthError::Timestamp {
            method,
            skew_s: skew,
            window_s: expect.window.as_secs(),
        });
    }
    Ok(())
}

fn check_md5(
    expect: &Expect<'_>,
    alias: &AliasAddress,
    ts: u32,
    token: &Hashed,
) -> std::result::Result<Verified, AuthError> {
    let method = AuthMethod::Md5Password;
    if token.algorithm_oid != OID_MD5 {
        return Err(AuthError::Incomplete(
            "cryptoEPPwdHash with an algorithm other than MD5",
        ));
    }
    if token.bits != 128 {
        return Err(AuthError::Incomplete(
            "cryptoEPPwdHash hash is not 128 bits",
        ));
    }
    let Some(name) = alias_text(alias).filter(|n| names_alias(expect, n)) else {
        return Err(AuthError::Identity {
            method,
            name: format!("{alias:?}"),
        });
    };
    let matches = [true, false].iter().any(|nul| {
        md5_password_digest(name, expect.password, ts, *nul)
            .is_some_and(|d| bool::from(d.ct_eq(&token.hash[..])))
    });
    if !matches {
        return Err(AuthError::BadHash { method });
    }
    check_time(expect, method, ts)?;
    Ok(Verified {
        method,
        time_stamp: ts,
        replay_key: None,
    })
}

fn check_h2351(
    expect: &Expect<'_>,
    token_oid: &[u64],
    clear: &ClearToken,
    token: &Hashed,
    message: &[u8],
) -> std::result::Result<Verified, AuthError> {
    let method = AuthMethod::H2351;
    if !h235_oid_matches(token_oid, OID_H2351_A)
        || !h235_oid_matches(&clear.token_oid, OID_H2351_T)
        || !h235_oid_matches(&token.algorithm_oid, OID_H2351_U)
    {
        return Err(AuthError::Incomplete(
            "hashed crypto token is not H.235.1 procedure I (OIDs A, T, U)",
        ));
    }
    if token.bits != H2351_HASH_LEN * 8 {
        return Err(AuthError::Incomplete("H.235.1 hash is not 96 bits"));
    }
    let Some(ts) = clear.time_stamp else {
        return Err(AuthError::Incomplete("H.235.1 token without timeStamp"));
    };
    if let Some(g) = &clear.general_id {
        if trim_nul(g) != expect.gatekeeper_identifier {
            return Err(AuthError::Identity {
                method,
                name: g.clone(),
            });
        }
    }
    if let (Some(s), Some(ep)) = (&clear.senders_id, expect.endpoint_identifier) {
        if trim_nul(s) != ep {
            return Err(AuthError::Identity {
                method,
                name: s.clone(),
            });
        }
    }
    if !h2351_matches(expect.password, message, &token.hash) {
        return Err(AuthError::BadHash { method });
    }
    check_time(expect, method, ts)?;
    Ok(Verified {
        method,
        time_stamp: ts,
        replay_key: clear.random.map(|r| (ts, r)),
    })
}

fn check_cat(expect: &Expect<'_>, t: &ClearToken) -> std::result::Result<Verified, AuthError> {
    let method = AuthMethod::Cat;
    let (Some(ts), Some(random), Some(challenge), Some(name)) =
        (t.time_stamp, t.random, &t.challenge, &t.general_id)
    else {
        return Err(AuthError::Incomplete(
            "CAT needs generalID, timeStamp, random and challenge",
        ));
    };
    if !names_alias(expect, name) {
        return Err(AuthError::Identity {
            method,
            name: name.clone(),
        });
    }
    // One octet, signed or not depending on the sender.
    if !(-128..=255).contains(&random) || challenge.len() != 16 {
        return Err(AuthError::Incomplete(
            "CAT random is not one octet or challenge not 16 octets",
        ));
    }
    let expected = cat_challenge(random as u8, expect.password, ts);
    if !bool::from(expected.ct_eq(&challenge[..])) {
        return Err(AuthError::BadHash { method });
    }
    check_time(expect, method, ts)?;
    Ok(Verified {
        method,
        time_stamp: ts,
        replay_key: Some((ts, random)),
    })
}

/// Checks a RAS message's tokens against the endpoint's password: the
/// message passes when any token it carries does. `message` is the whole
/// datagram as received (H.235.1 hashes all of it).
pub fn verify(
    expect: &Expect<'_>,
    sec: &RasSecurity,
    message: &[u8],
) -> std::result::Result<Verified, AuthError> {
    let mut worst = AuthError::Missing;
    let mut note = |e: AuthError| {
        if e.weight() > worst.weight() {
            worst = e;
        }
    };
    if let Some(bytes) = &sec.crypto_tokens {
        match decode_crypto_tokens(bytes) {
            Err(e) => note(AuthError::Malformed(e)),
            Ok(tokens) => {
                for t in &tokens {
                    let r = match t {
                        CryptoH323Token::EpPwdHash {
                            alias,
                            time_stamp,
                            token,
                        } => check_md5(expect, alias, *time_stamp, token),
                        CryptoH323Token::Nested(CryptoToken::Hashed {
                            token_oid,
                            hashed_vals,
                            token,
                        }) => check_h2351(expect, token_oid, hashed_vals, token, message),
                        _ => continue,
                    };
                    match r {
                        Ok(v) => return Ok(v),
                        Err(e) => note(e),
                    }
                }
            }
        }
    }
    if let Some(bytes) = &sec.tokens {
        match decode_clear_tokens(bytes) {
            Err(e) => note(AuthError::Malformed(e)),
            Ok(tokens) => {
                for t in tokens.iter().filter(|t| t.token_oid == OID_CAT) {
                    match check_cat(expect, t) {
                        Ok(v) => return Ok(v),
                        Err(e) => note(e),
                    }
                }
            }
        }
    }
    Err(worst)
}

#[cfg(test)]
mod tests;

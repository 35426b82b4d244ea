//! HTTP Digest authentication as SIP uses it (RFC 3261 §22, RFC 7616,
//! RFC 8760): MD5 and SHA-256 with their `-sess` variants, `qop=auth`.
//!
//! Server side, [`DigestChallenger`] issues stateless nonces: each carries
//! its issue time and a keyed MAC, so any node holding the key can check
//! authenticity and age without shared state. Replay protection needs state
//! (the last nonce-count seen per nonce); that lives in [`NonceCounts`], a
//! bounded cache the caller owns and passes in.
//!
//! Client side, [`parse_challenge`] reads a `WWW-Authenticate` or
//! `Proxy-Authenticate` value and [`Challenge::respond`] builds the matching
//! `Authorization` / `Proxy-Authorization` value.
//!
//! Nothing here reads a clock: time comes in as an argument.
//!
//! ```
//! use gateway_sip::auth::{parse_challenge, Algorithm, DigestChallenger, NonceCounts, UserSecret};
//!
//! let server = DigestChallenger::new("gw.example.vn", [42; 32], 300);
//! let mut counts = NonceCounts::default();
//! let now = 1_780_000_000;
//!
//! // 401 with this WWW-Authenticate value...
//! let challenge = server.challenge_at(now, Algorithm::Sha256, false);
//! // ...the client answers...
//! let authorization = parse_challenge(&challenge)
//!     .unwrap()
//!     .respond("1001", "pw", "REGISTER", "sip:gw.example.vn", "b7e1a2", 1);
//! // ...and the server checks it.
//! let ok = server
//!     .verify_at(now + 1, "REGISTER", Some("sip:gw.example.vn"), &authorization, &mut counts,
//!         |user, _realm, _alg| (user == "1001").then(|| UserSecret::Password("pw".into())))
//!     .unwrap();
//! assert_eq!(ok.username, "1001");
//! ```

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use md5::Md5;
use sha2::{Digest, Sha256};

/// Longest header value accepted; real ones are a few hundred bytes.
const MAX_HEADER_LEN: usize = 8192;
/// Most auth-params accepted in one header value.
const MAX_PARAMS: usize = 32;
/// Accepted clock skew between gateway nodes sharing one key.
const MAX_FUTURE_SKEW_SECS: u64 = 60;
/// Default capacity of [`NonceCounts`].
pub const DEFAULT_NONCE_CACHE: usize = 100_000;

/// Why authentication failed. The SIP layer maps these to responses:
/// `Missing`, `StaleNonce` and `InvalidNonce` to a fresh 401/407 challenge
/// (`stale=true` for `StaleNonce`); `Malformed` and `Unsupported` to 400
/// (or a challenge); the rest to 403 or a fresh challenge. Answer
/// `UnknownUser` and `WrongPassword` identically on the wire so that a
/// prober cannot enumerate accounts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no digest credentials")]
    Missing,
    #[error("malformed digest {0}")]
    Malformed(&'static str),
    #[error("unsupported digest {0}")]
    Unsupported(&'static str),
    #[error("unknown user")]
    UnknownUser,
    #[error("wrong password")]
    WrongPassword,
    #[error("stale nonce")]
    StaleNonce,
    #[error("nonce not issued by this server")]
    InvalidNonce,
    #[error("nonce-count replayed")]
    NonceReplay,
    #[error("realm mismatch")]
    RealmMismatch,
    #[error("digest uri does not match the Request-URI")]
    UriMismatch,
}

impl AuthError {
    /// Whether the right answer is a new challenge with `stale=true`: the
    /// client knew the password, only the nonce was too old.
    pub fn is_stale(&self) -> bool {
        matches!(self, AuthError::StaleNonce)
    }
}

/// Digest hash algorithm (RFC 7616 §3.3, RFC 8760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl Algorithm {
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Case-insensitive, as RFC 7616 requires.
    pub fn parse(s: &str) -> Option<Algorithm> {
        [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
        ]
        .into_iter()
        .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    const fn id(self) -> u8 {
        match self {
            Algorithm::Md5 => 1,
            Algorithm::Md5Sess => 2,
            Algorithm::Sha256 => 3,
            Algorithm::Sha256Sess => 4,
        }
    }

    const fn from_id(id: u8) -> Option<Algorithm> {
        match id {
            1 => Some(Algorithm::Md5),
            2 => Some(Algorithm::Md5Sess),
            3 => Some(Algorithm::Sha256),
            4 => Some(Algorithm::Sha256Sess),
            _ => None,
        }
    }

    pub const fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// The non-session algorithm that computes the stored HA1.
    pub const fn base(self) -> Algorithm {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Algorithm::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => Algorithm::Sha256,
        }
    }

    /// Lower-case hex hash of the parts joined by `:`.
    fn h(self, parts: &[&str]) -> String {
        fn run<D: Digest>(parts: &[&str]) -> String {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p.as_bytes());
            }
            hex::encode(d.finalize())
        }
        match self.base() {
            Algorithm::Md5 => run::<Md5>(parts),
            _ => run::<Sha256>(parts),
        }
    }

    /// `H(username:realm:password)`, the value an account store may keep
    /// instead of the password.
    pub fn ha1(self, username: &str, realm: &str, password: &str) -> String {
        self.base().h(&[username, realm, password])
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the account lookup returns: the password, or the precomputed
/// `H(username:realm:password)` (hex) for the requested algorithm.
#[derive(Clone, PartialEq, Eq)]
pub enum UserSecret {
    Password(String),
    Ha1(String),
}

impl fmt::Debug for UserSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserSecret::Password(_) => f.write_str("Password(<redacted>)"),
            UserSecret::Ha1(_) => f.write_str("Ha1(<redacted>)"),
        }
    }
}

/// A successful authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthOk {
    pub username: String,
    pub algorithm: Algorithm,
}

/// Seconds since the Unix epoch; times before it count as 0.
fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Equality that takes the same time wherever the first difference is, so
/// that response checking does not leak how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut ipad = [0x36u8; BLOCK];
    let mut opad = [0x5cu8; BLOCK];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// Bytes of the nonce: issue time, sequence number, algorithm, truncated MAC.
const NONCE_TIME: usize = 8;
const NONCE_SEQ: usize = 8;
const NONCE_ALG: usize = 1;
const NONCE_BODY: usize = NONCE_TIME + NONCE_SEQ + NONCE_ALG;
const NONCE_MAC: usize = 16;
const NONCE_LEN: usize = NONCE_BODY + NONCE_MAC;

/// A nonce that passed its MAC check.
struct ValidNonce {
    issued: u64,
    /// The algorithm the challenge named; binding it stops a man in the
    /// middle from downgrading a SHA-256 challenge to MD5.
    algorithm: Algorithm,
    /// Identifies the nonce in [`NonceCounts`].
    id: [u8; 16],
}

/// Server side of digest authentication for one realm.
pub struct DigestChallenger {
    realm: String,
    key: [u8; 32],
    nonce_lifetime_secs: u64,
    /// Makes nonces issued in the same second distinct; starts at a random
    /// value so that nodes sharing a key do not collide.
    sequence: AtomicU64,
}

impl fmt::Debug for DigestChallenger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestChallenger")
            .field("realm", &self.realm)
            .field("key", &"<redacted>")
            .field("nonce_lifetime_secs", &self.nonce_lifetime_secs)
            .finish()
    }
}

impl DigestChallenger {
    /// `secret_key` must be random and shared only by the nodes that should
    /// accept each other's nonces.
    pub fn new(realm: impl Into<String>, secret_key: [u8; 32], nonce_lifetime_secs: u64) -> Self {
        DigestChallenger {
            realm: realm.into(),
            key: secret_key,
            nonce_lifetime_secs,
            sequence: AtomicU64::new(rand::random()),
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    pub fn nonce_lifetime_secs(&self) -> u64 {
        self.nonce_lifetime_secs
    }

    fn mac(&self, body: &[u8]) -> [u8; 32] {
        let mut msg = Vec::with_capacity(body.len() + self.realm.len() + 8);
        msg.extend_from_slice(b"sipnonce");
        msg.extend_from_slice(body);
        msg.extend_from_slice(self.realm.as_bytes());
        hmac_sha256(&self.key, &msg)
    }

    fn new_nonce(&self, now_secs: u64, algorithm: Algorithm) -> String {
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
        let mut raw = [0u8; NONCE_LEN];
        raw[..NONCE_TIME].copy_from_slice(&now_secs.to_be_bytes());
        raw[NONCE_TIME..NONCE_TIME + NONCE_SEQ].copy_from_slice(&seq.to_be_bytes());
        raw[NONCE_TIME + NONCE_SEQ] = algorithm.id();
        let mac = self.mac(&raw[..NONCE_BODY]);
        raw[NONCE_BODY..].copy_from_slice(&mac[..NONCE_MAC]);
        hex::encode(raw)
    }

    fn check_nonce(&self, nonce: &str) -> Result<ValidNonce, AuthError> {
        if nonce.len() != NONCE_LEN * 2 {
            return Err(AuthError::InvalidNonce);
        }
        let mut raw = [0u8; NONCE_LEN];
        hex::decode_to_slice(nonce, &mut raw).map_err(|_| AuthError::InvalidNonce)?;
        let (body, mac) = raw.split_at(NONCE_BODY);
        if !constant_time_eq(&self.mac(body)[..NONCE_MAC], mac) {
            return Err(AuthError::InvalidNonce);
        }
        let algorithm =
            Algorithm::from_id(body[NONCE_TIME + NONCE_SEQ]).ok_or(AuthError::InvalidNonce)?;
        let mut t = [0u8; 8];
        t.copy_from_slice(&body[..NONCE_TIME]);
        let mut id = [0u8; 16];
        id.copy_from_slice(mac);
        Ok(ValidNonce {
            issued: u64::from_be_bytes(t),
            algorithm,
            id,
        })
    }

    /// A `WWW-Authenticate` / `Proxy-Authenticate` value with a fresh nonce.
    pub fn challenge(&self, now: SystemTime, algorithm: Algorithm, stale: bool) -> String {
        self.challenge_at(unix_secs(now), algorithm, stale)
    }

    /// [`DigestChallenger::challenge`] with the time in Unix seconds.
    pub fn challenge_at(&self, now_secs: u64, algorithm: Algorithm, stale: bool) -> String {
        let mut s = format!(
            "Digest realm=\"{}\", nonce=\"{}\", algorithm={}, qop=\"auth\"",
            escape(&self.realm),
            self.new_nonce(now_secs, algorithm),
            algorithm
        );
        if stale {
            s.push_str(", stale=TRUE");
        }
        s
    }

    /// Checks an `Authorization` / `Proxy-Authorization` value.
    ///
    /// `request_uri`, when given, must equal the credentials' `uri`
    /// (compared ignoring ASCII case). `lookup(username, realm, algorithm)`
    /// returns the account's secret. Checks run in this order: syntax,
    /// realm, uri, nonce authenticity, user, response, nonce age, then the
    /// nonce-count, which is recorded only on success.
    pub fn verify<F>(
        &self,
        now: SystemTime,
        method: &str,
        request_uri: Option<&str>,
        credentials: &str,
        counts: &mut NonceCounts,
        lookup: F,
    ) -> Result<AuthOk, AuthError>
    where
        F: Fn(&str, &str, Algorithm) -> Option<UserSecret>,
    {
        self.verify_at(
            unix_secs(now),
            method,
            request_uri,
            credentials,
            counts,
            lookup,
        )
    }

    /// [`DigestChallenger::verify`] with the time in Unix seconds.
    pub fn verify_at<F>(
        &self,
        now_secs: u64,
        method: &str,
        request_uri: Option<&str>,
        credentials: &str,
        counts: &mut NonceCounts,
        lookup: F,
    ) -> Result<AuthOk, AuthError>
    where
        F: Fn(&str, &str, Algorithm) -> Option<UserSecret>,
    {
        let c = Credentials::parse(credentials)?;
        if c.realm != self.realm {
            return Err(AuthError::RealmMismatch);
        }
        if let Some(expected) = request_uri {
            if !c.uri.eq_ignore_ascii_case(expected) {
                return Err(AuthError::UriMismatch);
            }
        }
        let nonce = self.check_nonce(&c.nonce)?;
        if nonce.algorithm != c.algorithm {
            return Err(AuthError::Malformed("algorithm"));
        }
        if nonce.issued > now_secs.saturating_add(MAX_FUTURE_SKEW_SECS) {
            return Err(AuthError::InvalidNonce);
        }
        let secret = lookup(&c.username, &c.realm, c.algorithm).ok_or(AuthError::UnknownUser)?;
        let ha1 = match secret {
            UserSecret::Password(p) => c.algorithm.ha1(&c.username, &c.realm, &p),
            UserSecret::Ha1(h) => h.to_ascii_lowercase(),
        };
        let expected = response_hex(
            c.algorithm,
            &ha1,
            &c.nonce,
            Some((&c.nc_text, &c.cnonce)),
            method,
            &c.uri,
        );
        let given = c.response.to_ascii_lowercase();
        if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            return Err(AuthError::WrongPassword);
        }
        if now_secs.saturating_sub(nonce.issued) > self.nonce_lifetime_secs {
            return Err(AuthError::StaleNonce);
        }
        counts.check_and_record(
            nonce.id,
            nonce.issued,
            c.nc,
            now_secs,
            self.nonce_lifetime_secs,
        )?;
        Ok(AuthOk {
            username: c.username,
            algorithm: c.algorithm,
        })
    }
}

/// `response` per RFC 7616 §3.4.1 (with `qop`) or RFC 2069 (without).
/// `ha1` is `H(user:realm:password)`; the `-sess` step is applied here.
fn response_hex(
    algorithm: Algorithm,
    ha1: &str,
    nonce: &str,
    nc_cnonce: Option<(&str, &str)>,
    method: &str,
    uri: &str,
) -> String {
    let ha1 = match (algorithm.is_sess(), nc_cnonce) {
        (true, Some((_, cnonce))) => algorithm.h(&[ha1, nonce, cnonce]),
        _ => ha1.to_string(),
    };
    let ha2 = algorithm.h(&[method, uri]);
    match nc_cnonce {
        Some((nc, cnonce)) => algorithm.h(&[&ha1, nonce, nc, cnonce, "auth", &ha2]),
        None => algorithm.h(&[&ha1, nonce, &ha2]),
    }
}

/// Last nonce-count seen per nonce, bounded in size. When full, the entry
/// of the oldest nonce is dropped and every nonce at least that old is from
/// then on treated as stale (the client re-challenges), so an eviction can
/// never re-open a replay window.
#[derive(Debug)]
pub struct NonceCounts {
    capacity: usize,
    last_nc: HashMap<[u8; 16], (u64, u32)>,
    by_issue: BTreeSet<(u64, [u8; 16])>,
    /// Nonces issued at or before this time and absent from the map may
    /// have been evicted.
    evicted_up_to: Option<u64>,
}

impl Default for NonceCounts {
    fn default() -> Self {
        NonceCounts::new(DEFAULT_NONCE_CACHE)
    }
}

impl NonceCounts {
    pub fn new(capacity: usize) -> Self {
        NonceCounts {
            capacity: capacity.max(1),
            last_nc: HashMap::new(),
            by_issue: BTreeSet::new(),
            evicted_up_to: None,
        }
    }

    pub fn len(&self) -> usize {
        self.last_nc.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last_nc.is_empty()
    }

    fn check_and_record(
        &mut self,
        id: [u8; 16],
        issued: u64,
        nc: u32,
        now: u64,
        lifetime: u64,
    ) -> Result<(), AuthError> {
        // Expired nonces are refused by age before reaching here, so their
        // entries can go without raising the eviction floor.
        while let Some(&(t, old)) = self.by_issue.first() {
            if now.saturating_sub(t) <= lifetime {
                break;
            }
            self.by_issue.pop_first();
            self.last_nc.remove(&old);
        }
        if let Some((_, last)) = self.last_nc.get_mut(&id) {
            if nc <= *last {
                return Err(AuthError::NonceReplay);
            }
            *last = nc;
            return Ok(());
        }
        if self.evicted_up_to.is_some_and(|floor| issued <= floor) {
            return Err(AuthError::StaleNonce);
        }
        while self.last_nc.len() >= self.capacity {
            let Some((t, old)) = self.by_issue.pop_first() else {
                break;
            };
            self.last_nc.remove(&old);
            self.evicted_up_to = Some(self.evicted_up_to.map_or(t, |f| f.max(t)));
        }
        if self.evicted_up_to.is_some_and(|floor| issued <= floor) {
            return Err(AuthError::StaleNonce);
        }
        self.last_nc.insert(id, (issued, nc));
        self.by_issue.insert((issued, id));
        Ok(())
    }
}

/// One `name=value` pair; `quoted` tells whether the value was a
/// quoted-string (some fields must be, some must not).
struct Param {
    name: String,
    value: String,
    quoted: bool,
}

/// Splits `Digest a=b, c="d"` into its params (names lower-cased).
fn parse_digest_params(input: &str) -> Result<Vec<Param>, AuthError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(AuthError::Missing);
    }
    if input.len() > MAX_HEADER_LEN {
        return Err(AuthError::Malformed("header length"));
    }
    let (scheme, rest) = input
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((input, ""));
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(AuthError::Unsupported("scheme"));
    }
    let b = rest.as_bytes();
    let mut i = 0;
    let mut params: Vec<Param> = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= b.len() {
            break;
        }
        if !params.is_empty() {
            if b[i] != b',' {
                return Err(AuthError::Malformed("separator"));
            }
            i += 1;
            skip_ws(&mut i);
            // Tolerate a trailing comma.
            if i >= b.len() {
                break;
            }
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b'_') {
            i += 1;
        }
        if i == start {
            return Err(AuthError::Malformed("parameter name"));
        }
        let name = rest[start..i].to_ascii_lowercase();
        let field = field_name(&name);
        skip_ws(&mut i);
        if i >= b.len() || b[i] != b'=' {
            return Err(AuthError::Malformed(field));
        }
        i += 1;
        skip_ws(&mut i);
        let (value, quoted) = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = String::new();
            let mut seg = i;
            loop {
                if i >= b.len() {
                    return Err(AuthError::Malformed(field));
                }
                match b[i] {
                    b'"' => {
                        v.push_str(&rest[seg..i]);
                        i += 1;
                        break;
                    }
                    b'\\' => {
                        v.push_str(&rest[seg..i]);
                        i += 1;
                        // The escaped character may be multi-byte.
                        let Some(ch) = rest.get(i..).and_then(|s| s.chars().next()) else {
                            return Err(AuthError::Malformed(field));
                        };
                        v.push(ch);
                        i += ch.len_utf8();
                        seg = i;
                    }
                    b'\r' | b'\n' => return Err(AuthError::Malformed(field)),
                    _ => i += 1,
                }
            }
            (v, true)
        } else {
            let vs = i;
            while i < b.len() && b[i] != b',' && !b[i].is_ascii_whitespace() && b[i] != b'"' {
                i += 1;
            }
            if i == vs {
                return Err(AuthError::Malformed(field));
            }
            (rest[vs..i].to_string(), false)
        };
        if params.iter().any(|p| p.name == name) {
            return Err(AuthError::Malformed(field));
        }
        if params.len() >= MAX_PARAMS {
            return Err(AuthError::Malformed("parameter count"));
        }
        params.push(Param {
            name,
            value,
            quoted,
        });
    }
    Ok(params)
}

/// Maps a parameter name to a `'static` label for errors.
fn field_name(name: &str) -> &'static str {
    const KNOWN: [&str; 14] = [
        "username",
        "realm",
        "nonce",
        "uri",
        "response",
        "algorithm",
        "cnonce",
        "opaque",
        "qop",
        "nc",
        "stale",
        "domain",
        "userhash",
        "charset",
    ];
    KNOWN
        .into_iter()
        .find(|k| *k == name)
        .unwrap_or("parameter")
}

fn get<'a>(params: &'a [Param], name: &str) -> Option<&'a Param> {
    params.iter().find(|p| p.name == name)
}

/// A field that RFC 7616 says is a quoted-string.
fn quoted(params: &[Param], name: &'static str) -> Result<String, AuthError> {
    match get(params, name) {
        Some(p) if p.quoted => Ok(p.value.clone()),
        Some(_) => Err(AuthError::Malformed(name)),
        None => Err(AuthError::Malformed(name)),
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The parsed `Authorization` value, as the server needs it.
struct Credentials {
    username: String,
    realm: String,
    nonce: String,
    uri: String,
    response: String,
    algorithm: Algorithm,
    cnonce: String,
    nc: u32,
    /// The nc as the client wrote it: it enters the hash verbatim.
    nc_text: String,
}

impl Credentials {
    fn parse(input: &str) -> Result<Credentials, AuthError> {
        let params = parse_digest_params(input)?;
        let username = quoted(&params, "username")?;
        let realm = quoted(&params, "realm")?;
        let nonce = quoted(&params, "nonce")?;
        let uri = quoted(&params, "uri")?;
        let response = quoted(&params, "response")?;
        if response.is_empty() || !response.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AuthError::Malformed("response"));
        }
        let algorithm = match get(&params, "algorithm") {
            None => Algorithm::Md5,
            Some(p) => Algorithm::parse(&p.value).ok_or(AuthError::Unsupported("algorithm"))?,
        };
        // Always challenged with qop="auth", so a response without it (RFC
        // 2069 style) cannot carry a nonce-count and is refused.
        match get(&params, "qop") {
            None => return Err(AuthError::Malformed("qop")),
            Some(p) if p.value.eq_ignore_ascii_case("auth") => {}
            Some(_) => return Err(AuthError::Unsupported("qop")),
        }
        let cnonce = quoted(&params, "cnonce")?;
        if cnonce.is_empty() {
            return Err(AuthError::Malformed("cnonce"));
        }
        let nc_text = get(&params, "nc")
            .ok_or(AuthError::Malformed("nc"))?
            .value
            .clone();
        if nc_text.len() != 8 || !nc_text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AuthError::Malformed("nc"));
        }
        let nc = u32::from_str_radix(&nc_text, 16).map_err(|_| AuthError::Malformed("nc"))?;
        if nc == 0 {
            return Err(AuthError::Malformed("nc"));
        }
        if get(&params, "userhash").is_some_and(|p| p.value.eq_ignore_ascii_case("true")) {
            return Err(AuthError::Unsupported("userhash"));
        }
        Ok(Credentials {
            username,
            realm,
            nonce,
            uri,
            response,
            algorithm,
            cnonce,
            nc,
            nc_text,
        })
    }
}

/// A parsed `WWW-Authenticate` / `Proxy-Authenticate` digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// `qop` options offered; empty for an RFC 2069 challenge.
    pub qop: Vec<String>,
    pub stale: bool,
}

/// Parses a digest challenge. Errors for other schemes, unknown algorithms
/// (e.g. SHA-512-256) and challenges that offer only `auth-int`.
pub fn parse_challenge(value: &str) -> Result<Challenge, AuthError> {
    let params = parse_digest_params(value)?;
    let realm = quoted(&params, "realm")?;
    let nonce = quoted(&params, "nonce")?;
    if nonce.is_empty() {
        return Err(AuthError::Malformed("nonce"));
    }
    let opaque = match get(&params, "opaque") {
        Some(p) if p.quoted => Some(p.value.clone()),
        Some(_) => return Err(AuthError::Malformed("opaque")),
        None => None,
    };
    let algorithm = match get(&params, "algorithm") {
        None => Algorithm::Md5,
        Some(p) => Algorithm::parse(&p.value).ok_or(AuthError::Unsupported("algorithm"))?,
    };
    let qop: Vec<String> = get(&params, "qop")
        .map(|p| {
            p.value
                .split(',')
                .map(|q| q.trim().to_ascii_lowercase())
                .filter(|q| !q.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if !qop.is_empty() && !qop.iter().any(|q| q == "auth") {
        return Err(AuthError::Unsupported("qop"));
    }
    let stale = get(&params, "stale").is_some_and(|p| p.value.eq_ignore_ascii_case("true"));
    Ok(Challenge {
        realm,
        nonce,
        opaque,
        algorithm,
        qop,
        stale,
    })
}

/// Picks the challenge to answer from several `WWW-Authenticate` (or
/// `Proxy-Authenticate`) values for one realm: the first one this module
/// supports, since servers list their preferred algorithm first (RFC 8760
/// has SHA-256 before MD5). Returns the first value's error if none fits.
pub fn select_challenge<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Challenge, AuthError> {
    let mut first_err = None;
    for v in values {
        match parse_challenge(v) {
            Ok(c) => return Ok(c),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or(AuthError::Missing))
}

impl Challenge {
    /// Whether `qop=auth` will be used in the answer.
    pub fn uses_qop(&self) -> bool {
        self.qop.iter().any(|q| q == "auth")
    }

    /// The `Authorization` / `Proxy-Authorization` value for a request.
    ///
    /// `cnonce` should be fresh random text per challenge; `nc` counts the
    /// requests sent with this nonce, starting at 1. Both are ignored for an
    /// RFC 2069 challenge (no `qop`).
    pub fn respond(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
        nc: u32,
    ) -> String {
        let ha1 = self.algorithm.ha1(username, &self.realm, password);
        let nc_text = format!("{nc:08x}");
        let qop = self.uses_qop().then_some((nc_text.as_str(), cnonce));
        let response = response_hex(self.algorithm, &ha1, &self.nonce, qop, method, uri);
        let mut s = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\", algorithm={}",
            escape(username),
            escape(&self.realm),
            escape(&self.nonce),
            escape(uri),
            response,
            self.algorithm
        );
        if qop.is_some() {
            let _ = write!(s, ", cnonce=\"{}\", qop=auth, nc={nc_text}", escape(cnonce));
        }
        if let Some(o) = &self.opaque {
            let _ = write!(s, ", opaque=\"{}\"", escape(o));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    const KEY: [u8; 32] = [7u8; 32];
    const T0: u64 = 1_780_000_000;

    fn server() -> DigestChallenger {
        DigestChallenger::new("gw.example.vn", KEY, 300)
    }

    fn accounts(user: &str, realm: &str, _alg: Algorithm) -> Option<UserSecret> {
        match (user, realm) {
            ("alice", "gw.example.vn") => Some(UserSecret::Password("s3cret".into())),
            ("bob", "gw.example.vn") => Some(UserSecret::Ha1(Algorithm::Md5.ha1(
                "bob",
                "gw.example.vn",
                "hunter2",
            ))),
            _ => None,
        }
    }

    fn answer(challenge: &str, user: &str, pass: &str, nc: u32) -> String {
        parse_challenge(challenge).unwrap().respond(
            user,
            pass,
            "INVITE",
            "sip:1000@gw.example.vn",
            "0a4f113b",
            nc,
        )
    }

    fn check(
        s: &DigestChallenger,
        counts: &mut NonceCounts,
        now: u64,
        cred: &str,
    ) -> Result<AuthOk, AuthError> {
        s.verify_at(
            now,
            "INVITE",
            Some("sip:1000@gw.example.vn"),
            cred,
            counts,
            accounts,
        )
    }

    // RFC 7616 §3.9.1: user "Mufasa", password "Circle of Life".
    const RFC7616_CHALLENGE: &str = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=ALG, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc7616(alg: &str) -> String {
        let ch = parse_challenge(&RFC7616_CHALLENGE.replace("ALG", alg)).unwrap();
        ch.respond(
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            RFC7616_CNONCE,
            1,
        )
    }

    #[test]
    fn rfc7616_md5_golden_vector() {
        let auth = rfc7616("MD5");
        assert!(
            auth.contains("response=\"8ca523f5e9506fed4657c9700eebdbec\""),
            "{auth}"
        );
        assert!(auth.contains("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""));
        assert!(auth.contains("nc=00000001"));
        assert!(auth.contains("qop=auth"));
    }

    #[test]
    fn rfc7616_sha256_golden_vector() {
        let auth = rfc7616("SHA-256");
        assert!(
            auth.contains(
                "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""
            ),
            "{auth}"
        );
        assert!(auth.contains("algorithm=SHA-256"));
    }

    #[test]
    fn rfc2617_and_rfc2069_golden_vectors() {
        let ch = "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        let auth = parse_challenge(ch).unwrap().respond(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "0a4f113b",
            1,
        );
        assert!(
            auth.contains("response=\"6629fae49393a05397450978507c4ef1\""),
            "{auth}"
        );
        let old = "Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        let c = parse_challenge(old).unwrap();
        assert!(!c.uses_qop());
        // RFC 2069 spells the password without spaces.
        let auth = c.respond("Mufasa", "CircleOfLife", "GET", "/dir/index.html", "x", 1);
        assert!(
            auth.contains("response=\"1949323746fe6a43ef61f9606e7febea\""),
            "{auth}"
        );
        assert!(!auth.contains("nc="));
    }

    #[test]
    fn server_verifies_rfc7616_credentials_as_written() {
        // The RFC's Authorization header, checked by a verifier that knows
        // the password: exercises the server hash path on foreign input.
        let cred = "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
        let c = Credentials::parse(cred).unwrap();
        let ha1 = c.algorithm.ha1(&c.username, &c.realm, "Circle of Life");
        let r = response_hex(
            c.algorithm,
            &ha1,
            &c.nonce,
            Some((&c.nc_text, &c.cnonce)),
            "GET",
            &c.uri,
        );
        assert_eq!(r, c.response);
        // Its nonce is not ours, so our server refuses it as such.
        let s = DigestChallenger::new("http-auth@example.org", KEY, 300);
        let mut counts = NonceCounts::default();
        let got = s.verify_at(T0, "GET", None, cred, &mut counts, |_, _, _| {
            Some(UserSecret::Password("Circle of Life".into()))
        });
        assert_eq!(got, Err(AuthError::InvalidNonce));
    }

    #[test]
    fn round_trip_all_algorithms() {
        let s = server();
        for alg in [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
        ] {
            let mut counts = NonceCounts::default();
            let ch = s.challenge_at(T0, alg, false);
            assert!(ch.contains(&format!("algorithm={alg}")), "{ch}");
            assert_eq!(parse_challenge(&ch).unwrap().algorithm, alg);
            let ok = check(&s, &mut counts, T0 + 1, &answer(&ch, "alice", "s3cret", 1)).unwrap();
            assert_eq!(
                ok,
                AuthOk {
                    username: "alice".into(),
                    algorithm: alg
                }
            );
        }
    }

    #[test]
    fn stored_ha1_accepted() {
        let s = server();
        let mut counts = NonceCounts::default();
        let ch = s.challenge_at(T0, Algorithm::Md5, false);
        assert_eq!(
            check(&s, &mut counts, T0, &answer(&ch, "bob", "hunter2", 1))
                .unwrap()
                .username,
            "bob"
        );
        let ch = s.challenge_at(T0, Algorithm::Md5Sess, false);
        assert!(check(&s, &mut counts, T0, &answer(&ch, "bob", "hunter2", 1)).is_ok());
    }

    #[test]
    fn system_time_api() {
        let s = server();
        let now = UNIX_EPOCH + Duration::from_secs(T0);
        let mut counts = NonceCounts::default();
        let ch = s.challenge(now, Algorithm::Sha256, false);
        let cred = answer(&ch, "alice", "s3cret", 1);
        let later = now + Duration::from_secs(10);
        assert!(s
            .verify(later, "INVITE", None, &cred, &mut counts, accounts)
            .is_ok());
        let much_later = now + Duration::from_secs(301);
        let cred = answer(&ch, "alice", "s3cret", 2);
        assert_eq!(
            s.verify(much_later, "INVITE", None, &cred, &mut counts, accounts),
            Err(AuthError::StaleNonce)
        );
    }

    #[test]
    fn stale_after_lifetime_then_fresh_challenge_works() {
        let s = server();
        let mut counts = NonceCounts::default();
        let ch = s.challenge_at(T0, Algorithm::Sha256, false);
        let cred = answer(&ch, "alice", "s3cret", 1);
        assert!(
            check(&s, &mut counts, T0 + 300, &cred).is_ok(),
            "lifetime is inclusive"
        );
        let cred = answer(&ch, "alice", "s3cret", 2);
        let err = check(&s, &mut counts, T0 + 301, &cred).unwrap_err();
        assert!(err.is_stale());
        // Stale is reported only to a client that knows the password.
        let wrong = answer(&ch, "alice", "guess", 3);
        assert_eq!(
            check(&s, &mut counts, T0 + 301, &wrong),
            Err(AuthError::WrongPassword)
        );
        let ch = s.challenge_at(T0 + 301, Algorithm::Sha256, true);
        assert!(ch.ends_with(", stale=TRUE"));
        assert!(parse_challenge(&ch).unwrap().stale);
        assert!(check(
            &s,
            &mut counts,
            T0 + 302,
            &answer(&ch, "alice", "s3cret", 1)
        )
        .is_ok());
    }

    #[test]
    fn nonce_from_the_future_is_refused() {
        let s = server();
        let mut counts = NonceCounts::default();
        let ch = s.challenge_at(T0 + 1000, Algorithm::Md5, false);
        assert_eq!(
            check(&s, &mut counts, T0, &answer(&ch, "alice", "s3cret", 1)),
            Err(AuthError::InvalidNonce)
        );
        // Small skew between nodes is fine.
        let ch = s.challenge_at(T0 + 30, Algorithm::Md5, false);
        assert!(check(&s, &mut counts, T0, &answer(&ch, "alice", "s3cret", 1)).is_ok());
    }

    #[test]
    fn replayed_nonce_count_rejected() {
        let s = server();
        let mut counts = NonceCounts::default();
        let ch = s.challenge_at(T0, Algorithm::Md5, false);
        let first = answer(&ch, "alice", "s3cret", 1);
        assert!(check(&s, &mut counts, T0, &first).is_ok());
        assert_eq!(
            check(&s, &mut counts, T0, &first),
            Err(AuthError::NonceReplay)
        );
        assert!(check(&s, &mut counts, T0, &answer(&ch, "alice", "s3cret", 5)).is_ok());
        assert_eq!(
            check(&s, &mut counts, T0, &answer(&ch, "alice", "s3cret", 3)),
            Err(AuthError::NonceReplay)
        );
        assert_eq!(
            check(&s, &mut counts, T0, &answer(&ch, "alice", "s3cret", 5)),
            Err(AuthError::NonceReplay)
        );
        assert!(check(&s, &mut counts, T0, &answer(&ch, "alice", "s3cret", 6)).is_ok());
        assert_eq!(counts.len(), 1);
    }

    #[test]
    fn two_challenges_in_one_second_are_independent() {
        let s = server();
        let mut counts = NonceCounts::default();
        let a = s.challenge_at(T0, Algorithm::Md5, false);
        let b = s.challenge_at(T0, Algorithm::Md5, false);
        assert_ne!(a, b);
        assert!(check(&s, &mut counts, T0, &answer(&a, "alice", "s3cret", 1)).is_ok());
        assert!(check(&s, &mut counts, T0, &answer(&b, "alice", "s3cret", 1)).is_ok());
    }

    #[test]
    fn another_nodes_nonce_with_the_same_key_is_accepted() {
        let a = server();
        let b = server();
        let mut counts = NonceCounts::default();
        let ch = a.challenge_at(T0, Algorithm::Sha256, false);
        assert!(check(&b, &mut counts, T0, &answer(&ch, "alice", "s3cret", 1)).is_ok());
        let other_key = DigestChallenger::new("gw.example.vn", [8u8; 32], 300);
        let ch = other_key.challenge_at(T0, Algorithm::Sha256, false);
        assert_eq!(
            check(&a, &mut counts, T0, &answer(&ch, "alice", "s3cret", 1)),
            Err(AuthError::InvalidNonce)
        );
    }

    #[test]
    fn algorithm_downgrade_rejected() {
        let s = server();
        let mut counts = NonceCounts::default();
        let ch = s.challenge_at(T0, Algorithm::Sha256, false);
        let downgraded = ch.replace("algorithm=SHA-256", "algorithm=MD5");
        let cred = answer(&downgraded, "alice", "s3cret", 1);
        assert_eq!(
            check(&s, &mut counts, T0, &cred),
            Err(AuthError::Malformed("algorithm"))
        );
        assert!(check(&s, &mut counts, T0, &answer(&ch, "alice", "s3cret", 1)).is_ok());
    }

    #[test]
    fn tampered_nonce_rejected() {
        let s = server();
        let mut counts = NonceCounts::default();
        let ch = s.challenge_at(T0, Algorithm::Md5, false);
        let nonce = parse_challenge(&ch).unwrap().nonce;
        // Move the issue time forward by one second to dodge expiry: the
        // MAC no longer matches.
        let mut raw = hex::decode(&nonce).unwrap();
        raw[7] ^= 1;
        let forged_nonce = hex::encode(&raw);
        let forged = ch.replace(&nonce, &forged_nonce);
        let cred = answer(&forged, "alice", "s3cret", 1);
        assert_eq!(
            check(&s, &mut counts, T0, &cred),
            Err(AuthError::InvalidNonce)
        );
        let good = answer(&ch, "alice", "s3cret", 1);
        for bad in [
            "",
            "zz",
            "00",
            &nonce[..nonce.len() - 2],
            &format!("{nonce}00"),
        ] {
            let cred = good.replace(&nonce, bad);
            let got = check(&s, &mut counts, T0, &cred);
            assert!(
                matches!(
                    got,
                    Err(AuthError::InvalidNonce) | Err(AuthError::Malformed(_))
                ),
                "{bad}: {got:?}"
            );
        }
    }

    #[test]
    fn wrong_password_unknown_user_realm_uri_method() {
        let s = server();
        let mut counts = NonceCounts::default();
        let ch = s.challenge_at(T0, Algorithm::Sha256, false);
        assert_eq!(
            check(&s, &mut counts, T0, &answer(&ch, "alice", "S3cret", 1)),
            Err(AuthError::WrongPassword)
        );
        assert_eq!(
            check(&s, &mut counts, T0, &answer(&ch, "mallory", "x", 1)),
            Err(AuthError::UnknownUser)
        );
        let other_realm = ch.replace("gw.example.vn", "evil.example");
        assert_eq!(
            check(
                &s,
                &mut counts,
                T0,
                &answer(&other_realm, "alice", "s3cret", 1)
            ),
            Err(AuthError::RealmMismatch)
        );
        let cred = answer(&ch, "alice", "s3cret", 1);
        assert_eq!(
            s.verify_at(
                T0,
                "INVITE",
                Some("sip:2000@gw.example.vn"),
                &cred,
                &mut counts,
                accounts
            ),
            Err(AuthError::UriMismatch)
        );
        assert!(s
            .verify_at(
                T0,
                "INVITE",
                Some("SIP:1000@GW.example.vn"),
                &cred,
                &mut counts,
                accounts
            )
            .is_ok());
        // Signed for INVITE, replayed as BYE: the hash covers the method.
        let cred = answer(&ch, "alice", "s3cret", 2);
        assert_eq!(
            s.verify_at(T0, "BYE", None, &cred, &mut counts, accounts),
            Err(AuthError::WrongPassword)
        );
        // A failed attempt does not burn the nonce-count.
        assert!(check(&s, &mut counts, T0, &cred).is_ok());
    }

    #[test]
    fn malformed_credentials() {
        let s = server();
        let mut counts = NonceCounts::default();
        let ch = s.challenge_at(T0, Algorithm::Md5, false);
        let nonce = parse_challenge(&ch).unwrap().nonce;
        let good = answer(&ch, "alice", "s3cret", 1);
        let cases: Vec<(String, AuthError)> = vec![
            (String::new(), AuthError::Missing),
            ("   ".into(), AuthError::Missing),
            (
                "Basic YWxhZGRpbjpvcGVuc2VzYW1l".into(),
                AuthError::Unsupported("scheme"),
            ),
            ("Digest".into(), AuthError::Malformed("username")),
            (
                good.replace("username=\"alice\"", "username=alice"),
                AuthError::Malformed("username"),
            ),
            (
                good.replace("username=\"alice\", ", ""),
                AuthError::Malformed("username"),
            ),
            (
                good.replace(&nonce, &"0".repeat(64)),
                AuthError::InvalidNonce,
            ),
            (
                good.replace("response=\"", "response=\"g"),
                AuthError::Malformed("response"),
            ),
            (
                good.replace("nc=00000001", "nc=1"),
                AuthError::Malformed("nc"),
            ),
            (
                good.replace("nc=00000001", "nc=0000000g"),
                AuthError::Malformed("nc"),
            ),
            (
                good.replace("nc=00000001", "nc=00000000"),
                AuthError::Malformed("nc"),
            ),
            (
                good.replace(", nc=00000001", ""),
                AuthError::Malformed("nc"),
            ),
            (good.replace(", qop=auth", ""), AuthError::Malformed("qop")),
            (
                good.replace("qop=auth", "qop=auth-int"),
                AuthError::Unsupported("qop"),
            ),
            (
                good.replace("algorithm=MD5", "algorithm=SHA-512-256"),
                AuthError::Unsupported("algorithm"),
            ),
            (
                good.replace("cnonce=\"0a4f113b\"", "cnonce=\"\""),
                AuthError::Malformed("cnonce"),
            ),
            (
                format!("{good}, username=\"bob\""),
                AuthError::Malformed("username"),
            ),
            (format!("{good} junk"), AuthError::Malformed("separator")),
            (
                format!("{good}, =x"),
                AuthError::Malformed("parameter name"),
            ),
            (format!("{good}, opaque"), AuthError::Malformed("opaque")),
            (
                format!("{good}, opaque=\"unterminated"),
                AuthError::Malformed("opaque"),
            ),
            (
                format!("{good}, opaque=\"x\\"),
                AuthError::Malformed("opaque"),
            ),
            (
                format!(
                    "Digest {}",
                    (0..40)
                        .map(|i| format!("p{i}=b"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                AuthError::Malformed("parameter count"),
            ),
            (
                format!("Digest x=\"{}\"", "a".repeat(9000)),
                AuthError::Malformed("header length"),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                check(&s, &mut counts, T0, &input),
                Err(want.clone()),
                "input: {input}"
            );
        }
        // Trailing comma, odd spacing, quoted qop and lower-case scheme are tolerated.
        let sloppy = good
            .replace("Digest ", "digest   ")
            .replace("qop=auth", "qop=\"auth\"")
            .replace(", ", " ,")
            + ",";
        assert!(check(&s, &mut counts, T0, &sloppy).is_ok(), "{sloppy}");
    }

    #[test]
    fn escaped_quotes_in_values() {
        let s = DigestChallenger::new("a \"quoted\" realm", KEY, 60);
        let ch = s.challenge_at(T0, Algorithm::Sha256, false);
        let parsed = parse_challenge(&ch).unwrap();
        assert_eq!(parsed.realm, "a \"quoted\" realm");
        let cred = parsed.respond("us\\er", "pw", "REGISTER", "sip:gw", "c", 1);
        let mut counts = NonceCounts::default();
        let ok = s
            .verify_at(
                T0,
                "REGISTER",
                Some("sip:gw"),
                &cred,
                &mut counts,
                |u, _, _| (u == "us\\er").then(|| UserSecret::Password("pw".into())),
            )
            .unwrap();
        assert_eq!(ok.username, "us\\er");
    }

    #[test]
    fn select_first_supported_challenge() {
        let sha512 = "Digest realm=\"r\", nonce=\"a\", algorithm=SHA-512-256, qop=\"auth\"";
        let sha256 = "Digest realm=\"r\", nonce=\"b\", algorithm=SHA-256, qop=\"auth\"";
        let md5 = "Digest realm=\"r\", nonce=\"c\", algorithm=MD5, qop=\"auth\"";
        assert_eq!(
            select_challenge([sha512, sha256, md5]).unwrap().algorithm,
            Algorithm::Sha256
        );
        assert_eq!(select_challenge([md5, sha256]).unwrap().nonce, "c");
        assert_eq!(
            select_challenge([sha512]),
            Err(AuthError::Unsupported("algorithm"))
        );
        assert_eq!(select_challenge([]), Err(AuthError::Missing));
    }

    #[test]
    fn malformed_challenges() {
        assert_eq!(parse_challenge(""), Err(AuthError::Missing));
        assert_eq!(
            parse_challenge("Basic realm=\"x\""),
            Err(AuthError::Unsupported("scheme"))
        );
        assert_eq!(
            parse_challenge("Digest nonce=\"n\""),
            Err(AuthError::Malformed("realm"))
        );
        assert_eq!(
            parse_challenge("Digest realm=r, nonce=\"n\""),
            Err(AuthError::Malformed("realm"))
        );
        assert_eq!(
            parse_challenge("Digest realm=\"r\""),
            Err(AuthError::Malformed("nonce"))
        );
        assert_eq!(
            parse_challenge("Digest realm=\"r\", nonce=\"\""),
            Err(AuthError::Malformed("nonce"))
        );
        assert_eq!(
            parse_challenge("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\""),
            Err(AuthError::Unsupported("qop"))
        );
        assert_eq!(
            parse_challenge("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256"),
            Err(AuthError::Unsupported("algorithm"))
        );
        let c =
            parse_challenge("Digest realm=\"r\", nonce=\"n\", algorithm=sha-256-SESS, stale=true")
                .unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha256Sess);
        assert!(c.stale);
    }

    #[test]
    fn cache_is_bounded_and_eviction_does_not_reopen_replay() {
        let s = DigestChallenger::new("gw.example.vn", KEY, 1000);
        let mut counts = NonceCounts::new(3);
        let challenges: Vec<String> = (0..5)
            .map(|i| s.challenge_at(T0 + i, Algorithm::Md5, false))
            .collect();
        for (i, ch) in challenges.iter().enumerate() {
            assert!(
                check(&s, &mut counts, T0 + 10, &answer(ch, "alice", "s3cret", 1)).is_ok(),
                "{i}"
            );
            assert!(counts.len() <= 3);
        }
        assert_eq!(counts.len(), 3);
        // The oldest two were evicted: replaying them must not succeed.
        for ch in &challenges[..2] {
            assert_eq!(
                check(&s, &mut counts, T0 + 10, &answer(ch, "alice", "s3cret", 1)),
                Err(AuthError::StaleNonce)
            );
        }
        // The newest still track their counts.
        assert_eq!(
            check(
                &s,
                &mut counts,
                T0 + 10,
                &answer(&challenges[4], "alice", "s3cret", 1)
            ),
            Err(AuthError::NonceReplay)
        );
        assert!(check(
            &s,
            &mut counts,
            T0 + 10,
            &answer(&challenges[4], "alice", "s3cret", 2)
        )
        .is_ok());
    }

    #[test]
    fn expired_entries_are_purged() {
        let s = DigestChallenger::new("gw.example.vn", KEY, 100);
        let mut counts = NonceCounts::new(10);
        for i in 0..5 {
            let ch = s.challenge_at(T0 + i, Algorithm::Md5, false);
            assert!(check(&s, &mut counts, T0 + i, &answer(&ch, "alice", "s3cret", 1)).is_ok());
        }
        assert_eq!(counts.len(), 5);
        let ch = s.challenge_at(T0 + 500, Algorithm::Md5, false);
        assert!(check(
            &s,
            &mut counts,
            T0 + 500,
            &answer(&ch, "alice", "s3cret", 1)
        )
        .is_ok());
        assert_eq!(counts.len(), 1);
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let s = server();
        assert!(!format!("{s:?}").contains("7, 7"));
        assert_eq!(
            format!("{:?}", UserSecret::Password("s3cret".into())),
            "Password(<redacted>)"
        );
    }

    #[test]
    fn hmac_matches_an_independent_implementation() {
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        assert_eq!(
            hex::encode(hmac_sha256(&key, b"what do ya want for nothing?")),
            "099805f4ac310786968565c098db515cc50862b420ae31e20238312344bed36a"
        );
    }

    #[test]
    fn constant_time_eq_basics() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    proptest! {
        #[test]
        fn verify_never_panics(input in any::<String>()) {
            let s = server();
            let mut counts = NonceCounts::new(16);
            let r = check(&s, &mut counts, T0, &input);
            prop_assert!(r.is_err());
            let _ = parse_challenge(&input);
        }

        #[test]
        fn verify_never_panics_on_digest_shaped_input(
            params in proptest::collection::vec(
                ("[a-z]{1,8}", prop_oneof!["[ -~]{0,20}", "\"[ -~]{0,20}\"".prop_map(|s| s)]),
                0..12
            ),
            sep in prop_oneof![Just(", "), Just(","), Just(" "), Just(""), Just(",,")],
        ) {
            let body: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let input = format!("Digest {}", body.join(sep));
            let s = server();
            let mut counts = NonceCounts::new(16);
            prop_assert!(check(&s, &mut counts, T0, &input).is_err());
            let _ = parse_challenge(&input);
        }

        #[test]
        fn mutated_valid_credentials_never_panic_and_rarely_pass(
            idx in any::<prop::sample::Index>(),
            c in any::<char>(),
        ) {
            let s = server();
            let mut counts = NonceCounts::new(16);
            let ch = s.challenge_at(T0, Algorithm::Sha256, false);
            let good = answer(&ch, "alice", "s3cret", 1);
            let mut chars: Vec<char> = good.chars().collect();
            let i = idx.index(chars.len());
            let original = chars[i];
            chars[i] = c;
            let mutated: String = chars.into_iter().collect();
            let r = check(&s, &mut counts, T0, &mutated);
            // A change can pass only where it does not alter meaning:
            // whitespace, the scheme's case, hex case of the response, or
            // the algorithm's case.
            if r.is_ok() && original != c {
                prop_assert!(
                    original.eq_ignore_ascii_case(&c) || (original.is_whitespace() && c.is_whitespace()),
                    "{:?} -> {:?} passed: {}", original, c, mutated
                );
            }
        }

        #[test]
        fn client_server_round_trip(
            user in "[a-zA-Z0-9._\\\\\"-]{1,16}",
            pass in "[ -~]{0,24}",
            method in "(INVITE|REGISTER|BYE|OPTIONS|SUBSCRIBE)",
            cnonce in "[a-zA-Z0-9+/=]{1,32}",
            nc in 1u32..,
            alg in prop_oneof![Just(Algorithm::Md5), Just(Algorithm::Md5Sess), Just(Algorithm::Sha256), Just(Algorithm::Sha256Sess)],
        ) {
            let s = server();
            let ch = parse_challenge(&s.challenge_at(T0, alg, false)).unwrap();
            let cred = ch.respond(&user, &pass, &method, "sip:gw.example.vn", &cnonce, nc);
            let mut counts = NonceCounts::new(4);
            let p = pass.clone();
            let u = user.clone();
            let ok = s.verify_at(T0, &method, Some("sip:gw.example.vn"), &cred, &mut counts, move |name, _, _| {
                (name == u).then(|| UserSecret::Password(p.clone()))
            });
            prop_assert_eq!(ok.map(|o| o.username), Ok(user));
        }
    }
}

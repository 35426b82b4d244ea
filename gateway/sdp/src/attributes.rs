//! Typed views of the attributes the gateway acts on. The model keeps raw
//! name/value pairs; these are computed on demand, so an attribute the
//! gateway misreads is still forwarded unchanged.

use std::fmt;

use crate::model::{Attribute, Bandwidth, Connection, MediaDescription, SessionDescription};

/// Media direction attribute (RFC 8866 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction named by an attribute name, if it is one.
    pub fn from_name(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The direction seen from the other end (what an answer mirrors).
    pub const fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    pub const fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub const fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: Option<u16>,
}

impl RtpMap {
    /// Parses the value of an `a=rtpmap` attribute; `None` when malformed.
    pub fn parse(value: &str) -> Option<RtpMap> {
        let (pt, rest) = value.trim().split_once(' ')?;
        let payload_type = pt.parse().ok()?;
        let mut parts = rest.trim().split('/');
        let encoding = parts.next()?;
        if encoding.is_empty() {
            return None;
        }
        let clock_rate = parts.next()?.parse().ok()?;
        let channels = match parts.next() {
            Some(c) => Some(c.parse().ok()?),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(RtpMap {
            payload_type,
            encoding: encoding.to_string(),
            clock_rate,
            channels,
        })
    }

    /// The attribute value, e.g. `"0 PCMU/8000"`.
    pub fn to_value(&self) -> String {
        match self.channels {
            Some(c) => format!(
                "{} {}/{}/{}",
                self.payload_type, self.encoding, self.clock_rate, c
            ),
            None => format!(
                "{} {}/{}",
                self.payload_type, self.encoding, self.clock_rate
            ),
        }
    }
}

/// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpAttr {
    pub port: u16,
    pub connection: Option<Connection>,
}

impl RtcpAttr {
    pub fn parse(value: &str) -> Option<RtcpAttr> {
        let mut it = value.split_whitespace();
        let port = it.next()?.parse().ok()?;
        let connection = match (it.next(), it.next(), it.next(), it.next()) {
            (None, ..) => None,
            (Some(nettype), Some(addrtype), Some(address), None) => Some(Connection {
                nettype: nettype.to_string(),
                addrtype: addrtype.to_string(),
                address: address.to_string(),
            }),
            _ => return None,
        };
        Some(RtcpAttr { port, connection })
    }

    pub fn to_value(&self) -> String {
        match &self.connection {
            Some(c) => format!("{} {} {} {}", self.port, c.nettype, c.addrtype, c.address),
            None => self.port.to_string(),
        }
    }
}

/// `a=setup` (RFC 4145): which side opens the TCP or DTLS connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setup {
    Active,
    Passive,
    ActPass,
    HoldConn,
}

impl Setup {
    pub fn parse(value: &str) -> Option<Setup> {
        match value.trim() {
            "active" => Some(Setup::Active),
            "passive" => Some(Setup::Passive),
            "actpass" => Some(Setup::ActPass),
            "holdconn" => Some(Setup::HoldConn),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::ActPass => "actpass",
            Setup::HoldConn => "holdconn",
        }
    }
}

/// `a=fingerprint:<hash function> <hex pairs>` (RFC 8122).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Lower-cased, e.g. `sha-256`.
    pub hash_function: String,
    /// As written, e.g. `AB:CD:...`.
    pub fingerprint: String,
}

impl Fingerprint {
    pub fn parse(value: &str) -> Option<Fingerprint> {
        let mut it = value.split_whitespace();
        let (Some(hash), Some(fp), None) = (it.next(), it.next(), it.next()) else {
            return None;
        };
        Some(Fingerprint {
            hash_function: hash.to_ascii_lowercase(),
            fingerprint: fp.to_string(),
        })
    }

    /// The fingerprint as bytes; `None` if it is not colon-separated hex.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        self.fingerprint
            .split(':')
            .map(|h| {
                if h.len() == 2 {
                    u8::from_str_radix(h, 16).ok()
                } else {
                    None
                }
            })
            .collect()
    }
}

/// The key-params of an `a=crypto` line: SRTP master keys. `Debug` prints
/// `<redacted>` so that a logged description never leaks a key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKeyParams(String);

impl SecretKeyParams {
    pub fn new(s: impl Into<String>) -> Self {
        SecretKeyParams(s.into())
    }

    /// The raw text, for the SRTP context and for serialization only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Base64 key||salt of the first `inline:` key-param.
    pub fn inline_key(&self) -> Option<&str> {
        let first = self.0.split(';').next()?;
        let rest = first.strip_prefix("inline:")?;
        let key = rest.split('|').next()?;
        (!key.is_empty()).then_some(key)
    }
}

impl fmt::Debug for SecretKeyParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]` (RFC 4568).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    pub suite: String,
    pub key_params: SecretKeyParams,
    pub session_params: Vec<String>,
}

impl Crypto {
    pub fn parse(value: &str) -> Option<Crypto> {
        let mut it = value.split_whitespace();
        let tag = it.next()?.parse().ok()?;
        let suite = it.next()?.to_string();
        let key_params = it.next()?;
        if !key_params.contains(':') {
            return None;
        }
        Some(Crypto {
            tag,
            suite,
            key_params: SecretKeyParams::new(key_params),
            session_params: it.map(str::to_string).collect(),
        })
    }

    pub fn to_value(&self) -> String {
        let mut s = format!("{} {} {}", self.tag, self.suite, self.key_params.expose());
        for p in &self.session_params {
            s.push(' ');
            s.push_str(p);
        }
        s
    }
}

fn find<'a>(attrs: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attrs.iter().find(|a| a.name == name)
}

fn direction_in(attrs: &[Attribute]) -> Option<Direction> {
    // The last one wins if a peer sends several: that is what most stacks do.
    attrs.iter().rev().find_map(|a| {
        a.value
            .is_none()
            .then(|| Direction::from_name(&a.name))
            .flatten()
    })
}

fn bandwidth_in(bws: &[Bandwidth], bwtype: &str) -> Option<u64> {
    bws.iter()
        .find(|b| b.bwtype.eq_ignore_ascii_case(bwtype))
        .map(|b| b.value)
}

/// `<pt> <rest>` values (rtpmap, fmtp, rtcp-fb) for a given payload type.
pub(crate) fn pt_value<'a>(a: &'a Attribute, name: &str, pt: &str) -> Option<&'a str> {
    if a.name != name {
        return None;
    }
    let v = a.value.as_deref()?;
    let (p, rest) = v.split_once(' ').unwrap_or((v, ""));
    (p == pt).then_some(rest.trim_start())
}

impl MediaDescription {
    /// First attribute with this name.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        find(&self.attributes, name)
    }

    /// All attributes with this name, in order.
    pub fn attributes_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Attribute> {
        self.attributes.iter().filter(move |a| a.name == name)
    }

    /// Value of the first attribute with this name.
    pub fn attribute_value(&self, name: &str) -> Option<&str> {
        self.attribute(name).and_then(|a| a.value.as_deref())
    }

    pub fn has_attribute(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }

    /// The `a=rtpmap` for a payload type.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        let key = pt.to_string();
        self.attributes
            .iter()
            .find(|a| pt_value(a, "rtpmap", &key).is_some())
            .and_then(|a| RtpMap::parse(a.value.as_deref()?))
    }

    /// All well-formed `a=rtpmap` lines, in order.
    pub fn rtpmaps(&self) -> Vec<RtpMap> {
        self.attributes_named("rtpmap")
            .filter_map(|a| RtpMap::parse(a.value.as_deref()?))
            .collect()
    }

    /// The format parameters of `a=fmtp:<pt> <params>`.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        let key = pt.to_string();
        self.attributes
            .iter()
            .find_map(|a| pt_value(a, "fmtp", &key))
    }

    /// The `a=rtcp-fb` values for a payload type (without the `<pt> ` prefix),
    /// including the `*` wildcard ones.
    pub fn rtcp_fb(&self, pt: u8) -> Vec<&str> {
        let key = pt.to_string();
        self.attributes
            .iter()
            .filter_map(|a| pt_value(a, "rtcp-fb", &key).or_else(|| pt_value(a, "rtcp-fb", "*")))
            .collect()
    }

    /// Formats that are numeric payload types, in `m=` order.
    pub fn payload_types(&self) -> Vec<u8> {
        self.formats.iter().filter_map(|f| f.parse().ok()).collect()
    }

    /// The direction attribute of this section, if it has one.
    pub fn explicit_direction(&self) -> Option<Direction> {
        direction_in(&self.attributes)
    }

    /// This section's direction, else `session_default` (usually
    /// [`SessionDescription::direction`]).
    pub fn direction_or(&self, session_default: Direction) -> Direction {
        self.explicit_direction().unwrap_or(session_default)
    }

    /// `a=rtcp` (RFC 3605); `None` when absent or malformed.
    pub fn rtcp(&self) -> Option<RtcpAttr> {
        RtcpAttr::parse(self.attribute_value("rtcp")?)
    }

    /// `a=rtcp-mux` (RFC 5761).
    pub fn rtcp_mux(&self) -> bool {
        self.has_attribute("rtcp-mux")
    }

    /// Every well-formed `a=crypto` line (one per offered suite).
    pub fn crypto(&self) -> Vec<Crypto> {
        self.attributes_named("crypto")
            .filter_map(|a| Crypto::parse(a.value.as_deref()?))
            .collect()
    }

    /// `a=setup` of this section.
    pub fn setup(&self) -> Option<Setup> {
        Setup::parse(self.attribute_value("setup")?)
    }

    /// `a=fingerprint` of this section.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        Fingerprint::parse(self.attribute_value("fingerprint")?)
    }

    /// `a=mid` (RFC 5888).
    pub fn mid(&self) -> Option<&str> {
        self.attribute_value("mid")
    }

    /// Value of a `b=` line of this section; type compared case-insensitively.
    pub fn bandwidth(&self, bwtype: &str) -> Option<u64> {
        bandwidth_in(&self.bandwidths, bwtype)
    }

    /// First media-level `c=`.
    pub fn connection(&self) -> Option<&Connection> {
        self.connections.first()
    }

    /// Port 0: the stream was rejected or disabled.
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }
}

impl SessionDescription {
    /// First session-level attribute with this name.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        find(&self.attributes, name)
    }

    /// Value of the first session-level attribute with this name.
    pub fn attribute_value(&self, name: &str) -> Option<&str> {
        self.attribute(name).and_then(|a| a.value.as_deref())
    }

    pub fn has_attribute(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }

    /// Session-level direction, `sendrecv` when absent.
    pub fn direction(&self) -> Direction {
        direction_in(&self.attributes).unwrap_or(Direction::SendRecv)
    }

    /// A media section's direction, falling back to the session level.
    pub fn media_direction(&self, media: &MediaDescription) -> Direction {
        media.direction_or(self.direction())
    }

    /// Session-level `a=fingerprint`.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        Fingerprint::parse(self.attribute_value("fingerprint")?)
    }

    /// A media section's fingerprint, falling back to the session level.
    pub fn media_fingerprint(&self, media: &MediaDescription) -> Option<Fingerprint> {
        media.fingerprint().or_else(|| self.fingerprint())
    }

    /// Session-level `a=setup`.
    pub fn setup(&self) -> Option<Setup> {
        Setup::parse(self.attribute_value("setup")?)
    }

    /// A media section's setup role, falling back to the session level.
    pub fn media_setup(&self, media: &MediaDescription) -> Option<Setup> {
        media.setup().or_else(|| self.setup())
    }

    /// Where a media section's RTP goes: its own `c=` or the session's.
    pub fn media_connection<'a>(&'a self, media: &'a MediaDescription) -> Option<&'a Connection> {
        media.connection().or(self.connection.as_ref())
    }

    /// Value of a session-level `b=` line.
    pub fn bandwidth(&self, bwtype: &str) -> Option<u64> {
        bandwidth_in(&self.bandwidths, bwtype)
    }
}

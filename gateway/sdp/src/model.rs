use std::fmt;
use std::net::IpAddr;

use crate::attributes::SecretKeyParams;

/// A whole session description (RFC 8866 §5).
///
/// Fields are public: the model is plain data, and the invariants that the
/// parser enforces (bounded counts, tokens without whitespace) are the
/// caller's to keep when building one by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `v=`; always 0 in practice.
    pub version: u32,
    pub origin: Origin,
    /// `s=`. Empty is serialized as `s= `, the form RFC 8866 recommends for
    /// a session without a name.
    pub session_name: String,
    /// `i=`
    pub information: Option<String>,
    /// `u=`
    pub uri: Option<String>,
    /// `e=` lines
    pub emails: Vec<String>,
    /// `p=` lines
    pub phones: Vec<String>,
    /// Session-level `c=`.
    pub connection: Option<Connection>,
    /// Session-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines with their `r=` lines. Serialized as `t=0 0` when empty.
    pub timings: Vec<Timing>,
    /// `z=` line, kept raw.
    pub time_zones: Option<String>,
    /// Session-level `k=` (obsolete, kept raw; may hold a clear key, so
    /// its `Debug` is redacted).
    pub key: Option<SecretKeyParams>,
    /// Session-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
    /// `m=` sections, in order.
    pub media: Vec<MediaDescription>,
}

/// The `o=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    /// Kept as text: some implementations use more digits than fit a u64.
    pub session_id: String,
    pub session_version: u64,
    pub nettype: String,
    pub addrtype: String,
    pub address: String,
}

/// A `c=` line. `address` is kept as written, so multicast suffixes
/// (`/ttl/count`) and host names survive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub nettype: String,
    pub addrtype: String,
    pub address: String,
}

/// A `b=<type>:<kbps or bps>` line. The unit depends on the type: kbit/s for
/// AS and CT, bit/s for TIAS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    pub bwtype: String,
    pub value: u64,
}

/// A `t=` line and the `r=` lines that follow it (kept raw).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub start: u64,
    pub stop: u64,
    pub repeats: Vec<String>,
}

/// An `a=` line: `a=name` (flag, `value == None`) or `a=name:value`.
#[derive(Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: Option<String>,
}

/// One `m=` section (RFC 8866 §5.14 and the lines that follow it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, `application`, `text`, `message`, ...
    pub media: String,
    /// 0 marks a rejected or disabled stream.
    pub port: u16,
    /// The `/2` of `49170/2`.
    pub port_count: Option<u16>,
    /// `RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`, `UDP/BFCP`, `TCP/TLS/BFCP`, ...
    pub proto: String,
    /// Payload types for RTP, or whatever the protocol puts there (`*` for BFCP).
    pub formats: Vec<String>,
    /// `i=`
    pub information: Option<String>,
    /// Media-level `c=` lines (more than one only for layered multicast).
    pub connections: Vec<Connection>,
    /// Media-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// Media-level `k=` (obsolete, kept raw, `Debug` redacted).
    pub key: Option<SecretKeyParams>,
    /// Media-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// A section with no `i=`, `c=`, `b=`, `k=` or `a=` lines yet.
    pub fn new(
        media: impl Into<String>,
        port: u16,
        proto: impl Into<String>,
        formats: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        MediaDescription {
            media: media.into(),
            port,
            port_count: None,
            proto: proto.into(),
            formats: formats.into_iter().map(Into::into).collect(),
            information: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: Vec::new(),
        }
    }
}

impl Attribute {
    pub fn new(name: impl Into<String>, value: Option<String>) -> Self {
        Attribute {
            name: name.into(),
            value,
        }
    }

    /// A property attribute without a value, such as `a=rtcp-mux`.
    pub fn flag(name: impl Into<String>) -> Self {
        Attribute::new(name, None)
    }

    /// A value attribute, such as `a=mid:0`.
    pub fn value(name: impl Into<String>, value: impl Into<String>) -> Self {
        Attribute::new(name, Some(value.into()))
    }

    /// How many leading space-separated words of the value may be shown in
    /// logs; `None` when the value carries no secret. SDES keys (`crypto`),
    /// MIKEY payloads (`key-mgmt`) and ICE passwords must not be logged.
    fn visible_words(&self) -> Option<usize> {
        let n = self.name.as_str();
        if n.eq_ignore_ascii_case("crypto") {
            Some(2) // tag and suite help debugging
        } else if n.eq_ignore_ascii_case("key-mgmt") {
            Some(1) // protocol id
        } else if n.eq_ignore_ascii_case("ice-pwd") {
            Some(0)
        } else {
            None
        }
    }
}

// Debug output is what ends up in logs; keys must not (the
// classified-meeting rule: keys never appear in logs).
impl fmt::Debug for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Attribute");
        d.field("name", &self.name);
        match (&self.value, self.visible_words()) {
            (Some(v), Some(words)) => {
                // A word with ':' may be key material (`inline:...`) even in
                // a malformed value, so the shown prefix stops before one.
                let mut shown: Vec<&str> = v
                    .split(' ')
                    .take(words)
                    .take_while(|w| !w.contains(':'))
                    .collect();
                shown.push("<redacted>");
                d.field("value", &Some(shown.join(" ")))
            }
            (other, _) => d.field("value", other),
        };
        d.finish()
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "a={}:{}", self.name, v),
            None => write!(f, "a={}", self.name),
        }
    }
}

impl Connection {
    /// `IN IP4 <ip>` or `IN IP6 <ip>`.
    pub fn new(ip: IpAddr) -> Self {
        Connection {
            nettype: "IN".into(),
            addrtype: addrtype_of(ip).into(),
            address: ip.to_string(),
        }
    }

    /// The address as an IP, when it is one (not a host name); a multicast
    /// `/ttl` suffix is ignored.
    pub fn ip(&self) -> Option<IpAddr> {
        let base = self.address.split('/').next().unwrap_or("");
        base.parse().ok()
    }
}

pub(crate) fn addrtype_of(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

impl Bandwidth {
    pub fn new(bwtype: impl Into<String>, value: u64) -> Self {
        Bandwidth {
            bwtype: bwtype.into(),
            value,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "o={} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.nettype,
            self.addrtype,
            self.address
        )
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c={} {} {}", self.nettype, self.addrtype, self.address)
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b={}:{}", self.bwtype, self.value)
    }
}

impl fmt::Display for MediaDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(n) = self.port_count {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.proto)?;
        for fmt_ in &self.formats {
            write!(f, " {fmt_}")?;
        }
        f.write_str("\r\n")?;
        if let Some(i) = &self.information {
            write!(f, "i={i}\r\n")?;
        }
        for c in &self.connections {
            write!(f, "{c}\r\n")?;
        }
        for b in &self.bandwidths {
            write!(f, "{b}\r\n")?;
        }
        if let Some(k) = &self.key {
            write!(f, "k={}\r\n", k.expose())?;
        }
        for a in &self.attributes {
            write!(f, "{a}\r\n")?;
        }
        Ok(())
    }
}

/// Serializes in RFC 8866 order with CRLF line ends.
impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v={}\r\n{}\r\n", self.version, self.origin)?;
        if self.session_name.is_empty() {
            f.write_str("s= \r\n")?;
        } else {
            write!(f, "s={}\r\n", self.session_name)?;
        }
        if let Some(i) = &self.information {
            write!(f, "i={i}\r\n")?;
        }
        if let Some(u) = &self.uri {
            write!(f, "u={u}\r\n")?;
        }
        for e in &self.emails {
            write!(f, "e={e}\r\n")?;
        }
        for p in &self.phones {
            write!(f, "p={p}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write!(f, "{c}\r\n")?;
        }
        for b in &self.bandwidths {
            write!(f, "{b}\r\n")?;
        }
        if self.timings.is_empty() {
            f.write_str("t=0 0\r\n")?;
        }
        for t in &self.timings {
            write!(f, "t={} {}\r\n", t.start, t.stop)?;
            for r in &t.repeats {
                write!(f, "r={r}\r\n")?;
            }
        }
        if let Some(z) = &self.time_zones {
            write!(f, "z={z}\r\n")?;
        }
        if let Some(k) = &self.key {
            write!(f, "k={}\r\n", k.expose())?;
        }
        for a in &self.attributes {
            write!(f, "{a}\r\n")?;
        }
        for m in &self.media {
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

//! Typed views of the headers every layer needs, parsed on demand from raw
//! header values. OWNER: parser helper.

use crate::error::ParseError;
use crate::message::Method;
use crate::uri::Uri;

/// Generic `;name=value` parameters; names keep their case and are matched
/// case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, Option<String>)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
    pub fn set(&mut self, name: &str, value: Option<String>) {
        if let Some(p) = self.0.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            p.1 = value;
        } else {
            self.0.push((name.to_string(), value));
        }
    }
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

/// One Via value: `SIP/2.0/UDP host:port;branch=...;rport;received=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Uppercased transport: UDP, TCP, TLS, SCTP, WS, WSS.
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn parse(_value: &str) -> Result<Via, ParseError> {
        todo!("parser helper")
    }
    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch").flatten()
    }
}

impl std::fmt::Display for Via {
    fn fmt(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        todo!("parser helper")
    }
}

/// `"Display" <uri>;tag=...` as in From, To, Contact, Route, Record-Route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    pub display: Option<String>,
    pub uri: Uri,
    pub params: Params,
}

impl NameAddr {
    pub fn parse(_value: &str) -> Result<NameAddr, ParseError> {
        todo!("parser helper")
    }
    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag").flatten()
    }
}

impl std::fmt::Display for NameAddr {
    fn fmt(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        todo!("parser helper")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    pub fn parse(_value: &str) -> Result<CSeq, ParseError> {
        todo!("parser helper")
    }
}

impl std::fmt::Display for CSeq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

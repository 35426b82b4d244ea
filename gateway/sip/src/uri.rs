//! SIP, SIPS and tel URIs (RFC 3261 19.1, RFC 3966).
//! OWNER: parser helper. The public shape below is relied on by other layers.

use crate::error::ParseError;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
    Other(String),
}

/// A parsed URI. `host` keeps IPv6 references with their brackets
/// (`[2001:db8::1]`). For `tel:` URIs the number is in `user` and `host` is
/// empty. Parameter names keep their case; values keep their escaping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    pub scheme: Scheme,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub params: Vec<(String, Option<String>)>,
    pub headers: Vec<(String, String)>,
}

impl Uri {
    pub fn parse(_s: &str) -> Result<Uri, ParseError> {
        todo!("parser helper")
    }

    /// The value of a URI parameter, matched case-insensitively. `Some(None)`
    /// for a flag parameter such as `;lr`.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// `transport` parameter, lowercased, if present.
    pub fn transport(&self) -> Option<String> {
        self.param("transport").flatten().map(|t| t.to_ascii_lowercase())
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!("parser helper")
    }
}

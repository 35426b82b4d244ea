//! The SIP message model shared by every layer above the parser.
//!
//! Headers are kept as (name, raw value) pairs in arrival order, so that a
//! header we do not understand is passed through byte-exact. Typed views
//! (`Via`, `NameAddr`, `CSeq`, ...) are parsed on demand from the raw value by
//! the accessors in `headers.rs`; a B2BUA touches only a handful of headers
//! per message, so parsing every header eagerly would be wasted work.
//!
//! Multi-valued headers that the stack must edit one value at a time (Via,
//! Route, Record-Route, Contact) are split into one entry per value by the
//! parser; all other headers keep their line as received.

use std::fmt;

/// A SIP method. Unknown extension methods are kept by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Prack,
    Update,
    Info,
    Subscribe,
    Notify,
    Refer,
    Message,
    Publish,
    Other(String),
}

impl Method {
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Prack => "PRACK",
            Method::Update => "UPDATE",
            Method::Info => "INFO",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }

    /// Methods are case-sensitive tokens (RFC 3261 7.1).
    pub fn from_token(s: &str) -> Method {
        match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "PRACK" => Method::Prack,
            "UPDATE" => Method::Update,
            "INFO" => Method::Info,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            other => Method::Other(other.to_string()),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A header name. Known headers are recognised in both their long and
/// compact forms and case-insensitively; they serialize in their long form.
/// Unknown headers keep the exact spelling they arrived with, and compare
/// (and hash) case-insensitively like every header name. Build names from
/// text with `HeaderName::parse` (or `From<&str>`), so that `"v"` or `"via"`
/// becomes `Via` rather than `Other`.
#[derive(Debug, Clone)]
pub enum HeaderName {
    Via,
    From,
    To,
    CallId,
    CSeq,
    Contact,
    MaxForwards,
    Route,
    RecordRoute,
    ContentLength,
    ContentType,
    ContentEncoding,
    ContentDisposition,
    Expires,
    MinExpires,
    Authorization,
    WwwAuthenticate,
    ProxyAuthorization,
    ProxyAuthenticate,
    Allow,
    Supported,
    Require,
    ProxyRequire,
    Unsupported,
    UserAgent,
    Server,
    Subject,
    Event,
    ReferTo,
    ReferredBy,
    SessionExpires,
    MinSE,
    RSeq,
    RAck,
    Accept,
    AcceptEncoding,
    AcceptLanguage,
    AllowEvents,
    Date,
    Timestamp,
    Warning,
    RetryAfter,
    Reason,
    PAssertedIdentity,
    Privacy,
    Path,
    Other(String),
}

impl HeaderName {
    /// Recognise a header name as received (long or compact form, any case).
    pub fn parse(name: &str) -> HeaderName {
        // Compact forms (RFC 3261 7.3.3 and extensions).
        if name.len() == 1 {
            match name.as_bytes()[0].to_ascii_lowercase() {
                b'v' => return HeaderName::Via,
                b'f' => return HeaderName::From,
                b't' => return HeaderName::To,
                b'i' => return HeaderName::CallId,
                b'm' => return HeaderName::Contact,
                b'l' => return HeaderName::ContentLength,
                b'c' => return HeaderName::ContentType,
                b'e' => return HeaderName::ContentEncoding,
                b'k' => return HeaderName::Supported,
                b's' => return HeaderName::Subject,
                b'o' => return HeaderName::Event,
                b'r' => return HeaderName::ReferTo,
                b'b' => return HeaderName::ReferredBy,
                b'x' => return HeaderName::SessionExpires,
                b'u' => return HeaderName::AllowEvents,
                _ => return HeaderName::Other(name.to_string()),
            }
        }
        // Dispatch on length first: one or two comparisons per name.
        let known = KNOWN_BY_LEN
            .get(name.len())
            .and_then(|names| names.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)));
        match known {
            Some((_, h)) => h.clone(),
            None => HeaderName::Other(name.to_string()),
        }
    }

    /// Whether a raw header name is Content-Length (long or compact form);
    /// used by stream framing before any header is parsed.
    pub(crate) fn parse_is_content_length(name: &[u8]) -> bool {
        name.eq_ignore_ascii_case(b"Content-Length") || name.eq_ignore_ascii_case(b"l")
    }

    /// The spelling used when serializing.
    pub fn as_str(&self) -> &str {
        match self {
            HeaderName::Via => "Via",
            HeaderName::From => "From",
            HeaderName::To => "To",
            HeaderName::CallId => "Call-ID",
            HeaderName::CSeq => "CSeq",
            HeaderName::Contact => "Contact",
            HeaderName::MaxForwards => "Max-Forwards",
            HeaderName::Route => "Route",
            HeaderName::RecordRoute => "Record-Route",
            HeaderName::ContentLength => "Content-Length",
            HeaderName::ContentType => "Content-Type",
            HeaderName::ContentEncoding => "Content-Encoding",
            HeaderName::ContentDisposition => "Content-Disposition",
            HeaderName::Expires => "Expires",
            HeaderName::MinExpires => "Min-Expires",
            HeaderName::Authorization => "Authorization",
            HeaderName::WwwAuthenticate => "WWW-Authenticate",
            HeaderName::ProxyAuthorization => "Proxy-Authorization",
            HeaderName::ProxyAuthenticate => "Proxy-Authenticate",
            HeaderName::Allow => "Allow",
            HeaderName::Supported => "Supported",
            HeaderName::Require => "Require",
            HeaderName::ProxyRequire => "Proxy-Require",
            HeaderName::Unsupported => "Unsupported",
            HeaderName::UserAgent => "User-Agent",
            HeaderName::Server => "Server",
            HeaderName::Subject => "Subject",
            HeaderName::Event => "Event",
            HeaderName::ReferTo => "Refer-To",
            HeaderName::ReferredBy => "Referred-By",
            HeaderName::SessionExpires => "Session-Expires",
            HeaderName::MinSE => "Min-SE",
            HeaderName::RSeq => "RSeq",
            HeaderName::RAck => "RAck",
            HeaderName::Accept => "Accept",
            HeaderName::AcceptEncoding => "Accept-Encoding",
            HeaderName::AcceptLanguage => "Accept-Language",
            HeaderName::AllowEvents => "Allow-Events",
            HeaderName::Date => "Date",
            HeaderName::Timestamp => "Timestamp",
            HeaderName::Warning => "Warning",
            HeaderName::RetryAfter => "Retry-After",
            HeaderName::Reason => "Reason",
            HeaderName::PAssertedIdentity => "P-Asserted-Identity",
            HeaderName::Privacy => "Privacy",
            HeaderName::Path => "Path",
            HeaderName::Other(s) => s,
        }
    }

    /// Headers whose comma-separated values the parser splits into one entry
    /// per value.
    pub fn is_split_on_comma(&self) -> bool {
        matches!(
            self,
            HeaderName::Via
                | HeaderName::Route
                | HeaderName::RecordRoute
                | HeaderName::Contact
                | HeaderName::Path
        )
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &HeaderName) -> bool {
        match (self, other) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Eq for HeaderName {}

impl std::hash::Hash for HeaderName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        if let HeaderName::Other(name) = self {
            for b in name.bytes() {
                state.write_u8(b.to_ascii_lowercase());
            }
        }
    }
}

impl From<&str> for HeaderName {
    fn from(name: &str) -> HeaderName {
        HeaderName::parse(name)
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Known long header names, indexed by length.
static KNOWN_BY_LEN: [&[(&str, HeaderName)]; 20] = [
    &[],
    &[],
    &[("To", HeaderName::To)],
    &[("Via", HeaderName::Via)],
    &[
        ("From", HeaderName::From),
        ("CSeq", HeaderName::CSeq),
        ("RSeq", HeaderName::RSeq),
        ("RAck", HeaderName::RAck),
        ("Date", HeaderName::Date),
        ("Path", HeaderName::Path),
    ],
    &[
        ("Route", HeaderName::Route),
        ("Allow", HeaderName::Allow),
        ("Event", HeaderName::Event),
    ],
    &[
        ("Server", HeaderName::Server),
        ("Min-SE", HeaderName::MinSE),
        ("Accept", HeaderName::Accept),
        ("Reason", HeaderName::Reason),
    ],
    &[
        ("Call-ID", HeaderName::CallId),
        ("Contact", HeaderName::Contact),
        ("Expires", HeaderName::Expires),
        ("Require", HeaderName::Require),
        ("Subject", HeaderName::Subject),
        ("Warning", HeaderName::Warning),
        ("Privacy", HeaderName::Privacy),
    ],
    &[("Refer-To", HeaderName::ReferTo)],
    &[
        ("Supported", HeaderName::Supported),
        ("Timestamp", HeaderName::Timestamp),
    ],
    &[("User-Agent", HeaderName::UserAgent)],
    &[
        ("Min-Expires", HeaderName::MinExpires),
        ("Unsupported", HeaderName::Unsupported),
        ("Referred-By", HeaderName::ReferredBy),
        ("Retry-After", HeaderName::RetryAfter),
    ],
    &[
        ("Max-Forwards", HeaderName::MaxForwards),
        ("Record-Route", HeaderName::RecordRoute),
        ("Content-Type", HeaderName::ContentType),
        ("Allow-Events", HeaderName::AllowEvents),
    ],
    &[
        ("Authorization", HeaderName::Authorization),
        ("Proxy-Require", HeaderName::ProxyRequire),
    ],
    &[("Content-Length", HeaderName::ContentLength)],
    &[
        ("Session-Expires", HeaderName::SessionExpires),
        ("Accept-Encoding", HeaderName::AcceptEncoding),
        ("Accept-Language", HeaderName::AcceptLanguage),
    ],
    &[
        ("Content-Encoding", HeaderName::ContentEncoding),
        ("WWW-Authenticate", HeaderName::WwwAuthenticate),
    ],
    &[],
    &[("Proxy-Authenticate", HeaderName::ProxyAuthenticate)],
    &[
        ("Content-Disposition", HeaderName::ContentDisposition),
        ("Proxy-Authorization", HeaderName::ProxyAuthorization),
        ("P-Asserted-Identity", HeaderName::PAssertedIdentity),
    ],
];

/// One header line (or one value of a split multi-valued header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    /// The value with leading/trailing whitespace trimmed and line folding
    /// (CRLF followed by whitespace) replaced by a single space. Otherwise
    /// exactly as received.
    pub value: String,
}

impl Header {
    pub fn new(name: HeaderName, value: impl Into<String>) -> Header {
        Header {
            name,
            value: value.into(),
        }
    }
}

/// The ordered header list of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.0
            .iter()
            .find(|h| &h.name == name)
            .map(|h| h.value.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |h| &h.name == name)
            .map(|h| h.value.as_str())
    }

    pub fn contains(&self, name: &HeaderName) -> bool {
        self.0.iter().any(|h| &h.name == name)
    }

    /// Append a header at the end.
    pub fn push(&mut self, name: HeaderName, value: impl Into<String>) {
        self.0.push(Header::new(name, value));
    }

    /// Insert before the first existing header of the same name (or at the
    /// end if none): this is how a Via or Record-Route is prepended.
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<String>) {
        let at = self
            .0
            .iter()
            .position(|h| h.name == name)
            .unwrap_or(self.0.len());
        self.0.insert(at, Header::new(name, value));
    }

    /// Replace every value of `name` by one value (appended if absent).
    pub fn set(&mut self, name: HeaderName, value: impl Into<String>) {
        let value = value.into();
        if let Some(first) = self.0.iter().position(|h| h.name == name) {
            self.0[first].value = value;
            let mut i = 0usize;
            self.0.retain(|h| {
                let keep = i <= first || h.name != name;
                i += 1;
                keep
            });
        } else {
            self.0.push(Header::new(name, value));
        }
    }

    /// Remove every value of `name`; returns how many were removed.
    pub fn remove(&mut self, name: &HeaderName) -> usize {
        let before = self.0.len();
        self.0.retain(|h| &h.name != name);
        before - self.0.len()
    }

    /// Remove and return the first value of `name`.
    pub fn remove_first(&mut self, name: &HeaderName) -> Option<String> {
        let at = self.0.iter().position(|h| &h.name == name)?;
        Some(self.0.remove(at).value)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    /// The comma-separated elements of every value of `name`, trimmed
    /// (Require, Supported, Allow, Accept, ...). Commas inside quoted
    /// strings do not separate; empty elements are skipped.
    pub fn tokens<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name)
            .flat_map(|v| crate::parse::scan::CommaList::new(v).filter_map(Result::ok))
    }
}

/// The SIP version on the start line; only 2.0 is accepted by the parser.
pub const SIP_VERSION: &str = "SIP/2.0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The Request-URI as a parsed URI (see `uri.rs`).
    pub uri: crate::uri::Uri,
    pub headers: Headers,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Message {
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }

    pub fn body(&self) -> &[u8] {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }
}

/// Default reason phrases for the status codes this gateway sends.
pub fn default_reason(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "Unknown",
    }
}

/// Typed accessors shared by requests and responses. Each parses the raw
/// value on demand; a message that came through `parse_message` is known to
/// have well-formed Via, From, To, Call-ID and CSeq, so those only fail on
/// messages built by hand.
macro_rules! typed_accessors {
    ($t:ty) => {
        impl $t {
            /// The Call-ID value.
            pub fn call_id(&self) -> Result<&str, ParseError> {
                self.headers
                    .get(&HeaderName::CallId)
                    .ok_or(ParseError::Missing("Call-ID"))
            }

            pub fn cseq(&self) -> Result<CSeq, ParseError> {
                CSeq::parse(
                    self.headers
                        .get(&HeaderName::CSeq)
                        .ok_or(ParseError::Missing("CSeq"))?,
                )
            }

            /// The topmost Via value.
            pub fn top_via(&self) -> Result<Via, ParseError> {
                Via::parse(
                    self.headers
                        .get(&HeaderName::Via)
                        .ok_or(ParseError::Missing("Via"))?,
                )
                .map_err(|_| ParseError::Header("Via".into()))
            }

            /// Every Via value, top first.
            pub fn vias(&self) -> Result<Vec<Via>, ParseError> {
                self.headers
                    .get_all(&HeaderName::Via)
                    .map(|v| Via::parse(v).map_err(|_| ParseError::Header("Via".into())))
                    .collect()
            }

            pub fn from(&self) -> Result<NameAddr, ParseError> {
                name_addr_of(&self.headers, HeaderName::From, "From")
            }

            pub fn to(&self) -> Result<NameAddr, ParseError> {
                name_addr_of(&self.headers, HeaderName::To, "To")
            }

            /// Every Contact address, in order. A `Contact: *` (only
            /// meaningful in a REGISTER) is the distinct error
            /// `ParseError::WildcardContact`; check `contact_is_wildcard`
            /// first where it is allowed. No Contact gives an empty list.
            pub fn contacts(&self) -> Result<Vec<NameAddr>, ParseError> {
                if self.contact_is_wildcard() {
                    return Err(ParseError::WildcardContact);
                }
                self.headers
                    .get_all(&HeaderName::Contact)
                    .map(|c| NameAddr::parse(c).map_err(|_| ParseError::Header("Contact".into())))
                    .collect()
            }

            /// Whether the Contact header is `*` (RFC 3261 10.2.2).
            pub fn contact_is_wildcard(&self) -> bool {
                self.headers.get_all(&HeaderName::Contact).any(|c| c == "*")
            }

            /// Max-Forwards, 70 when absent (RFC 3261 8.1.1.6).
            pub fn max_forwards(&self) -> Result<u32, ParseError> {
                match self.headers.get(&HeaderName::MaxForwards) {
                    None => Ok(crate::parse::DEFAULT_MAX_FORWARDS),
                    Some(v) => delta_seconds(v).ok_or(ParseError::Header("Max-Forwards".into())),
                }
            }

            /// The Expires header in seconds, if present.
            pub fn expires(&self) -> Result<Option<u32>, ParseError> {
                self.headers
                    .get(&HeaderName::Expires)
                    .map(|v| delta_seconds(v).ok_or(ParseError::Header("Expires".into())))
                    .transpose()
            }

            /// The Content-Type value as received (media type and parameters).
            pub fn content_type(&self) -> Option<&str> {
                self.headers.get(&HeaderName::ContentType)
            }

            /// Whether the body is of `media_type` (`type/subtype`, compared
            /// case-insensitively, parameters ignored).
            pub fn has_content_type(&self, media_type: &str) -> bool {
                self.content_type().is_some_and(|ct| {
                    let bare = ct.split(';').next().unwrap_or("");
                    bare.trim().eq_ignore_ascii_case(media_type)
                })
            }

            /// Route values, top first.
            pub fn routes(&self) -> Result<Vec<NameAddr>, ParseError> {
                name_addrs_of(&self.headers, HeaderName::Route, "Route")
            }

            /// Record-Route values, top first.
            pub fn record_routes(&self) -> Result<Vec<NameAddr>, ParseError> {
                name_addrs_of(&self.headers, HeaderName::RecordRoute, "Record-Route")
            }
        }
    };
}

use crate::error::ParseError;
use crate::headers::{CSeq, NameAddr, Via};

typed_accessors!(Request);
typed_accessors!(Response);

fn name_addr_of(
    headers: &Headers,
    name: HeaderName,
    label: &'static str,
) -> Result<NameAddr, ParseError> {
    let v = headers.get(&name).ok_or(ParseError::Missing(label))?;
    NameAddr::parse(v).map_err(|_| ParseError::Header(label.into()))
}

fn name_addrs_of(
    headers: &Headers,
    name: HeaderName,
    label: &'static str,
) -> Result<Vec<NameAddr>, ParseError> {
    headers
        .get_all(&name)
        .map(|v| NameAddr::parse(v).map_err(|_| ParseError::Header(label.into())))
        .collect()
}

/// delta-seconds = 1*DIGIT; values past u32 saturate as RFC 3261 20.19
/// allows for Expires.
fn delta_seconds(v: &str) -> Option<u32> {
    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(
        v.parse::<u64>()
            .map_or(u32::MAX, |n| n.min(u32::MAX as u64) as u32),
    )
}

impl Request {
    /// A request with no headers and no body; add headers with `header`.
    pub fn new(method: Method, uri: crate::uri::Uri) -> Request {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// Append a header (builder style).
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Request {
        self.headers.push(name, value);
        self
    }

    /// Set the body and its Content-Type (builder style). Content-Length is
    /// written by the serializer.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Request {
        self.headers.set(HeaderName::ContentType, content_type);
        self.body = body.into();
        self
    }
}

impl Response {
    /// A response to `req` per RFC 3261 8.2.6: every Via, From, To, Call-ID
    /// and CSeq copied in their order, nothing else. The caller adds a To
    /// tag where the response needs one.
    pub fn from_request(req: &Request, status: u16, reason: impl Into<String>) -> Response {
        let copied = req.headers.iter().filter(|h| {
            matches!(
                h.name,
                HeaderName::Via
                    | HeaderName::From
                    | HeaderName::To
                    | HeaderName::CallId
                    | HeaderName::CSeq
            )
        });
        let mut headers = Headers(Vec::with_capacity(req.headers.0.len().min(16)));
        headers.0.extend(copied.cloned());
        Response {
            status,
            reason: reason.into(),
            headers,
            body: Vec::new(),
        }
    }

    /// Append a header (builder style).
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Response {
        self.headers.push(name, value);
        self
    }

    /// Whether this is a provisional (1xx) response.
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }
}

impl Message {
    pub fn is_request(&self) -> bool {
        matches!(self, Message::Request(_))
    }

    pub fn call_id(&self) -> Result<&str, ParseError> {
        match self {
            Message::Request(r) => r.call_id(),
            Message::Response(r) => r.call_id(),
        }
    }

    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        match self {
            Message::Request(r) => r.cseq(),
            Message::Response(r) => r.cseq(),
        }
    }

    pub fn top_via(&self) -> Result<Via, ParseError> {
        match self {
            Message::Request(r) => r.top_via(),
            Message::Response(r) => r.top_via(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_message;

    const REGISTER: &[u8] = b"REGISTER sip:registrar.biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7\r\n\
Via: SIP/2.0/TCP proxy.biloxi.com;branch=z9hG4bK1\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Bob <sip:bob@biloxi.com>;tag=456248\r\n\
Call-ID: 843817637684230@998sdasdh09\r\n\
CSeq: 1826 REGISTER\r\n\
Contact: <sip:bob@192.0.2.4>;expires=60, \"Bob, mobile\" <sip:bob@192.0.2.5>\r\n\
Expires: 7200\r\n\
User-Agent: test\r\n\
Content-Length: 0\r\n\r\n";

    fn register() -> Request {
        match parse_message(REGISTER).unwrap() {
            Message::Request(r) => r,
            _ => unreachable!(),
        }
    }

    #[test]
    fn unknown_header_names_compare_case_insensitively() {
        use std::collections::hash_map::DefaultHasher;
        use std::hash::{Hash, Hasher};
        let hash = |h: &HeaderName| {
            let mut s = DefaultHasher::new();
            h.hash(&mut s);
            s.finish()
        };
        let a = HeaderName::parse("P-Preferred-Identity");
        let b = HeaderName::from("p-preferred-identity");
        assert_eq!(a, b);
        assert_eq!(hash(&a), hash(&b));
        assert_eq!(a.as_str(), "P-Preferred-Identity");
        assert_ne!(a, HeaderName::Other("P-Called-Party-ID".into()));
        assert_ne!(HeaderName::Via, HeaderName::Route);
        let mut headers = Headers::new();
        headers.push(a, "<sip:x@y>");
        assert_eq!(
            headers.get(&"P-PREFERRED-IDENTITY".into()),
            Some("<sip:x@y>")
        );
    }

    #[test]
    fn every_known_header_name_is_recognised_in_any_case() {
        let known = [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
            HeaderName::Contact,
            HeaderName::MaxForwards,
            HeaderName::Route,
            HeaderName::RecordRoute,
            HeaderName::ContentLength,
            HeaderName::ContentType,
            HeaderName::ContentEncoding,
            HeaderName::ContentDisposition,
            HeaderName::Expires,
            HeaderName::MinExpires,
            HeaderName::Authorization,
            HeaderName::WwwAuthenticate,
            HeaderName::ProxyAuthorization,
            HeaderName::ProxyAuthenticate,
            HeaderName::Allow,
            HeaderName::Supported,
            HeaderName::Require,
            HeaderName::ProxyRequire,
            HeaderName::Unsupported,
            HeaderName::UserAgent,
            HeaderName::Server,
            HeaderName::Subject,
            HeaderName::Event,
            HeaderName::ReferTo,
            HeaderName::ReferredBy,
            HeaderName::SessionExpires,
            HeaderName::MinSE,
            HeaderName::RSeq,
            HeaderName::RAck,
            HeaderName::Accept,
            HeaderName::AcceptEncoding,
            HeaderName::AcceptLanguage,
            HeaderName::AllowEvents,
            HeaderName::Date,
            HeaderName::Timestamp,
            HeaderName::Warning,
            HeaderName::RetryAfter,
            HeaderName::Reason,
            HeaderName::PAssertedIdentity,
            HeaderName::Privacy,
            HeaderName::Path,
        ];
        for h in known {
            assert_eq!(HeaderName::parse(h.as_str()), h);
            assert_eq!(HeaderName::parse(&h.as_str().to_ascii_lowercase()), h);
            assert_eq!(HeaderName::parse(&h.as_str().to_ascii_uppercase()), h);
        }
        assert_eq!(
            HeaderName::parse("X-Via"),
            HeaderName::Other("X-Via".into())
        );
        assert_eq!(HeaderName::parse("i"), HeaderName::CallId);
        assert_eq!(HeaderName::parse("a"), HeaderName::Other("a".into()));
    }

    #[test]
    fn typed_accessors_read_the_raw_headers() {
        let r = register();
        assert_eq!(r.call_id().unwrap(), "843817637684230@998sdasdh09");
        assert_eq!(
            r.cseq().unwrap(),
            CSeq {
                seq: 1826,
                method: Method::Register
            }
        );
        assert_eq!(r.top_via().unwrap().branch(), Some("z9hG4bKnashds7"));
        assert_eq!(r.vias().unwrap().len(), 2);
        assert_eq!(r.from().unwrap().tag(), Some("456248"));
        assert_eq!(r.to().unwrap().tag(), None);
        let c = r.contacts().unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].params.get("expires"), Some(Some("60")));
        assert_eq!(c[1].display.as_deref(), Some("Bob, mobile"));
        assert_eq!(r.max_forwards().unwrap(), 70);
        assert_eq!(r.expires().unwrap(), Some(7200));
        assert_eq!(r.content_type(), None);
    }

    #[test]
    fn routes_tokens_and_media_type() {
        let data = String::from_utf8(REGISTER.to_vec()).unwrap().replace(
            "User-Agent: test\r\n",
            "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
Record-Route: <sip:rr.example.com;lr>\r\n\
Supported: timer, 100rel\r\nSupported: path,,\r\n\
Content-Type: Application/SDP ; charset=utf-8\r\n",
        );
        let Message::Request(r) = parse_message(data.as_bytes()).unwrap() else {
            unreachable!()
        };
        let hosts: Vec<_> = r
            .routes()
            .unwrap()
            .into_iter()
            .map(|n| n.uri.host)
            .collect();
        assert_eq!(hosts, ["p1.example.com", "p2.example.com"]);
        assert_eq!(r.record_routes().unwrap()[0].uri.param("lr"), Some(None));
        let supported: Vec<_> = r.headers.tokens(&HeaderName::Supported).collect();
        assert_eq!(supported, ["timer", "100rel", "path"]);
        assert!(r.has_content_type("application/sdp"));
        assert!(!r.has_content_type("application/isup"));
    }

    #[test]
    fn contact_wildcard_is_distinct() {
        let data = String::from_utf8(REGISTER.to_vec()).unwrap().replace(
            "Contact: <sip:bob@192.0.2.4>;expires=60, \"Bob, mobile\" <sip:bob@192.0.2.5>",
            "Contact: *",
        );
        let Message::Request(r) = parse_message(data.as_bytes()).unwrap() else {
            unreachable!()
        };
        assert!(r.contact_is_wildcard());
        assert_eq!(r.contacts(), Err(ParseError::WildcardContact));
        assert!(!register().contact_is_wildcard());
    }

    #[test]
    fn response_from_request_copies_only_the_8_2_6_headers() {
        let r = register();
        let resp = Response::from_request(&r, 200, "OK");
        let names: Vec<_> = resp.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["Via", "Via", "To", "From", "Call-ID", "CSeq"]);
        assert_eq!(resp.cseq().unwrap().seq, 1826);
        let bytes = resp.to_bytes();
        let Message::Response(back) = parse_message(&bytes).unwrap() else {
            unreachable!()
        };
        assert_eq!(back.status, 200);
        assert_eq!(back.headers.get(&HeaderName::ContentLength), Some("0"));
    }

    #[test]
    fn built_request_serializes_and_parses() {
        let uri = crate::uri::Uri::sip(Some("bob"), "biloxi.com");
        let r = Request::new(Method::Invite, uri)
            .header(HeaderName::Via, "SIP/2.0/UDP h;branch=z9hG4bK1")
            .header(HeaderName::From, "<sip:a@b>;tag=1")
            .header(HeaderName::To, "<sip:bob@biloxi.com>")
            .header(HeaderName::CallId, "c1")
            .header(HeaderName::CSeq, "1 INVITE")
            .body("application/sdp", b"v=0\r\n".to_vec());
        let Message::Request(back) = parse_message(&r.to_bytes()).unwrap() else {
            unreachable!()
        };
        assert_eq!(back.content_type(), Some("application/sdp"));
        assert_eq!(back.body, b"v=0\r\n");
        assert_eq!(back.max_forwards().unwrap(), 70);
    }
}

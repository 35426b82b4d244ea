//! The SIP message parser (RFC 3261 7, 20 and 25).
//!
//! One pass over the bytes: find the start line, walk header lines with
//! `memchr`, unfold continuation lines, split the comma-list headers the
//! stack edits value by value, then take the body by Content-Length. Each
//! header value becomes one `String`; nothing else is allocated per header.
//!
//! The headers a transaction or dialog relies on (Via, From, To, Call-ID,
//! CSeq, Max-Forwards, Content-Length, Contact) are grammar-checked here,
//! without allocating, so that a message that parses can be answered and
//! routed; the others are carried verbatim and checked when someone reads
//! them.

use crate::error::ParseError;
use crate::headers::{cseq_parts, NameAddrRef, ViaRef};
use crate::message::{
    Header, HeaderName, Headers, Message, Method, Request, Response, SIP_VERSION,
};
use crate::uri::UriRef;
use memchr::memchr;
use std::fmt;

/// The largest message accepted, on any transport. A stream peer that sends
/// more before the end of a message is cut off with `TooLarge`.
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024;

/// Max-Forwards assumed when a request carries none (RFC 3261 8.1.1.6).
pub const DEFAULT_MAX_FORWARDS: u32 = 70;

/// Why a message did not parse, plus what could still be recovered of a
/// request so that the runtime can answer it with a 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFailure {
    pub error: ParseError,
    /// Present when the start line looked like a request line.
    pub partial: Option<PartialRequest>,
}

/// The raw values of the headers needed to build a response to a request
/// that failed to parse (RFC 3261 8.2.6), each as received (unfolded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartialRequest {
    /// The method token from the request line, as received.
    pub method: String,
    /// Every Via value, top first.
    pub vias: Vec<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub call_id: Option<String>,
    pub cseq: Option<String>,
}

impl ParseFailure {
    /// A `400 <error>` (or `505` for a bad version) answering the failed
    /// request, when enough of it was recovered: at least one Via, From,
    /// To, Call-ID and CSeq. `None` for responses, for ACKs (never
    /// answered), and for garbage.
    pub fn error_response(&self) -> Option<Response> {
        let p = self.partial.as_ref()?;
        if p.method == "ACK" || p.vias.is_empty() {
            return None;
        }
        let mut headers = Headers(Vec::with_capacity(p.vias.len() + 4));
        for v in &p.vias {
            headers.push(HeaderName::Via, v.as_str());
        }
        headers.push(HeaderName::From, p.from.as_deref()?);
        headers.push(HeaderName::To, p.to.as_deref()?);
        headers.push(HeaderName::CallId, p.call_id.as_deref()?);
        headers.push(HeaderName::CSeq, p.cseq.as_deref()?);
        let status = match self.error {
            ParseError::Version(_) => 505,
            ParseError::TooLarge => 513,
            _ => 400,
        };
        Some(Response {
            status,
            reason: self.error.to_string(),
            headers,
            body: Vec::new(),
        })
    }
}

impl fmt::Display for ParseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for ParseFailure {}

impl From<ParseFailure> for ParseError {
    fn from(f: ParseFailure) -> ParseError {
        f.error
    }
}

/// Parse one whole message: a datagram, or one frame cut by `frame_len`.
///
/// Without a Content-Length the rest of the input is the body (datagram
/// rule, RFC 3261 18.3); bytes beyond Content-Length are discarded.
///
/// ```
/// use gateway_sip::parse::{frame_len, parse_message};
/// let wire = b"OPTIONS sip:gw.example.com SIP/2.0\r\n\
/// Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1\r\n\
/// From: <sip:a@example.com>;tag=1\r\nTo: <sip:gw.example.com>\r\n\
/// Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
/// // A stream transport first asks how long the next message is...
/// let mut stream = b"\r\n\r\n".to_vec();
/// stream.extend_from_slice(wire);
/// let n = frame_len(&stream).unwrap().expect("a whole message");
/// // ...then parses exactly that frame.
/// let msg = parse_message(&stream[..n]).unwrap();
/// assert_eq!(msg.call_id().unwrap(), "c1");
///
/// // A request that fails to parse can still be answered.
/// let bad = b"OPTIONS sip:gw.example.com SIP/2.0\r\n\
/// Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK2\r\n\
/// From: <sip:a@example.com>;tag=1\r\nTo: <sip:gw.example.com>\r\n\
/// Call-ID: c2\r\nCSeq: one OPTIONS\r\n\r\n";
/// let failure = parse_message(bad).unwrap_err();
/// let answer = failure.error_response().unwrap();
/// assert_eq!((answer.status, answer.reason.as_str()), (400, "malformed CSeq header"));
/// ```
// The failure carries the salvaged headers by value: it is built only on
// the error path, so its size costs nothing on the hot path.
#[allow(clippy::result_large_err)]
pub fn parse_message(data: &[u8]) -> Result<Message, ParseFailure> {
    parse_inner(data).map_err(|error| ParseFailure {
        partial: salvage_request(data),
        error,
    })
}

/// How many bytes the next message on a stream takes (leading CRLF
/// keep-alives included), or `None` if more bytes are needed.
///
/// A stream message must carry Content-Length (RFC 3261 18.3); one without
/// is taken to have no body.
pub fn frame_len(data: &[u8]) -> Result<Option<usize>, ParseError> {
    let start = keepalive_len(data);
    let Some(head_len) = find_head_end(&data[start..]) else {
        if data.len() > MAX_MESSAGE_SIZE {
            return Err(ParseError::TooLarge);
        }
        return Ok(None);
    };
    let head = &data[start..start + head_len];
    let body_len = scan_content_length(head)?.unwrap_or(0);
    let total = start
        .checked_add(head_len)
        .and_then(|n| n.checked_add(body_len))
        .ok_or(ParseError::TooLarge)?;
    if total - start > MAX_MESSAGE_SIZE {
        return Err(ParseError::TooLarge);
    }
    Ok((data.len() >= total).then_some(total))
}

/// The number of leading CR/LF bytes: keep-alives (RFC 5626 4.4.1) that
/// precede or replace a message on a connection.
pub fn keepalive_len(data: &[u8]) -> usize {
    data.iter()
        .position(|&c| c != b'\r' && c != b'\n')
        .unwrap_or(data.len())
}

/// Length of the start line and headers including the empty line that ends
/// them. Lines end in CRLF; a bare LF is tolerated.
pub(crate) fn find_head_end(data: &[u8]) -> Option<usize> {
    let mut pos = 0;
    while let Some(nl) = memchr(b'\n', &data[pos..]) {
        let line_end = pos + nl + 1;
        match &data[line_end..] {
            [b'\n', ..] => return Some(line_end + 1),
            [b'\r', b'\n', ..] => return Some(line_end + 2),
            _ => pos = line_end,
        }
    }
    None
}

/// Content-Length of a head given as bytes, for framing.
fn scan_content_length(head: &[u8]) -> Result<Option<usize>, ParseError> {
    let mut found = None;
    for line in HeaderLines::new(head, first_line_end(head)) {
        let (name, value) = line?;
        if HeaderName::parse_is_content_length(name) {
            let value = std::str::from_utf8(value).map_err(|_| content_length_error())?;
            let n = content_length_value(&unfold(value))?;
            if found.is_some_and(|f| f != n) {
                return Err(content_length_error());
            }
            found = Some(n);
        }
    }
    Ok(found)
}

fn first_line_end(head: &[u8]) -> usize {
    memchr(b'\n', head).map_or(head.len(), |n| n + 1)
}

fn content_length_error() -> ParseError {
    ParseError::Header("Content-Length".into())
}

fn content_length_value(v: &str) -> Result<usize, ParseError> {
    if v.is_empty() || v.len() > 10 || !v.bytes().all(|c| c.is_ascii_digit()) {
        return Err(content_length_error());
    }
    v.parse().map_err(|_| content_length_error())
}

fn parse_inner(data: &[u8]) -> Result<Message, ParseError> {
    if data.len() > MAX_MESSAGE_SIZE {
        return Err(ParseError::TooLarge);
    }
    let data = &data[keepalive_len(data)..];
    if data.is_empty() {
        return Err(ParseError::Incomplete);
    }
    let head_len = find_head_end(data).ok_or(ParseError::Incomplete)?;
    let head = &data[..head_len];
    let line_end = first_line_end(head);
    let start = start_line_of(strip_eol(&head[..line_end]))?;
    // One UTF-8 check for all headers; values are then sliced out of it.
    let head = std::str::from_utf8(head).map_err(|e| utf8_fault(head, e.valid_up_to()))?;
    let headers = header_list(head, line_end)?;
    let found = Essentials::of(&headers)?;
    match start {
        StartLine::Request { method, uri } => {
            let method = Method::from_token(method);
            check_request_headers(&headers, &found, &method)?;
            let body = body_of(&found, &data[head_len..])?;
            Ok(Message::Request(Request {
                method,
                uri: uri.to_uri(),
                headers,
                body: body.to_vec(),
            }))
        }
        StartLine::Response { status, reason } => {
            check_common_headers(&headers, &found)?;
            let body = body_of(&found, &data[head_len..])?;
            Ok(Message::Response(Response {
                status,
                reason: reason.to_string(),
                headers,
                body: body.to_vec(),
            }))
        }
    }
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

enum StartLine<'a> {
    Request { method: &'a str, uri: UriRef<'a> },
    Response { status: u16, reason: &'a str },
}

/// Request-Line = Method SP Request-URI SP SIP-Version CRLF
/// Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF
fn start_line_of(line: &[u8]) -> Result<StartLine<'_>, ParseError> {
    let line = std::str::from_utf8(line).map_err(|_| ParseError::StartLine)?;
    if line.len() >= 4 && line.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/") {
        status_line(line)
    } else {
        request_line(line)
    }
}

fn request_line(line: &str) -> Result<StartLine<'_>, ParseError> {
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::StartLine);
    };
    if !scan::is_token(method) {
        return Err(ParseError::StartLine);
    }
    sip_version(version)?;
    let uri = UriRef::parse(uri).map_err(|_| ParseError::RequestUri)?;
    // Headers are not allowed in a Request-URI (RFC 3261 19.1.1, RFC 4475
    // 3.1.2.11); refusing them keeps them from leaking into a forwarded
    // request.
    if !uri.headers.is_empty() {
        return Err(ParseError::RequestUri);
    }
    Ok(StartLine::Request { method, uri })
}

fn status_line(line: &str) -> Result<StartLine<'_>, ParseError> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().ok_or(ParseError::StartLine)?;
    // An empty Reason-Phrase may come with or without the SP before it.
    let reason = parts.next().unwrap_or("");
    sip_version(version)?;
    if code.len() != 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ParseError::StartLine);
    }
    let status: u16 = code.parse().map_err(|_| ParseError::StartLine)?;
    if !(100..=699).contains(&status) {
        return Err(ParseError::StartLine);
    }
    if reason.bytes().any(|c| c < b' ' && c != b'\t' || c == 0x7f) {
        return Err(ParseError::StartLine);
    }
    Ok(StartLine::Response { status, reason })
}

/// SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT; only 2.0 is spoken.
fn sip_version(v: &str) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case(SIP_VERSION) {
        return Ok(());
    }
    let numbers = v
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("SIP/"))
        .and(v.get(4..))
        .ok_or(ParseError::StartLine)?;
    let well_formed = numbers.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    });
    if well_formed {
        Err(ParseError::Version(v.to_string()))
    } else {
        Err(ParseError::StartLine)
    }
}

/// All header lines after the start line, unfolded, split where the header
/// is a comma list the stack edits by value.
pub(crate) fn header_list(head: &str, from: usize) -> Result<Headers, ParseError> {
    let bytes = head.as_bytes();
    let estimate = memchr::memchr_iter(b'\n', &bytes[from..]).count();
    let mut headers = Vec::with_capacity(estimate + 2);
    // Control octets are rare: look for them once, per header only if seen.
    let suspicious = has_suspicious_octets(&bytes[from..]);
    for line in HeaderLines::new(bytes, from) {
        let (name, raw) = line?;
        let (name_str, raw) = (sub_str(head, name), sub_str(head, raw));
        if suspicious && has_bare_control(raw.as_bytes()) {
            return Err(ParseError::Header(name_str.to_string()));
        }
        let name = HeaderName::parse(name_str);
        let value = unfold(raw);
        if name.is_split_on_comma() && value.is_empty() {
            // An empty Contact/Route line carries nothing to route on;
            // dropping it beats refusing the message.
            continue;
        }
        if name.is_split_on_comma() && !is_contact_star(&name, &value) {
            for v in scan::CommaList::new(&value) {
                let v = v.map_err(|_| ParseError::Header(name_str.to_string()))?;
                headers.push(Header::new(name.clone(), v));
            }
        } else {
            headers.push(Header {
                name,
                value: value.into_owned(),
            });
        }
    }
    Ok(Headers(headers))
}

/// The part of `whole` that `part` (a subslice of its bytes, cut at ASCII
/// delimiters) covers.
fn sub_str<'a>(whole: &'a str, part: &[u8]) -> &'a str {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    &whole[start..start + part.len()]
}

/// Which line an invalid UTF-8 sequence at `at` sits in: the start line, or
/// the header (named when its name is readable) it belongs to.
fn utf8_fault(head: &[u8], at: usize) -> ParseError {
    let first_line = first_line_end(head);
    if at < first_line {
        return ParseError::StartLine;
    }
    let mut line_start = head[..at]
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |p| p + 1);
    // Walk back over continuation lines to the header's own line.
    while matches!(head.get(line_start), Some(b' ' | b'\t')) && line_start > first_line {
        line_start = head[..line_start - 1]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1);
    }
    let line = &head[line_start..];
    let name = memchr(b':', line)
        .and_then(|colon| std::str::from_utf8(scan::trim_ws_bytes_end(&line[..colon])).ok())
        .filter(|n| scan::is_token(n));
    match name {
        Some(n) => ParseError::Header(n.to_string()),
        None => ParseError::Other("malformed header line".into()),
    }
}

/// Whether any control octet other than HT/CR/LF, or any CR not ending a
/// line, occurs. Written as a fold so that it vectorizes.
fn has_suspicious_octets(b: &[u8]) -> bool {
    let ctl = b.iter().fold(false, |acc, &c| {
        acc | ((c < b' ' && c != b'\t' && c != b'\r' && c != b'\n') | (c == 0x7f))
    });
    ctl || memchr::memchr_iter(b'\r', b).any(|i| b.get(i + 1) != Some(&b'\n'))
}

/// A control character outside a quoted-pair (RFC 3261 25.1 allows
/// `\` followed by any octet but CR and LF inside quoted strings).
/// A CR that does not end a line is refused too: a peer could read it as
/// a line end and see a different header list than we forwarded.
fn has_bare_control(b: &[u8]) -> bool {
    b.iter().enumerate().any(|(i, &c)| match c {
        b'\t' | b'\n' => false,
        b'\r' => b.get(i + 1) != Some(&b'\n'),
        0..=0x1f | 0x7f => i == 0 || b[i - 1] != b'\\',
        _ => false,
    })
}

fn is_contact_star(name: &HeaderName, value: &str) -> bool {
    *name == HeaderName::Contact && value == "*"
}

/// A header value with folding (CRLF followed by whitespace) replaced by
/// one space and the ends trimmed. Borrows when there was no folding.
fn unfold(raw: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = scan::trim_lws(raw);
    if memchr(b'\n', trimmed.as_bytes()).is_none() {
        return std::borrow::Cow::Borrowed(trimmed);
    }
    let mut out = String::with_capacity(trimmed.len());
    for (i, piece) in trimmed.split('\n').enumerate() {
        let piece = piece.strip_suffix('\r').unwrap_or(piece);
        if i == 0 {
            out.push_str(scan::trim_ws_end(piece));
        } else {
            out.push(' ');
            out.push_str(scan::trim_ws_end(scan::trim_ws(piece)));
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Iterates `(name, raw value)` over header lines; a raw value spans its
/// continuation lines and keeps their line ends (see `unfold`).
struct HeaderLines<'a> {
    head: &'a [u8],
    pos: usize,
}

impl<'a> HeaderLines<'a> {
    fn new(head: &'a [u8], pos: usize) -> Self {
        HeaderLines { head, pos }
    }
}

impl<'a> Iterator for HeaderLines<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.pos;
        let head = self.head;
        // The end of this header: the first line end not followed by SP/HT.
        let mut end = start;
        loop {
            let nl = match memchr(b'\n', &head[end..]) {
                Some(n) => end + n,
                None => head.len(),
            };
            end = (nl + 1).min(head.len());
            match head.get(end) {
                Some(b' ' | b'\t') => continue,
                _ => break,
            }
        }
        self.pos = end;
        let line = &head[start..end];
        if strip_eol(line).is_empty() {
            self.pos = head.len();
            return None;
        }
        let Some(colon) = memchr(b':', line) else {
            return Some(Err(ParseError::Other("malformed header line".into())));
        };
        // HCOLON = *( SP / HTAB ) ":" SWS
        let name = scan::trim_ws_bytes_end(&line[..colon]);
        if name.is_empty() || !name.iter().all(|&c| scan::is_token_char(c)) {
            return Some(Err(ParseError::Other("malformed header line".into())));
        }
        Some(Ok((name, &line[colon + 1..])))
    }
}

fn body_of<'a>(found: &Essentials<'_>, rest: &'a [u8]) -> Result<&'a [u8], ParseError> {
    match found.content_length {
        None => Ok(rest),
        Some(v) => rest
            .get(..content_length_value(v)?)
            .ok_or(ParseError::ContentLength),
    }
}

/// The single-valued headers the parser vouches for, found in one pass.
#[derive(Default)]
struct Essentials<'h> {
    vias: usize,
    from: Option<&'h str>,
    to: Option<&'h str>,
    call_id: Option<&'h str>,
    cseq: Option<&'h str>,
    max_forwards: Option<&'h str>,
    content_length: Option<&'h str>,
}

impl<'h> Essentials<'h> {
    /// Refuses a repeated single-valued header; repeated Content-Length
    /// values are tolerated only when they agree.
    fn of(headers: &'h Headers) -> Result<Essentials<'h>, ParseError> {
        let mut e = Essentials::default();
        let mut duplicate = None;
        for h in headers.iter() {
            let (slot, label) = match h.name {
                HeaderName::Via => {
                    e.vias += 1;
                    continue;
                }
                HeaderName::From => (&mut e.from, "From"),
                HeaderName::To => (&mut e.to, "To"),
                HeaderName::CallId => (&mut e.call_id, "Call-ID"),
                HeaderName::CSeq => (&mut e.cseq, "CSeq"),
                HeaderName::MaxForwards => (&mut e.max_forwards, "Max-Forwards"),
                HeaderName::ContentLength => {
                    match e.content_length {
                        None => e.content_length = Some(&h.value),
                        Some(first) if first == h.value => {}
                        Some(first) => {
                            let same =
                                content_length_value(first)? == content_length_value(&h.value)?;
                            if !same {
                                duplicate = duplicate.or(Some("Content-Length"));
                            }
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            if slot.is_some() {
                duplicate = duplicate.or(Some(label));
            } else {
                *slot = Some(&h.value);
            }
        }
        match duplicate {
            Some(label) => Err(ParseError::Duplicate(label)),
            None => Ok(e),
        }
    }
}

/// The headers a request must carry, each checked against its grammar.
fn check_request_headers(
    headers: &Headers,
    found: &Essentials<'_>,
    method: &Method,
) -> Result<(), ParseError> {
    let cseq_method = check_common_headers(headers, found)?;
    if cseq_method != method.as_str() {
        return Err(ParseError::CSeqMismatch);
    }
    if let Some(mf) = found.max_forwards {
        // Leading zeros are legal (RFC 4475 3.1.1.1); the value is 0..=255.
        let value = mf.trim_start_matches('0');
        let in_range =
            value.len() <= 3 && value.parse::<u16>().map_or(value.is_empty(), |v| v <= 255);
        if mf.is_empty() || !mf.bytes().all(|c| c.is_ascii_digit()) || !in_range {
            return Err(ParseError::Header("Max-Forwards".into()));
        }
    }
    for c in headers.get_all(&HeaderName::Contact) {
        if c != "*" {
            NameAddrRef::parse(c).map_err(|_| ParseError::Header("Contact".into()))?;
        }
    }
    Ok(())
}

/// Via (every value), From, To, Call-ID and CSeq; returns the CSeq method.
fn check_common_headers<'h>(
    headers: &Headers,
    found: &Essentials<'h>,
) -> Result<&'h str, ParseError> {
    if found.vias == 0 {
        return Err(ParseError::Missing("Via"));
    }
    for v in headers.get_all(&HeaderName::Via) {
        ViaRef::parse(v).map_err(|e| match e {
            ParseError::Version(v) => ParseError::Version(v),
            _ => ParseError::Header("Via".into()),
        })?;
    }
    let from = found.from.ok_or(ParseError::Missing("From"))?;
    NameAddrRef::parse(from).map_err(|_| ParseError::Header("From".into()))?;
    let to = found.to.ok_or(ParseError::Missing("To"))?;
    NameAddrRef::parse(to).map_err(|_| ParseError::Header("To".into()))?;
    let call_id = found.call_id.ok_or(ParseError::Missing("Call-ID"))?;
    if !is_call_id(call_id) {
        return Err(ParseError::Header("Call-ID".into()));
    }
    let cseq = found.cseq.ok_or(ParseError::Missing("CSeq"))?;
    let (_, method) = cseq_parts(cseq)?;
    Ok(method)
}

/// callid = word [ "@" word ]. Checked only for being visible ASCII
/// without whitespace: deployed devices put '=' and other non-word
/// characters in Call-IDs, and the value is only ever compared.
fn is_call_id(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|c| c > b' ' && c < 0x7f)
}

/// Best-effort recovery of the headers needed to answer a failed request.
fn salvage_request(data: &[u8]) -> Option<PartialRequest> {
    let data = &data[keepalive_len(data)..data.len().min(MAX_MESSAGE_SIZE)];
    let head_len = find_head_end(data).unwrap_or(data.len());
    let head = &data[..head_len];
    let line_end = first_line_end(head);
    let start = std::str::from_utf8(strip_eol(&head[..line_end])).ok()?;
    let (method, _) = start.split_once(' ')?;
    if method.is_empty() || !scan::is_token(method) || method.eq_ignore_ascii_case("SIP/2.0") {
        return None;
    }
    let mut p = PartialRequest {
        method: method.to_string(),
        ..PartialRequest::default()
    };
    for line in HeaderLines::new(head, line_end) {
        let Ok((name, raw)) = line else { continue };
        let (Ok(name), Ok(raw)) = (std::str::from_utf8(name), std::str::from_utf8(raw)) else {
            continue;
        };
        // These values are echoed in our 400: never echo a control octet
        // (a bare CR could split our response into extra headers).
        if has_bare_control(raw.as_bytes()) {
            continue;
        }
        let value = unfold(raw);
        match HeaderName::parse(name) {
            HeaderName::Via => p.vias.extend(
                scan::CommaList::new(&value)
                    .map_while(Result::ok)
                    .map(str::to_string),
            ),
            HeaderName::From => p.from = p.from.or_else(|| Some(value.into_owned())),
            HeaderName::To => p.to = p.to.or_else(|| Some(value.into_owned())),
            HeaderName::CallId => p.call_id = p.call_id.or_else(|| Some(value.into_owned())),
            HeaderName::CSeq => p.cseq = p.cseq.or_else(|| Some(value.into_owned())),
            _ => {}
        }
    }
    Some(p)
}

/// Character classes and small scanners of RFC 3261 25.1, shared by the
/// URI and header grammars.
pub(crate) mod scan {
    /// unreserved = alphanum / mark
    #[inline]
    pub fn is_unreserved(c: u8) -> bool {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            )
    }

    /// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
    #[inline]
    pub fn is_token_char(c: u8) -> bool {
        TOKEN_CHARS[c as usize]
    }

    static TOKEN_CHARS: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = 0;
        while c < 256 {
            let b = c as u8;
            t[c] = b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
                );
            c += 1;
        }
        t
    };

    pub fn is_token(s: &str) -> bool {
        !s.is_empty() && s.bytes().all(is_token_char)
    }

    #[inline]
    pub fn is_ws(c: u8) -> bool {
        c == b' ' || c == b'\t'
    }

    /// escaped = "%" HEXDIG HEXDIG, at `i`.
    #[inline]
    pub fn is_escaped_at(b: &[u8], i: usize) -> bool {
        b.get(i) == Some(&b'%')
            && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    }

    pub fn trim_ws(s: &str) -> &str {
        let b = s.as_bytes();
        let start = b.iter().position(|&c| !is_ws(c)).unwrap_or(b.len());
        let end = b.iter().rposition(|&c| !is_ws(c)).map_or(start, |p| p + 1);
        &s[start..end]
    }

    pub fn trim_ws_end(s: &str) -> &str {
        let end = s
            .as_bytes()
            .iter()
            .rposition(|&c| !is_ws(c))
            .map_or(0, |p| p + 1);
        &s[..end]
    }

    /// Trim whitespace including line ends (a raw header value).
    pub fn trim_lws(s: &str) -> &str {
        let is_lws = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
        let b = s.as_bytes();
        let start = b.iter().position(|c| !is_lws(c)).unwrap_or(b.len());
        let end = b.iter().rposition(|c| !is_lws(c)).map_or(start, |p| p + 1);
        &s[start..end]
    }

    pub fn trim_ws_bytes_end(b: &[u8]) -> &[u8] {
        let end = b.iter().rposition(|&c| !is_ws(c)).map_or(0, |p| p + 1);
        &b[..end]
    }

    /// Length of the quoted-string at the start of `b`, quotes included.
    /// quoted-string = DQUOTE *(qdtext / quoted-pair) DQUOTE
    pub fn quoted_string_len(b: &[u8]) -> Option<usize> {
        if b.first() != Some(&b'"') {
            return None;
        }
        let mut i = 1;
        while i < b.len() {
            match b[i] {
                b'"' => return Some(i + 1),
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                b'\\' => {
                    if matches!(b.get(i + 1), None | Some(b'\r' | b'\n')) || b[i + 1] > 0x7f {
                        return None;
                    }
                    i += 2;
                }
                _ => i += 1,
            }
        }
        None
    }

    /// `*( SEMI generic-param )` with generic-param = token [ EQUAL gen-value ]
    /// and gen-value = token / host / quoted-string. Yields `(name, value)`;
    /// quoted values keep their quotes.
    pub struct ParamIter<'a> {
        rest: &'a str,
        failed: bool,
    }

    impl<'a> ParamIter<'a> {
        pub fn new(s: &'a str) -> Self {
            ParamIter {
                rest: s,
                failed: false,
            }
        }

        fn step(&mut self) -> Result<(&'a str, Option<&'a str>), ()> {
            let s = trim_ws(self.rest);
            let s = s.strip_prefix(';').ok_or(())?;
            let s = s.trim_start_matches([' ', '\t']);
            let name_len = s.bytes().take_while(|&c| is_token_char(c)).count();
            if name_len == 0 {
                return Err(());
            }
            let (name, s) = s.split_at(name_len);
            let after_name = s.trim_start_matches([' ', '\t']);
            let Some(v) = after_name.strip_prefix('=') else {
                self.rest = s;
                return Ok((name, None));
            };
            let v = v.trim_start_matches([' ', '\t']);
            let value_len = if v.starts_with('"') {
                quoted_string_len(v.as_bytes()).ok_or(())?
            } else {
                v.bytes()
                    .take_while(|&c| is_token_char(c) || matches!(c, b':' | b'[' | b']'))
                    .count()
            };
            if value_len == 0 {
                return Err(());
            }
            let (value, rest) = v.split_at(value_len);
            self.rest = rest;
            Ok((name, Some(value)))
        }
    }

    impl<'a> Iterator for ParamIter<'a> {
        type Item = Result<(&'a str, Option<&'a str>), ()>;

        fn next(&mut self) -> Option<Self::Item> {
            if self.failed || trim_ws(self.rest).is_empty() {
                return None;
            }
            let r = self.step();
            self.failed = r.is_err();
            Some(r)
        }
    }

    /// The elements of a comma-separated header value: commas inside
    /// quoted strings and `<...>` do not separate. Empty elements are an
    /// error (a stray comma is malformed, not ignorable, in Via/Route).
    pub struct CommaList<'a> {
        rest: Option<&'a str>,
    }

    impl<'a> CommaList<'a> {
        pub fn new(s: &'a str) -> Self {
            CommaList { rest: Some(s) }
        }
    }

    impl<'a> Iterator for CommaList<'a> {
        type Item = Result<&'a str, ()>;

        fn next(&mut self) -> Option<Self::Item> {
            let s = self.rest?;
            let b = s.as_bytes();
            let mut i = 0;
            let mut in_angle = false;
            let end = loop {
                match b.get(i) {
                    None => break None,
                    Some(b'"') => match quoted_string_len(&b[i..]) {
                        Some(n) => i += n,
                        None => {
                            self.rest = None;
                            return Some(Err(()));
                        }
                    },
                    Some(b'<') => {
                        in_angle = true;
                        i += 1;
                    }
                    Some(b'>') => {
                        in_angle = false;
                        i += 1;
                    }
                    Some(b',') if !in_angle => break Some(i),
                    Some(_) => i += 1,
                }
            };
            let item = match end {
                Some(e) => {
                    self.rest = Some(&s[e + 1..]);
                    &s[..e]
                }
                None => {
                    self.rest = None;
                    s
                }
            };
            let item = trim_ws(item);
            Some(if item.is_empty() { Err(()) } else { Ok(item) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    fn request(data: &[u8]) -> Request {
        match parse_message(data).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => panic!("expected a request"),
        }
    }

    #[test]
    fn parses_an_ordinary_invite() {
        let r = request(INVITE);
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.uri.host, "biloxi.com");
        assert_eq!(r.headers.0.len(), 9);
        assert_eq!(
            r.headers.get(&HeaderName::CallId),
            Some("a84b4c76e66710@pc33.atlanta.com")
        );
        assert_eq!(r.body, b"v=0\n");
    }

    #[test]
    fn parses_a_response_with_compact_headers_and_folding() {
        let data = b"\r\n\r\nSIP/2.0 180 Ringing\r\n\
v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n\
t: <sip:bob@biloxi.com>;tag=x\r\n\
f: <sip:alice@atlanta.com>;tag=y\r\n\
i: abc\r\n\
CSeq: 1\r\n   INVITE\r\n\
X-Custom-HEADER :  keep  me , as is\r\n\
\r\n";
        let Message::Response(r) = parse_message(data).unwrap() else {
            panic!("expected a response")
        };
        assert_eq!(r.status, 180);
        assert_eq!(r.reason, "Ringing");
        let vias: Vec<_> = r.headers.get_all(&HeaderName::Via).collect();
        assert_eq!(
            vias,
            [
                "SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
                "SIP/2.0/UDP b.example.com;branch=z9hG4bK2"
            ]
        );
        assert_eq!(r.headers.get(&HeaderName::CSeq), Some("1 INVITE"));
        let custom = r
            .headers
            .iter()
            .find(|h| h.name.as_str() == "X-Custom-HEADER")
            .unwrap();
        assert_eq!(custom.value, "keep  me , as is");
        assert!(r.body.is_empty());
    }

    #[test]
    fn missing_and_malformed_headers_are_named() {
        let no_cseq = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace("CSeq: 314159 INVITE\r\n", "");
        let f = parse_message(no_cseq.as_bytes()).unwrap_err();
        assert_eq!(f.error, ParseError::Missing("CSeq"));
        assert!(f.partial.is_some());
        let bad_cseq = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace("CSeq: 314159 INVITE", "CSeq: x INVITE");
        let f = parse_message(bad_cseq.as_bytes()).unwrap_err();
        assert_eq!(f.error.to_string(), "malformed CSeq header");
        let resp = f.error_response().unwrap();
        assert_eq!(resp.status, 400);
        assert_eq!(resp.reason, "malformed CSeq header");
        assert_eq!(resp.headers.get(&HeaderName::CSeq), Some("x INVITE"));
        assert_eq!(resp.headers.get_all(&HeaderName::Via).count(), 1);
    }

    #[test]
    fn error_response_never_echoes_control_octets() {
        let text = String::from_utf8(INVITE.to_vec()).unwrap();
        let injected = text.replace("Call-ID: a84b", "Call-ID: a8\rX-Evil: 1\r\n\r\n4b");
        let failure = parse_message(injected.as_bytes()).unwrap_err();
        assert_eq!(failure.error, ParseError::Header("Call-ID".into()));
        assert!(failure.error_response().is_none());
        let salvaged = failure.partial.unwrap();
        assert_eq!(salvaged.call_id, None);
        assert_eq!(salvaged.cseq, None); // after the injected empty line
    }

    #[test]
    fn empty_list_headers_are_dropped_but_empty_elements_refused() {
        let text = String::from_utf8(INVITE.to_vec()).unwrap();
        let empty = text.replace("Contact: <sip:alice@pc33.atlanta.com>", "Contact:");
        assert_eq!(
            request(empty.as_bytes()).headers.get(&HeaderName::Contact),
            None
        );
        let stray = text.replace(
            "Contact: <sip:alice@pc33.atlanta.com>",
            "Contact: <sip:a@b>,",
        );
        assert_eq!(
            parse_message(stray.as_bytes()).unwrap_err().error,
            ParseError::Header("Contact".into())
        );
    }

    #[test]
    fn content_length_cuts_and_checks_the_body() {
        let longer = [INVITE, b"garbage"].concat();
        assert_eq!(request(&longer).body, b"v=0\n");
        let shorter = &INVITE[..INVITE.len() - 1];
        assert_eq!(
            parse_message(shorter).unwrap_err().error,
            ParseError::ContentLength
        );
        let no_cl = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace("Content-Length: 4\r\n", "");
        assert_eq!(request(no_cl.as_bytes()).body, b"v=0\n");
    }

    #[test]
    fn frames_a_stream() {
        let two = [b"\r\n\r\n".as_slice(), INVITE, INVITE].concat();
        let first = frame_len(&two).unwrap().unwrap();
        assert_eq!(first, 4 + INVITE.len());
        assert_eq!(frame_len(&two[first..]).unwrap(), Some(INVITE.len()));
        assert_eq!(frame_len(&INVITE[..INVITE.len() - 1]).unwrap(), None);
        assert_eq!(frame_len(&INVITE[..20]).unwrap(), None);
        assert_eq!(frame_len(b"\r\n\r\n").unwrap(), None);
        assert_eq!(keepalive_len(b"\r\n\r\nINVITE"), 4);
        let huge = vec![b'a'; MAX_MESSAGE_SIZE + 1];
        assert_eq!(frame_len(&huge), Err(ParseError::TooLarge));
        let big_cl = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace("Content-Length: 4", "Content-Length: 999999");
        assert_eq!(frame_len(big_cl.as_bytes()), Err(ParseError::TooLarge));
    }

    #[test]
    fn invalid_utf8_and_control_octets_name_the_header() {
        let text = String::from_utf8(INVITE.to_vec()).unwrap();
        let mut bad = text
            .replace("Contact: <sip:alice@pc33", "Contact: <sip:al\u{1}ice@pc33")
            .into_bytes();
        assert_eq!(
            parse_message(&bad).unwrap_err().error,
            ParseError::Header("Contact".into())
        );
        bad = text
            .replace("Max-Forwards: 70\r\n", "Max-Forwards: 70\r\n X\r\n")
            .into_bytes();
        let at = bad.windows(2).position(|w| w == b" X").unwrap();
        bad[at + 1] = 0xff;
        assert_eq!(
            parse_message(&bad).unwrap_err().error,
            ParseError::Header("Max-Forwards".into())
        );
        bad = text
            .replace("bob@biloxi.com SIP", "b\u{1}b@biloxi.com SIP")
            .into_bytes();
        bad[9] = 0xfe;
        assert_eq!(
            parse_message(&bad).unwrap_err().error,
            ParseError::StartLine
        );
        let bare_cr = text.replace("Call-ID: a84b", "Call-ID: a8\r4b");
        assert_eq!(
            parse_message(bare_cr.as_bytes()).unwrap_err().error,
            ParseError::Header("Call-ID".into())
        );
        // A control octet escaped inside a quoted string is legal.
        let quoted = text.replace("To: Bob <", "To: \"B\\\u{7}b\" <");
        assert!(parse_message(quoted.as_bytes()).is_ok());
    }

    #[test]
    fn splits_comma_lists_but_not_inside_quotes_or_brackets() {
        let items: Vec<_> = scan::CommaList::new("\"a, b\" <sip:x@y;p=1,2>, <sip:z@w>")
            .map(Result::unwrap)
            .collect();
        assert_eq!(items, ["\"a, b\" <sip:x@y;p=1,2>", "<sip:z@w>"]);
        assert!(scan::CommaList::new("a,,b").any(|r| r.is_err()));
    }
}

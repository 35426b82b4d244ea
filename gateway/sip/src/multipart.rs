//! multipart/* bodies (RFC 2046 5.1), as used for SDP together with ISUP
//! (RFC 3204) or other payloads.
//!
//! `split` borrows the body while it looks for delimiters (memmem) and
//! copies each part out once.

use crate::error::ParseError;
use crate::message::{HeaderName, Headers};
use crate::parse::scan::{quoted_string_len, trim_ws, ParamIter};
use crate::parse::{find_head_end, header_list};
use memchr::memmem;

/// One body part: its MIME headers (Content-Type, Content-Disposition, ...)
/// and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Part {
    pub fn new(content_type: &str, body: impl Into<Vec<u8>>) -> Part {
        let mut headers = Headers::new();
        headers.push(HeaderName::ContentType, content_type);
        Part {
            headers,
            body: body.into(),
        }
    }

    /// The part's Content-Type; RFC 2046 makes an absent one text/plain.
    pub fn content_type(&self) -> Option<&str> {
        self.headers.get(&HeaderName::ContentType)
    }
}

/// The `boundary` parameter of a multipart Content-Type, without quotes.
/// `None` if the type is not multipart/* or the boundary is missing or
/// longer than RFC 2046 allows (70 characters).
pub fn boundary(content_type: &str) -> Option<&str> {
    let (media_type, params) = match content_type.find(';') {
        Some(semi) => (&content_type[..semi], &content_type[semi..]),
        None => (content_type, ""),
    };
    let media_type = trim_ws(media_type);
    if media_type.len() < 10 || !media_type[..10].eq_ignore_ascii_case("multipart/") {
        return None;
    }
    let value = ParamIter::new(params)
        .map_while(Result::ok)
        .find(|(name, _)| name.eq_ignore_ascii_case("boundary"))?
        .1?;
    let value = match quoted_string_len(value.as_bytes()) {
        Some(n) if n == value.len() => &value[1..n - 1],
        _ => value,
    };
    (!value.is_empty() && value.len() <= 70).then_some(value)
}

/// Split a multipart body into its parts. The preamble and epilogue are
/// dropped; a body without a close delimiter is malformed.
pub fn split(content_type: &str, body: &[u8]) -> Result<Vec<Part>, ParseError> {
    let boundary = boundary(content_type).ok_or(ParseError::Multipart)?;
    let mut delimiter = Vec::with_capacity(boundary.len() + 4);
    delimiter.extend_from_slice(b"\r\n--");
    delimiter.extend_from_slice(boundary.as_bytes());
    let finder = memmem::Finder::new(&delimiter);

    // The first delimiter may open the body, without a CRLF before it.
    let mut pos = if body.starts_with(&delimiter[2..]) {
        delimiter.len() - 2
    } else {
        finder.find(body).ok_or(ParseError::Multipart)? + delimiter.len()
    };
    let mut parts = Vec::new();
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        let content_start = pos + after_delimiter_line(rest)?;
        let end = finder
            .find(&body[content_start..])
            .map(|n| content_start + n)
            .ok_or(ParseError::Multipart)?;
        parts.push(part_of(&body[content_start..end])?);
        pos = end + delimiter.len();
    }
}

/// Bytes from just after a delimiter to the start of the part: transport
/// padding (LWSP) then CRLF.
fn after_delimiter_line(rest: &[u8]) -> Result<usize, ParseError> {
    let padding = rest
        .iter()
        .take_while(|&&c| c == b' ' || c == b'\t')
        .count();
    match &rest[padding..] {
        [b'\r', b'\n', ..] => Ok(padding + 2),
        [b'\n', ..] => Ok(padding + 1),
        _ => Err(ParseError::Multipart),
    }
}

/// A part is headers, an empty line, content; with no headers it starts
/// with the empty line.
fn part_of(raw: &[u8]) -> Result<Part, ParseError> {
    let head_len = if raw.starts_with(b"\r\n") {
        2
    } else if raw.starts_with(b"\n") {
        1
    } else {
        find_head_end(raw).ok_or(ParseError::Multipart)?
    };
    let head = std::str::from_utf8(&raw[..head_len]).map_err(|_| ParseError::Multipart)?;
    let headers = header_list(head, 0).map_err(|_| ParseError::Multipart)?;
    Ok(Part {
        headers,
        body: raw[head_len..].to_vec(),
    })
}

/// Build a multipart body from parts; pair it with
/// `Content-Type: multipart/mixed;boundary=<boundary>`. The boundary must not
/// occur in any part (the caller picks a random one).
pub fn join(boundary: &str, parts: &[Part]) -> Vec<u8> {
    let size: usize = parts
        .iter()
        .map(|p| {
            p.body.len()
                + boundary.len()
                + 8
                + p.headers
                    .iter()
                    .map(|h| h.name.as_str().len() + h.value.len() + 4)
                    .sum::<usize>()
        })
        .sum();
    let mut out = Vec::with_capacity(size + boundary.len() + 8);
    for p in parts {
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\n");
        for h in p.headers.iter() {
            out.extend_from_slice(h.name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(h.value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&p.body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP_ISUP: &[u8] = b"preamble to ignore\r\n\
--unique-boundary-1\r\n\
Content-Type: application/sdp\r\n\
\r\n\
v=0\r\n\
o=- 1 1 IN IP4 192.0.2.1\r\n\
\r\n\
--unique-boundary-1  \r\n\
Content-Type: application/ISUP; version=itu-t92+\r\n\
Content-Disposition: signal; handling=optional\r\n\
\r\n\
\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00\x00\x03\r\n\
--unique-boundary-1--\r\n\
epilogue";

    #[test]
    fn splits_sdp_and_isup() {
        let parts = split("multipart/mixed; boundary=\"unique-boundary-1\"", SDP_ISUP).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].content_type(), Some("application/sdp"));
        assert_eq!(parts[0].body, b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n");
        assert_eq!(
            parts[1].content_type(),
            Some("application/ISUP; version=itu-t92+")
        );
        assert_eq!(
            parts[1].headers.get(&HeaderName::ContentDisposition),
            Some("signal; handling=optional")
        );
        assert_eq!(parts[1].body.len(), 19);
        assert_eq!(parts[1].body[0], 0x01);
    }

    #[test]
    fn join_then_split_round_trips() {
        let parts = vec![
            Part::new("application/sdp", b"v=0\r\n".to_vec()),
            Part::new("application/isup", vec![0u8, 1, 2, 13, 10, 45, 45]),
            Part {
                headers: Headers::new(),
                body: b"no headers".to_vec(),
            },
        ];
        let body = join("b0undary", &parts);
        assert_eq!(
            split("multipart/mixed;boundary=b0undary", &body).unwrap(),
            parts
        );
    }

    #[test]
    fn rejects_malformed_bodies() {
        assert_eq!(boundary("application/sdp"), None);
        assert_eq!(boundary("multipart/mixed"), None);
        assert_eq!(
            boundary("Multipart/Related;type=x;Boundary=abc"),
            Some("abc")
        );
        let ct = "multipart/mixed;boundary=x";
        for bad in [
            &b""[..],
            b"--x\r\nContent-Type: a/b\r\n\r\nbody",
            b"no delimiter at all",
            b"--xjunk\r\n\r\nbody\r\n--x--",
            b"--x\r\nbroken header line\r\n\r\nbody\r\n--x--",
        ] {
            assert_eq!(split(ct, bad), Err(ParseError::Multipart), "{bad:?}");
        }
        assert_eq!(split(ct, b"--x--").unwrap(), vec![]);
    }
}

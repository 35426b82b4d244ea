//! Message serialization: start line, headers in order (known names in
//! their long form, unknown names as received), a Content-Length that
//! always matches the body, the empty line, the body. One pre-sized buffer.

use crate::message::{Header, HeaderName, Headers, Message, Request, Response, SIP_VERSION};
use std::io::Write;

impl Message {
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

impl Request {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + headers_len(&self.headers) + self.body.len());
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{}", self.uri);
        out.push(b' ');
        out.extend_from_slice(SIP_VERSION.as_bytes());
        out.extend_from_slice(b"\r\n");
        write_headers_and_body(&mut out, &self.headers, &self.body);
        out
    }
}

impl Response {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            32 + self.reason.len() + headers_len(&self.headers) + self.body.len(),
        );
        out.extend_from_slice(SIP_VERSION.as_bytes());
        out.push(b' ');
        let _ = write!(out, "{:03}", self.status);
        out.push(b' ');
        out.extend_from_slice(self.reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        write_headers_and_body(&mut out, &self.headers, &self.body);
        out
    }
}

/// Bytes the header block will take, plus room for Content-Length.
fn headers_len(headers: &Headers) -> usize {
    headers
        .iter()
        .map(|h| h.name.as_str().len() + h.value.len() + 4)
        .sum::<usize>()
        + 32
}

/// Headers in order; the first Content-Length is rewritten in place to the
/// body's length and any other dropped, or one is appended if there was none.
fn write_headers_and_body(out: &mut Vec<u8>, headers: &Headers, body: &[u8]) {
    let mut wrote_length = false;
    for h in headers.iter() {
        if h.name == HeaderName::ContentLength {
            if !wrote_length {
                write_content_length(out, body.len());
                wrote_length = true;
            }
            continue;
        }
        write_header(out, h);
    }
    if !wrote_length {
        write_content_length(out, body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

fn write_header(out: &mut Vec<u8>, h: &Header) {
    out.extend_from_slice(h.name.as_str().as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(h.value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn write_content_length(out: &mut Vec<u8>, len: usize) {
    let _ = write!(out, "Content-Length: {len}\r\n");
}

#[cfg(test)]
mod tests {
    use crate::message::{HeaderName, Message, Method, Request, Response};
    use crate::parse::parse_message;
    use crate::uri::Uri;

    #[test]
    fn request_serializes_with_long_names_and_fixed_length() {
        let data = b"OPTIONS sip:carol@chicago.com SIP/2.0\r\n\
v: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKhjhs8ass877\r\n\
Max-Forwards: 70\r\n\
t: <sip:carol@chicago.com>\r\n\
f: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
i: a84b4c76e66710\r\n\
CSeq: 63104 OPTIONS\r\n\
l: 99\r\n\
x-Odd-Name: Value\r\n\
\r\n";
        let mut data = data.to_vec();
        data.extend(std::iter::repeat_n(b'x', 99));
        let mut m = parse_message(&data).unwrap();
        if let Message::Request(r) = &mut m {
            r.body.truncate(3);
        }
        let out = String::from_utf8(m.to_bytes()).unwrap();
        assert_eq!(
            out,
            "OPTIONS sip:carol@chicago.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKhjhs8ass877\r\n\
Max-Forwards: 70\r\n\
To: <sip:carol@chicago.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 63104 OPTIONS\r\n\
Content-Length: 3\r\n\
x-Odd-Name: Value\r\n\
\r\n\
xxx"
        );
        let again = parse_message(out.as_bytes()).unwrap();
        assert_eq!(again.body(), b"xxx");
    }

    #[test]
    fn response_appends_content_length() {
        let mut r = Response {
            status: 200,
            reason: "OK".into(),
            headers: Default::default(),
            body: b"abc".to_vec(),
        };
        r.headers.push(HeaderName::CallId, "x");
        assert_eq!(
            r.to_bytes(),
            b"SIP/2.0 200 OK\r\nCall-ID: x\r\nContent-Length: 3\r\n\r\nabc".to_vec()
        );
    }

    #[test]
    fn request_line_uses_the_uri_display() {
        let r = Request::new(
            Method::Bye,
            Uri::parse("sip:[2001:db8::1]:5070;transport=tcp").unwrap(),
        );
        assert!(r
            .to_bytes()
            .starts_with(b"BYE sip:[2001:db8::1]:5070;transport=tcp SIP/2.0\r\n"));
    }
}

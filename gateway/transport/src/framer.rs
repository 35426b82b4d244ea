//! Splits a SIP byte stream (TCP, TLS) into messages (RFC 3261 §18.3).
//!
//! A message ends after its header block (terminated by CRLFCRLF) plus
//! `Content-Length` bytes of body; on a stream a missing Content-Length means
//! an empty body. Between messages, a CRLFCRLF is an RFC 5626 keep-alive ping
//! and a lone CRLF a pong (or stray padding, which RFC 3261 §7.5 says to
//! ignore). This module does no I/O: bytes go in, frames come out.

use bytes::{Bytes, BytesMut};
use memchr::memmem;

const PING: &[u8] = b"\r\n\r\n";

/// One unit extracted from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Exactly one SIP message: header block and body.
    Message(Bytes),
    /// A CRLFCRLF keep-alive ping; the peer expects a CRLF pong.
    Ping,
    /// A CRLF pong. Reported only while [`StreamFramer::set_expect_pong`] is
    /// on; otherwise a lone CRLF is padding and skipped.
    Pong,
}

/// The stream cannot be resynchronised after any of these: the connection
/// must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("header block exceeds {max} bytes without an end")]
    HeaderTooLarge { max: usize },
    #[error("message of {len} bytes exceeds the limit of {max}")]
    MessageTooLarge { len: u64, max: usize },
    #[error("invalid Content-Length value {0:?}")]
    BadContentLength(String),
    #[error("conflicting Content-Length headers ({0} and {1})")]
    ConflictingContentLength(u64, u64),
}

impl FramingError {
    /// True when the cause is size (as opposed to a malformed length).
    pub fn is_oversize(&self) -> bool {
        matches!(
            self,
            FramingError::HeaderTooLarge { .. } | FramingError::MessageTooLarge { .. }
        )
    }
}

/// Incremental framer for one stream connection.
#[derive(Debug)]
pub struct StreamFramer {
    buf: BytesMut,
    max_message_size: usize,
    /// How far the header-end search has already looked, so that a message
    /// arriving byte by byte is scanned in linear, not quadratic, time.
    scanned: usize,
    /// Total length of the message at the front of `buf`, once its header
    /// block is complete.
    pending_len: Option<usize>,
    /// We sent a ping on this stream, so a lone CRLF is its answer rather
    /// than padding or the start of a ping from the peer.
    expect_pong: bool,
}

impl StreamFramer {
    pub fn new(max_message_size: usize) -> Self {
        StreamFramer {
            buf: BytesMut::with_capacity(4096),
            max_message_size,
            scanned: 0,
            pending_len: None,
            expect_pong: false,
        }
    }

    /// Buffer to read into (e.g. with `AsyncReadExt::read_buf`). Its length
    /// stays bounded by `max_message_size` plus one read, because
    /// [`next_frame`](Self::next_frame) fails before it would grow further.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// While on, a CRLF between messages is reported as [`Frame::Pong`].
    pub fn set_expect_pong(&mut self, expect: bool) {
        self.expect_pong = expect;
    }

    /// Bytes held that do not yet form a complete frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Returns the next complete frame, `Ok(None)` when more bytes are
    /// needed, or an error after which the stream is unusable.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        if self.pending_len.is_none() {
            if let Some(ping) = self.skip_leading_crlf() {
                return Ok(ping);
            }
            let Some(header_len) = self.find_header_end()? else {
                return Ok(None);
            };
            let body_len = content_length(&self.buf[..header_len])?;
            let total = (header_len as u64).saturating_add(body_len);
            if total > self.max_message_size as u64 {
                return Err(FramingError::MessageTooLarge {
                    len: total,
                    max: self.max_message_size,
                });
            }
            // total <= max_message_size, which is a usize.
            self.pending_len = Some(total as usize);
        }
        match self.pending_len {
            Some(total) if self.buf.len() >= total => {
                self.pending_len = None;
                self.scanned = 0;
                Ok(Some(Frame::Message(self.buf.split_to(total).freeze())))
            }
            _ => Ok(None),
        }
    }

    /// Drops CR/LF padding before a message. Returns `Some(Some(Ping))` for a
    /// keep-alive ping, `Some(None)` when the bytes so far could still become
    /// a ping, `None` when a message starts at the front of the buffer.
    fn skip_leading_crlf(&mut self) -> Option<Option<Frame>> {
        loop {
            match self.buf.first() {
                None => return Some(None),
                Some(b'\n') => {
                    let _ = self.buf.split_to(1);
                }
                Some(b'\r') => {
                    if self.expect_pong && self.buf.starts_with(b"\r\n") {
                        let _ = self.buf.split_to(2);
                        return Some(Some(Frame::Pong));
                    }
                    if self.buf.starts_with(PING) {
                        let _ = self.buf.split_to(PING.len());
                        return Some(Some(Frame::Ping));
                    }
                    if PING.starts_with(&self.buf) {
                        return Some(None);
                    }
                    let _ = self.buf.split_to(1);
                }
                Some(_) => return None,
            }
        }
    }

    /// Length of the header block including its terminating CRLFCRLF.
    fn find_header_end(&mut self) -> Result<Option<usize>, FramingError> {
        // The terminator may straddle the previous scan's end.
        let start = self
            .scanned
            .saturating_sub(PING.len() - 1)
            .min(self.buf.len());
        if let Some(pos) = memmem::find(&self.buf[start..], PING) {
            return Ok(Some(start + pos + PING.len()));
        }
        self.scanned = self.buf.len();
        if self.buf.len() > self.max_message_size {
            return Err(FramingError::HeaderTooLarge {
                max: self.max_message_size,
            });
        }
        Ok(None)
    }
}

/// Content-Length from a complete header block (start line included).
/// Absent means 0: RFC 3261 §18.3 makes it mandatory on streams, and a
/// message without it is best treated as bodiless rather than unframeable.
fn content_length(header_block: &[u8]) -> Result<u64, FramingError> {
    let mut found: Option<u64> = None;
    // The first line is the start line; the block ends with an empty line.
    for line in header_block.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Continuation lines of a folded header never start a header name.
        if line.is_empty() || line[0] == b' ' || line[0] == b'\t' {
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = trim(&line[..colon]);
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let value = trim(&line[colon + 1..]);
        let parsed = parse_decimal(value).ok_or_else(|| {
            FramingError::BadContentLength(String::from_utf8_lossy(value).into_owned())
        })?;
        match found {
            Some(prev) if prev != parsed => {
                return Err(FramingError::ConflictingContentLength(prev, parsed))
            }
            _ => found = Some(parsed),
        }
    }
    Ok(found.unwrap_or(0))
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 65536;

    fn msg(body: &str) -> String {
        format!(
            "MESSAGE sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: {}\r\n\r\n{}",
            body.len(),
            body
        )
    }

    fn drain(f: &mut StreamFramer) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Some(fr) = f.next_frame().expect("framing") {
            out.push(fr);
        }
        out
    }

    fn as_msg(fr: &Frame) -> &[u8] {
        match fr {
            Frame::Message(b) => b,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn single_message_with_body() {
        let m = msg("hello");
        let mut f = StreamFramer::new(MAX);
        f.extend(m.as_bytes());
        let frames = drain(&mut f);
        assert_eq!(frames.len(), 1);
        assert_eq!(as_msg(&frames[0]), m.as_bytes());
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn coalesced_messages_and_leading_crlf() {
        let a = msg("one");
        let b = msg("");
        let c = msg("three!");
        let mut f = StreamFramer::new(MAX);
        f.extend(format!("\r\n{a}{b}\r\n{c}").as_bytes());
        let frames = drain(&mut f);
        let got: Vec<&[u8]> = frames.iter().map(as_msg).collect();
        assert_eq!(got, vec![a.as_bytes(), b.as_bytes(), c.as_bytes()]);
    }

    #[test]
    fn byte_by_byte() {
        let a = msg("body with \r\n\r\n inside");
        let b = msg("x");
        let all = format!("{a}{b}");
        let mut f = StreamFramer::new(MAX);
        let mut frames = Vec::new();
        for byte in all.as_bytes() {
            f.extend(std::slice::from_ref(byte));
            frames.extend(drain(&mut f));
        }
        let got: Vec<&[u8]> = frames.iter().map(as_msg).collect();
        assert_eq!(got, vec![a.as_bytes(), b.as_bytes()]);
    }

    #[test]
    fn every_split_point() {
        let a = msg("split me");
        let b = msg("");
        let all = format!("{a}\r\n\r\n{b}");
        for cut in 0..=all.len() {
            let mut f = StreamFramer::new(MAX);
            f.extend(&all.as_bytes()[..cut]);
            let mut frames = drain(&mut f);
            f.extend(&all.as_bytes()[cut..]);
            frames.extend(drain(&mut f));
            assert_eq!(
                frames,
                vec![
                    Frame::Message(Bytes::from(a.clone())),
                    Frame::Ping,
                    Frame::Message(Bytes::from(b.clone()))
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn compact_and_case_insensitive_length() {
        for hdr in ["l: 4", "L:4", "content-LENGTH :  4 ", "Content-Length:\t4"] {
            let m = format!("INFO sip:x SIP/2.0\r\n{hdr}\r\nCall-ID: c\r\n\r\nabcdNEXT");
            let mut f = StreamFramer::new(MAX);
            f.extend(m.as_bytes());
            let fr = f.next_frame().unwrap().expect("one message");
            assert!(as_msg(&fr).ends_with(b"\r\n\r\nabcd"), "{hdr}");
            assert_eq!(f.buffered(), 4, "{hdr}");
        }
    }

    #[test]
    fn missing_content_length_means_empty_body() {
        let mut f = StreamFramer::new(MAX);
        f.extend(b"OPTIONS sip:x SIP/2.0\r\nCall-ID: c\r\n\r\nOPTIONS");
        let fr = f.next_frame().unwrap().unwrap();
        assert!(as_msg(&fr).ends_with(b"Call-ID: c\r\n\r\n"));
        assert_eq!(f.next_frame().unwrap(), None);
    }

    #[test]
    fn folded_header_is_not_a_length() {
        let mut f = StreamFramer::new(MAX);
        f.extend(b"INFO sip:x SIP/2.0\r\nSubject: a\r\n l: 9\r\nl: 1\r\n\r\nZ");
        let fr = f.next_frame().unwrap().unwrap();
        assert!(as_msg(&fr).ends_with(b"\r\n\r\nZ"));
    }

    #[test]
    fn pings_and_pongs() {
        let mut f = StreamFramer::new(MAX);
        f.extend(b"\r\n\r\n\r\n\r\n");
        assert_eq!(drain(&mut f), vec![Frame::Ping, Frame::Ping]);
        // A lone CRLF (pong) waits: it may be the start of a ping.
        f.extend(b"\r\n");
        assert_eq!(f.next_frame().unwrap(), None);
        f.extend(b"INFO sip:x SIP/2.0\r\n\r\n");
        let fr = f.next_frame().unwrap().unwrap();
        assert_eq!(as_msg(&fr), b"INFO sip:x SIP/2.0\r\n\r\n");
    }

    #[test]
    fn pong_only_when_expected() {
        let mut f = StreamFramer::new(MAX);
        f.set_expect_pong(true);
        f.extend(b"\r");
        assert_eq!(f.next_frame().unwrap(), None);
        f.extend(b"\n");
        assert_eq!(f.next_frame().unwrap(), Some(Frame::Pong));
        f.set_expect_pong(false);
        f.extend(b"\r\nOPTIONS sip:x SIP/2.0\r\n\r\n");
        assert!(matches!(f.next_frame().unwrap(), Some(Frame::Message(_))));
    }

    #[test]
    fn header_block_too_large() {
        let mut f = StreamFramer::new(100);
        f.extend(&[b'a'; 100]);
        assert_eq!(f.next_frame().unwrap(), None);
        f.extend(b"b");
        assert_eq!(
            f.next_frame(),
            Err(FramingError::HeaderTooLarge { max: 100 })
        );
    }

    #[test]
    fn content_length_too_large() {
        let mut f = StreamFramer::new(1000);
        f.extend(b"INFO sip:x SIP/2.0\r\nContent-Length: 99999999999999999999999\r\n\r\n");
        assert!(matches!(
            f.next_frame(),
            Err(FramingError::BadContentLength(_))
        ));
        let mut f = StreamFramer::new(1000);
        f.extend(b"INFO sip:x SIP/2.0\r\nl: 990\r\n\r\n");
        let err = f.next_frame().unwrap_err();
        assert!(err.is_oversize(), "{err}");
    }

    #[test]
    fn bad_and_conflicting_lengths() {
        for (hdrs, want_conflict) in [
            ("l: 1\r\nContent-Length: 2", true),
            ("Content-Length: -1", false),
            ("Content-Length: ", false),
            ("l: 1 2", false),
        ] {
            let mut f = StreamFramer::new(MAX);
            f.extend(format!("INFO sip:x SIP/2.0\r\n{hdrs}\r\n\r\nab").as_bytes());
            let err = f.next_frame().unwrap_err();
            assert_eq!(
                matches!(err, FramingError::ConflictingContentLength(..)),
                want_conflict,
                "{hdrs}: {err}"
            );
        }
        let mut f = StreamFramer::new(MAX);
        f.extend(b"INFO sip:x SIP/2.0\r\nl: 2\r\nl:2\r\n\r\nab");
        assert!(f.next_frame().unwrap().is_some());
    }

    #[test]
    fn garbage_without_header_end_stays_bounded() {
        let mut f = StreamFramer::new(1024);
        let mut failed = false;
        for _ in 0..100 {
            f.extend(&[0xffu8; 64]);
            match f.next_frame() {
                Ok(None) => assert!(f.buffered() <= 1024 + 64),
                Ok(Some(_)) => panic!("garbage framed as a message"),
                Err(e) => {
                    assert!(e.is_oversize());
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed);
    }
}

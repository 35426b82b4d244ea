//! TPKT (RFC 1006) framing of H.225.0 call signalling over TCP.
//!
//! A TPKT is `03 00 len_hi len_lo` followed by `len - 4` octets. H.323
//! endpoints send a bare 4-octet TPKT as a keep-alive; it is returned as an
//! empty frame so the caller can refresh its timers.

use thiserror::Error;

pub const TPKT_VERSION: u8 = 3;
pub const HEADER_LEN: usize = 4;
/// The largest frame the 16-bit length allows.
pub const MAX_FRAME: usize = 65535;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TpktError {
    #[error("TPKT version {0} (expected 3)")]
    BadVersion(u8),
    #[error("TPKT length {0} shorter than its header")]
    TooShort(usize),
    #[error("TPKT length {len} over the limit {max}")]
    TooLong { len: usize, max: usize },
}

/// Wraps `payload` in a TPKT header.
pub fn encode(payload: &[u8]) -> Result<Vec<u8>, TpktError> {
    let len = payload.len() + HEADER_LEN;
    if len > MAX_FRAME {
        return Err(TpktError::TooLong {
            len,
            max: MAX_FRAME,
        });
    }
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&[TPKT_VERSION, 0, (len >> 8) as u8, len as u8]);
    out.extend_from_slice(payload);
    Ok(out)
}

/// Reassembles TPKT frames from TCP reads of any size.
#[derive(Debug)]
pub struct TpktFramer {
    buf: Vec<u8>,
    max_frame: usize,
}

impl TpktFramer {
    /// `max_frame` bounds a frame (header included); at most 65535.
    pub fn new(max_frame: usize) -> Self {
        TpktFramer {
            buf: Vec::new(),
            max_frame: max_frame.min(MAX_FRAME),
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Octets held but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame's payload, None until one is complete. An
    /// error means the stream is not TPKT (or over the limit): close it,
    /// since resynchronising a byte stream is guesswork.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, TpktError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        if self.buf[0] != TPKT_VERSION {
            return Err(TpktError::BadVersion(self.buf[0]));
        }
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = ((self.buf[2] as usize) << 8) | self.buf[3] as usize;
        if len < HEADER_LEN {
            return Err(TpktError::TooShort(len));
        }
        if len > self.max_frame {
            return Err(TpktError::TooLong {
                len,
                max: self.max_frame,
            });
        }
        if self.buf.len() < len {
            return Ok(None);
        }
        let payload = self.buf[HEADER_LEN..len].to_vec();
        self.buf.drain(..len);
        Ok(Some(payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_reads_and_back_to_back() {
        let a = encode(b"hello").unwrap();
        let b = encode(b"").unwrap();
        let c = encode(&[7u8; 300]).unwrap();
        assert_eq!(a, vec![3, 0, 0, 9, b'h', b'e', b'l', b'l', b'o']);
        let all: Vec<u8> = [a, b, c].concat();
        let mut f = TpktFramer::new(4096);
        let mut frames = Vec::new();
        // one byte at a time: every partial read is handled
        for byte in &all {
            f.push(std::slice::from_ref(byte));
            while let Some(fr) = f.next_frame().unwrap() {
                frames.push(fr);
            }
        }
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0], b"hello");
        assert!(frames[1].is_empty(), "keep-alive comes out empty");
        assert_eq!(frames[2], vec![7u8; 300]);
        assert_eq!(f.buffered(), 0);
        // all at once gives the same
        let mut f = TpktFramer::new(4096);
        f.push(&all);
        assert_eq!(f.next_frame().unwrap().unwrap(), b"hello");
        assert_eq!(f.next_frame().unwrap().unwrap(), b"");
        assert_eq!(f.next_frame().unwrap().unwrap().len(), 300);
        assert_eq!(f.next_frame().unwrap(), None);
    }

    #[test]
    fn bad_streams_are_refused() {
        let mut f = TpktFramer::new(1000);
        f.push(&[0x16, 3, 1, 0, 0]);
        assert_eq!(f.next_frame(), Err(TpktError::BadVersion(0x16)));
        let mut f = TpktFramer::new(1000);
        f.push(&[3, 0, 0, 2]);
        assert_eq!(f.next_frame(), Err(TpktError::TooShort(2)));
        let mut f = TpktFramer::new(1000);
        f.push(&[3, 0, 0x10, 0]);
        assert_eq!(
            f.next_frame(),
            Err(TpktError::TooLong {
                len: 4096,
                max: 1000
            })
        );
        assert!(matches!(
            encode(&vec![0u8; 65532]),
            Err(TpktError::TooLong { .. })
        ));
    }
}

//! Plain RTP framing between a WebRTC leg and a meeting's media plane,
//! which sees the leg as an ordinary Opus RTP participant on loopback.

/// The payload type the meeting leg is offered for Opus/48000/2 (the
/// browsers' usual one; only the loopback pair ever sees it).
pub const OPUS_PT: u8 = 111;

/// Makes RTP packets of one outgoing stream: sequence numbers are ours,
/// RTP times are the frames' own.
#[derive(Debug, Clone)]
pub struct RtpFramer {
    ssrc: u32,
    seq: u16,
    pt: u8,
}

impl RtpFramer {
    /// `ssrc` and the first sequence number come from the caller (random
    /// there: this crate reads no entropy).
    pub fn new(pt: u8, ssrc: u32, first_seq: u16) -> Self {
        RtpFramer {
            ssrc,
            seq: first_seq,
            pt: pt & 0x7f,
        }
    }

    pub fn frame(&mut self, rtp_time: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + payload.len());
        out.push(0x80);
        out.push(self.pt);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&rtp_time.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        out
    }
}

/// What a received RTP packet carries, borrowed from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpView<'a> {
    pub payload_type: u8,
    pub seq: u16,
    pub rtp_time: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

/// Reads an RTP packet (RFC 3550 §5.1): CSRCs, a header extension and
/// padding are skipped with every length checked against the datagram.
/// RTCP (payload types 200-204 with the marker bit, RFC 5761 §4) and
/// anything malformed give `None`.
pub fn parse_rtp(d: &[u8]) -> Option<RtpView<'_>> {
    if d.len() < 12 || d[0] >> 6 != 2 {
        return None;
    }
    if (200..=204).contains(&d[1]) {
        return None;
    }
    let cc = usize::from(d[0] & 0x0f);
    let mut start = 12 + 4 * cc;
    if d[0] & 0x10 != 0 {
        let ext = d.get(start..start + 4)?;
        let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        start += 4 + 4 * words;
    }
    let mut end = d.len();
    if d[0] & 0x20 != 0 {
        let pad = usize::from(*d.last()?);
        if pad == 0 {
            return None;
        }
        end = end.checked_sub(pad)?;
    }
    if start > end {
        return None;
    }
    Some(RtpView {
        payload_type: d[1] & 0x7f,
        seq: u16::from_be_bytes([d[2], d[3]]),
        rtp_time: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
        ssrc: u32::from_be_bytes([d[8], d[9], d[10], d[11]]),
        payload: &d[start..end],
    })
}

//! The little of RTP (RFC 3550 §5.1) the meeting bridge reads and writes.

/// Payload type, sequence number, timestamp and where the payload lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RtpView {
    pub payload_type: u8,
    pub marker: bool,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: (usize, usize),
}

/// Parses an RTP header; `None` for anything that is not a well-formed
/// RTP packet (the CSRC list, extension and padding must fit).
pub(crate) fn parse(pkt: &[u8]) -> Option<RtpView> {
    if pkt.len() < 12 || pkt[0] >> 6 != 2 {
        return None;
    }
    let csrc = (pkt[0] & 0x0f) as usize;
    let mut start = 12 + 4 * csrc;
    if pkt[0] & 0x10 != 0 {
        let ext = pkt.get(start..start + 4)?;
        start += 4 + 4 * u16::from_be_bytes([ext[2], ext[3]]) as usize;
    }
    let mut end = pkt.len();
    if pkt[0] & 0x20 != 0 {
        let pad = *pkt.last()? as usize;
        end = end.checked_sub(pad)?;
    }
    if start > end {
        return None;
    }
    Some(RtpView {
        payload_type: pkt[1] & 0x7f,
        marker: pkt[1] & 0x80 != 0,
        seq: u16::from_be_bytes([pkt[2], pkt[3]]),
        timestamp: u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]),
        ssrc: u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]),
        payload: (start, end),
    })
}

/// Writes a 12-byte RTP header (no CSRCs, no extension) into `out`.
pub(crate) fn write_header(
    out: &mut Vec<u8>,
    payload_type: u8,
    marker: bool,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
) {
    out.push(0x80);
    out.push((payload_type & 0x7f) | if marker { 0x80 } else { 0 });
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_bounds() {
        let mut p = Vec::new();
        write_header(&mut p, 0, true, 65535, 0xdead_beef, 7);
        p.extend_from_slice(&[1, 2, 3]);
        let v = parse(&p).unwrap();
        assert_eq!(
            (v.payload_type, v.marker, v.seq, v.timestamp, v.ssrc),
            (0, true, 65535, 0xdead_beef, 7)
        );
        assert_eq!(&p[v.payload.0..v.payload.1], &[1, 2, 3]);
        // CSRC count larger than the packet, padding larger than the packet,
        // extension running past the end: all refused, no panic.
        let mut bad = p.clone();
        bad[0] |= 0x0f;
        assert!(parse(&bad).is_none());
        let mut bad = p.clone();
        bad[0] |= 0x20;
        *bad.last_mut().unwrap() = 200;
        assert!(parse(&bad).is_none());
        let mut bad = p.clone();
        bad[0] |= 0x10;
        assert!(parse(&bad).is_none());
        for n in 0..p.len() {
            let _ = parse(&p[..n]);
        }
    }
}

use std::fmt;

use zeroize::Zeroize;

use crate::kdf::{self, Prf};
use crate::replay::{ReplayWindow, Verdict, MAX_REPLAY_WINDOW};
use crate::transform::Transform;
use crate::{SrtpError, SrtpKey, SrtpSuite};

/// Most SSRCs a context may be configured to track.
pub const MAX_SSRCS_LIMIT: usize = 256;

const RTP_HEADER: usize = 12;
const RTCP_HEADER: usize = 8;
const MAX_SRTCP_INDEX: u32 = 0x7fff_ffff;

/// What the session parameters of SDES (RFC 4568 §6.3) switch off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpOptions {
    /// False for UNENCRYPTED_SRTP: payloads go in the clear but are still
    /// authenticated.
    pub encrypt_rtp: bool,
    /// False for UNENCRYPTED_SRTCP: we send with the E flag clear. Received
    /// SRTCP is decrypted or not as its (authenticated) E flag says, so
    /// peers that differ from what was signalled still interoperate.
    pub encrypt_rtcp: bool,
    /// False for UNAUTHENTICATED_SRTP: no SRTP tag (SRTCP is always
    /// authenticated). Not allowed with the AEAD suites.
    pub auth_rtp: bool,
    /// Replay window in packets, 64..=128 (RFC 3711 asks for at least 64).
    pub replay_window: u16,
    /// Distinct SSRCs tracked per direction before new ones are refused.
    pub max_ssrcs: usize,
}

impl Default for SrtpOptions {
    fn default() -> Self {
        SrtpOptions {
            encrypt_rtp: true,
            encrypt_rtcp: true,
            auth_rtp: true,
            replay_window: MAX_REPLAY_WINDOW,
            max_ssrcs: 16,
        }
    }
}

/// Per-SSRC state in a small fixed-capacity list: a context sees a handful
/// of SSRCs, so a linear scan beats hashing, and the capacity bounds what
/// a peer can make us remember.
struct SsrcTable<T> {
    entries: Vec<(u32, T)>,
    limit: usize,
}

impl<T> SsrcTable<T> {
    fn new(limit: usize) -> Self {
        SsrcTable {
            entries: Vec::with_capacity(limit),
            limit,
        }
    }

    fn position(&self, ssrc: u32) -> Option<usize> {
        self.entries.iter().position(|(s, _)| *s == ssrc)
    }

    fn ensure_room(&self, ssrc: u32) -> Result<(), SrtpError> {
        if self.entries.len() >= self.limit {
            Err(SrtpError::TooManySsrcs {
                ssrc,
                limit: self.limit,
            })
        } else {
            Ok(())
        }
    }

    fn push(&mut self, ssrc: u32, v: T) -> usize {
        self.entries.push((ssrc, v));
        self.entries.len() - 1
    }
}

/// One direction of one media leg, keyed by one master key and salt:
/// derives the SRTP and SRTCP session keys once and keeps per-SSRC rollover
/// counters, SRTCP indices and replay windows.
///
/// Packets are processed in place in a `Vec<u8>`; protecting appends at
/// most [`SrtpSuite::rtp_overhead`] / [`SrtpSuite::rtcp_overhead`] bytes, so a
/// buffer with that much spare capacity is never reallocated. On error the
/// buffer holds the packet as it was given.
pub struct SrtpContext {
    suite: SrtpSuite,
    opts: SrtpOptions,
    rtp: Transform,
    rtcp: Transform,
    /// Highest index sent per SSRC.
    rtp_tx: SsrcTable<u64>,
    rtp_rx: SsrcTable<ReplayWindow>,
    /// Next SRTCP index to send per SSRC.
    rtcp_tx: SsrcTable<u32>,
    rtcp_rx: SsrcTable<ReplayWindow>,
}

impl fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .field("options", &self.opts)
            .field("rtp_tx_ssrcs", &self.rtp_tx.entries.len())
            .field("rtp_rx_ssrcs", &self.rtp_rx.entries.len())
            .field("keys", &"<redacted>")
            .finish()
    }
}

impl SrtpContext {
    pub fn new(
        suite: SrtpSuite,
        key: &SrtpKey,
        opts: SrtpOptions,
    ) -> Result<SrtpContext, SrtpError> {
        if key.suite() != suite {
            return Err(SrtpError::BadOption("key was made for another suite"));
        }
        let prf = Prf::new(key);
        let mut enc = [0u8; 32];
        let mut salt = [0u8; 14];
        let mut auth = [0u8; 20];
        let (kl, sl) = (suite.key_len(), suite.salt_len());
        let mut make = |le, la, ls| {
            prf.derive(key, le, &mut enc[..kl]);
            prf.derive(key, ls, &mut salt[..sl]);
            if suite.is_aead() {
                Transform::gcm(&enc[..kl], &salt[..sl])
            } else {
                prf.derive(key, la, &mut auth);
                Transform::cm(&enc[..kl], &salt[..sl], &auth)
            }
        };
        let rtp = make(
            kdf::LABEL_RTP_ENCRYPTION,
            kdf::LABEL_RTP_AUTH,
            kdf::LABEL_RTP_SALT,
        );
        let rtcp = make(
            kdf::LABEL_RTCP_ENCRYPTION,
            kdf::LABEL_RTCP_AUTH,
            kdf::LABEL_RTCP_SALT,
        );
        enc.zeroize();
        salt.zeroize();
        auth.zeroize();
        SrtpContext::from_transforms(suite, opts, rtp, rtcp)
    }

    pub(crate) fn from_transforms(
        suite: SrtpSuite,
        opts: SrtpOptions,
        rtp: Transform,
        rtcp: Transform,
    ) -> Result<SrtpContext, SrtpError> {
        if !(64..=MAX_REPLAY_WINDOW).contains(&opts.replay_window) {
            return Err(SrtpError::BadOption(
                "replay window must be 64..=128 packets",
            ));
        }
        if opts.max_ssrcs == 0 || opts.max_ssrcs > MAX_SSRCS_LIMIT {
            return Err(SrtpError::BadOption("max_ssrcs must be 1..=256"));
        }
        if suite.is_aead() && !opts.auth_rtp {
            return Err(SrtpError::BadOption(
                "AEAD suites cannot run unauthenticated SRTP",
            ));
        }
        Ok(SrtpContext {
            suite,
            opts,
            rtp,
            rtcp,
            rtp_tx: SsrcTable::new(opts.max_ssrcs),
            rtp_rx: SsrcTable::new(opts.max_ssrcs),
            rtcp_tx: SsrcTable::new(opts.max_ssrcs),
            rtcp_rx: SsrcTable::new(opts.max_ssrcs),
        })
    }

    pub fn suite(&self) -> SrtpSuite {
        self.suite
    }

    pub fn options(&self) -> SrtpOptions {
        self.opts
    }

    fn rtp_tag_len(&self) -> usize {
        if self.opts.auth_rtp {
            self.suite.tag_len()
        } else {
            0
        }
    }

    /// Encrypts and tags an RTP packet in place.
    pub fn protect_rtp(&mut self, pkt: &mut Vec<u8>) -> Result<(), SrtpError> {
        let (hdr_len, seq, ssrc) = parse_rtp(pkt)?;
        let (index, slot) = match self.rtp_tx.position(ssrc) {
            Some(i) => {
                let highest = self.rtp_tx.entries[i].1;
                (estimate_index(highest, seq, ssrc)?, Some(i))
            }
            None => {
                self.rtp_tx.ensure_room(ssrc)?;
                (u64::from(seq), None)
            }
        };
        self.rtp.protect_rtp(
            pkt,
            hdr_len,
            ssrc,
            index,
            self.opts.encrypt_rtp,
            self.rtp_tag_len(),
        )?;
        match slot {
            Some(i) => {
                let h = &mut self.rtp_tx.entries[i].1;
                *h = (*h).max(index);
            }
            None => {
                self.rtp_tx.push(ssrc, index);
            }
        }
        Ok(())
    }

    /// Verifies, replay-checks and decrypts an SRTP packet in place.
    pub fn unprotect_rtp(&mut self, pkt: &mut Vec<u8>) -> Result<(), SrtpError> {
        let tag_len = self.rtp_tag_len();
        let min = RTP_HEADER + tag_len;
        if pkt.len() < min {
            return Err(SrtpError::TooShort {
                len: pkt.len(),
                min,
            });
        }
        let (hdr_len, seq, ssrc) = parse_rtp(&pkt[..pkt.len() - tag_len])?;
        let slot = self.rtp_rx.position(ssrc);
        let index = match slot {
            Some(i) => {
                let w = &self.rtp_rx.entries[i].1;
                let index = estimate_index(w.highest(), seq, ssrc)?;
                check(w, ssrc, index)?;
                index
            }
            None => {
                // A new SSRC starts at ROC 0 (RFC 3711 §3.3.1); it is only
                // remembered once a packet from it authenticates.
                self.rtp_rx.ensure_room(ssrc)?;
                u64::from(seq)
            }
        };
        self.rtp
            .unprotect_rtp(pkt, hdr_len, ssrc, index, self.opts.encrypt_rtp, tag_len)?;
        let i = match slot {
            Some(i) => i,
            None => self
                .rtp_rx
                .push(ssrc, ReplayWindow::new(index, self.opts.replay_window)),
        };
        self.rtp_rx.entries[i].1.accept(index);
        Ok(())
    }

    /// Encrypts (unless UNENCRYPTED_SRTCP) and tags an RTCP compound packet.
    pub fn protect_rtcp(&mut self, pkt: &mut Vec<u8>) -> Result<(), SrtpError> {
        let ssrc = parse_rtcp(pkt)?;
        let slot = match self.rtcp_tx.position(ssrc) {
            Some(i) => i,
            None => {
                self.rtcp_tx.ensure_room(ssrc)?;
                self.rtcp_tx.push(ssrc, 0)
            }
        };
        let index = self.rtcp_tx.entries[slot].1;
        if index > MAX_SRTCP_INDEX {
            return Err(SrtpError::IndexExhausted { ssrc });
        }
        self.rtcp.protect_rtcp(
            pkt,
            ssrc,
            index,
            self.opts.encrypt_rtcp,
            self.suite.rtcp_tag_len(),
        )?;
        self.rtcp_tx.entries[slot].1 = index + 1;
        Ok(())
    }

    /// Verifies, replay-checks and (if its E flag is set) decrypts an SRTCP
    /// packet in place.
    pub fn unprotect_rtcp(&mut self, pkt: &mut Vec<u8>) -> Result<(), SrtpError> {
        let tag_len = self.suite.rtcp_tag_len();
        let min = RTCP_HEADER + 4 + tag_len;
        if pkt.len() < min {
            return Err(SrtpError::TooShort {
                len: pkt.len(),
                min,
            });
        }
        let ssrc = parse_rtcp(pkt)?;
        let (at, _) = self.rtcp.rtcp_layout(pkt.len(), tag_len);
        let trailer: [u8; 4] = pkt[at..at + 4].try_into().expect("4 bytes");
        let index = u64::from(u32::from_be_bytes(trailer) & MAX_SRTCP_INDEX);
        let slot = self.rtcp_rx.position(ssrc);
        match slot {
            Some(i) => check(&self.rtcp_rx.entries[i].1, ssrc, index)?,
            None => self.rtcp_rx.ensure_room(ssrc)?,
        }
        self.rtcp.unprotect_rtcp(pkt, ssrc, trailer, tag_len)?;
        let i = match slot {
            Some(i) => i,
            None => self
                .rtcp_rx
                .push(ssrc, ReplayWindow::new(index, self.opts.replay_window)),
        };
        self.rtcp_rx.entries[i].1.accept(index);
        Ok(())
    }

    /// Forgets everything about `ssrc` (after an RTCP BYE, or when a relayed
    /// peer changes SSRC) so that the slot can be reused.
    pub fn remove_ssrc(&mut self, ssrc: u32) {
        self.rtp_tx.entries.retain(|(s, _)| *s != ssrc);
        self.rtp_rx.entries.retain(|(s, _)| *s != ssrc);
        self.rtcp_tx.entries.retain(|(s, _)| *s != ssrc);
        self.rtcp_rx.entries.retain(|(s, _)| *s != ssrc);
    }

    /// The rollover counter last used for `ssrc` when receiving, if known.
    pub fn rx_roc(&self, ssrc: u32) -> Option<u32> {
        let i = self.rtp_rx.position(ssrc)?;
        Some((self.rtp_rx.entries[i].1.highest() >> 16) as u32)
    }

    /// The rollover counter last used for `ssrc` when sending, if known.
    pub fn tx_roc(&self, ssrc: u32) -> Option<u32> {
        let i = self.rtp_tx.position(ssrc)?;
        Some((self.rtp_tx.entries[i].1 >> 16) as u32)
    }

    #[cfg(test)]
    pub(crate) fn set_next_srtcp_index(&mut self, ssrc: u32, index: u32) {
        match self.rtcp_tx.position(ssrc) {
            Some(i) => self.rtcp_tx.entries[i].1 = index,
            None => {
                self.rtcp_tx.push(ssrc, index);
            }
        }
    }
}

fn check(w: &ReplayWindow, ssrc: u32, index: u64) -> Result<(), SrtpError> {
    match w.check(index) {
        Verdict::Fresh => Ok(()),
        Verdict::Replayed => Err(SrtpError::Replayed { ssrc, index }),
        Verdict::TooOld => Err(SrtpError::TooOld { ssrc, index }),
    }
}

/// RFC 3711 Appendix A: picks the ROC (last, last - 1 or last + 1) that
/// puts `seq` closest to the highest index seen.
fn estimate_index(highest: u64, seq: u16, ssrc: u32) -> Result<u64, SrtpError> {
    let roc = (highest >> 16) as i64;
    let s_l = (highest & 0xffff) as i64;
    let seq_i = i64::from(seq);
    let v = if s_l < 32768 {
        if seq_i - s_l > 32768 {
            roc - 1
        } else {
            roc
        }
    } else if s_l - 32768 > seq_i {
        roc + 1
    } else {
        roc
    };
    if v < 0 {
        // Before the start of the stream: can only be an old or forged packet.
        return Err(SrtpError::TooOld {
            ssrc,
            index: u64::from(seq),
        });
    }
    if v > i64::from(u32::MAX) {
        return Err(SrtpError::IndexExhausted { ssrc });
    }
    Ok(((v as u64) << 16) | u64::from(seq))
}

/// Header length, sequence number and SSRC of an RTP packet.
fn parse_rtp(pkt: &[u8]) -> Result<(usize, u16, u32), SrtpError> {
    if pkt.len() < RTP_HEADER {
        return Err(SrtpError::TooShort {
            len: pkt.len(),
            min: RTP_HEADER,
        });
    }
    if pkt[0] >> 6 != 2 {
        return Err(SrtpError::BadVersion);
    }
    let mut len = RTP_HEADER + 4 * usize::from(pkt[0] & 0x0f);
    if pkt[0] & 0x10 != 0 {
        if pkt.len() < len + 4 {
            return Err(SrtpError::BadHeader);
        }
        let words = u16::from_be_bytes([pkt[len + 2], pkt[len + 3]]);
        len += 4 + 4 * usize::from(words);
    }
    if len > pkt.len() {
        return Err(SrtpError::BadHeader);
    }
    let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
    let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
    Ok((len, seq, ssrc))
}

/// The sender SSRC of an RTCP compound packet.
fn parse_rtcp(pkt: &[u8]) -> Result<u32, SrtpError> {
    if pkt.len() < RTCP_HEADER {
        return Err(SrtpError::TooShort {
            len: pkt.len(),
            min: RTCP_HEADER,
        });
    }
    if pkt[0] >> 6 != 2 {
        return Err(SrtpError::BadVersion);
    }
    Ok(u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_estimate_follows_appendix_a() {
        // Around a wrap: a low sequence after a high one is the next ROC...
        assert_eq!(estimate_index(0xfffe, 1, 0).unwrap(), 0x1_0001);
        // ...and a high one after a low one is the previous ROC.
        assert_eq!(estimate_index(0x1_0002, 0xfffd, 0).unwrap(), 0xfffd);
        assert_eq!(estimate_index(0x5_1234, 0x1235, 0).unwrap(), 0x5_1235);
        assert!(matches!(
            estimate_index(5, 0xff00, 7),
            Err(SrtpError::TooOld { ssrc: 7, .. })
        ));
        assert!(matches!(
            estimate_index(0xffff_ffff_ffff, 3, 9),
            Err(SrtpError::IndexExhausted { ssrc: 9 })
        ));
    }

    #[test]
    fn rtp_header_parsing_refuses_overruns() {
        let mut p = vec![0x80u8; 12];
        assert_eq!(parse_rtp(&p).unwrap().0, 12);
        p[0] = 0x82; // two CSRCs, not present
        assert_eq!(parse_rtp(&p), Err(SrtpError::BadHeader));
        p[0] = 0x90; // extension header missing
        assert_eq!(parse_rtp(&p), Err(SrtpError::BadHeader));
        p.extend_from_slice(&[0xbe, 0xde, 0x00, 0x02, 1, 2, 3, 4]);
        assert_eq!(parse_rtp(&p), Err(SrtpError::BadHeader));
        p.extend_from_slice(&[5, 6, 7, 8]);
        assert_eq!(parse_rtp(&p).unwrap().0, 24);
        p[0] = 0x40;
        assert_eq!(parse_rtp(&p), Err(SrtpError::BadVersion));
    }
}

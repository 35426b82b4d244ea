//! Per-packet cryptographic transforms, one per SRTP or SRTCP direction,
//! with every key schedule computed once when the context is built.

use aes::cipher::KeyInit;
use aes::Aes128;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::keystream::apply_keystream;
use crate::SrtpError;

type HmacSha1 = Hmac<Sha1>;

pub(crate) const GCM_TAG: usize = 16;

pub(crate) enum Transform {
    /// AES-CM encryption with HMAC-SHA1 authentication (RFC 3711 §4).
    Cm {
        aes: Aes128,
        salt: [u8; 14],
        /// Keyed once; each packet clones the inner/outer pad state.
        mac: HmacSha1,
    },
    /// AES-GCM (RFC 7714).
    Gcm { aead: Aead, salt: [u8; 12] },
}

/// Inline rather than boxed: a context lives for a whole call, and the
/// few hundred bytes the smaller variant wastes cost less than a pointer
/// chase per packet.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Aead {
    A128(Aes128Gcm),
    A256(Aes256Gcm),
}

impl Drop for Transform {
    fn drop(&mut self) {
        match self {
            Transform::Cm { salt, .. } => salt.zeroize(),
            Transform::Gcm { salt, .. } => salt.zeroize(),
        }
    }
}

impl Transform {
    pub(crate) fn cm(enc_key: &[u8], salt: &[u8], auth_key: &[u8]) -> Transform {
        let mut s = [0u8; 14];
        s.copy_from_slice(salt);
        Transform::Cm {
            aes: Aes128::new_from_slice(enc_key).expect("16-byte session key"),
            salt: s,
            mac: <HmacSha1 as Mac>::new_from_slice(auth_key).expect("HMAC takes any key length"),
        }
    }

    pub(crate) fn gcm(enc_key: &[u8], salt: &[u8]) -> Transform {
        let mut s = [0u8; 12];
        s.copy_from_slice(salt);
        let aead = match enc_key.len() {
            32 => Aead::A256(Aes256Gcm::new_from_slice(enc_key).expect("32-byte session key")),
            _ => Aead::A128(Aes128Gcm::new_from_slice(enc_key).expect("16-byte session key")),
        };
        Transform::Gcm { aead, salt: s }
    }

    /// HMAC-SHA1 over `parts`, full 20 bytes.
    fn mac(mac: &HmacSha1, a: &[u8], b: &[u8]) -> [u8; 20] {
        let mut m = mac.clone();
        m.update(a);
        m.update(b);
        m.finalize().into_bytes().into()
    }

    /// RFC 3711 §4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16).
    pub(crate) fn cm_iv(salt: &[u8; 14], ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(salt);
        for (d, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *d ^= s;
        }
        for (d, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *d ^= s;
        }
        iv
    }

    /// RFC 7714 §8.1: 00 00 || SSRC || ROC || SEQ, XOR the salt.
    fn gcm_rtp_iv(salt: &[u8; 12], ssrc: u32, index: u64) -> [u8; 12] {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[6..12].copy_from_slice(&index.to_be_bytes()[2..]);
        for (d, s) in iv.iter_mut().zip(salt) {
            *d ^= s;
        }
        iv
    }

    /// RFC 7714 §9.1: 00 00 || SSRC || 00 00 || 0 || SRTCP index, XOR the salt.
    fn gcm_rtcp_iv(salt: &[u8; 12], ssrc: u32, index: u32) -> [u8; 12] {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[8..12].copy_from_slice(&index.to_be_bytes());
        for (d, s) in iv.iter_mut().zip(salt) {
            *d ^= s;
        }
        iv
    }

    /// Protects an RTP packet whose header is `hdr_len` bytes, appending the tag.
    pub(crate) fn protect_rtp(
        &self,
        pkt: &mut Vec<u8>,
        hdr_len: usize,
        ssrc: u32,
        index: u64,
        encrypt: bool,
        tag_len: usize,
    ) -> Result<(), SrtpError> {
        match self {
            Transform::Cm { aes, salt, mac } => {
                if encrypt {
                    apply_keystream(aes, Self::cm_iv(salt, ssrc, index), &mut pkt[hdr_len..]);
                }
                if tag_len > 0 {
                    let roc = ((index >> 16) as u32).to_be_bytes();
                    let tag = Self::mac(mac, pkt, &roc);
                    pkt.extend_from_slice(&tag[..tag_len]);
                }
                Ok(())
            }
            Transform::Gcm { aead, salt } => {
                let iv = Self::gcm_rtp_iv(salt, ssrc, index);
                let tag = if encrypt {
                    let (hdr, payload) = pkt.split_at_mut(hdr_len);
                    aead.seal(&iv, hdr, payload)?
                } else {
                    aead.seal(&iv, pkt, &mut [])?
                };
                pkt.extend_from_slice(&tag);
                Ok(())
            }
        }
    }

    /// Verifies and decrypts in place, removing the tag. On error the
    /// packet is left as it was.
    pub(crate) fn unprotect_rtp(
        &self,
        pkt: &mut Vec<u8>,
        hdr_len: usize,
        ssrc: u32,
        index: u64,
        encrypt: bool,
        tag_len: usize,
    ) -> Result<(), SrtpError> {
        let body = pkt.len() - tag_len;
        match self {
            Transform::Cm { aes, salt, mac } => {
                if tag_len > 0 {
                    let roc = ((index >> 16) as u32).to_be_bytes();
                    let tag = Self::mac(mac, &pkt[..body], &roc);
                    if !bool::from(tag[..tag_len].ct_eq(&pkt[body..])) {
                        return Err(SrtpError::AuthFailed);
                    }
                }
                if encrypt {
                    apply_keystream(aes, Self::cm_iv(salt, ssrc, index), &mut pkt[hdr_len..body]);
                }
            }
            Transform::Gcm { aead, salt } => {
                let iv = Self::gcm_rtp_iv(salt, ssrc, index);
                let (msg, tag) = pkt.split_at_mut(body);
                if encrypt {
                    let (hdr, payload) = msg.split_at_mut(hdr_len);
                    aead.open(&iv, hdr, payload, tag)?;
                } else {
                    aead.open(&iv, msg, &mut [], tag)?;
                }
            }
        }
        pkt.truncate(body);
        Ok(())
    }

    /// Protects an RTCP compound packet, appending E flag, SRTCP index and
    /// tag in the order of the suite (RFC 3711 §3.4, RFC 7714 §9).
    pub(crate) fn protect_rtcp(
        &self,
        pkt: &mut Vec<u8>,
        ssrc: u32,
        index: u32,
        encrypt: bool,
        tag_len: usize,
    ) -> Result<(), SrtpError> {
        let trailer = (index | if encrypt { 0x8000_0000 } else { 0 }).to_be_bytes();
        match self {
            Transform::Cm { aes, salt, mac } => {
                if encrypt {
                    let iv = Self::cm_iv(salt, ssrc, u64::from(index));
                    apply_keystream(aes, iv, &mut pkt[8..]);
                }
                pkt.extend_from_slice(&trailer);
                let tag = Self::mac(mac, pkt, &[]);
                pkt.extend_from_slice(&tag[..tag_len]);
            }
            Transform::Gcm { aead, salt } => {
                let iv = Self::gcm_rtcp_iv(salt, ssrc, index);
                if encrypt {
                    let mut aad = [0u8; 12];
                    aad[..8].copy_from_slice(&pkt[..8]);
                    aad[8..].copy_from_slice(&trailer);
                    let tag = aead.seal(&iv, &aad, &mut pkt[8..])?;
                    pkt.extend_from_slice(&tag);
                    pkt.extend_from_slice(&trailer);
                } else {
                    // The whole packet and the trailer are associated data;
                    // append the trailer first so they are contiguous, then
                    // move it behind the tag.
                    let n = pkt.len();
                    pkt.extend_from_slice(&trailer);
                    let tag = aead.seal(&iv, pkt, &mut [])?;
                    pkt.extend_from_slice(&tag);
                    pkt[n..].rotate_left(4);
                }
            }
        }
        Ok(())
    }

    /// Where the E flag and SRTCP index sit in a protected packet, and
    /// where the RTCP plaintext ends.
    pub(crate) fn rtcp_layout(&self, len: usize, tag_len: usize) -> (usize, usize) {
        match self {
            Transform::Cm { .. } => (len - tag_len - 4, len - tag_len - 4),
            Transform::Gcm { .. } => (len - 4, len - 4 - GCM_TAG),
        }
    }

    /// Verifies and decrypts an SRTCP packet in place, leaving plain RTCP.
    /// `trailer` is the E flag and index already read from the packet.
    pub(crate) fn unprotect_rtcp(
        &self,
        pkt: &mut Vec<u8>,
        ssrc: u32,
        trailer: [u8; 4],
        tag_len: usize,
    ) -> Result<(), SrtpError> {
        let word = u32::from_be_bytes(trailer);
        let encrypted = word & 0x8000_0000 != 0;
        let index = word & 0x7fff_ffff;
        let (_, end) = self.rtcp_layout(pkt.len(), tag_len);
        match self {
            Transform::Cm { aes, salt, mac } => {
                let body = pkt.len() - tag_len;
                let tag = Self::mac(mac, &pkt[..body], &[]);
                if !bool::from(tag[..tag_len].ct_eq(&pkt[body..])) {
                    return Err(SrtpError::AuthFailed);
                }
                if encrypted {
                    let iv = Self::cm_iv(salt, ssrc, u64::from(index));
                    apply_keystream(aes, iv, &mut pkt[8..end]);
                }
            }
            Transform::Gcm { aead, salt } => {
                let iv = Self::gcm_rtcp_iv(salt, ssrc, index);
                let mut tag = [0u8; GCM_TAG];
                tag.copy_from_slice(&pkt[end..end + GCM_TAG]);
                if encrypted {
                    let mut aad = [0u8; 12];
                    aad[..8].copy_from_slice(&pkt[..8]);
                    aad[8..].copy_from_slice(&trailer);
                    aead.open(&iv, &aad, &mut pkt[8..end], &tag)?;
                } else {
                    // Make packet and trailer contiguous over the tag's
                    // place; undo it if the tag does not verify.
                    pkt[end..end + 4].copy_from_slice(&trailer);
                    if let Err(e) = aead.open(&iv, &pkt[..end + 4], &mut [], &tag) {
                        pkt[end..end + 4].copy_from_slice(&tag[..4]);
                        return Err(e);
                    }
                }
            }
        }
        pkt.truncate(end);
        Ok(())
    }
}

impl Aead {
    fn seal(&self, iv: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Result<[u8; 16], SrtpError> {
        let nonce = Nonce::from_slice(iv);
        let tag = match self {
            Aead::A128(c) => c.encrypt_in_place_detached(nonce, aad, buf),
            Aead::A256(c) => c.encrypt_in_place_detached(nonce, aad, buf),
        }
        .map_err(|_| SrtpError::BadOption("packet exceeds the AES-GCM length limit"))?;
        Ok(tag.into())
    }

    fn open(&self, iv: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), SrtpError> {
        let nonce = Nonce::from_slice(iv);
        let tag = Tag::from_slice(tag);
        match self {
            Aead::A128(c) => c.decrypt_in_place_detached(nonce, aad, buf, tag),
            Aead::A256(c) => c.decrypt_in_place_detached(nonce, aad, buf, tag),
        }
        .map_err(|_| SrtpError::AuthFailed)
    }
}

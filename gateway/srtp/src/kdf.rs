//! RFC 3711 §4.3 key derivation with a key derivation rate of zero: every
//! session key is derived once, from index 0.

use aes::cipher::KeyInit;
use aes::{Aes128, Aes256};
use zeroize::Zeroize;

use crate::keystream::apply_keystream;
use crate::SrtpKey;

pub(crate) const LABEL_RTP_ENCRYPTION: u8 = 0;
pub(crate) const LABEL_RTP_AUTH: u8 = 1;
pub(crate) const LABEL_RTP_SALT: u8 = 2;
pub(crate) const LABEL_RTCP_ENCRYPTION: u8 = 3;
pub(crate) const LABEL_RTCP_AUTH: u8 = 4;
pub(crate) const LABEL_RTCP_SALT: u8 = 5;

/// The AES-CM PRF keyed with the master key, built once per context so the
/// six derivations share one key schedule. Lives on the stack only while
/// a context is built, so the size gap between variants does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Prf {
    Aes128(Aes128),
    Aes256(Aes256),
}

impl Prf {
    pub(crate) fn new(master: &SrtpKey) -> Prf {
        let k = master.master_key();
        match k.len() {
            32 => Prf::Aes256(Aes256::new_from_slice(k).expect("32-byte key")),
            _ => Prf::Aes128(Aes128::new_from_slice(k).expect("16-byte key")),
        }
    }

    /// Fills `out` with the keystream for `label`. The master salt is
    /// left-aligned in the 112-bit `x` (a 96-bit AEAD salt is padded with
    /// zeros on the right, as RFC 7714 §11 and libsrtp do), and the label
    /// sits in the byte just above the 48-bit index field (index 0 here).
    pub(crate) fn derive(&self, master: &SrtpKey, label: u8, out: &mut [u8]) {
        let mut iv = [0u8; 16];
        let salt = master.master_salt();
        iv[..salt.len()].copy_from_slice(salt);
        iv[7] ^= label;
        out.fill(0);
        match self {
            Prf::Aes128(c) => apply_keystream(c, iv, out),
            Prf::Aes256(c) => apply_keystream(c, iv, out),
        }
        iv.zeroize();
    }
}

/// Only for the Appendix B.2 check: the raw keystream of a session key.
#[cfg(test)]
pub(crate) fn keystream_for_test(key: &[u8; 16], iv: [u8; 16], out: &mut [u8]) {
    let c = Aes128::new_from_slice(key).unwrap();
    out.fill(0);
    apply_keystream(&c, iv, out);
}

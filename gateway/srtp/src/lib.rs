//! SRTP and SRTCP (RFC 3711, RFC 7714) per-leg crypto contexts for the media
//! bridge. Sans-IO: packets go in and come out of caller-owned buffers.
//!
//! Suites: AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32,
//! AEAD_AES_128_GCM and AEAD_AES_256_GCM, with a key derivation rate of
//! zero and no MKI. Keys never reach `Debug` output and are wiped on drop.
//!
//! ```
//! use gateway_srtp::{SrtpContext, SrtpKey, SrtpOptions, SrtpSuite};
//!
//! let suite = SrtpSuite::AesCm128HmacSha1_80;
//! let key = SrtpKey::from_concatenated(suite, &[7u8; 30]).unwrap();
//! let mut tx = SrtpContext::new(suite, &key, SrtpOptions::default()).unwrap();
//! let mut rx = SrtpContext::new(suite, &key, SrtpOptions::default()).unwrap();
//!
//! let rtp = [&[0x80, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 42][..], &[0xd5; 160]].concat();
//! let mut pkt = Vec::with_capacity(rtp.len() + suite.rtp_overhead());
//! pkt.extend_from_slice(&rtp);
//! tx.protect_rtp(&mut pkt).unwrap();
//! assert_ne!(pkt[12..172], rtp[12..]);
//! rx.unprotect_rtp(&mut pkt).unwrap();
//! assert_eq!(pkt, rtp);
//! ```

mod context;
mod error;
mod kdf;
mod key;
mod keystream;
mod replay;
mod suite;
mod transform;

#[cfg(test)]
mod vectors;

pub use context::{SrtpContext, SrtpOptions, MAX_SSRCS_LIMIT};
pub use error::SrtpError;
pub use key::SrtpKey;
pub use replay::MAX_REPLAY_WINDOW;
pub use suite::SrtpSuite;

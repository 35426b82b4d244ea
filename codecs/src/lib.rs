//! Audio codecs and signal helpers for the gateway's media path.
//!
//! Everything here is pure computation on sample buffers: no I/O, no clocks,
//! no allocation beyond what a caller-visible output needs.

pub mod analysis;
pub mod g711;
pub mod g722;
pub mod jitter;
pub mod mix;
pub mod opus;
pub mod plc;
pub mod resample;

pub use analysis::{dominant_frequency, goertzel_power, zero_crossing_frequency};
pub use g711::{
    alaw_decode, alaw_decode_buf, alaw_encode, alaw_encode_buf, alaw_to_ulaw, ulaw_decode,
    ulaw_decode_buf, ulaw_encode, ulaw_encode_buf, ulaw_to_alaw, ALAW_SILENCE, ULAW_SILENCE,
};

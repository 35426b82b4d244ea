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
pub use mix::{
    frame_level_dbov, ActiveSpeaker, Clip, LevelMeter, LevelReading, MixMinus, SILENCE_DBOV,
};
pub use opus::{Application, OpusDecoder, OpusEncoder};
pub use resample::Resampler;

/// Why a codec, resampler or mixer refused its input or configuration.
///
/// Variants that a remote peer can cause (bad packets) are distinct from
/// configuration mistakes, so the media layer can drop a packet and go on
/// while reporting a misconfigured leg.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("unsupported sample rate {0} Hz")]
    UnsupportedSampleRate(u32),
    #[error("unsupported channel count {0}")]
    UnsupportedChannels(u8),
    #[error("no resampler from {from} Hz to {to} Hz")]
    UnsupportedRatio { from: u32, to: u32 },
    #[error("bitrate {0} bit/s out of range")]
    InvalidBitrate(u32),
    /// The frame length is not one the codec can code (Opus: 2.5, 5, 10,
    /// 20, 40 or 60 ms; samples counted per channel).
    #[error("frame of {samples} samples per channel at {rate} Hz is not a valid codec frame")]
    InvalidFrameSize { samples: usize, rate: u32 },
    /// Interleaved input whose length is not a multiple of the channel count.
    #[error("{len} samples do not split into {channels} channels")]
    Misaligned { len: usize, channels: u8 },
    #[error("empty packet")]
    EmptyPacket,
    #[error("packet of {0} bytes is larger than any valid one")]
    PacketTooLarge(usize),
    /// A packet the decoder cannot parse (corrupt, truncated, not this codec).
    #[error("invalid packet")]
    InvalidPacket,
    /// Any other error the codec library reported.
    #[error("codec library error {code}: {message}")]
    Library { code: i32, message: String },
    /// A frame whose length differs from the one configured (mixer).
    #[error("frame of {got} samples where {expected} were expected")]
    FrameLength { expected: usize, got: usize },
}

//! Opus (RFC 6716) through the system libopus.
//!
//! A thin safe layer over the C API: each encoder and decoder owns one
//! libopus state, every length handed to C is checked here first, and every
//! negative return becomes a [`CodecError`]. Packets from the network are
//! validated with `opus_decoder_get_nb_samples` before decoding, so a
//! corrupt TOC byte is an error rather than an oversized output buffer.
//!
//! Sample counts in this API are per channel (what RFC 7587 calls the frame
//! size); interleaved buffers hold `samples * channels` values. Both
//! `encode` and `decode` append to the caller's vector, so a caller can keep
//! one buffer per leg and reuse its capacity.
//!
//! A libopus decoder converts on output: a stereo 48 kHz stream (what
//! baresip or a browser sends) decodes directly to mono 16 kHz when the
//! decoder is created that way, which is cheaper than decoding stereo 48 kHz
//! and resampling.

use std::ffi::{c_int, CStr};
use std::ptr::NonNull;

use libopus_sys as ffi;

use crate::CodecError;

/// Sample rates libopus codes at.
const RATES: [u32; 5] = [8000, 12000, 16000, 24000, 48000];

/// Largest packet we let the encoder write: 3 * 1275 + 7 is the bound the
/// libopus documentation gives for a 120 ms packet.
const MAX_PACKET: usize = 4000;

/// An Opus packet can carry at most 120 ms of audio (RFC 6716 §3.2.5); a
/// larger claim means a corrupt packet.
const MAX_PACKET_MS: usize = 120;

/// Largest packet we accept from the network. A 120 ms packet of 48 frames
/// of 1275 bytes is the theoretical maximum; RTP over UDP cannot carry more
/// than 64 KiB anyway.
const MAX_INPUT_PACKET: usize = 65_535;

/// What the encoder is tuned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Application {
    /// Speech: the SILK layer, high-pass and formant emphasis, in-band FEC.
    Voip,
    /// Music and mixed content: more faithful, slightly more delay.
    Audio,
}

fn check_rate(rate: u32) -> Result<(), CodecError> {
    if RATES.contains(&rate) {
        Ok(())
    } else {
        Err(CodecError::UnsupportedSampleRate(rate))
    }
}

fn check_channels(channels: u8) -> Result<(), CodecError> {
    if channels == 1 || channels == 2 {
        Ok(())
    } else {
        Err(CodecError::UnsupportedChannels(channels))
    }
}

fn library_error(code: c_int) -> CodecError {
    if code == ffi::OPUS_INVALID_PACKET {
        return CodecError::InvalidPacket;
    }
    // SAFETY: opus_strerror returns a pointer to a static NUL-terminated
    // string for any code, including unknown ones.
    let message = unsafe { CStr::from_ptr(ffi::opus_strerror(code)) }
        .to_string_lossy()
        .into_owned();
    CodecError::Library { code, message }
}

/// Whether `samples` per channel is one of Opus' frame durations
/// (2.5, 5, 10, 20, 40 or 60 ms) at `rate`.
fn is_opus_frame(samples: usize, rate: u32) -> bool {
    let per_2_5ms = rate as usize / 400;
    [1, 2, 4, 8, 16, 24]
        .iter()
        .any(|&k| samples == k * per_2_5ms)
}

/// An Opus encoder for one outgoing stream.
pub struct OpusEncoder {
    st: NonNull<ffi::OpusEncoder>,
    rate: u32,
    channels: u8,
}

// SAFETY: the libopus encoder state is plain memory with no thread affinity
// and no shared globals; `&mut self` on every call keeps access exclusive.
unsafe impl Send for OpusEncoder {}

impl OpusEncoder {
    /// Creates an encoder for `channels` (1 or 2) interleaved channels at
    /// `sample_rate` (8, 12, 16, 24 or 48 kHz) and a target `bitrate` in
    /// bit/s (500..=512000).
    pub fn new(
        sample_rate: u32,
        channels: u8,
        application: Application,
        bitrate: u32,
    ) -> Result<Self, CodecError> {
        check_rate(sample_rate)?;
        check_channels(channels)?;
        let app = match application {
            Application::Voip => ffi::OPUS_APPLICATION_VOIP,
            Application::Audio => ffi::OPUS_APPLICATION_AUDIO,
        } as c_int;
        let mut err: c_int = 0;
        // SAFETY: arguments were validated; libopus writes `err` and
        // returns either a valid state or null.
        let raw = unsafe {
            ffi::opus_encoder_create(sample_rate as i32, c_int::from(channels), app, &mut err)
        };
        let st = match NonNull::new(raw) {
            Some(st) if err == ffi::OPUS_OK as c_int => st,
            Some(st) => {
                // SAFETY: st came from opus_encoder_create and is not used again.
                unsafe { ffi::opus_encoder_destroy(st.as_ptr()) };
                return Err(library_error(err));
            }
            None => return Err(library_error(err)),
        };
        let mut enc = OpusEncoder {
            st,
            rate: sample_rate,
            channels,
        };
        enc.set_bitrate(bitrate)?;
        Ok(enc)
    }

    /// Sample rate of the input, in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Interleaved channels of the input.
    pub fn channels(&self) -> u8 {
        self.channels
    }

    fn ctl_set(&mut self, request: u32, value: i32) -> Result<(), CodecError> {
        // SAFETY: every request passed here is a SET request taking one
        // opus_int32 argument, which is what the variadic call supplies.
        let rc = unsafe { ffi::opus_encoder_ctl(self.st.as_ptr(), request as c_int, value) };
        if rc == ffi::OPUS_OK as c_int {
            Ok(())
        } else {
            Err(library_error(rc))
        }
    }

    /// Target bitrate in bit/s (500..=512000).
    pub fn set_bitrate(&mut self, bitrate: u32) -> Result<(), CodecError> {
        if !(500..=512_000).contains(&bitrate) {
            return Err(CodecError::InvalidBitrate(bitrate));
        }
        self.ctl_set(ffi::OPUS_SET_BITRATE_REQUEST, bitrate as i32)
    }

    /// In-band forward error correction: each packet also carries a coarse
    /// copy of the previous frame, which [`OpusDecoder::decode_fec`] uses
    /// when that frame was lost. Only effective with the SILK layer
    /// (speech at moderate bitrates) and when the expected packet loss is
    /// set above zero.
    pub fn set_fec(&mut self, enabled: bool) -> Result<(), CodecError> {
        self.ctl_set(ffi::OPUS_SET_INBAND_FEC_REQUEST, i32::from(enabled))
    }

    /// Expected packet loss in percent (0..=100); makes the encoder spend
    /// bits on FEC and less on inter-frame prediction.
    pub fn set_packet_loss_percent(&mut self, percent: u8) -> Result<(), CodecError> {
        self.ctl_set(
            ffi::OPUS_SET_PACKET_LOSS_PERC_REQUEST,
            i32::from(percent.min(100)),
        )
    }

    /// Discontinuous transmission: during silence the encoder emits packets
    /// of one or two bytes, which a sender may choose not to transmit.
    pub fn set_dtx(&mut self, enabled: bool) -> Result<(), CodecError> {
        self.ctl_set(ffi::OPUS_SET_DTX_REQUEST, i32::from(enabled))
    }

    /// Computational complexity 0..=10 (libopus defaults to 9 or 10).
    pub fn set_complexity(&mut self, complexity: u8) -> Result<(), CodecError> {
        self.ctl_set(
            ffi::OPUS_SET_COMPLEXITY_REQUEST,
            i32::from(complexity.min(10)),
        )
    }

    /// Samples per channel of algorithmic delay the encoder adds.
    pub fn lookahead(&mut self) -> Result<usize, CodecError> {
        let mut value: i32 = 0;
        // SAFETY: GET_LOOKAHEAD takes one opus_int32 pointer.
        let rc = unsafe {
            ffi::opus_encoder_ctl(
                self.st.as_ptr(),
                ffi::OPUS_GET_LOOKAHEAD_REQUEST as c_int,
                &mut value as *mut i32,
            )
        };
        if rc != ffi::OPUS_OK as c_int {
            return Err(library_error(rc));
        }
        Ok(value.max(0) as usize)
    }

    /// Encodes one frame of interleaved `pcm` (2.5 to 60 ms) and appends the
    /// packet to `out`. Returns the packet length in bytes; with DTX on, a
    /// length of 2 or less marks a frame that need not be sent.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<usize, CodecError> {
        let channels = usize::from(self.channels);
        if pcm.len() % channels != 0 {
            return Err(CodecError::Misaligned {
                len: pcm.len(),
                channels: self.channels,
            });
        }
        let samples = pcm.len() / channels;
        if !is_opus_frame(samples, self.rate) {
            return Err(CodecError::InvalidFrameSize {
                samples,
                rate: self.rate,
            });
        }
        out.reserve(MAX_PACKET);
        let start = out.len();
        let spare = out.spare_capacity_mut();
        // SAFETY: `pcm` holds exactly samples * channels values; the output
        // pointer has at least MAX_PACKET writable bytes (reserved above)
        // and libopus writes at most `max_data_bytes` of them.
        let n = unsafe {
            ffi::opus_encode(
                self.st.as_ptr(),
                pcm.as_ptr(),
                samples as c_int,
                spare.as_mut_ptr().cast::<u8>(),
                MAX_PACKET as i32,
            )
        };
        if n < 0 {
            return Err(library_error(n));
        }
        let n = n as usize;
        // SAFETY: libopus initialised the first n <= MAX_PACKET bytes.
        unsafe { out.set_len(start + n) };
        Ok(n)
    }
}

impl Drop for OpusEncoder {
    fn drop(&mut self) {
        // SAFETY: st was created by opus_encoder_create and is dropped once.
        unsafe { ffi::opus_encoder_destroy(self.st.as_ptr()) }
    }
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("rate", &self.rate)
            .field("channels", &self.channels)
            .finish()
    }
}

/// An Opus decoder for one incoming stream.
///
/// The output rate and channel count are the decoder's own choice,
/// independent of what the sender encoded.
pub struct OpusDecoder {
    st: NonNull<ffi::OpusDecoder>,
    rate: u32,
    channels: u8,
}

// SAFETY: as for OpusEncoder: plain memory, exclusive access via &mut self.
unsafe impl Send for OpusDecoder {}

impl OpusDecoder {
    /// Creates a decoder producing `channels` (1 or 2) interleaved channels
    /// at `sample_rate` (8, 12, 16, 24 or 48 kHz).
    pub fn new(sample_rate: u32, channels: u8) -> Result<Self, CodecError> {
        check_rate(sample_rate)?;
        check_channels(channels)?;
        let mut err: c_int = 0;
        // SAFETY: arguments validated; libopus returns a state or null.
        let raw = unsafe {
            ffi::opus_decoder_create(sample_rate as i32, c_int::from(channels), &mut err)
        };
        let st = match NonNull::new(raw) {
            Some(st) if err == ffi::OPUS_OK as c_int => st,
            Some(st) => {
                // SAFETY: st came from opus_decoder_create and is not used again.
                unsafe { ffi::opus_decoder_destroy(st.as_ptr()) };
                return Err(library_error(err));
            }
            None => return Err(library_error(err)),
        };
        Ok(OpusDecoder {
            st,
            rate: sample_rate,
            channels,
        })
    }

    /// Output sample rate, in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Interleaved output channels.
    pub fn channels(&self) -> u8 {
        self.channels
    }

    /// Samples per channel that `packet` decodes to at this decoder's rate,
    /// or an error if its table of contents is invalid.
    pub fn packet_samples(&self, packet: &[u8]) -> Result<usize, CodecError> {
        if packet.is_empty() {
            return Err(CodecError::EmptyPacket);
        }
        if packet.len() > MAX_INPUT_PACKET {
            return Err(CodecError::PacketTooLarge(packet.len()));
        }
        // SAFETY: the pointer and length describe `packet`; the call only
        // reads the packet header and the decoder's sample rate.
        let n = unsafe {
            ffi::opus_decoder_get_nb_samples(self.st.as_ptr(), packet.as_ptr(), packet.len() as i32)
        };
        if n < 0 {
            return Err(library_error(n));
        }
        let n = n as usize;
        if n == 0 || n > self.max_samples() {
            return Err(CodecError::InvalidPacket);
        }
        Ok(n)
    }

    fn max_samples(&self) -> usize {
        self.rate as usize * MAX_PACKET_MS / 1000
    }

    /// Runs opus_decode into `out`'s spare capacity for exactly `samples`
    /// per channel (or fewer if libopus says so).
    fn decode_raw(
        &mut self,
        packet: Option<&[u8]>,
        samples: usize,
        fec: bool,
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError> {
        let channels = usize::from(self.channels);
        out.reserve(samples * channels);
        let start = out.len();
        let spare = out.spare_capacity_mut();
        let (data, len) = match packet {
            Some(p) => (p.as_ptr(), p.len() as i32),
            None => (std::ptr::null(), 0),
        };
        // SAFETY: `data`/`len` describe the packet (or null/0 for loss
        // concealment); the output has room for samples * channels values
        // and libopus writes at most frame_size * channels of them.
        let n = unsafe {
            ffi::opus_decode(
                self.st.as_ptr(),
                data,
                len,
                spare.as_mut_ptr().cast::<i16>(),
                samples as c_int,
                c_int::from(fec),
            )
        };
        if n < 0 {
            return Err(library_error(n));
        }
        let n = (n as usize).min(samples);
        // SAFETY: libopus initialised n * channels values.
        unsafe { out.set_len(start + n * channels) };
        Ok(n)
    }

    /// Decodes one packet and appends its interleaved samples to `out`.
    /// Returns the samples per channel appended.
    ///
    /// Errors (and leaves `out` unchanged) for an empty, oversized or
    /// malformed packet; the decoder stays usable.
    pub fn decode(&mut self, packet: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        let samples = self.packet_samples(packet)?;
        self.decode_raw(Some(packet), samples, false, out)
    }

    /// Packet loss concealment: appends `samples` per channel of audio
    /// extrapolated from what was decoded before. `samples` must be a
    /// multiple of 2.5 ms and at most 120 ms; for a lost 20 ms packet at
    /// 48 kHz pass 960.
    pub fn decode_lost(&mut self, samples: usize, out: &mut Vec<i16>) -> Result<usize, CodecError> {
        self.check_concealment(samples)?;
        self.decode_raw(None, samples, false, out)
    }

    /// Recovers a lost frame from the in-band FEC data carried in `packet`,
    /// the packet that followed the loss. `samples` is the lost frame's
    /// length per channel. When `packet` carries no FEC, libopus conceals
    /// the loss instead, so the caller gets `samples` either way; decode
    /// `packet` itself afterwards with [`decode`](Self::decode).
    pub fn decode_fec(
        &mut self,
        packet: &[u8],
        samples: usize,
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError> {
        self.check_concealment(samples)?;
        self.packet_samples(packet)?;
        self.decode_raw(Some(packet), samples, true, out)
    }

    fn check_concealment(&self, samples: usize) -> Result<(), CodecError> {
        let per_2_5ms = self.rate as usize / 400;
        if samples == 0 || samples % per_2_5ms != 0 || samples > self.max_samples() {
            return Err(CodecError::InvalidFrameSize {
                samples,
                rate: self.rate,
            });
        }
        Ok(())
    }

    /// Forgets all history, as at creation (for a new stream on the same
    /// leg, e.g. after an SSRC change).
    pub fn reset(&mut self) -> Result<(), CodecError> {
        // SAFETY: OPUS_RESET_STATE takes no argument.
        let rc = unsafe { ffi::opus_decoder_ctl(self.st.as_ptr(), ffi::OPUS_RESET_STATE as c_int) };
        if rc == ffi::OPUS_OK as c_int {
            Ok(())
        } else {
            Err(library_error(rc))
        }
    }
}

impl Drop for OpusDecoder {
    fn drop(&mut self) {
        // SAFETY: st was created by opus_decoder_create and is dropped once.
        unsafe { ffi::opus_decoder_destroy(self.st.as_ptr()) }
    }
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("rate", &self.rate)
            .field("channels", &self.channels)
            .finish()
    }
}

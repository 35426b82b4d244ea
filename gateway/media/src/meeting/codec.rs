//! Per-leg audio codec adapter of the meeting bridge: payloads of the leg's
//! codec in, 16 kHz PCM out, and back. The mix runs at 16 kHz: wideband for
//! G.722 and Opus rooms, a 2:1 resample for G.711 ones.

use std::collections::VecDeque;

use codecs::g722::{G722Decoder, G722Encoder};
use codecs::{Application, OpusDecoder, OpusEncoder, Resampler};
use gateway_callmodel::AudioCodec;

/// The mix's sample rate.
pub const MIX_RATE: u32 = 16_000;
/// Samples of one 20 ms mix frame.
pub const FRAME: usize = (MIX_RATE / 50) as usize;

#[derive(Debug, thiserror::Error)]
#[error("the meeting bridge cannot transcode {0:?}: {1}")]
pub struct UnsupportedCodec(pub AudioCodec, pub String);

/// Encoding names of the codecs a meeting mixes, for refusals.
pub const MIXABLE: &[&str] = &["PCMU", "PCMA", "G722", "opus"];

/// Opus bit rate towards a room: wideband speech.
const OPUS_BITRATE: u32 = 32_000;

enum Coder {
    /// G.711 at 8 kHz, resampled to and from the 16 kHz mix.
    G711 {
        alaw: bool,
        up: Resampler,
        down: Resampler,
    },
    G722(Box<(G722Encoder, G722Decoder)>),
    /// libopus runs at 16 kHz on our side; the RTP clock stays 48 kHz.
    Opus(Box<(OpusEncoder, OpusDecoder)>),
}

pub(crate) struct LegCodec {
    codec: AudioCodec,
    coder: Coder,
    scratch: Vec<i16>,
    /// G.711 samples at 8 kHz, before or after resampling.
    narrow: Vec<i16>,
}

fn unsupported(codec: AudioCodec, e: impl std::fmt::Display) -> UnsupportedCodec {
    UnsupportedCodec(codec, e.to_string())
}

impl LegCodec {
    pub(crate) fn new(codec: AudioCodec) -> Result<LegCodec, UnsupportedCodec> {
        let coder = match codec {
            AudioCodec::Pcmu | AudioCodec::Pcma => Coder::G711 {
                alaw: codec == AudioCodec::Pcma,
                up: Resampler::new(8000, MIX_RATE).map_err(|e| unsupported(codec, e))?,
                down: Resampler::new(MIX_RATE, 8000).map_err(|e| unsupported(codec, e))?,
            },
            AudioCodec::G722 => Coder::G722(Box::new((G722Encoder::new(), G722Decoder::new()))),
            AudioCodec::Opus => {
                let enc = OpusEncoder::new(MIX_RATE, 1, Application::Voip, OPUS_BITRATE)
                    .map_err(|e| unsupported(codec, e))?;
                let dec = OpusDecoder::new(MIX_RATE, 1).map_err(|e| unsupported(codec, e))?;
                Coder::Opus(Box::new((enc, dec)))
            }
        };
        Ok(LegCodec {
            codec,
            coder,
            scratch: Vec::with_capacity(4 * FRAME),
            narrow: Vec::with_capacity(2 * FRAME),
        })
    }

    /// RTP timestamp units for `mix_samples` samples of the 16 kHz mix.
    pub(crate) fn rtp_ticks_per_mix_samples(&self, mix_samples: usize) -> u32 {
        (mix_samples as u64 * self.codec.rtp_clock() as u64 / MIX_RATE as u64) as u32
    }

    /// The packet time a leg can be sent: Opus frames are 10, 20, 40 or 60
    /// ms; anything else goes at 20.
    pub(crate) fn ptime_ms(&self, wanted: u32) -> u32 {
        match self.coder {
            Coder::Opus(_) if ![10, 20, 40, 60].contains(&wanted) => 20,
            _ => wanted,
        }
    }

    /// Decode one payload and append the 16 kHz PCM to `out`. A payload the
    /// codec refuses adds nothing (the leg's FIFO then runs dry and the mix
    /// plays silence for it).
    pub(crate) fn decode(&mut self, payload: &[u8], out: &mut VecDeque<i16>) -> bool {
        self.scratch.clear();
        let ok = match &mut self.coder {
            Coder::G711 { alaw, up, .. } => {
                let decode: fn(u8) -> i16 = if *alaw {
                    codecs::alaw_decode
                } else {
                    codecs::ulaw_decode
                };
                self.narrow.clear();
                self.narrow.extend(payload.iter().map(|&b| decode(b)));
                up.process(&self.narrow, &mut self.scratch);
                true
            }
            Coder::G722(c) => {
                c.1.decode(payload, &mut self.scratch);
                true
            }
            Coder::Opus(c) => c.1.decode(payload, &mut self.scratch).is_ok(),
        };
        out.extend(self.scratch.iter().copied());
        ok
    }

    /// Encode 16 kHz PCM (a whole packet's worth) and append the payload.
    pub(crate) fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> bool {
        match &mut self.coder {
            Coder::G711 { alaw, down, .. } => {
                let encode: fn(i16) -> u8 = if *alaw {
                    codecs::alaw_encode
                } else {
                    codecs::ulaw_encode
                };
                self.scratch.clear();
                down.process(pcm, &mut self.scratch);
                out.extend(self.scratch.iter().map(|&s| encode(s)));
                true
            }
            Coder::G722(c) => {
                c.0.encode(pcm, out);
                true
            }
            Coder::Opus(c) => c.0.encode(pcm, out).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, rate: f32, n: usize, amp: f32) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate).sin()) as i16)
            .collect()
    }

    #[test]
    fn g711_round_trip_through_the_16k_mix_keeps_the_tone() {
        for codec in [AudioCodec::Pcmu, AudioCodec::Pcma] {
            let mut c = LegCodec::new(codec).unwrap();
            let narrow = tone(700.0, 8000.0, 1600, 8000.0);
            let payload: Vec<u8> = narrow.iter().map(|&s| codecs::ulaw_encode(s)).collect();
            let payload = if codec == AudioCodec::Pcma {
                narrow.iter().map(|&s| codecs::alaw_encode(s)).collect()
            } else {
                payload
            };
            let mut wide = VecDeque::new();
            c.decode(&payload, &mut wide);
            let wide: Vec<i16> = wide.into_iter().collect();
            assert_eq!(wide.len(), 3200);
            let f = codecs::dominant_frequency(&wide[400..], MIX_RATE);
            assert!((f - 700.0).abs() < 15.0, "{codec:?} heard {f} Hz at 16 kHz");
            let mut back = Vec::new();
            c.encode(&wide, &mut back);
            assert_eq!(back.len(), 1600);
            let decode: fn(u8) -> i16 = if codec == AudioCodec::Pcma {
                codecs::alaw_decode
            } else {
                codecs::ulaw_decode
            };
            let pcm: Vec<i16> = back.iter().map(|&b| decode(b)).collect();
            let f = codecs::dominant_frequency(&pcm[200..], 8000);
            assert!(
                (f - 700.0).abs() < 15.0,
                "{codec:?} heard {f} Hz back at 8 kHz"
            );
        }
    }

    #[test]
    fn decimation_suppresses_what_8k_cannot_carry() {
        let mut c = LegCodec::new(AudioCodec::Pcmu).unwrap();
        let high = tone(6000.0, 16000.0, 3200, 8000.0);
        let mut out = Vec::new();
        c.encode(&high, &mut out);
        let pcm: Vec<i16> = out.iter().map(|&b| codecs::ulaw_decode(b)).collect();
        let rms = |s: &[i16]| {
            (s.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
        };
        assert!(
            rms(&pcm[100..]) < rms(&high) / 10.0,
            "a 6 kHz tone aliased into the narrowband leg"
        );
    }

    #[test]
    fn wideband_codecs_round_trip_at_the_mix_rate() {
        for codec in [AudioCodec::G722, AudioCodec::Opus] {
            let mut c = LegCodec::new(codec).unwrap();
            let wide = tone(1000.0, 16000.0, 320 * 25, 8000.0);
            let mut heard = VecDeque::new();
            for frame in wide.chunks_exact(320) {
                let mut payload = Vec::new();
                assert!(
                    c.encode(frame, &mut payload),
                    "{codec:?} refused a 20 ms frame"
                );
                assert!(
                    c.decode(&payload, &mut heard),
                    "{codec:?} refused its own packet"
                );
            }
            let heard: Vec<i16> = heard.into_iter().collect();
            assert_eq!(heard.len(), wide.len(), "{codec:?}: 16 kHz in, 16 kHz out");
            let f = codecs::dominant_frequency(&heard[1600..], MIX_RATE);
            assert!((f - 1000.0).abs() < 15.0, "{codec:?} heard {f} Hz");
        }
        // Opus goes in 10/20/40/60 ms packets whatever the room asked.
        let opus = LegCodec::new(AudioCodec::Opus).unwrap();
        assert_eq!((opus.ptime_ms(30), opus.ptime_ms(40)), (20, 40));
    }

    #[test]
    fn a_bad_opus_packet_adds_no_audio() {
        let mut c = LegCodec::new(AudioCodec::Opus).unwrap();
        let mut out = VecDeque::new();
        assert!(!c.decode(&[0xff; 3], &mut out));
        assert!(out.is_empty());
    }
}

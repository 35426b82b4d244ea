//! Per-leg audio codec adapter of the meeting bridge: payloads of the leg's
//! codec in, 16 kHz PCM out, and back. The mix runs at 16 kHz: wideband for
//! G.722 and Opus rooms, a 2:1 resample for G.711 ones.

use std::collections::VecDeque;

use gateway_callmodel::AudioCodec;

/// The mix's sample rate.
pub const MIX_RATE: u32 = 16_000;
/// Samples of one 20 ms mix frame.
pub const FRAME: usize = (MIX_RATE / 50) as usize;

#[derive(Debug, thiserror::Error)]
#[error("the meeting bridge cannot transcode {0:?} yet")]
pub struct UnsupportedCodec(pub AudioCodec);

pub(crate) struct LegCodec {
    codec: AudioCodec,
    up: HalfBand,
    down: HalfBand,
    scratch: Vec<i16>,
}

impl LegCodec {
    pub(crate) fn new(codec: AudioCodec) -> Result<LegCodec, UnsupportedCodec> {
        match codec {
            AudioCodec::Pcmu | AudioCodec::Pcma => Ok(LegCodec {
                codec,
                up: HalfBand::new(),
                down: HalfBand::new(),
                scratch: Vec::with_capacity(2 * FRAME),
            }),
            other => Err(UnsupportedCodec(other)),
        }
    }

    /// RTP timestamp units per 16 kHz mix sample, as a ratio (num, den).
    pub(crate) fn rtp_ticks_per_mix_samples(&self, mix_samples: usize) -> u32 {
        (mix_samples as u64 * self.codec.rtp_clock() as u64 / MIX_RATE as u64) as u32
    }

    /// Decode one payload and append the 16 kHz PCM to `out`.
    pub(crate) fn decode(&mut self, payload: &[u8], out: &mut VecDeque<i16>) {
        let decode: fn(u8) -> i16 = match self.codec {
            AudioCodec::Pcma => codecs::alaw_decode,
            _ => codecs::ulaw_decode,
        };
        for &b in payload {
            let [a, b] = self.up.interpolate(decode(b));
            out.push_back(a);
            out.push_back(b);
        }
    }

    /// Encode 16 kHz PCM (a whole packet's worth) and append the payload.
    pub(crate) fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        let encode: fn(i16) -> u8 = match self.codec {
            AudioCodec::Pcma => codecs::alaw_encode,
            _ => codecs::ulaw_encode,
        };
        self.scratch.clear();
        for pair in pcm.chunks_exact(2) {
            self.scratch.push(self.down.decimate(pair[0], pair[1]));
        }
        out.extend(self.scratch.iter().map(|&s| encode(s)));
    }
}

/// Half-band low-pass FIR for 2:1 interpolation and decimation between 8
/// and 16 kHz (windowed sinc, cut-off at 4 kHz).
struct HalfBand {
    taps: [f32; TAPS],
    history: [f32; TAPS],
    pos: usize,
}

const TAPS: usize = 31;

impl HalfBand {
    fn new() -> HalfBand {
        let mut taps = [0f32; TAPS];
        let mid = (TAPS / 2) as f32;
        let mut sum = 0.0;
        for (i, t) in taps.iter_mut().enumerate() {
            let x = i as f32 - mid;
            let sinc = if x == 0.0 {
                0.5
            } else {
                (std::f32::consts::PI * x * 0.5).sin() / (std::f32::consts::PI * x)
            };
            let w = 0.54 - 0.46 * (2.0 * std::f32::consts::PI * i as f32 / (TAPS - 1) as f32).cos();
            *t = sinc * w;
            sum += *t;
        }
        taps.iter_mut().for_each(|t| *t /= sum);
        HalfBand {
            taps,
            history: [0.0; TAPS],
            pos: 0,
        }
    }

    fn push(&mut self, x: f32) {
        self.history[self.pos] = x;
        self.pos = (self.pos + 1) % TAPS;
    }

    fn output(&self) -> f32 {
        // history[pos] is the oldest sample.
        let mut acc = 0.0;
        for (k, t) in self.taps.iter().enumerate() {
            acc += t * self.history[(self.pos + k) % TAPS];
        }
        acc
    }

    /// One 8 kHz sample in, two 16 kHz samples out (zero stuffing, gain 2).
    fn interpolate(&mut self, x: i16) -> [i16; 2] {
        self.push(2.0 * x as f32);
        let a = self.output();
        self.push(0.0);
        let b = self.output();
        [clamp(a), clamp(b)]
    }

    /// Two 16 kHz samples in, one 8 kHz sample out.
    fn decimate(&mut self, a: i16, b: i16) -> i16 {
        self.push(a as f32);
        self.push(b as f32);
        clamp(self.output())
    }
}

fn clamp(x: f32) -> i16 {
    x.round().clamp(i16::MIN as f32, i16::MAX as f32) as i16
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
    fn codecs_the_bridge_cannot_transcode_are_refused() {
        assert!(LegCodec::new(AudioCodec::Opus).is_err());
    }
}

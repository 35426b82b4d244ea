//! Streaming sample-rate conversion between telephony rates.
//!
//! A rational polyphase FIR: the input is (conceptually) upsampled by `L`
//! with zeros, low-pass filtered by one windowed-sinc prototype, and
//! decimated by `M`. Only the taps that meet non-zero input samples are
//! evaluated, so each output sample costs `taps_per_phase` multiply-adds
//! whatever the ratio.
//!
//! The prototype is a Kaiser-windowed sinc spanning [`HALF_TAPS_LOW`] samples
//! of the lower of the two rates on each side, with its cutoff at
//! [`PASSBAND`] of the lower Nyquist frequency (3.68 kHz for 8 kHz), so the
//! telephone band up to 3.4 kHz passes and everything above the lower
//! Nyquist frequency is attenuated by about 80 dB before it can alias.
//! Being symmetric, the filter has linear phase and a constant delay of
//! [`HALF_TAPS_LOW`] samples at the lower rate (3 ms for 8 kHz <-> 16 or
//! 48 kHz, 1.5 ms for 16 <-> 48 kHz), reported in output samples by
//! [`Resampler::delay`].
//!
//! Filtering runs in `f32`; history across calls makes any split of the
//! input into frames produce exactly the same output as one call.

use crate::CodecError;

/// Rates the resampler accepts (all are multiples of 4 kHz, so every pair
/// has a small rational ratio).
const RATES: [u32; 6] = [8000, 12000, 16000, 24000, 32000, 48000];

/// One-sided length of the prototype filter in samples of the lower rate.
pub const HALF_TAPS_LOW: usize = 24;

/// Cutoff as a fraction of the lower rate's Nyquist frequency.
pub const PASSBAND: f64 = 0.92;

/// Independent accumulators in the dot product.
const LANES: usize = 8;

/// Kaiser window shape: about 80 dB stopband attenuation.
const KAISER_BETA: f64 = 8.0;

/// Converts one stream from one rate to another, keeping filter state
/// between calls.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: u32,
    to: u32,
    /// Upsampling factor L (prototype rate = from * L).
    up: usize,
    /// Decimation factor M.
    down: usize,
    taps_per_phase: usize,
    /// Taps for phase p at `p * taps_per_phase..`, reversed so that the
    /// dot product runs forward over the history buffer.
    phases: Vec<f32>,
    /// The last `taps_per_phase - 1` input samples, followed during a call
    /// by that call's input.
    history: Vec<f32>,
    /// Position of the next output sample in prototype-rate units,
    /// relative to the first input sample of the next call.
    next_t: usize,
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Zeroth-order modified Bessel function of the first kind, by its power
/// series (converges quickly for the arguments a Kaiser window needs).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..50 {
        term *= half / k as f64;
        let t2 = term * term;
        sum += t2;
        if t2 < sum * 1e-17 {
            break;
        }
    }
    sum
}

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz; both must be one of 8, 12,
    /// 16, 24, 32 or 48 kHz. Equal rates give a pass-through.
    pub fn new(from: u32, to: u32) -> Result<Self, CodecError> {
        if !RATES.contains(&from) || !RATES.contains(&to) {
            return Err(CodecError::UnsupportedRatio { from, to });
        }
        let g = gcd(from, to);
        let up = (to / g) as usize;
        let down = (from / g) as usize;

        if up == 1 && down == 1 {
            return Ok(Resampler {
                from,
                to,
                up,
                down,
                taps_per_phase: 1,
                phases: vec![1.0],
                history: Vec::new(),
                next_t: 0,
            });
        }

        // Prototype samples per sample of the lower rate.
        let ratio = if from <= to { up } else { down };
        let len = 2 * HALF_TAPS_LOW * ratio + 1;
        let center = (len / 2) as f64;
        // Cutoff in cycles per prototype sample.
        let fc = 0.5 * PASSBAND / ratio as f64;
        let norm = bessel_i0(KAISER_BETA);
        let mut proto: Vec<f64> = (0..len)
            .map(|n| {
                let x = n as f64 - center;
                let sinc = if x == 0.0 {
                    2.0 * fc
                } else {
                    (2.0 * std::f64::consts::PI * fc * x).sin() / (std::f64::consts::PI * x)
                };
                let r = x / center;
                let w = bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / norm;
                sinc * w
            })
            .collect();
        // Unity DC gain per phase: zero-stuffing by L divides the signal
        // by L, so the whole prototype sums to L.
        let sum: f64 = proto.iter().sum();
        for h in &mut proto {
            *h *= up as f64 / sum;
        }

        // Padded with zero taps (on the oldest side, so the delay does not
        // change) to a multiple of the dot product's lane count.
        let taps_per_phase = len.div_ceil(up).next_multiple_of(LANES);
        let phases = (0..up)
            .flat_map(|p| {
                let proto = &proto;
                (0..taps_per_phase)
                    .rev()
                    .map(move |k| proto.get(p + k * up).copied().unwrap_or(0.0) as f32)
            })
            .collect();
        Ok(Resampler {
            from,
            to,
            up,
            down,
            taps_per_phase,
            phases,
            history: vec![0.0; taps_per_phase - 1],
            next_t: 0,
        })
    }

    /// Input rate, in Hz.
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// Output rate, in Hz.
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Delay the filter adds, in output samples: a tone comes out this
    /// many output samples after it went in ([`HALF_TAPS_LOW`] samples of
    /// the lower rate; 3 ms when one side is 8 kHz).
    pub fn delay(&self) -> usize {
        if self.up == 1 && self.down == 1 {
            0
        } else {
            // (len - 1) / 2 prototype samples; one output sample spans
            // `down` prototype samples.
            let ratio = if self.from <= self.to {
                self.up
            } else {
                self.down
            };
            HALF_TAPS_LOW * ratio / self.down
        }
    }

    /// Number of output samples the next `process` call produces for
    /// `input_len` input samples.
    pub fn output_len(&self, input_len: usize) -> usize {
        let end = input_len * self.up;
        if self.next_t >= end {
            0
        } else {
            (end - self.next_t).div_ceil(self.down)
        }
    }

    /// Converts `input` and appends the result to `out`. Any frame length
    /// works; a 20 ms frame at one rate gives exactly a 20 ms frame at the
    /// other when the ratio divides it.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if self.up == 1 && self.down == 1 {
            out.extend_from_slice(input);
            return;
        }
        let keep = self.taps_per_phase - 1;
        self.history.extend(input.iter().map(|&s| f32::from(s)));
        out.reserve(self.output_len(input.len()));

        let end = input.len() * self.up;
        if self.next_t < end {
            let taps_len = self.taps_per_phase;
            // Step through (input index, phase) incrementally: a division
            // per output sample would cost more than a short dot product.
            let (step_i, step_p) = (self.down / self.up, self.down % self.up);
            let (mut i, mut p) = (self.next_t / self.up, self.next_t % self.up);
            let n_in = input.len();
            while i < n_in {
                let taps = &self.phases[p * taps_len..(p + 1) * taps_len];
                // history[i + keep] is input[i]; the window ends there.
                let window = &self.history[i..i + taps_len];
                out.push(to_i16(dot(taps, window)));
                i += step_i;
                p += step_p;
                if p >= self.up {
                    p -= self.up;
                    i += 1;
                }
            }
            self.next_t = i * self.up + p;
        }
        // Here next_t >= end: rebase it onto the next call's input.
        self.next_t -= end;
        let len = self.history.len();
        self.history.copy_within(len - keep.., 0);
        self.history.truncate(keep);
    }

    /// Clears the history, as at creation (e.g. for a new stream).
    pub fn reset(&mut self) {
        self.history.iter_mut().for_each(|h| *h = 0.0);
        self.next_t = 0;
    }
}

/// Rounds to nearest and saturates; `f32::round` is a library call on
/// baseline x86-64, this is two compares and a conversion.
#[inline]
fn to_i16(x: f32) -> i16 {
    let x = x.clamp(-32768.0, 32767.0);
    (if x >= 0.0 { x + 0.5 } else { x - 0.5 }) as i16
}

/// Dot product in eight independent lanes, so the compiler can vectorise it
/// without reassociating (which it may not do for floats on its own).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..LANES {
            lanes[k] += x[k] * y[k];
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_sizes_map_exactly() {
        for (from, to, n_in, n_out) in [
            (8000, 48000, 160, 960),
            (48000, 8000, 960, 160),
            (16000, 48000, 320, 960),
            (48000, 16000, 960, 320),
            (8000, 16000, 160, 320),
            (16000, 8000, 320, 160),
            (16000, 24000, 320, 480),
            (8000, 8000, 160, 160),
        ] {
            let mut r = Resampler::new(from, to).unwrap();
            let mut out = Vec::new();
            for _ in 0..5 {
                out.clear();
                r.process(&vec![100; n_in], &mut out);
                assert_eq!(out.len(), n_out, "{from}->{to}");
            }
        }
    }

    #[test]
    fn dc_gain_is_unity() {
        for (from, to) in [(8000, 48000), (48000, 8000), (16000, 8000), (8000, 16000)] {
            let mut r = Resampler::new(from, to).unwrap();
            let mut out = Vec::new();
            for _ in 0..10 {
                r.process(&vec![10000; from as usize / 50], &mut out);
            }
            let last = *out.last().unwrap();
            assert!((i32::from(last) - 10000).abs() <= 2, "{from}->{to}: {last}");
        }
    }

    #[test]
    fn rejects_unknown_rates() {
        assert!(Resampler::new(44100, 48000).is_err());
        assert!(Resampler::new(8000, 0).is_err());
    }
}

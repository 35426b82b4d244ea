//! Frequency estimation for tests and diagnostics (tone detection, checking
//! that audio survived a transcode path).

/// Power of one frequency in `samples` by the Goertzel recurrence.
///
/// The result is the squared magnitude of the DFT at `freq`, not normalised;
/// compare values computed over the same buffer only.
pub fn goertzel_power(samples: &[i16], sample_rate: u32, freq: f32) -> f64 {
    if samples.is_empty() || sample_rate == 0 {
        return 0.0;
    }
    let omega = 2.0 * std::f64::consts::PI * f64::from(freq) / f64::from(sample_rate);
    let coeff = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0)
}

/// Frequency of a single tone from the spacing of its zero crossings.
///
/// Crossing instants are interpolated linearly between samples, so a clean
/// sine gives sub-Hz accuracy; noise and harmonics make it unreliable, which
/// is why [`dominant_frequency`] uses it only as a cross-check. Returns 0.0
/// when fewer than two crossings exist.
pub fn zero_crossing_frequency(samples: &[i16], sample_rate: u32) -> f32 {
    let mut first: Option<f64> = None;
    let mut last = 0.0f64;
    let mut crossings = 0u64;
    for (i, w) in samples.windows(2).enumerate() {
        let (a, b) = (f64::from(w[0]), f64::from(w[1]));
        // Count upward crossings only, so that a DC offset does not bias
        // the estimate through unequal half-periods.
        if a < 0.0 && b >= 0.0 {
            let t = i as f64 + (-a) / (b - a);
            if first.is_none() {
                first = Some(t);
            }
            last = t;
            crossings += 1;
        }
    }
    match first {
        Some(f) if crossings >= 2 && last > f => {
            ((crossings - 1) as f64 * f64::from(sample_rate) / (last - f)) as f32
        }
        _ => 0.0,
    }
}

/// The frequency (Hz) carrying the most energy in `samples`.
///
/// A coarse Goertzel scan at the buffer's bin spacing finds the peak, a fine
/// scan around it narrows it down, and a parabola through the three best
/// fine points gives the final value. Returns 0.0 for empty or silent input.
/// Cost is O(n * bins); use buffers of at most a few seconds.
pub fn dominant_frequency(samples: &[i16], sample_rate: u32) -> f32 {
    if samples.len() < 4 || sample_rate == 0 || samples.iter().all(|&s| s == 0) {
        return 0.0;
    }
    let nyquist = sample_rate as f32 / 2.0;
    let bin = (sample_rate as f32 / samples.len() as f32).max(1.0);
    // Start above DC so an offset does not win.
    let lo = bin.max(10.0);
    let power = |f: f32| goertzel_power(samples, sample_rate, f);

    let mut best_f = lo;
    let mut best_p = -1.0;
    let mut f = lo;
    while f < nyquist {
        let p = power(f);
        if p > best_p {
            best_p = p;
            best_f = f;
        }
        f += bin;
    }

    let step = bin / 16.0;
    let mut fine: Vec<(f32, f64)> = Vec::with_capacity(33);
    for k in -16i32..=16 {
        let f = best_f + k as f32 * step;
        if f > 0.0 && f < nyquist {
            fine.push((f, power(f)));
        }
    }
    let Some(peak) = fine
        .iter()
        .enumerate()
        .max_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
        .map(|(i, _)| i)
    else {
        return best_f;
    };
    let (f1, p1) = fine[peak];
    if peak == 0 || peak + 1 >= fine.len() {
        return f1;
    }
    let (p0, p2) = (fine[peak - 1].1, fine[peak + 1].1);
    let denom = p0 - 2.0 * p1 + p2;
    if denom.abs() < f64::EPSILON {
        return f1;
    }
    let offset = (0.5 * (p0 - p2) / denom).clamp(-1.0, 1.0);
    f1 + offset as f32 * step
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711::*;

    fn sine(freq: f32, rate: u32, n: usize, amp: f32) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f32 / rate as f32;
                (amp * (2.0 * std::f32::consts::PI * freq * t).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn detects_440_through_ulaw() {
        let pcm = sine(440.0, 8000, 8000, 12000.0);
        let decoded = ulaw_decode_buf(&ulaw_encode_buf(&pcm));
        let f = dominant_frequency(&decoded, 8000);
        assert!((f - 440.0).abs() <= 5.0, "got {f}");
        let z = zero_crossing_frequency(&decoded, 8000);
        assert!((z - 440.0).abs() <= 5.0, "zero crossing got {z}");
    }

    #[test]
    fn detects_440_through_alaw() {
        let pcm = sine(440.0, 8000, 4000, 3000.0);
        let decoded = alaw_decode_buf(&alaw_encode_buf(&pcm));
        let f = dominant_frequency(&decoded, 8000);
        assert!((f - 440.0).abs() <= 5.0, "got {f}");
    }

    #[test]
    fn distinguishes_other_tones() {
        for freq in [350.0f32, 1000.0, 1633.0, 3000.0] {
            let pcm = sine(freq, 8000, 1600, 8000.0);
            let f = dominant_frequency(&pcm, 8000);
            assert!((f - freq).abs() <= 5.0, "{freq}: got {f}");
        }
    }

    #[test]
    fn louder_tone_wins_in_a_mix() {
        let a = sine(697.0, 8000, 1600, 9000.0);
        let b = sine(1209.0, 8000, 1600, 3000.0);
        let mix: Vec<i16> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let f = dominant_frequency(&mix, 8000);
        assert!((f - 697.0).abs() <= 5.0, "got {f}");
    }

    #[test]
    fn silence_and_tiny_inputs() {
        assert_eq!(dominant_frequency(&[], 8000), 0.0);
        assert_eq!(dominant_frequency(&[0; 160], 8000), 0.0);
        assert_eq!(dominant_frequency(&[1, 2], 8000), 0.0);
        assert_eq!(dominant_frequency(&[5, -5, 5, -5], 0), 0.0);
        assert_eq!(zero_crossing_frequency(&[1, 2, 3], 8000), 0.0);
    }
}

//! ITU-T G.711 µ-law and A-law companding.
//!
//! Both laws split the magnitude into 8 segments (chords) of 16 uniform steps
//! each, every segment doubling the step size of the previous one. A code word
//! is `sign | segment(3 bits) | step(4 bits)`, transmitted with some bits
//! inverted: µ-law inverts all bits, A-law inverts the even bits (XOR 0x55).
//!
//! Inputs are 16-bit linear PCM. µ-law works on a 14-bit magnitude and A-law
//! on 13 bits, so the low bits of the input are discarded by the encoder and
//! the decoder returns values scaled back to 16-bit range.

/// µ-law code for a zero sample (positive zero).
pub const ULAW_SILENCE: u8 = 0xFF;
/// A-law code for the smallest positive sample, the usual silence fill.
pub const ALAW_SILENCE: u8 = 0xD5;

/// µ-law adds this bias so that the segment boundaries fall on powers of two
/// (the "33" of the 8159-step µ-law curve, in 16-bit scale: 33 << 2).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude that still fits the top µ-law segment after biasing.
const ULAW_CLIP: i32 = 32635;

/// Encodes one 16-bit linear sample as a µ-law code word.
pub fn ulaw_encode(sample: i16) -> u8 {
    let s = i32::from(sample);
    let (sign, magnitude) = if s < 0 { (0x80u8, -s) } else { (0, s) };
    let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS;
    // The biased value is in 0x84..=0x7FFF; its highest set bit (7..=14)
    // selects the segment.
    let top_bit = 31 - biased.leading_zeros() as i32;
    let segment = (top_bit - 7) as u8;
    let step = ((biased >> (segment + 3)) & 0x0F) as u8;
    !(sign | (segment << 4) | step)
}

/// Decodes one µ-law code word to a 16-bit linear sample.
pub fn ulaw_decode(code: u8) -> i16 {
    let c = !code;
    let segment = u32::from((c >> 4) & 0x07);
    let step = i32::from(c & 0x0F);
    // Reconstruct at the middle of the step: (2*step + 1) half-steps, plus
    // the bias that the encoder added, then remove the bias.
    let magnitude = (((step << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
    let value = if c & 0x80 != 0 { -magnitude } else { magnitude };
    value as i16
}

/// Encodes one 16-bit linear sample as an A-law code word.
pub fn alaw_encode(sample: i16) -> u8 {
    // A-law is defined on 13-bit samples.
    let s = i32::from(sample) >> 3;
    // Negative values are folded as one's complement (-1 -> 0) so that the
    // two signs are symmetric around the decision level between -1 and 0.
    let (sign, magnitude) = if s >= 0 { (0x80u8, s) } else { (0, -s - 1) };
    let code = if magnitude >= 0x1000 {
        0x7F
    } else if magnitude < 0x20 {
        // Segment 0 has the same step size as segment 1 (the linear part
        // of the curve around zero).
        ((magnitude >> 1) & 0x0F) as u8
    } else {
        // For magnitude in [2^(k+4), 2^(k+5)) the segment is k+1 (k >= 0).
        let top_bit = 31 - magnitude.leading_zeros() as i32;
        let segment = (top_bit - 4) as u8;
        (segment << 4) | ((magnitude >> segment) & 0x0F) as u8
    };
    (sign | code) ^ 0x55
}

/// Decodes one A-law code word to a 16-bit linear sample.
pub fn alaw_decode(code: u8) -> i16 {
    let c = code ^ 0x55;
    let segment = u32::from((c >> 4) & 0x07);
    let step = i32::from(c & 0x0F);
    // Mid-step reconstruction in 16-bit scale (13-bit value << 3).
    let magnitude = match segment {
        0 => (step << 4) + 8,
        _ => ((step << 4) + 0x108) << (segment - 1),
    };
    let value = if c & 0x80 != 0 { magnitude } else { -magnitude };
    value as i16
}

/// Converts a µ-law code to the A-law code nearest in level, for PCMU <->
/// PCMA bridging without a trip through a linear buffer. Goes through the
/// 16-bit reconstruction value, so it agrees with decode-then-encode.
pub fn ulaw_to_alaw(code: u8) -> u8 {
    alaw_encode(ulaw_decode(code))
}

/// Converts an A-law code to the nearest µ-law code.
pub fn alaw_to_ulaw(code: u8) -> u8 {
    ulaw_encode(alaw_decode(code))
}

/// Encodes a buffer of samples to µ-law, one byte per sample.
pub fn ulaw_encode_buf(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| ulaw_encode(s)).collect()
}

/// Decodes a µ-law payload to linear samples.
pub fn ulaw_decode_buf(codes: &[u8]) -> Vec<i16> {
    codes.iter().map(|&c| ulaw_decode(c)).collect()
}

/// Encodes a buffer of samples to A-law, one byte per sample.
pub fn alaw_encode_buf(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| alaw_encode(s)).collect()
}

/// Decodes an A-law payload to linear samples.
pub fn alaw_decode_buf(codes: &[u8]) -> Vec<i16> {
    codes.iter().map(|&c| alaw_decode(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_zero_code_points() {
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_encode(0), 0xFF);
    }

    #[test]
    fn ulaw_extremes() {
        // 0x80 is the largest positive value, 0x00 the largest negative.
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
    }

    #[test]
    fn alaw_zero_code_points() {
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
    }

    #[test]
    fn alaw_extremes() {
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }

    #[test]
    fn every_code_word_is_a_fixed_point() {
        // Decoding lands in the middle of a step, so re-encoding must give
        // the same code back (except µ-law's negative zero, which is +0).
        for code in 0..=255u8 {
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
            let expect = if code == 0x7F { 0xFF } else { code };
            assert_eq!(ulaw_encode(ulaw_decode(code)), expect, "µ-law {code:#04x}");
        }
    }

    #[test]
    fn decoders_are_monotonic() {
        // Positive codes, ordered from smallest magnitude to largest.
        let ulaw: Vec<i16> = (0x80..=0xFFu8).rev().map(ulaw_decode).collect();
        assert!(ulaw.windows(2).all(|w| w[0] < w[1]), "{ulaw:?}");
        let alaw: Vec<i16> = (0..128u8).map(|i| alaw_decode((0x80 | i) ^ 0x55)).collect();
        assert!(alaw.windows(2).all(|w| w[0] < w[1]), "{alaw:?}");
    }

    /// Quantisation error must stay within half a step of the segment the
    /// sample falls in (plus the bits the law drops below its resolution).
    #[test]
    fn round_trip_error_bounds() {
        for s in i16::MIN..=i16::MAX {
            let x = i32::from(s);
            let u = i32::from(ulaw_decode(ulaw_encode(s)));
            let a = i32::from(alaw_decode(alaw_encode(s)));
            let mag = x.unsigned_abs() as i32;
            // µ-law: step size 2^(seg+3) in 16-bit scale, seg from the biased value.
            let ulaw_bound = if mag > ULAW_CLIP {
                mag - 32124 + 1
            } else {
                let seg = 31 - (mag + ULAW_BIAS).leading_zeros() as i32 - 7;
                (1 << (seg + 3)) / 2 + 1
            };
            assert!((x - u).abs() <= ulaw_bound, "µ-law {x} -> {u}");
            // A-law: step 2^(seg+3) for seg>=1 in 16-bit scale, 16 for seg 0.
            let seg = if mag < 0x200 {
                1
            } else {
                31 - mag.leading_zeros() as i32 - 7
            };
            let alaw_bound = if mag > 32256 {
                mag - 32256 + 8
            } else {
                (1 << (seg + 3)) / 2 + 8
            };
            assert!((x - a).abs() <= alaw_bound, "A-law {x} -> {a}");
        }
    }

    #[test]
    fn sign_symmetry() {
        for s in 1..=i16::MAX {
            assert_eq!(
                ulaw_decode(ulaw_encode(s)),
                -ulaw_decode(ulaw_encode(-s)),
                "{s}"
            );
        }
        for code in 0..128u8 {
            assert_eq!(alaw_decode(code), -alaw_decode(code | 0x80));
        }
    }

    /// Spot values cross-checked against an independent G.711 implementation.
    #[test]
    fn reference_code_points() {
        let enc = [
            (100i16, 0xF2u8, 0xD3u8),
            (1000, 0xCE, 0xFA),
            (-1000, 0x4E, 0x7A),
            (5000, 0xAB, 0x86),
            (255, 0xE7, 0xDA),
            (256, 0xE7, 0xC5),
            (-300, 0x64, 0x47),
            (16, 0xFD, 0xD4),
        ];
        for (pcm, u, a) in enc {
            assert_eq!(ulaw_encode(pcm), u, "µ-law({pcm})");
            assert_eq!(alaw_encode(pcm), a, "A-law({pcm})");
        }
        assert_eq!(ulaw_decode(0x10), -15996);
        assert_eq!(ulaw_decode(0x9A), 10876);
        assert_eq!(alaw_decode(0x00), -5504);
        assert_eq!(alaw_decode(0x10), -2752);
        assert_eq!(alaw_decode(0x9A), 4032);
        // Sums of |value| over the whole decode tables of the same reference.
        let sum = |f: fn(u8) -> i16| (0..=255u8).map(|c| i64::from(f(c)).abs()).sum::<i64>();
        assert_eq!(sum(ulaw_decode), 1_532_928);
        assert_eq!(sum(alaw_decode), 1_564_672);
    }

    #[test]
    fn law_to_law_conversion_stays_close() {
        for code in 0..=255u8 {
            let u = i32::from(ulaw_decode(code));
            let via_a = i32::from(alaw_decode(ulaw_to_alaw(code)));
            // Within one A-law step of the original level.
            let step = if u.abs() < 0x200 {
                16
            } else {
                1 << (31 - u.abs().leading_zeros() - 4)
            };
            assert!((u - via_a).abs() <= step, "µ {code:#04x}: {u} vs {via_a}");
            let a = i32::from(alaw_decode(code));
            let via_u = i32::from(ulaw_decode(alaw_to_ulaw(code)));
            let step = if a.abs() < 0x200 {
                16
            } else {
                1 << (31 - a.abs().leading_zeros() - 4)
            };
            assert!((a - via_u).abs() <= step, "A {code:#04x}: {a} vs {via_u}");
        }
        assert_eq!(ulaw_to_alaw(ULAW_SILENCE), ALAW_SILENCE);
    }

    /// G.711's point: roughly 38 dB SNR across a wide range of levels.
    #[test]
    fn signal_to_noise_of_a_sine() {
        let snr = |amp: f64, codec: fn(i16) -> i16| {
            let (mut sig, mut noise) = (0.0f64, 0.0f64);
            for i in 0..8000 {
                let x =
                    (amp * (2.0 * std::f64::consts::PI * 1004.0 * i as f64 / 8000.0).sin()) as i16;
                let y = codec(x);
                sig += f64::from(x).powi(2);
                noise += (f64::from(x) - f64::from(y)).powi(2);
            }
            10.0 * (sig / noise).log10()
        };
        for amp in [1000.0, 4000.0, 16000.0, 30000.0] {
            let u = snr(amp, |x| ulaw_decode(ulaw_encode(x)));
            let a = snr(amp, |x| alaw_decode(alaw_encode(x)));
            assert!(u > 33.0, "µ-law at {amp}: {u:.1} dB");
            assert!(a > 33.0, "A-law at {amp}: {a:.1} dB");
        }
    }

    #[test]
    fn buffers() {
        let pcm = [0i16, 1000, -1000, 30000];
        assert_eq!(ulaw_decode_buf(&ulaw_encode_buf(&pcm)).len(), 4);
        assert_eq!(alaw_encode_buf(&pcm)[0], ALAW_SILENCE);
        assert_eq!(ulaw_encode_buf(&pcm)[0], ULAW_SILENCE);
    }
}

//! G.722 round trips, robustness and interoperability with ffmpeg.

use codecs::analysis::dominant_frequency;
use codecs::g722::{G722Decoder, G722Encoder, G722Mode};

const RATE: u32 = 16_000;

fn sine(freq: f64, n: usize, amp: f64) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            (amp * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
        })
        .collect()
}

/// Encodes in 20 ms frames (as a media path would) and decodes the result.
fn round_trip(pcm: &[i16], mode: G722Mode) -> (Vec<u8>, Vec<i16>) {
    let mut enc = G722Encoder::new();
    let mut dec = G722Decoder::with_mode(mode);
    let mut bytes = Vec::new();
    for frame in pcm.chunks(320) {
        enc.encode(frame, &mut bytes);
    }
    let mut out = Vec::new();
    for frame in bytes.chunks(160) {
        dec.decode(frame, &mut out);
    }
    (bytes, out)
}

/// Delay of the QMF analysis/synthesis pair: two 24-tap linear-phase
/// filters, 11.5 samples each, minus the one sample the decimation phase
/// saves.
const CODEC_DELAY: usize = 22;

/// SNR (dB) of `decoded` against `reference` delayed by `delay`, skipping
/// the first `skip` samples (adaptation start-up).
fn snr_at(reference: &[i16], decoded: &[i16], delay: usize, skip: usize) -> f64 {
    let n = decoded.len().saturating_sub(delay).min(reference.len());
    let (mut sig, mut err) = (0.0f64, 0.0f64);
    for i in skip..n {
        let r = f64::from(reference[i]);
        let d = f64::from(decoded[i + delay]);
        sig += r * r;
        err += (r - d) * (r - d);
    }
    10.0 * (sig / err.max(1e-9)).log10()
}

fn aligned_snr(reference: &[i16], decoded: &[i16], skip: usize) -> f64 {
    snr_at(reference, decoded, CODEC_DELAY, skip)
}

#[test]
fn codec_delay_is_22_samples() {
    // A chirp is not periodic, so only the true delay lines it up.
    let pcm: Vec<i16> = (0..8000)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            (8000.0 * (2.0 * std::f64::consts::PI * (200.0 * t + 1500.0 * t * t)).sin()) as i16
        })
        .collect();
    let (_, out) = round_trip(&pcm, G722Mode::Mode1);
    let best = (0..64)
        .max_by(|&a, &b| snr_at(&pcm, &out, a, 800).total_cmp(&snr_at(&pcm, &out, b, 800)))
        .unwrap();
    assert_eq!(best, CODEC_DELAY);
    let snr = snr_at(&pcm, &out, best, 800);
    assert!(snr > 25.0, "chirp SNR {snr:.1}");
}

#[test]
fn tones_keep_frequency_and_snr() {
    // Thresholds: the lower band (6-bit ADPCM) gives well over 40 dB on a
    // steady tone (measured: 62 dB at 300 Hz, 47 dB at 1 kHz); 3 kHz is
    // closer to the QMF crossover (41 dB); the higher band has only 2 bits,
    // so 6 kHz gets a lower bar (27 dB measured).
    for (freq, min_snr) in [
        (300.0, 40.0),
        (1000.0, 40.0),
        (3000.0, 35.0),
        (6000.0, 20.0),
    ] {
        let pcm = sine(freq, RATE as usize, 10_000.0);
        let (bytes, out) = round_trip(&pcm, G722Mode::Mode1);
        assert_eq!(bytes.len(), pcm.len() / 2);
        assert_eq!(out.len(), pcm.len());
        let f = dominant_frequency(&out[1600..], RATE);
        assert!(
            (f64::from(f) - freq).abs() <= 3.0,
            "{freq} Hz decoded as {f}"
        );
        let snr = aligned_snr(&pcm, &out, 1600);
        println!("{freq} Hz: SNR {snr:.1} dB");
        assert!(snr > min_snr, "{freq} Hz: SNR {snr:.1} dB <= {min_snr}");
    }
}

#[test]
fn reduced_modes_decode_mode1_stream() {
    // A 56/48 kbit/s decoder reads the same octets with 1-2 bits fewer in
    // the lower band: quality drops a little but the tone survives.
    let pcm = sine(1000.0, RATE as usize, 8_000.0);
    let mut snrs = Vec::new();
    for (mode, min_snr) in [
        (G722Mode::Mode1, 40.0),
        (G722Mode::Mode2, 35.0),
        (G722Mode::Mode3, 30.0),
    ] {
        let (_, out) = round_trip(&pcm, mode);
        let f = dominant_frequency(&out[1600..], RATE);
        assert!((f - 1000.0).abs() <= 3.0, "{mode:?}: got {f}");
        let snr = aligned_snr(&pcm, &out, 1600);
        println!("{mode:?}: SNR {snr:.1} dB");
        assert!(snr > min_snr, "{mode:?}: SNR {snr:.1}");
        snrs.push(snr);
    }
    assert!(snrs[0] > snrs[1] && snrs[1] > snrs[2], "{snrs:?}");
    assert_eq!(G722Mode::from_bitrate(56_000), Some(G722Mode::Mode2));
    assert_eq!(G722Mode::from_bitrate(32_000), None);
    assert_eq!(G722Mode::Mode3.bitrate(), 48_000);
}

#[test]
fn silence_stays_silent() {
    let (bytes, out) = round_trip(&[0i16; 3200], G722Mode::Mode1);
    assert_eq!(bytes.len(), 1600);
    let peak = out.iter().map(|s| s.unsigned_abs()).max().unwrap();
    assert!(peak <= 8, "silence decoded with peak {peak}");

    // Silence after loud audio decays back quickly once the scale factors
    // have shrunk.
    let mut pcm = sine(440.0, 8000, 20_000.0);
    pcm.extend(std::iter::repeat_n(0, 8000));
    let (_, out) = round_trip(&pcm, G722Mode::Mode1);
    let tail_peak = out[12000..].iter().map(|s| s.unsigned_abs()).max().unwrap();
    assert!(tail_peak <= 16, "tail peak {tail_peak}");
}

#[test]
fn full_scale_input_does_not_wrap() {
    let pcm = sine(1000.0, 8000, 32767.0);
    let (_, out) = round_trip(&pcm, G722Mode::Mode1);
    let snr = aligned_snr(&pcm, &out, 1600);
    assert!(snr > 20.0, "full scale SNR {snr:.1}");
    // A square wave drives the saturating arithmetic hard.
    let square: Vec<i16> = (0..8000)
        .map(|i| if (i / 40) % 2 == 0 { 32767 } else { -32768 })
        .collect();
    let (_, out) = round_trip(&square, G722Mode::Mode1);
    let f = dominant_frequency(&out[1600..], RATE);
    assert!(
        (f - 200.0).abs() <= 3.0,
        "square fundamental decoded as {f}"
    );
}

#[test]
fn encoder_is_deterministic_and_frame_size_independent() {
    let pcm = sine(700.0, 4800, 9000.0);
    let (a, _) = round_trip(&pcm, G722Mode::Mode1);
    let (b, _) = round_trip(&pcm, G722Mode::Mode1);
    assert_eq!(a, b);

    // Odd-sized chunks must give the same stream as whole frames.
    let mut enc = G722Encoder::new();
    let mut c = Vec::new();
    for chunk in pcm.chunks(7) {
        enc.encode(chunk, &mut c);
    }
    assert_eq!(a, c);

    // Decoding in arbitrary chunks gives the same samples too.
    let mut whole = Vec::new();
    G722Decoder::new().decode(&a, &mut whole);
    let mut dec = G722Decoder::new();
    let mut pieces = Vec::new();
    for chunk in a.chunks(13) {
        dec.decode(chunk, &mut pieces);
    }
    assert_eq!(whole, pieces);

    // Reset returns to the initial state.
    let mut enc = G722Encoder::new();
    let mut first = Vec::new();
    enc.encode(&pcm[..320], &mut first);
    enc.reset();
    let mut again = Vec::new();
    enc.encode(&pcm[..320], &mut again);
    assert_eq!(first, again);
}

#[test]
fn encode_appends_without_clearing() {
    let mut enc = G722Encoder::new();
    let mut out = vec![0xAA];
    enc.encode(&[0; 320], &mut out);
    assert_eq!(out.len(), 161);
    assert_eq!(out[0], 0xAA);
    let mut dec = G722Decoder::new();
    let mut pcm = vec![7i16];
    dec.decode(&out[1..], &mut pcm);
    assert_eq!(pcm.len(), 321);
    assert_eq!(pcm[0], 7);
}

/// xorshift64*: a fixed-seed generator so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn decoder_survives_arbitrary_bytes() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for mode in [G722Mode::Mode1, G722Mode::Mode2, G722Mode::Mode3] {
        let mut dec = G722Decoder::with_mode(mode);
        let mut out = Vec::new();
        for round in 0..200 {
            let len = (rng.next() % 400) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            out.clear();
            dec.decode(&bytes, &mut out);
            assert_eq!(out.len(), 2 * len, "round {round}");
        }
        // Pathological constant streams: the largest codes in every band.
        for byte in [0x00u8, 0x04, 0x20, 0x3F, 0x80, 0xC0, 0xFF] {
            let mut dec = G722Decoder::with_mode(mode);
            let mut out = Vec::new();
            dec.decode(&[byte; 16000], &mut out);
            assert_eq!(out.len(), 32000);
        }
    }
}

#[test]
fn encoder_survives_arbitrary_pcm() {
    let mut rng = Rng(12345);
    let mut enc = G722Encoder::new();
    let mut dec = G722Decoder::new();
    let pcm: Vec<i16> = (0..64_000).map(|_| rng.next() as i16).collect();
    let mut bytes = Vec::new();
    enc.encode(&pcm, &mut bytes);
    assert_eq!(bytes.len(), 32_000);
    let mut out = Vec::new();
    dec.decode(&bytes, &mut out);
    assert_eq!(out.len(), pcm.len());
    // White noise at full scale: the codec should still track the energy
    // roughly (within 6 dB), not collapse or blow up.
    let energy = |s: &[i16]| s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64;
    let ratio = energy(&out[1600..]) / energy(&pcm[1600..]);
    assert!((0.25..4.0).contains(&ratio), "energy ratio {ratio}");
}

mod interop {
    //! Cross-checks against ffmpeg's independent G.722 implementation.
    //! Skipped (with a message) when ffmpeg is not installed.

    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    fn ffmpeg_available() -> bool {
        Command::new("ffmpeg")
            .arg("-version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("codecs-g722-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn ffmpeg(args: &[&str]) {
        let out = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(args)
            .output()
            .expect("run ffmpeg");
        assert!(
            out.status.success(),
            "ffmpeg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn to_le_bytes(pcm: &[i16]) -> Vec<u8> {
        pcm.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    fn from_le_bytes(b: &[u8]) -> Vec<i16> {
        b.chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect()
    }

    #[test]
    fn ffmpeg_encoded_decodes_with_ours() {
        if !ffmpeg_available() {
            println!("SKIPPED: ffmpeg not installed (scripts/test-all.sh installs it)");
            return;
        }
        for freq in [300.0, 1000.0, 3000.0] {
            let pcm = sine(freq, RATE as usize, 10_000.0);
            let raw = scratch(&format!("in-{freq}.raw"));
            let coded = scratch(&format!("ff-{freq}.g722"));
            std::fs::write(&raw, to_le_bytes(&pcm)).unwrap();
            ffmpeg(&[
                "-f",
                "s16le",
                "-ar",
                "16000",
                "-ac",
                "1",
                "-i",
                raw.to_str().unwrap(),
                "-acodec",
                "g722",
                "-f",
                "g722",
                coded.to_str().unwrap(),
            ]);
            let bytes = std::fs::read(&coded).unwrap();
            assert!(
                bytes.len() >= pcm.len() / 2 - 2,
                "ffmpeg wrote {}",
                bytes.len()
            );
            let mut out = Vec::new();
            G722Decoder::new().decode(&bytes, &mut out);
            let f = dominant_frequency(&out[1600..], RATE);
            assert!((f64::from(f) - freq).abs() <= 3.0, "{freq}: got {f}");
            let snr = aligned_snr(&pcm, &out, 1600);
            println!("ffmpeg->ours {freq} Hz: SNR {snr:.1} dB");
            assert!(snr > 35.0, "ffmpeg->ours {freq} Hz: SNR {snr:.1}");
            // Without trellis search ffmpeg's encoder follows the
            // recommendation exactly, as ours does: the octets must match.
            let (ours, _) = round_trip(&pcm, G722Mode::Mode1);
            let n = ours.len().min(bytes.len());
            let differing = ours[..n]
                .iter()
                .zip(&bytes[..n])
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(
                differing, 0,
                "{freq} Hz: {differing} octets differ from ffmpeg"
            );
        }
    }

    #[test]
    fn ours_decodes_with_ffmpeg() {
        if !ffmpeg_available() {
            println!("SKIPPED: ffmpeg not installed (scripts/test-all.sh installs it)");
            return;
        }
        for freq in [300.0, 1000.0, 3000.0] {
            let pcm = sine(freq, RATE as usize, 10_000.0);
            let (bytes, ours) = round_trip(&pcm, G722Mode::Mode1);
            let coded = scratch(&format!("ours-{freq}.g722"));
            let raw = scratch(&format!("ff-out-{freq}.raw"));
            std::fs::write(&coded, &bytes).unwrap();
            ffmpeg(&[
                "-f",
                "g722",
                "-i",
                coded.to_str().unwrap(),
                "-f",
                "s16le",
                "-ar",
                "16000",
                "-ac",
                "1",
                raw.to_str().unwrap(),
            ]);
            let out = from_le_bytes(&std::fs::read(&raw).unwrap());
            let f = dominant_frequency(&out[1600..], RATE);
            assert!((f64::from(f) - freq).abs() <= 3.0, "{freq}: got {f}");
            let snr = aligned_snr(&pcm, &out, 1600);
            println!("ours->ffmpeg {freq} Hz: SNR {snr:.1} dB");
            assert!(snr > 35.0, "ours->ffmpeg {freq} Hz: SNR {snr:.1}");
            // Both decoders implement the same fixed-point recommendation
            // bit-exactly, so they must agree sample by sample.
            let n = ours.len().min(out.len());
            let max_diff = ours[..n]
                .iter()
                .zip(&out[..n])
                .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
                .max()
                .unwrap();
            println!("ours vs ffmpeg decoder: max sample difference {max_diff}");
            assert_eq!(max_diff, 0, "{freq} Hz: decoders differ by {max_diff}");
        }
    }
}

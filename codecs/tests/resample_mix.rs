//! Resampler: tones kept, aliases suppressed, delay as stated, streaming
//! equals one shot. Mixer: mix-minus, clipping, active speaker hold-off.

use codecs::resample::HALF_TAPS_LOW;
use codecs::{
    dominant_frequency, frame_level_dbov, goertzel_power, ActiveSpeaker, Clip, CodecError,
    LevelMeter, MixMinus, Resampler, SILENCE_DBOV,
};

fn sine(freq: f32, rate: u32, n: usize, amp: f32) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            (f64::from(amp) * (2.0 * std::f64::consts::PI * f64::from(freq) * t).sin()) as i16
        })
        .collect()
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Runs `input` through a fresh resampler in 20 ms frames.
fn resample_frames(from: u32, to: u32, input: &[i16]) -> Vec<i16> {
    let mut r = Resampler::new(from, to).unwrap();
    let mut out = Vec::new();
    for frame in input.chunks(from as usize / 50) {
        r.process(frame, &mut out);
    }
    out
}

#[test]
fn tones_keep_their_frequency() {
    let pairs = [
        (8000, 48000, 1000.0),
        (48000, 8000, 1000.0),
        (8000, 16000, 3000.0),
        (16000, 8000, 3000.0),
        (16000, 48000, 5000.0),
        (48000, 16000, 5000.0),
        (8000, 48000, 300.0),
        (48000, 8000, 3300.0),
    ];
    for (from, to, freq) in pairs {
        let input = sine(freq, from, from as usize / 4, 10000.0);
        let out = resample_frames(from, to, &input);
        assert_eq!(out.len(), to as usize / 4);
        let settled = &out[to as usize / 20..];
        let f = dominant_frequency(settled, to);
        assert!(
            (f - freq).abs() < 5.0,
            "{from}->{to}: {freq} Hz came out as {f}"
        );
        // Within the passband the level is kept (to within 1 dB).
        let gain_db = 20.0 * (rms(settled) / rms(&input)).log10();
        assert!(
            gain_db.abs() < 1.0,
            "{from}->{to} {freq} Hz: gain {gain_db:.2} dB"
        );
    }
}

#[test]
fn aliases_are_attenuated_by_more_than_40_db() {
    // Tones above the output's Nyquist frequency would fold back into the
    // band (6 kHz at 8 kHz output lands on 2 kHz).
    for (from, to, freq) in [
        (16000, 8000, 6000.0),
        (16000, 8000, 4500.0),
        (48000, 8000, 6000.0),
        (48000, 8000, 20000.0),
        (48000, 16000, 9000.0),
        (48000, 16000, 15000.0),
    ] {
        let input = sine(freq, from, from as usize / 2, 16000.0);
        let out = resample_frames(from, to, &input);
        let settled = &out[to as usize / 20..];
        let atten_db = 20.0 * (rms(settled).max(0.5) / rms(&input)).log10();
        assert!(
            atten_db < -40.0,
            "{from}->{to} {freq} Hz: only {atten_db:.1} dB"
        );
    }
}

#[test]
fn images_are_attenuated_when_upsampling() {
    // Upsampling 8k -> 48k must not leave images of a 1 kHz tone at
    // 7, 9, 15, 17 ... kHz.
    let input = sine(1000.0, 8000, 4000, 16000.0);
    let out = resample_frames(8000, 48000, &input);
    let settled = &out[2400..];
    let tone = goertzel_power(settled, 48000, 1000.0);
    for image in [7000.0, 9000.0, 15000.0, 17000.0, 23000.0] {
        let p = goertzel_power(settled, 48000, image);
        let db = 10.0 * (p / tone).log10();
        assert!(db < -50.0, "image at {image} Hz: {db:.1} dB");
    }
}

#[test]
fn delay_is_as_stated() {
    for (from, to) in [
        (8000, 48000),
        (48000, 8000),
        (16000, 48000),
        (48000, 16000),
        (8000, 16000),
        (16000, 8000),
    ] {
        let r = Resampler::new(from, to).unwrap();
        assert_eq!(
            r.delay(),
            HALF_TAPS_LOW * to as usize / from.min(to) as usize
        );
        // 24 samples of the lower rate: 3 ms with 8 kHz, 1.5 ms at 16/48.
        let expected_us = if from.min(to) == 8000 { 3000 } else { 1500 };
        assert_eq!(
            r.delay() * 1_000_000 / to as usize,
            expected_us,
            "{from}->{to}"
        );

        // An impulse on an input sample that maps onto an output sample
        // peaks exactly `delay` output samples later.
        let ratio_in = (from / gcd(from, to)) as usize;
        let at_in = 10 * ratio_in;
        let mut input = vec![0i16; from as usize / 10];
        input[at_in] = 30000;
        let out = resample_frames(from, to, &input);
        let peak = out
            .iter()
            .enumerate()
            .max_by_key(|(_, &v)| v)
            .map(|(i, _)| i)
            .unwrap();
        let at_out = at_in * to as usize / from as usize;
        assert_eq!(peak, at_out + r.delay(), "{from}->{to}");
    }
    assert_eq!(Resampler::new(16000, 16000).unwrap().delay(), 0);
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[test]
fn streaming_equals_one_shot() {
    let mut seed: u32 = 7;
    let noise: Vec<i16> = (0..48000)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ((seed >> 16) as i16) / 2
        })
        .collect();
    for (from, to) in [
        (48000, 8000),
        (8000, 48000),
        (16000, 48000),
        (48000, 16000),
        (16000, 24000),
    ] {
        let input = &noise[..from as usize / 4];
        let mut whole = Vec::new();
        Resampler::new(from, to).unwrap().process(input, &mut whole);

        // Uneven pieces, including empty ones and ones shorter than the
        // decimation factor.
        let mut r = Resampler::new(from, to).unwrap();
        let mut pieces = Vec::new();
        let sizes = [1usize, 0, 5, 160, 7, 320, 2, 961, 33];
        let mut pos = 0;
        let mut k = 0;
        while pos < input.len() {
            let n = sizes[k % sizes.len()].min(input.len() - pos);
            let expected = r.output_len(n);
            let before = pieces.len();
            r.process(&input[pos..pos + n], &mut pieces);
            assert_eq!(pieces.len() - before, expected);
            pos += n;
            k += 1;
        }
        assert_eq!(whole.len(), input.len() * to as usize / from as usize);
        assert_eq!(pieces, whole, "{from}->{to}");
    }
}

#[test]
fn full_scale_input_does_not_wrap() {
    // A full-scale square wave overshoots through a sinc filter (Gibbs);
    // the output must saturate, not wrap around.
    let square: Vec<i16> = (0..1600)
        .map(|i| if (i / 8) % 2 == 0 { 32767 } else { -32768 })
        .collect();
    let out = resample_frames(8000, 48000, &square);
    let settled = &out[600..];
    let positive = settled.iter().filter(|&&x| x > 0).count();
    let max = *settled.iter().max().unwrap();
    assert_eq!(max, 32767, "overshoot saturates");
    // A wrapped sample would flip sign inside a positive half period.
    for w in settled.windows(2) {
        assert!(
            (i32::from(w[0]) - i32::from(w[1])).abs() < 40000,
            "wrap at {w:?}"
        );
    }
    assert!(positive > settled.len() / 3);
}

// ---------------------------------------------------------------- mixer

const TONES: [f32; 3] = [440.0, 1000.0, 1700.0];

#[test]
fn each_leg_hears_the_others_and_not_itself() {
    let frames: Vec<Vec<i16>> = TONES.iter().map(|&f| sine(f, 8000, 1600, 8000.0)).collect();
    let mut mixer = MixMinus::new(160);
    let mut outputs = Vec::new();
    let mut heard: Vec<Vec<i16>> = vec![Vec::new(); 3];
    for k in 0..10 {
        let inputs: Vec<Option<&[i16]>> = frames
            .iter()
            .map(|f| Some(&f[k * 160..(k + 1) * 160]))
            .collect();
        assert_eq!(mixer.mix(&inputs, &mut outputs).unwrap(), 3);
        assert_eq!(outputs.len(), 3);
        for (leg, out) in outputs.iter().enumerate() {
            assert_eq!(out.len(), 160);
            heard[leg].extend_from_slice(out);
        }
    }
    for (leg, audio) in heard.iter().enumerate() {
        let own = goertzel_power(audio, 8000, TONES[leg]);
        for (other, &f) in TONES.iter().enumerate() {
            if other == leg {
                continue;
            }
            let p = goertzel_power(audio, 8000, f);
            assert!(
                p > 1e6 * own.max(1.0),
                "leg {leg}: {f} Hz at {p}, own tone at {own}"
            );
        }
        // Without clipping the mix is exact: the sum of the other two.
        let expected: Vec<i16> = (0..1600)
            .map(|i| (0..3).filter(|&o| o != leg).map(|o| frames[o][i]).sum())
            .collect();
        assert_eq!(audio, &expected, "leg {leg}");
    }
}

#[test]
fn legs_without_audio_hear_everyone() {
    let a = sine(440.0, 16000, 320, 5000.0);
    let b = sine(1000.0, 16000, 320, 5000.0);
    let mut mixer = MixMinus::new(320);
    let mut outputs = Vec::new();
    let n = mixer
        .mix(&[Some(&a), None, Some(&b), None], &mut outputs)
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(outputs.len(), 4);
    assert_eq!(outputs[0], b);
    assert_eq!(outputs[2], a);
    let both: Vec<i16> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
    assert_eq!(outputs[1], both);
    assert_eq!(outputs[3], both);

    // Fewer legs next time: outputs shrink with them.
    mixer.mix(&[None, None], &mut outputs).unwrap();
    assert_eq!(outputs.len(), 2);
    assert!(outputs
        .iter()
        .all(|o| o.len() == 320 && o.iter().all(|&x| x == 0)));
}

#[test]
fn wrong_frame_length_is_an_error() {
    let mut mixer = MixMinus::new(160);
    let mut outputs = Vec::new();
    let short = [0i16; 80];
    let ok = [0i16; 160];
    assert_eq!(
        mixer.mix(&[Some(&ok), Some(&short)], &mut outputs),
        Err(CodecError::FrameLength {
            expected: 160,
            got: 80
        })
    );
}

#[test]
fn clipping_is_safe() {
    // Six full-scale legs in phase: the sum is six times full scale.
    let loud = vec![32767i16; 160];
    let neg = vec![-32768i16; 160];
    for clip in [Clip::Hard, Clip::Soft] {
        let mut mixer = MixMinus::new(160).with_clip(clip);
        let mut outputs = Vec::new();
        let inputs: Vec<Option<&[i16]>> = (0..6).map(|_| Some(loud.as_slice())).collect();
        mixer.mix(&inputs, &mut outputs).unwrap();
        for out in &outputs {
            assert!(out.iter().all(|&x| x > 30000), "{clip:?}: {:?}", &out[..4]);
        }
        let inputs: Vec<Option<&[i16]>> = (0..6).map(|_| Some(neg.as_slice())).collect();
        mixer.mix(&inputs, &mut outputs).unwrap();
        for out in &outputs {
            assert!(
                out.iter().all(|&x| (-32767..-30000).contains(&x)),
                "{clip:?}"
            );
        }
        // Opposite extremes cancel exactly: the i32 sum never overflowed.
        let small = vec![1000i16; 160];
        let l = Some(loud.as_slice());
        let n = Some(neg.as_slice());
        mixer
            .mix(&[l, l, l, n, n, n, Some(&small)], &mut outputs)
            .unwrap();
        assert!(outputs[6].iter().all(|&x| x == -3), "{clip:?}");
    }
    // Soft clipping leaves normal speech levels alone.
    let a = sine(440.0, 8000, 160, 10000.0);
    let b = sine(700.0, 8000, 160, 10000.0);
    let mut mixer = MixMinus::new(160).with_clip(Clip::Soft);
    let mut outputs = Vec::new();
    mixer
        .mix(&[Some(&a), Some(&b), None], &mut outputs)
        .unwrap();
    let exact: Vec<i16> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
    assert_eq!(outputs[2], exact);
}

// ------------------------------------------------- levels and speaker

#[test]
fn level_meter_hangover() {
    let speech = sine(300.0, 8000, 160, 3000.0);
    let quiet = vec![3i16; 160];
    let mut meter = LevelMeter::new(-50.0, 5);
    let r = meter.update(Some(&speech));
    assert!(r.active);
    assert!((r.level_dbov - frame_level_dbov(&speech)).abs() < 1e-6);
    assert!(
        r.level_dbov > -25.0 && r.level_dbov < -18.0,
        "{}",
        r.level_dbov
    );
    // Five frames of hangover, then inactive.
    for i in 0..5 {
        assert!(meter.update(Some(&quiet)).active, "hangover frame {i}");
    }
    assert!(!meter.update(Some(&quiet)).active);
    let r = meter.update(None);
    assert!(!r.active);
    assert_eq!(r.level_dbov, SILENCE_DBOV);
}

/// Drives the detector with per-leg levels for `frames` frames and returns
/// the frame indices (counted from 0 at this call) at which it switched.
fn drive(det: &mut ActiveSpeaker, levels: &[f32], frames: usize) -> Vec<(usize, usize)> {
    (0..frames)
        .filter_map(|i| det.update(levels).map(|leg| (i, leg)))
        .collect()
}

#[test]
fn speaker_switches_only_after_hold_off() {
    let hold = 75; // 1.5 s of 20 ms frames
    let mut det = ActiveSpeaker::new(hold);
    let s = SILENCE_DBOV;

    // Nobody talks: nobody holds the floor.
    assert!(drive(&mut det, &[s, s, s], 20).is_empty());
    assert_eq!(det.current(), None);

    // Leg 0 starts: it takes the floor at once.
    assert_eq!(drive(&mut det, &[-20.0, s, s], 100), vec![(0, 0)]);
    assert_eq!(det.current(), Some(0));

    // Leg 2 interjects for one second while leg 0 goes on: no switch.
    assert!(drive(&mut det, &[-20.0, s, -12.0], 50).is_empty());
    assert_eq!(det.current(), Some(0));
    assert!(drive(&mut det, &[-20.0, s, s], 50).is_empty());

    // Leg 1 takes over for good: the switch comes after the hold-off (and
    // the few frames the smoothing needs to cross the margin), not before.
    let switches = drive(&mut det, &[-30.0, -15.0, s], 200);
    assert_eq!(switches.len(), 1, "{switches:?}");
    let (at, leg) = switches[0];
    assert_eq!(leg, 1);
    assert!(at + 1 >= hold as usize, "switched after {at} frames");
    assert!(at < hold as usize + 15, "switched only after {at} frames");
    assert_eq!(det.current(), Some(1));

    // Levels within the margin never switch, however long.
    assert!(drive(&mut det, &[-15.5, -15.0, s], 300).is_empty());
    assert_eq!(det.current(), Some(1));

    // Alternating challengers reset each other's hold-off.
    for _ in 0..6 {
        assert!(drive(&mut det, &[-5.0, -40.0, s], 40).is_empty());
        assert!(drive(&mut det, &[s, -40.0, -5.0], 40).is_empty());
    }
    assert_eq!(det.current(), Some(1));

    // A leg that leaves the meeting loses the floor.
    assert_eq!(drive(&mut det, &[-20.0], 1), vec![(0, 0)]);
}

//! Transcoding cost per 20 ms frame, next to libopus alone in the same run.
//!
//! - `opus_ceiling`: libopus encode + decode of one 48 kHz mono frame, the
//!   least any Opus <-> G.711 path can cost.
//! - `transcode`: G.711 -> Opus (µ-law decode, 8 -> 48 kHz, Opus encode)
//!   and Opus -> G.711 (Opus decode at 48 kHz, 48 -> 8 kHz, µ-law encode),
//!   plus Opus -> G.711 with libopus decoding straight to 8 kHz.
//! - `resample`: our polyphase FIR against rubato (FFT and sinc) for one
//!   frame each way.
//!
//! After criterion's groups a short fixed-count timing prints each
//! transcode path as a multiple of the libopus ceiling.

use std::hint::black_box;
use std::time::{Duration, Instant};

use codecs::{ulaw_decode_buf, ulaw_encode_buf, Application, OpusDecoder, OpusEncoder, Resampler};
use criterion::{criterion_group, Criterion};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Resampler as _, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};

const FRAMES: usize = 50;

/// One second of speech-like audio: a few harmonics with a wandering pitch
/// and some noise, so the encoder does not see a trivial signal.
fn speechish(rate: u32) -> Vec<i16> {
    let mut seed: u32 = 99;
    let mut phase = 0.0f64;
    (0..rate as usize)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let f0 = 140.0 + 30.0 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
            phase += 2.0 * std::f64::consts::PI * f0 / f64::from(rate);
            let voiced: f64 = (1..=12).map(|k| (phase * k as f64).sin() / k as f64).sum();
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = f64::from((seed >> 16) as i16) / 32768.0;
            (6000.0 * voiced + 800.0 * noise) as i16
        })
        .collect()
}

struct Paths {
    pcm48: Vec<i16>,
    ulaw: Vec<u8>,
    packets48: Vec<Vec<u8>>,
    enc48: OpusEncoder,
    dec48: OpusDecoder,
    dec8: OpusDecoder,
    up: Resampler,
    down: Resampler,
    pcm: Vec<i16>,
    wide: Vec<i16>,
    pkt: Vec<u8>,
    k: usize,
}

impl Paths {
    fn new() -> Self {
        let pcm48 = speechish(48000);
        let mut down = Resampler::new(48000, 8000).unwrap();
        let mut pcm8 = Vec::new();
        down.process(&pcm48, &mut pcm8);
        let ulaw = ulaw_encode_buf(&pcm8);
        let mut enc = OpusEncoder::new(48000, 1, Application::Voip, 32000).unwrap();
        let packets48 = pcm48
            .chunks_exact(960)
            .map(|f| {
                let mut p = Vec::new();
                enc.encode(f, &mut p).unwrap();
                p
            })
            .collect();
        Paths {
            pcm48,
            ulaw,
            packets48,
            enc48: OpusEncoder::new(48000, 1, Application::Voip, 32000).unwrap(),
            dec48: OpusDecoder::new(48000, 1).unwrap(),
            dec8: OpusDecoder::new(8000, 1).unwrap(),
            up: Resampler::new(8000, 48000).unwrap(),
            down: Resampler::new(48000, 8000).unwrap(),
            pcm: Vec::with_capacity(960),
            wide: Vec::with_capacity(960),
            pkt: Vec::with_capacity(4000),
            k: 0,
        }
    }

    fn next(&mut self) -> usize {
        self.k = (self.k + 1) % FRAMES;
        self.k
    }

    /// libopus alone: encode one 48 kHz frame and decode the packet.
    fn ceiling(&mut self) -> usize {
        let k = self.next();
        self.pkt.clear();
        self.enc48
            .encode(&self.pcm48[k * 960..(k + 1) * 960], &mut self.pkt)
            .unwrap();
        self.pcm.clear();
        self.dec48.decode(&self.pkt, &mut self.pcm).unwrap()
    }

    fn g711_to_opus(&mut self) -> usize {
        let k = self.next();
        let narrow = ulaw_decode_buf(&self.ulaw[k * 160..(k + 1) * 160]);
        self.wide.clear();
        self.up.process(&narrow, &mut self.wide);
        self.pkt.clear();
        self.enc48.encode(&self.wide, &mut self.pkt).unwrap()
    }

    fn opus_to_g711(&mut self) -> usize {
        let k = self.next();
        self.wide.clear();
        self.dec48
            .decode(&self.packets48[k], &mut self.wide)
            .unwrap();
        self.pcm.clear();
        self.down.process(&self.wide, &mut self.pcm);
        ulaw_encode_buf(&self.pcm).len()
    }

    /// The cheaper variant: libopus itself decodes to 8 kHz.
    fn opus8_to_g711(&mut self) -> usize {
        let k = self.next();
        self.pcm.clear();
        self.dec8.decode(&self.packets48[k], &mut self.pcm).unwrap();
        ulaw_encode_buf(&self.pcm).len()
    }
}

fn opus_paths(c: &mut Criterion) {
    let mut p = Paths::new();
    let mut g = c.benchmark_group("transcode_20ms");
    g.bench_function("opus_ceiling_encode+decode_48k", |b| {
        b.iter(|| black_box(p.ceiling()))
    });
    g.bench_function("g711_to_opus48", |b| b.iter(|| black_box(p.g711_to_opus())));
    g.bench_function("opus48_to_g711", |b| b.iter(|| black_box(p.opus_to_g711())));
    g.bench_function("opus_dec8k_to_g711", |b| {
        b.iter(|| black_box(p.opus8_to_g711()))
    });
    g.finish();
}

fn to_f32(x: &[i16], out: &mut [f32]) {
    for (o, &s) in out.iter_mut().zip(x) {
        *o = f32::from(s);
    }
}

fn from_f32(x: &[f32], out: &mut Vec<i16>) {
    out.clear();
    // Same rounding as our resampler's output stage, so only the filters
    // differ.
    out.extend(x.iter().map(|&s| {
        let s = s.clamp(-32768.0, 32767.0);
        (if s >= 0.0 { s + 0.5 } else { s - 0.5 }) as i16
    }));
}

fn resamplers(c: &mut Criterion) {
    let pcm48 = speechish(48000);
    let mut pcm8 = Vec::new();
    Resampler::new(48000, 8000)
        .unwrap()
        .process(&pcm48, &mut pcm8);

    for (from, to, input) in [(48000usize, 8000usize, &pcm48), (8000, 48000, &pcm8)] {
        let n_in = from / 50;
        let n_out = to / 50;
        let mut g = c.benchmark_group(format!("resample_{}k_to_{}k_20ms", from / 1000, to / 1000));

        let mut ours = Resampler::new(from as u32, to as u32).unwrap();
        let mut out = Vec::with_capacity(n_out);
        let mut k = 0;
        g.bench_function("polyphase_fir_ours", |b| {
            b.iter(|| {
                k = (k + 1) % FRAMES;
                out.clear();
                ours.process(&input[k * n_in..(k + 1) * n_in], &mut out);
                black_box(out.len())
            })
        });

        let mut fin = vec![0f32; n_in];
        let mut fout = vec![0f32; n_out * 2];
        let mut fft = Fft::<f32>::new(from, to, n_in, 1, FixedSync::Both).unwrap();
        assert_eq!(fft.input_frames_next(), n_in);
        g.bench_function("rubato_fft", |b| {
            b.iter(|| {
                k = (k + 1) % FRAMES;
                to_f32(&input[k * n_in..(k + 1) * n_in], &mut fin);
                let ia = InterleavedSlice::new(&fin, 1, n_in).unwrap();
                let len = fout.len();
                let mut oa = InterleavedSlice::new_mut(&mut fout, 1, len).unwrap();
                let (_, written) = fft.process_into_buffer(&ia, &mut oa, None).unwrap();
                from_f32(&fout[..written], &mut out);
                black_box(out.len())
            })
        });

        // Sinc parameters near our filter's: 48 taps of the lower rate would
        // be 48 * ratio at the higher one; rubato counts at the input rate.
        let params = SincInterpolationParameters::new(128, WindowFunction::BlackmanHarris2)
            .oversampling_factor(128)
            .interpolation(SincInterpolationType::Linear);
        let mut sinc = Async::<f32>::new_sinc(
            to as f64 / from as f64,
            1.0,
            &params,
            n_in,
            1,
            FixedAsync::Input,
        )
        .unwrap();
        g.bench_function("rubato_async_sinc128", |b| {
            b.iter(|| {
                k = (k + 1) % FRAMES;
                to_f32(&input[k * n_in..(k + 1) * n_in], &mut fin);
                let ia = InterleavedSlice::new(&fin, 1, n_in).unwrap();
                let len = fout.len();
                let mut oa = InterleavedSlice::new_mut(&mut fout, 1, len).unwrap();
                let (_, written) = sinc.process_into_buffer(&ia, &mut oa, None).unwrap();
                from_f32(&fout[..written], &mut out);
                black_box(out.len())
            })
        });
        g.finish();
        println!(
            "delay {}k->{}k in output samples: ours {}, rubato fft {}, rubato sinc {}",
            from / 1000,
            to / 1000,
            ours.delay(),
            fft.output_delay(),
            sinc.output_delay()
        );
    }
}

/// Mean time per call over `n` calls, best of five rounds.
fn time_per_call(n: u32, mut f: impl FnMut() -> usize) -> Duration {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(f());
            }
            start.elapsed() / n
        })
        .min()
        .unwrap()
}

fn print_ratios() {
    let mut p = Paths::new();
    let n = 2000;
    let ceiling = time_per_call(n, || p.ceiling());
    let g2o = time_per_call(n, || p.g711_to_opus());
    let o2g = time_per_call(n, || p.opus_to_g711());
    let o8g = time_per_call(n, || p.opus8_to_g711());
    let r = |d: Duration| d.as_secs_f64() / ceiling.as_secs_f64();
    println!();
    println!("per 20 ms frame, best of 5 x {n} calls:");
    println!("  libopus encode+decode 48k (ceiling) {ceiling:>10.2?}");
    println!(
        "  G.711 -> Opus 48k                   {g2o:>10.2?}  = {:.2} x ceiling",
        r(g2o)
    );
    println!(
        "  Opus 48k -> G.711                   {o2g:>10.2?}  = {:.2} x ceiling",
        r(o2g)
    );
    println!(
        "  Opus (decoded at 8k) -> G.711       {o8g:>10.2?}  = {:.2} x ceiling",
        r(o8g)
    );
    println!(
        "  G.711 <-> Opus both ways            {:>10.2?}  = {:.2} x ceiling",
        g2o + o2g,
        r(g2o + o2g)
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = opus_paths, resamplers
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_ratios();
}

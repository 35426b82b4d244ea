//! G.722 cost per 20 ms frame (320 samples <-> 160 octets), plus the PLC
//! conceal path and a jitter buffer push/pop cycle, for sizing how many
//! wideband legs a core can transcode.
//!
//! Needs in codecs/Cargo.toml: `[[bench]] name = "g722" harness = false`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use codecs::g722::{G722Decoder, G722Encoder};
use codecs::jitter::{JitterBuffer, JitterConfig, Playout};
use codecs::plc::Plc;
use criterion::{criterion_group, criterion_main, Criterion};

/// One second of speech-like 16 kHz audio: harmonics of a wandering pitch
/// plus a little noise, so the ADPCM adaptation is exercised.
fn speechish() -> Vec<i16> {
    let mut seed: u32 = 7;
    (0..16_000)
        .map(|i| {
            let t = f64::from(i) / 16_000.0;
            let f0 = 120.0 + 40.0 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
            let mut v = 0.0;
            for h in 1..8 {
                v += (2.0 * std::f64::consts::PI * f0 * f64::from(h) * t).sin() / f64::from(h);
            }
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = f64::from((seed >> 16) as i16) / 32768.0;
            (6000.0 * v + 300.0 * noise) as i16
        })
        .collect()
}

fn g722(c: &mut Criterion) {
    let pcm = speechish();
    let mut bytes = Vec::new();
    G722Encoder::new().encode(&pcm, &mut bytes);

    let mut group = c.benchmark_group("g722_20ms");
    let mut enc = G722Encoder::new();
    let mut out = Vec::with_capacity(160);
    let mut frame = 0;
    group.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            let f = &pcm[frame * 320..frame * 320 + 320];
            frame = (frame + 1) % 50;
            enc.encode(black_box(f), &mut out);
            black_box(&out);
        })
    });
    let mut dec = G722Decoder::new();
    let mut pcm_out = Vec::with_capacity(320);
    let mut frame = 0;
    group.bench_function("decode", |b| {
        b.iter(|| {
            pcm_out.clear();
            let f = &bytes[frame * 160..frame * 160 + 160];
            frame = (frame + 1) % 50;
            dec.decode(black_box(f), &mut pcm_out);
            black_box(&pcm_out);
        })
    });
    group.finish();
}

fn plc_and_jitter(c: &mut Criterion) {
    let pcm = speechish();
    let mut group = c.benchmark_group("loss_20ms");
    // Worst case: every other frame lost, so each loss runs the pitch
    // search.
    let mut plc = Plc::new(16_000);
    let mut buf = [0i16; 320];
    let mut frame = 0;
    group.bench_function("plc_good_then_conceal", |b| {
        b.iter(|| {
            buf.copy_from_slice(&pcm[frame * 320..frame * 320 + 320]);
            frame = (frame + 1) % 50;
            plc.good_frame(&mut buf);
            plc.conceal(&mut buf);
            black_box(&buf);
        })
    });

    let t0 = Instant::now();
    let mut jb: JitterBuffer<u32> = JitterBuffer::new(JitterConfig::new(8000));
    let mut n: u64 = 0;
    group.bench_function("jitter_push_pop", |b| {
        b.iter(|| {
            let now = t0 + Duration::from_millis(20 * n);
            jb.push(n as u16, (n as u32).wrapping_mul(160), n as u32, now);
            n += 1;
            let p = jb.pop(now);
            black_box(matches!(p, Playout::Frame(_)));
        })
    });
    group.finish();
}

criterion_group!(benches, g722, plc_and_jitter);
criterion_main!(benches);

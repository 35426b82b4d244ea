//! Media benchmarks of issue 5, side by side in one run so that the ratios
//! compare figures taken on the same box under the same load:
//!
//! 1. relay, plain RTP↔RTP: N calls of 172-byte G.711 packets both ways
//!    through a `MediaRelay` over loopback;
//! 2. relay, SRTP↔RTP: the same traffic, leg A speaking SRTP
//!    (AES_CM_128_HMAC_SHA1_80): the relay decrypts A→B (`SrtpUnprotect`)
//!    and encrypts B→A (`SrtpProtect`);
//! 3. transcoded calls per core: PCMU→Opus and Opus→PCMU `Transcoder`s in
//!    process, against the libopus ceiling (the same G.711 and Opus coding
//!    work per 20 ms, without our resampling and RTP handling).
//!
//! The relay runs on its own tokio runtime whose threads are named
//! `relay-w`; their CPU time (from /proc schedstat, in ns) is the relay's
//! cost, separate from the load generator's, which shares the process.
//! Everything is bounded in time and in packets.
//!
//! cargo run --release -p gateway-media --example media_bench -- \
//!     --streams 50 --rates 50000,150000 --duration 5 --codec-secs 3

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codecs::{Application, OpusDecoder, OpusEncoder};
use gateway_callmodel::AudioCodec;
use gateway_media::srtp::{SrtpProtect, SrtpUnprotect};
use gateway_media::transcode::{CodecEnd, Transcoder};
use gateway_media::{Direction, Leg, MediaRelay, PacketClass, PacketTransform, RelayConfig};
use gateway_srtp::{SrtpContext, SrtpKey, SrtpOptions, SrtpSuite};

const PKT_LEN: usize = 172;
const SUITE: SrtpSuite = SrtpSuite::AesCm128HmacSha1_80;
/// Hard caps whatever the flags say: a benchmark, not a soak test.
const MAX_DURATION_S: f64 = 30.0;
const MAX_STREAMS: usize = 500;
const MAX_CODEC_FRAMES: u64 = 2_000_000;
/// Packets per relay run; bounds the pre-encrypted SRTP packets' memory.
const MAX_PACKETS: u64 = 2_000_000;

struct Args {
    streams: usize,
    rates: Vec<f64>,
    duration: f64,
    relay_threads: usize,
    codec_secs: f64,
    ports: (u16, u16),
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        streams: 50,
        rates: vec![50_000.0, 150_000.0],
        duration: 5.0,
        relay_threads: 1,
        codec_secs: 3.0,
        ports: (46000, 47999),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--streams" => a.streams = (num(&val)? as usize).clamp(1, MAX_STREAMS),
            "--rates" => {
                a.rates = val
                    .split(',')
                    .map(|r| num(r.trim()).map(|r| r.clamp(100.0, 1_000_000.0)))
                    .collect::<Result<_, _>>()?
            }
            "--duration" => a.duration = num(&val)?.clamp(0.5, MAX_DURATION_S),
            "--relay-threads" => a.relay_threads = (num(&val)? as usize).clamp(1, 16),
            "--codec-secs" => a.codec_secs = num(&val)?.clamp(0.2, MAX_DURATION_S),
            "--ports" => {
                let (l, h) = val.split_once('-').ok_or("--ports LOW-HIGH")?;
                a.ports = (num(l)? as u16, num(h)? as u16);
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.rates.is_empty() {
        return Err("--rates: at least one rate".into());
    }
    Ok(a)
}

/// On-CPU nanoseconds of one task (first field of schedstat).
fn schedstat_ns(path: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn thread_cpu_ns() -> u64 {
    schedstat_ns("/proc/thread-self/schedstat")
}

/// CPU nanoseconds of the live threads whose name starts with `prefix`.
fn threads_cpu_ns(prefix: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .map(|c| c.starts_with(prefix))
                .unwrap_or(false)
        })
        .map(|t| schedstat_ns(&t.path().join("schedstat").to_string_lossy()))
        .sum()
}

/// Process user+system time in ns (/proc/self/stat, clock ticks of 10 ms
/// on Linux's usual USER_HZ=100).
fn process_cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name, which may hold spaces.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after ')'.
    (tick(11) + tick(12)) * 10_000_000
}

fn srtp_ctx(byte: u8) -> SrtpContext {
    let key = SrtpKey::from_concatenated(SUITE, &vec![byte; SUITE.key_len() + SUITE.salt_len()])
        .expect("key length of the suite");
    SrtpContext::new(SUITE, &key, SrtpOptions::default()).expect("SRTP context")
}

fn ssrc(stream: usize, a_to_b: bool) -> u32 {
    0x5000_0000 | ((stream as u32) << 1) | u32::from(!a_to_b)
}

#[derive(Debug, Clone, Copy)]
struct RelayResult {
    offered_pps: f64,
    delivered_pps: f64,
    loss_pct: f64,
    wrong: u64,
    relay_us_per_pkt: f64,
    process_us_per_pkt: f64,
    relay_cpu_pct: f64,
}

struct Flow {
    from: UdpSocket,
    to: SocketAddr,
    ssrc: u32,
    seq: u16,
    /// The sender's SRTP context when this flow leaves an SRTP endpoint.
    srtp: Option<SrtpContext>,
    /// Its SRTP packets, encrypted before the clock starts so that the
    /// generator's cost per packet is the same in both scenarios.
    pre: Vec<u8>,
}

const SRTP_LEN: usize = PKT_LEN + 10;

fn build_packet(pkt: &mut [u8], seq: u16, ssrc: u32) {
    pkt[2..4].copy_from_slice(&seq.to_be_bytes());
    pkt[4..8].copy_from_slice(&(u32::from(seq).wrapping_mul(160)).to_be_bytes());
    pkt[8..12].copy_from_slice(&ssrc.to_be_bytes());
}

/// One relay scenario: a fresh relay, `streams` sessions, traffic at `rate`
/// packets/s in total (both directions) for `duration` seconds.
fn relay_run(args: &Args, rate: f64, srtp: bool) -> RelayResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.relay_threads)
        .thread_name("relay-w")
        .enable_all()
        .build()
        .expect("relay runtime");
    let relay = MediaRelay::with_config(RelayConfig::new(
        [127, 0, 0, 1].into(),
        args.ports.0..=args.ports.1,
    ))
    .expect("port range");

    let mut flows = Vec::new();
    let mut receivers = Vec::new();
    let mut sessions = Vec::new();
    for i in 0..args.streams {
        let a = UdpSocket::bind("127.0.0.1:0").expect("bind A");
        let b = UdpSocket::bind("127.0.0.1:0").expect("bind B");
        let s = rt.block_on(async {
            let s = relay
                .allocate(&format!("bench-{i}"), 1)
                .expect("allocate session");
            s.set_remote(0, Leg::A, a.local_addr().unwrap(), None, false)
                .expect("remote A");
            s.set_remote(0, Leg::B, b.local_addr().unwrap(), None, false)
                .expect("remote B");
            if srtp {
                s.set_transform(
                    0,
                    Direction::AtoB,
                    Box::new(SrtpUnprotect::new(srtp_ctx(1))),
                )
                .expect("transform A→B");
                s.set_transform(0, Direction::BtoA, Box::new(SrtpProtect::new(srtp_ctx(2))))
                    .expect("transform B→A");
            }
            s
        });
        let a_target = s.local_addr(0, Leg::A).expect("stream 0").0;
        let b_target = s.local_addr(0, Leg::B).expect("stream 0").0;
        sessions.push(s);
        // B hears A's flow in the clear; A hears B's flow as SRTP (182 bytes).
        receivers.push((b.try_clone().expect("dup"), ssrc(i, true), PKT_LEN));
        receivers.push((
            a.try_clone().expect("dup"),
            ssrc(i, false),
            if srtp { SRTP_LEN } else { PKT_LEN },
        ));
        flows.push(Flow {
            from: a,
            to: a_target,
            ssrc: ssrc(i, true),
            seq: 0,
            srtp: srtp.then(|| srtp_ctx(1)),
            pre: Vec::new(),
        });
        flows.push(Flow {
            from: b,
            to: b_target,
            ssrc: ssrc(i, false),
            seq: 0,
            srtp: None,
            pre: Vec::new(),
        });
    }

    // Receivers: one thread, blocking reads with a short timeout, round
    // robin over non-blocking sockets would spin; a current-thread tokio
    // runtime waits on all of them at once.
    let stop = Arc::new(AtomicBool::new(false));
    let recv_stop = stop.clone();
    let receiving = std::thread::Builder::new()
        .name("bench-rx".into())
        .spawn(move || {
            let rx = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rx runtime");
            rx.block_on(async move {
                let tasks: Vec<_> = receivers
                    .into_iter()
                    .map(|(sock, expect, len)| {
                        sock.set_nonblocking(true).expect("nonblocking");
                        let sock = tokio::net::UdpSocket::from_std(sock).expect("tokio socket");
                        let stop = recv_stop.clone();
                        tokio::spawn(async move {
                            let mut buf = [0u8; 2048];
                            let (mut ok, mut wrong) = (0u64, 0u64);
                            loop {
                                match tokio::time::timeout(
                                    Duration::from_millis(200),
                                    sock.recv(&mut buf),
                                )
                                .await
                                {
                                    Ok(Ok(n)) => {
                                        // The SSRC proves the routing, the
                                        // length and (in the clear) the
                                        // payload byte that SRTP was undone
                                        // or applied.
                                        let good = n == len
                                            && n >= 13
                                            && u32::from_be_bytes([
                                                buf[8], buf[9], buf[10], buf[11],
                                            ]) == expect
                                            && (len != PKT_LEN || buf[12] == 0xd5);
                                        if good {
                                            ok += 1;
                                        } else {
                                            wrong += 1;
                                        }
                                    }
                                    Ok(Err(_)) => {}
                                    Err(_) if stop.load(Ordering::Relaxed) => break,
                                    Err(_) => {}
                                }
                            }
                            (ok, wrong)
                        })
                    })
                    .collect();
                let mut sum = (0u64, 0u64);
                for t in tasks {
                    let (ok, wrong) = t.await.unwrap_or((0, 0));
                    sum.0 += ok;
                    sum.1 += wrong;
                }
                sum
            })
        })
        .expect("rx thread");

    let total = ((rate * args.duration) as u64).min(MAX_PACKETS);
    let mut pkt = vec![0xd5u8; PKT_LEN];
    pkt[0] = 0x80;
    pkt[1] = 0; // PCMU
    let per_flow = total / flows.len() as u64 + 1;
    for f in flows.iter_mut() {
        if let Some(ctx) = f.srtp.as_mut() {
            f.pre = Vec::with_capacity(per_flow as usize * SRTP_LEN);
            let mut wire = Vec::with_capacity(SRTP_LEN);
            for k in 1..=per_flow {
                build_packet(&mut pkt, k as u16, f.ssrc);
                wire.clear();
                wire.extend_from_slice(&pkt);
                ctx.protect_rtp(&mut wire).expect("protect");
                f.pre.extend_from_slice(&wire);
            }
        }
    }
    let relay_cpu0 = threads_cpu_ns("relay-w");
    let proc_cpu0 = process_cpu_ns();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(args.duration * 2.0);
    let n = flows.len() as u64;
    let mut sent = 0u64;
    while sent < total && Instant::now() < deadline {
        let due = ((start.elapsed().as_secs_f64() * rate) as u64).min(total);
        if sent >= due {
            std::thread::sleep(Duration::from_micros(100));
            continue;
        }
        while sent < due {
            let f = &mut flows[(sent % n) as usize];
            let k = (sent / n) as usize;
            f.seq = f.seq.wrapping_add(1);
            if f.srtp.is_some() {
                if let Some(wire) = f.pre.get(k * SRTP_LEN..(k + 1) * SRTP_LEN) {
                    let _ = f.from.send_to(wire, f.to);
                }
            } else {
                build_packet(&mut pkt, f.seq, f.ssrc);
                let _ = f.from.send_to(&pkt, f.to);
            }
            sent += 1;
        }
    }
    let send_secs = start.elapsed().as_secs_f64();
    // Let the queues drain before reading the clocks.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (received, wrong) = receiving.join().expect("rx thread");
    let relay_cpu = threads_cpu_ns("relay-w").saturating_sub(relay_cpu0);
    let proc_cpu = process_cpu_ns().saturating_sub(proc_cpu0);
    rt.block_on(async {
        for s in sessions {
            s.close().await;
        }
    });
    drop(rt);
    let per_pkt = |ns: u64| {
        if received == 0 {
            f64::NAN
        } else {
            ns as f64 / 1000.0 / received as f64
        }
    };
    RelayResult {
        offered_pps: sent as f64 / send_secs,
        delivered_pps: received as f64 / send_secs,
        loss_pct: 100.0 * sent.saturating_sub(received) as f64 / sent.max(1) as f64,
        wrong,
        relay_us_per_pkt: per_pkt(relay_cpu),
        process_us_per_pkt: per_pkt(proc_cpu),
        relay_cpu_pct: 100.0 * relay_cpu as f64 / 1e9 / (send_secs + 0.3),
    }
}

/// A second of speech-like 8 kHz audio (two tones and a little noise), so
/// that Opus codes something other than silence.
fn test_signal(rate: u32, samples: usize) -> Vec<i16> {
    let mut noise = 0x1234_5678u32;
    (0..samples)
        .map(|i| {
            let t = i as f32 / rate as f32;
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            let n = (noise % 2001) as f32 - 1000.0;
            let v = 6000.0 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
                + 3000.0 * (2.0 * std::f32::consts::PI * 1270.0 * t).sin()
                + n;
            v as i16
        })
        .collect()
}

struct CodecResult {
    frames: u64,
    cpu_s: f64,
    calls_per_core: f64,
}

/// Runs `step` (one call's 20 ms, both directions) until `secs` of this
/// thread's CPU time or the frame cap.
fn codec_loop(secs: f64, mut step: impl FnMut(u64)) -> CodecResult {
    let budget = (secs * 1e9) as u64;
    let c0 = thread_cpu_ns();
    let mut frames = 0u64;
    loop {
        for _ in 0..50 {
            step(frames);
            frames += 1;
        }
        let used = thread_cpu_ns().saturating_sub(c0);
        if used >= budget || frames >= MAX_CODEC_FRAMES {
            let cpu_s = used as f64 / 1e9;
            return CodecResult {
                frames,
                cpu_s,
                // One call = 50 frame pairs per second.
                calls_per_core: frames as f64 / cpu_s / 50.0,
            };
        }
    }
}

fn transcode_bench(secs: f64) -> (CodecResult, u64) {
    let pcmu = CodecEnd {
        codec: AudioCodec::Pcmu,
        payload_type: 0,
        telephone_event: None,
    };
    let opus = CodecEnd {
        codec: AudioCodec::Opus,
        payload_type: 111,
        telephone_event: None,
    };
    let mut to_opus = Transcoder::new(pcmu, opus).expect("PCMU→Opus");
    let mut to_pcmu = Transcoder::new(opus, pcmu).expect("Opus→PCMU");
    let signal = test_signal(8000, 8000);
    let frames: Vec<Vec<u8>> = signal
        .chunks(160)
        .map(|c| c.iter().map(|&s| codecs::ulaw_encode(s)).collect())
        .collect();
    let mut buf = vec![0u8; 1500];
    let mut dropped = 0u64;
    let r = codec_loop(secs, |i| {
        let seq = i as u16;
        buf[0] = 0x80;
        buf[1] = 0;
        buf[2..4].copy_from_slice(&seq.to_be_bytes());
        buf[4..8].copy_from_slice(&((i as u32).wrapping_mul(160)).to_be_bytes());
        buf[8..12].copy_from_slice(&0x1111_2222u32.to_be_bytes());
        let payload = &frames[(i % frames.len() as u64) as usize];
        buf[12..12 + payload.len()].copy_from_slice(payload);
        // A→B turns the PCMU packet into Opus; B→A turns that Opus packet
        // back into PCMU, as the other leg's speech would be.
        match to_opus.transform(PacketClass::Rtp, &mut buf, 12 + payload.len()) {
            Some(len) => {
                if to_pcmu.transform(PacketClass::Rtp, &mut buf, len).is_none() {
                    dropped += 1;
                }
            }
            None => dropped += 1,
        }
    });
    (r, dropped)
}

/// The same codec work per call and 20 ms, straight on the codecs:
/// G.711 decode, Opus encode (16 kHz, as the transcoder's), Opus decode,
/// G.711 encode, with no resampling and no RTP.
fn ceiling_bench(secs: f64) -> CodecResult {
    let mut enc = OpusEncoder::new(16_000, 1, Application::Voip, 32_000).expect("encoder");
    let mut dec = OpusDecoder::new(16_000, 1).expect("decoder");
    let narrow: Vec<u8> = test_signal(8000, 8000)
        .iter()
        .map(|&s| codecs::ulaw_encode(s))
        .collect();
    let wide = test_signal(16_000, 16_000);
    let mut pcm8 = Vec::with_capacity(160);
    let mut packet = Vec::with_capacity(1500);
    let mut pcm16 = Vec::with_capacity(960);
    let mut out = Vec::with_capacity(160);
    codec_loop(secs, |i| {
        let k = (i % 50) as usize;
        pcm8.clear();
        pcm8.extend(
            narrow[k * 160..(k + 1) * 160]
                .iter()
                .map(|&b| codecs::ulaw_decode(b)),
        );
        std::hint::black_box(&pcm8);
        packet.clear();
        enc.encode(&wide[k * 320..(k + 1) * 320], &mut packet)
            .expect("opus encode");
        pcm16.clear();
        dec.decode(&packet, &mut pcm16).expect("opus decode");
        out.clear();
        out.extend(pcm16.iter().step_by(2).map(|&s| codecs::ulaw_encode(s)));
        std::hint::black_box(&out);
    })
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("media_bench: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "load average before: {} | relay threads: {} | streams: {} (×2 directions) | {} s per relay run",
        load_average(),
        args.relay_threads,
        args.streams,
        args.duration
    );
    println!();
    println!("## Relay: plain RTP↔RTP vs SRTP↔RTP (AES_CM_128_HMAC_SHA1_80)");
    println!();
    println!("Delivered pps and loss, relay-thread CPU (100% = one core) and µs per delivered packet, the whole process's µs/pkt (load generator included; its SRTP packets are encrypted before the clock starts); ratios SRTP / plain.");
    println!();
    println!("| target pps | offered plain / SRTP | plain pps | loss % | cpu % | µs/pkt | proc µs/pkt | SRTP pps | loss % | cpu % | µs/pkt | proc µs/pkt | pps ratio | per-core capacity ratio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    for &rate in &args.rates {
        let p = relay_run(&args, rate, false);
        let s = relay_run(&args, rate, true);
        if p.wrong + s.wrong > 0 {
            eprintln!(
                "media_bench: misrouted or malformed packets: plain {}, SRTP {}",
                p.wrong, s.wrong
            );
        }
        let pps_ratio = s.delivered_pps / p.delivered_pps;
        // Packets one relay core could forward, SRTP over plain.
        let cap_ratio = p.relay_us_per_pkt / s.relay_us_per_pkt;
        ratios.push((rate, pps_ratio, cap_ratio, p, s));
        println!(
            "| {:.0} | {:.0} / {:.0} | {:.0} | {:.1} | {:.0} | {:.2} | {:.2} | {:.0} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
            rate,
            p.offered_pps,
            s.offered_pps,
            p.delivered_pps,
            p.loss_pct,
            p.relay_cpu_pct,
            p.relay_us_per_pkt,
            p.process_us_per_pkt,
            s.delivered_pps,
            s.loss_pct,
            s.relay_cpu_pct,
            s.relay_us_per_pkt,
            s.process_us_per_pkt,
            pps_ratio,
            cap_ratio
        );
    }

    println!();
    println!("## Transcoding G.711 ↔ Opus, calls per core");
    println!();
    let (t, dropped) = transcode_bench(args.codec_secs);
    let c = ceiling_bench(args.codec_secs);
    println!("| path | frames | CPU s | µs per call-20ms | calls per core |");
    println!("|---|---:|---:|---:|---:|");
    for (name, r) in [
        ("Transcoder PCMU→Opus + Opus→PCMU", &t),
        (
            "libopus ceiling (µ-law dec + Opus enc + Opus dec + µ-law enc)",
            &c,
        ),
    ] {
        println!(
            "| {} | {} | {:.2} | {:.1} | {:.0} |",
            name,
            r.frames,
            r.cpu_s,
            r.cpu_s * 1e6 / r.frames as f64,
            r.calls_per_core
        );
    }
    if dropped > 0 {
        eprintln!("media_bench: {dropped} packets dropped by the transcoders");
    }
    let tc_ratio = t.calls_per_core / c.calls_per_core;

    println!();
    println!("## Ratios (issue 5 targets)");
    println!();
    println!("| figure | value | target | met |");
    println!("|---|---:|---:|---|");
    for (rate, pps_ratio, cap_ratio, _, _) in &ratios {
        println!(
            "| SRTP↔RTP / plain delivered pps at {rate:.0} pps offered | {pps_ratio:.2} | ≥0.80 | {} |",
            if *pps_ratio >= 0.8 { "yes" } else { "no" }
        );
        println!(
            "| SRTP↔RTP / plain packets per relay core (1/µs per pkt) at {rate:.0} pps | {cap_ratio:.2} | ≥0.80 | {} |",
            if *cap_ratio >= 0.8 { "yes" } else { "no" }
        );
    }
    println!(
        "| transcoded calls per core / libopus ceiling | {tc_ratio:.2} | ≥0.70 | {} |",
        if tc_ratio >= 0.7 { "yes" } else { "no" }
    );
    println!();
    println!("load average after: {}", load_average());
}

//! RTP load generator for relay benchmarks.
//!
//! Reads the stream list printed by `relay_bench` (or by the rtpengine ng
//! driver), binds both endpoints of every stream, sends 172-byte RTP packets
//! (G.711, 20 ms) from A to the relay's A side and from B to its B side at
//! `--rate` packets per second in total for `--duration` seconds, counts
//! what arrives at the far endpoints and prints one JSON line:
//! offered and delivered packets per second, loss, misrouted packets.
//!
//! A stream entry with `"a_srtp": {"suite", "a_send", "a_recv"}` (SDES
//! suite name, hex key‖salt of what A sends and of what A receives) makes
//! endpoint A speak SRTP: it protects what it sends and authenticates and
//! decrypts what it receives (a packet that fails counts as misrouted), so
//! the relay does SRTP↔RTP. B always speaks plain RTP.
//!
//! cargo run --release -p gateway-media --example rtp_load -- \
//!     --streams-file streams.json --rate 50000 --duration 5

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway_srtp::{SrtpContext, SrtpKey, SrtpOptions, SrtpSuite};

const PKT_LEN: usize = 172;

struct Flow {
    from: UdpSocket,
    to: SocketAddr,
    ssrc: u32,
    seq: u16,
    srtp: Option<SrtpContext>,
}

struct Receiver {
    sock: UdpSocket,
    expect: u32,
    srtp: Option<SrtpContext>,
}

fn ssrc(stream: usize, a_to_b: bool) -> u32 {
    0x5000_0000 | ((stream as u32) << 1) | u32::from(!a_to_b)
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn num(name: &str, default: f64) -> f64 {
    arg(name)
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: not a number")))
        .unwrap_or(default)
}

fn addr(v: &serde_json::Value, key: &str) -> SocketAddr {
    v[key]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("stream entry without {key}"))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex key"))
        .collect()
}

/// A's SRTP contexts (sending, receiving) from the stream entry, if any.
fn srtp_of(e: &serde_json::Value) -> Option<(SrtpContext, SrtpContext)> {
    let s = e.get("a_srtp")?;
    let suite = s["suite"]
        .as_str()
        .and_then(SrtpSuite::from_sdes_name)
        .expect("a_srtp.suite: an SDES suite name");
    let ctx = |field: &str| {
        let key = unhex(s[field].as_str().expect("hex key"));
        let key = SrtpKey::from_concatenated(suite, &key).expect("key length");
        SrtpContext::new(suite, &key, SrtpOptions::default()).expect("SRTP context")
    };
    Some((ctx("a_send"), ctx("a_recv")))
}

fn main() {
    let file = arg("--streams-file").expect("--streams-file FILE");
    let rate = num("--rate", 10_000.0).max(1.0);
    // Bounded on purpose: this is a benchmark, not a soak test.
    let duration = num("--duration", 5.0).clamp(0.1, 120.0);
    let one_way = std::env::args().any(|a| a == "--one-way");
    let text = std::fs::read_to_string(&file).expect("read streams file");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("streams JSON");
    let entries = doc["streams"].as_array().expect("streams array").clone();

    let mut flows = Vec::new();
    let mut receivers = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let a = UdpSocket::bind(addr(e, "a_local")).expect("bind a_local");
        let b = UdpSocket::bind(addr(e, "b_local")).expect("bind b_local");
        let (a_send, a_recv) = match srtp_of(e) {
            Some((s, r)) => (Some(s), Some(r)),
            None => (None, None),
        };
        // B receives A's flow; A receives B's flow.
        receivers.push(Receiver {
            sock: b.try_clone().expect("dup"),
            expect: ssrc(i, true),
            srtp: None,
        });
        if !one_way {
            receivers.push(Receiver {
                sock: a.try_clone().expect("dup"),
                expect: ssrc(i, false),
                srtp: a_recv,
            });
        }
        flows.push(Flow {
            from: a,
            to: addr(e, "a_target"),
            ssrc: ssrc(i, true),
            seq: 0,
            srtp: a_send,
        });
        if !one_way {
            flows.push(Flow {
                from: b,
                to: addr(e, "b_target"),
                ssrc: ssrc(i, false),
                seq: 0,
                srtp: None,
            });
        }
    }
    let total = (rate * duration) as u64;
    // The receiver stops a second after the LAST send, not after the
    // planned end: a generator starved of CPU sends past its duration, and
    // what it sent late would otherwise be counted as lost.
    let base = Instant::now();
    let stop_ns = Arc::new(AtomicU64::new(u64::MAX));
    let receiving = {
        let stop_ns = stop_ns.clone();
        std::thread::spawn(move || receive(receivers, base, &stop_ns))
    };

    let mut pkt = Vec::with_capacity(2048);
    let start = Instant::now();
    let (mut sent, mut send_errors) = (0u64, 0u64);
    let n = flows.len() as u64;
    while sent < total {
        let due = ((start.elapsed().as_secs_f64() * rate) as u64).min(total);
        if sent >= due {
            std::thread::sleep(Duration::from_micros(100));
            continue;
        }
        while sent < due {
            let f = &mut flows[(sent % n) as usize];
            f.seq = f.seq.wrapping_add(1);
            pkt.clear();
            pkt.resize(PKT_LEN, 0xd5);
            pkt[0] = 0x80;
            pkt[1] = 0; // PCMU, as negotiated with rtpengine
            pkt[2..4].copy_from_slice(&f.seq.to_be_bytes());
            pkt[4..8].copy_from_slice(&(u32::from(f.seq) * 160).to_be_bytes());
            pkt[8..12].copy_from_slice(&f.ssrc.to_be_bytes());
            if let Some(ctx) = f.srtp.as_mut() {
                ctx.protect_rtp(&mut pkt).expect("SRTP protect");
            }
            if f.from.send_to(&pkt, f.to).is_err() {
                send_errors += 1;
            }
            sent += 1;
        }
    }
    let send_secs = start.elapsed().as_secs_f64();
    let stop = base.elapsed() + Duration::from_secs(1);
    stop_ns.store(stop.as_nanos() as u64, Ordering::Release);
    let (received, misrouted) = receiving.join().expect("receiver thread");
    let loss = if sent > 0 {
        100.0 * (sent.saturating_sub(received)) as f64 / sent as f64
    } else {
        0.0
    };
    println!(
        "{}",
        serde_json::json!({
            "flows": n,
            "target_pps": rate,
            "offered_pps": (sent as f64 / send_secs).round(),
            "delivered_pps": (received as f64 / send_secs).round(),
            "sent": sent,
            "received": received,
            "misrouted": misrouted,
            "send_errors": send_errors,
            "loss_pct": (loss * 100.0).round() / 100.0,
        })
    );
}

/// Count what the endpoints receive until `stop_ns` after `base` (set
/// once the sender is done): one thread, one
/// `poll(2)` over every socket, each readable socket drained. Returns
/// (packets with the expected SSRC that authenticate, all others).
fn receive(mut receivers: Vec<Receiver>, base: Instant, stop_ns: &AtomicU64) -> (u64, u64) {
    let mut fds: Vec<libc::pollfd> = receivers
        .iter()
        .map(|r| {
            r.sock.set_nonblocking(true).expect("nonblocking");
            // Room for a burst while this thread waits for a core, so that
            // loss counts the relay's drops rather than ours.
            let size: libc::c_int = 1 << 20;
            // SAFETY: a valid socket and an int option of the right size.
            unsafe {
                libc::setsockopt(
                    r.sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVBUF,
                    (&size as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
            libc::pollfd {
                fd: r.sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }
        })
        .collect();
    let mut buf = vec![0u8; 2048];
    let mut pkt = Vec::with_capacity(2048);
    let (mut ok, mut wrong) = (0u64, 0u64);
    loop {
        let stop = match stop_ns.load(Ordering::Acquire) {
            u64::MAX => Duration::MAX,
            ns => Duration::from_nanos(ns),
        };
        let left = stop.saturating_sub(base.elapsed());
        if left.is_zero() {
            break;
        }
        let timeout = left.as_millis().clamp(1, 100) as libc::c_int;
        // SAFETY: `fds` is a live array of pollfd of the given length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n <= 0 {
            continue;
        }
        for (fd, r) in fds.iter_mut().zip(receivers.iter_mut()) {
            if fd.revents == 0 {
                continue;
            }
            fd.revents = 0;
            while let Ok(n) = r.sock.recv(&mut buf) {
                let good = match r.srtp.as_mut() {
                    Some(ctx) => {
                        pkt.clear();
                        pkt.extend_from_slice(&buf[..n]);
                        ctx.unprotect_rtp(&mut pkt).is_ok()
                            && pkt.len() == PKT_LEN
                            && pkt[8..12] == r.expect.to_be_bytes()
                    }
                    None => n >= 12 && buf[8..12] == r.expect.to_be_bytes(),
                };
                if good {
                    ok += 1;
                } else {
                    wrong += 1;
                }
            }
        }
    }
    (ok, wrong)
}

//! RTP load generator for relay benchmarks.
//!
//! Reads the stream list printed by `relay_bench` (or by the rtpengine ng
//! driver), binds both endpoints of every stream, sends 172-byte RTP packets
//! (G.711, 20 ms) from A to the relay's A side and from B to its B side at
//! `--rate` packets per second in total for `--duration` seconds, counts
//! what arrives at the far endpoints and prints one JSON line:
//! offered and delivered packets per second, loss, misrouted packets.
//!
//! cargo run --release -p gateway-media --example rtp_load -- \
//!     --streams-file streams.json --rate 50000 --duration 5

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const PKT_LEN: usize = 172;

struct Flow {
    from: UdpSocket,
    to: SocketAddr,
    ssrc: u32,
    seq: u16,
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
        // B receives A's flow; A receives B's flow.
        receivers.push((b.try_clone().expect("dup"), ssrc(i, true)));
        flows.push(Flow {
            from: a,
            to: addr(e, "a_target"),
            ssrc: ssrc(i, true),
            seq: 0,
        });
        if !one_way {
            receivers.push((
                flows[flows.len() - 1].from.try_clone().expect("dup"),
                ssrc(i, false),
            ));
            flows.push(Flow {
                from: b,
                to: addr(e, "b_target"),
                ssrc: ssrc(i, false),
                seq: 0,
            });
        }
    }
    let total = (rate * duration) as u64;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stop_at = tokio::time::Instant::now() + Duration::from_secs_f64(duration + 1.0);
    let handles: Vec<_> = rt.block_on(async {
        receivers
            .into_iter()
            .map(|(sock, expect)| {
                sock.set_nonblocking(true).expect("nonblocking");
                let sock = tokio::net::UdpSocket::from_std(sock).expect("tokio socket");
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let (mut ok, mut wrong) = (0u64, 0u64);
                    while let Ok(Ok(n)) =
                        tokio::time::timeout_at(stop_at, sock.recv(&mut buf)).await
                    {
                        if n >= 12
                            && u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]) == expect
                        {
                            ok += 1;
                        } else {
                            wrong += 1;
                        }
                    }
                    (ok, wrong)
                })
            })
            .collect()
    });
    let receiving = std::thread::spawn(move || {
        rt.block_on(async {
            let mut sum = (0u64, 0u64);
            for h in handles {
                let (ok, wrong) = h.await.unwrap_or((0, 0));
                sum.0 += ok;
                sum.1 += wrong;
            }
            sum
        })
    });

    let mut pkt = [0xd5u8; PKT_LEN];
    pkt[0] = 0x80;
    pkt[1] = 0; // PCMU, as negotiated with rtpengine
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
            pkt[2..4].copy_from_slice(&f.seq.to_be_bytes());
            pkt[4..8].copy_from_slice(&(u32::from(f.seq) * 160).to_be_bytes());
            pkt[8..12].copy_from_slice(&f.ssrc.to_be_bytes());
            if f.from.send_to(&pkt, f.to).is_err() {
                send_errors += 1;
            }
            sent += 1;
        }
    }
    let send_secs = start.elapsed().as_secs_f64();
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

//! Benchmark helper: allocate N relay sessions on one address and print
//! where a load generator should send, as one line of JSON:
//!
//! `{"streams":[{"a_local":…,"a_target":…,"b_local":…,"b_target":…},…]}`
//!
//! Endpoint A of stream i is expected at `<ip>:<a-base + 2i>` and B at
//! `<ip>:<b-base + 2i>`; the load generator binds those. Runs until stdin
//! closes or `--duration` seconds pass, then prints relay metrics on stderr.
//!
//! `--srtp SUITE` (an SDES suite name such as `AES_CM_128_HMAC_SHA1_80`)
//! makes leg A of every session SRTP with fresh random keys, set up the way
//! the B2BUA does (SRTP unprotect inbound, protect outbound, SRTCP on A),
//! and adds `"a_srtp": {"suite", "a_send", "a_recv"}` (hex key‖salt) to
//! each entry for the load generator: SRTP↔RTP through the relay.
//!
//! `--threads N` (default 2) relay threads, each with its own
//! single-threaded runtime (the relay's thread-per-core mode);
//! `--in-runtime` runs the sessions as tasks of one multi-threaded runtime
//! with N workers instead, for comparison. `--coalesce-us U` sets how
//! long a busy relay thread lets datagrams gather (the relay's default
//! otherwise; 0: handle each at once).
//!
//! cargo run --release -p gateway-media --example relay_bench -- \
//!     --sessions 50 --ports 20000-29999 --a-base 40000 --b-base 42000

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use gateway_media::srtp::{SrtpProtect, SrtpUnprotect};
use gateway_media::{Chain, Direction, IdentityTransform, Leg, MediaRelay, Pipeline, RelayConfig};
use gateway_srtp::{SrtpContext, SrtpKey, SrtpOptions, SrtpSuite};
use std::io::Read;

struct Args {
    sessions: usize,
    bind: IpAddr,
    ports: (u16, u16),
    a_base: u16,
    b_base: u16,
    duration: u64,
    threads: usize,
    in_runtime: bool,
    coalesce_us: Option<u64>,
    srtp: Option<SrtpSuite>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        sessions: 50,
        bind: [127, 0, 0, 1].into(),
        ports: (20000, 29999),
        a_base: 40000,
        b_base: 42000,
        duration: 600,
        threads: 2,
        in_runtime: false,
        coalesce_us: None,
        srtp: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--in-runtime" {
            a.in_runtime = true;
            continue;
        }
        let val = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--sessions" => a.sessions = num(&val)? as usize,
            "--bind" => a.bind = val.parse().map_err(|e| format!("--bind: {e}"))?,
            "--ports" => {
                let (l, h) = val.split_once('-').ok_or("--ports LOW-HIGH")?;
                a.ports = (num(l)? as u16, num(h)? as u16);
            }
            "--a-base" => a.a_base = num(&val)? as u16,
            "--b-base" => a.b_base = num(&val)? as u16,
            "--duration" => a.duration = num(&val)?,
            "--coalesce-us" => a.coalesce_us = Some(num(&val)?),
            "--threads" => a.threads = num(&val)?.max(1) as usize,
            "--srtp" => {
                a.srtp = Some(SrtpSuite::from_sdes_name(&val).ok_or("--srtp: unknown suite")?)
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("relay_bench: {e}");
            std::process::exit(2);
        }
    };
    let rt = if args.in_runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    } else {
        // Only control runs here; the relay threads carry the media.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    rt.block_on(run(args));
}

async fn run(args: Args) {
    let mut config = RelayConfig::new(args.bind, args.ports.0..=args.ports.1);
    config.threads = Some(if args.in_runtime { 0 } else { args.threads });
    if let Some(us) = args.coalesce_us {
        config.coalesce = Duration::from_micros(us);
    }
    let relay = MediaRelay::with_config(config).expect("port range");
    let mut sessions = Vec::with_capacity(args.sessions);
    let mut streams = Vec::with_capacity(args.sessions);
    for i in 0..args.sessions {
        let s = relay
            .allocate(&format!("bench-{i}"), 1)
            .expect("allocate session");
        let a_ep = SocketAddr::new(args.bind, args.a_base + 2 * i as u16);
        let b_ep = SocketAddr::new(args.bind, args.b_base + 2 * i as u16);
        s.set_remote(0, Leg::A, a_ep, None, false)
            .expect("set_remote A");
        s.set_remote(0, Leg::B, b_ep, None, false)
            .expect("set_remote B");
        let mut entry = serde_json::json!({
            "a_local": a_ep.to_string(),
            "a_target": s.local_addr(0, Leg::A).expect("stream 0").0.to_string(),
            "b_local": b_ep.to_string(),
            "b_target": s.local_addr(0, Leg::B).expect("stream 0").0.to_string(),
        });
        if let Some(suite) = args.srtp {
            let (a_send, a_recv) = (random_key(suite), random_key(suite));
            let ctx = |k: &[u8]| {
                let key = SrtpKey::from_concatenated(suite, k).expect("key length");
                SrtpContext::new(suite, &key, SrtpOptions::default()).expect("SRTP context")
            };
            let from_a = Pipeline::new(Box::new(Chain(vec![Box::new(SrtpUnprotect::new(ctx(
                &a_send,
            )))])));
            let mut to_a = Pipeline::new(Box::new(IdentityTransform));
            to_a.outbound = Box::new(SrtpProtect::new(ctx(&a_recv)));
            s.set_pipeline(0, Direction::AtoB, from_a)
                .expect("pipeline A to B");
            s.set_pipeline(0, Direction::BtoA, to_a)
                .expect("pipeline B to A");
            s.set_rtcp_encrypted(0, Leg::A, true).expect("SRTCP on A");
            entry["a_srtp"] = serde_json::json!({
                "suite": suite.sdes_name(),
                "a_send": hex(&a_send),
                "a_recv": hex(&a_recv),
            });
        }
        streams.push(entry);
        sessions.push(s);
    }
    println!("{}", serde_json::json!({ "streams": streams }));

    let (closed_tx, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        let _ = closed_tx.send(());
    });
    tokio::select! {
        _ = stdin_closed => {}
        _ = tokio::time::sleep(Duration::from_secs(args.duration)) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    eprintln!("relay_bench: {:?}", relay.metrics());
    for s in sessions {
        s.close().await;
    }
}

fn random_key(suite: SrtpSuite) -> Vec<u8> {
    (0..suite.key_len() + suite.salt_len())
        .map(|_| rand::random::<u8>())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

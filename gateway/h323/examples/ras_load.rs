//! RAS registration load generator for a gatekeeper (ours or any other):
//! `--endpoints` endpoints spread over `--sockets` UDP sockets, driven by
//! `--window` requests in flight (closed loop: each answer frees its slot
//! for the next request), through four phases:
//!
//! 1. `register`: one full RRQ per endpoint (first registrations);
//! 2. `full`: `--seconds` of full RRQs cycling over the endpoints (each a
//!    re-registration from the same address, as after a reboot);
//! 3. `keepalive`: `--seconds` of lightweight RRQs (keepAlive, the
//!    endpointIdentifier and gatekeeperIdentifier of the last RCF);
//! 4. `unregister`: one URQ per endpoint.
//!
//! A request unanswered after `--wait-ms` is sent again (same bytes, as an
//! endpoint does) up to `--tries` times, then counted lost. Loopback only.
//! Each phase ends in a line `RESULT phase=... key=value ...` for scripts.
//!
//! ```text
//! cargo run --release -p gateway-h323 --example ras_load -- \
//!     --gatekeeper 127.0.0.1:1719 --endpoints 1000 --seconds 10
//! ```

mod common;

use common::*;
use gateway_h323::h225::*;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USAGE: &str = "ras_load --gatekeeper IP:PORT [--endpoints 1000] [--sockets 16] [--window 32]
  [--seconds 10] [--ttl 300] [--wait-ms 1000] [--tries 3] [--phases register,full,keepalive,unregister]
  [--alias-prefix load-] [--number-base 7900000] [--label ours]";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Register,
    Full,
    KeepAlive,
    Unregister,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Register => "register",
            Phase::Full => "full",
            Phase::KeepAlive => "keepalive",
            Phase::Unregister => "unregister",
        }
    }
}

/// What the last RCF said of an endpoint.
#[derive(Clone, Default)]
struct Reg {
    endpoint_identifier: Option<String>,
    gatekeeper_identifier: Option<String>,
}

struct Load {
    clients: Vec<RasClient>,
    endpoints: Vec<LoadEndpoint>,
    regs: Vec<Mutex<Reg>>,
    ttl: u32,
    wait: Duration,
    tries: u32,
}

#[derive(Default)]
struct PhaseTally {
    confirmed: u64,
    rejected: BTreeMap<String, u64>,
    lost: u64,
    latency: Vec<Duration>,
}

impl Load {
    fn client_of(&self, i: usize) -> &RasClient {
        &self.clients[i % self.clients.len()]
    }

    /// One request of the phase for endpoint `i`.
    async fn one(&self, phase: Phase, i: usize, t: &Mutex<PhaseTally>) {
        let c = self.client_of(i);
        let ep = &self.endpoints[i];
        // where the endpoint says it takes calls: never dialled here
        let cs: SocketAddr = ([127, 0, 0, 1], 1720).into();
        let reg = self.regs[i].lock().unwrap().clone();
        let ras = c.local;
        let ttl = self.ttl;
        let res = match phase {
            Phase::Register | Phase::Full => {
                c.request(|s| full_rrq(s, ep, ras, cs, ttl), self.wait, self.tries)
                    .await
            }
            Phase::KeepAlive | Phase::Unregister => {
                let Some(eid) = reg.endpoint_identifier.as_deref() else {
                    let mut t = t.lock().unwrap();
                    *t.rejected.entry("not registered".into()).or_default() += 1;
                    return;
                };
                let gk = reg.gatekeeper_identifier.as_deref();
                if phase == Phase::KeepAlive {
                    c.request(
                        |s| keepalive_rrq(s, eid, gk, ras, cs, ttl),
                        self.wait,
                        self.tries,
                    )
                    .await
                } else {
                    c.request(|s| urq(s, eid, gk, cs), self.wait, self.tries)
                        .await
                }
            }
        };
        let mut t = t.lock().unwrap();
        match res {
            Err(_) => t.lost += 1,
            Ok((m, d)) => {
                let ok = match m {
                    RasMessage::RegistrationConfirm(rcf) => {
                        let mut r = self.regs[i].lock().unwrap();
                        r.endpoint_identifier = Some(rcf.endpoint_identifier);
                        if rcf.gatekeeper_identifier.is_some() {
                            r.gatekeeper_identifier = rcf.gatekeeper_identifier;
                        }
                        true
                    }
                    RasMessage::UnregistrationConfirm(_) => {
                        *self.regs[i].lock().unwrap() = Reg::default();
                        true
                    }
                    RasMessage::RegistrationReject(r) => {
                        *t.rejected
                            .entry(format!("RRJ {:?}", r.reject_reason))
                            .or_default() += 1;
                        false
                    }
                    RasMessage::UnregistrationReject(r) => {
                        *t.rejected
                            .entry(format!("URJ {:?}", r.reject_reason))
                            .or_default() += 1;
                        false
                    }
                    other => {
                        *t.rejected
                            .entry(format!("answered by {}", other.name()))
                            .or_default() += 1;
                        false
                    }
                };
                if ok {
                    t.confirmed += 1;
                    t.latency.push(d);
                }
            }
        }
    }
}

async fn run_phase(load: Arc<Load>, phase: Phase, window: usize, seconds: f64, label: &str) {
    let n = load.endpoints.len();
    let needs_registration = matches!(phase, Phase::KeepAlive | Phase::Unregister);
    if needs_registration
        && load
            .regs
            .iter()
            .all(|r| r.lock().unwrap().endpoint_identifier.is_none())
    {
        // identifiers live in this process: register in the same run
        eprintln!(
            "{}: no endpoint is registered (run the register phase first)",
            phase.name()
        );
        std::process::exit(2);
    }
    // counted phases do each endpoint once; timed ones cycle until the end
    let once = matches!(phase, Phase::Register | Phase::Unregister);
    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(PhaseTally::default()));
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let mut workers = tokio::task::JoinSet::new();
    // two requests for one endpoint at once would race its identifiers
    for _ in 0..window.min(n) {
        let (load, next, tally) = (load.clone(), next.clone(), tally.clone());
        workers.spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if once && k >= n {
                    break;
                }
                if !once && Instant::now() >= end {
                    break;
                }
                load.one(phase, k % n, &tally).await;
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let elapsed = start.elapsed().as_secs_f64();
    let mut t = tally.lock().unwrap();
    let rejected: u64 = t.rejected.values().sum();
    let rate = t.confirmed as f64 / elapsed.max(1e-9);
    let (p50, p90, p99, max) = percentiles(&mut t.latency);
    println!(
        "{label} {:<10} {:>8} confirmed {:>6} rejected {:>6} lost in {:>6.2} s = {:>8.0}/s   ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.1}",
        phase.name(),
        t.confirmed,
        rejected,
        t.lost,
        elapsed,
        rate,
        p50,
        p90,
        p99,
        max
    );
    for (why, k) in &t.rejected {
        println!("    {k:>8} {why}");
    }
    println!(
        "RESULT label={label} phase={} confirmed={} rejected={rejected} lost={} seconds={elapsed:.3} rate={rate:.1} p50_ms={p50:.3} p99_ms={p99:.3}",
        phase.name(),
        t.confirmed,
        t.lost
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse(USAGE, &[]);
    let gk: SocketAddr = loopback(args.required("gatekeeper"), USAGE);
    let n: usize = args.get("endpoints", 1000);
    let sockets: usize = args.get("sockets", 16);
    let window: usize = args.get("window", 32);
    let seconds: f64 = args.get("seconds", 10.0);
    let label: String = args.get("label", "ours".to_string());
    let prefix: String = args.get("alias-prefix", "load-".to_string());
    let base: u64 = args.get("number-base", 7_900_000);
    let phases: String = args.get("phases", "register,full,keepalive,unregister".to_string());
    if n == 0 || sockets == 0 || window == 0 || !(0.0..=600.0).contains(&seconds) {
        eprintln!("--endpoints, --sockets, --window must be positive, --seconds at most 600");
        std::process::exit(2);
    }
    let mut clients = Vec::new();
    for _ in 0..sockets.min(n) {
        clients.push(RasClient::bind(gk).await.expect("RAS socket"));
    }
    let load = Arc::new(Load {
        clients,
        endpoints: (0..n)
            .map(|i| LoadEndpoint::nth(&prefix, base, i))
            .collect(),
        regs: (0..n).map(|_| Mutex::default()).collect(),
        ttl: args.get("ttl", 300),
        wait: Duration::from_millis(args.get("wait-ms", 1000)),
        tries: args.get("tries", 3),
    });
    for p in phases.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let phase = match p {
            "register" => Phase::Register,
            "full" => Phase::Full,
            "keepalive" => Phase::KeepAlive,
            "unregister" => Phase::Unregister,
            other => {
                eprintln!("unknown phase {other:?}\n\n{USAGE}");
                std::process::exit(2);
            }
        };
        run_phase(load.clone(), phase, window, seconds, &label).await;
    }
}

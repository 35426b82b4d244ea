//! H.323 caller load generator: places `--calls` calls at `--rate` calls
//! per second to a gateway's call-signalling port, each one a real H.225
//! call driven by the sans-IO [`H323CallLeg`] (Setup with Fast Start, the
//! gateway's CallProceeding/Alerting/Connect with its tunnelled H.245
//! answered by the leg), hung up after `--hold-ms` with ReleaseComplete,
//! and counted complete when the gateway closes the connection.
//!
//! With `--ras`, the calls are placed like a registered endpoint's:
//! `--endpoints` endpoints register first (full RRQ), every call is
//! admitted (ARQ/ACF) and disengaged (DRQ/DCF) afterwards, and the
//! endpoints unregister at the end.
//!
//! Bounded: at most `--max-concurrent` calls at once (the launch waits,
//! so an overloaded gateway shows as a lower achieved rate), each call at
//! most `--call-timeout` seconds, the whole run at most `--max-seconds`.
//! Loopback only. The last line is `RESULT key=value ...` for scripts.
//!
//! ```text
//! cargo run --release -p gateway-h323 --example h323_call_load -- \
//!     --gateway 127.0.0.1:1720 --rate 100 --calls 1000 --target 5000
//! ```

mod common;

use common::*;
use gateway_callmodel::{
    Cause, CodecCap, Direction, LegCommand, LegEvent, MediaCaps, MediaKind, MediaTransport,
    StreamCaps,
};
use gateway_h323::call::{CallLegConfig, H323CallLeg, OutgoingCall};
use gateway_h323::h225::*;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

const USAGE: &str = "h323_call_load --gateway IP:PORT (call signalling) [--rate 100] [--calls 1000]
  [--target 5000] [--calling 4000] [--hold-ms 0] [--max-concurrent 2000]
  [--call-timeout 15] [--max-seconds 120] [--failures FILE]
  [--ras IP:PORT --endpoints 100 --alias-prefix load- --number-base 7900000]";

#[derive(Default)]
struct Tally {
    ok: u64,
    /// Failures by reason: count and the range of times into the call.
    failed: BTreeMap<String, (u64, f64, f64)>,
    /// `--failures FILE`: one line per failed call.
    failure_log: Vec<String>,
    /// Setup written → Connect read.
    answer: Vec<Duration>,
    /// TCP connect → the gateway's close after our ReleaseComplete.
    total: Vec<Duration>,
    arq: Vec<Duration>,
}

impl Tally {
    fn fail(&mut self, why: impl Into<String>, after: Duration) {
        let s = after.as_secs_f64();
        let e = self.failed.entry(why.into()).or_insert((0, f64::MAX, 0.0));
        e.0 += 1;
        e.1 = e.1.min(s);
        e.2 = e.2.max(s);
    }
}

struct Shared {
    gateway: SocketAddr,
    target: String,
    calling: String,
    hold: Duration,
    call_timeout: Duration,
    ras: Option<RasSide>,
    tally: Mutex<Tally>,
    rng: Mutex<Rng>,
    in_flight: AtomicU64,
}

struct RasSide {
    client: RasClient,
    endpoints: Vec<(LoadEndpoint, String)>,
    gatekeeper_id: Option<String>,
}

fn offer(rtp_port: u16) -> MediaCaps {
    let rtp: SocketAddr = ([127, 0, 0, 1], rtp_port).into();
    let codec = |pt: u8, name: &str| CodecCap {
        payload_type: pt,
        name: name.into(),
        clock_rate: 8000,
        channels: 1,
        fmtp: None,
    };
    MediaCaps {
        streams: vec![StreamCaps {
            kind: MediaKind::Audio,
            rtp: Some(rtp),
            rtcp: Some(([127, 0, 0, 1], rtp_port + 1).into()),
            rtcp_mux: false,
            transport: MediaTransport::Rtp,
            direction: Direction::SendRecv,
            codecs: vec![codec(0, "PCMU"), codec(8, "PCMA")],
            ptime_ms: Some(20),
            bandwidth_kbps: None,
        }],
    }
}

enum Outcome {
    Ok { answer: Duration, total: Duration },
    Failed(String),
}

async fn write_out(leg: &mut H323CallLeg, stream: &mut TcpStream) -> Result<(), std::io::Error> {
    while let Some(f) = leg.poll_transmit() {
        stream.write_all(&f).await?;
    }
    Ok(())
}

/// One call over its own connection, from connect to the gateway's close.
async fn one_call(
    sh: &Shared,
    i: u64,
    from: Option<&LoadEndpoint>,
    guid: [u8; 16],
    conf: [u8; 16],
    msd: u32,
) -> Outcome {
    let t0 = Instant::now();
    let mut stream = match TcpStream::connect(sh.gateway).await {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(format!("connect: {}", e.kind())),
    };
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().ok();
    let calling = from.map(|e| e.number.clone()).unwrap_or(sh.calling.clone());
    let call = OutgoingCall {
        calling_number: calling,
        called_aliases: vec![AliasAddress::DialedDigits(sh.target.clone())],
        called_number: Some(sh.target.clone()),
        destination: Some(sh.gateway),
        source: local,
        conference_id: conf,
        call_identifier: guid,
        call_reference: (i % 0x7FFF) as u16 + 1,
        // no RTP flows: the port only has to be well-formed
        offer: offer(20000 + ((i * 2) % 20000) as u16),
    };
    let mut leg = match H323CallLeg::new_outgoing(CallLegConfig::new(vendor(), msd), call) {
        Ok(l) => l,
        Err(e) => return Outcome::Failed(format!("setup: {e}")),
    };
    if let Err(e) = write_out(&mut leg, &mut stream).await {
        return Outcome::Failed(format!("write Setup: {}", e.kind()));
    }
    let t_setup = Instant::now();
    let mut answered: Option<Duration> = None;
    let mut hangup_at: Option<Instant> = None;
    let mut released = false;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = match hangup_at {
            Some(at) if !released => {
                match tokio::time::timeout_at(at.into(), stream.read(&mut buf)).await {
                    Ok(r) => Some(r),
                    Err(_) => None,
                }
            }
            _ => Some(stream.read(&mut buf).await),
        };
        let now = Instant::now();
        match read {
            None => {
                // hold time over: our ReleaseComplete
                leg.handle_command(now, LegCommand::End(Cause::normal_clearing()));
                released = true;
                if let Err(e) = write_out(&mut leg, &mut stream).await {
                    return Outcome::Failed(format!("write ReleaseComplete: {}", e.kind()));
                }
            }
            Some(Ok(0)) | Some(Err(_)) => {
                return match (answered, released) {
                    (Some(a), true) => Outcome::Ok {
                        answer: a,
                        total: t0.elapsed(),
                    },
                    (Some(_), false) => Outcome::Failed("closed by the gateway while up".into()),
                    (None, _) => Outcome::Failed("closed by the gateway before Connect".into()),
                };
            }
            Some(Ok(n)) => {
                leg.handle_bytes(now, &buf[..n]);
                while let Some(ev) = leg.poll_event() {
                    match ev {
                        LegEvent::Answered if answered.is_none() => {
                            answered = Some(t_setup.elapsed());
                            hangup_at = Some(now + sh.hold);
                        }
                        LegEvent::Ended(cause) if !released => {
                            return Outcome::Failed(match answered {
                                None => format!("released before Connect: {cause}"),
                                Some(_) => format!("released by the gateway: {cause}"),
                            });
                        }
                        _ => {}
                    }
                }
                if let Err(e) = write_out(&mut leg, &mut stream).await {
                    return Outcome::Failed(format!("write: {}", e.kind()));
                }
            }
        }
    }
}

async fn arq(
    sh: &Shared,
    rs: &RasSide,
    k: usize,
    guid: [u8; 16],
    conf: [u8; 16],
    crv: u16,
) -> Result<Duration, String> {
    let (ep, eid) = &rs.endpoints[k];
    let gk = rs.gatekeeper_id.clone();
    let target = sh.target.clone();
    let aliases = ep.aliases();
    let m = rs
        .client
        .request(
            |seq| {
                RasMessage::AdmissionRequest(AdmissionRequest {
                    request_seq_num: seq,
                    call_type: CallType::PointToPoint,
                    call_model: Some(CallModel::GatekeeperRouted),
                    endpoint_identifier: eid.clone(),
                    destination_info: Some(vec![AliasAddress::DialedDigits(target)]),
                    dest_call_signal_address: None,
                    dest_extra_call_info: None,
                    src_info: aliases,
                    src_call_signal_address: None,
                    band_width: 1280,
                    call_reference_value: crv,
                    non_standard_data: None,
                    conference_id: conf,
                    active_mc: false,
                    answer_call: false,
                    can_map_alias: false,
                    call_identifier: Some(CallIdentifier { guid }),
                    gatekeeper_identifier: gk,
                    will_supply_uuies: false,
                    can_map_src_alias: false,
                })
            },
            Duration::from_secs(2),
            3,
        )
        .await;
    match m {
        Ok((RasMessage::AdmissionConfirm(acf), d)) => {
            if from_transport(&acf.dest_call_signal_address) != Some(sh.gateway) {
                return Err(format!(
                    "ACF names {:?}, not the gateway",
                    acf.dest_call_signal_address
                ));
            }
            Ok(d)
        }
        Ok((RasMessage::AdmissionReject(r), _)) => Err(format!("ARJ {:?}", r.reject_reason)),
        Ok((other, _)) => Err(format!("ARQ answered by {}", other.name())),
        Err(e) => Err(format!("ARQ: {e}")),
    }
}

async fn drq(
    rs: &RasSide,
    k: usize,
    guid: [u8; 16],
    conf: [u8; 16],
    crv: u16,
) -> Result<(), String> {
    let eid = rs.endpoints[k].1.clone();
    let gk = rs.gatekeeper_id.clone();
    let m = rs
        .client
        .request(
            |seq| {
                RasMessage::DisengageRequest(DisengageRequest {
                    request_seq_num: seq,
                    endpoint_identifier: eid,
                    conference_id: conf,
                    call_reference_value: crv,
                    disengage_reason: DisengageReason::NormalDrop,
                    non_standard_data: None,
                    call_identifier: Some(CallIdentifier { guid }),
                    gatekeeper_identifier: gk,
                    answered_call: false,
                })
            },
            Duration::from_secs(2),
            3,
        )
        .await;
    match m {
        Ok((RasMessage::DisengageConfirm(_), _)) => Ok(()),
        Ok((other, _)) => Err(format!("DRQ answered by {}", other.name())),
        Err(e) => Err(format!("DRQ: {e}")),
    }
}

async fn run_call(sh: Arc<Shared>, i: u64) {
    let (guid, conf, msd) = {
        let mut r = sh.rng.lock().unwrap();
        (r.guid(), r.guid(), r.next_u64() as u32)
    };
    let crv = (i % 0x7FFF) as u16 + 1;
    let k = sh
        .ras
        .as_ref()
        .map(|r| i as usize % r.endpoints.len().max(1));
    let work = async {
        let mut arq_time = None;
        if let (Some(rs), Some(k)) = (&sh.ras, k) {
            match arq(&sh, rs, k, guid, conf, crv).await {
                Ok(d) => arq_time = Some(d),
                Err(e) => return (Outcome::Failed(e), None),
            }
        }
        let from = sh.ras.as_ref().zip(k).map(|(r, k)| &r.endpoints[k].0);
        let out = one_call(&sh, i, from, guid, conf, msd).await;
        if let (Some(rs), Some(k)) = (&sh.ras, k) {
            if let Err(e) = drq(rs, k, guid, conf, crv).await {
                if matches!(out, Outcome::Ok { .. }) {
                    return (Outcome::Failed(e), arq_time);
                }
            }
        }
        (out, arq_time)
    };
    let t0 = Instant::now();
    let res = tokio::time::timeout(sh.call_timeout, work).await;
    let after = t0.elapsed();
    let mut t = sh.tally.lock().unwrap();
    let log = |t: &mut Tally, why: &str| {
        let hex: String = guid.iter().map(|b| format!("{b:02x}")).collect();
        t.failure_log.push(format!(
            "{i} call_id={hex} after_s={:.3} {why}",
            after.as_secs_f64()
        ));
    };
    match res {
        Err(_) => {
            log(&mut t, "call timeout");
            t.fail("call timeout", after);
        }
        Ok((out, arq_time)) => {
            if let Some(d) = arq_time {
                t.arq.push(d);
            }
            match out {
                Outcome::Ok { answer, total } => {
                    t.ok += 1;
                    t.answer.push(answer);
                    t.total.push(total);
                }
                Outcome::Failed(why) => {
                    log(&mut t, &why);
                    t.fail(why, after);
                }
            }
        }
    }
}

async fn register_all(
    client: &RasClient,
    prefix: &str,
    base: u64,
    n: usize,
    cs: SocketAddr,
) -> Result<(Vec<(LoadEndpoint, String)>, Option<String>), String> {
    let mut out = Vec::with_capacity(n);
    let mut gk_id = None;
    for i in 0..n {
        let ep = LoadEndpoint::nth(prefix, base, i);
        let ras = client.local;
        let m = client
            .request(
                |s| full_rrq(s, &ep, ras, cs, 600),
                Duration::from_secs(2),
                3,
            )
            .await
            .map_err(|e| format!("RRQ {}: {e}", ep.h323_id))?;
        match m.0 {
            RasMessage::RegistrationConfirm(c) => {
                gk_id = c.gatekeeper_identifier.clone();
                out.push((ep, c.endpoint_identifier));
            }
            other => return Err(format!("RRQ {} answered by {other:?}", ep.h323_id)),
        }
    }
    Ok((out, gk_id))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse(USAGE, &[]);
    let gateway = loopback(args.required("gateway"), USAGE);
    let rate: f64 = args.get("rate", 100.0);
    let calls: u64 = args.get("calls", 1000);
    let max_concurrent: usize = args.get("max-concurrent", 2000);
    let max_seconds: f64 = args.get("max-seconds", 120.0);
    let ras_addr: Option<SocketAddr> = args
        .get::<String>("ras", String::new())
        .parse()
        .ok()
        .map(|a| loopback(a, USAGE));
    if rate <= 0.0 || max_concurrent == 0 {
        eprintln!("--rate and --max-concurrent must be positive");
        std::process::exit(2);
    }

    let ras = match ras_addr {
        None => None,
        Some(gk) => {
            let client = RasClient::bind(gk).await.expect("RAS socket");
            let n: usize = args.get("endpoints", 100);
            let prefix: String = args.get("alias-prefix", "load-".to_string());
            let base: u64 = args.get("number-base", 7_900_000);
            // the address our calls come from; only the IP is checked
            let cs: SocketAddr = ([127, 0, 0, 1], 1720).into();
            let t = Instant::now();
            match register_all(&client, &prefix, base, n, cs).await {
                Ok((endpoints, gatekeeper_id)) => {
                    eprintln!(
                        "registered {} endpoints in {:.2} s",
                        endpoints.len(),
                        t.elapsed().as_secs_f64()
                    );
                    Some(RasSide {
                        client,
                        endpoints,
                        gatekeeper_id,
                    })
                }
                Err(e) => {
                    eprintln!("registration failed: {e}");
                    println!("RESULT calls={calls} ok=0 failed={calls} achieved_rate=0 error=registration");
                    std::process::exit(1);
                }
            }
        }
    };

    let sh = Arc::new(Shared {
        gateway,
        target: args.get("target", "5000".to_string()),
        calling: args.get("calling", "4000".to_string()),
        hold: Duration::from_millis(args.get("hold-ms", 0)),
        call_timeout: Duration::from_secs_f64(args.get("call-timeout", 15.0)),
        ras,
        tally: Mutex::default(),
        rng: Mutex::new(Rng::seeded()),
        in_flight: AtomicU64::new(0),
    });
    let sem = Arc::new(Semaphore::new(max_concurrent));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(max_seconds);
    let mut tasks = tokio::task::JoinSet::new();
    let mut launched = 0u64;
    let mut peak = 0u64;
    for i in 0..calls {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        if due >= deadline {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let permit = tokio::select! {
            p = sem.clone().acquire_owned() => p.expect("semaphore open"),
            _ = tokio::time::sleep_until(deadline.into()) => break,
        };
        let sh2 = sh.clone();
        let n = sh.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        peak = peak.max(n);
        tasks.spawn(async move {
            run_call(sh2.clone(), i).await;
            sh2.in_flight.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
        launched += 1;
        // reap finished tasks so the set does not grow with the run
        while tasks.try_join_next().is_some() {}
    }
    let launch_span = start.elapsed().as_secs_f64();
    let drained = tokio::time::timeout_at(deadline.into(), async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    let left = tasks.len() as u64;
    tasks.abort_all();
    let elapsed = start.elapsed().as_secs_f64();

    let mut unregistered = 0usize;
    if let Some(rs) = &sh.ras {
        for (ep, eid) in &rs.endpoints {
            let cs: SocketAddr = ([127, 0, 0, 1], 1720).into();
            let gk = rs.gatekeeper_id.clone();
            if let Ok((RasMessage::UnregistrationConfirm(_), _)) = rs
                .client
                .request(
                    |s| urq(s, eid, gk.as_deref(), cs),
                    Duration::from_secs(2),
                    3,
                )
                .await
            {
                unregistered += 1;
            } else {
                eprintln!("URQ {} not confirmed", ep.h323_id);
            }
        }
    }

    let mut t = sh.tally.lock().unwrap();
    if !drained {
        t.failed
            .insert("run deadline".into(), (left, max_seconds, max_seconds));
    }
    let not_launched = calls - launched;
    let failed: u64 = t.failed.values().map(|v| v.0).sum::<u64>() + not_launched;
    // what the launcher kept up: calls started per second of launching
    let achieved = if launched > 1 {
        launched as f64 / (launch_span.max(1e-9) + 1.0 / rate)
    } else {
        launched as f64
    };
    let (a50, a90, a99, amax) = percentiles(&mut t.answer);
    let (c50, _, c99, cmax) = percentiles(&mut t.total);
    println!(
        "h323 calls: {launched}/{calls} launched in {launch_span:.2} s ({achieved:.0}/s of {rate:.0}/s), \
         {} ok, {failed} failed, peak {peak} in flight, all done in {elapsed:.2} s",
        t.ok
    );
    println!("  Setup->Connect ms: p50 {a50:.1}  p90 {a90:.1}  p99 {a99:.1}  max {amax:.1}");
    println!("  whole call ms:     p50 {c50:.1}  p99 {c99:.1}  max {cmax:.1}");
    if !t.arq.is_empty() {
        let (r50, _, r99, rmax) = percentiles(&mut t.arq);
        println!("  ARQ->ACF ms:       p50 {r50:.2}  p99 {r99:.2}  max {rmax:.2}");
    }
    if not_launched > 0 {
        println!("  not launched (run deadline): {not_launched}");
    }
    for (why, (n, lo, hi)) in &t.failed {
        println!("  failed {n:>6}: {why} (after {lo:.2}-{hi:.2} s)");
    }
    let failures: String = args.get("failures", String::new());
    if !failures.is_empty() {
        let text: String = t.failure_log.iter().map(|l| format!("{l}\n")).collect();
        if let Err(e) = std::fs::write(&failures, text) {
            eprintln!("{failures}: {e}");
        }
    }
    if let Some(rs) = &sh.ras {
        println!(
            "  endpoints unregistered: {unregistered}/{}",
            rs.endpoints.len()
        );
    }
    println!(
        "RESULT calls={calls} launched={launched} ok={} failed={failed} achieved_rate={achieved:.1} \
         elapsed={elapsed:.2} answer_p50_ms={a50:.1} answer_p99_ms={a99:.1} peak_in_flight={peak}",
        t.ok
    );
}

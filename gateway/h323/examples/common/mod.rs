//! What both load generators share: a RAS client over one UDP socket
//! (requests matched to answers by requestSeqNum, retransmitted like an
//! endpoint would), the RAS requests an endpoint sends, a tiny PRNG for
//! GUIDs, latency percentiles and the command-line reader.
//!
//! Loopback only: every address the tools bind is 127.0.0.1.

#![allow(dead_code)]

use gateway_h323::h225::*;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

pub fn vendor() -> VendorIdentifier {
    VendorIdentifier {
        vendor: H221NonStandard {
            t35_country_code: 0xB5,
            t35_extension: 0,
            manufacturer_code: 0x4C44,
        },
        product_id: Some(b"h323-load".to_vec()),
        version_id: Some(b"1".to_vec()),
        enterprise_number: None,
    }
}

pub fn transport(a: SocketAddr) -> TransportAddress {
    match a {
        SocketAddr::V4(v) => TransportAddress::ip(v.ip().octets(), v.port()),
        // the tools bind 127.0.0.1 only
        SocketAddr::V6(_) => TransportAddress::ip([127, 0, 0, 1], a.port()),
    }
}

pub fn from_transport(a: &TransportAddress) -> Option<SocketAddr> {
    match a {
        TransportAddress::Ip { ip, port } => Some(SocketAddr::new((*ip).into(), *port)),
        _ => None,
    }
}

/// One endpoint of the load: its h323-ID and dialedDigits alias.
#[derive(Debug, Clone)]
pub struct LoadEndpoint {
    pub h323_id: String,
    pub number: String,
}

impl LoadEndpoint {
    /// `prefix` + 5 digits as h323-ID, `number_base` + index as number:
    /// the names the bench script writes into its dialplan.
    pub fn nth(prefix: &str, number_base: u64, i: usize) -> Self {
        LoadEndpoint {
            h323_id: format!("{prefix}{i:05}"),
            number: (number_base + i as u64).to_string(),
        }
    }

    pub fn aliases(&self) -> Vec<AliasAddress> {
        vec![
            AliasAddress::H323Id(self.h323_id.clone()),
            AliasAddress::DialedDigits(self.number.clone()),
        ]
    }
}

pub fn full_rrq(
    seq: u16,
    ep: &LoadEndpoint,
    ras: SocketAddr,
    cs: SocketAddr,
    ttl: u32,
) -> RasMessage {
    RasMessage::RegistrationRequest(RegistrationRequest {
        request_seq_num: seq,
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        non_standard_data: None,
        discovery_complete: false,
        call_signal_address: vec![transport(cs)],
        ras_address: vec![transport(ras)],
        terminal_type: EndpointType::terminal(),
        terminal_alias: Some(ep.aliases()),
        gatekeeper_identifier: None,
        endpoint_vendor: vendor(),
        time_to_live: Some(ttl),
        keep_alive: false,
        endpoint_identifier: None,
        will_supply_uuies: false,
        maintain_connection: false,
        additive_registration: false,
        supports_alt_gk: false,
        multiple_calls: Some(false),
    })
}

/// H.225.0 7.9.1 lightweight RRQ: keepAlive with the identifiers the RCF
/// gave, no aliases.
pub fn keepalive_rrq(
    seq: u16,
    endpoint_identifier: &str,
    gatekeeper_identifier: Option<&str>,
    ras: SocketAddr,
    cs: SocketAddr,
    ttl: u32,
) -> RasMessage {
    RasMessage::RegistrationRequest(RegistrationRequest {
        request_seq_num: seq,
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        non_standard_data: None,
        discovery_complete: false,
        call_signal_address: vec![transport(cs)],
        ras_address: vec![transport(ras)],
        terminal_type: EndpointType::terminal(),
        terminal_alias: None,
        gatekeeper_identifier: gatekeeper_identifier.map(str::to_string),
        endpoint_vendor: vendor(),
        time_to_live: Some(ttl),
        keep_alive: true,
        endpoint_identifier: Some(endpoint_identifier.to_string()),
        will_supply_uuies: false,
        maintain_connection: false,
        additive_registration: false,
        supports_alt_gk: false,
        multiple_calls: Some(false),
    })
}

pub fn urq(
    seq: u16,
    endpoint_identifier: &str,
    gatekeeper_identifier: Option<&str>,
    cs: SocketAddr,
) -> RasMessage {
    RasMessage::UnregistrationRequest(UnregistrationRequest {
        request_seq_num: seq,
        call_signal_address: vec![transport(cs)],
        endpoint_alias: None,
        non_standard_data: None,
        endpoint_identifier: Some(endpoint_identifier.to_string()),
        gatekeeper_identifier: gatekeeper_identifier.map(str::to_string),
        reason: None,
    })
}

/// The requestSeqNum of an answer (or of a RequestInProgress).
pub fn answer_seq(m: &RasMessage) -> Option<u16> {
    use RasMessage as R;
    Some(match m {
        R::GatekeeperConfirm(x) => x.request_seq_num,
        R::GatekeeperReject(x) => x.request_seq_num,
        R::RegistrationConfirm(x) => x.request_seq_num,
        R::RegistrationReject(x) => x.request_seq_num,
        R::UnregistrationConfirm(x) => x.request_seq_num,
        R::UnregistrationReject(x) => x.request_seq_num,
        R::AdmissionConfirm(x) => x.request_seq_num,
        R::AdmissionReject(x) => x.request_seq_num,
        R::DisengageConfirm(x) => x.request_seq_num,
        R::DisengageReject(x) => x.request_seq_num,
        R::RequestInProgress(x) => x.request_seq_num,
        _ => return None,
    })
}

#[derive(Debug)]
pub enum RasError {
    Timeout,
    Encode,
    Io(std::io::Error),
}

impl std::fmt::Display for RasError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RasError::Timeout => f.write_str("no answer"),
            RasError::Encode => f.write_str("request not encodable"),
            RasError::Io(e) => write!(f, "{e}"),
        }
    }
}

type Pending = Arc<Mutex<HashMap<u16, oneshot::Sender<RasMessage>>>>;

/// One endpoint-side RAS socket. Requests in flight are told apart by
/// requestSeqNum, so at most 65 535 may be outstanding on one client.
pub struct RasClient {
    sock: Arc<UdpSocket>,
    pending: Pending,
    next_seq: AtomicU16,
    pub local: SocketAddr,
    pub gatekeeper: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RasClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RasClient {
    pub async fn bind(gatekeeper: SocketAddr) -> std::io::Result<Self> {
        let sock = Arc::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?);
        let local = sock.local_addr()?;
        let pending: Pending = Arc::default();
        let task = tokio::spawn({
            let sock = sock.clone();
            let pending = pending.clone();
            async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    let Ok((n, _)) = sock.recv_from(&mut buf).await else {
                        continue;
                    };
                    let Ok(m) = RasMessage::decode(&buf[..n]) else {
                        continue;
                    };
                    if matches!(m, RasMessage::RequestInProgress(_)) {
                        // the request's own timer is long enough for the
                        // delays a gatekeeper asks for here
                        continue;
                    }
                    let Some(seq) = answer_seq(&m) else { continue };
                    let tx = pending.lock().unwrap().remove(&seq);
                    if let Some(tx) = tx {
                        let _ = tx.send(m);
                    }
                }
            }
        });
        Ok(RasClient {
            sock,
            pending,
            next_seq: AtomicU16::new(1),
            local,
            gatekeeper,
            task,
        })
    }

    fn take_seq(&self, tx: oneshot::Sender<RasMessage>) -> u16 {
        let mut pending = self.pending.lock().unwrap();
        loop {
            let s = self.next_seq.fetch_add(1, Ordering::Relaxed);
            if s != 0 && !pending.contains_key(&s) {
                pending.insert(s, tx);
                return s;
            }
        }
    }

    /// Sends the request `build(seq)` makes, retransmitting the same bytes
    /// after each `wait` (H.225.0 recommends a few retries), and returns
    /// the answer with the time it took.
    pub async fn request(
        &self,
        build: impl FnOnce(u16) -> RasMessage,
        wait: Duration,
        tries: u32,
    ) -> Result<(RasMessage, Duration), RasError> {
        let (tx, mut rx) = oneshot::channel();
        let seq = self.take_seq(tx);
        let bytes = match build(seq).encode() {
            Ok(b) => b,
            Err(_) => {
                self.pending.lock().unwrap().remove(&seq);
                return Err(RasError::Encode);
            }
        };
        let t0 = Instant::now();
        for _ in 0..tries.max(1) {
            if let Err(e) = self.sock.send_to(&bytes, self.gatekeeper).await {
                self.pending.lock().unwrap().remove(&seq);
                return Err(RasError::Io(e));
            }
            match tokio::time::timeout(wait, &mut rx).await {
                Ok(Ok(m)) => return Ok((m, t0.elapsed())),
                Ok(Err(_)) => break,
                Err(_) => continue,
            }
        }
        self.pending.lock().unwrap().remove(&seq);
        Err(RasError::Timeout)
    }
}

/// A tiny xorshift PRNG: GUIDs and MSD numbers only need to differ.
pub struct Rng(u64);

impl Rng {
    pub fn seeded() -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Rng(t ^ ((std::process::id() as u64) << 32) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn guid(&mut self) -> [u8; 16] {
        let mut g = [0u8; 16];
        g[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        g[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        g
    }
}

/// Latency percentiles in milliseconds: (p50, p90, p99, max).
pub fn percentiles(samples: &mut [Duration]) -> (f64, f64, f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0, 0.0, 0.0);
    }
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1000.0
    };
    (at(0.50), at(0.90), at(0.99), at(1.0))
}

/// `--name value` options; anything else is an error naming the usage.
pub struct Args {
    map: HashMap<String, String>,
    usage: &'static str,
}

impl Args {
    pub fn parse(usage: &'static str, flags: &[&str]) -> Self {
        let mut map = HashMap::new();
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            if a == "-h" || a == "--help" {
                println!("{usage}");
                std::process::exit(0);
            }
            let Some(name) = a.strip_prefix("--") else {
                fail(usage, &format!("unexpected argument {a:?}"));
            };
            if flags.contains(&name) {
                map.insert(name.to_string(), "true".to_string());
                continue;
            }
            let Some(v) = it.next() else {
                fail(usage, &format!("--{name} needs a value"));
            };
            map.insert(name.to_string(), v);
        }
        Args { map, usage }
    }

    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.map.get(name) {
            None => default,
            Some(v) => v
                .parse()
                .unwrap_or_else(|_| fail(self.usage, &format!("bad --{name} {v:?}"))),
        }
    }

    pub fn required<T: std::str::FromStr>(&self, name: &str) -> T {
        match self.map.get(name) {
            None => fail(self.usage, &format!("--{name} is required")),
            Some(v) => v
                .parse()
                .unwrap_or_else(|_| fail(self.usage, &format!("bad --{name} {v:?}"))),
        }
    }

    pub fn flag(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }
}

fn fail(usage: &str, msg: &str) -> ! {
    eprintln!("{msg}\n\n{usage}");
    std::process::exit(2);
}

/// Only loopback targets: the tools are benchmarks, not scanners.
pub fn loopback(a: SocketAddr, usage: &str) -> SocketAddr {
    if !a.ip().is_loopback() {
        fail(usage, &format!("{a} is not a loopback address"));
    }
    a
}

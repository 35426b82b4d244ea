//! In-memory call flows through the whole engine: raw SIP text in, parsed
//! transmits out, a virtual clock for every protocol timer. The media relay
//! binds real loopback sockets (it needs a tokio runtime), so each test owns
//! the RTP range 41000-41999 with the parallel tests (taken ports are skipped).
//!
//! This module is the harness the other engine-level test modules share; the
//! flows are in its submodules, one per subject.

use crate::engine::{Engine, EngineConfig};
use crate::metrics::{Metrics, OutcomeLabel};
use crate::registrar::{BindingChange, RegistrarLimits};
use crate::store_writer::StoreOp;
use gateway_dialplan::Dialplan;
use gateway_media::MediaRelay;
use gateway_sip::headers::NameAddr;
use gateway_sip::message::{HeaderName, Message, Method, Request, Response};
use gateway_sip::parse::parse_message;
use gateway_sip::transaction::{PeerAddr, Transport};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const LOOP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

pub(crate) fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The trunk (source 127.0.0.1 is the loopback trunk's ACL).
pub(crate) fn a_addr() -> SocketAddr {
    addr("127.0.0.1:40001")
}
/// Where the sample dialplan's trunk sends outgoing calls.
pub(crate) fn b_addr() -> SocketAddr {
    addr("127.0.0.1:5070")
}

pub(crate) fn test_config() -> EngineConfig {
    EngineConfig {
        advertised_ip: LOOP,
        udp_port: Some(5060),
        tcp_port: None,
        tls_port: None,
        realm: None,
        limits: RegistrarLimits {
            min_expires: 60,
            max_expires: 7200,
            default_expires: 3600,
        },
        // Qualify pings would add OPTIONS to every transmit list.
        qualify_interval: Duration::ZERO,
        ring_timeout: Duration::from_secs(120),
        nonce_lifetime_secs: 300,
        digest_algorithms: vec![gateway_sip::auth::Algorithm::Md5],
    }
}

pub(crate) type Out = Vec<(SocketAddr, Message)>;

pub(crate) struct Harness {
    pub(crate) e: Engine,
    pub(crate) now: Instant,
    pub(crate) store: mpsc::UnboundedReceiver<StoreOp>,
    pub(crate) metrics: Metrics,
    pub(crate) ports: (u16, u16),
    /// Every message the engine ever transmitted, for global invariants.
    pub(crate) log: Out,
    /// 400s that echo a request missing a mandatory header.
    pub(crate) unparsed: Vec<(SocketAddr, String)>,
}

impl Harness {
    pub(crate) fn new() -> Harness {
        Harness::with(test_config(), gateway_dialplan::SAMPLE_DIALPLAN)
    }

    pub(crate) fn with(cfg: EngineConfig, dialplan: &str) -> Harness {
        // Every test shares the range: the relay skips ports that are
        // taken (by a parallel test or anything else on the machine).
        Harness::with_range(41000, 41999, cfg, dialplan)
    }

    /// A relay with exactly `count` ports that were free a moment ago,
    /// taken from 42000-42999 so that the shared range cannot interfere.
    pub(crate) fn with_ports(count: u16, cfg: EngineConfig, dialplan: &str) -> Harness {
        let mut lo = 42000;
        while lo + count <= 43000 {
            let free = (lo..lo + count)
                .map(|p| std::net::UdpSocket::bind((LOOP, p)))
                .collect::<Result<Vec<_>, _>>()
                .is_ok();
            if free {
                return Harness::with_range(lo, lo + count - 1, cfg, dialplan);
            }
            lo += count.next_multiple_of(2);
        }
        panic!("no {count} free ports in 42000-42999");
    }

    pub(crate) fn with_range(lo: u16, hi: u16, cfg: EngineConfig, dialplan: &str) -> Harness {
        let dp = Arc::new(Dialplan::parse(dialplan, "x").expect("dialplan parses"));
        let media = MediaRelay::new(LOOP, lo..=hi).expect("relay");
        let (tx, rx) = mpsc::unbounded_channel();
        let metrics = Metrics::new();
        let now = Instant::now();
        let e = Engine::new(cfg, dp, media, tx, metrics.clone(), now);
        Harness {
            e,
            now,
            store: rx,
            metrics,
            ports: (lo, hi),
            log: Vec::new(),
            unparsed: Vec::new(),
        }
    }

    pub(crate) fn send(&mut self, from: SocketAddr, text: &str) {
        self.send_bytes(from, text.as_bytes());
    }

    pub(crate) fn send_bytes(&mut self, from: SocketAddr, bytes: &[u8]) {
        self.send_over(Transport::Udp, from, bytes);
    }

    /// As if `bytes` arrived on a connection of `transport` (TLS: the
    /// signalling counts as secure).
    pub(crate) fn send_over(&mut self, transport: Transport, from: SocketAddr, bytes: &[u8]) {
        self.e.handle_inbound(
            self.now,
            bytes,
            PeerAddr {
                transport,
                addr: from,
                conn: None,
            },
        );
    }

    /// Everything the engine wants on the wire now.
    pub(crate) fn out(&mut self) -> Out {
        let mut v = Vec::new();
        while let Some(t) = self.e.transmit() {
            let msg = match parse_message(&t.bytes) {
                Ok(m) => m,
                Err(f) => {
                    // Only a 400 to a request that lacked a mandatory
                    // header may lack it too; anything else is a bug.
                    let text = String::from_utf8_lossy(&t.bytes).to_string();
                    assert!(
                        text.starts_with("SIP/2.0 400 "),
                        "engine sent an unparseable message ({}):\n{text}",
                        f.error
                    );
                    self.unparsed.push((t.to.addr, text));
                    continue;
                }
            };
            // The NAT test registers a TEST-NET contact: the engine must
            // never address it directly.
            assert!(
                !t.to.addr.ip().to_string().starts_with("192.0.2."),
                "engine sent to a private contact address {}",
                t.to.addr
            );
            v.push((t.to.addr, msg.clone()));
            self.log.push((t.to.addr, msg));
        }
        v
    }

    /// Move the virtual clock, firing every timer in order on the way.
    pub(crate) fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        let mut guard = 0;
        while let Some(t) = self.e.poll_timeout() {
            if t > target {
                break;
            }
            guard += 1;
            assert!(guard < 100_000, "timers do not make progress");
            if t > self.now {
                self.now = t;
            }
            self.e.handle_timeout(self.now);
        }
        self.now = target;
        self.e.handle_timeout(self.now);
    }

    pub(crate) fn store_ops(&mut self) -> Vec<StoreOp> {
        let mut v = Vec::new();
        while let Ok(op) = self.store.try_recv() {
            v.push(op);
        }
        v
    }

    pub(crate) fn cdrs(&mut self) -> Vec<gateway_store::Cdr> {
        self.store_ops()
            .into_iter()
            .filter_map(|op| match op {
                StoreOp::Cdr(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn completed(&self, outcome: &'static str) -> u64 {
        self.metrics
            .calls_completed
            .get_or_create(&OutcomeLabel { outcome })
            .get()
    }

    pub(crate) fn in_range(&self, port: u16) -> bool {
        (self.ports.0..=self.ports.1).contains(&port)
    }
}

// ---------------------------------------------------------------- finders

pub(crate) fn describe(out: &Out) -> String {
    out.iter()
        .map(|(to, m)| match m {
            Message::Request(r) => format!("  -> {to}: {} {}", r.method, r.uri),
            Message::Response(r) => format!(
                "  -> {to}: {} {} ({})",
                r.status,
                r.reason,
                r.headers.get(&HeaderName::CSeq).unwrap_or("")
            ),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn responses(out: &Out, to: SocketAddr) -> Vec<Response> {
    out.iter()
        .filter(|(a, _)| *a == to)
        .filter_map(|(_, m)| match m {
            Message::Response(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

pub(crate) fn requests(out: &Out, to: SocketAddr, method: Method) -> Vec<Request> {
    out.iter()
        .filter(|(a, _)| *a == to)
        .filter_map(|(_, m)| match m {
            Message::Request(r) if r.method == method => Some(r.clone()),
            _ => None,
        })
        .collect()
}

pub(crate) fn resp(out: &Out, to: SocketAddr, status: u16) -> Response {
    responses(out, to)
        .into_iter()
        .find(|r| r.status == status)
        .unwrap_or_else(|| panic!("no {status} to {to}; sent:\n{}", describe(out)))
}

pub(crate) fn req(out: &Out, to: SocketAddr, method: Method) -> Request {
    requests(out, to, method.clone())
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {method} to {to}; sent:\n{}", describe(out)))
}

pub(crate) fn no_request(out: &Out, to: SocketAddr, method: Method) {
    assert!(
        requests(out, to, method.clone()).is_empty(),
        "unexpected {method} to {to}; sent:\n{}",
        describe(out)
    );
}

pub(crate) fn cseq_method(r: &Response) -> Method {
    r.cseq().unwrap().method
}

pub(crate) fn to_tag(h: &gateway_sip::message::Headers) -> Option<String> {
    h.get(&HeaderName::To)
        .and_then(|t| NameAddr::parse(t).ok())
        .and_then(|n| n.tag().map(str::to_string))
}

/// (connection address, first m-line port) of an SDP body.
pub(crate) fn sdp_media(body: &[u8]) -> (String, u16) {
    let text = std::str::from_utf8(body).expect("SDP is UTF-8");
    let mut conn = None;
    let mut port = None;
    for line in text.lines() {
        if let Some(c) = line.strip_prefix("c=") {
            conn = c.split_whitespace().nth(2).map(str::to_string);
        }
        if let Some(m) = line.strip_prefix("m=") {
            if port.is_none() {
                port = m.split_whitespace().nth(1).and_then(|p| p.parse().ok());
            }
        }
    }
    (
        conn.expect("SDP has a c= line"),
        port.expect("SDP has an m= line"),
    )
}

/// Every c= line of an SDP body (o= may keep the origin's address).
pub(crate) fn c_lines(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .lines()
        .filter(|l| l.starts_with("c="))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------- builders

pub(crate) fn sdp(ip: &str, port: u16, version: u32) -> String {
    format!(
        "v=0\r\no=- 1 {version} IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )
}

static BRANCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

pub(crate) fn branch() -> String {
    format!(
        "z9hG4bKt{}",
        BRANCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// A request as a peer at `via` writes it. `extra` are whole header lines;
/// a Max-Forwards among them replaces the default 70.
#[allow(clippy::too_many_arguments)]
pub(crate) fn request_text(
    method: &str,
    ruri: &str,
    via: SocketAddr,
    branch: &str,
    from: &str,
    to: &str,
    call_id: &str,
    cseq: u32,
    extra: &[String],
    body: &str,
) -> String {
    let mut s =
        format!("{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch={branch};rport\r\n");
    if !extra
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("max-forwards"))
    {
        s.push_str("Max-Forwards: 70\r\n");
    }
    s.push_str(&format!(
        "From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
    ));
    for h in extra {
        s.push_str(h);
        s.push_str("\r\n");
    }
    if !body.is_empty() {
        s.push_str("Content-Type: application/sdp\r\n");
    }
    s.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s
}

/// A response to `req` as the peer that received it writes it.
pub(crate) fn response_text(
    req: &Request,
    status: u16,
    reason: &str,
    tag: Option<&str>,
    contact: Option<&str>,
    extra: &[String],
    body: &str,
) -> String {
    let mut s = format!("SIP/2.0 {status} {reason}\r\n");
    for v in req.headers.get_all(&HeaderName::Via) {
        s.push_str(&format!("Via: {v}\r\n"));
    }
    let to = req.headers.get(&HeaderName::To).unwrap();
    let to = match tag {
        Some(t) if to_tag(&req.headers).is_none() => format!("{to};tag={t}"),
        _ => to.to_string(),
    };
    s.push_str(&format!(
        "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\n",
        req.headers.get(&HeaderName::From).unwrap(),
        req.headers.get(&HeaderName::CallId).unwrap(),
        req.headers.get(&HeaderName::CSeq).unwrap(),
    ));
    if let Some(c) = contact {
        s.push_str(&format!("Contact: {c}\r\n"));
    }
    for h in extra {
        s.push_str(h);
        s.push_str("\r\n");
    }
    if !body.is_empty() {
        s.push_str("Content-Type: application/sdp\r\n");
    }
    s.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s
}

/// An in-dialog request from the callee (leg B) built from the engine's
/// INVITE to it: B swaps From/To and targets the engine's Contact.
pub(crate) fn b_request_text(
    b_invite: &Request,
    b_tag: &str,
    method: &str,
    cseq: u32,
    extra: &[String],
    body: &str,
) -> String {
    let from_engine = b_invite.headers.get(&HeaderName::From).unwrap();
    let to_engine = b_invite.headers.get(&HeaderName::To).unwrap();
    let contact = b_invite.headers.get(&HeaderName::Contact).unwrap();
    let target = NameAddr::parse(contact).unwrap().uri.to_string();
    let mut ex = vec!["Contact: <sip:callee@127.0.0.1:5070>".to_string()];
    ex.extend_from_slice(extra);
    request_text(
        method,
        &target,
        b_addr(),
        &branch(),
        &format!("{to_engine};tag={b_tag}"),
        from_engine,
        b_invite.headers.get(&HeaderName::CallId).unwrap(),
        cseq,
        &ex,
        body,
    )
}

/// The caller side of a call (leg A): a UAC at `addr`.
pub(crate) struct Caller {
    pub(crate) addr: SocketAddr,
    pub(crate) from: String,
    pub(crate) ruri: String,
    pub(crate) call_id: String,
    pub(crate) from_tag: String,
    pub(crate) cseq: u32,
    pub(crate) invite_branch: String,
    /// The engine's To tag once a response carried it.
    pub(crate) remote_tag: Option<String>,
    /// The engine's Contact: the Request-URI inside the dialog.
    pub(crate) target: Option<String>,
}

impl Caller {
    pub(crate) fn new(addr: SocketAddr, user: &str, target: &str) -> Caller {
        Caller {
            addr,
            from: format!("\"Caller {user}\" <sip:{user}@127.0.0.1>"),
            ruri: format!("sip:{target}@127.0.0.1"),
            call_id: format!("{}-{}@test", branch(), user),
            from_tag: format!("ft{}", branch()),
            cseq: 0,
            invite_branch: String::new(),
            remote_tag: None,
            target: None,
        }
    }

    pub(crate) fn req_uri(&self) -> String {
        match (&self.remote_tag, &self.target) {
            (Some(_), Some(t)) => t.clone(),
            _ => self.ruri.clone(),
        }
    }

    /// Learn the dialog from a 1xx/2xx of the engine.
    pub(crate) fn learn(&mut self, r: &Response) {
        self.remote_tag = to_tag(&r.headers);
        if let Some(c) = r.headers.get(&HeaderName::Contact) {
            self.target = Some(NameAddr::parse(c).unwrap().uri.to_string());
        }
    }

    pub(crate) fn local_party(&self) -> String {
        format!("{};tag={}", self.from, self.from_tag)
    }

    pub(crate) fn remote_party(&self) -> String {
        match &self.remote_tag {
            Some(t) => format!("<{}>;tag={t}", self.ruri),
            None => format!("<{}>", self.ruri),
        }
    }

    pub(crate) fn contact(&self) -> String {
        format!("Contact: <sip:caller@{}>", self.addr)
    }

    /// A new INVITE transaction (initial, or re-INVITE once `remote_tag` is set).
    pub(crate) fn invite(&mut self, extra: &[String], body: &str) -> String {
        self.cseq += 1;
        self.invite_branch = branch();
        let mut ex = vec![self.contact()];
        ex.extend_from_slice(extra);
        request_text(
            "INVITE",
            &self.req_uri(),
            self.addr,
            &self.invite_branch.clone(),
            &self.local_party(),
            &self.remote_party(),
            &self.call_id,
            self.cseq,
            &ex,
            body,
        )
    }

    /// ACK for a non-2xx final response: same branch as the INVITE, To tag of the response.
    pub(crate) fn ack_failure(&self, r: &Response) -> String {
        let to = r.headers.get(&HeaderName::To).unwrap();
        request_text(
            "ACK",
            &self.ruri,
            self.addr,
            &self.invite_branch,
            &self.local_party(),
            to,
            &self.call_id,
            self.cseq,
            &[],
            "",
        )
    }

    /// ACK for a 2xx: its own transaction.
    pub(crate) fn ack_2xx(&self) -> String {
        request_text(
            "ACK",
            &self.req_uri(),
            self.addr,
            &branch(),
            &self.local_party(),
            &self.remote_party(),
            &self.call_id,
            self.cseq,
            &[],
            "",
        )
    }

    pub(crate) fn cancel(&self) -> String {
        request_text(
            "CANCEL",
            &self.ruri,
            self.addr,
            &self.invite_branch,
            &self.local_party(),
            &format!("<{}>", self.ruri),
            &self.call_id,
            self.cseq,
            &[],
            "",
        )
    }

    /// An in-dialog request with a body of another type than SDP.
    pub(crate) fn in_dialog_with(
        &mut self,
        method: &str,
        content_type: &str,
        body: &str,
    ) -> String {
        let head = self.in_dialog(method, "");
        let head = head
            .strip_suffix("Content-Length: 0\r\n\r\n")
            .expect("request_text ends with the length");
        format!(
            "{head}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    pub(crate) fn in_dialog(&mut self, method: &str, body: &str) -> String {
        self.cseq += 1;
        request_text(
            method,
            &self.req_uri(),
            self.addr,
            &branch(),
            &self.local_party(),
            &self.remote_party(),
            &self.call_id,
            self.cseq,
            &[],
            body,
        )
    }
}

pub(crate) fn register_text(
    user: &str,
    from: SocketAddr,
    call_id: &str,
    cseq: u32,
    contact: &str,
    expires: Option<u32>,
    auth: Option<&str>,
) -> String {
    let mut extra = vec![format!("Contact: {contact}")];
    if let Some(e) = expires {
        extra.push(format!("Expires: {e}"));
    }
    if let Some(a) = auth {
        extra.push(format!("Authorization: {a}"));
    }
    request_text(
        "REGISTER",
        "sip:127.0.0.1",
        from,
        &branch(),
        &format!("<sip:{user}@127.0.0.1>;tag=reg{user}"),
        &format!("<sip:{user}@127.0.0.1>"),
        call_id,
        cseq,
        &extra,
        "",
    )
}

pub(crate) fn digest(
    challenge_header: &str,
    user: &str,
    pass: &str,
    method: &str,
    uri: &str,
    nc: u32,
) -> String {
    gateway_sip::auth::parse_challenge(challenge_header)
        .expect("challenge parses")
        .respond(user, pass, method, uri, "c0ffee", nc)
}

/// Register `user` with `contact` from `from`, through the 401 dance.
pub(crate) fn register(h: &mut Harness, user: &str, pass: &str, from: SocketAddr, contact: &str) {
    let cid = format!("reg-{user}-{}", branch());
    h.send(
        from,
        &register_text(user, from, &cid, 1, contact, Some(600), None),
    );
    let out = h.out();
    let c = resp(&out, from, 401);
    let www = c
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .to_string();
    let auth = digest(&www, user, pass, "REGISTER", "sip:127.0.0.1", 1);
    h.send(
        from,
        &register_text(user, from, &cid, 2, contact, Some(600), Some(&auth)),
    );
    let out = h.out();
    resp(&out, from, 200);
}

/// Place a call from `a`; returns the INVITE the engine sent to `b`.
pub(crate) fn place_call(h: &mut Harness, a: &mut Caller, b: SocketAddr, body: &str) -> Request {
    h.send(a.addr, &a.invite(&[], body));
    let out = h.out();
    let trying = resp(&out, a.addr, 100);
    assert_eq!(cseq_method(&trying), Method::Invite);
    req(&out, b, Method::Invite)
}

/// B answers `b_inv` with 200 + `body`; A gets the 200, B the ACK; A ACKs.
pub(crate) fn answer(
    h: &mut Harness,
    a: &mut Caller,
    b_inv: &Request,
    b_tag: &str,
    body: &str,
    extra: &[String],
) -> Response {
    h.send(
        b_addr(),
        &response_text(
            b_inv,
            200,
            "OK",
            Some(b_tag),
            Some("<sip:callee@127.0.0.1:5070>"),
            extra,
            body,
        ),
    );
    let out = h.out();
    let ok = resp(&out, a.addr, 200);
    assert_eq!(cseq_method(&ok), Method::Invite);
    let ack = req(&out, b_addr(), Method::Ack);
    assert_eq!(ack.cseq().unwrap().seq, b_inv.cseq().unwrap().seq);
    assert_eq!(to_tag(&ack.headers).as_deref(), Some(b_tag));
    a.learn(&ok);
    assert!(a.remote_tag.is_some(), "200 to A has a To tag");
    h.send(a.addr, &a.ack_2xx());
    let out = h.out();
    assert!(
        out.is_empty(),
        "nothing follows A's ACK:\n{}",
        describe(&out)
    );
    ok
}

/// A trunk call answered by B; returns (caller, B's INVITE, A's 200).
pub(crate) fn established(
    h: &mut Harness,
    b_tag: &str,
    b_extra: &[String],
) -> (Caller, Request, Response) {
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    let ok = answer(
        h,
        &mut a,
        &b_inv,
        b_tag,
        &sdp("127.0.0.6", 30002, 1),
        b_extra,
    );
    (a, b_inv, ok)
}

/// Answer every request the engine sent to `to` in `out` with 200.
pub(crate) fn ok_all(h: &mut Harness, out: &Out, to: SocketAddr, method: Method) {
    for r in requests(out, to, method) {
        h.send(to, &response_text(&r, 200, "OK", None, None, &[], ""));
    }
}

fn a_contact() -> String {
    format!("<sip:caller@{}>", a_addr())
}

/// A's 200 to an engine request, with `body` (SDP when not empty).
fn a_ok(r: &Request, body: &str) -> String {
    response_text(r, 200, "OK", None, Some(&a_contact()), &[], body)
}

// ---------------------------------------------------------------- flows, by subject

#[cfg(test)]
mod call_setup;
#[cfg(test)]
mod cancel_timeouts;
#[cfg(test)]
mod dialplan_windows;
#[cfg(test)]
mod in_dialog;
#[cfg(test)]
mod malformed;
#[cfg(test)]
mod refusals;
#[cfg(test)]
mod registration;
#[cfg(test)]
mod session_timers;

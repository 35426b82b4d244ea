//! In-memory call flows through the whole engine: raw SIP text in, parsed
//! transmits out, a virtual clock for every protocol timer. The media relay
//! binds real loopback sockets (it needs a tokio runtime), so each test owns
//! the RTP range 41000-41999 with the parallel tests (taken ports are skipped).

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

// ---------------------------------------------------------------- 1. REGISTER

#[tokio::test]
async fn register_challenge_accept_refuse_and_remove() {
    let mut h = Harness::new();
    let ua = addr("127.0.0.1:40011");
    let contact = "<sip:1001@127.0.0.1:40011>";
    let cid = "reg-flow-1";

    h.send(
        ua,
        &register_text("1001", ua, cid, 1, contact, Some(600), None),
    );
    let out = h.out();
    let c = resp(&out, ua, 401);
    let www = c
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .expect("401 carries WWW-Authenticate")
        .to_string();
    assert!(www.contains("realm=\"gateway.local\""), "{www}");
    assert!(
        h.store_ops().is_empty(),
        "nothing stored before authentication"
    );

    // Wrong password: challenged again, never accepted.
    let bad = digest(&www, "1001", "wrong", "REGISTER", "sip:127.0.0.1", 1);
    h.send(
        ua,
        &register_text("1001", ua, cid, 2, contact, Some(600), Some(&bad)),
    );
    let out = h.out();
    assert!(responses(&out, ua).iter().all(|r| r.status != 200));
    assert_eq!(responses(&out, ua).last().unwrap().status, 401);
    assert!(h.metrics.auth_failures.get() >= 1);

    // Right password.
    let good = digest(&www, "1001", "pass1001", "REGISTER", "sip:127.0.0.1", 1);
    h.send(
        ua,
        &register_text("1001", ua, cid, 3, contact, Some(600), Some(&good)),
    );
    let out = h.out();
    let ok = resp(&out, ua, 200);
    let c = ok
        .headers
        .get(&HeaderName::Contact)
        .expect("200 lists Contact");
    assert!(c.contains("sip:1001@127.0.0.1:40011"), "{c}");
    assert!(c.contains("expires=600"), "{c}");
    let ops = h.store_ops();
    assert!(
        ops.iter().any(|op| matches!(op, StoreOp::Binding(BindingChange::Upsert(b))
            if b.endpoint_id == "1001" && b.contact.contains("127.0.0.1:40011") && b.source.addr == ua)),
        "{ops:?}"
    );

    // The same Authorization again (same nonce and nc): a replay.
    h.send(
        ua,
        &register_text("1001", ua, cid, 4, contact, Some(600), Some(&good)),
    );
    let out = h.out();
    assert!(
        responses(&out, ua).iter().all(|r| r.status != 200),
        "replayed credentials accepted:\n{}",
        describe(&out)
    );
    assert!(matches!(
        responses(&out, ua).last().unwrap().status,
        401 | 403
    ));
    assert!(h.store_ops().is_empty());

    // Expires below the minimum: 423 with Min-Expires.
    let nc2 = digest(&www, "1001", "pass1001", "REGISTER", "sip:127.0.0.1", 2);
    h.send(
        ua,
        &register_text("1001", ua, cid, 5, contact, Some(10), Some(&nc2)),
    );
    let out = h.out();
    let r = resp(&out, ua, 423);
    assert_eq!(r.headers.get(&HeaderName::MinExpires), Some("60"));

    // Expires: 0 removes the binding.
    let nc3 = digest(&www, "1001", "pass1001", "REGISTER", "sip:127.0.0.1", 3);
    h.send(
        ua,
        &register_text("1001", ua, cid, 6, contact, Some(0), Some(&nc3)),
    );
    let out = h.out();
    let ok = resp(&out, ua, 200);
    assert!(ok.headers.get(&HeaderName::Contact).is_none());
    let ops = h.store_ops();
    assert!(
        ops.iter().any(|op| matches!(op, StoreOp::Binding(BindingChange::Remove { endpoint_id, .. }) if endpoint_id == "1001")),
        "{ops:?}"
    );

    // Two contacts, then Contact: * with Expires: 0 removes both.
    let nc4 = digest(&www, "1001", "pass1001", "REGISTER", "sip:127.0.0.1", 4);
    h.send(
        ua,
        &register_text(
            "1001",
            ua,
            cid,
            7,
            "<sip:1001@127.0.0.1:40011>, <sip:1001@127.0.0.1:40012>",
            Some(600),
            Some(&nc4),
        ),
    );
    let out = h.out();
    let ok = resp(&out, ua, 200);
    assert_eq!(ok.headers.get_all(&HeaderName::Contact).count(), 2);
    h.store_ops();
    let nc5 = digest(&www, "1001", "pass1001", "REGISTER", "sip:127.0.0.1", 5);
    h.send(
        ua,
        &register_text("1001", ua, cid, 8, "*", Some(0), Some(&nc5)),
    );
    let out = h.out();
    let ok = resp(&out, ua, 200);
    assert_eq!(ok.headers.get_all(&HeaderName::Contact).count(), 0);
    let removed = h
        .store_ops()
        .into_iter()
        .filter(|op| matches!(op, StoreOp::Binding(BindingChange::Remove { .. })))
        .count();
    assert_eq!(removed, 2);

    // Nobody is registered any more: a call to 1001 finds no contact.
    let mut a = Caller::new(a_addr(), "9999", "1001");
    h.send(a.addr, &a.invite(&[], &sdp("127.0.0.5", 30000, 1)));
    let out = h.out();
    resp(&out, a.addr, 480);
}

// ---------------------------------------------------------------- 2. trunk call

#[tokio::test]
async fn trunk_call_answered_and_hung_up_with_anchored_media() {
    let mut h = Harness::new();
    // Real media endpoints on other loopback addresses, to check the relay.
    let a_rtp = tokio::net::UdpSocket::bind("127.0.0.5:0").await.unwrap();
    let b_rtp = tokio::net::UdpSocket::bind("127.0.0.6:0").await.unwrap();
    let a_port = a_rtp.local_addr().unwrap().port();
    let b_port = b_rtp.local_addr().unwrap().port();

    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", a_port, 1));
    assert_eq!(h.metrics.call_attempts.get(), 1);
    assert_eq!(h.metrics.calls_active.get(), 1);
    assert_eq!(b_inv.uri.to_string(), "sip:5551234@127.0.0.1:5070");
    assert_eq!(b_inv.max_forwards().unwrap(), 69);
    assert_ne!(
        b_inv.headers.get(&HeaderName::CallId),
        Some(a.call_id.as_str()),
        "leg B has its own Call-ID"
    );
    let (ip, gw_b_port) = sdp_media(&b_inv.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(gw_b_port), "B is offered port {gw_b_port}");
    assert!(!c_lines(&b_inv.body).contains("127.0.0.5"));

    // 180 then 200.
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            180,
            "Ringing",
            Some("btag1"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            "",
        ),
    );
    let out = h.out();
    let ringing = resp(&out, a.addr, 180);
    let a_tag = to_tag(&ringing.headers).expect("180 to A has our tag");
    assert!(requests(&out, b_addr(), Method::Ack).is_empty());

    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("btag1"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            &sdp("127.0.0.6", b_port, 1),
        ),
    );
    let out = h.out();
    let ok = resp(&out, a.addr, 200);
    assert_eq!(to_tag(&ok.headers).as_deref(), Some(a_tag.as_str()));
    assert_eq!(
        ok.headers.get(&HeaderName::CallId),
        Some(a.call_id.as_str())
    );
    let contact = ok
        .headers
        .get(&HeaderName::Contact)
        .expect("200 has Contact");
    assert!(contact.contains("127.0.0.1:5060"), "{contact}");
    assert_eq!(
        ok.headers.get(&HeaderName::ContentType),
        Some("application/sdp")
    );
    let (ip, gw_a_port) = sdp_media(&ok.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(gw_a_port));
    assert_ne!(gw_a_port, gw_b_port);
    assert!(!c_lines(&ok.body).contains("127.0.0.6"));
    let ack = req(&out, b_addr(), Method::Ack);
    assert_eq!(to_tag(&ack.headers).as_deref(), Some("btag1"));
    a.learn(&ok);
    h.send(a.addr, &a.ack_2xx());
    assert!(h.out().is_empty());

    // RTP A -> gateway reaches B from the gateway's B-side port, and back.
    let mut pkt = vec![0x80u8, 0, 0, 1, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44];
    pkt.extend_from_slice(&[0xd5; 160]);
    let mut buf = [0u8; 2048];
    a_rtp.send_to(&pkt, ("127.0.0.1", gw_a_port)).await.unwrap();
    let (n, src) = tokio::time::timeout(Duration::from_secs(5), b_rtp.recv_from(&mut buf))
        .await
        .expect("RTP relayed to B")
        .unwrap();
    assert_eq!(&buf[..n], &pkt[..]);
    assert_eq!(src, addr(&format!("127.0.0.1:{gw_b_port}")));
    pkt[3] = 2;
    b_rtp.send_to(&pkt, ("127.0.0.1", gw_b_port)).await.unwrap();
    let (n, src) = tokio::time::timeout(Duration::from_secs(5), a_rtp.recv_from(&mut buf))
        .await
        .expect("RTP relayed to A")
        .unwrap();
    assert_eq!(&buf[..n], &pkt[..]);
    assert_eq!(src, addr(&format!("127.0.0.1:{gw_a_port}")));

    // A hangs up.
    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    let r = resp(&out, a.addr, 200);
    assert_eq!(cseq_method(&r), Method::Bye);
    let bye = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye.headers).as_deref(), Some("btag1"));
    assert_eq!(
        bye.headers.get(&HeaderName::CallId),
        b_inv.headers.get(&HeaderName::CallId)
    );
    h.send(
        b_addr(),
        &response_text(&bye, 200, "OK", None, None, &[], ""),
    );
    assert!(h.out().is_empty());
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0].outcome, "answered");
    assert_eq!(cdrs[0].call_id, a.call_id);
    assert_eq!(cdrs[0].caller, "trunk:loopback-trunk");
    assert_eq!(cdrs[0].callee, "5551234");
    assert!(cdrs[0].answered_at_ms.is_some());
    assert!(
        cdrs[0].rtp_packets_in >= 1 && cdrs[0].rtp_packets_out >= 1,
        "{:?}",
        cdrs[0]
    );
    assert_eq!(h.metrics.calls_active.get(), 0);
    assert_eq!(h.completed("answered"), 1);
}

// ---------------------------------------------------------------- 3. endpoint call behind NAT

#[tokio::test]
async fn endpoint_call_goes_to_registered_source_address() {
    let mut h = Harness::new();
    let nat_src = addr("127.0.0.1:40002");
    register(
        &mut h,
        "1002",
        "pass1002",
        nat_src,
        "<sip:1002@192.0.2.7:5062>",
    );
    h.store_ops();

    let a_ua = addr("127.0.0.1:40021");
    let mut a = Caller::new(a_ua, "1001", "1002");
    h.send(a_ua, &a.invite(&[], &sdp("127.0.0.5", 30000, 1)));
    let out = h.out();
    let ch = resp(&out, a_ua, 407);
    let pa = ch
        .headers
        .get(&HeaderName::ProxyAuthenticate)
        .expect("407 carries Proxy-Authenticate")
        .to_string();
    no_request(&out, nat_src, Method::Invite);
    h.send(a_ua, &a.ack_failure(&ch));
    assert!(h.out().is_empty());

    let cred = digest(&pa, "1001", "pass1001", "INVITE", &a.ruri, 1);
    h.send(
        a_ua,
        &a.invite(
            &[format!("Proxy-Authorization: {cred}")],
            &sdp("127.0.0.5", 30000, 1),
        ),
    );
    let out = h.out();
    resp(&out, a_ua, 100);
    let b_inv = req(&out, nat_src, Method::Invite);
    assert_eq!(b_inv.uri.to_string(), "sip:1002@192.0.2.7:5062");
    assert!(
        b_inv.headers.get(&HeaderName::ProxyAuthorization).is_none(),
        "credentials of leg A never reach leg B"
    );
    let from = b_inv.from().unwrap();
    assert_eq!(from.uri.user.as_deref(), Some("1001"));
    let (ip, port) = sdp_media(&b_inv.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(port));
}

// ---------------------------------------------------------------- 4. refusals

#[tokio::test]
async fn unregistered_target_unknown_number_and_unknown_caller_are_refused() {
    let mut h = Harness::new();
    let a_ua = addr("127.0.0.1:40031");

    // 1001 → 1002, 1002 not registered.
    let mut a = Caller::new(a_ua, "1001", "1002");
    h.send(a_ua, &a.invite(&[], ""));
    let ch = resp(&h.out(), a_ua, 407);
    h.send(a_ua, &a.ack_failure(&ch));
    let pa = ch
        .headers
        .get(&HeaderName::ProxyAuthenticate)
        .unwrap()
        .to_string();
    let cred = digest(&pa, "1001", "pass1001", "INVITE", &a.ruri, 1);
    h.send(
        a_ua,
        &a.invite(&[format!("Proxy-Authorization: {cred}")], ""),
    );
    let out = h.out();
    let r = resp(&out, a_ua, 480);
    assert!(r.reason.contains("1002"), "reason: {}", r.reason);
    assert_eq!(out.iter().filter(|(to, _)| *to != a_ua).count(), 0);

    // 1001 dials something no rule matches: the dialplan's refusal.
    let mut a = Caller::new(a_ua, "1001", "nobody-here");
    let expected = h.e.dialplan.route(&gateway_dialplan::RouteRequest {
        caller: gateway_dialplan::Caller::Endpoint("1001".into()),
        from_user: Some("1001".into()),
        target: "nobody-here".into(),
        transport_secure: false,
    });
    let gateway_dialplan::RouteOutcome::Reject { status, reason } = expected.outcome else {
        panic!(
            "the sample dialplan routes nobody-here: {:?}",
            expected.outcome
        );
    };
    h.send(a_ua, &a.invite(&[], ""));
    let ch = resp(&h.out(), a_ua, 407);
    h.send(a_ua, &a.ack_failure(&ch));
    let pa = ch
        .headers
        .get(&HeaderName::ProxyAuthenticate)
        .unwrap()
        .to_string();
    let cred = digest(&pa, "1001", "pass1001", "INVITE", &a.ruri, 1);
    h.send(
        a_ua,
        &a.invite(&[format!("Proxy-Authorization: {cred}")], ""),
    );
    let out = h.out();
    let r = resp(&out, a_ua, status);
    assert_eq!(r.reason, reason);

    // An unknown caller from an address that is no trunk.
    let stranger = addr("198.51.100.1:5060");
    let mut s = Caller::new(stranger, "9999", "1001");
    h.send(stranger, &s.invite(&[], ""));
    let out = h.out();
    let r = resp(&out, stranger, 403);
    assert!(!r.reason.is_empty());
    assert_eq!(out.iter().filter(|(to, _)| *to != stranger).count(), 0);
    assert_eq!(h.metrics.calls_active.get(), 0);
    assert!(h.cdrs().is_empty(), "no call was placed");
}

/// RFC 3261 8.2.6.2: every final response of a UAS carries a To tag, so
/// that the caller's ACK can match it.
#[tokio::test]
async fn final_refusals_carry_a_to_tag() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "1002");
    h.send(a.addr, &a.invite(&[], ""));
    let r = resp(&h.out(), a.addr, 480);
    assert!(to_tag(&r.headers).is_some(), "480 without To tag");
}

// ---------------------------------------------------------------- 5. CANCEL

#[tokio::test]
async fn cancel_before_answer() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            180,
            "Ringing",
            Some("bt5"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            "",
        ),
    );
    resp(&h.out(), a.addr, 180);

    h.send(a.addr, &a.cancel());
    let out = h.out();
    let c = resp(&out, a.addr, 200);
    assert_eq!(cseq_method(&c), Method::Cancel);
    let t = resp(&out, a.addr, 487);
    assert_eq!(cseq_method(&t), Method::Invite);
    let cancel = req(&out, b_addr(), Method::Cancel);
    assert_eq!(cancel.cseq().unwrap().seq, b_inv.cseq().unwrap().seq);
    assert_eq!(
        cancel.top_via().unwrap().branch(),
        b_inv.top_via().unwrap().branch(),
        "CANCEL matches B's INVITE transaction"
    );
    h.send(a.addr, &a.ack_failure(&t));

    h.send(
        b_addr(),
        &response_text(&cancel, 200, "OK", Some("bt5"), None, &[], ""),
    );
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            487,
            "Request Terminated",
            Some("bt5"),
            None,
            &[],
            "",
        ),
    );
    let out = h.out();
    let ack = req(&out, b_addr(), Method::Ack);
    assert_eq!(
        ack.top_via().unwrap().branch(),
        b_inv.top_via().unwrap().branch()
    );
    assert!(responses(&out, a.addr).is_empty(), "A already has its 487");
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "cancelled");
    assert_eq!(h.metrics.calls_active.get(), 0);
    assert_eq!(h.completed("cancelled"), 1);
}

#[tokio::test]
async fn cancel_crossing_the_callees_200() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            180,
            "Ringing",
            Some("bt6"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            "",
        ),
    );
    h.out();
    h.send(a.addr, &a.cancel());
    let out = h.out();
    let t = resp(&out, a.addr, 487);
    let cancel = req(&out, b_addr(), Method::Cancel);
    h.send(a.addr, &a.ack_failure(&t));

    // B answered before it saw the CANCEL.
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("bt6"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            &sdp("127.0.0.6", 30002, 1),
        ),
    );
    let out = h.out();
    let ack = req(&out, b_addr(), Method::Ack);
    assert_eq!(to_tag(&ack.headers).as_deref(), Some("bt6"));
    let bye = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye.headers).as_deref(), Some("bt6"));
    assert!(
        responses(&out, a.addr).iter().all(|r| r.status != 200),
        "A must not be connected after its CANCEL"
    );
    h.send(
        b_addr(),
        &response_text(&cancel, 200, "OK", Some("bt6"), None, &[], ""),
    );
    h.send(
        b_addr(),
        &response_text(&bye, 200, "OK", None, None, &[], ""),
    );
    h.out();
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "cancelled");
    assert_eq!(h.metrics.calls_active.get(), 0);
}

// ---------------------------------------------------------------- 6. callee failures

#[tokio::test]
async fn callee_busy_is_relayed() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(&b_inv, 486, "Busy Here", Some("bt7"), None, &[], ""),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 486);
    assert_eq!(r.reason, "Busy Here");
    assert!(to_tag(&r.headers).is_some());
    req(&out, b_addr(), Method::Ack);
    h.send(a.addr, &a.ack_failure(&r));
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "busy");
    assert_eq!(cdrs[0].sip_status, 486);
    assert_eq!(h.completed("busy"), 1);
}

#[tokio::test]
async fn callee_silent_gives_408_after_timer_b() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.advance(Duration::from_secs(31));
    let out = h.out();
    assert!(
        responses(&out, a.addr).is_empty(),
        "too early:\n{}",
        describe(&out)
    );
    let retrans = requests(&out, b_addr(), Method::Invite);
    assert!(retrans.len() >= 5, "Timer A retransmits the INVITE");
    assert!(retrans
        .iter()
        .all(|r| r.top_via().unwrap().branch() == b_inv.top_via().unwrap().branch()));
    h.advance(Duration::from_secs(2));
    let out = h.out();
    let r = resp(&out, a.addr, 408);
    assert!(
        !r.reason.is_empty() && r.reason != "Request Timeout",
        "reason: {}",
        r.reason
    );
    h.send(a.addr, &a.ack_failure(&r));
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "no_answer");
    assert_eq!(h.metrics.calls_active.get(), 0);
}

fn ring_timeout_call() -> (Harness, Caller, Request, Request) {
    let mut cfg = test_config();
    cfg.ring_timeout = Duration::from_secs(5);
    let mut h = Harness::with(cfg, gateway_dialplan::SAMPLE_DIALPLAN);
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            180,
            "Ringing",
            Some("bt9"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            "",
        ),
    );
    resp(&h.out(), a.addr, 180);
    h.advance(Duration::from_secs(4));
    assert!(responses(&h.out(), a.addr).is_empty());
    h.advance(Duration::from_secs(2));
    let out = h.out();
    let r = resp(&out, a.addr, 480);
    assert!(r.reason.contains("5551234"), "reason: {}", r.reason);
    let cancel = req(&out, b_addr(), Method::Cancel);
    h.send(a.addr, &a.ack_failure(&r));
    (h, a, b_inv, cancel)
}

#[tokio::test]
async fn ring_timeout_cancels_callee() {
    let (mut h, _a, b_inv, cancel) = ring_timeout_call();
    h.send(
        b_addr(),
        &response_text(&cancel, 200, "OK", Some("bt9"), None, &[], ""),
    );
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            487,
            "Request Terminated",
            Some("bt9"),
            None,
            &[],
            "",
        ),
    );
    let out = h.out();
    req(&out, b_addr(), Method::Ack);
    assert_eq!(h.cdrs().len(), 1);
    assert_eq!(h.metrics.calls_active.get(), 0);
}

#[tokio::test]
async fn ring_timeout_cdr_is_no_answer() {
    let (mut h, _a, b_inv, cancel) = ring_timeout_call();
    h.send(
        b_addr(),
        &response_text(&cancel, 200, "OK", Some("bt9"), None, &[], ""),
    );
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            487,
            "Request Terminated",
            Some("bt9"),
            None,
            &[],
            "",
        ),
    );
    h.out();
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "no_answer", "{:?}", cdrs[0]);
    assert_eq!(cdrs[0].sip_status, 480);
    assert_eq!(h.completed("cancelled"), 0);
}

// ---------------------------------------------------------------- 10. max duration

#[tokio::test]
async fn max_call_duration_hangs_up_both_legs() {
    let dp = gateway_dialplan::SAMPLE_DIALPLAN
        .replace("max_duration_secs = 14400", "max_duration_secs = 60");
    assert_ne!(dp, gateway_dialplan::SAMPLE_DIALPLAN);
    let mut h = Harness::with(test_config(), &dp);
    let (a, _b_inv, _ok) = established(&mut h, "bt14", &[]);
    h.advance(Duration::from_secs(59));
    let out = h.out();
    no_request(&out, a.addr, Method::Bye);
    no_request(&out, b_addr(), Method::Bye);
    h.advance(Duration::from_secs(2));
    let out = h.out();
    let bye_a = req(&out, a.addr, Method::Bye);
    assert_eq!(
        bye_a.headers.get(&HeaderName::CallId),
        Some(a.call_id.as_str())
    );
    assert_eq!(to_tag(&bye_a.headers).as_deref(), Some(a.from_tag.as_str()));
    let bye_b = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye_b.headers).as_deref(), Some("bt14"));
    ok_all(&mut h, &out, a.addr, Method::Bye);
    ok_all(&mut h, &out, b_addr(), Method::Bye);
    h.out();
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "answered");
    assert!(
        cdrs[0].reason.to_lowercase().contains("duration"),
        "{}",
        cdrs[0].reason
    );
    assert_eq!(h.metrics.calls_active.get(), 0);
}

// ---------------------------------------------------------------- 11. garbage

#[tokio::test]
async fn garbage_does_not_disturb_an_established_call() {
    let mut h = Harness::new();
    let (mut a, _b_inv, _ok) = established(&mut h, "bt15", &[]);
    let junk = addr("127.0.0.1:40099");
    let errors_before = h.metrics.parse_errors.get();

    h.send_bytes(junk, b"\x00\x01\x02\xff garbage \r\n\r\n");
    h.send_bytes(junk, b"");
    h.send_bytes(junk, b"INVITE\r\n\r\n");
    h.send_bytes(junk, &[0xffu8; 3000]);
    h.send(junk, "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    h.send(
        junk,
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: nv\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    );
    let out = h.out();
    assert!(
        out.is_empty(),
        "nothing is addressable:\n{}",
        describe(&out)
    );

    // Via present, Call-ID missing: 400 at the source.
    h.send(
        junk,
        &format!(
            "INVITE sip:5551234@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:40099;branch={};rport\r\nFrom: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:5551234@127.0.0.1>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
            branch()
        ),
    );
    let out = h.out();
    assert!(out.is_empty(), "{}", describe(&out));
    let (to, text) = h.unparsed.pop().expect("a 400 for the missing Call-ID");
    assert_eq!(to, junk);
    assert!(text.starts_with("SIP/2.0 400 "), "{text}");
    assert!(
        text.to_lowercase().contains("call-id"),
        "the reason names the header: {text}"
    );
    assert!(text.contains("received=127.0.0.1"), "{text}");

    // A lying Content-Length.
    h.send(
        junk,
        &format!(
            "INVITE sip:5551234@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:40099;branch={}\r\nFrom: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:5551234@127.0.0.1>\r\nCall-ID: cl@x\r\nCSeq: 1 INVITE\r\nContent-Length: 99999999\r\n\r\nv=0\r\n",
            branch()
        ),
    );
    let out = h.out();
    no_request(&out, b_addr(), Method::Invite);
    // An in-dialog BYE with a foreign tag does not end our call.
    h.send(
        junk,
        &request_text(
            "BYE",
            "sip:gw@127.0.0.1:5060",
            junk,
            &branch(),
            "<sip:x@127.0.0.1>;tag=zz",
            "<sip:gw@127.0.0.1>;tag=notours",
            "other@x",
            1,
            &[],
            "",
        ),
    );
    let out = h.out();
    resp(&out, junk, 481);
    no_request(&out, b_addr(), Method::Bye);
    assert!(h.metrics.parse_errors.get() > errors_before);
    assert_eq!(h.metrics.calls_active.get(), 1);
    assert!(h.cdrs().is_empty());

    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    resp(&out, a.addr, 200);
    req(&out, b_addr(), Method::Bye);
    assert_eq!(h.cdrs()[0].outcome, "answered");
}

// ---------------------------------------------------------------- 12. Max-Forwards

#[tokio::test]
async fn max_forwards_zero_gets_483() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    h.send(
        a.addr,
        &a.invite(&["Max-Forwards: 0".into()], &sdp("127.0.0.5", 30000, 1)),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 483);
    assert_eq!(cseq_method(&r), Method::Invite);
    no_request(&out, b_addr(), Method::Invite);
    assert_eq!(h.metrics.calls_active.get(), 0);
}

#[tokio::test]
async fn unknown_uri_scheme_gets_416() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let text =
        a.invite(&[], &sdp("127.0.0.5", 30000, 1))
            .replacen("INVITE sip:", "INVITE mailto:", 1);
    assert!(text.starts_with("INVITE mailto:"), "{text}");
    h.send(a.addr, &text);
    let out = h.out();
    let r = resp(&out, a.addr, 416);
    assert_eq!(r.reason, "Unsupported URI Scheme");
    no_request(&out, b_addr(), Method::Invite);
}

// ---------------------------------------------------------------- more flows

fn a_contact() -> String {
    format!("<sip:caller@{}>", a_addr())
}

/// A's 200 to an engine request, with `body` (SDP when not empty).
fn a_ok(r: &Request, body: &str) -> String {
    response_text(r, 200, "OK", None, Some(&a_contact()), &[], body)
}

#[tokio::test]
async fn late_offer_answer_travels_in_the_acks() {
    let mut h = Harness::new();
    // B2BUA semantics: the B2BUA passes the offerless INVITE on; the neutral owner offers B itself (call::bridged_tests).
    h.e.neutral_sip_calls = false;
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), "");
    assert!(b_inv.body.is_empty(), "no offer invented for B");
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("bt17"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            &sdp("127.0.0.6", 30002, 1),
        ),
    );
    let out = h.out();
    let ok = resp(&out, a.addr, 200);
    let (ip, port) = sdp_media(&ok.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(port));
    no_request(&out, b_addr(), Method::Ack);
    a.learn(&ok);
    let mut ack = a.ack_2xx();
    ack = ack.replace("Content-Length: 0\r\n\r\n", "");
    let answer = sdp("127.0.0.5", 30000, 1);
    ack.push_str(&format!(
        "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{answer}",
        answer.len()
    ));
    h.send(a.addr, &ack);
    let out = h.out();
    let b_ack = req(&out, b_addr(), Method::Ack);
    let (ip, port) = sdp_media(&b_ack.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(port));
    assert!(!c_lines(&b_ack.body).contains("127.0.0.5"));
}

#[tokio::test]
async fn bye_from_callee_reaches_caller() {
    let mut h = Harness::new();
    let (a, b_inv, _ok) = established(&mut h, "bt18", &[]);
    h.send(b_addr(), &b_request_text(&b_inv, "bt18", "BYE", 1, &[], ""));
    let out = h.out();
    let r = resp(&out, b_addr(), 200);
    assert_eq!(cseq_method(&r), Method::Bye);
    let bye = req(&out, a.addr, Method::Bye);
    assert_eq!(bye.uri.to_string(), format!("sip:caller@{}", a_addr()));
    assert_eq!(to_tag(&bye.headers).as_deref(), Some(a.from_tag.as_str()));
    assert_eq!(bye.from().unwrap().tag(), a.remote_tag.as_deref());
    assert_eq!(
        bye.headers.get(&HeaderName::CallId),
        Some(a.call_id.as_str())
    );
    assert!(bye.cseq().unwrap().seq >= 1);
    h.send(a.addr, &a_ok(&bye, ""));
    assert!(h.out().is_empty());
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "answered");
    assert!(cdrs[0].reason.contains("callee"), "{}", cdrs[0].reason);
}

#[tokio::test]
async fn cancel_before_any_provisional_waits_for_one() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(a.addr, &a.cancel());
    let out = h.out();
    resp(&out, a.addr, 200);
    let t = resp(&out, a.addr, 487);
    h.send(a.addr, &a.ack_failure(&t));
    // RFC 3261 9.1: no CANCEL before B sent a provisional response.
    no_request(&out, b_addr(), Method::Cancel);
    h.send(
        b_addr(),
        &response_text(&b_inv, 180, "Ringing", Some("bt19"), None, &[], ""),
    );
    let out = h.out();
    let cancel = req(&out, b_addr(), Method::Cancel);
    assert!(
        responses(&out, a.addr).is_empty(),
        "A hears nothing after its 487:\n{}",
        describe(&out)
    );
    h.send(
        b_addr(),
        &response_text(&cancel, 200, "OK", Some("bt19"), None, &[], ""),
    );
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            487,
            "Request Terminated",
            Some("bt19"),
            None,
            &[],
            "",
        ),
    );
    let out = h.out();
    req(&out, b_addr(), Method::Ack);
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "cancelled");
}

#[tokio::test]
async fn cancel_then_callee_silent_ends_by_timer_b() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(a.addr, &a.cancel());
    let out = h.out();
    let t = resp(&out, a.addr, 487);
    h.send(a.addr, &a.ack_failure(&t));
    h.advance(Duration::from_secs(40));
    let out = h.out();
    assert!(
        responses(&out, a.addr)
            .iter()
            .all(|r| r.status < 200 || r.status == 487),
        "{}",
        describe(&out)
    );
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "cancelled");
    assert_eq!(h.metrics.calls_active.get(), 0);
}

#[tokio::test]
async fn retransmitted_invite_places_one_call() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let text = a.invite(&[], &sdp("127.0.0.5", 30000, 1));
    h.send(a.addr, &text);
    let first = h.out();
    assert_eq!(requests(&first, b_addr(), Method::Invite).len(), 1);
    h.send(a.addr, &text);
    let out = h.out();
    assert!(requests(&out, b_addr(), Method::Invite).is_empty());
    resp(&out, a.addr, 100);
    assert_eq!(h.metrics.calls_active.get(), 1);
    assert_eq!(h.metrics.call_attempts.get(), 1);
}

/// B answers; A never ACKs. Returns after A got its first 200.
fn answered_without_ack() -> (Harness, Caller) {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("bt22"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            &sdp("127.0.0.6", 30002, 1),
        ),
    );
    let out = h.out();
    resp(&out, a.addr, 200);
    (h, a)
}

/// RFC 3261 13.3.1.4: no ACK within 64*T1 of the 2xx: the UAS ends the
/// dialog with BYE, and the gateway hangs up the callee too.
#[tokio::test]
async fn caller_never_acks_the_answer() {
    let (mut h, a) = answered_without_ack();
    h.advance(Duration::from_secs(35));
    let out = h.out();
    req(&out, b_addr(), Method::Bye);
    ok_all(&mut h, &out, b_addr(), Method::Bye);
    ok_all(&mut h, &out, a.addr, Method::Bye);
    h.out();
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "failed");
    assert_eq!(h.metrics.calls_active.get(), 0);
}

/// RFC 3261 13.3.1.4: the UAS core retransmits its 2xx (T1, doubling to
/// T2) until the ACK comes; one lost UDP datagram must not end the call.
#[tokio::test]
async fn answer_to_caller_is_retransmitted_until_acked() {
    let (mut h, mut a) = answered_without_ack();
    h.advance(Duration::from_secs(5));
    let out = h.out();
    let again: Vec<Response> = responses(&out, a.addr)
        .into_iter()
        .filter(|r| r.status == 200)
        .collect();
    assert!(
        again.len() >= 2,
        "200 retransmitted to A:\n{}",
        describe(&out)
    );
    a.learn(&again[0]);
    h.send(a.addr, &a.ack_2xx());
    h.advance(Duration::from_secs(40));
    let out = h.out();
    no_request(&out, b_addr(), Method::Bye);
    assert_eq!(h.metrics.calls_active.get(), 1);
}

#[tokio::test]
async fn session_expires_when_callee_refresher_stays_silent() {
    let mut h = Harness::new();
    let (a, _b_inv, _ok) = established(
        &mut h,
        "bt23",
        &[
            "Session-Expires: 90;refresher=uas".into(),
            "Require: timer".into(),
        ],
    );
    h.advance(Duration::from_secs(55));
    let out = h.out();
    no_request(&out, b_addr(), Method::Bye);
    no_request(&out, b_addr(), Method::Invite);
    assert!(h.cdrs().is_empty());
    h.advance(Duration::from_secs(10));
    let out = h.out();
    req(&out, b_addr(), Method::Bye);
    req(&out, a.addr, Method::Bye);
    ok_all(&mut h, &out, b_addr(), Method::Bye);
    ok_all(&mut h, &out, a.addr, Method::Bye);
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].sip_status, 408);
}

#[tokio::test]
async fn reinvite_from_callee_is_relayed_to_caller() {
    let mut h = Harness::new();
    let (a, b_inv, _ok) = established(&mut h, "bt24", &[]);
    h.send(
        b_addr(),
        &b_request_text(
            &b_inv,
            "bt24",
            "INVITE",
            1,
            &[],
            &sdp("127.0.0.6", 32002, 2),
        ),
    );
    let out = h.out();
    let re = req(&out, a.addr, Method::Invite);
    assert_eq!(re.uri.to_string(), format!("sip:caller@{}", a_addr()));
    assert_eq!(to_tag(&re.headers).as_deref(), Some(a.from_tag.as_str()));
    let (ip, port) = sdp_media(&re.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(port));
    h.send(a.addr, &a_ok(&re, &sdp("127.0.0.5", 32000, 2)));
    let out = h.out();
    let ok = resp(&out, b_addr(), 200);
    assert_eq!(cseq_method(&ok), Method::Invite);
    assert_eq!(to_tag(&ok.headers).as_deref(), b_inv.from().unwrap().tag());
    let (ip, port) = sdp_media(&ok.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(port));
    let ack = req(&out, a.addr, Method::Ack);
    assert_eq!(ack.cseq().unwrap().seq, re.cseq().unwrap().seq);
}

#[tokio::test]
async fn reinvite_refused_by_callee_keeps_the_call() {
    let mut h = Harness::new();
    let (mut a, _b_inv, _ok) = established(&mut h, "bt25", &[]);
    h.send(a.addr, &a.invite(&[], &sdp("127.0.0.5", 31000, 2)));
    let out = h.out();
    let re = req(&out, b_addr(), Method::Invite);
    h.send(
        b_addr(),
        &response_text(&re, 488, "Not Acceptable Here", None, None, &[], ""),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 488);
    assert_eq!(cseq_method(&r), Method::Invite);
    let ack = req(&out, b_addr(), Method::Ack);
    assert_eq!(
        ack.top_via().unwrap().branch(),
        re.top_via().unwrap().branch()
    );
    h.send(a.addr, &a.ack_failure(&r));
    assert!(h.out().is_empty());
    assert_eq!(h.metrics.calls_active.get(), 1);
    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    resp(&out, a.addr, 200);
    req(&out, b_addr(), Method::Bye);
}

/// RFC 3261 15.1.2: a UAS that receives a BYE answers its pending
/// requests of that dialog with 487.
#[tokio::test]
async fn bye_during_pending_reinvite_answers_it() {
    let mut h = Harness::new();
    let (mut a, _b_inv, _ok) = established(&mut h, "bt26", &[]);
    h.send(a.addr, &a.invite(&[], &sdp("127.0.0.5", 31000, 2)));
    let out = h.out();
    req(&out, b_addr(), Method::Invite);
    let reinvite_cseq = a.cseq;
    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    let bye_ok = resp(&out, a.addr, 200);
    assert_eq!(cseq_method(&bye_ok), Method::Bye);
    req(&out, b_addr(), Method::Bye);
    let pending = responses(&out, a.addr)
        .into_iter()
        .find(|r| cseq_method(r) == Method::Invite && r.status >= 300);
    let pending = pending.unwrap_or_else(|| {
        panic!(
            "the pending re-INVITE got no final response:\n{}",
            describe(&out)
        )
    });
    assert_eq!(pending.status, 487);
    assert_eq!(pending.cseq().unwrap().seq, reinvite_cseq);
}

#[tokio::test]
async fn unknown_required_extension_gets_420() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    h.send(
        a.addr,
        &a.invite(&["Require: frobnicate".into()], &sdp("127.0.0.5", 30000, 1)),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 420);
    assert_eq!(r.headers.get(&HeaderName::Unsupported), Some("frobnicate"));
    no_request(&out, b_addr(), Method::Invite);
}

#[tokio::test]
async fn info_is_relayed_end_to_end() {
    let mut h = Harness::new();
    // B2BUA semantics: the neutral owner answers a DTMF INFO itself and signals the digit on (call::bridged_tests).
    h.e.neutral_sip_calls = false;
    let (mut a, _b_inv, _ok) = established(&mut h, "bt28", &[]);
    let body = "Signal=5\r\nDuration=160\r\n";
    let text = a.in_dialog("INFO", "").replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: application/dtmf-relay\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    h.send(a.addr, &text);
    let out = h.out();
    let info = req(&out, b_addr(), Method::Info);
    assert_eq!(info.body, body.as_bytes());
    assert_eq!(
        info.headers.get(&HeaderName::ContentType),
        Some("application/dtmf-relay")
    );
    h.send(
        b_addr(),
        &response_text(&info, 200, "OK", None, None, &[], ""),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 200);
    assert_eq!(cseq_method(&r), Method::Info);
}

/// A relayed in-dialog request carries the caller's Max-Forwards less one;
/// one that arrives with 0 is refused with 483 and not relayed.
#[tokio::test]
async fn relayed_requests_count_down_max_forwards() {
    let mut h = Harness::new();
    let (mut a, _b_inv, _ok) = established(&mut h, "bt29", &[]);
    let text = a
        .in_dialog("INFO", "")
        .replace("Max-Forwards: 70\r\n", "Max-Forwards: 9\r\n");
    assert!(text.contains("Max-Forwards: 9\r\n"), "{text}");
    h.send(a.addr, &text);
    let out = h.out();
    let info = req(&out, b_addr(), Method::Info);
    assert_eq!(info.headers.get(&HeaderName::MaxForwards), Some("8"));
    h.send(
        b_addr(),
        &response_text(&info, 200, "OK", None, None, &[], ""),
    );
    h.out();

    let text = a
        .in_dialog("INFO", "")
        .replace("Max-Forwards: 70\r\n", "Max-Forwards: 0\r\n");
    h.send(a.addr, &text);
    let out = h.out();
    let r = resp(&out, a.addr, 483);
    assert_eq!(cseq_method(&r), Method::Info);
    no_request(&out, b_addr(), Method::Info);
}

/// RFC 3261 13.2.1: A's offer needs an answer in a reliable message. The
/// engine relays B's reliable 183 to A unreliably, so A's 200 must carry
/// the answer even when B's 200 (legally) does not repeat it.
#[tokio::test]
async fn early_media_and_reliable_provisional() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            183,
            "Session Progress",
            Some("bt29"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &["Require: 100rel".into(), "RSeq: 1".into()],
            &sdp("127.0.0.6", 30002, 1),
        ),
    );
    let out = h.out();
    let p = resp(&out, a.addr, 183);
    assert!(
        p.headers.get(&HeaderName::RSeq).is_none(),
        "A's 183 is unreliable"
    );
    let (ip, port) = sdp_media(&p.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(port));
    let prack = req(&out, b_addr(), Method::Prack);
    assert_eq!(prack.headers.get(&HeaderName::RAck), Some("1 1 INVITE"));
    h.send(
        b_addr(),
        &response_text(&prack, 200, "OK", None, None, &[], ""),
    );
    assert!(h.out().is_empty());
    // The 200 without SDP (the answer came in the 183) still connects A.
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("bt29"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            "",
        ),
    );
    let out = h.out();
    let ok = resp(&out, a.addr, 200);
    req(&out, b_addr(), Method::Ack);
    assert_eq!(ok.body, p.body, "A's 200 repeats the answer it already has");
}

#[tokio::test]
async fn callee_demanding_auth_becomes_503_and_stray_requests() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            401,
            "Unauthorized",
            Some("bt30"),
            None,
            &["WWW-Authenticate: Digest realm=\"x\", nonce=\"n\"".into()],
            "",
        ),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 503);
    assert!(r.headers.get(&HeaderName::WwwAuthenticate).is_none());
    assert!(r.reason.contains("authentication"), "{}", r.reason);

    // CANCEL for nothing, out-of-dialog OPTIONS.
    let stray = Caller::new(a_addr(), "9999", "5551234");
    let mut c = stray.cancel();
    c = c.replace("branch=;", &format!("branch={};", branch()));
    h.send(a.addr, &c);
    let out = h.out();
    resp(&out, a.addr, 481);
    h.send(
        a.addr,
        &request_text(
            "OPTIONS",
            "sip:127.0.0.1",
            a.addr,
            &branch(),
            "<sip:x@127.0.0.1>;tag=o1",
            "<sip:127.0.0.1>",
            "opt@x",
            1,
            &[],
            "",
        ),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 200);
    assert!(r
        .headers
        .get(&HeaderName::Allow)
        .unwrap()
        .contains("INVITE"));
}

#[tokio::test]
async fn digest_replay_on_invite_is_refused_and_next_nc_accepted() {
    let mut h = Harness::new();
    let ua = addr("127.0.0.1:40031");
    let mut a = Caller::new(ua, "1001", "5551234");
    h.send(ua, &a.invite(&[], ""));
    let ch = resp(&h.out(), ua, 407);
    h.send(ua, &a.ack_failure(&ch));
    let pa = ch
        .headers
        .get(&HeaderName::ProxyAuthenticate)
        .unwrap()
        .to_string();
    let cred = digest(&pa, "1001", "pass1001", "INVITE", &a.ruri, 1);
    h.send(ua, &a.invite(&[format!("Proxy-Authorization: {cred}")], ""));
    let out = h.out();
    req(&out, b_addr(), Method::Invite);

    // A new call replaying the same credentials.
    let mut a2 = Caller::new(ua, "1001", "5551234");
    h.send(
        ua,
        &a2.invite(&[format!("Proxy-Authorization: {cred}")], ""),
    );
    let out = h.out();
    no_request(&out, b_addr(), Method::Invite);
    assert!(responses(&out, ua)
        .iter()
        .any(|r| r.status == 407 || r.status == 403));

    // The next nonce count on the same nonce is fine.
    let mut a3 = Caller::new(ua, "1001", "5551234");
    let cred2 = digest(&pa, "1001", "pass1001", "INVITE", &a3.ruri, 2);
    h.send(
        ua,
        &a3.invite(&[format!("Proxy-Authorization: {cred2}")], ""),
    );
    let out = h.out();
    req(&out, b_addr(), Method::Invite);

    // 1001's credentials used for 1002's From: refused.
    let mut a4 = Caller::new(ua, "1002", "5551234");
    let cred3 = digest(&pa, "1001", "pass1001", "INVITE", &a4.ruri, 3);
    h.send(
        ua,
        &a4.invite(&[format!("Proxy-Authorization: {cred3}")], ""),
    );
    let out = h.out();
    no_request(&out, b_addr(), Method::Invite);
    assert!(responses(&out, ua)
        .iter()
        .any(|r| r.status == 403 || r.status == 407));
}

/// The engine gets its time from the runtime: a CDR's times follow the
/// clock passed in, so a 60 s call lasts 60 s even on a virtual clock.
#[tokio::test]
async fn cdr_duration_follows_the_engine_clock() {
    let dp = gateway_dialplan::SAMPLE_DIALPLAN
        .replace("max_duration_secs = 14400", "max_duration_secs = 60");
    let mut h = Harness::with(test_config(), &dp);
    established(&mut h, "bt32", &[]);
    h.advance(Duration::from_secs(61));
    h.out();
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert!(
        (59_000..=61_000).contains(&cdrs[0].duration_ms),
        "duration {} ms",
        cdrs[0].duration_ms
    );
}

#[tokio::test]
async fn media_ports_are_released_when_a_call_ends() {
    // Room for exactly one call: two RTP/RTCP pairs.
    let mut h = Harness::with_ports(4, test_config(), gateway_dialplan::SAMPLE_DIALPLAN);
    let (mut a, _b_inv, _ok) = established(&mut h, "bt34", &[]);

    let mut a2 = Caller::new(addr("127.0.0.1:40002"), "9998", "5551234");
    h.send(a2.addr, &a2.invite(&[], &sdp("127.0.0.5", 30010, 1)));
    let out = h.out();
    let r = resp(&out, a2.addr, 503);
    assert!(r.reason.contains("Media relay"), "{}", r.reason);
    no_request(&out, b_addr(), Method::Invite);
    h.send(a2.addr, &a2.ack_failure(&r));

    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    ok_all(&mut h, &out, b_addr(), Method::Bye);
    // The relay task frees its ports when it sees the session dropped.
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    let mut a3 = Caller::new(addr("127.0.0.1:40003"), "9997", "5551234");
    let mut placed = false;
    for _ in 0..100 {
        h.send(a3.addr, &a3.invite(&[], &sdp("127.0.0.5", 30020, 1)));
        let out = h.out();
        if !requests(&out, b_addr(), Method::Invite).is_empty() {
            placed = true;
            break;
        }
        let r = resp(&out, a3.addr, 503);
        h.send(a3.addr, &a3.ack_failure(&r));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(placed, "ports of the finished call were never released");
}

#[tokio::test]
async fn caller_session_timer_refreshed_by_caller_and_expiring() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let st = [
        "Supported: timer".to_string(),
        "Session-Expires: 90;refresher=uac".to_string(),
    ];
    h.send(a.addr, &a.invite(&st, &sdp("127.0.0.5", 30000, 1)));
    let out = h.out();
    let b_inv = req(&out, b_addr(), Method::Invite);
    let ok = answer(
        &mut h,
        &mut a,
        &b_inv,
        "bt35",
        &sdp("127.0.0.6", 30002, 1),
        &[],
    );
    let se = ok
        .headers
        .get(&HeaderName::SessionExpires)
        .expect("Session-Expires in A's 200");
    assert!(se.starts_with("90") && se.contains("refresher=uac"), "{se}");
    assert!(ok
        .headers
        .get_all(&HeaderName::Require)
        .any(|v| v.contains("timer")));

    // A refreshes twice with offerless re-INVITEs: the call lives on.
    for _ in 0..2 {
        h.advance(Duration::from_secs(40));
        assert!(h.out().is_empty());
        h.send(a.addr, &a.invite(&st, ""));
        let out = h.out();
        let r = resp(&out, a.addr, 200);
        assert!(r.headers.get(&HeaderName::SessionExpires).is_some());
        no_request(&out, b_addr(), Method::Invite);
        h.send(a.addr, &a.ack_2xx());
    }
    // Then A falls silent: BYE both legs at 90 - 30 s after the last refresh.
    h.advance(Duration::from_secs(55));
    let out = h.out();
    no_request(&out, a.addr, Method::Bye);
    h.advance(Duration::from_secs(10));
    let out = h.out();
    req(&out, a.addr, Method::Bye);
    req(&out, b_addr(), Method::Bye);
    assert_eq!(h.cdrs().len(), 1);
}

#[tokio::test]
async fn registration_expires_in_virtual_time() {
    let mut h = Harness::new();
    let ua = addr("127.0.0.1:40036");
    let cid = "reg-exp";
    h.send(
        ua,
        &register_text(
            "1002",
            ua,
            cid,
            1,
            "<sip:1002@127.0.0.1:40036>",
            Some(60),
            None,
        ),
    );
    let c = resp(&h.out(), ua, 401);
    let www = c
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .to_string();
    let cred = digest(&www, "1002", "pass1002", "REGISTER", "sip:127.0.0.1", 1);
    h.send(
        ua,
        &register_text(
            "1002",
            ua,
            cid,
            2,
            "<sip:1002@127.0.0.1:40036>",
            Some(60),
            Some(&cred),
        ),
    );
    let ok = resp(&h.out(), ua, 200);
    assert!(ok
        .headers
        .get(&HeaderName::Contact)
        .unwrap()
        .contains("expires=60"));
    h.store_ops();

    let mut a = Caller::new(a_addr(), "9999", "room-1002");
    h.send(a.addr, &a.invite(&[], ""));
    let out = h.out();
    let b = req(&out, ua, Method::Invite);
    assert_eq!(b.uri.to_string(), "sip:1002@127.0.0.1:40036");
    h.send(
        ua,
        &response_text(&b, 486, "Busy Here", Some("x"), None, &[], ""),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 486);
    h.send(a.addr, &a.ack_failure(&r));

    h.advance(Duration::from_secs(75));
    h.out();
    let ops = h.store_ops();
    assert!(
        ops.iter().any(|op| matches!(op, StoreOp::Binding(BindingChange::Remove { endpoint_id, .. }) if endpoint_id == "1002")),
        "{ops:?}"
    );
    let mut a = Caller::new(a_addr(), "9999", "1002");
    h.send(a.addr, &a.invite(&[], ""));
    resp(&h.out(), a.addr, 480);
}

#[tokio::test]
async fn late_cancel_and_retransmitted_2xx_leave_the_call_alone() {
    let mut h = Harness::new();
    let (mut a, b_inv, _ok) = established(&mut h, "bt37", &[]);
    // CANCEL after the answer: 200 for the CANCEL, nothing else.
    h.send(a.addr, &a.cancel());
    let out = h.out();
    let r = resp(&out, a.addr, 200);
    assert_eq!(cseq_method(&r), Method::Cancel);
    no_request(&out, b_addr(), Method::Cancel);
    no_request(&out, b_addr(), Method::Bye);
    // B retransmits its 200: re-ACKed, A hears nothing.
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("bt37"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            &sdp("127.0.0.6", 30002, 1),
        ),
    );
    let out = h.out();
    req(&out, b_addr(), Method::Ack);
    assert!(responses(&out, a.addr).is_empty(), "{}", describe(&out));
    // An in-dialog request with an old CSeq is refused.
    a.cseq = 4;
    h.send(a.addr, &a.in_dialog("INFO", ""));
    let out = h.out();
    let info = req(&out, b_addr(), Method::Info);
    h.send(
        b_addr(),
        &response_text(&info, 200, "OK", None, None, &[], ""),
    );
    resp(&h.out(), a.addr, 200);
    a.cseq = 2;
    h.send(a.addr, &a.in_dialog("INFO", ""));
    let out = h.out();
    let r = resp(&out, a.addr, 500);
    assert_eq!(cseq_method(&r), Method::Info);
    no_request(&out, b_addr(), Method::Info);
    assert_eq!(h.metrics.calls_active.get(), 1);
}

#[tokio::test]
async fn callee_sdp_without_address_fails_the_call_cleanly() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    let bad = "v=0\r\no=- 1 1 IN IP4 127.0.0.6\r\ns=-\r\nt=0 0\r\nm=audio 30002 RTP/AVP 0\r\n";
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("bt38"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            bad,
        ),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 488);
    assert!(to_tag(&r.headers).is_some());
    req(&out, b_addr(), Method::Ack);
    let bye = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye.headers).as_deref(), Some("bt38"));
    h.send(a.addr, &a.ack_failure(&r));
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "failed");
    assert_eq!(h.metrics.calls_active.get(), 0);
}

#[tokio::test]
async fn glare_the_other_way_round() {
    let mut h = Harness::new();
    let (mut a, b_inv, _ok) = established(&mut h, "bt39", &[]);
    h.send(
        b_addr(),
        &b_request_text(
            &b_inv,
            "bt39",
            "INVITE",
            1,
            &[],
            &sdp("127.0.0.6", 32002, 2),
        ),
    );
    let out = h.out();
    let re = req(&out, a.addr, Method::Invite);
    h.send(a.addr, &a.invite(&[], &sdp("127.0.0.5", 31000, 2)));
    let out = h.out();
    let r = resp(&out, a.addr, 491);
    assert_eq!(r.cseq().unwrap().seq, a.cseq);
    no_request(&out, b_addr(), Method::Invite);
    h.send(a.addr, &a.ack_failure(&r));
    h.send(a.addr, &a_ok(&re, &sdp("127.0.0.5", 32000, 2)));
    let out = h.out();
    resp(&out, b_addr(), 200);
    req(&out, a.addr, Method::Ack);
}

#[tokio::test]
async fn two_calls_are_independent() {
    let mut h = Harness::new();
    let (mut a1, _b1, _) = established(&mut h, "bt40a", &[]);
    let mut a2 = Caller::new(addr("127.0.0.1:40002"), "9998", "5551235");
    let b2 = place_call(&mut h, &mut a2, b_addr(), &sdp("127.0.0.5", 30010, 1));
    answer(
        &mut h,
        &mut a2,
        &b2,
        "bt40b",
        &sdp("127.0.0.6", 30012, 1),
        &[],
    );
    assert_eq!(h.metrics.calls_active.get(), 2);
    h.send(a1.addr, &a1.in_dialog("BYE", ""));
    let out = h.out();
    let bye = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye.headers).as_deref(), Some("bt40a"));
    no_request(&out, a2.addr, Method::Bye);
    assert_eq!(h.metrics.calls_active.get(), 1);
    h.send(a2.addr, &a2.in_dialog("BYE", ""));
    let out = h.out();
    let bye = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye.headers).as_deref(), Some("bt40b"));
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 2);
    assert_eq!(cdrs[0].call_id, a1.call_id);
    assert_eq!(cdrs[1].call_id, a2.call_id);
}

#[tokio::test]
async fn second_fork_answer_is_acked_and_hung_up() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    answer(
        &mut h,
        &mut a,
        &b_inv,
        "fork1",
        &sdp("127.0.0.6", 30002, 1),
        &[],
    );
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("fork2"),
            Some("<sip:other@127.0.0.1:5070>"),
            &[],
            &sdp("127.0.0.7", 30004, 1),
        ),
    );
    let out = h.out();
    let ack = req(&out, b_addr(), Method::Ack);
    assert_eq!(to_tag(&ack.headers).as_deref(), Some("fork2"));
    let bye = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye.headers).as_deref(), Some("fork2"));
    assert_eq!(bye.uri.to_string(), "sip:other@127.0.0.1:5070");
    assert!(responses(&out, a.addr).is_empty());
    h.send(
        b_addr(),
        &response_text(&bye, 200, "OK", None, None, &[], ""),
    );
    h.out();
    // The call stays with the first fork.
    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    let bye = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye.headers).as_deref(), Some("fork1"));
    assert_eq!(h.cdrs().len(), 1);
}

/// A video room adds video to an audio call: the new m-line must be
/// anchored like the first, or media would bypass the gateway.
#[tokio::test]
async fn reinvite_adding_video_is_anchored() {
    let mut h = Harness::new();
    let (mut a, _b_inv, _ok) = established(&mut h, "bt42", &[]);
    let av = format!(
        "{}m=video 30100 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n",
        sdp("127.0.0.5", 30000, 2)
    );
    h.send(a.addr, &a.invite(&[], &av));
    let out = h.out();
    let re = req(&out, b_addr(), Method::Invite);
    let text = String::from_utf8_lossy(&re.body).to_string();
    assert_eq!(text.matches("m=").count(), 2, "{text}");
    assert!(!c_lines(&re.body).contains("127.0.0.5"), "{text}");
    let video_port: u16 = text
        .lines()
        .find_map(|l| l.strip_prefix("m=video "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    assert!(h.in_range(video_port), "{text}");
}

#[tokio::test]
async fn initial_audio_and_video_are_both_anchored() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let av = format!(
        "{}m=video 30100 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n",
        sdp("127.0.0.5", 30000, 1)
    );
    let b_inv = place_call(&mut h, &mut a, b_addr(), &av);
    let text = String::from_utf8_lossy(&b_inv.body).to_string();
    let ports: Vec<u16> = text
        .lines()
        .filter_map(|l| l.strip_prefix("m="))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    assert_eq!(ports.len(), 2);
    assert!(ports.iter().all(|p| h.in_range(*p)), "{text}");
    assert_ne!(ports[0], ports[1]);
    assert!(!c_lines(&b_inv.body).contains("127.0.0.5"), "{text}");
}

/// RFC 3261 14.2: a re-INVITE that arrives while our own INVITE in that
/// dialog is pending gets 491.
#[tokio::test]
async fn glare_with_our_session_refresh_gets_491() {
    let mut h = Harness::new();
    let (a, b_inv, _ok) = established(
        &mut h,
        "bt44",
        &["Session-Expires: 90;refresher=uac".into()],
    );
    h.advance(Duration::from_secs(46));
    let out = h.out();
    let refresh = req(&out, b_addr(), Method::Invite);
    h.send(
        b_addr(),
        &response_text(&refresh, 100, "Trying", None, None, &[], ""),
    );
    h.send(
        b_addr(),
        &b_request_text(
            &b_inv,
            "bt44",
            "INVITE",
            1,
            &[],
            &sdp("127.0.0.6", 32002, 2),
        ),
    );
    let out = h.out();
    no_request(&out, a.addr, Method::Invite);
    resp(&out, b_addr(), 491);
}

/// RFC 3261 14.1: no new INVITE in a dialog while another is in progress.
#[tokio::test]
async fn no_refresh_while_a_reinvite_is_pending() {
    let mut h = Harness::new();
    let (mut a, _b_inv, _ok) = established(
        &mut h,
        "bt45",
        &["Session-Expires: 90;refresher=uac".into()],
    );
    h.advance(Duration::from_secs(44));
    assert!(h.out().is_empty());
    h.send(a.addr, &a.invite(&[], &sdp("127.0.0.5", 31000, 2)));
    let out = h.out();
    let re = req(&out, b_addr(), Method::Invite);
    h.send(
        b_addr(),
        &response_text(&re, 100, "Trying", None, None, &[], ""),
    );
    h.advance(Duration::from_secs(3));
    let out = h.out();
    let others: Vec<Request> = requests(&out, b_addr(), Method::Invite)
        .into_iter()
        .filter(|r| r.top_via().unwrap().branch() != re.top_via().unwrap().branch())
        .collect();
    assert!(
        others.is_empty(),
        "second INVITE while one is pending:\n{}",
        describe(&out)
    );
}

/// Carriers send SDP with ISUP in multipart/mixed (RFC 3204): the SDP part
/// is what gets anchored.
#[tokio::test]
async fn multipart_sdp_with_isup_from_a_trunk() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let sdp_part = sdp("127.0.0.5", 30000, 1);
    let body = format!(
        "--xyz\r\nContent-Type: application/sdp\r\n\r\n{sdp_part}\r\n--xyz\r\n\
         Content-Type: application/isup;version=itu-t92+\r\nContent-Disposition: signal;handling=optional\r\n\r\n\
         \x01\x00\x49\x00\r\n--xyz--\r\n"
    );
    let text = a.invite(&[], "").replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: multipart/mixed;boundary=xyz\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    h.send(a.addr, &text);
    let out = h.out();
    let b_inv = req(&out, b_addr(), Method::Invite);
    let b_text = String::from_utf8_lossy(&b_inv.body).to_string();
    assert!(!c_lines(&b_inv.body).contains("127.0.0.5"), "{b_text}");
    assert!(b_text.contains("c=IN IP4 127.0.0.1"), "{b_text}");
}

/// A body that is not SDP is no offer: the call proceeds as a late offer
/// instead of failing SDP parsing.
#[tokio::test]
async fn non_sdp_body_is_not_an_offer() {
    let mut h = Harness::new();
    // B2BUA semantics: the neutral owner offers B its own SDP (call::bridged_tests).
    h.e.neutral_sip_calls = false;
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let body = "<presence/>";
    let text = a.invite(&[], "").replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: application/pidf+xml\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    h.send(a.addr, &text);
    let out = h.out();
    let b_inv = req(&out, b_addr(), Method::Invite);
    assert_ne!(
        b_inv.headers.get(&HeaderName::ContentType),
        Some("application/sdp")
    );
}

/// RFC 4028 7.2/9: a 2xx to a refresh without Session-Expires tells the
/// UAC the session timer is off. A caller that refreshes with re-INVITEs
/// carrying SDP (relayed to B) must still see Session-Expires in the 2xx,
/// or it stops refreshing and the gateway's own timer ends the call.
#[tokio::test]
async fn relayed_refresh_keeps_the_callers_session_timer() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let st = [
        "Supported: timer".to_string(),
        "Session-Expires: 90;refresher=uac".to_string(),
    ];
    h.send(a.addr, &a.invite(&st, &sdp("127.0.0.5", 30000, 1)));
    let out = h.out();
    let b_inv = req(&out, b_addr(), Method::Invite);
    answer(
        &mut h,
        &mut a,
        &b_inv,
        "bt49",
        &sdp("127.0.0.6", 30002, 1),
        &[],
    );
    h.advance(Duration::from_secs(40));
    h.send(a.addr, &a.invite(&st, &sdp("127.0.0.5", 30000, 2)));
    let out = h.out();
    let re = req(&out, b_addr(), Method::Invite);
    h.send(
        b_addr(),
        &response_text(&re, 200, "OK", None, None, &[], &sdp("127.0.0.6", 30002, 2)),
    );
    let out = h.out();
    let ok = resp(&out, a.addr, 200);
    let se = ok
        .headers
        .get(&HeaderName::SessionExpires)
        .unwrap_or_else(|| panic!("no Session-Expires in the 200 to A's refresh"));
    assert!(se.contains("refresher=uac"), "{se}");
    assert!(ok
        .headers
        .get_all(&HeaderName::Require)
        .any(|v| v.contains("timer")));
}

/// A display name whose text begins with a quote character must still be
/// re-quoted on leg B, or B gets an unparseable From.
#[tokio::test]
async fn display_name_starting_with_a_quote_is_requoted() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    a.from = r#""\"Boss\" office" <sip:9999@127.0.0.1>"#.to_string();
    h.send(a.addr, &a.invite(&[], &sdp("127.0.0.5", 30000, 1)));
    let out = h.out();
    let b_inv = req(&out, b_addr(), Method::Invite);
    let from = b_inv.from().expect("B's From parses");
    assert_eq!(from.display.as_deref(), Some(r#""Boss" office"#));
    assert!(h.unparsed.is_empty());
}

#[tokio::test]
async fn display_names_reach_leg_b() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    a.from = "Phòng họp số 1 <sip:9999@127.0.0.1>".to_string();
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    let from = b_inv.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("Phòng họp số 1"));
    assert_eq!(from.uri.user.as_deref(), Some("9999"));
}

#[tokio::test]
async fn register_with_an_old_cseq_changes_nothing() {
    let mut h = Harness::new();
    let ua = addr("127.0.0.1:40050");
    let cid = "reg-cseq";
    let c1 = "<sip:1001@127.0.0.1:40050>";
    h.send(ua, &register_text("1001", ua, cid, 5, c1, Some(600), None));
    let c = resp(&h.out(), ua, 401);
    let www = c
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .to_string();
    let cred = digest(&www, "1001", "pass1001", "REGISTER", "sip:127.0.0.1", 1);
    h.send(
        ua,
        &register_text("1001", ua, cid, 6, c1, Some(600), Some(&cred)),
    );
    resp(&h.out(), ua, 200);
    h.store_ops();
    // A delayed copy of an older REGISTER (same Call-ID, lower CSeq).
    let cred = digest(&www, "1001", "pass1001", "REGISTER", "sip:127.0.0.1", 2);
    h.send(
        ua,
        &register_text("1001", ua, cid, 4, c1, Some(0), Some(&cred)),
    );
    let out = h.out();
    assert!(
        responses(&out, ua).iter().all(|r| r.status != 200),
        "{}",
        describe(&out)
    );
    assert!(h.store_ops().is_empty());
    let mut a = Caller::new(a_addr(), "9999", "1001");
    h.send(a.addr, &a.invite(&[], ""));
    req(&h.out(), ua, Method::Invite);
}

/// RFC 3261 15 and 15.1.2: the caller may BYE an early dialog; the
/// gateway answers the pending INVITE with 487, cancels B, and the call
/// was never answered.
#[tokio::test]
async fn bye_on_early_dialog_ends_the_attempt() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(&b_inv, 180, "Ringing", Some("bt51"), None, &[], ""),
    );
    let out = h.out();
    let ringing = resp(&out, a.addr, 180);
    a.remote_tag = to_tag(&ringing.headers);
    let invite_cseq = a.cseq;
    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    let ok = resp(&out, a.addr, 200);
    assert_eq!(cseq_method(&ok), Method::Bye);
    req(&out, b_addr(), Method::Cancel);
    let t = responses(&out, a.addr)
        .into_iter()
        .find(|r| cseq_method(r) == Method::Invite && r.status >= 300)
        .unwrap_or_else(|| panic!("A's INVITE left pending:\n{}", describe(&out)));
    assert_eq!(t.status, 487);
    assert_eq!(t.cseq().unwrap().seq, invite_cseq);
    // B confirms the CANCEL with 487 (a 200 crossing the CANCEL would
    // still need ACK and BYE); the CDR may already be written.
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            487,
            "Request Terminated",
            Some("bt51"),
            None,
            &[],
            "",
        ),
    );
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_ne!(cdrs[0].outcome, "answered", "{:?}", cdrs[0]);
    assert!(cdrs[0].answered_at_ms.is_none());
}

// ---------------------------------------------------------------- qualify

/// Registered contacts are pinged with OPTIONS; one that answers stays, one
/// that never answers (Timer F) loses its binding, in memory and in the store.
#[tokio::test]
async fn qualify_drops_contacts_that_stop_answering() {
    let mut cfg = test_config();
    cfg.qualify_interval = Duration::from_secs(30);
    let mut h = Harness::with(cfg, gateway_dialplan::SAMPLE_DIALPLAN);
    let live = addr("127.0.0.1:40011");
    let silent = addr("127.0.0.1:40012");
    register(
        &mut h,
        "1001",
        "pass1001",
        live,
        "<sip:1001@127.0.0.1:40011>",
    );
    register(
        &mut h,
        "1002",
        "pass1002",
        silent,
        "<sip:1002@127.0.0.1:40012>",
    );
    h.out();
    h.store_ops();
    let active = |h: &Harness| {
        h.metrics
            .engine
            .registrations_active
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(active(&h), 2);

    // 80 s of virtual time: the live contact answers every ping, the silent
    // one never does, so its first ping's Timer F (64*T1 = 32 s) runs out.
    let mut silent_pinged = false;
    for _ in 0..8 {
        h.advance(Duration::from_secs(10));
        let out = h.out();
        silent_pinged |= !requests(&out, silent, Method::Options).is_empty();
        for ping in requests(&out, live, Method::Options) {
            assert_eq!(ping.uri.to_string(), "sip:1001@127.0.0.1:40011");
            h.send(live, &response_text(&ping, 200, "OK", None, None, &[], ""));
        }
    }
    assert!(silent_pinged);
    let removed: Vec<String> = h
        .store_ops()
        .into_iter()
        .filter_map(|op| match op {
            StoreOp::Binding(BindingChange::Remove { endpoint_id, .. }) => Some(endpoint_id),
            _ => None,
        })
        .collect();
    assert_eq!(removed, vec!["1002".to_string()]);
    assert_eq!(active(&h), 1);
}

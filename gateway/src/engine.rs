//! The SIP engine: one task owns the transaction layer, the registrar and
//! every call, so call state needs no lock. The runtime feeds it parsed
//! messages and timeouts; it answers through the transaction layer, whose
//! output the runtime puts on the wire.
//!
//! Requests are dispatched here (REGISTER, OPTIONS, new INVITEs, in-dialog
//! requests, ACKs and CANCELs by our local tag or their INVITE's
//! transaction, to a meeting or a call); the call logic itself is in
//! `call/`, `meeting/` and `h323/`.

use crate::call::Side;
use crate::metrics::{MethodLabel, Metrics};
use crate::registrar::{BindingChange, Refusal, Registrar, RegistrarLimits};
use crate::store_writer::StoreOp;
use gateway_dialplan::Dialplan;
use gateway_media::MediaRelay;
use gateway_sip::auth::{AuthError, DigestChallenger, NonceCounts};
use gateway_sip::headers::{NameAddr, Via};
use gateway_sip::message::{HeaderName, Message, Method, Request, Response};
use gateway_sip::parse::parse_message;
use gateway_sip::transaction::{
    make_response, CancelTarget, ClientTxId, PeerAddr, ServerTxId, TimerConfig, TransactionLayer,
    Transport, TxEvent, TxId,
};
use rand::RngCore;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO, PRACK";
pub const SUPPORTED: &str = "timer, 100rel";
pub const USER_AGENT: &str = concat!("gateway/", env!("CARGO_PKG_VERSION"));

/// Settings the engine needs from the configuration.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub advertised_ip: IpAddr,
    /// Port per transport for Via/Contact (from the bound listeners).
    pub udp_port: Option<u16>,
    pub tcp_port: Option<u16>,
    pub tls_port: Option<u16>,
    pub realm: Option<String>,
    pub limits: RegistrarLimits,
    pub qualify_interval: Duration,
    pub ring_timeout: Duration,
    pub nonce_lifetime_secs: u64,
    /// Challenge algorithms, most preferred first.
    pub digest_algorithms: Vec<gateway_sip::auth::Algorithm>,
}

impl EngineConfig {
    /// `host:port` of our listener for `transport` (the UDP port when that
    /// transport has no listener of its own).
    pub(crate) fn sent_by(&self, transport: Transport) -> String {
        let port = match transport {
            Transport::Udp => self.udp_port,
            Transport::Tcp => self.tcp_port,
            Transport::Tls => self.tls_port,
        }
        .or(self.udp_port)
        .unwrap_or(5060);
        host_port(self.advertised_ip, port)
    }
}

/// Timers the engine itself keeps (transaction timers live in the layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EngineTimer {
    /// A meeting leg's 2xx may need retransmitting (no ACK yet).
    MeetingAnswer(u64),
    /// A meeting leg reached its maximum duration.
    MeetingMaxDuration(u64),
    /// A bridged call's SIP leg may need its 2xx retransmitted (call, side).
    BridgedAnswer(u64, u8),
    /// A bridged call's SIP leg's session timer (call, side): refresh or expire.
    BridgedSession(u64, u8),
    /// A bridged call's callee has not answered in time.
    BridgedRing(u64),
    BridgedMaxDuration(u64),
    /// Expire registrations, send qualify pings.
    Housekeeping,
}

pub struct Engine {
    pub(crate) cfg: EngineConfig,
    pub(crate) tx: TransactionLayer,
    pub(crate) registrar: Registrar,
    pub(crate) dialplan: Arc<Dialplan>,
    pub(crate) challenger: DigestChallenger,
    pub(crate) nonce_counts: NonceCounts,
    pub(crate) media: MediaRelay,
    pub(crate) store: mpsc::UnboundedSender<StoreOp>,
    pub(crate) metrics: Metrics,
    /// Meetings in progress, by number.
    pub(crate) meetings: HashMap<String, crate::meeting::Meeting>,
    /// Our To tag of a meeting leg → the leg.
    pub(crate) meeting_tags: HashMap<String, crate::meeting::MeetingLegRef>,
    /// Meeting leg id → its meeting's number (for the leg's timers).
    pub(crate) meeting_legs: HashMap<u64, String>,
    /// Digits the relay takes out of calls' media (see `on_in_band_dtmf`).
    pub(crate) dtmf_tx: mpsc::UnboundedSender<gateway_media::dtmf_tap::DtmfDigit>,
    dtmf_rx: Option<mpsc::UnboundedReceiver<gateway_media::dtmf_tap::DtmfDigit>>,
    /// Where meetings marked `record` write their files.
    pub(crate) recordings_dir: std::path::PathBuf,
    timers: BinaryHeap<Reverse<(Instant, EngineTimer)>>,
    next_call_id: u64,
    /// Qualify OPTIONS in flight: tx → (endpoint, contact).
    qualify: HashMap<ClientTxId, (String, String)>,
    pub(crate) rng: rand::rngs::StdRng,
    /// The instant of the input being handled (the runtime's clock).
    pub(crate) now: Instant,
    /// Who may register and call, from the admin registry.
    pub(crate) vetting: crate::vetting::VettingGate,
    /// Calls owned by the neutral call model (legs and a bridge).
    pub(crate) bridged: crate::call::bridged::BridgedCalls,
    /// SDES keys may travel over UDP/TCP signalling (see `Config`).
    pub(crate) sdes_without_tls: bool,
    /// The gatekeeper and the H.323 call-signalling connections.
    pub(crate) h323: crate::h323::H323State,
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn transport_of(kind: gateway_transport::TransportKind) -> Transport {
    match kind {
        gateway_transport::TransportKind::Udp => Transport::Udp,
        gateway_transport::TransportKind::Tcp => Transport::Tcp,
        gateway_transport::TransportKind::Tls => Transport::Tls,
    }
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: EngineConfig,
        dialplan: Arc<Dialplan>,
        media: MediaRelay,
        store: mpsc::UnboundedSender<StoreOp>,
        metrics: Metrics,
        now: Instant,
    ) -> Engine {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::from_os_rng();
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        let realm = cfg
            .realm
            .clone()
            .unwrap_or_else(|| dialplan.gateway().realm.clone());
        let mut tx = TransactionLayer::new(TimerConfig::default());
        tx.set_auto_trying(true);
        let (dtmf_tx, dtmf_rx) = mpsc::unbounded_channel();
        let mut e = Engine {
            challenger: DigestChallenger::new(realm, secret, cfg.nonce_lifetime_secs),
            nonce_counts: NonceCounts::new(100_000),
            cfg,
            tx,
            registrar: Registrar::new(),
            dialplan,
            media,
            store,
            metrics,
            meetings: HashMap::new(),
            meeting_tags: HashMap::new(),
            meeting_legs: HashMap::new(),
            recordings_dir: std::path::PathBuf::from("data/recordings"),
            dtmf_tx,
            dtmf_rx: Some(dtmf_rx),
            timers: BinaryHeap::new(),
            next_call_id: 1,
            qualify: HashMap::new(),
            rng,
            now,
            vetting: Default::default(),
            bridged: Default::default(),
            sdes_without_tls: false,
            h323: Default::default(),
        };
        e.schedule(now + Duration::from_secs(5), EngineTimer::Housekeeping);
        e
    }

    /// Swap in a new dialplan snapshot. Calls in flight keep the decision
    /// they were routed with; new calls and registrations use this one.
    pub fn set_dialplan(&mut self, dialplan: Arc<Dialplan>) {
        self.dialplan = dialplan;
    }

    /// The digits the relay reports; the runtime feeds them back to
    /// [`Engine::on_in_band_dtmf`]. Taken once.
    pub fn take_dtmf_events(
        &mut self,
    ) -> Option<mpsc::UnboundedReceiver<gateway_media::dtmf_tap::DtmfDigit>> {
        self.dtmf_rx.take()
    }

    pub fn set_recordings_dir(&mut self, dir: std::path::PathBuf) {
        self.recordings_dir = dir;
    }

    pub fn registrar_mut(&mut self) -> &mut Registrar {
        &mut self.registrar
    }

    /// The vetting gate: replace its snapshot, apply announced changes,
    /// attach the device observer (see `vetting.rs`).
    pub fn vetting_mut(&mut self) -> &mut crate::vetting::VettingGate {
        &mut self.vetting
    }

    pub(crate) fn schedule(&mut self, at: Instant, t: EngineTimer) {
        self.timers.push(Reverse((at, t)));
        // Timers are deleted lazily, and a call's max-duration timer lies
        // hours ahead: drop the entries of ended calls once they outnumber
        // the live ones, so the heap stays proportional to calls in progress.
        let live = self.meeting_legs.len() + self.bridged.calls.len();
        if self.timers.len() > 1024 + 8 * live {
            let legs = &self.meeting_legs;
            let bridged = &self.bridged.calls;
            self.timers.retain(|Reverse((_, t))| match *t {
                EngineTimer::MeetingAnswer(l) | EngineTimer::MeetingMaxDuration(l) => {
                    legs.contains_key(&l)
                }
                EngineTimer::BridgedAnswer(c, _)
                | EngineTimer::BridgedSession(c, _)
                | EngineTimer::BridgedRing(c)
                | EngineTimer::BridgedMaxDuration(c) => bridged.contains_key(&c),
                EngineTimer::Housekeeping => true,
            });
        }
    }

    pub(crate) fn alloc_call_id(&mut self) -> u64 {
        let id = self.next_call_id;
        self.next_call_id += 1;
        id
    }

    pub(crate) fn random_hex(&mut self, bytes: usize) -> String {
        let mut b = [0u8; 16];
        let n = bytes.min(16);
        self.rng.fill_bytes(&mut b[..n]);
        hex_encode(&b[..n])
    }

    pub(crate) fn new_branch(&mut self) -> String {
        let mut b = [0u8; 10];
        self.rng.fill_bytes(&mut b);
        gateway_sip::transaction::new_branch(&b)
    }

    /// `host:port` we put in Via for `transport`.
    pub(crate) fn sent_by(&self, transport: Transport) -> String {
        self.cfg.sent_by(transport)
    }

    /// Our Contact for a dialog over `transport`. Over TLS a `sip:` URI with
    /// `transport=tls` (RFC 3261 §12.1.1 asks for `sips:` only when the
    /// request used one; libre-based phones such as baresip cannot route to
    /// a `sips:` Contact at all).
    pub(crate) fn contact(&self, transport: Transport) -> String {
        let hp = self.sent_by(transport);
        match transport {
            Transport::Udp => format!("<sip:gw@{hp}>"),
            Transport::Tcp => format!("<sip:gw@{hp};transport=tcp>"),
            Transport::Tls => format!("<sip:gw@{hp};transport=tls>"),
        }
    }

    /// Earliest instant the runtime must wake us at.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let own = self.timers.peek().map(|Reverse((t, _))| *t);
        [own, self.tx.poll_timeout(), self.h323_poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.tx.handle_timeout(now);
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, t))) = self.timers.pop() else {
                break;
            };
            match t {
                EngineTimer::MeetingAnswer(leg) => self.on_meeting_answer_timer(now, leg),
                EngineTimer::MeetingMaxDuration(leg) => self.on_meeting_max_duration(now, leg),
                EngineTimer::BridgedAnswer(call, side) => {
                    let side = if side == 0 { Side::A } else { Side::B };
                    self.on_sip_leg_answer_timer(now, call, side)
                }
                EngineTimer::BridgedSession(call, side) => {
                    let side = if side == 0 { Side::A } else { Side::B };
                    self.on_sip_leg_session_timer(now, call, side)
                }
                EngineTimer::BridgedRing(call) => self.on_bridged_ring_timeout(now, call),
                EngineTimer::BridgedMaxDuration(call) => self.on_bridged_max_duration(now, call),
                EngineTimer::Housekeeping => self.housekeeping(now),
            }
        }
        self.h323_handle_timeout(now);
        self.drain_events(now);
    }

    /// One datagram or stream frame arrived.
    pub fn handle_inbound(&mut self, now: Instant, data: &[u8], from: PeerAddr) {
        self.now = now;
        match parse_message(data) {
            Ok(mut msg) => {
                if let Message::Request(req) = &mut msg {
                    if let Err(reason) = stamp_received(req, from.addr) {
                        // No usable Via: we cannot even address a response.
                        self.metrics.parse_errors.inc();
                        debug!(peer = %from.addr, %reason, "request dropped");
                        return;
                    }
                    self.metrics
                        .requests_received
                        .get_or_create(&MethodLabel::of(&req.method))
                        .inc();
                }
                self.tx.receive(now, msg, from);
            }
            Err(failure) => {
                self.metrics.parse_errors.inc();
                match failure
                    .error_response()
                    .or_else(|| partial_error_response(&failure))
                {
                    Some(mut resp) => {
                        // Answer at the source, as for rport (RFC 3581).
                        if let Some(top) = resp.headers.remove_first(&HeaderName::Via) {
                            let stamped = match Via::parse(&top) {
                                Ok(mut v) => {
                                    v.params.set("received", Some(from.addr.ip().to_string()));
                                    if v.params.contains("rport") {
                                        v.params.set("rport", Some(from.addr.port().to_string()));
                                    }
                                    v.to_string()
                                }
                                Err(_) => top,
                            };
                            resp.headers.push_front(HeaderName::Via, stamped);
                        }
                        info!(peer = %from.addr, status = resp.status, reason = %resp.reason, "bad request answered");
                        self.tx.send_stateless(Message::Response(resp), from);
                    }
                    None => {
                        debug!(peer = %from.addr, error = %failure.error, len = data.len(), "unparseable message dropped");
                    }
                }
            }
        }
        self.drain_events(now);
    }

    /// Hand every pending transaction event to its handler.
    pub(crate) fn drain_events(&mut self, now: Instant) {
        while let Some(ev) = self.tx.poll_event() {
            match ev {
                TxEvent::Request { id, req, from } => self.on_request(now, id, req, from),
                TxEvent::Ack { req, .. } => self.on_ack(now, req),
                TxEvent::Response { id, resp } => self.on_response(now, id, resp),
                TxEvent::Timeout { id } | TxEvent::TransportError { id } => {
                    self.on_tx_failure(now, id)
                }
                TxEvent::Terminated { id } => self.on_tx_terminated(id),
            }
        }
        let st = self.tx.stats();
        let g = &self.metrics.engine;
        g.transactions_active
            .store(self.tx.len() as i64, Ordering::Relaxed);
        g.retransmissions
            .store(st.retransmissions_sent, Ordering::Relaxed);
        g.registrations_active
            .store(self.registrar.active_count() as i64, Ordering::Relaxed);
    }

    fn on_tx_terminated(&mut self, id: TxId) {
        match id {
            TxId::Server(_) => {}
            TxId::Client(c) => {
                self.bridged.client_tx.remove(&c);
                self.bridged.orphans.remove(&c);
                self.qualify.remove(&c);
            }
        }
    }

    fn on_tx_failure(&mut self, now: Instant, id: TxId) {
        match id {
            TxId::Client(c) => {
                if let Some((endpoint, contact)) = self.qualify.remove(&c) {
                    // A contact that does not answer OPTIONS is gone.
                    if self.registrar.remove(&endpoint, &contact) {
                        warn!(endpoint = %endpoint, contact = %contact, "contact did not answer qualify OPTIONS; binding removed");
                        let _ = self.store.send(StoreOp::Binding(BindingChange::Remove {
                            endpoint_id: endpoint,
                            contact,
                        }));
                    }
                    return;
                }
                if let Some(r) = self.bridged.client_tx.remove(&c) {
                    self.on_sip_leg_failure(now, r, c);
                }
            }
            // A call's SIP leg watches for the ACK of its 2xx itself
            // (`EngineTimer::BridgedAnswer`); other server transactions
            // leave nothing behind when they fail.
            TxId::Server(_) => {}
        }
    }

    pub(crate) fn respond(&mut self, now: Instant, id: ServerTxId, mut resp: Response) {
        // RFC 3261 8.2.6.2: every response but 100 carries a To tag.
        if resp.status > 100 {
            let untagged = resp
                .headers
                .get(&HeaderName::To)
                .is_some_and(|t| NameAddr::parse(t).is_ok_and(|na| na.tag().is_none()));
            if untagged {
                let tag = self.random_hex(8);
                if let Some(h) = resp.headers.0.iter_mut().find(|h| h.name == HeaderName::To) {
                    h.value = format!("{};tag={tag}", h.value);
                }
            }
        }
        if let Err(e) = self.tx.respond(now, &id, resp) {
            debug!(error = %e, "response not sent");
        }
    }

    /// A response with our Server header and the given reason phrase.
    pub(crate) fn reply(
        &mut self,
        now: Instant,
        id: ServerTxId,
        req: &Request,
        status: u16,
        reason: &str,
        to_tag: Option<&str>,
    ) {
        let mut resp = make_response(req, status, to_tag);
        resp.reason = reason.to_string();
        resp.headers.push(HeaderName::Server, USER_AGENT);
        self.respond(now, id, resp);
    }

    fn on_request(&mut self, now: Instant, id: ServerTxId, req: Request, from: PeerAddr) {
        // In-dialog requests carry our tag in To.
        let to_tag = req
            .headers
            .get(&HeaderName::To)
            .and_then(|t| NameAddr::parse(t).ok())
            .and_then(|na| na.tag().map(str::to_string));
        if matches!(req.uri.scheme, gateway_sip::uri::Scheme::Other(_)) {
            // RFC 3261 8.2.2.1: we route sip:, sips: and tel: only.
            let mut resp = make_response(&req, 416, None);
            resp.reason = "Unsupported URI Scheme".into();
            resp.headers.push(HeaderName::Server, USER_AGENT);
            return self.respond(now, id, resp);
        }
        if req.method == Method::Cancel {
            return self.on_cancel(now, id, req);
        }
        if let Some(tag) = to_tag {
            if let Some(r) = self.meeting_tags.get(&tag).cloned() {
                return self.on_meeting_request(now, r, id, req);
            }
            if let Some(r) = self.bridged.tags.get(&tag).copied() {
                return self.on_sip_leg_request(now, r, id, req);
            }
            if req.method == Method::Options {
                return self.on_options(now, id, req);
            }
            debug!(method = %req.method, %tag, "request for unknown dialog");
            return self.reply(now, id, &req, 481, "Call/Transaction Does Not Exist", None);
        }
        match req.method {
            Method::Register => self.on_register(now, id, req, from),
            Method::Options => self.on_options(now, id, req),
            Method::Invite => self.on_invite(now, id, req, from),
            Method::Bye | Method::Update | Method::Info | Method::Prack => {
                self.reply(now, id, &req, 481, "Call/Transaction Does Not Exist", None)
            }
            _ => {
                let mut resp = make_response(&req, 405, None);
                resp.headers.push(HeaderName::Allow, ALLOW);
                self.respond(now, id, resp);
            }
        }
    }

    fn on_ack(&mut self, now: Instant, req: Request) {
        let Some(tag) = req.to().ok().and_then(|t| t.tag().map(str::to_string)) else {
            return;
        };
        if let Some(r) = self.meeting_tags.get(&tag).cloned() {
            return self.on_meeting_ack(&r);
        }
        if let Some(r) = self.bridged.tags.get(&tag).copied() {
            self.on_sip_leg_ack(now, r, &req);
        }
    }

    fn on_cancel(&mut self, now: Instant, id: ServerTxId, req: Request) {
        match self.tx.invite_for_cancel(&req) {
            CancelTarget::NotFound => {
                self.reply(now, id, &req, 481, "Call/Transaction Does Not Exist", None)
            }
            CancelTarget::AlreadyAnswered(_) => self.reply(now, id, &req, 200, "OK", None),
            CancelTarget::Pending(invite_tx) => {
                self.reply(now, id, &req, 200, "OK", None);
                if let Some(call) = self.bridged.server_tx.get(&invite_tx).copied() {
                    self.on_sip_leg_cancel(now, call);
                }
            }
        }
    }

    fn on_options(&mut self, now: Instant, id: ServerTxId, req: Request) {
        let mut resp = make_response(&req, 200, None);
        resp.headers.push(HeaderName::Allow, ALLOW);
        resp.headers.push(HeaderName::Accept, "application/sdp");
        resp.headers.push(HeaderName::Supported, SUPPORTED);
        resp.headers.push(HeaderName::Server, USER_AGENT);
        self.respond(now, id, resp);
    }

    /// Verify digest credentials of `req` for `username` and that its
    /// vetting lets it use the gateway; on failure the right challenge or
    /// refusal has already been sent.
    pub(crate) fn check_digest(
        &mut self,
        now: Instant,
        id: ServerTxId,
        req: &Request,
        username: &str,
        proxy: bool,
    ) -> bool {
        self.authenticate_endpoint(now, id, req, username, proxy)
            && self.vetting_allows(now, id, req, username)
    }

    fn authenticate_endpoint(
        &mut self,
        now: Instant,
        id: ServerTxId,
        req: &Request,
        username: &str,
        proxy: bool,
    ) -> bool {
        let Some(endpoint) = self.dialplan.endpoint(username) else {
            self.metrics.auth_failures.inc();
            self.reply(now, id, req, 403, "Unknown endpoint", None);
            return false;
        };
        if endpoint.protocol != gateway_dialplan::Protocol::Sip {
            // An H.323 room's identity is for the gatekeeper only.
            self.metrics.auth_failures.inc();
            self.reply(now, id, req, 403, "Not a SIP endpoint", None);
            return false;
        }
        let creds = endpoint.credentials.clone();
        self.check_digest_for(now, id, req, username, creds, proxy)
    }

    /// A refusal as the peer sees it: the cause's status with its text as
    /// the reason phrase, a `Warning: 399` (RFC 3261 §20.43) carrying the
    /// same text, and a `Reason` header (RFC 3326) with the Q.850 cause, so
    /// a room's administrator reads why on the device or in a trace.
    pub(crate) fn refuse_with_cause(
        &mut self,
        now: Instant,
        id: ServerTxId,
        req: &Request,
        cause: &gateway_callmodel::Cause,
    ) {
        let status = cause.to_sip_status();
        let why = cause.text().unwrap_or_else(|| cause.sip_reason_phrase());
        let mut resp = make_response(req, status, None);
        resp.reason = why.to_string();
        let host = match self.cfg.advertised_ip {
            IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        };
        resp.headers.push(
            HeaderName::Warning,
            format!("399 {host} \"{}\"", why.replace(['"', '\\'], "'")),
        );
        resp.headers.push(HeaderName::Reason, cause.reason_header());
        resp.headers.push(HeaderName::Server, USER_AGENT);
        self.respond(now, id, resp);
    }

    /// 403 with a Warning naming the state unless the endpoint is approved
    /// (or unknown to the admin registry).
    fn vetting_allows(&mut self, now: Instant, id: ServerTxId, req: &Request, ep_id: &str) -> bool {
        let Err(refusal) = self.vetting.check(ep_id) else {
            return true;
        };
        info!(endpoint = %ep_id, method = %req.method, state = refusal.state.as_str(), "refused: endpoint not approved");
        let cause = gateway_callmodel::Cause::from_sip_status(403, &refusal.text);
        self.refuse_with_cause(now, id, req, &cause);
        false
    }

    /// Verify that `req` carries valid digest credentials of `ep_id`
    /// (`creds` being its secret); challenge or refuse otherwise.
    pub(crate) fn check_digest_for(
        &mut self,
        now: Instant,
        id: ServerTxId,
        req: &Request,
        ep_id: &str,
        creds: gateway_dialplan::Credentials,
        proxy: bool,
    ) -> bool {
        let (cred_header, challenge_status) = if proxy {
            (HeaderName::ProxyAuthorization, 407)
        } else {
            (HeaderName::Authorization, 401)
        };
        let ep_id = ep_id.to_string();
        let username = ep_id.as_str();
        let wall = SystemTime::now();
        // Several credentials may be present (one per realm): use ours.
        let realm = self.challenger.realm().to_string();
        let header = req
            .headers
            .get_all(&cred_header)
            .find(|v| v.contains(&format!("realm=\"{realm}\"")))
            .map(str::to_string);
        let outcome = match header {
            None => Err(AuthError::Missing),
            Some(h) => self.challenger.verify(
                wall,
                req.method.as_str(),
                Some(&req.uri.to_string()),
                &h,
                &mut self.nonce_counts,
                |user, _realm, algorithm| {
                    if user != ep_id {
                        return None;
                    }
                    crate::call::auth_secret(&creds, algorithm)
                },
            ),
        };
        match outcome {
            Ok(ok) if ok.username == ep_id => true,
            Ok(_) => {
                self.metrics.auth_failures.inc();
                self.reply(now, id, req, 403, "Credentials are for another user", None);
                false
            }
            Err(e) => {
                let stale = matches!(e, AuthError::StaleNonce);
                if !matches!(e, AuthError::Missing) {
                    self.metrics.auth_failures.inc();
                    info!(endpoint = %username, error = %e, "digest authentication failed");
                }
                if matches!(e, AuthError::Missing | AuthError::StaleNonce) || !stale {
                    let header_name = if proxy {
                        HeaderName::ProxyAuthenticate
                    } else {
                        HeaderName::WwwAuthenticate
                    };
                    let mut resp = make_response(req, challenge_status, None);
                    resp.reason = match e {
                        AuthError::Missing => {
                            gateway_sip::message::default_reason(challenge_status).to_string()
                        }
                        ref other => format!(
                            "{} ({other})",
                            gateway_sip::message::default_reason(challenge_status)
                        ),
                    };
                    for alg in self.cfg.digest_algorithms.clone() {
                        let value = self.challenger.challenge(wall, alg, stale);
                        resp.headers.push(header_name.clone(), value);
                    }
                    resp.headers.push(HeaderName::Server, USER_AGENT);
                    self.respond(now, id, resp);
                }
                false
            }
        }
    }

    fn on_register(&mut self, now: Instant, id: ServerTxId, req: Request, from: PeerAddr) {
        let Some(user) = req
            .headers
            .get(&HeaderName::To)
            .and_then(|t| NameAddr::parse(t).ok())
            .and_then(|na| na.uri.user.clone())
        else {
            return self.reply(now, id, &req, 400, "Malformed To header", None);
        };
        let Some(endpoint) = self.dialplan.endpoint_by_user(&user) else {
            self.metrics.auth_failures.inc();
            return self.reply(now, id, &req, 404, "Unknown endpoint", None);
        };
        let ep_id = endpoint.id.clone();
        let max_contacts = endpoint.max_contacts.max(1) as usize;
        if !transport_allowed(endpoint.transport, from.transport) {
            return self.reply(
                now,
                id,
                &req,
                403,
                "Transport not allowed for this endpoint",
                None,
            );
        }
        if !self.authenticate_endpoint(now, id, &req, &ep_id, false) {
            return;
        }
        // The device is looked at before the gate, so that a REGISTER
        // presenting a changed device is itself refused.
        if let Some(ua) = req.headers.get(&HeaderName::UserAgent) {
            self.vetting.device_seen(&ep_id, ua);
        }
        if !self.vetting_allows(now, id, &req, &ep_id) {
            return;
        }
        match self.registrar.register(
            &ep_id,
            max_contacts,
            &req,
            from,
            now,
            unix_now(),
            self.cfg.limits,
        ) {
            Ok(accepted) => {
                let mut resp = make_response(&req, 200, None);
                for (contact, left) in &accepted.contacts {
                    resp.headers
                        .push(HeaderName::Contact, format!("<{contact}>;expires={left}"));
                }
                resp.headers.push(HeaderName::Server, USER_AGENT);
                info!(endpoint = %ep_id, source = %from.addr, contacts = accepted.contacts.len(), "registered");
                for c in accepted.changes {
                    let _ = self.store.send(StoreOp::Binding(c));
                }
                self.respond(now, id, resp);
            }
            Err(Refusal {
                status,
                reason,
                min_expires,
            }) => {
                let mut resp = make_response(&req, status, None);
                resp.reason = reason;
                if let Some(m) = min_expires {
                    resp.headers.push(HeaderName::MinExpires, m.to_string());
                }
                self.respond(now, id, resp);
            }
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        for change in self.registrar.expire(now) {
            let _ = self.store.send(StoreOp::Binding(change));
        }
        if !self.cfg.qualify_interval.is_zero() {
            let in_flight: std::collections::HashSet<(&str, &str)> = self
                .qualify
                .values()
                .map(|(e, c)| (e.as_str(), c.as_str()))
                .collect();
            let targets: Vec<(String, String, PeerAddr)> = self
                .registrar
                .all()
                .filter(|b| !in_flight.contains(&(b.endpoint_id.as_str(), b.contact.as_str())))
                .map(|b| (b.endpoint_id.clone(), b.contact.clone(), b.source))
                .collect();
            for (endpoint, contact, to) in targets {
                self.send_qualify(now, endpoint, contact, to);
            }
        }
        let next = if self.cfg.qualify_interval.is_zero() {
            Duration::from_secs(10)
        } else {
            self.cfg.qualify_interval
        };
        self.schedule(now + next, EngineTimer::Housekeeping);
    }

    fn send_qualify(&mut self, now: Instant, endpoint: String, contact: String, to: PeerAddr) {
        let Ok(uri) = gateway_sip::uri::Uri::parse(&contact) else {
            return;
        };
        let mut req = Request::new(Method::Options, uri);
        let branch = self.new_branch();
        gateway_sip::transaction::add_via(
            &mut req,
            to.transport,
            &self.sent_by(to.transport),
            &branch,
        );
        let tag = self.random_hex(6);
        let hp = self.sent_by(to.transport);
        req.headers
            .push(HeaderName::From, format!("<sip:gw@{hp}>;tag={tag}"));
        req.headers.push(HeaderName::To, format!("<{contact}>"));
        let cid = format!("{}@{}", self.random_hex(12), hp);
        req.headers.push(HeaderName::CallId, cid);
        req.headers.push(HeaderName::CSeq, "1 OPTIONS");
        req.headers.push(HeaderName::MaxForwards, "70");
        req.headers.push(HeaderName::UserAgent, USER_AGENT);
        match self.tx.send_request(now, req, to) {
            Ok(id) => {
                self.qualify.insert(id, (endpoint, contact));
            }
            Err(e) => debug!(error = %e, "qualify not sent"),
        }
    }

    fn on_response(&mut self, now: Instant, id: ClientTxId, resp: Response) {
        if self.qualify.contains_key(&id) {
            if resp.status >= 200 {
                self.qualify.remove(&id);
            }
            return;
        }
        match self.bridged.client_tx.get(&id).copied() {
            Some(r) => self.on_sip_leg_response(now, r, id, resp),
            None => debug!(status = resp.status, "response for a finished call ignored"),
        }
    }

    pub fn transmit(&mut self) -> Option<gateway_sip::transaction::Transmit> {
        self.tx.poll_transmit()
    }

    pub fn transport_failed(&mut self, now: Instant, id: TxId) {
        self.tx.transport_error(id);
        self.drain_events(now);
    }
}

/// Add `received` (and the `rport` value) to the top Via, RFC 3261 18.2.1
/// and RFC 3581, so responses find their way back through NAT.
fn stamp_received(req: &mut Request, source: SocketAddr) -> Result<(), String> {
    let Some(top) = req.headers.0.iter_mut().find(|h| h.name == HeaderName::Via) else {
        return Err("no Via header".into());
    };
    let mut via = Via::parse(&top.value).map_err(|e| e.to_string())?;
    let ip = source.ip().to_string();
    let mut changed = false;
    if via.host.trim_matches(|c| c == '[' || c == ']') != ip {
        via.params.set("received", Some(ip));
        changed = true;
    }
    if via.params.contains("rport") {
        via.params.set("rport", Some(source.port().to_string()));
        if !changed {
            via.params.set("received", Some(source.ip().to_string()));
        }
        changed = true;
    }
    if changed {
        top.value = via.to_string();
    }
    Ok(())
}

pub(crate) fn host_port(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

pub(crate) fn hex_encode(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(HEX[(x >> 4) as usize] as char);
        s.push(HEX[(x & 15) as usize] as char);
    }
    s
}

/// Whether an endpoint restricted to `allowed` may use `used`.
fn transport_allowed(allowed: gateway_dialplan::Transport, used: Transport) -> bool {
    use gateway_dialplan::Transport as T;
    matches!(
        (allowed, used),
        (T::Any, _)
            | (T::Udp, Transport::Udp)
            | (T::Tcp, Transport::Tcp)
            | (T::Tls, Transport::Tls)
    )
}

/// A 400 for a request too broken for `ParseFailure::error_response`
/// (one of From, To, Call-ID or CSeq is missing): answer with the headers
/// that are there, so the sender learns which one is missing instead of
/// retransmitting into silence. Needs at least a Via to be addressable.
fn partial_error_response(failure: &gateway_sip::parse::ParseFailure) -> Option<Response> {
    let p = failure.partial.as_ref()?;
    if p.method == "ACK" || p.vias.is_empty() {
        return None;
    }
    // Never echo control bytes back to whoever sent them.
    let clean = |v: &str| !v.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f);
    if !p.vias.iter().all(|v| clean(v)) {
        return None;
    }
    let mut headers = gateway_sip::message::Headers::new();
    for v in &p.vias {
        headers.push(HeaderName::Via, v.as_str());
    }
    for (name, value) in [
        (HeaderName::From, &p.from),
        (HeaderName::To, &p.to),
        (HeaderName::CallId, &p.call_id),
        (HeaderName::CSeq, &p.cseq),
    ] {
        if let Some(v) = value.as_deref().filter(|v| clean(v)) {
            headers.push(name, v);
        }
    }
    Some(Response {
        status: 400,
        reason: failure.error.to_string(),
        headers,
        body: Vec::new(),
    })
}

//! SIP transactions (RFC 3261 section 17, with the RFC 6026 corrections),
//! sans-IO and poll-based.
//!
//! The [`TransactionLayer`] owns every client and server transaction of one
//! SIP stack. The runtime feeds it parsed messages ([`TransactionLayer::receive`])
//! and the passage of time ([`TransactionLayer::handle_timeout`]); the
//! transaction user (the dialog/call layer) starts client transactions and
//! answers server transactions. Output is pulled: bytes to send from
//! [`TransactionLayer::poll_transmit`], events for the TU from
//! [`TransactionLayer::poll_event`], the next deadline from
//! [`TransactionLayer::poll_timeout`].
//!
//! # Driving it
//!
//! The runtime loops: parse each datagram/stream frame and `receive` it;
//! send everything `poll_transmit` yields (reporting failures with
//! `transport_error(transmit.tx)`); hand every `poll_event` to the TU; sleep
//! until `poll_timeout` and call `handle_timeout(now)`. Responses to server
//! transactions go to the `PeerAddr` the request came from.
//!
//! What stays with the TU (see `crate::dialog`): ACKing every 2xx (each
//! [`TxEvent::Response`] with a 2xx to INVITE, including retransmissions and
//! other forks), retransmitting its own 2xx until the ACK arrives
//! (`dialog::AckWait`), answering CANCEL ([`TransactionLayer::invite_for_cancel`])
//! and answering every [`TxEvent::Request`]: server transactions wait for
//! the TU without a timer of their own.
//!
//! Timer C (RFC 3261 16.6 step 11) belongs to proxies and is not
//! implemented: a UA or B2BUA limits ringing with its own no-answer timer
//! and CANCELs.
//!
//! Deadlines live in a min-heap with lazy deletion: a transaction records the
//! deadline it is currently scheduled for, and heap entries that no longer
//! match are dropped when they reach the top. No call scans all
//! transactions, so tens of thousands of concurrent transactions stay cheap.

mod client;
mod server;
pub(crate) mod wire;

pub use client::{
    InviteClientState, InviteClientTransaction, NonInviteClientState, NonInviteClientTransaction,
};
pub use server::{
    InviteServerState, InviteServerTransaction, NonInviteServerState, NonInviteServerTransaction,
};

use crate::message::{HeaderName, Message, Method, Request, Response};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The magic cookie that marks an RFC 3261 branch (section 8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// A fresh RFC 3261 branch from caller-supplied randomness (at least 8
/// bytes are recommended; a counter mixed with a per-process random salt is
/// fine too). The layer takes no randomness of its own.
pub fn new_branch(random: &[u8]) -> String {
    let mut s = String::with_capacity(MAGIC_COOKIE.len() + random.len() * 2);
    s.push_str(MAGIC_COOKIE);
    s.push_str(&hex::encode(random));
    s
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// Reliable transports get no retransmissions and zero-length
    /// D/I/J/K timers.
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

/// Where a message came from or goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddr {
    pub transport: Transport,
    pub addr: SocketAddr,
    /// The stream connection a message arrived on, so that responses go
    /// back on the same connection (RFC 3261 18.2.2).
    pub conn: Option<u64>,
}

/// Timer values (RFC 3261 table 4). Timers B, F, H, L and M are 64*T1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate, 500 ms.
    pub t1: Duration,
    /// Cap on non-INVITE request and INVITE final response retransmission
    /// intervals, 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network, 5 s.
    pub t4: Duration,
    /// Timer D on unreliable transports: at least 32 s.
    pub timer_d: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
        }
    }
}

impl TimerConfig {
    /// 64*T1: transaction timeout (B, F, H) and RFC 6026 L and M.
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }
    pub(crate) fn d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.timer_d
        }
    }
    /// Timers I and K.
    pub(crate) fn t4_or_zero(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t4
        }
    }
    /// Timer J.
    pub(crate) fn j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.timeout()
        }
    }
    /// A retransmission interval must be positive or the timer loop would
    /// spin; a zero T1 from a bad config is treated as 1 ms.
    pub(crate) fn t1_nonzero(&self) -> Duration {
        self.t1.max(Duration::from_millis(1))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientTxId(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerTxId(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxId {
    Client(ClientTxId),
    Server(ServerTxId),
}

/// Bytes to put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: PeerAddr,
    pub bytes: Vec<u8>,
    /// The transaction that sent it, so the runtime can report a send
    /// failure with [`TransactionLayer::transport_error`]. `None` for
    /// stateless sends.
    pub tx: Option<TxId>,
}

/// What the transaction layer tells its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxEvent {
    /// A new server transaction. CANCEL arrives here too: the TU answers it
    /// (see [`TransactionLayer::invite_for_cancel`]).
    Request {
        id: ServerTxId,
        req: Request,
        from: PeerAddr,
    },
    /// An ACK for a 2xx: it belongs to the dialog, not to a transaction.
    Ack { req: Request, from: PeerAddr },
    /// A provisional or final response; in the RFC 6026 Accepted state,
    /// 2xx retransmissions (and 2xx from other forks) come here too.
    Response { id: ClientTxId, resp: Response },
    /// Timer B, F or H fired (for H: the ACK never arrived).
    Timeout { id: TxId },
    /// The runtime reported that a send for this transaction failed.
    TransportError { id: TxId },
    /// The transaction is gone; its id will not be seen again.
    Terminated { id: TxId },
}

/// Counters the runtime exports as metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxStats {
    /// Requests, responses and ACKs sent again (timer driven or in answer to
    /// a retransmission).
    pub retransmissions_sent: u64,
    /// Retransmitted requests and responses swallowed by a transaction.
    pub retransmissions_absorbed: u64,
    /// Timer B/F/H expiries.
    pub timeouts: u64,
    /// Responses that matched no client transaction.
    pub stray_responses: u64,
    /// Messages dropped because the fields matching needs (top Via, CSeq)
    /// were missing or malformed.
    pub malformed_dropped: u64,
    /// New requests answered statelessly with 503 because the layer was at
    /// its transaction limit.
    pub rejected_overload: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("no such transaction")]
    UnknownTransaction,
    #[error("request has no usable top Via")]
    MissingVia,
    #[error("top Via has no RFC 3261 branch")]
    MissingBranch,
    #[error("request has no usable CSeq")]
    MissingCSeq,
    #[error("a transaction with this branch and method already exists")]
    DuplicateTransaction,
    #[error("ACK is sent with send_stateless, never in a transaction")]
    AckInTransaction,
    #[error("status {0} is not a valid response status")]
    InvalidStatus(u16),
    #[error("the transaction cannot send this response in state {0}")]
    InvalidState(&'static str),
}

/// What [`TransactionLayer::invite_for_cancel`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelTarget {
    /// The INVITE server transaction is still waiting for a final response:
    /// answer the CANCEL with 200, then the INVITE with 487.
    Pending(ServerTxId),
    /// A final response was already sent: answer the CANCEL with 200 and
    /// leave the INVITE alone (RFC 3261 9.2).
    AlreadyAnswered(ServerTxId),
    /// No matching INVITE: answer the CANCEL with 481.
    NotFound,
}

/// Server transaction key (RFC 3261 17.2.3). ACK is keyed as INVITE so it
/// reaches the INVITE server transaction; CANCEL keeps its own method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ServerKey {
    Branch {
        branch: String,
        sent_by: String,
        method: Method,
    },
    /// RFC 2543 peers without the magic cookie: a simplified form of the
    /// 17.2.3 fallback rule (Call-ID, From tag, CSeq number, top Via sent-by
    /// and branch text, method class). The To tag is left out because the
    /// ACK for a non-2xx carries the tag our response added.
    Legacy {
        call_id: String,
        from_tag: String,
        cseq: u32,
        sent_by: String,
        branch: String,
        method: Method,
    },
}

fn key_method(m: &Method) -> Method {
    if *m == Method::Ack {
        Method::Invite
    } else {
        m.clone()
    }
}

fn server_key(req: &Request) -> Option<ServerKey> {
    let via = wire::top_via(&req.headers)?;
    let method = key_method(&req.method);
    match via.branch {
        Some(b) if b.starts_with(MAGIC_COOKIE) => Some(ServerKey::Branch {
            branch: b,
            sent_by: via.sent_by,
            method,
        }),
        other => {
            let (cseq, _) = wire::cseq(&req.headers)?;
            Some(ServerKey::Legacy {
                call_id: wire::call_id(&req.headers)?.to_string(),
                from_tag: wire::header_tag(&req.headers, &HeaderName::From).unwrap_or_default(),
                cseq,
                sent_by: via.sent_by,
                branch: other.unwrap_or_default(),
                method,
            })
        }
    }
}

/// Client transaction key (RFC 3261 17.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    branch: String,
    method: Method,
}

/// The output queues shared by all transactions of a layer.
#[derive(Debug, Default)]
pub(crate) struct Out {
    pub transmits: VecDeque<Transmit>,
    pub events: VecDeque<TxEvent>,
    pub stats: TxStats,
}

impl Out {
    pub(crate) fn send(&mut self, to: PeerAddr, bytes: Vec<u8>, tx: TxId) {
        self.transmits.push_back(Transmit {
            to,
            bytes,
            tx: Some(tx),
        });
    }
    pub(crate) fn resend(&mut self, to: PeerAddr, bytes: Vec<u8>, tx: TxId) {
        self.stats.retransmissions_sent += 1;
        self.send(to, bytes, tx);
    }
}

enum ClientTx {
    Invite(InviteClientTransaction),
    NonInvite(NonInviteClientTransaction),
}

impl ClientTx {
    fn next_deadline(&self) -> Option<Instant> {
        match self {
            ClientTx::Invite(t) => t.next_deadline(),
            ClientTx::NonInvite(t) => t.next_deadline(),
        }
    }
    fn is_terminated(&self) -> bool {
        match self {
            ClientTx::Invite(t) => t.state() == InviteClientState::Terminated,
            ClientTx::NonInvite(t) => t.state() == NonInviteClientState::Terminated,
        }
    }
}

enum ServerTx {
    Invite(InviteServerTransaction),
    NonInvite(NonInviteServerTransaction),
}

impl ServerTx {
    fn next_deadline(&self) -> Option<Instant> {
        match self {
            ServerTx::Invite(t) => t.next_deadline(),
            ServerTx::NonInvite(t) => t.next_deadline(),
        }
    }
    fn is_terminated(&self) -> bool {
        match self {
            ServerTx::Invite(t) => t.state() == InviteServerState::Terminated,
            ServerTx::NonInvite(t) => t.state() == NonInviteServerState::Terminated,
        }
    }
}

struct ClientEntry {
    tx: ClientTx,
    key: ClientKey,
    scheduled: Option<Instant>,
}

struct ServerEntry {
    tx: ServerTx,
    key: ServerKey,
    scheduled: Option<Instant>,
}

/// All transactions of one SIP stack.
pub struct TransactionLayer {
    cfg: TimerConfig,
    auto_trying: bool,
    max_transactions: usize,
    next_id: u64,
    clients: HashMap<ClientTxId, ClientEntry>,
    client_keys: HashMap<ClientKey, ClientTxId>,
    servers: HashMap<ServerTxId, ServerEntry>,
    server_keys: HashMap<ServerKey, ServerTxId>,
    timers: BinaryHeap<Reverse<(Instant, TxId)>>,
    out: Out,
}

impl TransactionLayer {
    pub fn new(cfg: TimerConfig) -> Self {
        TransactionLayer {
            cfg,
            auto_trying: true,
            max_transactions: usize::MAX,
            next_id: 1,
            clients: HashMap::new(),
            client_keys: HashMap::new(),
            servers: HashMap::new(),
            server_keys: HashMap::new(),
            timers: BinaryHeap::new(),
            out: Out::default(),
        }
    }

    /// By default a new INVITE server transaction answers 100 Trying at
    /// once (RFC 3261 17.2.1), because a B2BUA rarely has a final answer
    /// within 200 ms. Turn this off when the TU sends its own 100.
    pub fn set_auto_trying(&mut self, on: bool) {
        self.auto_trying = on;
    }

    /// Cap on live transactions. Beyond it, new requests get a stateless
    /// `503` with `Retry-After` instead of a transaction, so a flood cannot
    /// grow memory without bound (server transactions wait for the TU's
    /// answer without a timer of their own).
    pub fn set_max_transactions(&mut self, max: usize) {
        self.max_transactions = max;
    }

    pub fn config(&self) -> &TimerConfig {
        &self.cfg
    }

    pub fn stats(&self) -> TxStats {
        self.out.stats
    }

    /// Live transactions.
    pub fn len(&self) -> usize {
        self.clients.len() + self.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn alloc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// A message arrived from the transport. Retransmissions are absorbed
    /// here; everything the TU must see becomes a [`TxEvent`].
    pub fn receive(&mut self, now: Instant, msg: Message, from: PeerAddr) {
        match msg {
            Message::Request(req) => self.receive_request(now, req, from),
            Message::Response(resp) => self.receive_response(now, resp),
        }
    }

    fn receive_request(&mut self, now: Instant, req: Request, from: PeerAddr) {
        let Some(key) = server_key(&req) else {
            self.out.stats.malformed_dropped += 1;
            return;
        };
        if wire::cseq(&req.headers).is_none() {
            self.out.stats.malformed_dropped += 1;
            return;
        }
        if let Some(&id) = self.server_keys.get(&key) {
            if let Some(entry) = self.servers.get_mut(&id) {
                match &mut entry.tx {
                    ServerTx::Invite(t) => t.on_request(now, req, from, &self.cfg, &mut self.out),
                    ServerTx::NonInvite(t) => t.on_request(&req, &mut self.out),
                }
                self.after_server(id);
            }
            return;
        }
        match req.method {
            // An ACK that matches no INVITE server transaction acknowledges
            // a 2xx: the dialog handles it.
            Method::Ack => self.out.events.push_back(TxEvent::Ack { req, from }),
            _ if self.len() >= self.max_transactions => {
                self.out.stats.rejected_overload += 1;
                let mut resp = make_response(&req, 503, None);
                resp.headers.push(HeaderName::RetryAfter, "5");
                self.send_stateless(Message::Response(resp), from);
            }
            Method::Invite => {
                let id = ServerTxId(self.alloc_id());
                let tx = InviteServerTransaction::new(
                    id,
                    now,
                    &req,
                    from,
                    self.auto_trying,
                    &mut self.out,
                );
                self.out
                    .events
                    .push_back(TxEvent::Request { id, req, from });
                self.insert_server(id, key, ServerTx::Invite(tx));
            }
            _ => {
                let id = ServerTxId(self.alloc_id());
                let tx = NonInviteServerTransaction::new(id, from);
                self.out
                    .events
                    .push_back(TxEvent::Request { id, req, from });
                self.insert_server(id, key, ServerTx::NonInvite(tx));
            }
        }
    }

    fn receive_response(&mut self, now: Instant, resp: Response) {
        let (Some(via), Some((_, method))) =
            (wire::top_via(&resp.headers), wire::cseq(&resp.headers))
        else {
            self.out.stats.malformed_dropped += 1;
            return;
        };
        if !(100..=699).contains(&resp.status) {
            self.out.stats.malformed_dropped += 1;
            return;
        }
        let Some(branch) = via.branch else {
            self.out.stats.stray_responses += 1;
            return;
        };
        let key = ClientKey { branch, method };
        let Some(&id) = self.client_keys.get(&key) else {
            self.out.stats.stray_responses += 1;
            return;
        };
        if let Some(entry) = self.clients.get_mut(&id) {
            match &mut entry.tx {
                ClientTx::Invite(t) => t.on_response(now, resp, &self.cfg, &mut self.out),
                ClientTx::NonInvite(t) => t.on_response(now, resp, &self.cfg, &mut self.out),
            }
            self.after_client(id);
        }
    }

    /// Start a client transaction. The TU has built the request including
    /// its top Via with a fresh branch (see [`new_branch`]).
    pub fn send_request(
        &mut self,
        now: Instant,
        req: Request,
        to: PeerAddr,
    ) -> Result<ClientTxId, TxError> {
        if req.method == Method::Ack {
            return Err(TxError::AckInTransaction);
        }
        let via = wire::top_via(&req.headers).ok_or(TxError::MissingVia)?;
        let branch = via
            .branch
            .filter(|b| b.starts_with(MAGIC_COOKIE) && b.len() > MAGIC_COOKIE.len())
            .ok_or(TxError::MissingBranch)?;
        if wire::cseq(&req.headers).is_none() {
            return Err(TxError::MissingCSeq);
        }
        let key = ClientKey {
            branch,
            method: req.method.clone(),
        };
        if self.client_keys.contains_key(&key) {
            return Err(TxError::DuplicateTransaction);
        }
        let id = ClientTxId(self.alloc_id());
        let tx = if req.method == Method::Invite {
            ClientTx::Invite(InviteClientTransaction::new(
                id,
                now,
                req,
                to,
                &self.cfg,
                &mut self.out,
            ))
        } else {
            ClientTx::NonInvite(NonInviteClientTransaction::new(
                id,
                now,
                req,
                to,
                &self.cfg,
                &mut self.out,
            ))
        };
        self.client_keys.insert(key.clone(), id);
        self.clients.insert(
            id,
            ClientEntry {
                tx,
                key,
                scheduled: None,
            },
        );
        self.after_client(id);
        Ok(id)
    }

    /// Answer a server transaction. A 2xx to INVITE moves it to Accepted
    /// (RFC 6026); 2xx retransmissions from the TU pass through it there.
    pub fn respond(
        &mut self,
        now: Instant,
        id: &ServerTxId,
        resp: Response,
    ) -> Result<(), TxError> {
        if !(100..=699).contains(&resp.status) {
            return Err(TxError::InvalidStatus(resp.status));
        }
        let entry = self
            .servers
            .get_mut(id)
            .ok_or(TxError::UnknownTransaction)?;
        let r = match &mut entry.tx {
            ServerTx::Invite(t) => t.respond(now, resp, &self.cfg, &mut self.out),
            ServerTx::NonInvite(t) => t.respond(now, resp, &self.cfg, &mut self.out),
        };
        self.after_server(*id);
        r
    }

    /// Send a message outside any transaction: the ACK for a 2xx, or a
    /// stateless response.
    pub fn send_stateless(&mut self, msg: Message, to: PeerAddr) {
        self.out.transmits.push_back(Transmit {
            to,
            bytes: wire::to_bytes(&msg),
            tx: None,
        });
    }

    /// The runtime could not send a message of this transaction (connection
    /// refused, ICMP unreachable, ...): the transaction ends (RFC 3261
    /// 17.1.4, 17.2.4).
    pub fn transport_error(&mut self, id: TxId) {
        match id {
            TxId::Client(c) => {
                if let Some(e) = self.clients.get_mut(&c) {
                    match &mut e.tx {
                        ClientTx::Invite(t) => t.terminate(),
                        ClientTx::NonInvite(t) => t.terminate(),
                    }
                    self.out.events.push_back(TxEvent::TransportError { id });
                    self.after_client(c);
                }
            }
            TxId::Server(s) => {
                if let Some(e) = self.servers.get_mut(&s) {
                    match &mut e.tx {
                        ServerTx::Invite(t) => t.terminate(),
                        ServerTx::NonInvite(t) => t.terminate(),
                    }
                    self.out.events.push_back(TxEvent::TransportError { id });
                    self.after_server(s);
                }
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.out.events.pop_front()
    }

    /// The earliest deadline of any transaction.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// Fire every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Collect first and fire each transaction once, so a timer that
        // re-arms at or before `now` cannot spin this loop.
        let mut due: Vec<TxId> = Vec::new();
        while let Some(Reverse((t, id))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            if self.is_current(t, id) && !due.contains(&id) {
                due.push(id);
            }
        }
        for id in due {
            match id {
                TxId::Client(c) => {
                    if let Some(e) = self.clients.get_mut(&c) {
                        e.scheduled = None;
                        match &mut e.tx {
                            ClientTx::Invite(t) => t.on_timer(now, &self.cfg, &mut self.out),
                            ClientTx::NonInvite(t) => t.on_timer(now, &self.cfg, &mut self.out),
                        }
                        self.after_client(c);
                    }
                }
                TxId::Server(s) => {
                    if let Some(e) = self.servers.get_mut(&s) {
                        e.scheduled = None;
                        match &mut e.tx {
                            ServerTx::Invite(t) => t.on_timer(now, &self.cfg, &mut self.out),
                            ServerTx::NonInvite(t) => t.on_timer(now, &mut self.out),
                        }
                        self.after_server(s);
                    }
                }
            }
        }
        self.prune();
    }

    /// Find the INVITE server transaction a CANCEL targets (RFC 3261 9.2:
    /// same matching as for the INVITE, except the method).
    pub fn invite_for_cancel(&self, cancel: &Request) -> CancelTarget {
        let Some(key) = server_key(cancel) else {
            return CancelTarget::NotFound;
        };
        let key = match key {
            ServerKey::Branch {
                branch, sent_by, ..
            } => ServerKey::Branch {
                branch,
                sent_by,
                method: Method::Invite,
            },
            ServerKey::Legacy {
                call_id,
                from_tag,
                cseq,
                sent_by,
                branch,
                ..
            } => ServerKey::Legacy {
                call_id,
                from_tag,
                cseq,
                sent_by,
                branch,
                method: Method::Invite,
            },
        };
        let Some(&id) = self.server_keys.get(&key) else {
            return CancelTarget::NotFound;
        };
        match self.servers.get(&id).map(|e| &e.tx) {
            Some(ServerTx::Invite(t)) if t.state() == InviteServerState::Proceeding => {
                CancelTarget::Pending(id)
            }
            Some(ServerTx::Invite(_)) => CancelTarget::AlreadyAnswered(id),
            _ => CancelTarget::NotFound,
        }
    }

    /// State of an INVITE client transaction (the TU must not send CANCEL
    /// before a provisional response, RFC 3261 9.1).
    pub fn invite_client_state(&self, id: &ClientTxId) -> Option<InviteClientState> {
        match self.clients.get(id).map(|e| &e.tx) {
            Some(ClientTx::Invite(t)) => Some(t.state()),
            _ => None,
        }
    }

    /// The request a client transaction is sending (to build its CANCEL
    /// with [`build_cancel`]).
    pub fn client_request(&self, id: &ClientTxId) -> Option<&Request> {
        match self.clients.get(id).map(|e| &e.tx) {
            Some(ClientTx::Invite(t)) => Some(t.request()),
            Some(ClientTx::NonInvite(t)) => Some(t.request()),
            None => None,
        }
    }

    pub fn invite_server_state(&self, id: &ServerTxId) -> Option<InviteServerState> {
        match self.servers.get(id).map(|e| &e.tx) {
            Some(ServerTx::Invite(t)) => Some(t.state()),
            _ => None,
        }
    }

    fn is_current(&self, t: Instant, id: TxId) -> bool {
        match id {
            TxId::Client(c) => self.clients.get(&c).is_some_and(|e| e.scheduled == Some(t)),
            TxId::Server(s) => self.servers.get(&s).is_some_and(|e| e.scheduled == Some(t)),
        }
    }

    /// Drop stale heap heads so that `poll_timeout` is exact.
    fn prune(&mut self) {
        while let Some(Reverse((t, id))) = self.timers.peek().copied() {
            if self.is_current(t, id) {
                break;
            }
            self.timers.pop();
        }
    }

    fn insert_server(&mut self, id: ServerTxId, key: ServerKey, tx: ServerTx) {
        self.server_keys.insert(key.clone(), id);
        self.servers.insert(
            id,
            ServerEntry {
                tx,
                key,
                scheduled: None,
            },
        );
        self.after_server(id);
    }

    fn after_client(&mut self, id: ClientTxId) {
        let Some(e) = self.clients.get_mut(&id) else {
            return;
        };
        if e.tx.is_terminated() {
            let key = e.key.clone();
            self.clients.remove(&id);
            self.client_keys.remove(&key);
            self.out.events.push_back(TxEvent::Terminated {
                id: TxId::Client(id),
            });
        } else {
            let next = e.tx.next_deadline();
            if next != e.scheduled {
                e.scheduled = next;
                if let Some(t) = next {
                    self.timers.push(Reverse((t, TxId::Client(id))));
                }
            }
        }
        self.prune();
    }

    fn after_server(&mut self, id: ServerTxId) {
        let Some(e) = self.servers.get_mut(&id) else {
            return;
        };
        if e.tx.is_terminated() {
            let key = e.key.clone();
            self.servers.remove(&id);
            self.server_keys.remove(&key);
            self.out.events.push_back(TxEvent::Terminated {
                id: TxId::Server(id),
            });
        } else {
            let next = e.tx.next_deadline();
            if next != e.scheduled {
                e.scheduled = next;
                if let Some(t) = next {
                    self.timers.push(Reverse((t, TxId::Server(id))));
                }
            }
        }
        self.prune();
    }
}

/// Put our top Via on a request: `SIP/2.0/<transport> <sent_by>;branch=...;rport`.
pub fn add_via(req: &mut Request, transport: Transport, sent_by: &str, branch: &str) {
    let t = match transport {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
        Transport::Tls => "TLS",
    };
    req.headers.push_front(
        HeaderName::Via,
        format!("SIP/2.0/{t} {sent_by};branch={branch};rport"),
    );
}

/// Build the CANCEL for a request (RFC 3261 9.1): same Request-URI,
/// Call-ID, From, To, CSeq number and top Via (so it carries the same
/// branch), the same Route set, method CANCEL.
pub fn build_cancel(req: &Request) -> Request {
    let mut headers = crate::message::Headers::new();
    if let Some(v) = req.headers.get(&HeaderName::Via) {
        headers.push(HeaderName::Via, v);
    }
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        if let Some(v) = req.headers.get(&name) {
            headers.push(name, v);
        }
    }
    let seq = wire::cseq(&req.headers).map(|(n, _)| n).unwrap_or(0);
    headers.push(HeaderName::CSeq, format!("{seq} CANCEL"));
    for r in req.headers.get_all(&HeaderName::Route) {
        headers.push(HeaderName::Route, r);
    }
    headers.push(HeaderName::MaxForwards, "70");
    Request {
        method: Method::Cancel,
        uri: req.uri.clone(),
        headers,
        body: Vec::new(),
    }
}

/// A response to `req` with the headers RFC 3261 8.2.6.2 copies. Adds
/// `to_tag` to the To header when given and the To has no tag yet.
pub fn make_response(req: &Request, status: u16, to_tag: Option<&str>) -> Response {
    let mut resp = wire::response_from_request(req, status, crate::message::default_reason(status));
    if let (Some(tag), Some(to)) = (to_tag, resp.headers.get(&HeaderName::To)) {
        let v = wire::with_tag(to, tag);
        resp.headers.set(HeaderName::To, v);
    }
    resp
}

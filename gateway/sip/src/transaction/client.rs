//! Client transactions (RFC 3261 17.1, RFC 6026 section 7.2).
//!
//! The machines are driven by [`super::TransactionLayer`]; their states are
//! public so the TU and tests can observe them.

use super::{wire, ClientTxId, Out, PeerAddr, TimerConfig, TxEvent, TxId};
use crate::message::{HeaderName, Headers, Message, Method, Request, Response};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteClientState {
    Calling,
    Proceeding,
    /// A non-2xx final arrived and was ACKed; waiting out Timer D.
    Completed,
    /// RFC 6026: a 2xx arrived; further 2xx (retransmissions, forks) go to
    /// the TU until Timer M fires.
    Accepted,
    Terminated,
}

/// RFC 3261 figure 5 with the RFC 6026 Accepted state.
pub struct InviteClientTransaction {
    id: ClientTxId,
    state: InviteClientState,
    request: Request,
    bytes: Vec<u8>,
    peer: PeerAddr,
    timer_a: Option<Instant>,
    a_interval: Duration,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    timer_m: Option<Instant>,
    ack: Option<Vec<u8>>,
}

impl InviteClientTransaction {
    pub(crate) fn new(
        id: ClientTxId,
        now: Instant,
        request: Request,
        peer: PeerAddr,
        cfg: &TimerConfig,
        out: &mut Out,
    ) -> Self {
        let bytes = wire::to_bytes(&Message::Request(request.clone()));
        out.send(peer, bytes.clone(), TxId::Client(id));
        let reliable = peer.transport.is_reliable();
        let a = cfg.t1_nonzero();
        InviteClientTransaction {
            id,
            state: InviteClientState::Calling,
            request,
            bytes,
            peer,
            timer_a: (!reliable).then(|| now + a),
            a_interval: a,
            timer_b: Some(now + cfg.timeout()),
            timer_d: None,
            timer_m: None,
            ack: None,
        }
    }

    pub fn id(&self) -> ClientTxId {
        self.id
    }

    pub fn state(&self) -> InviteClientState {
        self.state
    }

    pub fn request(&self) -> &Request {
        &self.request
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        [self.timer_a, self.timer_b, self.timer_d, self.timer_m]
            .into_iter()
            .flatten()
            .min()
    }

    pub(crate) fn terminate(&mut self) {
        self.state = InviteClientState::Terminated;
        self.clear_timers();
    }

    fn clear_timers(&mut self) {
        self.timer_a = None;
        self.timer_b = None;
        self.timer_d = None;
        self.timer_m = None;
    }

    fn up(&self, resp: Response, out: &mut Out) {
        out.events
            .push_back(TxEvent::Response { id: self.id, resp });
    }

    pub(crate) fn on_response(
        &mut self,
        now: Instant,
        resp: Response,
        cfg: &TimerConfig,
        out: &mut Out,
    ) {
        use InviteClientState::*;
        let class = resp.status / 100;
        match (self.state, class) {
            (Calling | Proceeding, 1) => {
                self.state = Proceeding;
                // RFC 3261 17.1.1.2: no more retransmissions once anything
                // came back; Timer B only guards the Calling state.
                self.timer_a = None;
                self.timer_b = None;
                self.up(resp, out);
            }
            (Calling | Proceeding, 2) => {
                self.state = Accepted;
                self.clear_timers();
                self.timer_m = Some(now + cfg.timeout());
                self.up(resp, out);
            }
            (Calling | Proceeding, _) => {
                let ack = wire::to_bytes(&Message::Request(build_ack(&self.request, &resp)));
                out.send(self.peer, ack.clone(), TxId::Client(self.id));
                self.clear_timers();
                self.up(resp, out);
                let d = cfg.d(self.peer.transport.is_reliable());
                if d.is_zero() {
                    self.state = Terminated;
                } else {
                    self.state = Completed;
                    self.ack = Some(ack);
                    self.timer_d = Some(now + d);
                }
            }
            (Completed, 3..=6) => {
                // A retransmitted final: our ACK was lost.
                out.stats.retransmissions_absorbed += 1;
                if let Some(ack) = &self.ack {
                    out.resend(self.peer, ack.clone(), TxId::Client(self.id));
                }
            }
            (Accepted, 2) => self.up(resp, out),
            (Terminated, _) => {}
            _ => out.stats.retransmissions_absorbed += 1,
        }
    }

    pub(crate) fn on_timer(&mut self, now: Instant, _cfg: &TimerConfig, out: &mut Out) {
        if self.timer_b.is_some_and(|t| t <= now) {
            out.stats.timeouts += 1;
            out.events.push_back(TxEvent::Timeout {
                id: TxId::Client(self.id),
            });
            self.terminate();
            return;
        }
        if self.timer_a.is_some_and(|t| t <= now) {
            // INVITE retransmissions double without the T2 cap (17.1.1.2).
            self.a_interval *= 2;
            self.timer_a = Some(now + self.a_interval);
            out.resend(self.peer, self.bytes.clone(), TxId::Client(self.id));
        }
        if self.timer_d.is_some_and(|t| t <= now) || self.timer_m.is_some_and(|t| t <= now) {
            self.terminate();
        }
    }
}

/// The ACK for a non-2xx final response (RFC 3261 17.1.1.3): it belongs to
/// the INVITE transaction, so it reuses the INVITE's top Via and branch.
pub(crate) fn build_ack(invite: &Request, resp: &Response) -> Request {
    let mut headers = Headers::new();
    if let Some(v) = invite.headers.get(&HeaderName::Via) {
        headers.push(HeaderName::Via, v);
    }
    for name in [HeaderName::From, HeaderName::CallId] {
        if let Some(v) = invite.headers.get(&name) {
            headers.push(name.clone(), v);
        }
    }
    if let Some(v) = resp
        .headers
        .get(&HeaderName::To)
        .or_else(|| invite.headers.get(&HeaderName::To))
    {
        headers.push(HeaderName::To, v);
    }
    let seq = wire::cseq(&invite.headers).map(|(n, _)| n).unwrap_or(0);
    headers.push(HeaderName::CSeq, format!("{seq} ACK"));
    for r in invite.headers.get_all(&HeaderName::Route) {
        headers.push(HeaderName::Route, r);
    }
    headers.push(HeaderName::MaxForwards, "70");
    Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        headers,
        body: Vec::new(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteClientState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// RFC 3261 figure 6.
pub struct NonInviteClientTransaction {
    id: ClientTxId,
    state: NonInviteClientState,
    request: Request,
    bytes: Vec<u8>,
    peer: PeerAddr,
    timer_e: Option<Instant>,
    e_interval: Duration,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
}

impl NonInviteClientTransaction {
    pub(crate) fn new(
        id: ClientTxId,
        now: Instant,
        request: Request,
        peer: PeerAddr,
        cfg: &TimerConfig,
        out: &mut Out,
    ) -> Self {
        let bytes = wire::to_bytes(&Message::Request(request.clone()));
        out.send(peer, bytes.clone(), TxId::Client(id));
        let reliable = peer.transport.is_reliable();
        let e = cfg.t1_nonzero();
        NonInviteClientTransaction {
            id,
            state: NonInviteClientState::Trying,
            request,
            bytes,
            peer,
            timer_e: (!reliable).then(|| now + e),
            e_interval: e,
            timer_f: Some(now + cfg.timeout()),
            timer_k: None,
        }
    }

    pub fn id(&self) -> ClientTxId {
        self.id
    }

    pub fn state(&self) -> NonInviteClientState {
        self.state
    }

    pub fn request(&self) -> &Request {
        &self.request
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        [self.timer_e, self.timer_f, self.timer_k]
            .into_iter()
            .flatten()
            .min()
    }

    pub(crate) fn terminate(&mut self) {
        self.state = NonInviteClientState::Terminated;
        self.timer_e = None;
        self.timer_f = None;
        self.timer_k = None;
    }

    pub(crate) fn on_response(
        &mut self,
        now: Instant,
        resp: Response,
        cfg: &TimerConfig,
        out: &mut Out,
    ) {
        use NonInviteClientState::*;
        match (self.state, resp.status >= 200) {
            (Trying | Proceeding, false) => {
                self.state = Proceeding;
                out.events
                    .push_back(TxEvent::Response { id: self.id, resp });
            }
            (Trying | Proceeding, true) => {
                self.timer_e = None;
                self.timer_f = None;
                out.events
                    .push_back(TxEvent::Response { id: self.id, resp });
                let k = cfg.t4_or_zero(self.peer.transport.is_reliable());
                if k.is_zero() {
                    self.state = Terminated;
                } else {
                    self.state = Completed;
                    self.timer_k = Some(now + k);
                }
            }
            (Completed, _) => out.stats.retransmissions_absorbed += 1,
            (Terminated, _) => {}
        }
    }

    pub(crate) fn on_timer(&mut self, now: Instant, cfg: &TimerConfig, out: &mut Out) {
        if self.timer_f.is_some_and(|t| t <= now) {
            out.stats.timeouts += 1;
            out.events.push_back(TxEvent::Timeout {
                id: TxId::Client(self.id),
            });
            self.terminate();
            return;
        }
        if self.timer_e.is_some_and(|t| t <= now) {
            // Trying doubles up to T2; Proceeding retransmits every T2
            // (17.1.2.2).
            self.e_interval = match self.state {
                NonInviteClientState::Proceeding => cfg.t2,
                _ => (self.e_interval * 2).min(cfg.t2),
            }
            .max(Duration::from_millis(1));
            self.timer_e = Some(now + self.e_interval);
            out.resend(self.peer, self.bytes.clone(), TxId::Client(self.id));
        }
        if self.timer_k.is_some_and(|t| t <= now) {
            self.terminate();
        }
    }
}

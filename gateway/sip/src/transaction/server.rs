//! Server transactions (RFC 3261 17.2, RFC 6026 section 7.1).
//!
//! Responses go back to the address and connection the request came from
//! (the rport behaviour of RFC 3581, which is what NATed room systems need).

use super::{wire, Out, PeerAddr, ServerTxId, TimerConfig, TxError, TxEvent, TxId};
use crate::message::{Message, Method, Request, Response};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteServerState {
    Proceeding,
    /// A non-2xx final was sent; retransmitting it until the ACK arrives.
    Completed,
    /// The ACK arrived; absorbing ACK retransmissions until Timer I.
    Confirmed,
    /// RFC 6026: a 2xx was sent; the TU's 2xx retransmissions pass through
    /// and INVITE retransmissions are absorbed until Timer L.
    Accepted,
    Terminated,
}

/// RFC 3261 figure 7 with the RFC 6026 Accepted state.
pub struct InviteServerTransaction {
    id: ServerTxId,
    state: InviteServerState,
    peer: PeerAddr,
    last_provisional: Option<Vec<u8>>,
    final_bytes: Option<Vec<u8>>,
    timer_g: Option<Instant>,
    g_interval: Duration,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
}

impl InviteServerTransaction {
    pub(crate) fn new(
        id: ServerTxId,
        _now: Instant,
        req: &Request,
        peer: PeerAddr,
        auto_trying: bool,
        out: &mut Out,
    ) -> Self {
        let mut tx = InviteServerTransaction {
            id,
            state: InviteServerState::Proceeding,
            peer,
            last_provisional: None,
            final_bytes: None,
            timer_g: None,
            g_interval: Duration::ZERO,
            timer_h: None,
            timer_i: None,
            timer_l: None,
        };
        if auto_trying {
            let trying = wire::response_from_request(req, 100, "Trying");
            let bytes = wire::to_bytes(&Message::Response(trying));
            out.send(peer, bytes.clone(), TxId::Server(id));
            tx.last_provisional = Some(bytes);
        }
        tx
    }

    pub fn id(&self) -> ServerTxId {
        self.id
    }

    pub fn state(&self) -> InviteServerState {
        self.state
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        [self.timer_g, self.timer_h, self.timer_i, self.timer_l]
            .into_iter()
            .flatten()
            .min()
    }

    pub(crate) fn terminate(&mut self) {
        self.state = InviteServerState::Terminated;
        self.timer_g = None;
        self.timer_h = None;
        self.timer_i = None;
        self.timer_l = None;
    }

    pub(crate) fn on_request(
        &mut self,
        now: Instant,
        req: Request,
        from: PeerAddr,
        cfg: &TimerConfig,
        out: &mut Out,
    ) {
        use InviteServerState::*;
        let tx = TxId::Server(self.id);
        if req.method == Method::Ack {
            match self.state {
                Completed => {
                    self.timer_g = None;
                    self.timer_h = None;
                    let i = cfg.t4_or_zero(self.peer.transport.is_reliable());
                    if i.is_zero() {
                        self.state = Terminated;
                    } else {
                        self.state = Confirmed;
                        self.timer_i = Some(now + i);
                    }
                }
                // An ACK for our 2xx that reused the INVITE's branch (RFC
                // 2543 style): it is the dialog's.
                Accepted => out.events.push_back(TxEvent::Ack { req, from }),
                _ => out.stats.retransmissions_absorbed += 1,
            }
            return;
        }
        out.stats.retransmissions_absorbed += 1;
        if self.peer.transport.is_reliable() {
            // A retransmission over TCP may come on a new connection.
            self.peer = from;
        }
        match self.state {
            Proceeding => {
                if let Some(b) = &self.last_provisional {
                    out.resend(self.peer, b.clone(), tx);
                }
            }
            Completed => {
                if let Some(b) = &self.final_bytes {
                    out.resend(self.peer, b.clone(), tx);
                }
            }
            _ => {}
        }
    }

    pub(crate) fn respond(
        &mut self,
        now: Instant,
        resp: Response,
        cfg: &TimerConfig,
        out: &mut Out,
    ) -> Result<(), TxError> {
        use InviteServerState::*;
        let tx = TxId::Server(self.id);
        let class = resp.status / 100;
        match (self.state, class) {
            (Proceeding, 1) => {
                let b = wire::to_bytes(&Message::Response(resp));
                out.send(self.peer, b.clone(), tx);
                self.last_provisional = Some(b);
            }
            (Proceeding, 2) => {
                out.send(self.peer, wire::to_bytes(&Message::Response(resp)), tx);
                self.state = Accepted;
                self.timer_l = Some(now + cfg.timeout());
            }
            (Proceeding, _) => {
                let b = wire::to_bytes(&Message::Response(resp));
                out.send(self.peer, b.clone(), tx);
                self.state = Completed;
                if !self.peer.transport.is_reliable() {
                    self.g_interval = cfg.t1_nonzero();
                    self.timer_g = Some(now + self.g_interval);
                }
                self.timer_h = Some(now + cfg.timeout());
                self.final_bytes = Some(b);
            }
            (Accepted, 2) => {
                out.resend(self.peer, wire::to_bytes(&Message::Response(resp)), tx);
            }
            (s, _) => return Err(TxError::InvalidState(invite_state_name(s))),
        }
        Ok(())
    }

    pub(crate) fn on_timer(&mut self, now: Instant, cfg: &TimerConfig, out: &mut Out) {
        let tx = TxId::Server(self.id);
        if self.timer_h.is_some_and(|t| t <= now) {
            out.stats.timeouts += 1;
            out.events.push_back(TxEvent::Timeout { id: tx });
            self.terminate();
            return;
        }
        if self.timer_g.is_some_and(|t| t <= now) {
            self.g_interval = (self.g_interval * 2)
                .min(cfg.t2)
                .max(Duration::from_millis(1));
            self.timer_g = Some(now + self.g_interval);
            if let Some(b) = &self.final_bytes {
                out.resend(self.peer, b.clone(), tx);
            }
        }
        if self.timer_i.is_some_and(|t| t <= now) || self.timer_l.is_some_and(|t| t <= now) {
            self.terminate();
        }
    }
}

fn invite_state_name(s: InviteServerState) -> &'static str {
    match s {
        InviteServerState::Proceeding => "Proceeding",
        InviteServerState::Completed => "Completed",
        InviteServerState::Confirmed => "Confirmed",
        InviteServerState::Accepted => "Accepted",
        InviteServerState::Terminated => "Terminated",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteServerState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// RFC 3261 figure 8.
pub struct NonInviteServerTransaction {
    id: ServerTxId,
    state: NonInviteServerState,
    peer: PeerAddr,
    last: Option<Vec<u8>>,
    timer_j: Option<Instant>,
}

impl NonInviteServerTransaction {
    pub(crate) fn new(id: ServerTxId, peer: PeerAddr) -> Self {
        NonInviteServerTransaction {
            id,
            state: NonInviteServerState::Trying,
            peer,
            last: None,
            timer_j: None,
        }
    }

    pub fn id(&self) -> ServerTxId {
        self.id
    }

    pub fn state(&self) -> NonInviteServerState {
        self.state
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timer_j
    }

    pub(crate) fn terminate(&mut self) {
        self.state = NonInviteServerState::Terminated;
        self.timer_j = None;
    }

    pub(crate) fn on_request(&mut self, _req: &Request, out: &mut Out) {
        out.stats.retransmissions_absorbed += 1;
        // In Trying there is nothing to resend yet: the TU has not answered.
        if let (NonInviteServerState::Proceeding | NonInviteServerState::Completed, Some(b)) =
            (self.state, &self.last)
        {
            out.resend(self.peer, b.clone(), TxId::Server(self.id));
        }
    }

    pub(crate) fn respond(
        &mut self,
        now: Instant,
        resp: Response,
        cfg: &TimerConfig,
        out: &mut Out,
    ) -> Result<(), TxError> {
        use NonInviteServerState::*;
        match self.state {
            Trying | Proceeding => {
                let b = wire::to_bytes(&Message::Response(resp.clone()));
                out.send(self.peer, b.clone(), TxId::Server(self.id));
                self.last = Some(b);
                if resp.status < 200 {
                    self.state = Proceeding;
                } else {
                    let j = cfg.j(self.peer.transport.is_reliable());
                    if j.is_zero() {
                        self.state = Terminated;
                    } else {
                        self.state = Completed;
                        self.timer_j = Some(now + j);
                    }
                }
                Ok(())
            }
            Completed => Err(TxError::InvalidState("Completed")),
            Terminated => Err(TxError::InvalidState("Terminated")),
        }
    }

    pub(crate) fn on_timer(&mut self, now: Instant, _out: &mut Out) {
        if self.timer_j.is_some_and(|t| t <= now) {
            self.terminate();
        }
    }
}

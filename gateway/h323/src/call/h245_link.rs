//! H.245 on a TCP connection of its own (H.323 8.2.1, H.225.0 7.2): used
//! when either side does not tunnel. The side that received the peer's
//! `h245Address` (Setup, CallProceeding, Alerting, Progress, Connect,
//! Facility) connects to it; otherwise we listen and name our address in
//! our next messages (and at once in a Facility `startH245`).
//!
//! Sans-IO like the rest of the leg: the runtime carries out the
//! [`H245Action`]s from [`H323CallLeg::poll_h245_action`] and reports back
//! through [`H323CallLeg::h245_listening`], [`H323CallLeg::h245_connected`],
//! [`H323CallLeg::handle_h245_bytes`] and [`H323CallLeg::h245_closed`]. The
//! PDUs are TPKT frames run through the same H.245 machine as tunnelled
//! ones; releasing the call ends the session (endSessionCommand) and closes
//! the connection. A stream that is not TPKT releases this call only.

use super::*;

/// What the runtime does for a call's H.245 connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum H245Action {
    /// Open a TCP connection to the peer's h245Address.
    Connect(SocketAddr),
    /// Listen for the peer's connection on a fresh port of the
    /// call-signalling address; say where with
    /// [`H323CallLeg::h245_listening`]. Only the call-signalling peer's
    /// host should be accepted.
    Listen,
    /// Write this TPKT frame on the connection.
    Send(Vec<u8>),
    /// Close the connection (stop listening) once what was sent is written.
    Close,
}

/// How a call's H.245 travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H245Transport {
    /// No H.245 (Fast Start only, or not settled yet).
    None,
    Tunnelled,
    /// Our connection to the peer's h245Address is being made.
    Connecting,
    /// We wait for the peer to connect (our address, once known).
    Listening(Option<SocketAddr>),
    Connected,
    /// The connection closed or could not be made.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    Idle,
    Connecting,
    Listening(Option<SocketAddr>),
    Up,
    Closed,
}

/// The separate H.245 connection of one call.
#[derive(Debug)]
pub(super) struct H245Link {
    state: LinkState,
    framer: TpktFramer,
    actions: VecDeque<H245Action>,
}

impl H245Link {
    pub(super) fn new(max_frame: usize) -> Self {
        H245Link {
            state: LinkState::Idle,
            framer: TpktFramer::new(max_frame),
            actions: VecDeque::new(),
        }
    }

    /// A connection is wanted or there: H.245 PDUs may be queued for it.
    pub(super) fn usable(&self) -> bool {
        matches!(
            self.state,
            LinkState::Connecting | LinkState::Listening(_) | LinkState::Up
        )
    }

    pub(super) fn is_idle(&self) -> bool {
        self.state == LinkState::Idle
    }

    pub(super) fn is_up(&self) -> bool {
        self.state == LinkState::Up
    }

    fn connect(&mut self, to: SocketAddr) {
        self.state = LinkState::Connecting;
        self.actions.push_back(H245Action::Connect(to));
    }

    fn listen(&mut self) {
        self.state = LinkState::Listening(None);
        self.actions.push_back(H245Action::Listen);
    }

    fn send(&mut self, pdu: &[u8]) {
        match tpkt::encode(pdu) {
            Ok(f) => self.actions.push_back(H245Action::Send(f)),
            Err(_) => debug_assert!(false, "an H.245 PDU of ours over 64 KiB"),
        }
    }

    fn close(&mut self) {
        if self.usable() {
            self.actions.push_back(H245Action::Close);
        }
        self.state = LinkState::Closed;
    }

    /// Our listening address, to name in h245Address until the peer came.
    pub(super) fn advertised(&self) -> Option<TransportAddress> {
        match self.state {
            LinkState::Listening(Some(a)) => Some(transport_of(a)),
            _ => None,
        }
    }
}

/// An IP h245Address as a socket address (None for other kinds, port 0 or
/// an unspecified host: nothing to connect to).
pub(super) fn socket_of(a: &TransportAddress) -> Option<SocketAddr> {
    let s = match a {
        TransportAddress::Ip { ip, port } => SocketAddr::new((*ip).into(), *port),
        TransportAddress::Ip6 { ip, port } => SocketAddr::new((*ip).into(), *port),
        _ => return None,
    };
    (s.port() != 0 && !s.ip().is_unspecified()).then_some(s)
}

pub(super) fn transport_of(a: SocketAddr) -> TransportAddress {
    match a {
        SocketAddr::V4(v4) => TransportAddress::Ip {
            ip: *v4.ip(),
            port: v4.port(),
        },
        SocketAddr::V6(v6) => TransportAddress::Ip6 {
            ip: *v6.ip(),
            port: v6.port(),
        },
    }
}

/// The h245Address a message of the peer names, if any.
pub(super) fn h245_address_of(body: &UuBody) -> Option<SocketAddr> {
    let a = match body {
        UuBody::Setup(s) => s.h245_address.as_ref(),
        UuBody::CallProceeding(p) | UuBody::Alerting(p) => p.h245_address.as_ref(),
        UuBody::Connect(c) => c.h245_address.as_ref(),
        UuBody::Progress(p) => p.h245_address.as_ref(),
        UuBody::Facility(f) => f.h245_address.as_ref(),
        _ => None,
    };
    a.and_then(socket_of)
}

impl H323CallLeg {
    /// The next thing the runtime should do for the H.245 connection.
    pub fn poll_h245_action(&mut self) -> Option<H245Action> {
        self.link.actions.pop_front()
    }

    /// How H.245 travels in this call.
    pub fn h245_transport(&self) -> H245Transport {
        match self.link.state {
            LinkState::Idle if self.tunnelling => H245Transport::Tunnelled,
            LinkState::Idle => H245Transport::None,
            LinkState::Connecting => H245Transport::Connecting,
            LinkState::Listening(a) => H245Transport::Listening(a),
            LinkState::Up => H245Transport::Connected,
            LinkState::Closed => H245Transport::Closed,
        }
    }

    /// The runtime listens for our H.245 connection at `addr` (as the peer
    /// reaches it): the peer hears of it at once in a Facility, and in our
    /// next messages until it connects.
    pub fn h245_listening(&mut self, now: Instant, addr: SocketAddr) {
        self.clock = Some(now);
        if !matches!(self.link.state, LinkState::Listening(_)) || self.is_released() {
            return;
        }
        self.link.state = LinkState::Listening(Some(addr));
        if self.state == CallState::Idle {
            return;
        }
        let body = UuBody::Facility(FacilityUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            alternative_address: None,
            alternative_alias_address: None,
            conference_id: Some(self.conference_id),
            reason: FacilityReason::StartH245,
            call_identifier: self.call_identifier,
            h245_address: self.link.advertised(),
            fast_start: None,
            multiple_calls: false,
            maintain_connection: false,
        });
        self.send(MessageType::Facility, body, Vec::new());
    }

    /// The H.245 connection is up (ours made, or the peer's accepted).
    pub fn h245_connected(&mut self, now: Instant) {
        self.clock = Some(now);
        if !matches!(
            self.link.state,
            LinkState::Connecting | LinkState::Listening(_)
        ) || self.is_released()
        {
            return;
        }
        self.link.state = LinkState::Up;
        self.flush_h245();
    }

    /// Bytes read from the H.245 connection (any split).
    pub fn handle_h245_bytes(&mut self, now: Instant, data: &[u8]) {
        self.clock = Some(now);
        if self.link.state != LinkState::Up || self.is_released() {
            return;
        }
        self.link.framer.push(data);
        loop {
            match self.link.framer.next_frame() {
                Ok(Some(frame)) => {
                    if !frame.is_empty() {
                        self.on_h245(&frame);
                    }
                    if self.is_released() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    // the stream cannot be resynchronised, and H.245 is
                    // part of this call: it goes, no other call notices
                    self.fail(Q850::PROTOCOL_ERROR, "H.245 TPKT framing");
                    return;
                }
            }
        }
        self.flush_h245();
    }

    /// The H.245 connection closed, or could not be made or accepted.
    /// Closing it is how a peer ends the call (H.323 8.5) once it was up;
    /// before, the call goes on if Fast Start carries its media.
    pub fn h245_closed(&mut self, now: Instant) {
        self.clock = Some(now);
        let was = self.link.state;
        if !self.link.usable() {
            return;
        }
        self.link.state = LinkState::Closed;
        self.h245_queue.clear();
        if matches!(self.state, CallState::Idle | CallState::Released) {
            return;
        }
        let needed = matches!(self.fast_start, FastStart::None | FastStart::Refused);
        if was == LinkState::Up {
            let cause = Cause::new(Q850::NORMAL_UNSPECIFIED)
                .with_text("The peer closed the H.245 connection");
            self.release(&cause);
            self.events.push_back(LegEvent::Ended(cause));
        } else if needed {
            let cause = Cause::new(Q850::BEARER_CAPABILITY_NOT_AVAILABLE)
                .with_text("No H.245 connection, and no Fast Start media");
            self.release(&cause);
            self.events.push_back(LegEvent::Ended(cause));
        }
    }

    /// H.245 can reach the peer: tunnelled, or on a connection made or
    /// being made.
    pub(super) fn h245_available(&self) -> bool {
        self.tunnelling || self.link.usable()
    }

    /// The peer named its h245Address: connect when we do not tunnel and
    /// have no connection yet. A peer that names one while we listen is
    /// left to connect to ours (H.225.0 lets either side make it).
    pub(super) fn on_peer_h245_address(&mut self, body: &UuBody) {
        if self.tunnelling || !self.link.is_idle() || !self.config.h245_connection {
            return;
        }
        if let Some(to) = h245_address_of(body) {
            self.link.connect(to);
        }
    }

    /// Neither tunnelling nor an address from the peer: listen for its
    /// connection. False when separate connections are off.
    pub(super) fn listen_for_h245(&mut self) -> bool {
        if !self.config.h245_connection || !self.link.is_idle() {
            return self.link.usable();
        }
        self.link.listen();
        true
    }

    /// Our queued PDUs onto the connection, once up.
    pub(super) fn link_flush(&mut self) -> bool {
        if !self.link.is_up() {
            return false;
        }
        for pdu in std::mem::take(&mut self.h245_queue) {
            self.link.send(&pdu);
        }
        true
    }

    /// The call is over: end the H.245 session on the connection (what
    /// is queued, then endSessionCommand) and close it.
    pub(super) fn link_release(&mut self) {
        if !self.link.usable() {
            return;
        }
        if self.link.is_up() {
            if !self.end_session_sent {
                self.queue_h245(&H245Message::EndSessionCommand(
                    EndSessionCommand::Disconnect,
                ));
            }
            self.link_flush();
        }
        self.h245_queue.clear();
        self.link.close();
    }

    /// The peer released the call: its H.245 connection just closes.
    pub(super) fn link_abandon(&mut self) {
        self.h245_queue.clear();
        self.link.close();
    }
}

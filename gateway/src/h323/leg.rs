//! Call-signalling connections as legs: bytes in, TPKT frames out, and the
//! leg's neutral events routed by the dialplan.
//!
//! Events leave a leg in [`Engine::on_h323_leg_event`]; commands reach it
//! through [`Engine::h323_leg_command`]. The owner of a leg is a meeting
//! (`Conn::meeting`) or a neutral two-leg call towards SIP (`Conn::call`),
//! chosen by the routing decision in [`Engine::h323_route_incoming`].

use super::{ConnId, H323Input, H323Output, SETUP_TIMEOUT};
use crate::call::bridged::Callee;
use crate::engine::Engine;
use crate::meeting::MeetingLegRef;
use gateway_callmodel::{Cause, H225ReleaseReason, LegCommand, LegEvent, MediaCaps, Q850};
use gateway_dialplan::{Caller, Protocol, RouteDecision, RouteOutcome, RouteRequest};
use gateway_h323::call::{CallState, H245Action, H245Transport, H323CallLeg, OutgoingCall};
use gateway_h323::gatekeeper::from_transport;
use gateway_h323::h225::AliasAddress;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// Connections one gateway keeps at once; more are closed on accept.
pub(crate) const MAX_CONNECTIONS: usize = 4096;

/// One accepted call-signalling connection and its leg.
pub(crate) struct Conn {
    pub(crate) leg: H323CallLeg,
    pub(crate) peer: SocketAddr,
    /// On every log line of the call: the H.225 callIdentifier once the
    /// Setup named one.
    pub(crate) label: String,
    /// The meeting the leg is in, if it joined one.
    pub(crate) meeting: Option<MeetingLegRef>,
    /// The two-leg call the leg is in, and its side, if it is in one.
    pub(crate) call: Option<(u64, crate::call::Side)>,
    pub(crate) opened: Instant,
    pub(crate) max_duration_at: Option<Instant>,
    /// We opened the connection to place a call (the leg is a callee).
    pub(crate) outgoing: bool,
    /// An outgoing connection is up (the runtime said Connected).
    pub(crate) connected: bool,
}

impl Conn {
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let setup = (self.leg.state() == CallState::Idle).then(|| self.opened + SETUP_TIMEOUT);
        [self.leg.poll_timeout(), setup, self.max_duration_at]
            .into_iter()
            .flatten()
            .min()
    }
}

fn alias_text(a: &AliasAddress) -> Option<&str> {
    match a {
        AliasAddress::DialedDigits(s)
        | AliasAddress::H323Id(s)
        | AliasAddress::UrlId(s)
        | AliasAddress::EmailId(s) => Some(s),
        _ => None,
    }
}

impl Engine {
    pub(crate) fn on_h323_accepted(&mut self, now: Instant, conn: ConnId, peer: SocketAddr) {
        if self.h323.gatekeeper.is_none() || self.h323.conns.len() >= MAX_CONNECTIONS {
            warn!(%peer, connections = self.h323.conns.len(), "H.323 connection refused");
            self.h323.out.push_back(H323Output::Close { conn });
            return;
        }
        let msd = rand::RngCore::next_u32(&mut self.rng);
        debug!(%peer, conn, "H.323 call-signalling connection accepted");
        self.h323.conns.insert(
            conn,
            Conn {
                leg: super::new_leg(msd),
                peer,
                label: format!("h323-{conn}"),
                meeting: None,
                call: None,
                opened: now,
                max_duration_at: None,
                outgoing: false,
                connected: true,
            },
        );
    }

    pub(crate) fn on_h323_connected(&mut self, now: Instant, conn: ConnId) {
        let _ = now;
        if let Some(c) = self.h323.conns.get_mut(&conn) {
            c.connected = true;
            debug!(call_id = %c.label, peer = %c.peer, conn, "H.323 call-signalling connection to the callee up");
        }
    }

    pub(crate) fn on_h323_bytes(&mut self, now: Instant, conn: ConnId, data: &[u8]) {
        let Some(c) = self.h323.conns.get_mut(&conn) else {
            warn!(
                conn,
                bytes = data.len(),
                "H.323 bytes for a connection the engine does not know; dropped"
            );
            return;
        };
        c.leg.handle_bytes(now, data);
        self.h323_pump(now, conn);
    }

    /// The peer closed the TCP connection (or it broke) without a release,
    /// or a connection we opened could not be made.
    pub(crate) fn on_h323_closed(&mut self, now: Instant, conn: ConnId) {
        let Some(c) = self.h323.conns.remove(&conn) else {
            return;
        };
        // the call's H.245 connection, if it has one, goes with it
        if matches!(
            c.leg.h245_transport(),
            H245Transport::Connecting | H245Transport::Listening(_) | H245Transport::Connected
        ) {
            self.h323.out.push_back(H323Output::H245Close { conn });
        }
        if c.leg.is_released() || c.leg.state() == CallState::Idle {
            return;
        }
        let cause = if c.outgoing && !c.connected {
            info!(call_id = %c.label, peer = %c.peer, "H.323 callee not reachable (no TCP connection)");
            Cause::new(Q850::DESTINATION_OUT_OF_ORDER)
                .with_text(&format!("No call-signalling connection to {}", c.peer))
        } else {
            info!(call_id = %c.label, peer = %c.peer, "H.323 call-signalling connection lost");
            Cause::new(Q850::NORMAL_UNSPECIFIED)
                .with_text("Call-signalling connection closed without ReleaseComplete")
        };
        if let Some(r) = c.meeting {
            self.on_meeting_leg_event(&r, LegEvent::Ended(cause.clone()));
        }
        if let Some((call, side)) = c.call {
            self.on_bridged_event(now, call, side, LegEvent::Ended(cause));
        }
    }

    pub(crate) fn h323_conn_timeouts(&mut self, now: Instant) {
        let due: Vec<ConnId> = self
            .h323
            .conns
            .iter()
            .filter(|(_, c)| c.next_deadline().is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for conn in due {
            let Some(c) = self.h323.conns.get_mut(&conn) else {
                continue;
            };
            if c.leg.state() == CallState::Idle && c.opened + SETUP_TIMEOUT <= now {
                debug!(peer = %c.peer, "H.323 connection closed: no Setup in time");
                self.h323.conns.remove(&conn);
                self.h323.out.push_back(H323Output::Close { conn });
                continue;
            }
            if c.max_duration_at.is_some_and(|d| d <= now) {
                c.max_duration_at = None;
                info!(call_id = %c.label, "maximum call duration reached in meeting");
                let cause = Cause::normal_clearing().with_text("Maximum call duration reached");
                self.h323_leg_command(now, conn, LegCommand::End(cause));
                continue;
            }
            c.leg.handle_timeout(now);
            self.h323_pump(now, conn);
        }
    }

    /// A command for the leg on `conn` from its owner (a meeting today, the
    /// neutral two-leg call next). Ending the leg takes it out of its
    /// meeting with the same cause.
    pub fn h323_leg_command(&mut self, now: Instant, conn: ConnId, cmd: LegCommand) {
        let Some(c) = self.h323.conns.get_mut(&conn) else {
            return;
        };
        let ending = match &cmd {
            LegCommand::End(cause) => Some(cause.clone()),
            _ => None,
        };
        c.leg.handle_command(now, cmd);
        if ending.is_some() {
            // The owner ended the leg itself: nothing to tell it back.
            c.call = None;
        }
        if let Some(cause) = ending {
            if let Some(r) = c.meeting.take() {
                self.on_meeting_leg_event(&r, LegEvent::Ended(cause));
            }
        }
        self.h323_pump(now, conn);
    }

    /// Moves the leg's frames to the socket and its events to their owner
    /// until it has nothing more; closes the connection once released.
    pub(crate) fn h323_pump(&mut self, now: Instant, conn: ConnId) {
        // Each round only handles events already produced; the bound stops
        // a leg and its owner from feeding each other forever.
        for _ in 0..16 {
            let Some(c) = self.h323.conns.get_mut(&conn) else {
                return;
            };
            while let Some(data) = c.leg.poll_transmit() {
                self.h323.out.push_back(H323Output::Send { conn, data });
            }
            let peer = c.peer.ip();
            while let Some(a) = c.leg.poll_h245_action() {
                self.h323.out.push_back(h245_output(conn, peer, a));
            }
            let mut events = Vec::new();
            while let Some(ev) = c.leg.poll_event() {
                events.push(ev);
            }
            if events.is_empty() {
                break;
            }
            for ev in events {
                self.on_h323_leg_event(now, conn, ev);
            }
        }
        let Some(c) = self.h323.conns.get_mut(&conn) else {
            return;
        };
        while let Some(data) = c.leg.poll_transmit() {
            self.h323.out.push_back(H323Output::Send { conn, data });
        }
        let peer = c.peer.ip();
        while let Some(a) = c.leg.poll_h245_action() {
            self.h323.out.push_back(h245_output(conn, peer, a));
        }
        if let Some(r) = c.leg.take_redirect() {
            return self.h323_follow_redirect(now, conn, r);
        }
        if c.leg.is_released() {
            let c = self.h323.conns.remove(&conn).expect("present above");
            self.h323.out.push_back(H323Output::Close { conn });
            if let Some(r) = c.meeting {
                // released without an Ended event: only our own End does
                // that, and it took the meeting already; kept as a guard
                let cause = Cause::normal_clearing();
                self.on_meeting_leg_event(&r, LegEvent::Ended(cause));
            }
        }
    }

    /// Where an H.323 leg's events go: to its meeting today.
    pub(crate) fn on_h323_leg_event(&mut self, now: Instant, conn: ConnId, ev: LegEvent) {
        let Some(c) = self.h323.conns.get_mut(&conn) else {
            return;
        };
        if let Some((call, side)) = c.call {
            if matches!(ev, LegEvent::Ended(_)) {
                c.call = None;
            }
            return self.on_bridged_event(now, call, side, ev);
        }
        match ev {
            LegEvent::Incoming { target, offer } => {
                if let Some(id) = c.leg.call_identifier() {
                    c.label = super::guid_hex(&id.guid);
                }
                self.h323_route_incoming(now, conn, target, offer);
            }
            LegEvent::Ended(cause) => {
                info!(call_id = %c.label, peer = %c.peer, cause = %cause, "H.323 call ended");
                if let Some(r) = c.meeting.take() {
                    self.on_meeting_leg_event(&r, LegEvent::Ended(cause));
                }
            }
            LegEvent::Dtmf { digit, duration_ms } => {
                info!(call_id = %c.label, %digit, duration_ms, "DTMF from H.323 leg");
                if let Some(r) = c.meeting.clone() {
                    self.on_meeting_leg_event(&r, LegEvent::Dtmf { digit, duration_ms });
                }
            }
            other => {
                if let Some(r) = c.meeting.clone() {
                    self.on_meeting_leg_event(&r, other);
                } else {
                    debug!(call_id = %c.label, event = ?other, "H.323 leg event without an owner");
                }
            }
        }
    }

    /// Who places the call: the registration the Setup names (or whose
    /// aliases it presents) from the same host; a room that does not
    /// register is admitted by its source address like a trunk (its ACL),
    /// else it is anonymous and the dialplan refuses it.
    fn h323_caller(&self, conn: ConnId) -> Option<Caller> {
        let c = self.h323.conns.get(&conn)?;
        let gk = self.h323.gatekeeper.as_ref()?;
        let ip = c.peer.ip();
        let by_id = c
            .leg
            .endpoint_identifier()
            .and_then(|id| gk.registration(id))
            .filter(|r| r.ras_source.ip() == ip);
        let reg = by_id.or_else(|| {
            gk.registrations().find(|r| {
                r.ras_source.ip() == ip && c.leg.caller_aliases().iter().any(|a| r.has_alias(a))
            })
        });
        Some(match reg {
            Some(r) => Caller::Endpoint(r.directory_id.clone()),
            None => match self.dialplan.trunk_for_source(ip) {
                Some(t) => Caller::Trunk(t.name.clone()),
                None => Caller::Anonymous { source: ip },
            },
        })
    }

    /// The Setup arrived: route it like any call and hand the leg to what
    /// the dialplan decided.
    pub(crate) fn h323_route_incoming(
        &mut self,
        now: Instant,
        conn: ConnId,
        target: String,
        offer: Option<MediaCaps>,
    ) {
        let Some(caller) = self.h323_caller(conn) else {
            return;
        };
        let label = self.h323.conns[&conn].label.clone();
        if let Caller::Endpoint(id) = &caller {
            if let Err(refusal) = self.vetting.check(id) {
                info!(call_id = %label, endpoint = %id, state = refusal.state.as_str(), "H.323 call refused: endpoint not approved");
                let cause =
                    Cause::from_h225(H225ReleaseReason::SecurityDenied).with_text(&refusal.text);
                return self.h323_leg_command(now, conn, LegCommand::End(cause));
            }
        }
        self.metrics.call_attempts.inc();
        let from_user = self.h323.conns[&conn]
            .leg
            .caller_aliases()
            .iter()
            .find_map(alias_text)
            .map(str::to_string);
        let decision = self.dialplan.route(&RouteRequest {
            caller: caller.clone(),
            from_user,
            target: target.clone(),
            transport_secure: false,
            at_unix_secs: crate::engine::unix_now(),
        });
        debug!(call_id = %label, caller = ?caller, target = %target, outcome = ?decision.outcome, trace = ?decision.trace, "routed");
        match &decision.outcome {
            RouteOutcome::Reject { status, reason } => {
                let cause = if *status == 488 && decision.policy.encryption_required {
                    info!(call_id = %label, %target, "plain H.323 leg refused from a classified meeting");
                    self.h323_plain_leg_refusal(&target)
                } else {
                    info!(call_id = %label, %target, status, %reason, "H.323 call refused by the dialplan");
                    Cause::from_sip_status(*status, reason)
                };
                self.h323_leg_command(now, conn, LegCommand::End(cause));
            }
            RouteOutcome::Meeting { number } => {
                let number = number.clone();
                let caller = match &caller {
                    Caller::Endpoint(e) => format!("endpoint:{e}"),
                    Caller::Trunk(t) => format!("trunk:{t}"),
                    Caller::Anonymous { source } => format!("anonymous:{source}"),
                };
                self.h323_join_meeting(now, conn, &decision, &number, caller, &target, offer);
            }
            RouteOutcome::Endpoint { .. }
            | RouteOutcome::Trunk { .. }
            | RouteOutcome::Uri { .. } => {
                let caller = crate::call::caller_label(&caller);
                let placed = match offer {
                    Some(offer) => self.h323_call_to_sip(
                        now,
                        conn,
                        &decision,
                        caller,
                        target.clone(),
                        Some(offer),
                    ),
                    None => self.h323_slow_start_call(now, conn, &decision, caller, target.clone()),
                };
                match placed {
                    Ok(call) => {
                        if let Some(c) = self.h323.conns.get_mut(&conn) {
                            c.call = Some((call, crate::call::Side::A));
                        }
                        self.h323_set_max_duration(now, conn, decision.policy.max_duration_secs);
                    }
                    Err(cause) => {
                        info!(call_id = %label, %target, cause = %cause, "H.323 call not placed");
                        self.h323_leg_command(now, conn, LegCommand::End(cause));
                    }
                }
            }
        }
    }

    /// A Setup without Fast Start (slow start): the call is placed as a
    /// late offer, so the bridge offers the caller its media with the
    /// answer, and the leg's channel acknowledged over H.245 is the
    /// caller's answer to it (`LegEvent::Answer` from side A).
    ///
    /// `h323_call_to_sip` refuses a missing offer (it predates slow start
    /// on this leg); this is the same placement with the offer left out.
    fn h323_slow_start_call(
        &mut self,
        now: Instant,
        conn: ConnId,
        decision: &RouteDecision,
        caller: String,
        target: String,
    ) -> Result<u64, Cause> {
        let callee = self.resolve_callee(now, decision)?;
        let (label, calling) = match self.h323.conns.get(&conn) {
            Some(c) => (c.label.clone(), c.leg.calling_number().map(str::to_string)),
            None => return Err(Cause::normal_clearing()),
        };
        let caller_number = decision
            .policy
            .caller_id
            .clone()
            .or(calling)
            .unwrap_or_else(|| "anonymous".into());
        info!(call_id = %label, %target, "H.323 call without Fast Start: media follows over H.245");
        self.start_bridged_call(
            now,
            crate::call::bridged::NewCall {
                label,
                caller_leg: crate::call::bridged::LegSignalling::H323(conn),
                offer: None,
                decision,
                callee,
                caller_number: caller_number.clone(),
                caller_display: None,
                max_forwards: 70,
                caller,
                to_uri: format!("h323:{target}"),
                target,
                from_uri: format!("h323:{caller_number}"),
            },
        )
    }

    /// The maximum duration of a leg the decision admitted.
    pub(crate) fn h323_set_max_duration(&mut self, now: Instant, conn: ConnId, secs: u64) {
        if let Some(c) = self.h323.conns.get_mut(&conn) {
            c.max_duration_at = Some(now + Duration::from_secs(secs.max(1)));
        }
    }
}

impl Engine {
    /// The callee of a call we placed sent it elsewhere (Facility
    /// callForwarded / routeCallToGatekeeper): the first connection is
    /// closed (its ReleaseComplete is queued) and the same call is placed
    /// on a new one under the same number, so the call's owner keeps its
    /// handle. The target is the Facility's address, else the
    /// registration holding one of its aliases; an address that is ours
    /// (we are the gatekeeper it routes to) counts only through its
    /// aliases. No target: the call ends, Q.850 3.
    fn h323_follow_redirect(
        &mut self,
        now: Instant,
        conn: ConnId,
        r: gateway_h323::call::Redirect,
    ) {
        let own = self
            .h323
            .gatekeeper
            .as_ref()
            .map(|g| g.config().call_signal_address);
        let by_alias = || {
            let gk = self.h323.gatekeeper.as_ref()?;
            gk.registrations()
                .filter(|reg| reg.expires_at > now)
                .find(|reg| r.aliases.iter().any(|a| reg.has_alias(a)))
                .and_then(|reg| reg.call_signal_addresses.iter().find_map(from_transport))
        };
        let to = r
            .address
            .filter(|a| Some(*a) != own)
            .or_else(by_alias)
            .filter(|a| Some(*a) != own);
        let Some(c) = self.h323.conns.get_mut(&conn) else {
            return;
        };
        if matches!(
            c.leg.h245_transport(),
            H245Transport::Connecting | H245Transport::Listening(_) | H245Transport::Connected
        ) {
            self.h323.out.push_back(H323Output::H245Close { conn });
        }
        self.h323.out.push_back(H323Output::Close { conn });
        let next = match to {
            Some(to) => c
                .leg
                .redirected(to, &r.aliases)
                .map(|leg| (to, leg))
                .map_err(|e| {
                    Cause::new(Q850::BEARER_CAPABILITY_NOT_AVAILABLE)
                        .with_text(&format!("The redirected call could not be placed: {e}"))
                }),
            None => Err(
                Cause::new(Q850::NO_ROUTE_TO_DESTINATION).with_text(&format!(
                    "The callee redirected the call ({:?}) to no address we can reach",
                    r.reason
                )),
            ),
        };
        match next {
            Ok((to, leg)) => {
                info!(call_id = %c.label, from = %c.peer, to = %to, reason = ?r.reason, "H.323 call redirected by the callee; placed again");
                c.leg = leg;
                c.peer = to;
                c.connected = false;
                c.opened = now;
                self.h323
                    .out
                    .push_back(H323Output::Connect { conn, addr: to });
                self.h323_pump(now, conn);
            }
            Err(cause) => {
                info!(call_id = %c.label, peer = %c.peer, cause = %cause, "H.323 redirect not followed");
                let c = self.h323.conns.remove(&conn).expect("present above");
                if let Some(r) = c.meeting {
                    self.on_meeting_leg_event(&r, LegEvent::Ended(cause.clone()));
                }
                if let Some((call, side)) = c.call {
                    self.on_bridged_event(now, call, side, LegEvent::Ended(cause));
                }
            }
        }
    }
}

/// What the runtime does for a leg's H.245 connection. Only the host of
/// the call-signalling connection may connect to a port we listen on.
fn h245_output(conn: ConnId, peer: std::net::IpAddr, a: H245Action) -> H323Output {
    match a {
        H245Action::Connect(addr) => H323Output::H245Connect { conn, addr },
        H245Action::Listen => H323Output::H245Listen { conn, peer },
        H245Action::Send(data) => H323Output::H245Send { conn, data },
        H245Action::Close => H323Output::H245Close { conn },
    }
}

impl Engine {
    /// The runtime reports on a call's H.245 connection.
    pub(crate) fn on_h245_input(&mut self, now: Instant, input: H323Input) {
        let conn = match &input {
            H323Input::H245Listening { conn, .. }
            | H323Input::H245Connected { conn }
            | H323Input::H245Bytes { conn, .. }
            | H323Input::H245Closed { conn } => *conn,
            _ => return,
        };
        // the listener's host as the peer reaches it: our advertised one
        // when it was bound to all interfaces
        let advertised = self
            .h323
            .gatekeeper
            .as_ref()
            .map(|g| g.config().call_signal_address.ip());
        let Some(c) = self.h323.conns.get_mut(&conn) else {
            // the call is gone: so is what it had
            if !matches!(input, H323Input::H245Closed { .. }) {
                self.h323.out.push_back(H323Output::H245Close { conn });
            }
            return;
        };
        match input {
            H323Input::H245Listening { mut addr, .. } => {
                if let Some(ip) = advertised.filter(|_| addr.ip().is_unspecified()) {
                    addr.set_ip(ip);
                }
                debug!(call_id = %c.label, %addr, "H.245 listening for the peer");
                c.leg.h245_listening(now, addr);
            }
            H323Input::H245Connected { .. } => {
                debug!(call_id = %c.label, peer = %c.peer, "H.245 connection up");
                c.leg.h245_connected(now);
            }
            H323Input::H245Bytes { data, .. } => {
                let before = c.leg.stats().h245_malformed;
                c.leg.handle_h245_bytes(now, &data);
                if c.leg.stats().h245_malformed > before {
                    self.metrics.parse_errors.inc();
                    debug!(call_id = %c.label, "malformed H.245 PDU ignored");
                }
            }
            H323Input::H245Closed { .. } => {
                info!(call_id = %c.label, peer = %c.peer, "H.245 connection closed");
                c.leg.h245_closed(now);
            }
            _ => {}
        }
        self.h323_pump(now, conn);
    }
}

/// GUIDs as H.225.0 7.6 wants them: unique, here simply random.
fn random_guid(rng: &mut impl rand::RngCore) -> [u8; 16] {
    let mut g = [0u8; 16];
    rng.fill_bytes(&mut g);
    g
}

impl Engine {
    /// The decision names an H.323 endpoint: where its registration says it
    /// takes calls. `None` when the decision names anything else (SIP
    /// resolves it); an unregistered room is SIP's 480 in neutral words.
    pub(crate) fn resolve_h323_callee(
        &self,
        now: Instant,
        decision: &RouteDecision,
    ) -> Option<Result<Callee, Cause>> {
        let RouteOutcome::Endpoint { id } = &decision.outcome else {
            return None;
        };
        let ep = self.dialplan.endpoint(id)?;
        if ep.protocol != Protocol::H323 {
            return None;
        }
        let absent = |why: &str| Some(Err(Cause::from_sip_status(480, &format!("{id} {why}"))));
        let Some(gk) = self.h323.gatekeeper.as_ref() else {
            return absent("is an H.323 endpoint and H.323 is off");
        };
        let Some(reg) = gk
            .registrations()
            .filter(|r| r.directory_id == *id && r.expires_at > now)
            .max_by_key(|r| r.registered_at)
        else {
            return absent("is not registered");
        };
        let Some(addr) = reg.call_signal_addresses.iter().find_map(from_transport) else {
            return absent("registered no usable call-signalling address");
        };
        Some(Ok(Callee::H323 {
            addr,
            aliases: reg.aliases.clone(),
            number: ep.numbers.first().cloned(),
        }))
    }

    /// Opens a connection to an H.323 callee and gives it a leg placing the
    /// call with `offer` (our relay's B side); the leg is side B of `call`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn h323_place_call(
        &mut self,
        now: Instant,
        call: u64,
        label: &str,
        addr: SocketAddr,
        aliases: &[AliasAddress],
        number: Option<&str>,
        caller_number: &str,
        offer: &MediaCaps,
    ) -> Result<ConnId, Cause> {
        let Some(gk) = self.h323.gatekeeper.as_ref() else {
            return Err(Cause::from_sip_status(480, "H.323 is off"));
        };
        if self.h323.conns.len() >= MAX_CONNECTIONS {
            return Err(Cause::new(Q850::SWITCHING_EQUIPMENT_CONGESTION)
                .with_text("Too many H.323 connections"));
        }
        let source = Some(gk.config().call_signal_address);
        let msd = rand::RngCore::next_u32(&mut self.rng);
        let call_reference = (rand::RngCore::next_u32(&mut self.rng) & 0x7FFF) as u16;
        let outgoing = OutgoingCall {
            calling_number: caller_number.to_string(),
            called_aliases: aliases.to_vec(),
            called_number: number.map(str::to_string),
            destination: Some(addr),
            source,
            conference_id: random_guid(&mut self.rng),
            call_identifier: random_guid(&mut self.rng),
            call_reference,
            offer: offer.clone(),
        };
        let leg = H323CallLeg::new_outgoing(super::leg_config(msd), outgoing).map_err(|e| {
            Cause::new(Q850::BEARER_CAPABILITY_NOT_AVAILABLE)
                .with_text(&format!("No call to the H.323 endpoint: {e}"))
        })?;
        self.h323.last_outgoing = self.h323.last_outgoing.max(super::OUTGOING_CONN_BASE) + 1;
        let conn = self.h323.last_outgoing;
        info!(call_id = %label, peer = %addr, conn, "H.323 call placed (Setup with Fast Start)");
        self.h323.conns.insert(
            conn,
            Conn {
                leg,
                peer: addr,
                label: label.to_string(),
                meeting: None,
                call: Some((call, crate::call::Side::B)),
                opened: now,
                max_duration_at: None,
                outgoing: true,
                connected: false,
            },
        );
        self.h323.out.push_back(H323Output::Connect { conn, addr });
        self.h323_pump(now, conn);
        Ok(conn)
    }
}

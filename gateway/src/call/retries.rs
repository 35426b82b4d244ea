//! The B2BUA's timers and second attempts: session refreshes per leg
//! (RFC 4028), trunk digest authentication of callers and of our INVITE,
//! the RTP/SAVP retry after a 488, abandoning leg B, and the responses to
//! the caller the engine retransmits itself.

use super::*;

impl Engine {
    /// Wake up at the earliest session-timer deadline of the call.
    pub(super) fn arm_session_timer(&mut self, call_id: u64) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let next = call
            .session_timers
            .iter()
            .flatten()
            .filter_map(SessionTimer::poll_timeout)
            .min();
        if let Some(at) = next {
            self.schedule(at, EngineTimer::Session(call_id));
        }
    }

    pub(crate) fn on_session_timer(&mut self, now: Instant, call_id: u64) {
        for side in [Side::A, Side::B] {
            let Some(call) = self.calls.get_mut(&call_id) else {
                return;
            };
            let action = call.session_timers[side as usize]
                .as_mut()
                .and_then(|t| t.handle_timeout(now));
            match action {
                Some(SessionTimerAction::SendRefresh) => call.refresh_due[side as usize] = true,
                Some(SessionTimerAction::Expired) => {
                    let label = call.label.clone();
                    warn!(call_id = %label, ?side, "session timer expired: the peer stopped refreshing");
                    self.hang_up_both(now, call_id);
                    return self.finish(call_id, "failed", 408, "Session timer expired");
                }
                None => {}
            }
            let Some(call) = self.calls.get_mut(&call_id) else {
                return;
            };
            let offer_pending = !call.refreshes.is_empty()
                || call
                    .relays
                    .values()
                    .any(|p| matches!(p.req.method, Method::Invite | Method::Update));
            if call.refresh_due[side as usize] && offer_pending {
                // One INVITE at a time per dialog (RFC 3261 14.1): try again
                // shortly; the pending exchange may well refresh the session.
                self.schedule(now + Duration::from_secs(2), EngineTimer::Session(call_id));
                continue;
            }
            if call.refresh_due[side as usize] {
                call.refresh_due[side as usize] = false;
                {
                    // A refresh re-INVITE carries the SDP this leg already has.
                    let body = call.last_sdp_to[side as usize]
                        .clone()
                        .map(|b| ("application/sdp".to_string(), b));
                    debug!(call_id = %call.label, ?side, "sending session refresh");
                    if let Some(tx) = self.send_in_dialog(
                        now,
                        call_id,
                        side,
                        Method::Invite,
                        body,
                        ClientPurpose::Refresh,
                    ) {
                        if let Some(c) = self.calls.get_mut(&call_id) {
                            c.refreshes.insert(tx, side);
                        }
                    }
                }
            }
        }
        self.arm_session_timer(call_id);
    }

    pub(super) fn on_refresh_response(
        &mut self,
        now: Instant,
        call_id: u64,
        tx: ClientTxId,
        resp: Response,
    ) {
        if resp.status < 200 {
            return;
        }
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let Some(side) = call.refreshes.remove(&tx) else {
            return;
        };
        match resp.status {
            200..=299 => {
                let cseq = resp.cseq().map(|c| c.seq).unwrap_or(0);
                if let (Some(t), Ok(n)) = (
                    call.session_timers[side as usize].as_mut(),
                    negotiate_uac(&resp, &SessionTimerConfig::default()),
                ) {
                    t.refreshed(now, n.interval, n.we_refresh(true));
                }
                self.send_ack(call_id, side, cseq, None);
                self.arm_session_timer(call_id);
            }
            481 | 408 => {
                info!(call_id = %call.label, ?side, status = resp.status, "session refresh found the dialog gone");
                self.hang_up_both(now, call_id);
                self.finish(
                    call_id,
                    "answered",
                    resp.status,
                    "Dialog gone at session refresh",
                );
            }
            // 491 or another refusal: the session stays up; the timer's
            // expiry decides if nothing succeeds in time.
            _ => self.arm_session_timer(call_id),
        }
    }

    /// BYE on every leg that has an established dialog.
    pub(super) fn hang_up_both(&mut self, now: Instant, call_id: u64) {
        for side in [Side::A, Side::B] {
            let established = self.calls.get(&call_id).is_some_and(|c| match side {
                Side::A => {
                    c.a_dialog.is_some()
                        && matches!(c.state, CallState::Answered | CallState::Confirmed)
                }
                Side::B => c.b_dialog.is_some(),
            });
            if established {
                self.send_in_dialog(now, call_id, side, Method::Bye, None, ClientPurpose::Bye);
            }
        }
    }
}

/// How a caller outside every trunk ACL fared with trunk digest credentials.
pub(super) enum TrunkAuth {
    Trunk(String),
    /// A challenge or refusal was sent.
    Answered,
    /// No trunk takes digest credentials: the caller is unknown.
    Unknown,
}

/// Option tags of `Require` that we do not implement (RFC 3261 8.2.2.3).
pub(super) fn unsupported_requirements(req: &Request) -> Vec<String> {
    req.headers
        .get_all(&HeaderName::Require)
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .filter(|t| !SUPPORTED_TAGS.iter().any(|s| s.eq_ignore_ascii_case(t)))
        .map(str::to_string)
        .collect()
}

/// Option tags the B2BUA honours.
const SUPPORTED_TAGS: &[&str] = &["100rel", "timer"];

/// The `username` parameter of a digest credentials value.
fn digest_username(value: &str) -> Option<String> {
    let at = value.find("username")?;
    let rest = value[at + "username".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

impl Engine {
    /// A trunk that calls from outside its ACL proves itself with digest.
    pub(super) fn trunk_by_digest(
        &mut self,
        now: Instant,
        id: ServerTxId,
        req: &Request,
    ) -> TrunkAuth {
        let with_credentials: Vec<(String, String, String)> = self
            .dialplan
            .trunks()
            .iter()
            .filter_map(|t| Some((t.name.clone(), t.username.clone()?, t.password.clone()?)))
            .collect();
        if with_credentials.is_empty() {
            return TrunkAuth::Unknown;
        }
        let user = req
            .headers
            .get(&HeaderName::ProxyAuthorization)
            .and_then(digest_username);
        let Some(user) = user else {
            // Challenge: any trunk's credentials may answer.
            let first = with_credentials[0].clone();
            self.check_digest_for(now, id, req, &first.1, Credentials::Password(first.2), true);
            return TrunkAuth::Answered;
        };
        match with_credentials.into_iter().find(|(_, u, _)| *u == user) {
            Some((name, u, p)) => {
                if self.check_digest_for(now, id, req, &u, Credentials::Password(p), true) {
                    TrunkAuth::Trunk(name)
                } else {
                    TrunkAuth::Answered
                }
            }
            None => {
                self.metrics.auth_failures.inc();
                self.reply(now, id, req, 403, "Unknown trunk credentials", None);
                TrunkAuth::Answered
            }
        }
    }
}

pub(super) fn requires_100rel(req: &Request) -> bool {
    req.headers
        .get_all(&HeaderName::Require)
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("100rel"))
}

impl Engine {
    /// Answer leg B's 401/407 with the trunk's credentials: the same INVITE
    /// with the next CSeq, a new branch and an Authorization header.
    pub(super) fn retry_b_with_credentials(
        &mut self,
        now: Instant,
        call_id: u64,
        resp: &Response,
        (user, pass): &(String, String),
    ) -> bool {
        let cnonce = self.random_hex(8);
        let branch = self.new_branch();
        let Some(call) = self.calls.get_mut(&call_id) else {
            return false;
        };
        let Some(mut req) = authorized_retry(&call.b_invite, resp, user, pass, &cnonce) else {
            return false;
        };
        let peer = call.b_peer;
        let hp = self.cfg.sent_by(peer.transport);
        add_via(&mut req, peer.transport, &hp, &branch);
        match self.tx.send_request(now, req.clone(), peer) {
            Ok(tx) => {
                info!(call_id = %call.label, "callee challenged; retrying with the trunk's credentials");
                call.b_invite = req;
                call.b_invite_open = true;
                self.by_client_tx
                    .insert(tx, (call_id, ClientPurpose::Invite));
                true
            }
            Err(_) => false,
        }
    }
}

impl Engine {
    /// Leg B refused our offer with 488 where SRTP might have been what it
    /// wanted (an SRTP-only phone refuses `RTP/AVP`): offer it once more as
    /// `RTP/SAVP` with keys of ours; the gateway then terminates B's SRTP.
    pub(super) fn retry_b_with_savp(&mut self, now: Instant, call_id: u64) -> bool {
        let branch = self.new_branch();
        let Some(call) = self.calls.get_mut(&call_id) else {
            return false;
        };
        if call.srtp_retried || call.late_offer {
            return false;
        }
        let offer = match &call.srtp_offer {
            Some((Side::A, o)) => Some(o),
            Some(_) => return false,
            None => None,
        };
        let Some((body, srtp_offer)) = encryption::savp_retry(&call.b_invite.body, offer) else {
            return false;
        };
        call.srtp_retried = true;
        call.srtp_offer = Some((Side::A, srtp_offer));
        let mut req = call.b_invite.clone();
        let seq = req.cseq().map(|c| c.seq).unwrap_or(1) + 1;
        req.headers.set(HeaderName::CSeq, format!("{seq} INVITE"));
        req.headers.remove(&HeaderName::Via);
        req.headers
            .set(HeaderName::ContentLength, body.len().to_string());
        req.body = body;
        let peer = call.b_peer;
        let hp = self.cfg.sent_by(peer.transport);
        add_via(&mut req, peer.transport, &hp, &branch);
        match self.tx.send_request(now, req.clone(), peer) {
            Ok(tx) => {
                info!(call_id = %call.label, "callee refused RTP/AVP (488); offering RTP/SAVP with our keys");
                call.b_invite = req;
                call.b_invite_open = true;
                self.by_client_tx
                    .insert(tx, (call_id, ClientPurpose::Invite));
                true
            }
            Err(_) => false,
        }
    }

    /// Give up on leg B before its final response: CANCEL it now if it sent
    /// a provisional, else as soon as it does (RFC 3261 9.1). The call ends
    /// when B's final response arrives, with `cause` in its CDR.
    pub(super) fn abandon_b(
        &mut self,
        now: Instant,
        call_id: u64,
        outcome: &'static str,
        status: u16,
        reason: String,
    ) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let send_now = call.state == CallState::Early;
        call.state = CallState::Cancelling;
        call.cancel_cause = Some((outcome, status, reason));
        if send_now {
            let cancel = build_cancel(&call.b_invite);
            let peer = call.b_peer;
            if let Ok(tx) = self.tx.send_request(now, cancel, peer) {
                self.by_client_tx
                    .insert(tx, (call_id, ClientPurpose::Cancel));
            }
        }
    }

    pub(super) fn finish_cancelled(&mut self, call_id: u64) {
        let cause = self
            .calls
            .get_mut(&call_id)
            .and_then(|c| c.cancel_cause.take());
        let (outcome, status, reason) =
            cause.unwrap_or(("cancelled", 487, "Caller cancelled".to_string()));
        self.finish(call_id, outcome, status, &reason);
    }
}

/// Responses to the caller that the engine retransmits itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CallerRetransmit {
    /// A reliable provisional, until PRACK (RFC 3262).
    Reliable,
    /// The 2xx, until ACK (RFC 3261 13.3.1.4).
    Answer,
}

impl Engine {
    /// Resend a response to the caller when its timer fires, or give up
    /// after 64*T1 and end the call.
    pub(crate) fn on_caller_retransmit(
        &mut self,
        now: Instant,
        call_id: u64,
        kind: CallerRetransmit,
    ) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let step = match kind {
            CallerRetransmit::Reliable => call
                .reliable_a
                .as_mut()
                .map(|r| (r.handle_timeout(now), r.poll_timeout())),
            CallerRetransmit::Answer => call
                .ack_wait
                .as_mut()
                .map(|w| (w.handle_timeout(now), w.poll_timeout())),
        };
        let Some((action, next)) = step else {
            return;
        };
        let a_tx = call.a_tx;
        match action {
            Some(RetransmitAction::Resend(resp)) => {
                if let Err(e) = self.tx.respond(now, &a_tx, resp) {
                    debug!(error = %e, "retransmission to the caller not sent");
                }
            }
            Some(RetransmitAction::GiveUp) => {
                return match kind {
                    CallerRetransmit::Reliable => {
                        warn!(call_id = %call.label, "caller never acknowledged a reliable provisional (PRACK)");
                        let r = Response {
                            status: 504,
                            reason: "Reliable provisional response not acknowledged".into(),
                            headers: Default::default(),
                            body: Vec::new(),
                        };
                        self.forward_to_a(now, call_id, &r, None);
                        self.hang_up_other(now, call_id, Side::A);
                        self.finish(call_id, "failed", 504, "No PRACK from caller");
                    }
                    CallerRetransmit::Answer => {
                        call.ack_wait = None;
                        self.on_ack_timeout(now, call_id);
                    }
                };
            }
            None => {}
        }
        if let Some(at) = next {
            self.schedule(at, EngineTimer::Retransmit(call_id, kind));
        }
    }
}

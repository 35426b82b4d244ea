//! Session timers (RFC 4028) on a bridged SIP leg. Each leg negotiates
//! with its own peer: the interval and refresher of the caller's dialog
//! and of the callee's need not match. Where we refresh, a re-INVITE with
//! the SDP the leg already has goes out at half the interval; where the
//! peer refreshes and stops, the leg ends with 408 before the interval
//! runs out, and the owner hangs up the other leg.

use super::SipLeg;
use crate::call::Side;
use crate::engine::{Engine, EngineTimer, USER_AGENT};
use gateway_callmodel::{Cause, LegEvent};
use gateway_sip::message::{HeaderName, Method, Request, Response};
use gateway_sip::session_timer::{
    apply_to_request, negotiate_uac, negotiate_uas, Refresher, SessionTimer, SessionTimerAction,
    SessionTimerConfig,
};
use gateway_sip::transaction::{add_via, ClientTxId};
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// A refresh that finds the leg busy with another INVITE waits this long.
const BUSY_RETRY: Duration = Duration::from_secs(2);

/// One leg's session timer and our refresh in flight.
#[derive(Default)]
pub(crate) struct LegSessionTimer {
    timer: Option<SessionTimer>,
    /// The deadline a `BridgedSession` timer is scheduled for: stale ones
    /// (the deadline moved with a refresh) do nothing.
    armed: Option<Instant>,
    /// Our refresh re-INVITE and its CSeq.
    pub(super) refresh: Option<(ClientTxId, u32)>,
}

impl LegSessionTimer {
    /// The Session-Expires refresher to ask for in a request of ours:
    /// whoever refreshes now keeps doing it.
    pub(super) fn refresher_for_our_request(&self) -> Option<Refresher> {
        self.timer.map(|t| {
            if t.we_refresh() {
                Refresher::Uac
            } else {
                Refresher::Uas
            }
        })
    }

    pub(super) fn owns(&self, tx: ClientTxId) -> bool {
        self.refresh.is_some_and(|(t, _)| t == tx)
    }

    fn set(&mut self, now: Instant, interval: u32, we_refresh: bool) {
        match self.timer.as_mut() {
            Some(t) => t.refreshed(now, interval, we_refresh),
            None => self.timer = Some(SessionTimer::new(now, interval, we_refresh)),
        }
    }
}

/// Session-timer headers on a request of ours (INVITE, re-INVITE).
pub(super) fn offer_timer(req: &mut Request, leg: &SipLeg) {
    apply_to_request(
        req,
        &SessionTimerConfig::default(),
        leg.session.refresher_for_our_request(),
    );
}

impl Engine {
    /// Our 2xx to the peer's INVITE, re-INVITE or UPDATE: the negotiated
    /// Session-Expires goes on it and the leg's timer (re)starts.
    pub(super) fn session_timer_answered(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        req: &Request,
        resp: &mut Response,
    ) {
        let Ok(n) = negotiate_uas(req, &SessionTimerConfig::default()) else {
            return;
        };
        n.apply_to_response(resp);
        if let Some(leg) = self.sip_leg_mut(call_id, side) {
            leg.session.set(now, n.interval, n.we_refresh(false));
        }
        self.arm_leg_session(call_id, side);
    }

    /// A 2xx to our INVITE or re-INVITE: the peer's Session-Expires (or
    /// none: we refresh at the interval we asked for).
    pub(super) fn session_timer_accepted(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        resp: &Response,
    ) {
        let Ok(n) = negotiate_uac(resp, &SessionTimerConfig::default()) else {
            return;
        };
        if let Some(leg) = self.sip_leg_mut(call_id, side) {
            leg.session.set(now, n.interval, n.we_refresh(true));
        }
        self.arm_leg_session(call_id, side);
    }

    fn arm_leg_session(&mut self, call_id: u64, side: Side) {
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let next = leg.session.timer.and_then(|t| t.poll_timeout());
        if next.is_none() || next == leg.session.armed {
            return;
        }
        leg.session.armed = next;
        if let Some(at) = next {
            self.schedule(at, EngineTimer::BridgedSession(call_id, side as u8));
        }
    }

    pub(crate) fn on_sip_leg_session_timer(&mut self, now: Instant, call_id: u64, side: Side) {
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        if leg.session.armed.is_some_and(|at| at > now) {
            // Stale: the deadline moved, and its own timer is scheduled.
            return;
        }
        leg.session.armed = None;
        let action = leg
            .session
            .timer
            .as_mut()
            .and_then(|t| t.handle_timeout(now));
        match action {
            Some(SessionTimerAction::Expired) => {
                warn!(?side, "session timer expired: the peer stopped refreshing");
                let cause = Cause::from_sip_status(408, "Session timer expired");
                return self.end_own_dialog(now, call_id, side, cause);
            }
            Some(SessionTimerAction::SendRefresh) => {
                if leg.mid.busy() || leg.session.refresh.is_some() {
                    // One INVITE at a time per dialog (RFC 3261 §14.1); the
                    // exchange in flight may refresh the session itself.
                    leg.session.armed = Some(now + BUSY_RETRY);
                    self.schedule(
                        now + BUSY_RETRY,
                        EngineTimer::BridgedSession(call_id, side as u8),
                    );
                    return;
                }
                self.send_refresh(now, call_id, side);
            }
            None => {}
        }
        self.arm_leg_session(call_id, side);
    }

    /// A refresh: re-INVITE with the SDP the leg already has.
    fn send_refresh(&mut self, now: Instant, call_id: u64, side: Side) {
        let branch = self.new_branch();
        let Some(transport) = self.sip_leg_mut(call_id, side).map(|l| l.peer.transport) else {
            return;
        };
        let contact = self.contact(transport);
        let hp = self.cfg.sent_by(transport);
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let Some(mut req) = leg
            .dialog
            .as_mut()
            .and_then(|d| d.create_request(Method::Invite).ok())
        else {
            return;
        };
        let peer = leg.peer;
        add_via(&mut req, peer.transport, &hp, &branch);
        req.headers.push(HeaderName::Contact, contact);
        req.headers.push(HeaderName::UserAgent, USER_AGENT);
        apply_to_request(
            &mut req,
            &SessionTimerConfig::default(),
            Some(Refresher::Uac),
        );
        if !leg.local_sdp.is_empty() {
            req.headers.set(HeaderName::ContentType, "application/sdp");
            req.body = leg.local_sdp.clone();
        }
        let cseq = req.cseq().map(|c| c.seq).unwrap_or(0);
        debug!(?side, cseq, "sending session refresh");
        match self.tx.send_request(now, req, peer) {
            Ok(tx) => {
                self.bridged.client_tx.insert(tx, (call_id, side));
                if let Some(leg) = self.sip_leg_mut(call_id, side) {
                    leg.session.refresh = Some((tx, cseq));
                }
            }
            Err(e) => debug!(error = %e, "session refresh not sent"),
        }
    }

    /// A response to our refresh re-INVITE.
    pub(super) fn on_leg_refresh_response(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        resp: &Response,
    ) {
        if resp.status < 200 {
            return;
        }
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let Some((_, cseq)) = leg.session.refresh.take() else {
            return;
        };
        match resp.status {
            200..=299 => {
                self.ack_sip_leg(call_id, side, cseq);
                self.session_timer_accepted(now, call_id, side, resp);
            }
            408 | 481 => {
                info!(
                    ?side,
                    status = resp.status,
                    "session refresh found the dialog gone"
                );
                let cause = Cause::from_sip_status(resp.status, "Dialog gone at session refresh");
                self.on_bridged_event(now, call_id, side, LegEvent::Ended(cause));
            }
            // 491 or another refusal: the session stays; expiry decides if
            // nothing refreshes it in time.
            _ => self.arm_leg_session(call_id, side),
        }
    }

    /// Our refresh timed out: the dialog is gone (RFC 4028 §10).
    pub(super) fn refresh_failed(&mut self, now: Instant, call_id: u64, side: Side) -> bool {
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return false;
        };
        if leg.session.refresh.take().is_none() {
            return false;
        }
        let cause = Cause::from_sip_status(408, "The peer did not answer our session refresh");
        self.on_bridged_event(now, call_id, side, LegEvent::Ended(cause));
        true
    }
}

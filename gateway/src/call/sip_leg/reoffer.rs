//! Mid-call offer/answer on a SIP leg: the peer's re-INVITE or UPDATE with
//! a new offer goes to the owner as [`LegEvent::Offer`] and waits for its
//! answer; the owner's [`LegCommand::Offer`] becomes our re-INVITE. An
//! offer that repeats the peer's last SDP version (a session refresh)
//! changes nothing and is answered here, as is every offer when the other
//! leg cannot renegotiate.

use super::{answered_streams, parse_sdp, with_our_headers};
use crate::call::caps::{answer_sdp, caps_from_sdp, offer_sdp, reanswer};
use crate::call::{sdp_body, Side};
use crate::engine::{Engine, EngineTimer, USER_AGENT};
use gateway_callmodel::{Cause, LegEvent, MediaCaps};
use gateway_sdp::SessionDescription;
use gateway_sip::dialog::{AckWait, RetransmitAction};
use gateway_sip::message::{HeaderName, Method, Request, Response};
use gateway_sip::transaction::{add_via, make_response, ClientTxId, ServerTxId};
use std::time::Instant;
use tracing::{debug, info, warn};

/// The mid-call state of one SIP leg.
#[derive(Default)]
pub(crate) struct MidCall {
    /// The peer's offer (re-INVITE or UPDATE) passed on to the owner.
    pending_in: Option<PendingIn>,
    /// Our re-INVITE carrying the owner's offer, and the SDP it carries.
    out: Option<(ClientTxId, u32, Vec<u8>)>,
    /// Our last re-INVITE that got its 2xx: a retransmitted 2xx is
    /// acknowledged again with its CSeq.
    out_done: Option<(ClientTxId, u32)>,
    /// Our 2xx to the peer's re-INVITE, resent until its ACK (RFC 3261
    /// §13.3.1.4).
    ack: Option<(ServerTxId, u32, AckWait)>,
    /// The version of the peer's last SDP (`o=`).
    pub(super) remote_version: Option<u64>,
}

struct PendingIn {
    tx: ServerTxId,
    req: Request,
    offer: SessionDescription,
}

impl MidCall {
    /// A leg whose peer's first SDP had this `o=` version.
    pub(super) fn after(remote_version: Option<u64>) -> Self {
        MidCall {
            remote_version,
            ..Default::default()
        }
    }

    /// A mid-call offer of the peer's is waiting for the owner's answer.
    pub(super) fn take_pending(&mut self) -> Option<(ServerTxId, Request)> {
        self.pending_in.take().map(|p| (p.tx, p.req))
    }

    /// An offer/answer exchange is in flight in either direction.
    pub(super) fn busy(&self) -> bool {
        self.out.is_some() || self.pending_in.is_some()
    }

    pub(super) fn has_pending_in(&self) -> bool {
        self.pending_in.is_some()
    }

    /// `tx` is our re-INVITE (in flight, or answered and retransmitted).
    pub(super) fn owns(&self, tx: ClientTxId) -> bool {
        self.out.as_ref().is_some_and(|(t, ..)| *t == tx)
            || self.out_done.is_some_and(|(t, _)| t == tx)
    }

    /// The ACK for our 2xx to the peer's re-INVITE with this CSeq.
    pub(super) fn acked(&mut self, cseq: u32) -> bool {
        if self.ack.as_ref().is_some_and(|(_, c, _)| *c == cseq) {
            self.ack = None;
            return true;
        }
        false
    }

    /// Our re-INVITE timed out or could not be sent.
    pub(super) fn out_failed(&mut self) -> bool {
        self.out.take().is_some()
    }
}

impl Engine {
    /// A re-INVITE or UPDATE from the peer of a bridged SIP leg.
    pub(super) fn on_sip_leg_reoffer(
        &mut self,
        now: Instant,
        (call_id, side): (u64, Side),
        id: ServerTxId,
        req: Request,
    ) {
        let renegotiates = self.bridged_peer_renegotiates(call_id, side);
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return self.reply(now, id, &req, 481, "Call/Transaction Does Not Exist", None);
        };
        let tag = leg.tag.clone();
        let has_body = sdp_body(&req.headers, &req.body).is_some();
        let offer = parse_sdp(&req.headers, &req.body);
        if has_body && offer.is_none() {
            return self.reply(now, id, &req, 400, "Malformed SDP offer", Some(&tag));
        }
        if leg.mid.pending_in.is_some() {
            // RFC 3261 §14.2: one offer of the peer's at a time.
            let mut resp = make_response(&req, 500, Some(&tag));
            resp.reason = "An earlier offer is still pending".into();
            resp.headers.push(HeaderName::RetryAfter, "1");
            return self.respond(now, id, resp);
        }
        if leg.mid.out.is_some() || leg.session.refresh.is_some() {
            // Glare with our own re-INVITE (RFC 3261 §14.1).
            return self.reply(now, id, &req, 491, "Request Pending", Some(&tag));
        }
        let Some(offer) = offer else {
            // No offer: a refresh or an offerless re-INVITE, answered with
            // (or offered) the media we have.
            return self.answer_locally(now, call_id, side, id, req, None);
        };
        let version = offer.origin.session_version;
        let repeated = leg.mid.remote_version == Some(version);
        leg.mid.remote_version = Some(version);
        if repeated || !renegotiates || !leg.settled {
            return self.answer_locally(now, call_id, side, id, req, Some(offer));
        }
        let caps = caps_from_sdp(&offer);
        debug!(?side, method = %req.method, "mid-call offer passed to the owner");
        leg.mid.pending_in = Some(PendingIn { tx: id, req, offer });
        self.on_bridged_event(now, call_id, side, LegEvent::Offer(caps));
    }

    /// Answer the peer's offer with the media the leg has, its direction
    /// mirrored (hold is answered `recvonly`); no offer: ours goes in the 2xx.
    fn answer_locally(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        id: ServerTxId,
        req: Request,
        offer: Option<SessionDescription>,
    ) {
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        if let Some(offer) = &offer {
            leg.sdp_version += 1;
            leg.local_sdp = reanswer(&leg.local_sdp, offer, leg.sdp_version);
        }
        let mut resp = make_response(&req, 200, Some(&leg.tag));
        resp.headers.set(HeaderName::ContentType, "application/sdp");
        resp.body = leg.local_sdp.clone();
        let transport = leg.peer.transport;
        let mut resp = with_our_headers(resp, &self.contact(transport));
        self.session_timer_answered(now, call_id, side, &req, &mut resp);
        self.send_mid_answer(now, call_id, side, id, &req, resp);
    }

    /// A 2xx to the peer's re-INVITE or UPDATE; a re-INVITE's is resent
    /// until the ACK comes.
    fn send_mid_answer(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        id: ServerTxId,
        req: &Request,
        resp: Response,
    ) {
        if req.method == Method::Invite {
            let (t1, t2) = (self.tx.config().t1, self.tx.config().t2);
            let cseq = req.cseq().map(|c| c.seq).unwrap_or(0);
            let wait = AckWait::new(now, t1, t2, resp.clone());
            let next = wait.poll_timeout();
            if let Some(leg) = self.sip_leg_mut(call_id, side) {
                leg.mid.ack = Some((id, cseq, wait));
            }
            if let Some(at) = next {
                self.schedule(at, EngineTimer::BridgedAnswer(call_id, side as u8));
            }
        }
        self.respond(now, id, resp);
    }

    /// The owner's answer to the peer's pending offer.
    pub(super) fn answer_pending_offer(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        caps: &MediaCaps,
    ) {
        let advertised = self.cfg.advertised_ip;
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let Some(p) = leg.mid.pending_in.take() else {
            return;
        };
        leg.sdp_version += 1;
        let body = answer_sdp(
            &p.offer,
            &answered_streams(caps),
            advertised,
            &leg.session_id,
            leg.sdp_version,
        );
        leg.local_sdp = body.clone();
        let mut resp = make_response(&p.req, 200, Some(&leg.tag));
        resp.headers.set(HeaderName::ContentType, "application/sdp");
        resp.body = body;
        let transport = leg.peer.transport;
        let mut resp = with_our_headers(resp, &self.contact(transport));
        self.session_timer_answered(now, call_id, side, &p.req, &mut resp);
        self.send_mid_answer(now, call_id, side, p.tx, &p.req, resp);
    }

    /// The owner refused the peer's pending offer.
    pub(super) fn refuse_pending_offer(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        cause: &Cause,
    ) {
        let Some((tx, req)) = self
            .sip_leg_mut(call_id, side)
            .and_then(|l| l.mid.take_pending())
        else {
            return;
        };
        self.refuse_with_cause(now, tx, &req, cause);
    }

    /// The owner's offer: our re-INVITE to the peer.
    pub(super) fn send_reoffer(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        caps: &MediaCaps,
    ) {
        let advertised = self.cfg.advertised_ip;
        let branch = self.new_branch();
        let Some(transport) = self.sip_leg_mut(call_id, side).map(|l| l.peer.transport) else {
            return;
        };
        let contact = self.contact(transport);
        let hp = self.cfg.sent_by(transport);
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let busy = leg.mid.busy() || leg.session.refresh.is_some();
        let request = leg
            .dialog
            .as_mut()
            .filter(|_| !busy)
            .and_then(|d| d.create_request(Method::Invite).ok());
        let Some(mut req) = request else {
            let cause = Cause::from_sip_status(491, "The leg has an offer of its own pending");
            return self.on_bridged_event(now, call_id, side, LegEvent::OfferRefused(cause));
        };
        leg.sdp_version += 1;
        let body = offer_sdp(caps, advertised, &leg.session_id, leg.sdp_version);
        let peer = leg.peer;
        add_via(&mut req, peer.transport, &hp, &branch);
        req.headers.push(HeaderName::Contact, contact);
        req.headers.push(HeaderName::UserAgent, USER_AGENT);
        req.headers.set(HeaderName::ContentType, "application/sdp");
        req.body = body.clone();
        super::timers::offer_timer(&mut req, leg);
        let cseq = req.cseq().map(|c| c.seq).unwrap_or(0);
        match self.tx.send_request(now, req, peer) {
            Ok(tx) => {
                self.bridged.client_tx.insert(tx, (call_id, side));
                if let Some(leg) = self.sip_leg_mut(call_id, side) {
                    leg.mid.out = Some((tx, cseq, body));
                }
            }
            Err(e) => {
                warn!(error = %e, "re-INVITE not sent");
                let cause = Cause::from_sip_status(500, &format!("re-INVITE not sent: {e}"));
                self.on_bridged_event(now, call_id, side, LegEvent::OfferRefused(cause));
            }
        }
    }

    /// A response to our re-INVITE.
    pub(super) fn on_reoffer_response(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        tx: ClientTxId,
        resp: &Response,
    ) {
        if resp.status < 200 {
            return;
        }
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let current = leg.mid.out.as_ref().is_some_and(|(t, ..)| *t == tx);
        if resp.status >= 300 {
            // The transaction acknowledges a failure itself.
            if current {
                leg.mid.out = None;
                let cause = Cause::from_sip_response(
                    resp.status,
                    &resp.reason,
                    resp.headers.get(&HeaderName::Reason),
                );
                info!(?side, status = resp.status, "our re-INVITE was refused");
                self.on_bridged_event(now, call_id, side, LegEvent::OfferRefused(cause));
            }
            return;
        }
        let cseq = match (&leg.mid.out, leg.mid.out_done) {
            (Some((t, c, _)), _) if *t == tx => *c,
            (_, Some((t, c))) if t == tx => c,
            _ => return,
        };
        self.ack_sip_leg(call_id, side, cseq);
        if !current {
            return;
        }
        self.session_timer_accepted(now, call_id, side, resp);
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let sent = leg
            .mid
            .out
            .take()
            .map(|(.., body)| body)
            .unwrap_or_default();
        leg.mid.out_done = Some((tx, cseq));
        leg.local_sdp = sent;
        let ev = match parse_sdp(&resp.headers, &resp.body) {
            Some(sdp) => {
                leg.mid.remote_version = Some(sdp.origin.session_version);
                LegEvent::Answer(caps_from_sdp(&sdp))
            }
            None => LegEvent::OfferRefused(Cause::from_sip_status(
                488,
                "The 2xx to our re-INVITE carried no SDP answer",
            )),
        };
        self.on_bridged_event(now, call_id, side, ev);
    }

    /// The retransmission timer of our 2xx to the peer's re-INVITE.
    pub(super) fn on_mid_answer_timer(&mut self, now: Instant, call_id: u64, side: Side) {
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let Some((tx, _, wait)) = leg.mid.ack.as_mut() else {
            return;
        };
        let tx = *tx;
        let action = wait.handle_timeout(now);
        let next = wait.poll_timeout();
        match action {
            Some(RetransmitAction::Resend(resp)) => {
                if let Err(e) = self.tx.respond(now, &tx, resp) {
                    debug!(error = %e, "re-INVITE 2xx retransmission not sent");
                }
            }
            Some(RetransmitAction::GiveUp) => {
                // RFC 3261 §14.2: a re-INVITE whose 2xx is never acknowledged
                // ends the dialog.
                warn!(
                    ?side,
                    "the peer never acknowledged our 2xx to its re-INVITE"
                );
                if let Some(leg) = self.sip_leg_mut(call_id, side) {
                    leg.mid.ack = None;
                }
                let cause = Cause::from_sip_status(408, "No ACK to the re-INVITE's 2xx");
                return self.end_own_dialog(now, call_id, side, cause);
            }
            // Not due: this timer was the leg's other 2xx's.
            None => return,
        }
        if let Some(at) = next {
            self.schedule(at, EngineTimer::BridgedAnswer(call_id, side as u8));
        }
    }
}

//! INFO on a bridged SIP leg. Digits and keyframe requests have a neutral
//! meaning and are answered here; a body of a package the gateway does not
//! read gets 415 with the ones it does. An INFO without a body (a
//! keep-alive, a probe of the far end) is an application message: it goes
//! to the other leg as [`LegEvent::Message`] and is answered with that
//! leg's outcome, so the peer learns whether the far end is there.

use super::info_event;
use crate::call::dtmf::{read_info, InfoRequest, INFO_ACCEPT};
use crate::call::Side;
use crate::engine::{Engine, USER_AGENT};
use gateway_callmodel::{AppMessage, Cause, LegEvent};
use gateway_sip::message::{HeaderName, Method, Request, Response};
use gateway_sip::transaction::{add_via, make_response, ClientTxId, ServerTxId};
use std::collections::HashMap;
use std::time::Instant;
use tracing::debug;

/// Messages in flight through one leg, both ways.
#[derive(Default)]
pub(crate) struct LegMessages {
    next_id: u64,
    /// The peer's INFOs waiting for the other leg's outcome.
    pending: HashMap<u64, (ServerTxId, Request)>,
    /// Our INFOs carrying the other leg's messages.
    out: HashMap<ClientTxId, u64>,
}

impl Engine {
    /// An INFO from the peer of a bridged SIP leg.
    pub(super) fn on_sip_leg_info(
        &mut self,
        now: Instant,
        (call_id, side): (u64, Side),
        id: ServerTxId,
        req: Request,
    ) {
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let tag = leg.tag.clone();
        if let Some(ev) = info_event(&req) {
            self.reply(now, id, &req, 200, "OK", Some(&tag));
            return self.on_bridged_event(now, call_id, side, ev);
        }
        let ct = req.headers.get(&HeaderName::ContentType);
        match read_info(ct, &req.body) {
            InfoRequest::Malformed(why) => {
                let why = format!("Bad DTMF body: {why}");
                return self.reply(now, id, &req, 400, &why, Some(&tag));
            }
            InfoRequest::Unsupported => {
                let mut resp = make_response(&req, 415, Some(&tag));
                resp.headers.push(HeaderName::Accept, INFO_ACCEPT);
                return self.respond(now, id, resp);
            }
            _ => {}
        }
        let hops = req.max_forwards().unwrap_or(70);
        if hops == 0 {
            return self.reply(now, id, &req, 483, "Too Many Hops", Some(&tag));
        }
        leg.messages.next_id += 1;
        let msg = AppMessage {
            id: leg.messages.next_id,
            content_type: ct.map(str::to_string),
            body: req.body.clone(),
            hops: hops.saturating_sub(1).min(70),
        };
        leg.messages.pending.insert(msg.id, (id, req));
        self.on_bridged_event(now, call_id, side, LegEvent::Message(msg));
    }

    /// The other leg's message, as our INFO to this leg's peer.
    pub(super) fn send_leg_message(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        msg: AppMessage,
    ) {
        let branch = self.new_branch();
        let Some(transport) = self.sip_leg_mut(call_id, side).map(|l| l.peer.transport) else {
            return;
        };
        let hp = self.cfg.sent_by(transport);
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let peer = leg.peer;
        let Some(mut req) = leg
            .dialog
            .as_mut()
            .and_then(|d| d.create_request(Method::Info).ok())
        else {
            let result = Err(Cause::from_sip_status(481, "No dialog to carry the INFO"));
            return self.leg_message_answered(now, call_id, side, msg.id, result);
        };
        add_via(&mut req, peer.transport, &hp, &branch);
        req.headers
            .set(HeaderName::MaxForwards, msg.hops.to_string());
        req.headers.push(HeaderName::UserAgent, USER_AGENT);
        if let Some(ct) = &msg.content_type {
            req.headers.set(HeaderName::ContentType, ct.as_str());
        }
        req.body = msg.body;
        match self.tx.send_request(now, req, peer) {
            Ok(tx) => {
                self.bridged.client_tx.insert(tx, (call_id, side));
                if let Some(leg) = self.sip_leg_mut(call_id, side) {
                    leg.messages.out.insert(tx, msg.id);
                }
            }
            Err(e) => {
                let result = Err(Cause::from_sip_status(500, &format!("INFO not sent: {e}")));
                self.leg_message_answered(now, call_id, side, msg.id, result)
            }
        }
    }

    fn leg_message_answered(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        id: u64,
        result: Result<(), Cause>,
    ) {
        self.on_bridged_event(now, call_id, side, LegEvent::MessageAnswered { id, result });
    }

    /// The outcome of the peer's INFO, from the other leg.
    pub(super) fn answer_leg_message(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        id: u64,
        result: Result<(), Cause>,
    ) {
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let Some((tx, req)) = leg.messages.pending.remove(&id) else {
            return;
        };
        let tag = leg.tag.clone();
        match result {
            Ok(()) => self.reply(now, tx, &req, 200, "OK", Some(&tag)),
            Err(cause) if cause.to_sip_status() == 415 => {
                let mut resp = make_response(&req, 415, Some(&tag));
                resp.headers.push(HeaderName::Accept, INFO_ACCEPT);
                self.respond(now, tx, resp);
            }
            Err(cause) => self.refuse_with_cause(now, tx, &req, &cause),
        }
    }

    /// A response to our INFO; `false` if the INFO was not a message.
    pub(super) fn on_leg_message_response(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        tx: ClientTxId,
        resp: &Response,
    ) -> bool {
        if resp.status < 200 {
            return false;
        }
        let Some(id) = self
            .sip_leg_mut(call_id, side)
            .and_then(|l| l.messages.out.remove(&tx))
        else {
            return false;
        };
        let result = if resp.status < 300 {
            Ok(())
        } else {
            Err(Cause::from_sip_response(
                resp.status,
                &resp.reason,
                resp.headers.get(&HeaderName::Reason),
            ))
        };
        debug!(?side, status = resp.status, "INFO answered by the peer");
        self.leg_message_answered(now, call_id, side, id, result);
        true
    }

    /// Our INFO timed out.
    pub(super) fn leg_message_failed(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        tx: ClientTxId,
    ) -> bool {
        let Some(id) = self
            .sip_leg_mut(call_id, side)
            .and_then(|l| l.messages.out.remove(&tx))
        else {
            return false;
        };
        let result = Err(Cause::from_sip_status(
            408,
            "The peer did not answer the INFO",
        ));
        self.leg_message_answered(now, call_id, side, id, result);
        true
    }
}

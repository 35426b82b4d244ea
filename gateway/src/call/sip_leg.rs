//! The SIP adapter of a bridged call's leg: a dialog that ends at the
//! gateway, as UAS (the caller's INVITE) or UAC (the INVITE we place).
//! SDP becomes [`MediaCaps`] on the way in, neutral commands become SIP on
//! the way out; the owner ([`super::bridged`]) never sees SIP.

use super::bridged::{Callee, LegSignalling, NewCall};
use super::caps::{answer_sdp, caps_from_sdp, offer_sdp, AnsweredStream};
use super::{sdp_body, Side};
use crate::engine::{Engine, EngineTimer, ALLOW, SUPPORTED, USER_AGENT};
use gateway_callmodel::{Cause, LegCommand, LegEvent, MediaCaps, MediaTransport};
use gateway_dialplan::RouteDecision;
use gateway_sdp::SessionDescription;
use gateway_sip::dialog::{AckWait, Dialog, RetransmitAction};
use gateway_sip::message::{HeaderName, Method, Request, Response};
use gateway_sip::transaction::{add_via, make_response, ClientTxId, PeerAddr, ServerTxId};
use gateway_sip::uri::Uri;
use std::time::Instant;
use tracing::{debug, info, warn};

mod info;
mod reoffer;
mod timers;

/// Which end of the dialog we are.
enum Role {
    /// The caller's INVITE: we answer it.
    Uas {
        invite_tx: ServerTxId,
        invite: Request,
        /// `None`: late offer, our 2xx offers and the ACK answers.
        offer: Option<Box<SessionDescription>>,
    },
    /// The INVITE we placed.
    Uac {
        invite: Request,
        invite_tx: ClientTxId,
        /// A trunk's digest credentials, used once when challenged.
        credentials: Option<(String, String)>,
        /// A provisional arrived: a CANCEL may be sent (RFC 3261 §9.1).
        provisional: bool,
    },
}

/// The INVITE of a callee leg that ended before it could be cancelled.
pub(crate) struct Orphan {
    invite: Request,
    peer: PeerAddr,
    cause: Cause,
    cancelled: bool,
}

pub(crate) struct SipLeg {
    role: Role,
    peer: PeerAddr,
    /// Our tag: To in a UAS dialog, From in a UAC one.
    tag: String,
    dialog: Option<Dialog>,
    /// The INVITE has its final response (sent or received).
    settled: bool,
    ack_wait: Option<AckWait>,
    /// The SDP we last sent (answer or offer), re-sent on refreshes.
    local_sdp: Vec<u8>,
    session_id: String,
    sdp_version: u64,
    /// The callee answered our offer in a provisional (its 2xx may then
    /// carry no SDP).
    early_answer: bool,
    /// Offers and answers after the call is up.
    mid: reoffer::MidCall,
    session: timers::LegSessionTimer,
    messages: info::LegMessages,
}

impl SipLeg {
    /// Our tag in the dialog (how in-dialog requests find the leg).
    pub(crate) fn tag(&self) -> &str {
        &self.tag
    }

    /// The caller's INVITE transaction, for a leg we answer.
    pub(crate) fn invite_server_tx(&self) -> Option<ServerTxId> {
        match &self.role {
            Role::Uas { invite_tx, .. } => Some(*invite_tx),
            Role::Uac { .. } => None,
        }
    }
}

fn parse_sdp(headers: &gateway_sip::message::Headers, body: &[u8]) -> Option<SessionDescription> {
    let body = sdp_body(headers, body)?;
    std::str::from_utf8(&body)
        .ok()
        .and_then(|t| SessionDescription::parse(t).ok())
}

/// The neutral meaning of an INFO: a digit or a keyframe request.
pub(crate) fn info_event(req: &Request) -> Option<LegEvent> {
    use super::dtmf::{read_info, InfoRequest};
    match read_info(req.headers.get(&HeaderName::ContentType), &req.body) {
        InfoRequest::Digit(event, ms) => Some(LegEvent::Dtmf {
            digit: event.to_char(),
            duration_ms: ms,
        }),
        InfoRequest::PassOn if contains(&req.body, b"picture_fast_update") => {
            Some(LegEvent::KeyframeRequest)
        }
        _ => None,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The headers every provisional and 2xx of ours carries on a leg we
/// answer: our Contact, what we allow and support, who we are.
fn with_our_headers(mut resp: Response, contact: &str) -> Response {
    if resp.status > 100 && resp.status < 300 {
        resp.headers.push(HeaderName::Contact, contact);
        resp.headers.push(HeaderName::Allow, ALLOW);
        resp.headers.push(HeaderName::Supported, SUPPORTED);
    }
    resp.headers.push(HeaderName::Server, USER_AGENT);
    resp
}

fn sip_leg(call: &mut super::bridged::BridgedCall, side: Side) -> Option<&mut SipLeg> {
    match &mut call.legs[side as usize].signalling {
        LegSignalling::Sip(s) => Some(s),
        LegSignalling::H323(_) => None,
    }
}

/// Streams of a neutral answer, for an SDP answer to `offer`.
fn answered_streams(caps: &MediaCaps) -> Vec<AnsweredStream> {
    caps.streams
        .iter()
        .enumerate()
        .filter_map(|(index, s)| {
            Some(AnsweredStream {
                index,
                local_rtp: s.rtp?,
                local_rtcp: s.rtcp?,
                codecs: s.codecs.clone(),
                direction: s.direction,
                ptime_ms: s.ptime_ms,
                crypto: match &s.transport {
                    MediaTransport::SrtpSdes { crypto } => crypto.first().cloned(),
                    _ => None,
                },
            })
        })
        .collect()
}

impl Engine {
    fn sip_leg_mut(&mut self, call_id: u64, side: Side) -> Option<&mut SipLeg> {
        sip_leg(self.bridged.calls.get_mut(&call_id)?, side)
    }

    /// A SIP caller whose call goes through the neutral owner: the INVITE
    /// must carry an offer; the call starts or the INVITE is refused.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn bridge_sip_invite(
        &mut self,
        now: Instant,
        id: ServerTxId,
        req: Request,
        from: PeerAddr,
        decision: &RouteDecision,
        callee: Callee,
        caller: String,
        target: String,
    ) {
        let label = req
            .headers
            .get(&HeaderName::CallId)
            .unwrap_or("")
            .to_string();
        let offer = match sdp_body(&req.headers, &req.body) {
            None => None,
            Some(_) => match parse_sdp(&req.headers, &req.body) {
                Some(sdp) => Some(sdp),
                None => return self.reply(now, id, &req, 400, "Malformed SDP offer", None),
            },
        };
        let caps = offer.as_ref().map(caps_from_sdp);
        let tag = self.random_hex(8);
        let contact = self.contact(from.transport);
        let from_na = req.from().ok();
        let caller_number = decision
            .policy
            .caller_id
            .clone()
            .or_else(|| from_na.as_ref().and_then(|f| f.uri.user.clone()))
            .unwrap_or_else(|| "anonymous".into());
        let session_id = self.random_hex(6);
        let mid = reoffer::MidCall::after(offer.as_ref().map(|o| o.origin.session_version));
        let leg = SipLeg {
            early_answer: false,
            mid,
            session: Default::default(),
            messages: Default::default(),
            peer: from,
            tag: tag.clone(),
            dialog: Dialog::uas_from_invite(&req, &tag, &contact).ok(),
            settled: false,
            ack_wait: None,
            local_sdp: Vec::new(),
            session_id: u64::from_str_radix(&session_id, 16)
                .unwrap_or(1)
                .to_string(),
            sdp_version: 1,
            role: Role::Uas {
                invite_tx: id,
                invite: req.clone(),
                offer: offer.map(Box::new),
            },
        };
        let started = self.start_bridged_call(
            now,
            NewCall {
                label,
                caller_leg: LegSignalling::Sip(Box::new(leg)),
                offer: caps,
                decision,
                callee,
                caller_number,
                caller_display: from_na.as_ref().and_then(|f| f.display.clone()),
                max_forwards: req.max_forwards().unwrap_or(70).saturating_sub(1).min(70),
                caller,
                target,
                from_uri: from_na.map(|f| f.uri.to_string()).unwrap_or_default(),
                to_uri: req.uri.to_string(),
            },
        );
        match started {
            Ok(call_id) => {
                self.bridged.tags.insert(tag, (call_id, Side::A));
                self.bridged.server_tx.insert(id, call_id);
            }
            Err(cause) => self.refuse_with_cause(now, id, &req, &cause),
        }
    }

    /// Place the SIP callee leg of a bridged call: an INVITE with `offer`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sip_callee_leg(
        &mut self,
        now: Instant,
        call_id: u64,
        uri: &Uri,
        peer: PeerAddr,
        credentials: Option<(String, String)>,
        caller_number: &str,
        display: Option<&str>,
        max_forwards: u32,
        offer: &MediaCaps,
    ) -> Result<SipLeg, Cause> {
        let tag = self.random_hex(8);
        let session_id = u64::from_str_radix(&self.random_hex(6), 16)
            .unwrap_or(1)
            .to_string();
        let mut invite = self.callee_invite(uri, peer, caller_number, display, &tag, max_forwards);
        let sdp = offer_sdp(offer, self.cfg.advertised_ip, &session_id, 1);
        gateway_sip::session_timer::apply_to_request(
            &mut invite,
            &gateway_sip::session_timer::SessionTimerConfig::default(),
            None,
        );
        invite
            .headers
            .set(HeaderName::ContentType, "application/sdp");
        invite.body = sdp.clone();
        let tx = self
            .tx
            .send_request(now, invite.clone(), peer)
            .map_err(|e| {
                warn!(error = %e, "outgoing INVITE not sent");
                Cause::from_sip_status(503, &format!("Outgoing leg not started: {e}"))
            })?;
        self.bridged.client_tx.insert(tx, (call_id, Side::B));
        self.bridged.tags.insert(tag.clone(), (call_id, Side::B));
        Ok(SipLeg {
            role: Role::Uac {
                invite,
                invite_tx: tx,
                credentials,
                provisional: false,
            },
            peer,
            tag,
            dialog: None,
            settled: false,
            ack_wait: None,
            local_sdp: sdp,
            session_id,
            sdp_version: 1,
            early_answer: false,
            mid: Default::default(),
            session: Default::default(),
            messages: Default::default(),
        })
    }

    /// Carry out the owner's command on a SIP leg.
    pub(crate) fn sip_leg_command(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        cmd: LegCommand,
    ) {
        let advertised = self.cfg.advertised_ip;
        let t1 = self.tx.config().t1;
        let t2 = self.tx.config().t2;
        let Some(transport) = self.sip_leg_mut(call_id, side).map(|l| l.peer.transport) else {
            return;
        };
        let contact = self.contact(transport);
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        match cmd {
            LegCommand::Progress { early_media } => {
                let Role::Uas {
                    invite_tx,
                    invite,
                    offer,
                } = &leg.role
                else {
                    return;
                };
                if leg.settled {
                    return;
                }
                let (tx, tag) = (*invite_tx, leg.tag.clone());
                let resp = match (early_media, offer.as_deref()) {
                    (Some(caps), Some(offer)) => {
                        let body = answer_sdp(
                            offer,
                            &answered_streams(&caps),
                            advertised,
                            &leg.session_id,
                            leg.sdp_version,
                        );
                        leg.local_sdp = body.clone();
                        let mut r = make_response(invite, 183, Some(&tag));
                        r.headers.set(HeaderName::ContentType, "application/sdp");
                        r.body = body;
                        r
                    }
                    _ => make_response(invite, 180, Some(&tag)),
                };
                self.respond(now, tx, with_our_headers(resp, &contact));
            }
            LegCommand::Answer(caps) if leg.mid.has_pending_in() => {
                self.answer_pending_offer(now, call_id, side, &caps)
            }
            LegCommand::RefuseOffer(cause) => self.refuse_pending_offer(now, call_id, side, &cause),
            LegCommand::Answer(caps) => {
                let Role::Uas {
                    invite_tx,
                    invite,
                    offer,
                } = &leg.role
                else {
                    return;
                };
                if leg.settled {
                    return;
                }
                let body = match offer.as_deref() {
                    Some(offer) => answer_sdp(
                        offer,
                        &answered_streams(&caps),
                        advertised,
                        &leg.session_id,
                        leg.sdp_version,
                    ),
                    // Late offer: the 2xx carries our offer, the ACK the answer.
                    None => offer_sdp(&caps, advertised, &leg.session_id, leg.sdp_version),
                };
                let mut resp = make_response(invite, 200, Some(&leg.tag));
                resp.headers.set(HeaderName::ContentType, "application/sdp");
                resp.body = body.clone();
                let mut resp = with_our_headers(resp, &contact);
                let tx = *invite_tx;
                let invite = invite.clone();
                leg.local_sdp = body;
                leg.settled = true;
                self.session_timer_answered(now, call_id, side, &invite, &mut resp);
                let Some(leg) = self.sip_leg_mut(call_id, side) else {
                    return;
                };
                // Retransmissions (RFC 3261 §13.3.1.4) repeat it exactly.
                let wait = AckWait::new(now, t1, t2, resp.clone());
                let next = wait.poll_timeout();
                leg.ack_wait = Some(wait);
                self.respond(now, tx, resp);
                if let Some(at) = next {
                    self.schedule(at, EngineTimer::BridgedAnswer(call_id, side as u8));
                }
            }
            LegCommand::End(cause) => self.end_sip_leg(now, call_id, side, cause),
            LegCommand::Dtmf { digit, duration_ms } => {
                let Some(event) = gateway_media::dtmf::DtmfEvent::from_char(digit) else {
                    return;
                };
                let body = gateway_media::dtmf::format_dtmf_relay(event, duration_ms);
                self.sip_leg_request(
                    now,
                    call_id,
                    side,
                    Method::Info,
                    Some(("application/dtmf-relay", body.into_bytes())),
                    None,
                );
            }
            LegCommand::KeyframeRequest => {
                let body = crate::meeting::sip::PICTURE_FAST_UPDATE;
                self.sip_leg_request(
                    now,
                    call_id,
                    side,
                    Method::Info,
                    Some(("application/media_control+xml", body.as_bytes().to_vec())),
                    None,
                );
            }
            LegCommand::Offer(caps)
                if matches!(leg.role, Role::Uac { .. }) && leg.settled && leg.dialog.is_none() =>
            {
                self.invite_again(now, call_id, side, &caps)
            }
            LegCommand::Offer(caps) => self.send_reoffer(now, call_id, side, &caps),
            LegCommand::Message(msg) => self.send_leg_message(now, call_id, side, msg),
            LegCommand::MessageAnswered { id, result } => {
                self.answer_leg_message(now, call_id, side, id, result)
            }
        }
    }

    /// End a SIP leg with `cause`: refuse its INVITE, CANCEL ours, or BYE.
    fn end_sip_leg(&mut self, now: Instant, call_id: u64, side: Side, cause: Cause) {
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let settled = leg.settled;
        leg.ack_wait = None;
        match &mut leg.role {
            Role::Uas {
                invite_tx, invite, ..
            } if !settled => {
                let (tx, invite) = (*invite_tx, invite.clone());
                leg.settled = true;
                // refuse_with_cause needs a To tag of ours on the response.
                let mut req = invite;
                let tag = leg.tag.clone();
                if let Some(to) = req.headers.get(&HeaderName::To).map(str::to_string) {
                    if !to.contains(";tag=") {
                        req.headers.set(HeaderName::To, format!("{to};tag={tag}"));
                    }
                }
                self.refuse_with_cause(now, tx, &req, &cause);
            }
            Role::Uac {
                invite,
                invite_tx,
                provisional,
                ..
            } if !settled => {
                // The call ends now; the INVITE lives on until its final
                // response: CANCELled once a provisional allows it (RFC 3261
                // §9.1), a crossing 2xx acknowledged and hung up.
                let orphan = Orphan {
                    invite: invite.clone(),
                    peer: leg.peer,
                    cause,
                    cancelled: *provisional,
                };
                let tx = *invite_tx;
                if orphan.cancelled {
                    self.cancel_orphan(now, &orphan);
                }
                self.bridged.orphans.insert(tx, orphan);
            }
            _ => {
                // A re-INVITE of the peer's still waiting gets its final
                // response before the BYE.
                if let Some((tx, req)) = leg.mid.take_pending() {
                    let resp = make_response(&req, 487, Some(&leg.tag));
                    self.respond(now, tx, resp);
                }
                let reason = cause.reason_header();
                self.sip_leg_request(now, call_id, side, Method::Bye, None, Some(reason));
            }
        }
    }

    /// PRACK for a reliable provisional of the callee's (RFC 3262), in the
    /// early dialog it creates; a retransmitted one is acknowledged once.
    fn prack(&mut self, now: Instant, call_id: u64, side: Side, resp: &Response) {
        let branch = self.new_branch();
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let Role::Uac { invite, .. } = &leg.role else {
            return;
        };
        let fork = gateway_sip::dialog::DialogId::of_received_response(resp);
        if leg
            .dialog
            .as_ref()
            .is_none_or(|d| Some(&d.id) != fork.as_ref())
        {
            leg.dialog = Dialog::uac_from_response(invite, resp).ok();
        }
        let peer = leg.peer;
        let Some(mut prack) = leg
            .dialog
            .as_mut()
            .and_then(|d| d.create_prack(resp).ok().flatten())
        else {
            return;
        };
        let hp = self.cfg.sent_by(peer.transport);
        add_via(&mut prack, peer.transport, &hp, &branch);
        match self.tx.send_request(now, prack, peer) {
            Ok(tx) => {
                self.bridged.client_tx.insert(tx, (call_id, side));
            }
            Err(e) => debug!(error = %e, "PRACK not sent"),
        }
    }

    /// The leg ends its dialog itself (a timer ran out): BYE to its peer,
    /// then the owner hears of it.
    fn end_own_dialog(&mut self, now: Instant, call_id: u64, side: Side, cause: Cause) {
        let reason = cause.reason_header();
        self.sip_leg_request(now, call_id, side, Method::Bye, None, Some(reason));
        if let Some(leg) = self.sip_leg_mut(call_id, side) {
            leg.settled = true;
        }
        self.on_bridged_event(now, call_id, side, LegEvent::Ended(cause));
    }

    /// An in-dialog request on a leg (BYE, INFO).
    fn sip_leg_request(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        method: Method,
        body: Option<(&str, Vec<u8>)>,
        reason: Option<String>,
    ) {
        let branch = self.new_branch();
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let peer = leg.peer;
        let Some(mut req) = leg
            .dialog
            .as_mut()
            .and_then(|d| d.create_request(method).ok())
        else {
            debug!(?side, "no dialog for an in-dialog request");
            return;
        };
        let hp = self.cfg.sent_by(peer.transport);
        add_via(&mut req, peer.transport, &hp, &branch);
        req.headers.push(HeaderName::UserAgent, USER_AGENT);
        if let Some(r) = reason {
            req.headers.push(HeaderName::Reason, r);
        }
        if let Some((ct, b)) = body {
            req.headers.set(HeaderName::ContentType, ct);
            req.body = b;
        }
        match self.tx.send_request(now, req, peer) {
            Ok(tx) => {
                self.bridged.client_tx.insert(tx, (call_id, side));
            }
            Err(e) => debug!(error = %e, "in-dialog request not sent"),
        }
    }

    /// A request inside a bridged SIP leg's dialog.
    pub(crate) fn on_sip_leg_request(
        &mut self,
        now: Instant,
        (call_id, side): (u64, Side),
        id: ServerTxId,
        req: Request,
    ) {
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return self.reply(now, id, &req, 481, "Call/Transaction Does Not Exist", None);
        };
        if let Some(d) = leg.dialog.as_mut() {
            if let Err(e) = d.on_request(&req) {
                let status = e.status();
                return self.reply(now, id, &req, status, &e.to_string(), None);
            }
        }
        let tag = leg.tag.clone();
        match req.method {
            Method::Bye => {
                // A caller may BYE an early dialog: its INVITE still needs
                // a final response (RFC 3261 §15.1.2).
                let pending = match &leg.role {
                    Role::Uas {
                        invite_tx, invite, ..
                    } if !leg.settled => Some((*invite_tx, make_response(invite, 487, Some(&tag)))),
                    _ => None,
                };
                let who = match leg.role {
                    Role::Uas { .. } => "Hung up by the caller",
                    Role::Uac { .. } => "Hung up by the callee",
                };
                leg.settled = true;
                // So may a peer whose re-INVITE is still with the other leg.
                let reoffer = leg
                    .mid
                    .take_pending()
                    .map(|(tx, r)| (tx, make_response(&r, 487, Some(&tag))));
                self.reply(now, id, &req, 200, "OK", Some(&tag));
                for (tx, resp) in pending.into_iter().chain(reoffer) {
                    self.respond(now, tx, resp);
                }
                let cause = req
                    .headers
                    .get(&HeaderName::Reason)
                    .and_then(Cause::from_reason_header)
                    .unwrap_or_else(|| Cause::normal_clearing().with_text(who));
                self.on_bridged_event(now, call_id, side, LegEvent::Ended(cause));
            }
            Method::Invite | Method::Update => {
                self.on_sip_leg_reoffer(now, (call_id, side), id, req)
            }
            Method::Info => self.on_sip_leg_info(now, (call_id, side), id, req),
            Method::Options => self.reply(now, id, &req, 200, "OK", Some(&tag)),
            _ => {
                let mut resp = make_response(&req, 405, Some(&tag));
                resp.headers.push(HeaderName::Allow, ALLOW);
                self.respond(now, id, resp);
            }
        }
    }

    /// The caller acknowledged our 2xx; after a late offer the ACK carries
    /// its answer.
    pub(crate) fn on_sip_leg_ack(
        &mut self,
        now: Instant,
        (call_id, side): (u64, Side),
        ack: &Request,
    ) {
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        if leg.mid.acked(ack.cseq().map(|c| c.seq).unwrap_or(0)) {
            return;
        }
        let waited = leg.ack_wait.take().is_some();
        if let Some(d) = leg.dialog.as_mut() {
            d.confirm();
        }
        let late = matches!(&leg.role, Role::Uas { offer: None, .. });
        if !(waited && late) {
            return;
        }
        match parse_sdp(&ack.headers, &ack.body) {
            Some(sdp) => {
                let caps = caps_from_sdp(&sdp);
                self.on_bridged_event(now, call_id, side, LegEvent::Answer(caps));
            }
            None => {
                let cause = Cause::from_sip_status(488, "The caller's ACK carried no SDP answer");
                self.on_bridged_event(now, call_id, side, LegEvent::Ended(cause));
            }
        }
    }

    /// The caller cancelled its INVITE (the CANCEL itself was answered).
    pub(crate) fn on_sip_leg_cancel(&mut self, now: Instant, call_id: u64) {
        let Some(leg) = self.sip_leg_mut(call_id, Side::A) else {
            return;
        };
        if leg.settled {
            return;
        }
        leg.settled = true;
        if let Role::Uas {
            invite_tx, invite, ..
        } = &leg.role
        {
            let (tx, resp) = (*invite_tx, make_response(invite, 487, Some(&leg.tag)));
            self.respond(now, tx, resp);
        }
        let cause = Cause::from_sip_status(487, "Caller cancelled");
        self.on_bridged_event(now, call_id, Side::A, LegEvent::Ended(cause));
    }

    /// A response to one of a leg's client transactions.
    pub(crate) fn on_sip_leg_response(
        &mut self,
        now: Instant,
        (call_id, side): (u64, Side),
        tx: ClientTxId,
        resp: Response,
    ) {
        let method = resp.cseq().map(|c| c.method).ok();
        if method == Some(Method::Info)
            && self.on_leg_message_response(now, call_id, side, tx, &resp)
        {
            return;
        }
        if method != Some(Method::Invite) {
            // BYE, INFO and CANCEL answers change nothing here.
            return;
        }
        if self.bridged.orphans.contains_key(&tx) {
            return self.on_orphan_response(now, tx, resp);
        }
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        if leg.mid.owns(tx) {
            return self.on_reoffer_response(now, call_id, side, tx, &resp);
        }
        if leg.session.owns(tx) {
            return self.on_leg_refresh_response(now, call_id, side, &resp);
        }
        let Role::Uac {
            invite,
            provisional,
            ..
        } = &mut leg.role
        else {
            return;
        };
        let status = resp.status;
        if status < 200 {
            if status == 100 {
                return;
            }
            *provisional = true;
            if gateway_sip::dialog::reliable_rseq(&resp).is_some() {
                self.prack(now, call_id, side, &resp);
            }
            let early = parse_sdp(&resp.headers, &resp.body).map(|s| caps_from_sdp(&s));
            if early.is_some() {
                if let Some(leg) = self.sip_leg_mut(call_id, side) {
                    leg.early_answer = true;
                }
            }
            return self.on_bridged_event(
                now,
                call_id,
                side,
                LegEvent::Progress { early_media: early },
            );
        }
        if leg.settled && status >= 300 {
            return;
        }
        if status < 300 {
            // Every 2xx is acknowledged, even one crossing our CANCEL.
            let invite = invite.clone();
            let fork = gateway_sip::dialog::DialogId::of_received_response(&resp);
            use gateway_sip::dialog::DialogState;
            let early = leg
                .dialog
                .as_ref()
                .is_some_and(|d| d.state == DialogState::Early);
            if !early
                && leg
                    .dialog
                    .as_ref()
                    .is_some_and(|d| Some(&d.id) != fork.as_ref())
            {
                let peer = leg.peer;
                info!("a second fork answered; acknowledged and hung up");
                return self.hang_up_stray_2xx(now, &invite, peer, &resp);
            }
            match leg.dialog.as_mut() {
                // The early dialog of a reliable provisional becomes the
                // call's (its CSeq count goes on); another fork's 2xx
                // replaces it.
                Some(d) if early && Some(&d.id) == fork.as_ref() => {
                    d.on_response(&Method::Invite, &resp)
                }
                Some(_) if !early => {}
                _ => leg.dialog = Dialog::uac_from_response(&invite, &resp).ok(),
            }
            let cseq = invite.cseq().map(|c| c.seq).unwrap_or(1);
            let first = !leg.settled;
            leg.settled = true;
            self.ack_sip_leg(call_id, side, cseq);
            if !first {
                return;
            }
            self.session_timer_accepted(now, call_id, side, &resp);
            if self
                .bridged
                .calls
                .get(&call_id)
                .is_none_or(|c| c.legs[side as usize].ended)
            {
                let reason = Cause::normal_clearing().reason_header();
                return self.sip_leg_request(now, call_id, side, Method::Bye, None, Some(reason));
            }
            match parse_sdp(&resp.headers, &resp.body) {
                Some(sdp) => {
                    if let Some(leg) = self.sip_leg_mut(call_id, side) {
                        leg.mid.remote_version = Some(sdp.origin.session_version);
                    }
                    self.on_bridged_event(
                        now,
                        call_id,
                        side,
                        LegEvent::Answer(caps_from_sdp(&sdp)),
                    );
                    self.on_bridged_event(now, call_id, side, LegEvent::Answered);
                }
                // The answer came reliably in a provisional (RFC 3262).
                None if self
                    .sip_leg_mut(call_id, side)
                    .is_some_and(|l| l.early_answer) =>
                {
                    self.on_bridged_event(now, call_id, side, LegEvent::Answered);
                }
                None => {
                    let cause =
                        Cause::from_sip_status(488, "The callee's 200 OK carried no SDP answer");
                    self.on_bridged_event(now, call_id, side, LegEvent::Ended(cause));
                }
            }
            return;
        }
        if matches!(status, 401 | 407) && self.retry_with_credentials(now, call_id, side, &resp) {
            return;
        }
        if status == 488 {
            // The media was refused, not the call: the owner may offer
            // other media in a new INVITE (RTP/SAVP to an SRTP-only callee).
            if let Some(leg) = self.sip_leg_mut(call_id, side) {
                leg.settled = true;
            }
            let cause = Cause::from_sip_response(
                status,
                &resp.reason,
                resp.headers.get(&HeaderName::Reason),
            );
            info!(status, reason = %resp.reason, "callee refused our offer");
            return self.on_bridged_event(now, call_id, side, LegEvent::OfferRefused(cause));
        }
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        leg.settled = true;
        // A challenge is for us, not for the caller: passed on, it would
        // ask the caller for credentials of a trunk it knows nothing of.
        let cause = if matches!(status, 401 | 407) {
            Cause::from_sip_status(503, "The callee demanded authentication")
        } else {
            Cause::from_sip_response(status, &resp.reason, resp.headers.get(&HeaderName::Reason))
        };
        info!(status, reason = %resp.reason, "callee refused");
        self.on_bridged_event(now, call_id, side, LegEvent::Ended(cause));
    }

    fn cancel_orphan(&mut self, now: Instant, orphan: &Orphan) {
        let mut cancel = gateway_sip::transaction::build_cancel(&orphan.invite);
        cancel
            .headers
            .push(HeaderName::Reason, orphan.cause.reason_header());
        if let Err(e) = self.tx.send_request(now, cancel, orphan.peer) {
            debug!(error = %e, "CANCEL not sent");
        }
    }

    /// The INVITE of a leg whose call already ended: CANCEL it once it
    /// rings, and hang up a 2xx that crossed the end.
    fn on_orphan_response(&mut self, now: Instant, tx: ClientTxId, resp: Response) {
        let status = resp.status;
        if status == 100 {
            return;
        }
        if status < 200 {
            let Some(orphan) = self.bridged.orphans.get_mut(&tx) else {
                return;
            };
            if !orphan.cancelled {
                orphan.cancelled = true;
                let (invite, peer, cause) =
                    (orphan.invite.clone(), orphan.peer, orphan.cause.clone());
                self.cancel_orphan(
                    now,
                    &Orphan {
                        invite,
                        peer,
                        cause,
                        cancelled: true,
                    },
                );
            }
            return;
        }
        let Some(orphan) = self.bridged.orphans.remove(&tx) else {
            return;
        };
        if status < 300 {
            self.hang_up_stray_2xx(now, &orphan.invite, orphan.peer, &resp);
        }
    }

    /// A 2xx nobody will talk on (the call ended, or another fork answered
    /// first): acknowledge it and hang it up (RFC 3261 §13.2.2.4).
    fn hang_up_stray_2xx(
        &mut self,
        now: Instant,
        invite: &Request,
        peer: PeerAddr,
        resp: &Response,
    ) {
        let Ok(mut dialog) = Dialog::uac_from_response(invite, resp) else {
            return;
        };
        let hp = self.cfg.sent_by(peer.transport);
        let mut ack = dialog.create_ack(invite.cseq().map(|c| c.seq).unwrap_or(1));
        add_via(&mut ack, peer.transport, &hp, &self.new_branch());
        self.tx
            .send_stateless(gateway_sip::message::Message::Request(ack), peer);
        if let Ok(mut bye) = dialog.create_request(Method::Bye) {
            add_via(&mut bye, peer.transport, &hp, &self.new_branch());
            bye.headers.push(HeaderName::UserAgent, USER_AGENT);
            if let Err(e) = self.tx.send_request(now, bye, peer) {
                debug!(error = %e, "BYE not sent");
            }
        }
    }

    /// The callee refused our first offer: a new INVITE (next CSeq, same
    /// dialog identifiers) with the owner's other offer.
    fn invite_again(&mut self, now: Instant, call_id: u64, side: Side, caps: &MediaCaps) {
        let advertised = self.cfg.advertised_ip;
        let branch = self.new_branch();
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let peer = leg.peer;
        let Role::Uac { invite, .. } = &leg.role else {
            return;
        };
        let mut req = invite.clone();
        let seq = req.cseq().map(|c| c.seq).unwrap_or(1) + 1;
        req.headers.set(HeaderName::CSeq, format!("{seq} INVITE"));
        req.headers.remove(&HeaderName::Via);
        leg.sdp_version += 1;
        let body = offer_sdp(caps, advertised, &leg.session_id, leg.sdp_version);
        req.body = body.clone();
        leg.local_sdp = body;
        let hp = self.cfg.sent_by(peer.transport);
        add_via(&mut req, peer.transport, &hp, &branch);
        match self.tx.send_request(now, req.clone(), peer) {
            Ok(tx) => {
                if let Some(leg) = self.sip_leg_mut(call_id, side) {
                    leg.settled = false;
                    if let Role::Uac {
                        invite,
                        invite_tx,
                        provisional,
                        ..
                    } = &mut leg.role
                    {
                        *invite = req;
                        *invite_tx = tx;
                        *provisional = false;
                    }
                }
                self.bridged.client_tx.insert(tx, (call_id, side));
            }
            Err(e) => {
                warn!(error = %e, "second INVITE not sent");
                let cause = Cause::from_sip_status(503, &format!("INVITE not sent: {e}"));
                self.on_bridged_event(now, call_id, side, LegEvent::Ended(cause));
            }
        }
    }

    /// A trunk challenged our INVITE: send it again, once, with its
    /// credentials. `false` when there is nothing to answer with.
    fn retry_with_credentials(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        resp: &Response,
    ) -> bool {
        let cnonce = self.random_hex(8);
        let branch = self.new_branch();
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return false;
        };
        let peer = leg.peer;
        let Role::Uac {
            invite,
            credentials,
            ..
        } = &mut leg.role
        else {
            return false;
        };
        let Some((user, pass)) = credentials.take() else {
            return false;
        };
        let Some(mut req) = super::authorized_retry(invite, resp, &user, &pass, &cnonce) else {
            return false;
        };
        let hp = self.cfg.sent_by(peer.transport);
        add_via(&mut req, peer.transport, &hp, &branch);
        match self.tx.send_request(now, req.clone(), peer) {
            Ok(tx) => {
                if let Some(Role::Uac {
                    invite, invite_tx, ..
                }) = self.sip_leg_mut(call_id, side).map(|l| &mut l.role)
                {
                    *invite = req;
                    *invite_tx = tx;
                }
                self.bridged.client_tx.insert(tx, (call_id, side));
                info!("callee challenged; retrying with the trunk's credentials");
                true
            }
            Err(e) => {
                debug!(error = %e, "authorised INVITE not sent");
                false
            }
        }
    }

    fn ack_sip_leg(&mut self, call_id: u64, side: Side, cseq: u32) {
        let branch = self.new_branch();
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let peer = leg.peer;
        let Some(d) = leg.dialog.as_ref() else {
            return;
        };
        let mut ack = d.create_ack(cseq);
        let hp = self.cfg.sent_by(peer.transport);
        add_via(&mut ack, peer.transport, &hp, &branch);
        self.tx
            .send_stateless(gateway_sip::message::Message::Request(ack), peer);
    }

    /// A client transaction of a leg failed (timeout, transport error).
    pub(crate) fn on_sip_leg_failure(
        &mut self,
        now: Instant,
        (call_id, side): (u64, Side),
        tx: ClientTxId,
    ) {
        if self.leg_message_failed(now, call_id, side, tx) {
            return;
        }
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        if leg.session.refresh.is_some() {
            self.refresh_failed(now, call_id, side);
            return;
        }
        if leg.mid.out_failed() {
            let cause = Cause::from_sip_status(408, "The peer did not answer our re-INVITE");
            return self.on_bridged_event(now, call_id, side, LegEvent::OfferRefused(cause));
        }
        if leg.settled || !matches!(leg.role, Role::Uac { .. }) {
            return;
        }
        leg.settled = true;
        let cause = Cause::from_sip_status(408, "The callee did not answer the INVITE");
        self.on_bridged_event(now, call_id, side, LegEvent::Ended(cause));
    }

    /// The 2xx retransmission timer of a UAS leg (RFC 3261 §13.3.1.4).
    pub(crate) fn on_sip_leg_answer_timer(&mut self, now: Instant, call_id: u64, side: Side) {
        self.on_mid_answer_timer(now, call_id, side);
        let Some(leg) = self.sip_leg_mut(call_id, side) else {
            return;
        };
        let Role::Uas { invite_tx, .. } = &leg.role else {
            return;
        };
        let tx = *invite_tx;
        let Some(wait) = leg.ack_wait.as_mut() else {
            return;
        };
        let action = wait.handle_timeout(now);
        let next = wait.poll_timeout();
        match action {
            Some(RetransmitAction::Resend(resp)) => {
                if let Err(e) = self.tx.respond(now, &tx, resp) {
                    debug!(error = %e, "2xx retransmission not sent");
                }
            }
            Some(RetransmitAction::GiveUp) => {
                // RFC 3261 §13.3.1.4: the session is confirmed and then
                // ended with a BYE.
                warn!("the caller never acknowledged our 200 OK");
                let cause = Cause::from_sip_status(408, "No ACK from the caller");
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

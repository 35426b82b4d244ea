//! The back-to-back user agent: a call is two legs and a media bridge.
//!
//! Leg A is the caller's dialog (we are its UAS), leg B the dialog we place
//! towards the routed target (we are its UAC). Each leg has its own
//! Call-ID, tags, CSeq space and SDP; the engine relays between them and
//! anchors media through the relay. The dialplan decides where leg B goes;
//! this module obeys.

pub mod anchor;
use media_path::{describe_leg_media, install_media, SdpKind};
pub mod bridged;
mod bridged_media;
mod bridged_reoffer;
#[cfg(test)]
mod bridged_tests;
pub mod caps;
mod cdr;
pub(crate) mod dtmf;
pub mod encryption;
#[cfg(test)]
mod encryption_tests;
mod media_path;
mod retries;
pub mod sdes;
pub(crate) mod sip_leg;
pub mod transcode;
pub(crate) use retries::CallerRetransmit;
use retries::{requires_100rel, unsupported_requirements, TrunkAuth};

use crate::engine::{Engine, EngineTimer, ALLOW, SUPPORTED, USER_AGENT};
use crate::store_writer::StoreOp;
use gateway_dialplan::{Caller, Credentials, RouteOutcome, RouteRequest};
use gateway_media::{Leg, MediaSession};
use gateway_sip::dialog::{AckWait, Dialog, ReliableProvisionals, RetransmitAction};
use gateway_sip::message::{HeaderName, Message, Method, Request, Response};
use gateway_sip::session_timer::{
    apply_to_request, negotiate_uac, negotiate_uas, SessionTimer, SessionTimerAction,
    SessionTimerConfig, SessionTimerError,
};
use gateway_sip::transaction::{
    add_via, build_cancel, make_response, CancelTarget, ClientTxId, PeerAddr, ServerTxId, Transport,
};
use gateway_sip::uri::{Scheme, Uri};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tracing::{debug, info, info_span, warn};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
    fn leg(self) -> Leg {
        match self {
            Side::A => Leg::A,
            Side::B => Leg::B,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallRef {
    pub call: u64,
    pub side: Side,
}

/// Why we sent a client request on behalf of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientPurpose {
    /// The INVITE of leg B.
    Invite,
    Cancel,
    Bye,
    Prack,
    /// A request relayed from one leg to the other (re-INVITE, UPDATE, INFO…);
    /// the response goes back to the server transaction kept in the call.
    Relay,
    /// A session refresh (RFC 4028) we send because we are the refresher.
    Refresh,
    /// An INFO carrying a digit that arrived in band (RFC 4733) from a leg
    /// whose far side did not negotiate telephone-event.
    Dtmf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// INVITE sent to B, no provisional with a tag yet.
    Calling,
    /// B sent a provisional response.
    Early,
    /// The caller cancelled; waiting for B's final response to the INVITE.
    Cancelling,
    /// 2xx sent to A, waiting for A's ACK.
    Answered,
    Confirmed,
}

/// A request received on one leg and relayed to the other.
#[derive(Debug)]
struct PendingRelay {
    from: Side,
    server_tx: ServerTxId,
    req: Request,
}

pub struct Call {
    /// Leg A's Call-ID: the id that appears on every log line of the call.
    pub label: String,
    pub state: CallState,
    a_tx: ServerTxId,
    a_invite: Request,
    a_peer: PeerAddr,
    a_tag: String,
    a_dialog: Option<Dialog>,
    b_invite: Request,
    b_peer: PeerAddr,
    b_tag: String,
    b_dialog: Option<Dialog>,
    /// B's INVITE still has no final response.
    b_invite_open: bool,
    media: Option<MediaSession>,
    /// The audio codecs of the last offer and the leg that made it, while
    /// its answer may still come (repeated in 18x and 2xx).
    offered_audio: Option<(Side, transcode::OfferedAudio)>,
    /// The audio stream is transcoded (the answerer chose a codec the
    /// offerer did not offer).
    transcode: Option<transcode::TranscodePlan>,
    /// An SRTP audio offer the gateway terminates, and the leg that made it.
    srtp_offer: Option<(Side, encryption::SrtpOffer)>,
    /// Both legs' SRTP keys once answered, and which leg offered.
    srtp: Option<(Side, encryption::SrtpLegs)>,
    /// The routing decision requires encrypted media.
    require_encryption: bool,
    /// B's INVITE was already retried as RTP/SAVP after a 488.
    srtp_retried: bool,
    /// A's INVITE carried no offer: B's 2xx carries it, A's ACK the answer.
    late_offer: bool,
    /// The ACK to B waits for A's answer (late offer): B's INVITE CSeq.
    pending_b_ack: Option<u32>,
    relays: HashMap<ClientTxId, PendingRelay>,
    /// Session timer of each leg (RFC 4028), negotiated with that leg alone.
    session_timers: [Option<SessionTimer>; 2],
    /// Session refreshes in flight, and the leg each went to.
    refreshes: HashMap<ClientTxId, Side>,
    /// The caller requires 100rel: its provisionals go reliably (RFC 3262).
    reliable_a: Option<ReliableProvisionals>,
    /// Digest credentials for leg B (a trunk's), used once when challenged.
    b_credentials: Option<(String, String)>,
    b_auth_tried: bool,
    /// Why leg B is being cancelled: the CDR outcome, status and reason.
    cancel_cause: Option<(&'static str, u16, String)>,
    /// Our 2xx to the caller, retransmitted until its ACK (RFC 3261 13.3.1.4).
    ack_wait: Option<AckWait>,
    /// A refresh fell due while another offer was pending on that leg.
    refresh_due: [bool; 2],
    /// Last SDP body we sent to each leg, to answer offerless refreshes.
    last_sdp_to: [Option<Vec<u8>>; 2],
    // For the CDR.
    /// Wall-clock start (read once per call) and engine instants: CDR times
    /// follow the clock the runtime drives the engine with.
    started_unix_ms: i64,
    started: Instant,
    answered: Option<Instant>,
    from_uri: String,
    to_uri: String,
    caller: String,
    target: String,
    unit: Option<String>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Call {
    /// The relay stream of the call's (first) audio m-line.
    fn audio_index(&self) -> usize {
        self.transcode
            .map(|p| p.index)
            .or(self.srtp.as_ref().map(|(_, l)| l.index))
            .or(self.offered_audio.as_ref().map(|(_, o)| o.index))
            .unwrap_or(0)
    }

    fn dialog_mut(&mut self, side: Side) -> Option<&mut Dialog> {
        match side {
            Side::A => self.a_dialog.as_mut(),
            Side::B => self.b_dialog.as_mut(),
        }
    }
    fn peer(&self, side: Side) -> PeerAddr {
        match side {
            Side::A => self.a_peer,
            Side::B => self.b_peer,
        }
    }
}

/// The secret the digest verifier needs, in the form the dialplan holds.
pub fn auth_secret(
    c: &Credentials,
    algorithm: gateway_sip::auth::Algorithm,
) -> Option<gateway_sip::auth::UserSecret> {
    use gateway_dialplan::Ha1Algorithm;
    use gateway_sip::auth::{Algorithm, UserSecret};
    let form = match (c, algorithm) {
        (Credentials::Password(p), _) => return Some(UserSecret::Password(p.clone())),
        (_, Algorithm::Md5) => Ha1Algorithm::Md5,
        (_, Algorithm::Sha256) => Ha1Algorithm::Sha256,
        // A -sess HA1 depends on the nonce: only a password answers it.
        _ => return None,
    };
    // An HA1 only answers for the algorithm it was computed with; the
    // registry's endpoints may hold both forms.
    c.ha1(form).map(|h| UserSecret::Ha1(h.to_string()))
}

/// Headers that belong to one leg and are never copied to the other.
fn is_leg_header(name: &HeaderName) -> bool {
    matches!(
        name,
        HeaderName::Via
            | HeaderName::From
            | HeaderName::To
            | HeaderName::CallId
            | HeaderName::CSeq
            | HeaderName::Contact
            | HeaderName::MaxForwards
            | HeaderName::Route
            | HeaderName::RecordRoute
            | HeaderName::ContentLength
            | HeaderName::Authorization
            | HeaderName::ProxyAuthorization
            | HeaderName::WwwAuthenticate
            | HeaderName::ProxyAuthenticate
            | HeaderName::SessionExpires
            | HeaderName::MinSE
            | HeaderName::Supported
            | HeaderName::Require
            | HeaderName::ProxyRequire
            | HeaderName::Allow
            | HeaderName::RSeq
            | HeaderName::RAck
            | HeaderName::Server
            | HeaderName::UserAgent
            | HeaderName::Path
    )
}

fn copy_end_to_end_headers(
    from: &gateway_sip::message::Headers,
    to: &mut gateway_sip::message::Headers,
) {
    for h in from.iter().filter(|h| !is_leg_header(&h.name)) {
        to.push(h.name.clone(), h.value.clone());
    }
}

fn outcome_of(status: u16) -> &'static str {
    match status {
        200..=299 => "answered",
        486 | 600 => "busy",
        408 | 480 => "no_answer",
        487 => "cancelled",
        401..=404 | 488 | 603 | 606 => "rejected",
        _ => "failed",
    }
}

/// The socket address of a URI whose host is an IP literal.
fn uri_peer(uri: &Uri) -> Result<PeerAddr, String> {
    let host = uri.host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = host
        .parse()
        .map_err(|_| format!("host {host} is not an IP address (DNS is not supported yet)"))?;
    let transport = match (uri.scheme.clone(), uri.transport().as_deref()) {
        (Scheme::Sips, _) | (_, Some("tls")) => Transport::Tls,
        (_, Some("tcp")) => Transport::Tcp,
        _ => Transport::Udp,
    };
    let default_port = if transport == Transport::Tls {
        5061
    } else {
        5060
    };
    Ok(PeerAddr {
        transport,
        addr: SocketAddr::new(ip, uri.port.unwrap_or(default_port)),
        conn: None,
    })
}

impl Engine {
    /// A new INVITE (no To tag): authenticate, route, place leg B.
    pub(crate) fn on_invite(&mut self, now: Instant, id: ServerTxId, req: Request, from: PeerAddr) {
        let label = req
            .headers
            .get(&HeaderName::CallId)
            .unwrap_or("")
            .to_string();
        let span = info_span!("call", call_id = %label);
        let _g = span.enter();
        if req.max_forwards().unwrap_or(70) == 0 {
            return self.reply(now, id, &req, 483, "Too Many Hops", None);
        }
        match negotiate_uas(&req, &SessionTimerConfig::default()) {
            Err(SessionTimerError::TooSmall { min_se }) => {
                let mut resp = gateway_sip::session_timer::reject_422(&req, min_se);
                resp.headers.push(HeaderName::Server, USER_AGENT);
                return self.respond(now, id, resp);
            }
            Err(e) => return self.reply(now, id, &req, 400, &e.to_string(), None),
            Ok(_) => {}
        }
        let from_na = match req.from() {
            Ok(f) => f,
            Err(_) => return self.reply(now, id, &req, 400, "Malformed From header", None),
        };
        let from_user = from_na.uri.user.clone();

        // Who is calling: a room at its fixed address is that room (it does
        // not register, so it has no digest secret to prove); any other
        // known endpoint must prove it with digest; any other caller must
        // come from a trunk's address.
        let fixed = self
            .registrar
            .fixed_endpoint_at(from.addr)
            .filter(|ep| self.dialplan.endpoint(ep).is_some())
            .map(str::to_string);
        let named = from_user
            .as_deref()
            .and_then(|u| self.dialplan.endpoint_by_user(u))
            .map(|e| e.id.clone());
        let caller = match named.or_else(|| fixed.clone()) {
            Some(ep) if fixed.as_deref() == Some(ep.as_str()) => {
                if let Err(refusal) = self.vetting.check(&ep) {
                    info!(endpoint = %ep, state = refusal.state.as_str(), "refused: fixed-address room not approved");
                    let cause = gateway_callmodel::Cause::from_sip_status(403, &refusal.text);
                    return self.refuse_with_cause(now, id, &req, &cause);
                }
                Caller::Endpoint(ep)
            }
            Some(ep) => {
                if !self.check_digest(now, id, &req, &ep, true) {
                    return;
                }
                Caller::Endpoint(ep)
            }
            None => match self.dialplan.trunk_for_source(from.addr.ip()) {
                Some(t) => Caller::Trunk(t.name.clone()),
                None => match self.trunk_by_digest(now, id, &req) {
                    TrunkAuth::Trunk(name) => Caller::Trunk(name),
                    TrunkAuth::Answered => return,
                    TrunkAuth::Unknown => {
                        info!(source = %from.addr, "call refused: unknown caller and no trunk for its address");
                        return self.reply(
                            now,
                            id,
                            &req,
                            403,
                            "Caller not recognised (not a registered endpoint nor a trunk address)",
                            None,
                        );
                    }
                },
            },
        };
        let unsupported = unsupported_requirements(&req);
        if !unsupported.is_empty() {
            let mut resp = make_response(&req, 420, None);
            resp.headers
                .push(HeaderName::Unsupported, unsupported.join(", "));
            resp.headers.push(HeaderName::Server, USER_AGENT);
            return self.respond(now, id, resp);
        }
        self.metrics.call_attempts.inc();
        let target = req
            .uri
            .user
            .clone()
            .or_else(|| req.to().ok().and_then(|t| t.uri.user))
            .unwrap_or_default();
        let route_req = RouteRequest {
            caller: caller.clone(),
            from_user: from_user.clone(),
            target: target.clone(),
            transport_secure: from.transport == Transport::Tls,
            at_unix_secs: crate::engine::unix_now(),
        };
        let mut decision = self.dialplan.route(&route_req);
        if self.sdes_without_tls
            && !route_req.transport_secure
            && decision.policy.encryption_required
            && matches!(decision.outcome, RouteOutcome::Reject { status: 488, .. })
        {
            // Allowed explicitly: SDES over plain signalling counts as
            // encrypted; the media must still be SRTP.
            let secure = RouteRequest {
                transport_secure: true,
                ..route_req.clone()
            };
            decision = self.dialplan.route(&secure);
        }
        debug!(caller = ?caller, target = %target, outcome = ?decision.outcome, trace = ?decision.trace, "routed");

        let (b_uri, b_peer, b_credentials) = match &decision.outcome {
            RouteOutcome::Reject { status, reason } => {
                let (s, r) = (*status, reason.clone());
                self.count_outcome(outcome_of(s));
                // The dialplan's reason goes to the caller as the reason
                // phrase, a Warning and a Reason header (RFC 3326), so a
                // room's log says why (e.g. a classified meeting).
                let cause = gateway_callmodel::Cause::from_sip_status(s, &r);
                return self.refuse_with_cause(now, id, &req, &cause);
            }
            RouteOutcome::Meeting { number } => {
                let number = number.clone();
                let caller = caller_label(&caller);
                return self.join_meeting(now, id, req, from, &decision, &number, caller);
            }
            _ => match self.resolve_callee(now, &decision) {
                // The one place a SIP caller's owner is chosen by its callee:
                // an H.323 endpoint only has a neutral-model leg, so the
                // call goes through the neutral owner (bridge_sip_invite)
                // even when `neutral_sip_calls` is off.
                Ok(callee @ bridged::Callee::H323 { .. }) => {
                    let caller = caller_label(&caller);
                    return self
                        .bridge_sip_invite(now, id, req, from, &decision, callee, caller, target);
                }
                Ok(bridged::Callee::Sip {
                    uri,
                    peer,
                    credentials,
                }) => (uri, peer, credentials),
                Err(cause) => {
                    let status = cause.to_sip_status();
                    self.count_outcome(outcome_of(status));
                    let phrase = cause.sip_reason_phrase().to_string();
                    return self.reply(now, id, &req, status, &phrase, None);
                }
            },
        };

        if self.neutral_sip_calls {
            let caller = caller_label(&caller);
            let callee = bridged::Callee::Sip {
                uri: b_uri,
                peer: b_peer,
                credentials: b_credentials,
            };
            return self.bridge_sip_invite(now, id, req, from, &decision, callee, caller, target);
        }
        // Media: anchor the offer (if any) through a new relay session.
        let call_id = self.alloc_call_id();
        let offer = sdp_body(&req.headers, &req.body);
        let late_offer = offer.is_none();
        // Encrypted signalling is the dialplan's check; encrypted media is
        // ours: a plain (or absent) offer is refused, never downgraded.
        if decision.policy.encryption_required
            && !offer
                .as_deref()
                .is_some_and(encryption::offers_encrypted_audio)
        {
            self.count_outcome("failed");
            let cause = gateway_callmodel::Cause::from_sip_status(
                488,
                "Encryption required: offer SRTP (RTP/SAVP with a=crypto) for the audio",
            );
            return self.refuse_with_cause(now, id, &req, &cause);
        }
        let mut media = None;
        let mut offered_audio = None;
        let mut srtp_offer = None;
        let mut b_body = Vec::new();
        if let Some(offer) = &offer {
            match anchor::stream_count(offer)
                .and_then(|n| Ok(self.media.allocate(&label, n.min(16))?))
                .and_then(|m| {
                    let body = anchor::anchor(offer, &m, Leg::A, self.cfg.advertised_ip)?;
                    Ok((m, body))
                }) {
                Ok((m, body)) => {
                    media = Some(m);
                    let body = match encryption::terminate_offer(
                        &body,
                        decision.policy.encryption_required,
                    ) {
                        Some((b, offer)) => {
                            srtp_offer = Some((Side::A, offer));
                            b
                        }
                        None => body,
                    };
                    b_body = match transcode::extend_offer(&body, srtp_offer.is_some()) {
                        Some((extended, offered)) => {
                            offered_audio = Some((Side::A, offered));
                            extended
                        }
                        None => body,
                    };
                }
                Err(anchor::AnchorError::Media(e)) => {
                    warn!(error = %e, "no media ports");
                    self.count_outcome("failed");
                    return self.reply(
                        now,
                        id,
                        &req,
                        e.sip_status(),
                        &format!("Media relay: {e}"),
                        None,
                    );
                }
                Err(e) => {
                    self.count_outcome("failed");
                    return self.reply(
                        now,
                        id,
                        &req,
                        488,
                        &format!("Not Acceptable Here ({e})"),
                        None,
                    );
                }
            }
        }

        // Leg B's INVITE.
        let b_tag = self.random_hex(8);
        let a_tag = self.random_hex(8);
        let mf = req.max_forwards().unwrap_or(70).saturating_sub(1).min(70);
        let caller_user = decision
            .policy
            .caller_id
            .clone()
            .or(from_user.clone())
            .unwrap_or_else(|| "anonymous".into());
        let mut b_req = self.callee_invite(
            &b_uri,
            b_peer,
            &caller_user,
            from_na.display.as_deref(),
            &b_tag,
            mf,
        );
        copy_end_to_end_headers(&req.headers, &mut b_req.headers);
        apply_to_request(&mut b_req, &SessionTimerConfig::default(), None);
        if !b_body.is_empty() {
            b_req
                .headers
                .set(HeaderName::ContentType, "application/sdp");
            b_req.body = b_body.clone();
        }
        let b_tx = match self.tx.send_request(now, b_req.clone(), b_peer) {
            Ok(t) => t,
            Err(e) => {
                warn!(error = %e, "outgoing INVITE not sent");
                self.count_outcome("failed");
                return self.reply(
                    now,
                    id,
                    &req,
                    503,
                    &format!("Outgoing leg not started: {e}"),
                    None,
                );
            }
        };
        let reliable_a = requires_100rel(&req).then(|| {
            let cseq = req.cseq().map(|c| c.seq).unwrap_or(1);
            let rseq = 1 + (rand::RngCore::next_u32(&mut self.rng) % 1_000_000);
            ReliableProvisionals::new(Duration::from_millis(500), rseq, cseq)
        });
        let call = Call {
            label: label.clone(),
            state: CallState::Calling,
            a_tx: id,
            a_peer: from,
            a_tag: a_tag.clone(),
            a_dialog: None,
            b_invite: b_req,
            b_peer,
            b_tag: b_tag.clone(),
            b_dialog: None,
            b_invite_open: true,
            media,
            offered_audio,
            transcode: None,
            srtp_offer,
            srtp: None,
            require_encryption: decision.policy.encryption_required,
            srtp_retried: false,
            late_offer,
            pending_b_ack: None,
            relays: HashMap::new(),
            session_timers: [None, None],
            refreshes: HashMap::new(),
            reliable_a,
            b_credentials,
            b_auth_tried: false,
            cancel_cause: None,
            ack_wait: None,
            refresh_due: [false, false],
            last_sdp_to: [
                None,
                if b_body.is_empty() {
                    None
                } else {
                    Some(b_body)
                },
            ],
            started_unix_ms: now_ms(),
            started: now,
            answered: None,
            from_uri: from_na.uri.to_string(),
            to_uri: req.uri.to_string(),
            caller: caller_label(&caller),
            target: target.clone(),
            unit: decision.policy.unit.clone(),
            a_invite: req,
        };
        self.by_tag.insert(
            a_tag,
            CallRef {
                call: call_id,
                side: Side::A,
            },
        );
        self.by_tag.insert(
            b_tag,
            CallRef {
                call: call_id,
                side: Side::B,
            },
        );
        self.by_server_tx.insert(
            id,
            CallRef {
                call: call_id,
                side: Side::A,
            },
        );
        self.by_client_tx
            .insert(b_tx, (call_id, ClientPurpose::Invite));
        self.calls.insert(call_id, call);
        self.metrics.calls_active.inc();
        self.schedule(now + self.cfg.ring_timeout, EngineTimer::Ring(call_id));
        let max = Duration::from_secs(decision.policy.max_duration_secs.max(1));
        self.schedule(now + max, EngineTimer::MaxDuration(call_id));
    }

    pub(crate) fn count_outcome(&self, outcome: &'static str) {
        self.metrics
            .calls_completed
            .get_or_create(&crate::metrics::OutcomeLabel { outcome })
            .inc();
    }

    /// Send a request inside the dialog of `side`, optionally with SDP.
    fn send_in_dialog(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        method: Method,
        body: Option<(String, Vec<u8>)>,
        purpose: ClientPurpose,
    ) -> Option<ClientTxId> {
        self.send_in_dialog_with(now, call_id, side, method, body, None, purpose)
    }

    /// `send_in_dialog` carrying a Max-Forwards taken from the request being
    /// relayed, so loops through other B2BUAs still run out.
    #[allow(clippy::too_many_arguments)]
    fn send_in_dialog_with(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        method: Method,
        body: Option<(String, Vec<u8>)>,
        max_forwards: Option<u32>,
        purpose: ClientPurpose,
    ) -> Option<ClientTxId> {
        let branch = self.new_branch();
        let call = self.calls.get_mut(&call_id)?;
        let peer = call.peer(side);
        let dialog = call.dialog_mut(side)?;
        let mut req = dialog.create_request(method).ok()?;
        if purpose == ClientPurpose::Refresh {
            let interval = call.session_timers[side as usize]
                .as_ref()
                .map(|t| t.interval().as_secs() as u32)
                .unwrap_or(SessionTimerConfig::default().interval);
            let cfg = SessionTimerConfig {
                interval,
                ..SessionTimerConfig::default()
            };
            // In the refresh transaction we are the UAC, whichever side
            // created the dialog (RFC 4028 7.4): refresher=uac means us.
            apply_to_request(
                &mut req,
                &cfg,
                Some(gateway_sip::session_timer::Refresher::Uac),
            );
        }
        let hp = self.cfg.sent_by(peer.transport);
        add_via(&mut req, peer.transport, &hp, &branch);
        req.headers.push(HeaderName::UserAgent, USER_AGENT);
        if let Some(mf) = max_forwards {
            req.headers.set(HeaderName::MaxForwards, mf.to_string());
        }
        if let Some((ct, b)) = body {
            req.headers.set(HeaderName::ContentType, ct);
            req.body = b;
        }
        match self.tx.send_request(now, req, peer) {
            Ok(tx) => {
                self.by_client_tx.insert(tx, (call_id, purpose));
                Some(tx)
            }
            Err(e) => {
                debug!(error = %e, "in-dialog request not sent");
                None
            }
        }
    }

    fn send_ack(&mut self, call_id: u64, side: Side, cseq: u32, body: Option<Vec<u8>>) {
        let branch = self.new_branch();
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let peer = call.peer(side);
        let Some(dialog) = call.dialog_mut(side) else {
            return;
        };
        let mut ack = dialog.create_ack(cseq);
        let hp = self.sent_by(peer.transport);
        add_via(&mut ack, peer.transport, &hp, &branch);
        if let Some(b) = body {
            ack.headers.set(HeaderName::ContentType, "application/sdp");
            ack.body = b;
        }
        self.tx.send_stateless(Message::Request(ack), peer);
    }

    /// Anchor an SDP body that arrived on `from` for sending to the other leg.
    /// An offer going to the other leg gains the codecs the bridge can
    /// transcode to; an answer to such an offer decides whether the audio is
    /// forwarded or transcoded (see [`transcode`]).
    fn anchor_body(
        &mut self,
        call_id: u64,
        from: Side,
        body: &[u8],
        kind: SdpKind,
    ) -> Result<Vec<u8>, anchor::AnchorError> {
        let advertised = self.cfg.advertised_ip;
        let call = self
            .calls
            .get_mut(&call_id)
            .ok_or(anchor::AnchorError::NoConnection(0))?;
        let n = anchor::stream_count(body)?.min(16);
        if call.media.as_ref().is_none_or(|m| m.streams() < n) {
            // A new session (or one that grew a stream, e.g. video added by
            // re-INVITE): both legs learn the new ports in this same offer/answer
            // exchange, and the old session's ports are released.
            call.media = Some(self.media.allocate(&call.label, n)?);
        }
        let media = call
            .media
            .as_ref()
            .ok_or(anchor::AnchorError::NoConnection(0))?;
        let mut out = anchor::anchor(body, media, from.leg(), advertised)?;
        match kind {
            SdpKind::Offer => {
                call.srtp_offer =
                    encryption::terminate_offer(&out, call.require_encryption).map(|(b, offer)| {
                        out = b;
                        (from, offer)
                    });
                let decrypted = call.srtp_offer.is_some();
                call.offered_audio =
                    transcode::extend_offer(&out, decrypted).map(|(b, offered)| {
                        out = b;
                        (from, offered)
                    });
            }
            SdpKind::Answer => {
                let mut changed = false;
                // A digit in band from a leg whose far side cannot play it
                // goes to that side as SIP INFO instead.
                let mut tap = None;
                if let Some((offerer, offered)) = &call.offered_audio {
                    if *offerer == from.other() {
                        // The answer as the answerer wrote it (before any
                        // transcoding rewrite adds the offerer's event).
                        tap = match transcode::telephone_events(offered, &out) {
                            (Some((pt, clock)), None) => Some((*offerer, pt, clock)),
                            (None, Some((pt, clock))) => Some((from, pt, clock)),
                            _ => None,
                        };
                    }
                }
                let answered = match &call.offered_audio {
                    Some((offerer, offered)) if *offerer == from.other() => {
                        transcode::answered_audio(offered, &out)
                    }
                    _ => None,
                };
                if let Some((offerer, offered)) = &call.offered_audio {
                    if *offerer == from.other() {
                        let plan = transcode::plan(offered, &out);
                        if let Some(p) = &plan {
                            out = transcode::rewrite_answer(&out, offered, p);
                        }
                        changed |= plan != call.transcode || plan.is_some();
                        call.transcode = plan;
                    }
                }
                if call.require_encryption {
                    let plain = match &call.srtp_offer {
                        Some((o, offer)) if *o == from.other() => {
                            !encryption::answer_has_crypto(&out, offer)
                        }
                        _ => answered.is_some_and(|(_, savp)| !savp),
                    };
                    if plain {
                        return Err(anchor::AnchorError::NotEncrypted(
                            "the callee answered without SRTP and this call requires encryption"
                                .into(),
                        ));
                    }
                }
                if let Some((offerer, offer)) = &call.srtp_offer {
                    if *offerer == from.other() {
                        match encryption::terminate_answer(&out, offer) {
                            Ok((b, legs)) => {
                                out = b;
                                call.srtp = Some((*offerer, legs));
                                changed = true;
                            }
                            Err(why) => {
                                warn!(call_id = %call.label, %why, "SRTP answer not usable; media dropped");
                            }
                        }
                    }
                }
                if let Some((codec, savp)) = answered {
                    let offerer = from.other();
                    let offerer_codec = call.transcode.map_or(codec, |p| p.offerer.codec);
                    let end_to_end_srtp = savp && call.srtp.is_none();
                    for (side, c) in [(offerer, offerer_codec), (from, codec)] {
                        let terminated = call.srtp.as_ref().is_some_and(|(o, l)| {
                            if side == *o {
                                l.offerer.is_some()
                            } else {
                                l.answerer.is_some()
                            }
                        });
                        describe_leg_media(
                            media,
                            call.audio_index(),
                            side,
                            c,
                            terminated || end_to_end_srtp,
                        );
                    }
                }
                if changed || tap.is_some() {
                    let offerer = from.other();
                    let tap = tap
                        .map(|(side, pt, clock)| (call_id, side, pt, clock, self.dtmf_tx.clone()));
                    install_media(
                        &call.label,
                        media,
                        offerer,
                        call.transcode.as_ref(),
                        call.srtp.as_ref(),
                        tap,
                    );
                }
            }
        }
        call.last_sdp_to[match from.other() {
            Side::A => 0,
            Side::B => 1,
        }] = Some(out.clone());
        Ok(out)
    }

    /// Build a response on leg A's INVITE transaction from B's response.
    fn forward_to_a(&mut self, now: Instant, call_id: u64, resp: &Response, body: Option<Vec<u8>>) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let mut out = make_response(&call.a_invite, resp.status, Some(&call.a_tag));
        out.reason = resp.reason.clone();
        if resp.status < 300 {
            out.headers
                .push(HeaderName::Contact, self.contact(call.a_peer.transport));
            out.headers.push(HeaderName::Allow, ALLOW);
        }
        out.headers.push(HeaderName::Server, USER_AGENT);
        copy_end_to_end_headers(&resp.headers, &mut out.headers);
        out.headers.remove(&HeaderName::ContentType);
        if let Some(b) = body {
            out.headers.push(HeaderName::ContentType, "application/sdp");
            out.body = b;
        }
        let a_tx = call.a_tx;
        let timer_terms = (200..300)
            .contains(&resp.status)
            .then(|| negotiate_uas(&call.a_invite, &SessionTimerConfig::default()).ok())
            .flatten();
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let mut reliable_deadline = None;
        if let (101..=199, Some(rel)) = (resp.status, call.reliable_a.as_mut()) {
            if rel.send(now, &mut out).is_err() {
                // One unacknowledged reliable provisional at a time (RFC 3262
                // 3): this one is superseded by the news that follows.
                return;
            }
            reliable_deadline = rel.poll_timeout();
        }
        if let Some(n) = timer_terms {
            n.apply_to_response(&mut out);
            call.session_timers[0] = Some(SessionTimer::new(now, n.interval, n.we_refresh(false)));
        }
        let mut ack_deadline = None;
        if (200..300).contains(&resp.status) {
            let t = self.tx.config();
            let wait = AckWait::new(now, t.t1, t.t2, out.clone());
            ack_deadline = wait.poll_timeout();
            call.ack_wait = Some(wait);
        }
        if let Some(at) = ack_deadline {
            self.schedule(
                at,
                EngineTimer::Retransmit(call_id, CallerRetransmit::Answer),
            );
        }
        if let Some(at) = reliable_deadline {
            self.schedule(
                at,
                EngineTimer::Retransmit(call_id, CallerRetransmit::Reliable),
            );
        }
        self.arm_session_timer(call_id);
        self.respond(now, a_tx, out);
    }

    fn ensure_a_dialog(&mut self, call_id: u64) {
        let contact = {
            let Some(call) = self.calls.get(&call_id) else {
                return;
            };
            if call.a_dialog.is_some() {
                return;
            }
            self.contact(call.a_peer.transport)
        };
        if let Some(call) = self.calls.get_mut(&call_id) {
            match Dialog::uas_from_invite(&call.a_invite, &call.a_tag, &contact) {
                Ok(d) => call.a_dialog = Some(d),
                Err(e) => debug!(error = %e, "caller's INVITE cannot form a dialog"),
            }
        }
    }

    pub(crate) fn on_call_response(
        &mut self,
        now: Instant,
        call_id: u64,
        purpose: ClientPurpose,
        tx: ClientTxId,
        resp: Response,
    ) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let span = info_span!("call", call_id = %call.label);
        let _g = span.enter();
        match purpose {
            ClientPurpose::Invite => self.on_b_invite_response(now, call_id, resp),
            ClientPurpose::Relay => self.on_relay_response(now, call_id, tx, resp),
            ClientPurpose::Refresh => self.on_refresh_response(now, call_id, tx, resp),
            ClientPurpose::Bye
            | ClientPurpose::Cancel
            | ClientPurpose::Prack
            | ClientPurpose::Dtmf => {
                debug!(status = resp.status, ?purpose, "response")
            }
        }
    }

    fn on_b_invite_response(&mut self, now: Instant, call_id: u64, resp: Response) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let status = resp.status;
        if status == 100 {
            return;
        }
        let has_tag = resp
            .to()
            .ok()
            .and_then(|t| t.tag().map(str::to_string))
            .is_some();
        if status < 200 {
            if call.state == CallState::Cancelling {
                // Now that B answered provisionally, CANCEL may go out (RFC 3261 9.1).
                let cancel = build_cancel(&call.b_invite);
                let peer = call.b_peer;
                if let Ok(tx) = self.tx.send_request(now, cancel, peer) {
                    self.by_client_tx
                        .insert(tx, (call_id, ClientPurpose::Cancel));
                }
                return;
            }
            if call.state == CallState::Calling {
                call.state = CallState::Early;
            }
            if has_tag && call.b_dialog.is_none() {
                call.b_dialog = Dialog::uac_from_response(&call.b_invite, &resp).ok();
            }
            // Reliable provisionals from B are acknowledged here; A gets them unreliably.
            if gateway_sip::dialog::reliable_rseq(&resp).is_some() {
                let peer = call.b_peer;
                let prack = call
                    .b_dialog
                    .as_mut()
                    .and_then(|d| d.create_prack(&resp).ok().flatten());
                if let Some(mut prack) = prack {
                    let branch = self.new_branch();
                    add_via(
                        &mut prack,
                        peer.transport,
                        &self.sent_by(peer.transport),
                        &branch,
                    );
                    if let Ok(tx) = self.tx.send_request(now, prack, peer) {
                        self.by_client_tx
                            .insert(tx, (call_id, ClientPurpose::Prack));
                    }
                }
            }
            let body = if let Some(sdp) = sdp_body(&resp.headers, &resp.body) {
                let kind = self.sdp_kind_from_b(call_id);
                match self.anchor_body(call_id, Side::B, &sdp, kind) {
                    Ok(b) => Some(b),
                    Err(e) => {
                        warn!(error = %e, "early media SDP from callee not usable");
                        None
                    }
                }
            } else {
                None
            };
            self.ensure_a_dialog(call_id);
            self.forward_to_a(now, call_id, &resp, body);
            return;
        }

        if (200..300).contains(&status) {
            return self.on_b_answer(now, call_id, resp);
        }

        // Final failure from B.
        call.b_invite_open = false;
        if status == 488
            && call.state != CallState::Cancelling
            && self.retry_b_with_savp(now, call_id)
        {
            return;
        }
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if matches!(status, 401 | 407) && !call.b_auth_tried && call.state != CallState::Cancelling
        {
            if let Some(creds) = call.b_credentials.clone() {
                call.b_auth_tried = true;
                if self.retry_b_with_credentials(now, call_id, &resp, &creds) {
                    return;
                }
            }
        }
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let state = call.state;
        if state == CallState::Cancelling {
            return self.finish_cancelled(call_id);
        }
        let (out_status, reason) = match status {
            401 | 407 => (
                503,
                format!("Callee {} demanded authentication", call.target),
            ),
            _ => (status, resp.reason.clone()),
        };
        let mut mapped = resp.clone();
        mapped.status = out_status;
        mapped.reason = reason.clone();
        mapped.body.clear();
        debug!(status, "callee refused the call");
        self.forward_to_a(now, call_id, &mapped, None);
        self.finish(call_id, outcome_of(out_status), out_status, &reason);
    }

    fn on_b_answer(&mut self, now: Instant, call_id: u64, resp: Response) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let cseq = resp.cseq().map(|c| c.seq).unwrap_or(1);
        let tag = resp.to().ok().and_then(|t| t.tag().map(str::to_string));
        let known_tag = call.b_dialog.as_ref().map(|d| d.id.remote_tag.clone());
        let answered = matches!(call.state, CallState::Answered | CallState::Confirmed);
        let cancelling = call.state == CallState::Cancelling;
        call.b_invite_open = false;

        if answered || cancelling {
            // A retransmitted 2xx (ACK again) or another fork's 2xx, or a 2xx
            // that crossed our CANCEL: acknowledge, and end the unwanted dialog.
            let same = tag.is_some() && tag == known_tag;
            if same && !cancelling {
                if call.pending_b_ack.is_none() {
                    self.send_ack(call_id, Side::B, cseq, None);
                }
                return;
            }
            if let Ok(d) = Dialog::uac_from_response(&call.b_invite, &resp) {
                let saved = call.b_dialog.replace(d);
                self.send_ack(call_id, Side::B, cseq, None);
                self.send_in_dialog(now, call_id, Side::B, Method::Bye, None, ClientPurpose::Bye);
                if let Some(c) = self.calls.get_mut(&call_id) {
                    c.b_dialog = saved.or(c.b_dialog.take());
                }
            }
            if cancelling {
                self.finish_cancelled(call_id);
            }
            return;
        }

        match Dialog::uac_from_response(&call.b_invite, &resp) {
            Ok(mut d) => {
                d.confirm();
                call.b_dialog = Some(d);
            }
            Err(e) => {
                warn!(error = %e, "callee's 2xx cannot form a dialog");
            }
        }
        call.state = CallState::Answered;
        call.answered = Some(now);
        if let Ok(n) = negotiate_uac(&resp, &SessionTimerConfig::default()) {
            call.session_timers[1] = Some(SessionTimer::new(now, n.interval, n.we_refresh(true)));
        }
        let late = call.late_offer;
        let body = if let Some(sdp) = sdp_body(&resp.headers, &resp.body) {
            let kind = if late {
                SdpKind::Offer
            } else {
                SdpKind::Answer
            };
            match self.anchor_body(call_id, Side::B, &sdp, kind) {
                Ok(b) => Some(b),
                Err(e) => {
                    warn!(error = %e, "callee's SDP not usable; ending the call");
                    self.send_ack(call_id, Side::B, cseq, None);
                    self.send_in_dialog(
                        now,
                        call_id,
                        Side::B,
                        Method::Bye,
                        None,
                        ClientPurpose::Bye,
                    );
                    let mut r = resp.clone();
                    r.status = 488;
                    r.reason = format!("Not Acceptable Here (callee SDP: {e})");
                    r.body.clear();
                    self.forward_to_a(now, call_id, &r, None);
                    return self.finish(call_id, "failed", 488, "callee SDP not usable");
                }
            }
        } else {
            None
        };
        if late {
            if let Some(c) = self.calls.get_mut(&call_id) {
                c.pending_b_ack = Some(cseq);
            }
        } else {
            self.send_ack(call_id, Side::B, cseq, None);
        }
        // B may have answered in a reliable provisional; the caller saw that
        // provisional unreliably (or not at all), so its 2xx repeats the answer.
        let body = body.or_else(|| {
            self.calls
                .get(&call_id)
                .filter(|c| c.reliable_a.is_none())
                .and_then(|c| c.last_sdp_to[0].clone())
        });
        self.ensure_a_dialog(call_id);
        debug!("call answered");
        self.forward_to_a(now, call_id, &resp, body);
    }

    pub(crate) fn on_ack(&mut self, now: Instant, req: Request, _from: PeerAddr) {
        let Some(tag) = req.to().ok().and_then(|t| t.tag().map(str::to_string)) else {
            return;
        };
        if let Some(r) = self.meeting_tags.get(&tag).cloned() {
            return self.on_meeting_ack(&r);
        }
        if let Some(r) = self.bridged.tags.get(&tag).copied() {
            return self.on_sip_leg_ack(now, r, &req);
        }
        let Some(r) = self.by_tag.get(&tag).copied() else {
            return;
        };
        let Some(call) = self.calls.get_mut(&r.call) else {
            return;
        };
        if r.side != Side::A {
            return;
        }
        call.ack_wait = None;
        if call.state == CallState::Answered {
            call.state = CallState::Confirmed;
            if let Some(d) = call.a_dialog.as_mut() {
                d.confirm();
            }
        }
        if let Some(cseq) = call.pending_b_ack.take() {
            let body = match sdp_body(&req.headers, &req.body) {
                None => None,
                Some(sdp) => match self.anchor_body(r.call, Side::A, &sdp, SdpKind::Answer) {
                    Ok(b) => Some(b),
                    Err(e) => {
                        warn!(error = %e, "caller's answer in ACK not usable");
                        None
                    }
                },
            };
            self.send_ack(r.call, Side::B, cseq, body);
        }
    }

    pub(crate) fn on_cancel(&mut self, now: Instant, id: ServerTxId, req: Request) {
        match self.tx.invite_for_cancel(&req) {
            CancelTarget::NotFound => {
                self.reply(now, id, &req, 481, "Call/Transaction Does Not Exist", None)
            }
            CancelTarget::AlreadyAnswered(_) => self.reply(now, id, &req, 200, "OK", None),
            CancelTarget::Pending(invite_tx) => {
                self.reply(now, id, &req, 200, "OK", None);
                if let Some(call) = self.bridged.server_tx.get(&invite_tx).copied() {
                    return self.on_sip_leg_cancel(now, call);
                }
                let Some(r) = self.by_server_tx.get(&invite_tx).copied() else {
                    return;
                };
                let Some(call) = self.calls.get_mut(&r.call) else {
                    return;
                };
                info!(call_id = %call.label, "caller cancelled");
                let mut resp = make_response(&call.a_invite, 487, Some(&call.a_tag));
                resp.headers.push(HeaderName::Server, USER_AGENT);
                let a_tx = call.a_tx;
                self.respond(now, a_tx, resp);
                self.abandon_b(now, r.call, "cancelled", 487, "Caller cancelled".into());
            }
        }
    }

    pub(crate) fn on_in_dialog_request(
        &mut self,
        now: Instant,
        r: CallRef,
        id: ServerTxId,
        req: Request,
        _from: PeerAddr,
    ) {
        let Some(call) = self.calls.get_mut(&r.call) else {
            return self.reply(now, id, &req, 481, "Call/Transaction Does Not Exist", None);
        };
        let span = info_span!("call", call_id = %call.label);
        let _g = span.enter();
        if let Some(d) = call.dialog_mut(r.side) {
            if let Err(e) = d.on_request(&req) {
                let status = e.status();
                return self.reply(now, id, &req, status, &e.to_string(), None);
            }
        } else if req.method != Method::Bye {
            return self.reply(now, id, &req, 481, "Dialog not established", None);
        }
        match req.method {
            Method::Bye
                if r.side == Side::A
                    && matches!(call.state, CallState::Calling | CallState::Early) =>
            {
                // A BYE on the early dialog ends the attempt (RFC 3261 15).
                self.reply(now, id, &req, 200, "OK", None);
                let r487 = Response {
                    status: 487,
                    reason: "Request Terminated".into(),
                    headers: Default::default(),
                    body: Vec::new(),
                };
                self.forward_to_a(now, r.call, &r487, None);
                self.abandon_b(
                    now,
                    r.call,
                    "cancelled",
                    487,
                    "Caller hung up before the answer".into(),
                );
            }
            Method::Bye => {
                self.reply(now, id, &req, 200, "OK", None);
                debug!(side = ?r.side, "hangup");
                self.hang_up_other(now, r.call, r.side);
                self.finish(
                    r.call,
                    "answered",
                    200,
                    &format!(
                        "BYE from {}",
                        if r.side == Side::A {
                            "caller"
                        } else {
                            "callee"
                        }
                    ),
                );
            }
            Method::Options => self.reply(now, id, &req, 200, "OK", None),
            Method::Prack => {
                let acked = match call.reliable_a.as_mut() {
                    Some(rel) if r.side == Side::A => rel.on_prack(&req).is_ok(),
                    _ => false,
                };
                if acked {
                    self.reply(now, id, &req, 200, "OK", None)
                } else {
                    self.reply(now, id, &req, 481, "No matching reliable provisional", None)
                }
            }
            Method::Invite | Method::Update => {
                let pending_offer = !call.refreshes.is_empty()
                    || call
                        .relays
                        .values()
                        .any(|p| matches!(p.req.method, Method::Invite | Method::Update));
                if pending_offer {
                    return self.reply(now, id, &req, 491, "Request Pending", None);
                }
                let Some(offer) = sdp_body(&req.headers, &req.body) else {
                    // A session refresh without an offer: answer it on this leg.
                    let idx = if r.side == Side::A { 0 } else { 1 };
                    let last = call.last_sdp_to[idx].clone();
                    let tag = if r.side == Side::A {
                        call.a_tag.clone()
                    } else {
                        call.b_tag.clone()
                    };
                    let transport = call.peer(r.side).transport;
                    let mut resp = make_response(&req, 200, Some(&tag));
                    resp.headers
                        .push(HeaderName::Contact, self.contact(transport));
                    if let Ok(n) = negotiate_uas(&req, &SessionTimerConfig::default()) {
                        n.apply_to_response(&mut resp);
                        if let Some(c) = self.calls.get_mut(&r.call) {
                            c.session_timers[r.side as usize] =
                                Some(SessionTimer::new(now, n.interval, n.we_refresh(false)));
                        }
                    }
                    if req.method == Method::Invite {
                        if let Some(b) = last {
                            resp.headers
                                .push(HeaderName::ContentType, "application/sdp");
                            resp.body = b;
                        }
                    }
                    return self.respond(now, id, resp);
                };
                match self.anchor_body(r.call, r.side, &offer, SdpKind::Offer) {
                    Ok(body) => self.relay(now, r, id, req, Some(("application/sdp".into(), body))),
                    Err(e) => self.reply(
                        now,
                        id,
                        &req,
                        488,
                        &format!("Not Acceptable Here ({e})"),
                        None,
                    ),
                }
            }
            _ => {
                // A digit by INFO towards a leg that negotiated
                // telephone-event is played into its audio (RFC 4733).
                if req.method == Method::Info && self.on_info_dtmf(now, r, id, &req) {
                    return;
                }
                // INFO (DTMF, fast update), MESSAGE, NOTIFY, REFER…: end to end.
                let body = if req.body.is_empty() {
                    None
                } else {
                    Some((
                        req.headers
                            .get(&HeaderName::ContentType)
                            .unwrap_or("application/octet-stream")
                            .to_string(),
                        req.body.clone(),
                    ))
                };
                self.relay(now, r, id, req, body)
            }
        }
    }

    fn relay(
        &mut self,
        now: Instant,
        r: CallRef,
        id: ServerTxId,
        req: Request,
        body: Option<(String, Vec<u8>)>,
    ) {
        let method = req.method.clone();
        let max_forwards = req.max_forwards().unwrap_or(70);
        if max_forwards == 0 {
            return self.reply(now, id, &req, 483, "Too Many Hops", None);
        }
        match self.send_in_dialog_with(
            now,
            r.call,
            r.side.other(),
            method,
            body,
            Some((max_forwards - 1).min(70)),
            ClientPurpose::Relay,
        ) {
            Some(tx) => {
                if let Some(call) = self.calls.get_mut(&r.call) {
                    call.relays.insert(
                        tx,
                        PendingRelay {
                            from: r.side,
                            server_tx: id,
                            req,
                        },
                    );
                }
            }
            None => self.reply(now, id, &req, 481, "The other leg has no dialog", None),
        }
    }

    fn on_relay_response(&mut self, now: Instant, call_id: u64, tx: ClientTxId, resp: Response) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let final_ = resp.status >= 200;
        let Some(p) = (if final_ {
            call.relays.remove(&tx)
        } else {
            call.relays.get(&tx).map(|p| PendingRelay {
                from: p.from,
                server_tx: p.server_tx,
                req: p.req.clone(),
            })
        }) else {
            return;
        };
        if resp.status == 100 {
            return;
        }
        let to_side = p.from;
        let transport = call.peer(to_side).transport;
        let mut out = make_response(&p.req, resp.status, None);
        out.reason = resp.reason.clone();
        out.headers.push(HeaderName::Server, USER_AGENT);
        if resp.status < 300 && p.req.method == Method::Invite {
            out.headers
                .push(HeaderName::Contact, self.contact(transport));
        }
        if (200..300).contains(&resp.status) && p.req.method == Method::Invite {
            let cseq = resp.cseq().map(|c| c.seq).unwrap_or(0);
            self.send_ack(call_id, to_side.other(), cseq, None);
        }
        if (200..300).contains(&resp.status)
            && matches!(p.req.method, Method::Invite | Method::Update)
        {
            // A successful offer/answer in both dialogs refreshes both sessions.
            if let Some(c) = self.calls.get_mut(&call_id) {
                for t in c.session_timers.iter_mut().flatten() {
                    let (secs, ours) = (t.interval().as_secs() as u32, t.we_refresh());
                    t.refreshed(now, secs, ours);
                }
                c.refresh_due = [false, false];
                // The originator negotiates its own timer in this exchange.
                if let Ok(n) = negotiate_uas(&p.req, &SessionTimerConfig::default()) {
                    n.apply_to_response(&mut out);
                    c.session_timers[to_side as usize] =
                        Some(SessionTimer::new(now, n.interval, n.we_refresh(false)));
                }
            }
            self.arm_session_timer(call_id);
        }
        if !resp.body.is_empty() {
            if let Some(sdp) = sdp_body(&resp.headers, &resp.body) {
                match self.anchor_body(call_id, to_side.other(), &sdp, SdpKind::Answer) {
                    Ok(b) => {
                        out.headers.push(HeaderName::ContentType, "application/sdp");
                        out.body = b;
                    }
                    Err(e) => warn!(error = %e, "SDP in relayed response not usable"),
                }
            } else if let Some(ct) = resp.headers.get(&HeaderName::ContentType) {
                out.headers.push(HeaderName::ContentType, ct);
                out.body = resp.body.clone();
            }
        }
        self.respond(now, p.server_tx, out);
    }

    /// End the other leg of a call after one side hung up or failed.
    fn hang_up_other(&mut self, now: Instant, call_id: u64, side: Side) {
        let other = side.other();
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        if other == Side::B && call.b_invite_open {
            let cancel = build_cancel(&call.b_invite);
            let peer = call.b_peer;
            if let Ok(tx) = self.tx.send_request(now, cancel, peer) {
                self.by_client_tx
                    .insert(tx, (call_id, ClientPurpose::Cancel));
            }
            return;
        }
        let has_dialog = match other {
            Side::A => {
                call.a_dialog.is_some()
                    && matches!(call.state, CallState::Answered | CallState::Confirmed)
            }
            Side::B => call.b_dialog.is_some(),
        };
        if has_dialog {
            self.send_in_dialog(now, call_id, other, Method::Bye, None, ClientPurpose::Bye);
        }
    }

    pub(crate) fn on_client_failure(&mut self, now: Instant, call_id: u64, purpose: ClientPurpose) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        match purpose {
            ClientPurpose::Invite => {
                call.b_invite_open = false;
                if call.state == CallState::Cancelling {
                    return self.finish_cancelled(call_id);
                }
                let reason = format!("No response from {}", call.target);
                warn!(%reason, "outgoing leg failed");
                let r = Response {
                    status: 408,
                    reason: reason.clone(),
                    headers: Default::default(),
                    body: Vec::new(),
                };
                self.forward_to_a(now, call_id, &r, None);
                self.finish(call_id, "no_answer", 408, &reason);
            }
            ClientPurpose::Relay => {
                // Find which relay failed: the transaction id is gone, so
                // answer every pending relay of this call with 408.
                let pending: Vec<PendingRelay> = call.relays.drain().map(|(_, p)| p).collect();
                for p in pending {
                    self.reply(
                        now,
                        p.server_tx,
                        &p.req,
                        408,
                        "The other leg did not answer",
                        None,
                    );
                }
            }
            ClientPurpose::Refresh => {
                warn!(call_id = %call.label, "session refresh got no answer; ending the call");
                self.hang_up_both(now, call_id);
                self.finish(call_id, "failed", 408, "Session refresh not answered");
            }
            ClientPurpose::Bye
            | ClientPurpose::Cancel
            | ClientPurpose::Prack
            | ClientPurpose::Dtmf => {}
        }
    }

    pub(crate) fn on_ack_timeout(&mut self, now: Instant, call_id: u64) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        if call.state == CallState::Answered {
            warn!(call_id = %call.label, "caller never acknowledged the answer; ending the call");
            self.hang_up_other(now, call_id, Side::A);
            self.send_in_dialog(now, call_id, Side::A, Method::Bye, None, ClientPurpose::Bye);
            self.finish(call_id, "failed", 408, "No ACK from caller");
        }
    }

    pub(crate) fn on_ring_timeout(&mut self, now: Instant, call_id: u64) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if !matches!(call.state, CallState::Calling | CallState::Early) {
            return;
        }
        let target = call.target.clone();
        info!(call_id = %call.label, "no answer before the ring timeout");
        let r = Response {
            status: 480,
            reason: format!("No answer from {target}"),
            headers: Default::default(),
            body: Vec::new(),
        };
        let reason = r.reason.clone();
        self.forward_to_a(now, call_id, &r, None);
        // The CDR is written when B's final response (487) or its timeout arrives.
        self.abandon_b(now, call_id, "no_answer", 480, reason);
    }

    pub(crate) fn on_max_duration(&mut self, now: Instant, call_id: u64) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        info!(call_id = %call.label, "maximum call duration reached");
        match call.state {
            CallState::Answered | CallState::Confirmed => {
                self.send_in_dialog(now, call_id, Side::A, Method::Bye, None, ClientPurpose::Bye);
                self.send_in_dialog(now, call_id, Side::B, Method::Bye, None, ClientPurpose::Bye);
                self.finish(call_id, "answered", 200, "Maximum call duration reached");
            }
            _ => self.on_ring_timeout(now, call_id),
        }
    }

    /// Remove the call, release its media and write its CDR.
    pub(crate) fn finish(
        &mut self,
        call_id: u64,
        outcome: &'static str,
        status: u16,
        reason: &str,
    ) {
        let Some(call) = self.calls.remove(&call_id) else {
            return;
        };
        self.by_tag.remove(&call.a_tag);
        self.by_tag.remove(&call.b_tag);
        // Transaction entries of the call go when their transactions end
        // (TxEvent::Terminated); call ids are never reused, so a late one
        // finds no call. Scanning both maps here would cost O(all calls).
        let stats = call.media.as_ref().map(|m| m.stats());
        let quality = call
            .media
            .as_ref()
            .and_then(|m| m.quality(call.audio_index()).ok());
        // A BYE or CANCEL ends the call under a pending re-INVITE: answer it
        // (RFC 3261 15.1.2).
        let mut call = call;
        for (_, p) in call.relays.drain() {
            let mut resp = make_response(&p.req, 487, None);
            resp.reason = "Request Terminated (call ended)".into();
            self.respond(self.now, p.server_tx, resp);
        }
        let at = |i: Instant| {
            call.started_unix_ms + i.saturating_duration_since(call.started).as_millis() as i64
        };
        let ended = at(self.now);
        let answered_ms = call.answered.map(at);
        info!(
            call_id = %call.label,
            caller = %call.caller,
            target = %call.target,
            outcome,
            status,
            reason,
            talk_ms = answered_ms.map(|a| ended - a).unwrap_or(0),
            mos_a = ?quality.as_ref().and_then(|q| q.a.mos).map(|m| (m * 100.0).round() / 100.0),
            mos_b = ?quality.as_ref().and_then(|q| q.b.mos).map(|m| (m * 100.0).round() / 100.0),
            "call ended"
        );
        self.metrics.calls_active.dec();
        self.count_outcome(outcome);
        let facts = cdr::CdrFacts {
            label: &call.label,
            from_uri: &call.from_uri,
            to_uri: &call.to_uri,
            caller: &call.caller,
            callee: &call.target,
            unit: call.unit.as_deref(),
            started_ms: call.started_unix_ms,
            answered_ms,
            ended_ms: ended,
            outcome,
            status,
            reason,
        };
        let _ = self
            .store
            .send(StoreOp::Cdr(cdr::record(facts, stats, quality)));
    }
}

impl Engine {
    /// A new INVITE towards a callee, outside any dialog: our From tag and
    /// Contact, a fresh Call-ID, the caller's number and display name.
    pub(crate) fn callee_invite(
        &mut self,
        uri: &Uri,
        peer: PeerAddr,
        caller_user: &str,
        display: Option<&str>,
        tag: &str,
        max_forwards: u32,
    ) -> Request {
        let hp = self.sent_by(peer.transport);
        let mut req = Request::new(Method::Invite, uri.clone());
        let branch = self.new_branch();
        add_via(&mut req, peer.transport, &hp, &branch);
        req.headers
            .push(HeaderName::MaxForwards, max_forwards.to_string());
        let display = display
            .map(|d| format!("{} ", quote_display(d)))
            .unwrap_or_default();
        let from_host =
            crate::engine::host_port(self.cfg.advertised_ip, self.cfg.udp_port.unwrap_or(5060));
        req.headers.push(
            HeaderName::From,
            format!(
                "{display}<sip:{caller_user}@{}>;tag={tag}",
                from_host.split(':').next().unwrap_or(&from_host)
            ),
        );
        let mut to_uri = uri.clone();
        to_uri.params.clear();
        to_uri.headers.clear();
        req.headers.push(HeaderName::To, format!("<{to_uri}>"));
        let call_id = format!("{}@{}", self.random_hex(12), self.cfg.advertised_ip);
        req.headers.push(HeaderName::CallId, call_id);
        req.headers.push(HeaderName::CSeq, "1 INVITE");
        req.headers
            .push(HeaderName::Contact, self.contact(peer.transport));
        req.headers.push(HeaderName::Allow, ALLOW);
        req.headers.push(HeaderName::Supported, SUPPORTED);
        req.headers.push(HeaderName::UserAgent, USER_AGENT);
        req
    }
}

/// The caller as CDRs and logs name it: `endpoint:1001`, `trunk:carrier`.
pub(crate) fn caller_label(caller: &Caller) -> String {
    match caller {
        Caller::Endpoint(e) => format!("endpoint:{e}"),
        Caller::Trunk(t) => format!("trunk:{t}"),
        Caller::Anonymous { source } => format!("anonymous:{source}"),
    }
}

/// The INVITE again, answering the callee's 401/407 digest challenge with
/// `user`/`pass` (a trunk's): next CSeq, no Via (the caller adds one).
/// `None` when the response carries no challenge we can answer.
pub(crate) fn authorized_retry(
    invite: &Request,
    resp: &Response,
    user: &str,
    pass: &str,
    cnonce: &str,
) -> Option<Request> {
    let (challenge_header, answer_header) = if resp.status == 407 {
        (
            HeaderName::ProxyAuthenticate,
            HeaderName::ProxyAuthorization,
        )
    } else {
        (HeaderName::WwwAuthenticate, HeaderName::Authorization)
    };
    let challenge =
        gateway_sip::auth::select_challenge(resp.headers.get_all(&challenge_header)).ok()?;
    let mut req = invite.clone();
    let seq = req.cseq().map(|c| c.seq).unwrap_or(1) + 1;
    req.headers.set(HeaderName::CSeq, format!("{seq} INVITE"));
    req.headers.remove(&HeaderName::Via);
    let uri = req.uri.to_string();
    let answer = challenge.respond(user, pass, "INVITE", &uri, cnonce, 1);
    req.headers.set(answer_header, answer);
    Some(req)
}

fn is_sdp_type(content_type: &str) -> bool {
    content_type
        .trim()
        .to_ascii_lowercase()
        .starts_with("application/sdp")
}

/// The session description a message carries: its body when that is SDP,
/// or the SDP part of a multipart body (SIP-I carriers send SDP + ISUP).
/// Other bodies (pidf, ISUP alone …) are not offers.
pub(crate) fn sdp_body(headers: &gateway_sip::message::Headers, body: &[u8]) -> Option<Vec<u8>> {
    if body.is_empty() {
        return None;
    }
    let ct = headers.get(&HeaderName::ContentType)?;
    if is_sdp_type(ct) {
        return Some(body.to_vec());
    }
    if ct.trim().to_ascii_lowercase().starts_with("multipart/") {
        return gateway_sip::multipart::split(ct, body)
            .ok()?
            .into_iter()
            .find(|p| p.content_type().is_some_and(is_sdp_type))
            .map(|p| p.body);
    }
    None
}

/// A display name as one quoted-string, whatever form it arrived in.
fn quote_display(d: &str) -> String {
    let inner = d
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .filter(|x| !x.replace("\\\\", "").replace("\\\"", "").contains('"'))
        .map(|x| x.replace("\\\"", "\"").replace("\\\\", "\\"))
        .unwrap_or_else(|| d.to_string());
    format!("\"{}\"", inner.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The route request `gateway dialplan route` explains: the caller is the
/// endpoint named by the From user if there is one, else the trunk whose
/// ACL holds the source address, else anonymous.
pub fn route_request_for_cli(
    dp: &gateway_dialplan::Dialplan,
    from: &str,
    to: &str,
    source: IpAddr,
    secure: bool,
) -> Result<RouteRequest, String> {
    let from_uri = Uri::parse(from).map_err(|e| format!("--from {from}: {e}"))?;
    let target = match Uri::parse(to) {
        Ok(u) => u.user.unwrap_or_default(),
        Err(_) => to.to_string(),
    };
    let caller = match from_uri
        .user
        .as_deref()
        .and_then(|u| dp.endpoint_by_user(u))
    {
        Some(e) => Caller::Endpoint(e.id.clone()),
        None => match dp.trunk_for_source(source) {
            Some(t) => Caller::Trunk(t.name.clone()),
            None => Caller::Anonymous { source },
        },
    };
    Ok(RouteRequest {
        caller,
        from_user: from_uri.user,
        target,
        transport_secure: secure,
        at_unix_secs: crate::engine::unix_now(),
    })
}

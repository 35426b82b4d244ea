//! A call as the neutral model has it: two legs and a media bridge. Each
//! leg is a signalling adapter that turns its protocol into [`LegEvent`]s
//! and carries out [`LegCommand`]s; this owner maps one leg's events onto
//! the other's commands and sets the media path between them. It never
//! asks which protocol a leg speaks: SIP legs today ([`super::sip_leg`]),
//! H.323 and WebRTC legs through the same [`Engine::on_bridged_event`].
//!
//! Calls between two SIP legs run through this owner too: every new SIP
//! INVITE that is not for a meeting comes here from [`super::front`].

use super::bridged_media::{self, BridgePlan, LocalMedia, OfferState, AUDIO_STREAM, VIDEO_STREAM};
use super::cdr;
use super::media_path::{describe_leg_media, install_media};
use super::sip_leg::SipLeg;
use super::{now_ms, Side};
use crate::engine::{Engine, EngineTimer};
use crate::store_writer::StoreOp;
use gateway_callmodel::{Cause, LegCommand, LegEvent, MediaCaps};
use gateway_dialplan::{RouteDecision, RouteOutcome};
use gateway_media::{Leg, MediaSession};
use gateway_sip::transaction::{ClientTxId, PeerAddr, ServerTxId, Transport};
use gateway_sip::uri::Uri;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// The protocol half of a leg; the owner only stores it for the adapter.
pub(crate) enum LegSignalling {
    Sip(Box<SipLeg>),
    /// An H.323 call-signalling connection; its leg lives with the
    /// connection (`Engine::h323_leg_command`).
    H323(crate::h323::ConnId),
}

pub(crate) struct BridgedLeg {
    pub(crate) signalling: LegSignalling,
    pub(crate) ended: bool,
}

impl LegSignalling {
    /// The leg can take a mid-call offer and answer it, and carry
    /// application messages. H.323 legs keep the channels they opened (no
    /// H.245 re-opening yet) and have no INFO to carry messages in.
    pub(crate) fn renegotiates(&self) -> bool {
        matches!(self, LegSignalling::Sip(_))
    }
}

/// Where the call goes, as routing resolved it.
pub(crate) enum Callee {
    Sip {
        uri: Uri,
        peer: PeerAddr,
        /// A trunk's digest credentials, for its 401/407.
        credentials: Option<(String, String)>,
    },
    /// A registered H.323 endpoint, at the call-signalling address of its
    /// registration (`Engine::resolve_h323_callee`).
    H323 {
        addr: std::net::SocketAddr,
        /// The aliases it registered: the Setup's destinationAddress.
        aliases: Vec<gateway_h323::h225::AliasAddress>,
        /// Its number, for the called party number IE.
        number: Option<String>,
    },
}

/// What the caller's adapter knows when the call starts.
pub(crate) struct NewCall<'a> {
    pub label: String,
    pub caller_leg: LegSignalling,
    /// `None`: the caller waits for our offer (SIP late offer).
    pub offer: Option<MediaCaps>,
    pub decision: &'a RouteDecision,
    pub callee: Callee,
    /// The number the callee sees (the policy's caller-ID or the caller's).
    pub caller_number: String,
    pub caller_display: Option<String>,
    pub max_forwards: u32,
    /// For the CDR: `endpoint:1001`, what was dialled, the URIs.
    pub caller: String,
    pub target: String,
    pub from_uri: String,
    pub to_uri: String,
}

pub(crate) struct BridgedCall {
    pub(crate) label: String,
    pub(crate) legs: [BridgedLeg; 2],
    pub(super) media: MediaSession,
    /// The caller's offer, or its answer to ours (late offer).
    offer: Option<MediaCaps>,
    offered: Option<OfferState>,
    /// The caller offered nothing: what we offered each side, the callee's
    /// answer until the caller answers ours.
    late: Option<LateOffer>,
    plan: Option<BridgePlan>,
    pub(super) answered: Option<Instant>,
    /// The callee answered with media the bridge could not use.
    setup_failed: bool,
    /// What we offered the callee; `None` once it was offered SRTP after
    /// refusing plain RTP (tried once).
    callee_offer: Option<MediaCaps>,
    /// The call's policy demands encrypted media on both legs.
    pub(super) require_encryption: bool,
    /// A mid-call offer from one leg, on its way to the other.
    pub(super) reoffer: Option<super::bridged_reoffer::ReOffer>,
    started: Instant,
    started_unix_ms: i64,
    caller: String,
    target: String,
    from_uri: String,
    to_uri: String,
    unit: Option<String>,
}

/// A late-offer call: both legs answer offers of ours.
struct LateOffer {
    b_keys: Option<Vec<gateway_sdp::crypto::SdesCrypto>>,
    a_keys: Option<Vec<gateway_sdp::crypto::SdesCrypto>>,
    b_answer: Option<MediaCaps>,
}

impl BridgedCall {
    /// The audio is decoded and encoded again between the legs.
    #[cfg(test)]
    pub(crate) fn is_transcoded(&self) -> bool {
        self.plan.as_ref().is_some_and(|p| p.transcode.is_some())
    }
}

/// Every bridged call, and how SIP messages find their leg.
#[derive(Default)]
pub(crate) struct BridgedCalls {
    pub(crate) calls: HashMap<u64, BridgedCall>,
    /// Our tag in a SIP leg's dialog → the leg.
    pub(crate) tags: HashMap<String, (u64, Side)>,
    /// Client transactions of SIP legs (INVITE, BYE, INFO, CANCEL).
    pub(crate) client_tx: HashMap<ClientTxId, (u64, Side)>,
    /// The INVITE server transaction of a SIP caller (for its CANCEL).
    pub(crate) server_tx: HashMap<ServerTxId, u64>,
    /// INVITEs of callee legs whose calls ended before a CANCEL could go.
    pub(crate) orphans: HashMap<ClientTxId, super::sip_leg::Orphan>,
}

impl Engine {
    /// Where a call the dialplan sent to an endpoint, a trunk or a URI goes
    /// on the wire: the endpoint's registered contact (reached at the
    /// address it registered from), else the URI's host.
    pub(crate) fn resolve_sip_callee(
        &mut self,
        now: Instant,
        decision: &RouteDecision,
    ) -> Result<Callee, Cause> {
        match &decision.outcome {
            RouteOutcome::Endpoint { id: ep } => {
                let bindings = self.registrar.lookup(ep, now);
                let Some(b) = bindings.first() else {
                    return Err(Cause::from_sip_status(
                        480,
                        &format!("{ep} is not registered"),
                    ));
                };
                match Uri::parse(&b.contact) {
                    Ok(uri) => Ok(Callee::Sip {
                        uri,
                        peer: b.source,
                        credentials: None,
                    }),
                    Err(_) => Err(Cause::from_sip_status(
                        480,
                        &format!("{ep} registered an unusable contact"),
                    )),
                }
            }
            RouteOutcome::Trunk { uri, .. } | RouteOutcome::Uri { uri } => {
                let parsed = Uri::parse(uri).map_err(|_| format!("bad target URI {uri}"));
                let credentials = match &decision.outcome {
                    RouteOutcome::Trunk { name, .. } => self
                        .dialplan
                        .trunk(name)
                        .and_then(|t| Some((t.username.clone()?, t.password.clone()?))),
                    _ => None,
                };
                match parsed.and_then(|u| super::uri_peer(&u).map(|p| (u, p))) {
                    Ok((uri, peer)) => Ok(Callee::Sip {
                        uri,
                        peer,
                        credentials,
                    }),
                    Err(reason) => {
                        warn!(%reason, "cannot place outgoing leg");
                        Err(Cause::from_sip_status(503, &reason))
                    }
                }
            }
            RouteOutcome::Reject { status, reason } => Err(Cause::from_sip_status(*status, reason)),
            RouteOutcome::Meeting { number } => Err(Cause::from_sip_status(
                500,
                &format!("Meeting {number} is not a call target"),
            )),
        }
    }

    /// The callee a decision names, whichever protocol it speaks.
    pub(crate) fn resolve_callee(
        &mut self,
        now: Instant,
        decision: &RouteDecision,
    ) -> Result<Callee, Cause> {
        match self.resolve_h323_callee(now, decision) {
            Some(resolved) => resolved,
            None => self.resolve_sip_callee(now, decision),
        }
    }

    /// Place the callee leg of a new call and start its bridge. On `Err`
    /// nothing was started: the caller's adapter refuses its own way.
    pub(crate) fn start_bridged_call(
        &mut self,
        now: Instant,
        new: NewCall<'_>,
    ) -> Result<u64, Cause> {
        let video = new
            .offer
            .as_ref()
            .is_some_and(|o| bridged_media::plain_video(o).is_some());
        let streams = if video { 2 } else { 1 };
        let media = self.media.allocate(&new.label, streams).map_err(|e| {
            warn!(call_id = %new.label, error = %e, "no media ports");
            Cause::from_sip_status(e.sip_status(), &format!("Media relay: {e}"))
        })?;
        let (rtp, rtcp) = media
            .local_addr(AUDIO_STREAM, Leg::B)
            .map_err(|e| Cause::from_sip_status(500, &format!("Media relay: {e}")))?;
        let advertised =
            |a: std::net::SocketAddr| std::net::SocketAddr::new(self.cfg.advertised_ip, a.port());
        let b_local = LocalMedia {
            rtp: advertised(rtp),
            rtcp: advertised(rtcp),
        };
        let required = new.decision.policy.encryption_required;
        if let Callee::Sip { peer, uri, .. } = &new.callee {
            if required && peer.transport != Transport::Tls && !self.sdes_without_tls {
                return Err(Cause::from_sip_status(
                    488,
                    &format!(
                        "Encryption required but {uri} is reached over {:?}: SDES keys would travel in clear (needs TLS, or sdes_without_tls)",
                        peer.transport
                    ),
                ));
            }
        }
        let (b_offer, offered, late) = match &new.offer {
            Some(offer) => {
                let b_video = media
                    .local_addr(VIDEO_STREAM, Leg::B)
                    .ok()
                    .map(|(rtp, rtcp)| LocalMedia {
                        rtp: advertised(rtp),
                        rtcp: advertised(rtcp),
                    });
                let (b_offer, offered) =
                    bridged_media::offer_for_callee(offer, b_local, b_video, required)?;
                (b_offer, Some(offered), None)
            }
            None => {
                let (b_offer, b_keys) = bridged_media::own_offer(b_local, None, required);
                let late = LateOffer {
                    b_keys,
                    a_keys: None,
                    b_answer: None,
                };
                (b_offer, None, Some(late))
            }
        };
        let call_id = self.alloc_call_id();
        let callee_leg = match &new.callee {
            Callee::Sip {
                uri,
                peer,
                credentials,
            } => LegSignalling::Sip(Box::new(self.sip_callee_leg(
                now,
                call_id,
                uri,
                *peer,
                credentials.clone(),
                &new.caller_number,
                new.caller_display.as_deref(),
                new.max_forwards,
                &b_offer,
            )?)),
            Callee::H323 {
                addr,
                aliases,
                number,
            } => {
                if b_offer.streams.iter().any(|s| s.transport.is_encrypted()) {
                    // Fast Start here carries plain RTP only: never downgrade.
                    return Err(Cause::from_sip_status(
                        488,
                        "Encryption required but the callee is an H.323 endpoint (plain RTP)",
                    ));
                }
                LegSignalling::H323(self.h323_place_call(
                    now,
                    call_id,
                    &new.label,
                    *addr,
                    aliases,
                    number.as_deref(),
                    &new.caller_number,
                    &b_offer,
                )?)
            }
        };
        info!(call_id = %new.label, caller = %new.caller, target = %new.target, "bridged call placed");
        self.bridged.calls.insert(
            call_id,
            BridgedCall {
                label: new.label,
                legs: [
                    BridgedLeg {
                        signalling: new.caller_leg,
                        ended: false,
                    },
                    BridgedLeg {
                        signalling: callee_leg,
                        ended: false,
                    },
                ],
                media,
                offer: new.offer,
                offered,
                late,
                plan: None,
                answered: None,
                require_encryption: required,
                setup_failed: false,
                callee_offer: Some(b_offer),
                reoffer: None,
                started: now,
                started_unix_ms: now_ms(),
                caller: new.caller,
                target: new.target,
                from_uri: new.from_uri,
                to_uri: new.to_uri,
                unit: new.decision.policy.unit.clone(),
            },
        );
        self.metrics.calls_active.inc();
        self.schedule(
            now + self.cfg.ring_timeout,
            EngineTimer::BridgedRing(call_id),
        );
        let max = Duration::from_secs(new.decision.policy.max_duration_secs.max(1));
        self.schedule(now + max, EngineTimer::BridgedMaxDuration(call_id));
        Ok(call_id)
    }

    /// A leg of a bridged call reports something: the other leg hears of it
    /// in its own protocol.
    pub(crate) fn on_bridged_event(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        ev: LegEvent,
    ) {
        let Some(call) = self.bridged.calls.get_mut(&call_id) else {
            return;
        };
        let label = call.label.clone();
        debug!(call_id = %label, ?side, event = ?ev, "leg event");
        match ev {
            LegEvent::Progress { early_media } if side == Side::B => {
                // Early media needs the caller's offer to answer.
                let early_media = early_media.filter(|_| call.late.is_none());
                let early = match early_media {
                    Some(caps) => match self.plan_bridge(call_id, &caps) {
                        Ok(a_answer) => Some(a_answer),
                        Err(cause) => return self.end_bridged(now, call_id, Side::B, cause),
                    },
                    None => None,
                };
                self.bridged_command(
                    now,
                    call_id,
                    Side::A,
                    LegCommand::Progress { early_media: early },
                );
            }
            LegEvent::Offer(caps) => self.on_bridged_reoffer(now, call_id, side, caps),
            LegEvent::Answer(caps) if call.reoffer.as_ref().is_some_and(|r| r.from != side) => {
                self.finish_reoffer(now, call_id, caps)
            }
            LegEvent::OfferRefused(cause) if side == Side::B && call.answered.is_none() => {
                self.callee_refused_offer(now, call_id, cause)
            }
            LegEvent::OfferRefused(cause) => self.reoffer_refused(now, call_id, side, cause),
            LegEvent::Answer(caps) if side == Side::B => {
                if let Some(late) = call.late.as_mut() {
                    late.b_answer = Some(caps);
                } else if let Err(cause) = self.plan_bridge(call_id, &caps) {
                    // The callee took the call but its media cannot be
                    // used: a failed call, not a refused one.
                    if let Some(c) = self.bridged.calls.get_mut(&call_id) {
                        c.setup_failed = true;
                    }
                    self.end_bridged(now, call_id, Side::B, cause);
                }
            }
            LegEvent::Answer(caps) if side == Side::A && call.late.is_some() => {
                if let Err(cause) = self.plan_late(call_id, caps) {
                    self.end_bridged(now, call_id, Side::A, cause);
                }
            }
            LegEvent::Answered if side == Side::B && call.late.is_some() => {
                match self.late_offer_to_caller(call_id) {
                    Ok(a_offer) => {
                        if let Some(c) = self.bridged.calls.get_mut(&call_id) {
                            c.answered = Some(now);
                        }
                        info!(call_id = %label, "bridged call answered (our offer to the caller)");
                        self.bridged_command(now, call_id, Side::A, LegCommand::Answer(a_offer));
                    }
                    Err(cause) => self.end_bridged(now, call_id, Side::B, cause),
                }
            }
            LegEvent::Answered if side == Side::B => {
                let Some(a_answer) = call.plan.as_ref().map(|p| p.a_answer.clone()) else {
                    let cause = Cause::from_sip_status(488, "The callee answered without media");
                    return self.end_bridged(now, call_id, Side::B, cause);
                };
                call.answered = Some(now);
                info!(call_id = %label, "bridged call answered");
                self.bridged_command(now, call_id, Side::A, LegCommand::Answer(a_answer));
            }
            LegEvent::Dtmf { digit, duration_ms } => {
                // Towards a leg with telephone-event the digit is played
                // into its audio; otherwise its adapter signals it.
                let to = side.other();
                let direction = match to {
                    Side::A => gateway_media::relay::Direction::BtoA,
                    Side::B => gateway_media::relay::Direction::AtoB,
                };
                let played = gateway_media::dtmf::DtmfEvent::from_char(digit).is_some_and(|e| {
                    call.media.can_inject_dtmf(AUDIO_STREAM, direction)
                        && call
                            .media
                            .inject_dtmf(AUDIO_STREAM, direction, e, duration_ms)
                            .is_ok()
                });
                info!(call_id = %label, ?side, digit = %digit, duration_ms, in_band = played, "DTMF relayed to the other leg");
                if !played {
                    let cmd = LegCommand::Dtmf { digit, duration_ms };
                    self.bridged_command(now, call_id, to, cmd);
                }
            }
            LegEvent::Message(msg) => {
                let to = side.other();
                if call.legs[to as usize].signalling.renegotiates() {
                    self.bridged_command(now, call_id, to, LegCommand::Message(msg));
                } else {
                    let why = "The other leg carries no application messages";
                    let result = Err(Cause::from_sip_status(415, why));
                    let cmd = LegCommand::MessageAnswered { id: msg.id, result };
                    self.bridged_command(now, call_id, side, cmd);
                }
            }
            LegEvent::MessageAnswered { id, result } => {
                let cmd = LegCommand::MessageAnswered { id, result };
                self.bridged_command(now, call_id, side.other(), cmd);
            }
            LegEvent::KeyframeRequest => {
                self.bridged_command(now, call_id, side.other(), LegCommand::KeyframeRequest);
            }
            LegEvent::Ended(cause) => {
                call.legs[side as usize].ended = true;
                self.end_bridged(now, call_id, side, cause);
            }
            // The adapters answer mid-call offers with the media they
            // have (the bridge keeps the path); hold and bandwidth do not
            // change the path either.
            other => {
                debug!(call_id = %label, ?side, event = ?other, "leg event needs nothing of the other leg")
            }
        }
    }

    /// The callee's media answer: set both relay legs, the transforms of
    /// each direction and the caller's answer. Returns the caller's answer.
    fn plan_bridge(&mut self, call_id: u64, b_answer: &MediaCaps) -> Result<MediaCaps, Cause> {
        let Some(call) = self.bridged.calls.get(&call_id) else {
            return Err(Cause::normal_clearing());
        };
        if let Some(p) = &call.plan {
            return Ok(p.a_answer.clone());
        }
        let (Some(offered), Some(offer)) = (call.offered.clone(), call.offer.clone()) else {
            return Err(Cause::from_sip_status(500, "No caller media to plan from"));
        };
        self.apply_plan(call_id, Side::A, &offered, &offer, b_answer)
    }

    /// One offer/answer exchange between the legs, `offerer`'s offer
    /// (`offered` is what went on to the other leg) and the other leg's
    /// `answer`: set both relay legs and the transforms of each direction.
    /// Returns the offerer's answer. The initial exchange has the caller as
    /// offerer; a mid-call one either leg.
    pub(super) fn apply_plan(
        &mut self,
        call_id: u64,
        offerer: Side,
        offered: &OfferState,
        offer: &MediaCaps,
        answer: &MediaCaps,
    ) -> Result<MediaCaps, Cause> {
        let ip = self.cfg.advertised_ip;
        let dtmf_tx = self.dtmf_tx.clone();
        let Some(call) = self.bridged.calls.get_mut(&call_id) else {
            return Err(Cause::normal_clearing());
        };
        let relay_err = |e: gateway_media::MediaError| {
            Cause::from_sip_status(500, &format!("Media relay: {e}"))
        };
        let local = |stream: usize| {
            call.media
                .local_addr(stream, offerer.leg())
                .map(|(rtp, rtcp)| LocalMedia {
                    rtp: std::net::SocketAddr::new(ip, rtp.port()),
                    rtcp: std::net::SocketAddr::new(ip, rtcp.port()),
                })
        };
        let o_local = local(AUDIO_STREAM).map_err(relay_err)?;
        let o_video = local(VIDEO_STREAM).ok();
        // The plan names the offerer "a" and the answerer "b".
        let plan = bridged_media::plan_answer(offered, offer, answer, o_local, o_video)?;
        let (o_leg, a_leg) = (offerer.leg(), offerer.other().leg());
        let m = &call.media;
        let set = || -> Result<(), gateway_media::MediaError> {
            let (rtp, rtcp, mux) = plan.a_remote;
            m.set_remote(AUDIO_STREAM, o_leg, rtp, rtcp, mux)?;
            let (rtp, rtcp, mux) = plan.b_remote;
            m.set_remote(AUDIO_STREAM, a_leg, rtp, rtcp, mux)?;
            m.set_clock_rate(AUDIO_STREAM, o_leg, plan.clocks.0)?;
            m.set_clock_rate(AUDIO_STREAM, a_leg, plan.clocks.1)?;
            if let Some(v) = &plan.video {
                let (rtp, rtcp, mux) = v.a_remote;
                m.set_remote(VIDEO_STREAM, o_leg, rtp, rtcp, mux)?;
                let (rtp, rtcp, mux) = v.b_remote;
                m.set_remote(VIDEO_STREAM, a_leg, rtp, rtcp, mux)?;
                // 90 kHz marks video: jitter without a MOS.
                m.set_clock_rate(VIDEO_STREAM, o_leg, 90_000)?;
                m.set_clock_rate(VIDEO_STREAM, a_leg, 90_000)?;
                // Renumbered where the legs' payload types differ; an
                // identity transform clears an earlier plan's renumbering.
                use gateway_media::relay::Direction as Towards;
                let (to_answerer, to_offerer) = match o_leg {
                    Leg::A => (Towards::AtoB, Towards::BtoA),
                    Leg::B => (Towards::BtoA, Towards::AtoB),
                };
                for (dir, to_b) in [(to_answerer, true), (to_offerer, false)] {
                    let t: Box<dyn gateway_media::PacketTransform> = match v.payload_types(to_b) {
                        Some(map) => Box::new(map),
                        None => Box::new(gateway_media::IdentityTransform),
                    };
                    m.set_transform(VIDEO_STREAM, dir, t)?;
                }
            }
            Ok(())
        };
        set().map_err(relay_err)?;
        let encrypted = |k: Option<&super::sdes::LegKeys>| k.is_some();
        let keys = plan.srtp.as_ref();
        for (side, codec, enc) in [
            (
                offerer,
                plan.audio.0,
                encrypted(keys.and_then(|k| k.offerer.as_ref())),
            ),
            (
                offerer.other(),
                plan.audio.1,
                encrypted(keys.and_then(|k| k.answerer.as_ref())),
            ),
        ] {
            if let Some(codec) = codec {
                describe_leg_media(&call.media, AUDIO_STREAM, side, codec, enc);
            }
        }
        let srtp = plan.srtp.clone().map(|l| (offerer, l));
        // A leg with telephone-event whose peer has none: its events are
        // taken out of the media (then signalled to the peer), and digits
        // the peer signals are played into the audio towards it.
        let tap = match plan.telephone_events {
            (Some((pt, clock)), None) => Some((call_id, offerer, pt, clock, dtmf_tx)),
            (None, Some((pt, clock))) => Some((call_id, offerer.other(), pt, clock, dtmf_tx)),
            _ => None,
        };
        install_media(
            &call.label,
            &call.media,
            offerer,
            plan.transcode.as_ref(),
            srtp.as_ref(),
            tap,
        );
        info!(call_id = %call.label, ?offerer, offerer_codec = %plan.codecs.0, answerer_codec = %plan.codecs.1, transcoded = plan.transcode.is_some(), "bridged media path set");
        let answer = plan.a_answer.clone();
        call.plan = Some(plan);
        Ok(answer)
    }

    /// Where the relay receives from the caller, as the caller sees it.
    fn caller_local(&self, call_id: u64) -> Result<LocalMedia, Cause> {
        let call = self
            .bridged
            .calls
            .get(&call_id)
            .ok_or_else(Cause::normal_clearing)?;
        let (rtp, rtcp) = call
            .media
            .local_addr(AUDIO_STREAM, Leg::A)
            .map_err(|e| Cause::from_sip_status(500, &format!("Media relay: {e}")))?;
        let ip = self.cfg.advertised_ip;
        Ok(LocalMedia {
            rtp: std::net::SocketAddr::new(ip, rtp.port()),
            rtcp: std::net::SocketAddr::new(ip, rtcp.port()),
        })
    }

    /// Late offer, the callee answered: our offer to the caller leads with
    /// the callee's codec (forwarded if the caller takes it).
    fn late_offer_to_caller(&mut self, call_id: u64) -> Result<MediaCaps, Cause> {
        let a_local = self.caller_local(call_id)?;
        let call = self
            .bridged
            .calls
            .get_mut(&call_id)
            .ok_or_else(Cause::normal_clearing)?;
        let required =
            call.offered.is_none() && call.late.as_ref().is_some_and(|l| l.b_keys.is_some());
        let late = call.late.as_mut().ok_or_else(Cause::normal_clearing)?;
        let b_codec = late
            .b_answer
            .as_ref()
            .and_then(|b| b.first(gateway_callmodel::MediaKind::Audio))
            .and_then(|(_, s)| s.codecs.iter().find(|c| !c.is_telephone_event()).cloned())
            .ok_or_else(|| Cause::from_sip_status(488, "The callee answered without audio"))?;
        let (offer, keys) = bridged_media::own_offer(a_local, Some(&b_codec), required);
        late.a_keys = keys;
        Ok(offer)
    }

    /// Late offer, the caller answered ours: plan the path as if it had
    /// offered what it accepted.
    fn plan_late(&mut self, call_id: u64, a_answer: MediaCaps) -> Result<(), Cause> {
        let call = self
            .bridged
            .calls
            .get_mut(&call_id)
            .ok_or_else(Cause::normal_clearing)?;
        let late = call.late.as_mut().ok_or_else(Cause::normal_clearing)?;
        let b_answer = late
            .b_answer
            .clone()
            .ok_or_else(|| Cause::from_sip_status(488, "The callee answered without SDP"))?;
        let offered =
            bridged_media::caller_answered(&a_answer, late.a_keys.as_deref(), late.b_keys.take())?;
        call.offered = Some(offered);
        call.offer = Some(a_answer);
        self.plan_bridge(call_id, &b_answer).map(|_| ())
    }

    /// The callee refused our first offer as not acceptable (a 488): a
    /// callee that insists on SRTP gets the same offer once more with
    /// SDES keys (RTP/SAVP); otherwise the call ends with the refusal.
    fn callee_refused_offer(&mut self, now: Instant, call_id: u64, cause: Cause) {
        let Some(call) = self.bridged.calls.get_mut(&call_id) else {
            return;
        };
        let retry = match (call.callee_offer.take(), call.offered.as_ref()) {
            (Some(offer), Some(state)) => bridged_media::with_srtp(&offer, state),
            _ => None,
        };
        match retry {
            Some((offer, state)) => {
                info!(call_id = %call.label, "callee refused plain RTP; offering SRTP (RTP/SAVP) once");
                call.offered = Some(state);
                self.bridged_command(now, call_id, Side::B, LegCommand::Offer(offer));
            }
            None => {
                call.legs[Side::B as usize].ended = true;
                self.end_bridged(now, call_id, Side::B, cause)
            }
        }
    }

    /// `side` ended (or must end) with `cause`: the other leg ends with the
    /// same cause, in its protocol's words, and the call is recorded.
    fn end_bridged(&mut self, now: Instant, call_id: u64, side: Side, cause: Cause) {
        for s in [side, side.other()] {
            let Some(call) = self.bridged.calls.get_mut(&call_id) else {
                return;
            };
            let leg = &mut call.legs[s as usize];
            if !leg.ended {
                leg.ended = true;
                self.bridged_command(now, call_id, s, LegCommand::End(cause.clone()));
            }
        }
        self.finish_bridged(call_id, &cause);
    }

    fn finish_bridged(&mut self, call_id: u64, cause: &Cause) {
        let Some(call) = self.bridged.calls.remove(&call_id) else {
            return;
        };
        // Only this call's own entries: scanning the maps would cost
        // O(all calls) per call ended.
        for leg in &call.legs {
            if let LegSignalling::Sip(s) = &leg.signalling {
                self.bridged.tags.remove(s.tag());
                if let Some(tx) = s.invite_server_tx() {
                    self.bridged.server_tx.remove(&tx);
                }
            }
        }
        let stats = call.media.stats();
        let quality = call.media.quality(AUDIO_STREAM).ok();
        let at = |i: Instant| {
            call.started_unix_ms + i.saturating_duration_since(call.started).as_millis() as i64
        };
        let ended = at(self.now);
        let answered_ms = call.answered.map(at);
        let status = if answered_ms.is_some() && cause.is_normal() {
            200
        } else {
            cause.to_sip_status()
        };
        // An answered call that ended abnormally (no ACK, media failure)
        // failed; one that ended normally was answered.
        let outcome = match answered_ms {
            Some(_) if cause.is_normal() => "answered",
            Some(_) => "failed",
            None if call.setup_failed => "failed",
            None => super::outcome_of(status),
        };
        let reason = cause
            .text()
            .unwrap_or_else(|| cause.sip_reason_phrase())
            .to_string();
        info!(call_id = %call.label, caller = %call.caller, target = %call.target, outcome, q850 = cause.q850().value(), reason = %reason, "bridged call ended");
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
            reason: &reason,
        };
        let _ = self
            .store
            .send(StoreOp::Cdr(cdr::record(facts, Some(stats), quality)));
    }

    /// Hand a command to a leg's adapter.
    pub(super) fn bridged_command(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        cmd: LegCommand,
    ) {
        let Some(call) = self.bridged.calls.get(&call_id) else {
            return;
        };
        match &call.legs[side as usize].signalling {
            LegSignalling::Sip(_) => self.sip_leg_command(now, call_id, side, cmd),
            LegSignalling::H323(conn) => {
                let conn = *conn;
                self.h323_leg_command(now, conn, cmd)
            }
        }
    }

    pub(crate) fn on_bridged_ring_timeout(&mut self, now: Instant, call_id: u64) {
        match self.bridged.calls.get(&call_id) {
            Some(c) if c.answered.is_none() => {
                info!(call_id = %c.label, "no answer within the ring timeout");
                let cause = Cause::from_sip_status(480, &format!("{} did not answer", c.target));
                self.end_bridged(now, call_id, Side::B, cause);
            }
            _ => {}
        }
    }

    pub(crate) fn on_bridged_max_duration(&mut self, now: Instant, call_id: u64) {
        if let Some(c) = self.bridged.calls.get(&call_id) {
            info!(call_id = %c.label, "maximum call duration reached");
            let cause = Cause::normal_clearing().with_text("Maximum call duration reached");
            self.end_bridged(now, call_id, Side::A, cause);
        }
    }

    /// An H.323 Setup the dialplan sent to a SIP endpoint, trunk or URI
    /// (or to another H.323 endpoint): the H.323 leg is the caller. `Err` tells the
    /// H.323 adapter how to release.
    pub(crate) fn h323_call_to_sip(
        &mut self,
        now: Instant,
        conn: crate::h323::ConnId,
        decision: &RouteDecision,
        caller: String,
        target: String,
        offer: Option<MediaCaps>,
    ) -> Result<u64, Cause> {
        if offer.is_none() {
            // Slow start (capabilities and logical channels after Connect)
            // is not answered by the H.323 leg yet.
            return Err(
                Cause::new(gateway_callmodel::Q850::BEARER_CAPABILITY_NOT_AVAILABLE)
                    .with_text("Calls from H.323 to SIP need Fast Start"),
            );
        }
        let callee = self.resolve_callee(now, decision)?;
        let (label, calling) = match self.h323.conns.get(&conn) {
            Some(c) => (c.label.clone(), c.leg.calling_number().map(str::to_string)),
            None => return Err(Cause::normal_clearing()),
        };
        let caller_number = decision
            .policy
            .caller_id
            .clone()
            .or(calling.clone())
            .unwrap_or_else(|| "anonymous".into());
        self.start_bridged_call(
            now,
            NewCall {
                label,
                caller_leg: LegSignalling::H323(conn),
                offer,
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
}

//! One H.323 call-signalling connection (TCP, TPKT, Q.931 with the
//! H.323-UU-PDU) as a sans-IO leg of the neutral call model.
//!
//! Bytes read from the socket go in through [`H323CallLeg::handle_bytes`],
//! the owner's [`LegCommand`]s through [`H323CallLeg::handle_command`];
//! frames to write come out of [`H323CallLeg::poll_transmit`] and neutral
//! [`LegEvent`]s out of [`H323CallLeg::poll_event`]. Time only enters as
//! `Instant` arguments.
//!
//! Media is negotiated with Fast Start (the OLC proposals of the Setup
//! become the offer, the owner's answer picks among them). H.245 runs
//! tunnelled in the call signalling: capability exchange and master/slave
//! determination are completed so that room systems keep the call, and user
//! input, fast update and flow control map to neutral events.
//!
//! H.323 8.1.7.1: a caller that sees any H.245 message before the Fast
//! Start answer takes Fast Start as refused, so every H.245 PDU we have for
//! the peer waits until the message carrying our fastStart element.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_callmodel::{
    AudioCodec, Cause, CodecCap, Direction as MediaDirection, H225ReleaseReason, LegCommand,
    LegEvent, MediaCaps, MediaKind, MediaTransport, StreamCaps, Q850,
};

use crate::h225::*;
use crate::h245::{
    AudioCapability, Capability, CapabilityDescriptor, CapabilityTableEntry, Category, DataType,
    Direction as CapDirection, EndSessionCommand, FramedAudio, H2250LogicalChannelAckParameters,
    H245Address, H245Message, MiscCommandType, MsdDecision, OlcRejectCause, OpenLogicalChannel,
    OpenLogicalChannelAck, TerminalCapabilitySet, UserInputCapabilityKind, UserInputIndication,
    H245_PROTOCOL_V7,
};
use crate::q931::{Ie, Message, MessageType, UU_PROTOCOL_X208};
use crate::tpkt::{self, TpktFramer};

mod control;
mod h245_link;
mod outgoing;
mod redirect;
mod slow_start;
#[cfg(test)]
mod tests;
mod video;
pub use h245_link::{H245Action, H245Transport};
pub use outgoing::{OutgoingCall, OutgoingError};
pub use redirect::Redirect;

#[derive(Debug, Clone)]
pub struct CallLegConfig {
    /// destinationInfo of our responses: a gateway with our vendor.
    pub vendor: VendorIdentifier,
    /// Tunnel H.245 when the caller offers to.
    pub h245_tunnelling: bool,
    /// Run H.245 on a connection of its own when the peer does not tunnel
    /// (connect to its h245Address, or listen for it).
    pub h245_connection: bool,
    /// T301-like: how long an incoming call may stay unanswered.
    pub answer_timeout: Duration,
    /// H.245 T101, T106 and T103: how long our capability set, our
    /// master/slave determination and our logical channel wait for the
    /// peer's answer once sent.
    pub h245_response_timeout: Duration,
    /// MSD terminalType (H.323 Table 1: 60 for a gateway).
    pub terminal_type: u8,
    /// MSD statusDeterminationNumber, 24 random bits from the runtime.
    pub msd_number: u32,
    /// Largest TPKT frame accepted.
    pub max_frame: usize,
}

impl CallLegConfig {
    pub fn new(vendor: VendorIdentifier, msd_number: u32) -> Self {
        CallLegConfig {
            vendor,
            h245_tunnelling: true,
            h245_connection: true,
            answer_timeout: Duration::from_secs(180),
            h245_response_timeout: Duration::from_secs(30),
            terminal_type: 60,
            msd_number: msd_number & 0xFF_FFFF,
            max_frame: 16 * 1024,
        }
    }
}

/// Where the leg is in Q.931 terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// No Setup yet.
    Idle,
    /// Our Setup went out (a call we place); nothing back yet.
    Calling,
    /// Setup received, CallProceeding sent (a call we place:
    /// CallProceeding received).
    Proceeding,
    /// Alerting sent (received).
    Ringing,
    /// Connect sent (received).
    Active,
    /// ReleaseComplete sent or received: close the connection.
    Released,
}

impl CallState {
    /// Q.931 call state value for Status (4.5.7).
    fn q931_value(self, outgoing: bool) -> u8 {
        match (self, outgoing) {
            (CallState::Idle | CallState::Released, _) => 0,
            (CallState::Calling, _) => 1,
            (CallState::Proceeding, false) => 9,
            (CallState::Proceeding, true) => 3,
            (CallState::Ringing, false) => 7,
            (CallState::Ringing, true) => 4,
            (CallState::Active, _) => 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FastStart {
    /// The Setup had no (usable) proposals.
    None,
    /// Proposals wait for the owner's answer.
    Pending,
    /// Our fastStart element went out.
    Answered,
    /// We told the caller fastConnectRefused.
    Refused,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Msd {
    Idle,
    /// Our MSD went out; no decision yet.
    Sent,
    Decided {
        master: bool,
        ack_sent: bool,
    },
}

/// One caller proposal of Fast Start, decoded.
#[derive(Debug, Clone)]
struct Proposal {
    olc: OpenLogicalChannel,
    codec: AudioCodec,
    /// Caller-transmit (forward) or caller-receive (reverse) channel.
    caller_sends: bool,
}

/// Counters for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallLegStats {
    pub frames_in: u64,
    pub h245_in: u64,
    /// Tunnelled H.245 PDUs we could not decode (ignored).
    pub h245_malformed: u64,
    /// Our H.245 PDUs dropped because too many waited (a peer flooding
    /// requests while Fast Start holds our answers back).
    pub h245_dropped: u64,
    /// Our TCS or MSD the peer left unanswered (T101, T106 expired).
    pub h245_timeouts: u64,
}

/// How many of our H.245 PDUs may wait for Fast Start to settle.
const MAX_QUEUED_H245: usize = 128;

pub struct H323CallLeg {
    config: CallLegConfig,
    framer: TpktFramer,
    state: CallState,
    crv: u16,
    call_identifier: Option<CallIdentifier>,
    conference_id: [u8; 16],
    caller_aliases: Vec<AliasAddress>,
    calling_number: Option<String>,
    endpoint_identifier: Option<String>,
    target: Option<String>,
    proposals: Vec<Proposal>,
    fast_start: FastStart,
    tunnelling: bool,
    /// H.245 on its own TCP connection, when not tunnelled.
    link: h245_link::H245Link,
    h245_queue: Vec<Vec<u8>>,
    /// Our endSessionCommand went out (or is queued).
    end_session_sent: bool,
    tcs_sequence: u8,
    /// Our TCS was queued and waits for its ack.
    tcs_pending: bool,
    tcs_acked: bool,
    /// The latest time a caller handed the leg: H.245 timers start when
    /// our PDUs leave, which happens inside calls that carry no `now`.
    clock: Option<Instant>,
    /// T101: our TCS unacknowledged.
    tcs_deadline: Option<Instant>,
    /// T106: our MSD unanswered.
    msd_deadline: Option<Instant>,
    /// T103: our slow-start audio channel unanswered.
    olc_deadline: Option<Instant>,
    /// T103: our slow-start video channel unanswered.
    video_olc_deadline: Option<Instant>,
    remote_tcs: Option<TerminalCapabilitySet>,
    paused: bool,
    msd: Msd,
    local_media: Option<(SocketAddr, SocketAddr)>,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<LegEvent>,
    answer_deadline: Option<Instant>,
    stats: CallLegStats,
    /// We placed the call (our Setup): the call reference is ours.
    outgoing: bool,
    /// A call we place: the peer's first answer settled tunnelling.
    peer_tunnelling_known: bool,
    /// A call we place: the peer's media already went to the owner.
    answer_reported: bool,
    /// A call we place answered without Fast Start: our channel opened
    /// over H.245 instead (lcn, codec, packet ms) once the peer's
    /// capabilities are known; None before or without slow start.
    slow_start: Option<slow_start::SlowStart>,
    /// An incoming call answered without Fast Start: the codecs of the
    /// owner's answer, in its order, for our channel towards the caller.
    answer_codecs: Vec<AudioCodec>,
    /// Milliseconds per packet of that answer.
    answer_ptime: u16,
    /// The caller's audio channel opened over H.245 before we were
    /// answered: acknowledged once the owner gives us our address.
    pending_peer_olc: Option<OpenLogicalChannel>,
    /// The codec the peer sends us on its H.245 audio channel: ours
    /// follows it when we may choose, so the leg has one codec both ways.
    peer_audio: Option<AudioCodec>,
    video: video::VideoState,
    /// A call we place: what it was placed with, to place it again where
    /// a callee redirects it.
    outgoing_call: Option<Box<OutgoingCall>>,
    /// Redirects this call may still follow.
    redirects_left: u8,
    /// A redirect for the owner to follow (`take_redirect`).
    redirect: Option<redirect::Redirect>,
}

const OUR_LCN: u16 = 1;
const AUDIO_SESSION: u8 = 1;

fn codec_of(cap: &AudioCapability) -> Option<AudioCodec> {
    match cap {
        AudioCapability::Framed(FramedAudio::G711Ulaw64k, _) => Some(AudioCodec::Pcmu),
        AudioCapability::Framed(FramedAudio::G711Alaw64k, _) => Some(AudioCodec::Pcma),
        AudioCapability::Framed(FramedAudio::G722_64k, _) => Some(AudioCodec::G722),
        _ => None,
    }
}

fn framed_of(codec: AudioCodec) -> Option<FramedAudio> {
    match codec {
        AudioCodec::Pcmu => Some(FramedAudio::G711Ulaw64k),
        AudioCodec::Pcma => Some(FramedAudio::G711Alaw64k),
        AudioCodec::G722 => Some(FramedAudio::G722_64k),
        AudioCodec::Opus => None,
    }
}

fn codec_cap(codec: AudioCodec) -> CodecCap {
    let (name, rate) = codec.rtpmap().split_once('/').unwrap_or(("PCMU", "8000"));
    CodecCap {
        payload_type: codec.static_payload_type().unwrap_or(0),
        name: name.into(),
        clock_rate: rate.parse().unwrap_or(8000),
        channels: 1,
        fmtp: None,
    }
}

fn unicast(a: &Option<H245Address>) -> Option<SocketAddr> {
    match a {
        Some(H245Address::Unicast(s)) => Some(*s),
        _ => None,
    }
}

/// Milliseconds per packet of a framed G.711/G.722 capability.
fn packet_ms(cap: &AudioCapability) -> Option<u32> {
    match cap {
        AudioCapability::Framed(_, n) => Some((*n as u32).min(20)),
        _ => None,
    }
}

fn alias_text(a: &AliasAddress) -> Option<String> {
    match a {
        AliasAddress::DialedDigits(s)
        | AliasAddress::H323Id(s)
        | AliasAddress::UrlId(s)
        | AliasAddress::EmailId(s) => Some(s.clone()),
        _ => None,
    }
}

/// Release reasons that need data we do not have cannot be encoded as a
/// bare alternative.
fn encodable_reason(r: H225ReleaseReason) -> H225ReleaseReason {
    match r {
        H225ReleaseReason::NonStandardReason
        | H225ReleaseReason::ReplaceWithConferenceInvite
        | H225ReleaseReason::SecurityError => H225ReleaseReason::UndefinedReason,
        r => r,
    }
}

impl H323CallLeg {
    /// A leg for an accepted TCP connection on the call-signalling port.
    pub fn new_incoming(config: CallLegConfig) -> Self {
        let max_frame = config.max_frame;
        H323CallLeg {
            framer: TpktFramer::new(config.max_frame),
            config,
            state: CallState::Idle,
            crv: 0,
            call_identifier: None,
            conference_id: [0; 16],
            caller_aliases: Vec::new(),
            calling_number: None,
            endpoint_identifier: None,
            target: None,
            proposals: Vec::new(),
            fast_start: FastStart::None,
            tunnelling: false,
            link: h245_link::H245Link::new(max_frame),
            h245_queue: Vec::new(),
            end_session_sent: false,
            tcs_sequence: 1,
            tcs_pending: false,
            tcs_acked: false,
            clock: None,
            tcs_deadline: None,
            msd_deadline: None,
            olc_deadline: None,
            video_olc_deadline: None,
            remote_tcs: None,
            paused: false,
            msd: Msd::Idle,
            local_media: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            answer_deadline: None,
            stats: CallLegStats::default(),
            outgoing: false,
            peer_tunnelling_known: false,
            answer_reported: false,
            slow_start: None,
            answer_codecs: Vec::new(),
            answer_ptime: 20,
            pending_peer_olc: None,
            peer_audio: None,
            video: video::VideoState::new(),
            outgoing_call: None,
            redirects_left: H323CallLeg::redirects_default(),
            redirect: None,
        }
    }

    pub fn state(&self) -> CallState {
        self.state
    }

    /// The connection can be closed once `poll_transmit` is drained.
    pub fn is_released(&self) -> bool {
        self.state == CallState::Released
    }

    pub fn stats(&self) -> CallLegStats {
        self.stats
    }

    pub fn call_identifier(&self) -> Option<CallIdentifier> {
        self.call_identifier
    }

    pub fn conference_id(&self) -> [u8; 16] {
        self.conference_id
    }

    /// sourceAddress of the Setup (who calls, as the caller names itself).
    pub fn caller_aliases(&self) -> &[AliasAddress] {
        &self.caller_aliases
    }

    /// Calling party number IE of the Setup.
    pub fn calling_number(&self) -> Option<&str> {
        self.calling_number.as_deref()
    }

    /// The endpointIdentifier the caller got from our gatekeeper, if it
    /// put it in the Setup (to tie the call to its registration).
    pub fn endpoint_identifier(&self) -> Option<&str> {
        self.endpoint_identifier.as_deref()
    }

    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// Master/slave determination result: Some(true) when we are master.
    pub fn is_master(&self) -> Option<bool> {
        match self.msd {
            Msd::Decided { master, .. } => Some(master),
            _ => None,
        }
    }

    /// Both capability sets were acknowledged.
    pub fn capabilities_exchanged(&self) -> bool {
        self.tcs_acked && self.remote_tcs.is_some()
    }

    /// The peer's last TerminalCapabilitySet.
    pub fn remote_capabilities(&self) -> Option<&TerminalCapabilitySet> {
        self.remote_tcs.as_ref()
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<LegEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == CallState::Released {
            return None;
        }
        [
            self.answer_deadline,
            self.tcs_deadline,
            self.msd_deadline,
            self.olc_deadline,
            self.video_olc_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.clock = Some(now);
        if let Some(d) = self.answer_deadline {
            if now >= d && matches!(self.state, CallState::Proceeding | CallState::Ringing) {
                let cause = Cause::new(Q850::NO_ANSWER);
                self.release(&cause);
                self.events.push_back(LegEvent::Ended(cause));
                return;
            }
        }
        self.h245_timeouts(now);
        self.flush_h245();
    }

    /// Bytes read from the TCP connection (any split).
    pub fn handle_bytes(&mut self, now: Instant, data: &[u8]) {
        if self.state == CallState::Released {
            return;
        }
        self.clock = Some(now);
        self.framer.push(data);
        loop {
            match self.framer.next_frame() {
                Ok(Some(frame)) => {
                    self.stats.frames_in += 1;
                    if !frame.is_empty() {
                        self.handle_frame(now, &frame);
                    }
                    if self.state == CallState::Released {
                        return;
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    // A byte stream out of step cannot be resynchronised.
                    self.fail(Q850::PROTOCOL_ERROR, "TPKT framing");
                    return;
                }
            }
        }
        self.flush_h245();
    }

    /// A command from the call's owner.
    pub fn handle_command(&mut self, now: Instant, cmd: LegCommand) {
        if matches!(self.state, CallState::Released | CallState::Idle) {
            return;
        }
        self.clock = Some(now);
        match cmd {
            // The callee of a call we place is the one answering.
            LegCommand::Progress { .. } | LegCommand::Answer(_) if self.outgoing => {}
            LegCommand::Progress { early_media } => self.progress(early_media.as_ref()),
            LegCommand::Answer(caps) => self.answer(&caps),
            LegCommand::Offer(_)
            | LegCommand::RefuseOffer(_)
            | LegCommand::Message(_)
            | LegCommand::MessageAnswered { .. } => {
                // Mid-call media changes need H.245 logical channel
                // re-opening, not done yet; the current channels stay.
            }
            LegCommand::Dtmf { digit, duration_ms } => self.send_dtmf(digit, duration_ms),
            LegCommand::KeyframeRequest => self.request_keyframe(),
            LegCommand::End(cause) => self.release(&cause),
        }
        self.flush_h245();
    }

    // ------------------------------------------------------------ input

    fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        let msg = match Message::parse(frame) {
            Ok(m) => m,
            Err(_) => return self.fail(Q850::INVALID_MESSAGE, "Q.931"),
        };
        if self.state == CallState::Idle {
            // a refusal, even of an undecodable UU-PDU, answers on the
            // caller's call reference
            self.crv = msg.call_reference;
        }
        let uu = match msg.user_user() {
            Some(b) => match H323UserInformation::decode(b) {
                Ok(u) => Some(u),
                Err(_) => return self.fail(Q850::INVALID_MESSAGE, "H.323-UU-PDU"),
            },
            None => None,
        };
        if self.state == CallState::Idle {
            return match (msg.message_type, uu) {
                (MessageType::Setup, Some(u)) => self.on_setup(now, &msg, u),
                _ => self.fail(Q850::INVALID_MESSAGE, "first message is not a Setup"),
            };
        }
        if msg.call_reference != self.crv {
            // another call on the same connection: we do not multiplex
            // (multipleCalls FALSE), so release just that one
            let mut rc = Message::new(
                MessageType::ReleaseComplete,
                msg.call_reference,
                !msg.from_destination,
            );
            rc.ies.push(cause_ie(Q850::INVALID_MESSAGE.value()));
            if let Some(f) = rc.build().ok().and_then(|b| tpkt::encode(&b).ok()) {
                self.transmit.push_back(f);
            }
            return;
        }
        if let Some(u) = &uu {
            if self.outgoing && !self.peer_tunnelling_known {
                // H.225.0 10.4.2: a callee that does not tunnel says so in
                // its first answer; we have no separate H.245 channel
                self.peer_tunnelling_known = true;
                self.tunnelling &= u.pdu.h245_tunnelling;
            }
            self.on_peer_h245_address(&u.pdu.body);
            if let Some(pdus) = &u.pdu.h245_control {
                if self.tunnelling {
                    for p in pdus.clone() {
                        self.on_h245(&p);
                        if self.state == CallState::Released {
                            return;
                        }
                    }
                }
            }
        }
        match msg.message_type {
            MessageType::ReleaseComplete => {
                let reason = uu.as_ref().and_then(|u| match &u.pdu.body {
                    UuBody::ReleaseComplete(r) => r.reason.as_ref().and_then(|r| r.reason()),
                    _ => None,
                });
                let cause = match (msg.cause(), reason) {
                    // the Q.850 value is the precise one when both are sent
                    (Some(v), _) => Cause::new(Q850::from_wire(v)),
                    (None, Some(r)) => Cause::from_h225(r),
                    (None, None) => Cause::normal_clearing(),
                };
                self.state = CallState::Released;
                self.link_abandon();
                self.events.push_back(LegEvent::Ended(cause));
            }
            MessageType::StatusEnquiry => {
                let ies = vec![
                    cause_ie(30),
                    Ie::Other {
                        id: 0x14,
                        data: vec![self.state.q931_value(self.outgoing)],
                    },
                ];
                let body = UuBody::Status(CallIdUuie {
                    protocol_identifier: H225_PROTOCOL_V4.to_vec(),
                    call_identifier: self
                        .call_identifier
                        .unwrap_or(CallIdentifier { guid: [0; 16] }),
                });
                self.send(MessageType::Status, body, ies);
            }
            MessageType::Status => {
                let null_state = msg.ies.iter().any(|ie| {
                    matches!(ie, Ie::Other { id: 0x14, data } if data.first().map(|s| s & 0x3F) == Some(0))
                });
                if null_state {
                    // the peer has no call: ours is gone too
                    let cause = Cause::new(
                        msg.cause()
                            .map(Q850::from_wire)
                            .unwrap_or(Q850::NORMAL_UNSPECIFIED),
                    );
                    self.state = CallState::Released;
                    self.link_abandon();
                    self.events.push_back(LegEvent::Ended(cause));
                }
            }
            MessageType::Setup => {} // a repeated Setup changes nothing
            MessageType::CallProceeding
            | MessageType::Alerting
            | MessageType::Progress
            | MessageType::Connect
            | MessageType::Facility
                if self.outgoing =>
            {
                if let Some(u) = uu {
                    self.on_answer_message(msg.message_type, u);
                }
            }
            MessageType::Other(_) => {
                let ies = vec![
                    cause_ie(97),
                    Ie::Other {
                        id: 0x14,
                        data: vec![self.state.q931_value(self.outgoing)],
                    },
                ];
                let body = UuBody::Status(CallIdUuie {
                    protocol_identifier: H225_PROTOCOL_V4.to_vec(),
                    call_identifier: self
                        .call_identifier
                        .unwrap_or(CallIdentifier { guid: [0; 16] }),
                });
                self.send(MessageType::Status, body, ies);
            }
            // Facility, Information, Notify, Progress...: only their
            // tunnelled H.245 matters to an answering gateway.
            _ => {}
        }
    }

    fn on_setup(&mut self, now: Instant, msg: &Message, u: H323UserInformation) {
        let UuBody::Setup(setup) = &u.pdu.body else {
            return self.fail(Q850::INVALID_MESSAGE, "Setup without Setup-UUIE");
        };
        self.crv = msg.call_reference;
        self.call_identifier = setup.call_identifier;
        self.conference_id = setup.conference_id;
        self.caller_aliases = setup.source_address.clone().unwrap_or_default();
        self.endpoint_identifier = setup.endpoint_identifier.clone();
        let mut called_number = None;
        for ie in &msg.ies {
            match ie {
                Ie::CallingPartyNumber(p) => self.calling_number = Some(p.digits.clone()),
                Ie::CalledPartyNumber(p) => called_number = Some(p.digits.clone()),
                _ => {}
            }
        }
        let dest = setup.destination_address.clone().unwrap_or_default();
        let target = dest
            .iter()
            .find_map(|a| match a {
                AliasAddress::DialedDigits(d) => Some(d.clone()),
                _ => None,
            })
            .or(called_number.filter(|n| !n.is_empty()))
            .or_else(|| dest.iter().find_map(alias_text));
        self.tunnelling = self.config.h245_tunnelling && u.pdu.h245_tunnelling;
        let Some(target) = target else {
            return self.fail(Q850::INVALID_NUMBER_FORMAT, "Setup names no destination");
        };
        self.target = Some(target.clone());
        self.state = CallState::Proceeding;
        self.answer_deadline = Some(now + self.config.answer_timeout);

        let offer = setup
            .fast_start
            .as_ref()
            .and_then(|fs| self.take_proposals(fs));
        self.fast_start = if offer.is_some() {
            FastStart::Pending
        } else if setup.fast_start.is_some() {
            FastStart::Refused
        } else {
            FastStart::None
        };
        if !self.tunnelling {
            // H.323 8.2.1: connect to the caller's H.245 address, or name
            // ours for it to connect to
            self.on_peer_h245_address(&u.pdu.body);
            self.listen_for_h245();
        }
        if self.h245_available() {
            if let Some(pdus) = u.pdu.h245_control.as_ref().filter(|_| self.tunnelling) {
                for p in pdus.clone() {
                    self.on_h245(&p);
                }
            }
            self.queue_h245(&H245Message::TerminalCapabilitySet(self.our_tcs()));
            self.queue_h245(&H245Message::MasterSlaveDetermination {
                terminal_type: self.config.terminal_type,
                status_determination_number: self.config.msd_number,
            });
            if self.msd == Msd::Idle {
                self.msd = Msd::Sent;
            }
        }
        let refused = self.fast_start == FastStart::Refused;
        let body = UuBody::CallProceeding(self.proceeding_uuie(None, refused));
        self.send(MessageType::CallProceeding, body, Vec::new());
        self.events.push_back(LegEvent::Incoming { target, offer });
    }

    /// Decodes the Fast Start proposals into the neutral offer (audio, and
    /// video when the caller proposed a format the bridge forwards).
    fn take_proposals(&mut self, fast_start: &[Vec<u8>]) -> Option<MediaCaps> {
        let mut codecs: Vec<(AudioCodec, Option<u32>)> = Vec::new();
        let mut rtp = None;
        let mut rtcp = None;
        let (mut sends, mut receives) = (false, false);
        let add = |c: AudioCodec, ms: Option<u32>, codecs: &mut Vec<(AudioCodec, Option<u32>)>| {
            if !codecs.iter().any(|(x, _)| *x == c) {
                codecs.push((c, ms));
            }
        };
        let mut receive_order = Vec::new();
        for bytes in fast_start {
            let Ok(olc) = OpenLogicalChannel::decode_fast_start(bytes) else {
                continue;
            };
            if self.take_video_proposal(&olc) {
                continue;
            }
            match (&olc.forward.data_type, &olc.reverse) {
                (DataType::Audio(cap), None) => {
                    let Some(c) = codec_of(cap) else { continue };
                    let h = olc.forward.h2250.as_ref();
                    if rtcp.is_none() {
                        rtcp = h.and_then(|h| unicast(&h.media_control_channel));
                    }
                    sends = true;
                    add(c, packet_ms(cap), &mut codecs);
                    self.proposals.push(Proposal {
                        olc,
                        codec: c,
                        caller_sends: true,
                    });
                }
                (DataType::NullData, Some(rev)) => {
                    let DataType::Audio(cap) = &rev.data_type else {
                        continue;
                    };
                    let Some(c) = codec_of(cap) else { continue };
                    let h = rev.h2250.as_ref();
                    let Some(media) = h.and_then(|h| unicast(&h.media_channel)) else {
                        continue;
                    };
                    rtp.get_or_insert(media);
                    if let Some(ctl) = h.and_then(|h| unicast(&h.media_control_channel)) {
                        rtcp.get_or_insert(ctl);
                    }
                    receives = true;
                    receive_order.push((c, packet_ms(cap)));
                    self.proposals.push(Proposal {
                        olc,
                        codec: c,
                        caller_sends: false,
                    });
                }
                _ => {}
            }
        }
        // What the caller can receive is what the bridge will send it, so
        // its receive proposals lead the preference order.
        let mut ordered = Vec::new();
        for (c, ms) in receive_order.into_iter().chain(codecs) {
            add(c, ms, &mut ordered);
        }
        if ordered.is_empty() {
            self.proposals.clear();
            self.video.proposals.clear();
            return None;
        }
        let direction = match (sends, receives) {
            (true, true) => MediaDirection::SendRecv,
            (true, false) => MediaDirection::SendOnly,
            _ => MediaDirection::RecvOnly,
        };
        let audio = StreamCaps {
            kind: MediaKind::Audio,
            rtp,
            rtcp,
            rtcp_mux: false,
            transport: MediaTransport::Rtp,
            direction,
            ptime_ms: ordered.iter().find_map(|(_, ms)| *ms),
            codecs: ordered.into_iter().map(|(c, _)| codec_cap(c)).collect(),
            bandwidth_kbps: None,
        };
        Some(MediaCaps {
            streams: std::iter::once(audio).chain(self.video_offer()).collect(),
        })
    }

    // --------------------------------------------------------- commands

    fn local_audio(
        caps: &MediaCaps,
    ) -> Option<(SocketAddr, SocketAddr, AudioCodec, MediaDirection)> {
        let (_, s) = caps.first(MediaKind::Audio)?;
        let rtp = s.rtp?;
        let rtcp = s
            .rtcp
            .unwrap_or_else(|| SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1)));
        let codec = s
            .codecs
            .iter()
            .filter_map(|c| c.audio_codec())
            .find(|c| framed_of(*c).is_some())?;
        Some((rtp, rtcp, codec, s.direction))
    }

    /// Our fastStart element for this answer; None refuses Fast Start.
    fn fast_start_answer(&mut self, caps: &MediaCaps) -> Option<Vec<Vec<u8>>> {
        let (rtp, rtcp, codec, dir) = Self::local_audio(caps)?;
        self.local_media = Some((rtp, rtcp));
        let mut out = Vec::new();
        // the caller's transmit channel: we receive it at `rtp`
        if dir.receives() {
            if let Some(p) = self
                .proposals
                .iter()
                .find(|p| p.caller_sends && p.codec == codec)
            {
                let mut olc = p.olc.clone();
                if let Some(h) = olc.forward.h2250.as_mut() {
                    h.media_channel = Some(H245Address::Unicast(rtp));
                    h.media_control_channel = Some(H245Address::Unicast(rtcp));
                }
                out.push(olc);
            }
        }
        // the caller's receive channel: we transmit on it, under a channel
        // number of ours
        if dir.sends() {
            if let Some(p) = self
                .proposals
                .iter()
                .find(|p| !p.caller_sends && p.codec == codec)
            {
                let mut olc = p.olc.clone();
                olc.forward_logical_channel_number = OUR_LCN;
                if let Some(h) = olc.reverse.as_mut().and_then(|r| r.h2250.as_mut()) {
                    h.media_control_channel = Some(H245Address::Unicast(rtcp));
                }
                out.push(olc);
            }
        }
        if out.is_empty() {
            return None;
        }
        out.extend(self.video_answer(caps));
        out.iter().map(|o| o.encode_fast_start().ok()).collect()
    }

    /// Settles Fast Start for a message that is about to go out.
    fn settle_fast_start(&mut self, caps: Option<&MediaCaps>) -> (Option<Vec<Vec<u8>>>, bool) {
        if self.fast_start != FastStart::Pending {
            return (None, false);
        }
        let Some(caps) = caps else {
            return (None, false);
        };
        match self.fast_start_answer(caps) {
            Some(fs) => {
                self.fast_start = FastStart::Answered;
                (Some(fs), false)
            }
            None => {
                self.fast_start = FastStart::Refused;
                (None, true)
            }
        }
    }

    fn progress(&mut self, early: Option<&MediaCaps>) {
        match self.state {
            CallState::Proceeding => {
                let (fs, refused) = self.settle_fast_start(early);
                let mut body = self.proceeding_uuie(fs, refused);
                body.call_identifier = self.call_identifier;
                self.state = CallState::Ringing;
                self.send(
                    MessageType::Alerting,
                    UuBody::Alerting(body),
                    vec![progress_ie(8)],
                );
            }
            CallState::Ringing if early.is_some() && self.fast_start == FastStart::Pending => {
                let (fs, refused) = self.settle_fast_start(early);
                let p = self.proceeding_uuie(fs, refused);
                let body = UuBody::Progress(ProgressUuie {
                    protocol_identifier: p.protocol_identifier,
                    destination_info: p.destination_info,
                    h245_address: p.h245_address,
                    call_identifier: self
                        .call_identifier
                        .unwrap_or(CallIdentifier { guid: [0; 16] }),
                    fast_start: p.fast_start,
                    multiple_calls: false,
                    maintain_connection: false,
                    fast_connect_refused: p.fast_connect_refused,
                });
                self.send(MessageType::Progress, body, vec![progress_ie(8)]);
            }
            _ => {}
        }
    }

    fn answer(&mut self, caps: &MediaCaps) {
        if !matches!(self.state, CallState::Proceeding | CallState::Ringing) {
            return;
        }
        if self.local_media.is_none() {
            if let Some((rtp, rtcp, _, _)) = Self::local_audio(caps) {
                self.local_media = Some((rtp, rtcp));
            }
        }
        self.note_local_video(caps);
        let (fs, refused) = self.settle_fast_start(Some(caps));
        if refused && !self.h245_available() {
            // neither Fast Start nor H.245 to fall back on: no media at all
            let cause = Cause::new(Q850::BEARER_CAPABILITY_NOT_AVAILABLE);
            self.release(&cause);
            self.events.push_back(LegEvent::Ended(cause));
            return;
        }
        if self.fast_start != FastStart::Answered && self.h245_available() {
            // slow start: our channel and the ack of the caller's ride on
            // the Connect (or follow it once the H.245 connection is up)
            self.slow_start_answer(caps);
            if self.state == CallState::Released {
                return;
            }
        }
        let body = UuBody::Connect(ConnectUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            h245_address: self.link.advertised(),
            destination_info: self.destination_info(),
            conference_id: self.conference_id,
            call_identifier: self.call_identifier,
            fast_start: fs,
            multiple_calls: false,
            maintain_connection: false,
            fast_connect_refused: refused,
        });
        self.state = CallState::Active;
        self.answer_deadline = None;
        self.send(MessageType::Connect, body, Vec::new());
    }

    fn release(&mut self, cause: &Cause) {
        if matches!(self.state, CallState::Released) {
            return;
        }
        if self.state == CallState::Idle {
            self.state = CallState::Released;
            return;
        }
        let body = UuBody::ReleaseComplete(ReleaseCompleteUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            reason: Some(ReleaseCompleteReason::Reason(encodable_reason(
                cause.to_h225(),
            ))),
            call_identifier: self.call_identifier,
        });
        // H.245 may ride on the release even while Fast Start was pending:
        // the call is over either way.
        if self.fast_start == FastStart::Pending {
            self.fast_start = FastStart::Refused;
        }
        self.link_release();
        self.send(
            MessageType::ReleaseComplete,
            body,
            vec![cause_ie(cause.q850().value())],
        );
        self.state = CallState::Released;
        self.answer_deadline = None;
    }

    /// A peer's protocol error: release with the cause, tell the owner.
    fn fail(&mut self, q850: Q850, what: &str) {
        let cause = Cause::new(q850).with_text(what);
        if self.state == CallState::Idle {
            // no call reference of ours yet: answer on the one we got, if any
            self.state = CallState::Proceeding;
        }
        self.release(&cause);
        self.events.push_back(LegEvent::Ended(cause));
    }

    // ------------------------------------------------------------ output

    fn destination_info(&self) -> EndpointType {
        EndpointType {
            vendor: Some(self.config.vendor.clone()),
            gateway: Some(GatewayInfo { protocol: None }),
            ..Default::default()
        }
    }

    fn proceeding_uuie(&self, fast_start: Option<Vec<Vec<u8>>>, refused: bool) -> ProceedingUuie {
        ProceedingUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            destination_info: self.destination_info(),
            h245_address: self.link.advertised(),
            call_identifier: self.call_identifier,
            fast_start,
            multiple_calls: false,
            maintain_connection: false,
            fast_connect_refused: refused,
        }
    }

    fn send(&mut self, mt: MessageType, body: UuBody, mut ies: Vec<Ie>) {
        let mut ui = H323UserInformation::new(body);
        ui.pdu.h245_tunnelling = self.tunnelling;
        if self.tunnelling && self.h245_may_flush() && !self.h245_queue.is_empty() {
            ui.pdu.h245_control = Some(std::mem::take(&mut self.h245_queue));
        }
        let Ok(data) = ui.encode() else {
            debug_assert!(false, "cannot encode our {}", ui.pdu.body.name());
            return;
        };
        // the call reference flag marks the side that did not allocate it
        let mut msg = Message::new(mt, self.crv, !self.outgoing);
        ies.push(Ie::UserUser {
            protocol_discriminator: UU_PROTOCOL_X208,
            data,
        });
        msg.ies = ies;
        match msg.build().ok().and_then(|b| tpkt::encode(&b).ok()) {
            Some(frame) => self.transmit.push_back(frame),
            None => debug_assert!(false, "cannot frame our {mt:?}"),
        }
    }
}

fn cause_ie(value: u8) -> Ie {
    Ie::Cause {
        coding_standard: 0,
        // private network serving the local user
        location: 1,
        value,
        diagnostics: Vec::new(),
    }
}

fn progress_ie(description: u8) -> Ie {
    Ie::ProgressIndicator {
        coding_standard: 0,
        location: 1,
        description,
    }
}

//! Calls the gateway places to an H.323 endpoint: our Setup carries Fast
//! Start proposals built from the owner's offer, the callee's answers map
//! to neutral events.
//!
//! H.323 8.1.7.1: the caller proposes, per codec, one channel it transmits
//! on (the callee fills in where it receives) and one it receives on (with
//! our RTP address); the callee accepts at most one of each by returning
//! them in the first message that carries `fastStart`. That message may be
//! CallProceeding, Alerting, Progress or Facility (early media) or Connect.

use std::net::{IpAddr, SocketAddr};

use gateway_callmodel::{
    AudioCodec, Cause, Direction as MediaDirection, LegEvent, MediaCaps, MediaKind, MediaTransport,
    StreamCaps, Q850,
};

use super::slow_start;
use super::*;
use crate::h245::{
    ForwardLogicalChannelParameters, H2250LogicalChannelParameters, ReverseLogicalChannelParameters,
};
use crate::q931::{BearerCapability, PartyNumber};

/// What the owner knows of the call it places.
#[derive(Debug, Clone)]
pub struct OutgoingCall {
    /// Calling party number IE and our sourceAddress.
    pub calling_number: String,
    /// destinationAddress of the Setup: the aliases the callee registered.
    pub called_aliases: Vec<AliasAddress>,
    /// Called party number IE (the callee's number), if it has one.
    pub called_number: Option<String>,
    /// destCallSignalAddress: where the connection goes.
    pub destination: Option<SocketAddr>,
    /// sourceCallSignalAddress: our call-signalling address.
    pub source: Option<SocketAddr>,
    pub conference_id: [u8; 16],
    pub call_identifier: [u8; 16],
    /// Our call reference value (15 bits; 0 is the global call reference
    /// and is replaced by 1).
    pub call_reference: u16,
    /// Our media: the first audio stream's G.711/G.722 codecs become the
    /// proposals, in its order, with its RTP/RTCP addresses.
    pub offer: MediaCaps,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutgoingError {
    #[error("the offer has no G.711 or G.722 audio with an RTP address to propose")]
    NoFastStartAudio,
    #[error("our Setup could not be encoded")]
    Encode,
    #[error("only a call we placed can be placed again")]
    NotOutgoing,
}

fn transport_address(a: SocketAddr) -> Option<TransportAddress> {
    match a.ip() {
        IpAddr::V4(ip) => Some(TransportAddress::ip(ip.octets(), a.port())),
        // TransportAddress ip6Address is not modelled; the field is optional
        IpAddr::V6(_) => None,
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.chars().all(|c| "0123456789*#,".contains(c))
}

/// The peer's side of the accepted channels.
#[derive(Debug, Default)]
struct Accepted {
    /// Our transmit channel: the codec and where the peer receives it.
    send: Option<(AudioCodec, Option<u32>, Option<SocketAddr>)>,
    /// Our receive channel: the codec the peer sends.
    receive: Option<(AudioCodec, Option<u32>)>,
    rtcp: Option<SocketAddr>,
}

impl H323CallLeg {
    /// A leg for a call we place: the Setup (with Fast Start proposals from
    /// `call.offer`) is ready in [`H323CallLeg::poll_transmit`] at once, to
    /// be written when the TCP connection to the callee is up. The owner's
    /// own ring timer bounds how long it may stay unanswered.
    pub fn new_outgoing(config: CallLegConfig, call: OutgoingCall) -> Result<Self, OutgoingError> {
        let mut leg = H323CallLeg::new_incoming(config);
        leg.outgoing = true;
        leg.crv = match call.call_reference & 0x7FFF {
            0 => 1,
            v => v,
        };
        leg.call_identifier = Some(CallIdentifier {
            guid: call.call_identifier,
        });
        leg.conference_id = call.conference_id;
        leg.calling_number = Some(call.calling_number.clone());
        leg.target = call
            .called_number
            .clone()
            .or_else(|| call.called_aliases.iter().find_map(alias_text));
        leg.tunnelling = leg.config.h245_tunnelling;
        leg.outgoing_call = Some(Box::new(call.clone()));
        let fast_start = leg.propose(&call.offer)?;
        leg.fast_start = FastStart::Pending;

        let source_alias = if is_digits(&call.calling_number) {
            AliasAddress::DialedDigits(call.calling_number.clone())
        } else {
            AliasAddress::H323Id(call.calling_number.chars().take(256).collect())
        };
        let body = UuBody::Setup(SetupUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            h245_address: None,
            source_address: Some(vec![source_alias]),
            source_info: leg.destination_info(),
            destination_address: (!call.called_aliases.is_empty())
                .then(|| call.called_aliases.clone()),
            dest_call_signal_address: call.destination.and_then(transport_address),
            dest_extra_call_info: None,
            active_mc: false,
            conference_id: call.conference_id,
            conference_goal: ConferenceGoal::Create,
            call_type: CallType::PointToPoint,
            source_call_signal_address: call.source.and_then(transport_address),
            call_identifier: leg.call_identifier,
            fast_start: Some(fast_start),
            media_wait_for_connect: false,
            can_overlap_send: false,
            endpoint_identifier: None,
            multiple_calls: false,
            maintain_connection: false,
        });
        let mut ies = vec![Ie::BearerCapability(BearerCapability::speech_alaw())];
        if is_digits(&call.calling_number) {
            ies.push(Ie::CallingPartyNumber(PartyNumber {
                type_of_number: 0,
                numbering_plan: 1,
                presentation: Some((0, 0)),
                digits: call.calling_number.clone(),
            }));
        }
        if let Some(n) = call.called_number.as_deref().filter(|n| is_digits(n)) {
            ies.push(Ie::CalledPartyNumber(PartyNumber {
                type_of_number: 0,
                numbering_plan: 1,
                presentation: None,
                digits: n.to_string(),
            }));
        }
        leg.state = CallState::Calling;
        leg.send(MessageType::Setup, body, ies);
        if leg.transmit.is_empty() {
            return Err(OutgoingError::Encode);
        }
        Ok(leg)
    }

    /// Whether we placed this call.
    pub fn is_outgoing(&self) -> bool {
        self.outgoing
    }

    /// Our Fast Start proposals: per codec of the offer, the channel we
    /// transmit on and the one we receive on.
    fn propose(&mut self, offer: &MediaCaps) -> Result<Vec<Vec<u8>>, OutgoingError> {
        let Some((_, s)) = offer.first(MediaKind::Audio) else {
            return Err(OutgoingError::NoFastStartAudio);
        };
        let Some(rtp) = s.rtp else {
            return Err(OutgoingError::NoFastStartAudio);
        };
        let rtcp = s
            .rtcp
            .unwrap_or_else(|| SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1)));
        self.local_media = Some((rtp, rtcp));
        let frames = s.ptime_ms.unwrap_or(20).clamp(10, 60) as u16;
        let mut codecs: Vec<AudioCodec> = Vec::new();
        for c in s.codecs.iter().filter_map(|c| c.audio_codec()) {
            if framed_of(c).is_some() && !codecs.contains(&c) {
                codecs.push(c);
            }
        }
        if codecs.is_empty() {
            return Err(OutgoingError::NoFastStartAudio);
        }
        let mut lcn = 0u16;
        let mut out = Vec::new();
        for codec in codecs {
            let Some(framed) = framed_of(codec) else {
                continue;
            };
            let cap = AudioCapability::Framed(framed, frames);
            if s.direction.sends() {
                lcn += 1;
                let olc = OpenLogicalChannel {
                    forward_logical_channel_number: lcn,
                    forward: ForwardLogicalChannelParameters {
                        port_number: None,
                        data_type: DataType::Audio(cap.clone()),
                        h2250: Some(H2250LogicalChannelParameters {
                            session_id: AUDIO_SESSION,
                            media_control_channel: Some(H245Address::Unicast(rtcp)),
                            silence_suppression: Some(false),
                            ..Default::default()
                        }),
                    },
                    reverse: None,
                };
                out.push(olc.clone());
                self.proposals.push(Proposal {
                    olc,
                    codec,
                    caller_sends: true,
                });
            }
            if s.direction.receives() {
                lcn += 1;
                let olc = OpenLogicalChannel {
                    forward_logical_channel_number: lcn,
                    forward: ForwardLogicalChannelParameters {
                        port_number: None,
                        data_type: DataType::NullData,
                        h2250: None,
                    },
                    reverse: Some(ReverseLogicalChannelParameters {
                        data_type: DataType::Audio(cap),
                        h2250: Some(H2250LogicalChannelParameters {
                            session_id: AUDIO_SESSION,
                            media_channel: Some(H245Address::Unicast(rtp)),
                            media_control_channel: Some(H245Address::Unicast(rtcp)),
                            ..Default::default()
                        }),
                    }),
                };
                out.push(olc.clone());
                self.proposals.push(Proposal {
                    olc,
                    codec,
                    caller_sends: false,
                });
            }
        }
        if out.is_empty() {
            return Err(OutgoingError::NoFastStartAudio);
        }
        out.extend(self.propose_video(offer, &mut lcn));
        out.iter()
            .map(|o| o.encode_fast_start().map_err(|_| OutgoingError::Encode))
            .collect()
    }

    /// A message answering our Setup.
    pub(super) fn on_answer_message(&mut self, mt: MessageType, u: H323UserInformation) {
        if let UuBody::Facility(f) = &u.pdu.body {
            if self.on_redirect_facility(f) {
                return;
            }
        }
        let (fast_start, refused) = match &u.pdu.body {
            UuBody::CallProceeding(p) | UuBody::Alerting(p) => {
                (p.fast_start.as_deref(), p.fast_connect_refused)
            }
            UuBody::Progress(p) => (p.fast_start.as_deref(), p.fast_connect_refused),
            UuBody::Connect(c) => (c.fast_start.as_deref(), c.fast_connect_refused),
            UuBody::Facility(f) => (f.fast_start.as_deref(), false),
            _ => (None, false),
        };
        let mut media = None;
        if self.fast_start == FastStart::Pending {
            if let Some(fs) = fast_start {
                match self.accepted_media(fs) {
                    Some(caps) => {
                        self.fast_start = FastStart::Answered;
                        media = Some(caps);
                    }
                    None => self.fast_start = FastStart::Refused,
                }
            } else if refused {
                self.fast_start = FastStart::Refused;
            }
        }
        match mt {
            MessageType::Connect => {
                if self.state == CallState::Active {
                    return;
                }
                if self.fast_start == FastStart::Pending {
                    // Connect ends the time the callee had to answer them
                    self.fast_start = FastStart::Refused;
                }
                if self.fast_start == FastStart::Refused && !self.answer_reported {
                    if !self.h245_available() && !self.listen_for_h245() {
                        // no H.245 channel to open logical channels on
                        let cause = Cause::new(Q850::BEARER_CAPABILITY_NOT_AVAILABLE)
                            .with_text("The callee answered without Fast Start or H.245");
                        self.release(&cause);
                        self.events.push_back(LegEvent::Ended(cause));
                        return;
                    }
                    // Slow start: the owner hears Answer and Answered once
                    // our channel is acknowledged with the callee's address.
                    self.state = CallState::Active;
                    self.slow_start = Some(slow_start::SlowStart::AwaitingCapabilities);
                    self.queue_our_h245();
                    self.slow_start_open();
                    return;
                }
                self.state = CallState::Active;
                if let Some(caps) = media {
                    self.answer_reported = true;
                    self.events.push_back(LegEvent::Answer(caps));
                }
                self.events.push_back(LegEvent::Answered);
                self.queue_our_h245();
            }
            _ if self.state == CallState::Active => {}
            MessageType::CallProceeding => {
                if self.state == CallState::Calling {
                    self.state = CallState::Proceeding;
                }
                // Proceeding is no ringing: only early media is news.
                if let Some(caps) = media {
                    self.answer_reported = true;
                    self.events.push_back(LegEvent::Progress {
                        early_media: Some(caps),
                    });
                }
            }
            MessageType::Alerting | MessageType::Progress => {
                if mt == MessageType::Alerting || self.state == CallState::Calling {
                    self.state = if mt == MessageType::Alerting {
                        CallState::Ringing
                    } else {
                        CallState::Proceeding
                    };
                }
                self.answer_reported |= media.is_some();
                self.events
                    .push_back(LegEvent::Progress { early_media: media });
            }
            _ => {
                // Facility: its fastStart is early media (call forwarding
                // and routing to a gatekeeper are redirects, see
                // redirect.rs).
                if let Some(caps) = media {
                    self.answer_reported = true;
                    self.events.push_back(LegEvent::Progress {
                        early_media: Some(caps),
                    });
                }
            }
        }
    }

    fn queue_our_h245(&mut self) {
        if !self.h245_available() {
            return;
        }
        self.queue_h245(&H245Message::TerminalCapabilitySet(self.our_tcs()));
        if self.msd == Msd::Idle {
            self.queue_h245(&H245Message::MasterSlaveDetermination {
                terminal_type: self.config.terminal_type,
                status_determination_number: self.config.msd_number,
            });
            self.msd = Msd::Sent;
        }
    }

    /// The callee's accepted channels as its media (the peer's view: where
    /// it receives, what it sends); None if it accepted none we can use.
    fn accepted_media(&mut self, fast_start: &[Vec<u8>]) -> Option<MediaCaps> {
        let mut acc = Accepted::default();
        for bytes in fast_start.iter().take(64) {
            let Ok(olc) = OpenLogicalChannel::decode_fast_start(bytes) else {
                continue;
            };
            match (&olc.forward.data_type, &olc.reverse) {
                (DataType::Audio(cap), None) if acc.send.is_none() => {
                    let Some(c) = codec_of(cap) else { continue };
                    let h = olc.forward.h2250.as_ref();
                    let rtp = h.and_then(|h| unicast(&h.media_channel));
                    if let Some(ctl) = h.and_then(|h| unicast(&h.media_control_channel)) {
                        acc.rtcp = Some(ctl);
                    }
                    acc.send = Some((c, packet_ms(cap), rtp));
                }
                (DataType::NullData, Some(rev)) if acc.receive.is_none() => {
                    let DataType::Audio(cap) = &rev.data_type else {
                        continue;
                    };
                    let Some(c) = codec_of(cap) else { continue };
                    if let Some(ctl) = rev
                        .h2250
                        .as_ref()
                        .and_then(|h| unicast(&h.media_control_channel))
                    {
                        acc.rtcp.get_or_insert(ctl);
                    }
                    acc.receive = Some((c, packet_ms(cap)));
                }
                _ => {}
            }
        }
        // What we transmit is what the peer decodes: that codec names the
        // stream; a receive-only answer names the one the peer sends.
        let (codec, ptime, rtp) = match (acc.send, acc.receive) {
            (Some((c, ms, rtp)), _) => (c, ms, rtp),
            (None, Some((c, ms))) => (c, ms, None),
            (None, None) => return None,
        };
        let direction = match (acc.send.is_some(), acc.receive.is_some()) {
            (true, true) => MediaDirection::SendRecv,
            (true, false) => MediaDirection::RecvOnly,
            _ => MediaDirection::SendOnly,
        };
        let audio = StreamCaps {
            kind: MediaKind::Audio,
            rtp,
            rtcp: acc.rtcp,
            rtcp_mux: false,
            transport: MediaTransport::Rtp,
            direction,
            ptime_ms: ptime,
            codecs: vec![codec_cap(codec)],
            bandwidth_kbps: None,
        };
        Some(MediaCaps {
            streams: std::iter::once(audio)
                .chain(self.accepted_video(fast_start))
                .collect(),
        })
    }
}

//! The H.245 control protocol of a call, whichever way its PDUs travel
//! (tunnelled in H.225.0 messages or on a connection of their own):
//! capability exchange, master/slave determination, logical channels the
//! peer opens, user input, commands, and our own PDUs' queue.

use super::*;

impl H323CallLeg {
    pub(super) fn on_h245(&mut self, pdu: &[u8]) {
        self.stats.h245_in += 1;
        let msg = match H245Message::decode(pdu) {
            Ok(m) => m,
            Err(_) => {
                self.stats.h245_malformed += 1;
                return;
            }
        };
        use H245Message as M;
        match msg {
            M::TerminalCapabilitySet(tcs) => {
                let empty = tcs.capability_table.as_ref().is_none_or(|t| t.is_empty())
                    && tcs
                        .capability_descriptors
                        .as_ref()
                        .is_none_or(|d| d.is_empty());
                self.queue_h245(&M::TerminalCapabilitySetAck(tcs.sequence_number));
                if self.remote_tcs.is_some() && empty != self.paused {
                    // an empty set pauses the media (H.245 8.4.6), the
                    // next full one resumes it
                    self.events.push_back(LegEvent::Hold(empty));
                }
                self.paused = empty;
                self.remote_tcs = Some(tcs);
                self.slow_start_open();
            }
            M::OpenLogicalChannelAck(ack) => self.on_olc_ack(ack),
            M::OpenLogicalChannelReject {
                forward_logical_channel_number,
                ..
            } => self.on_olc_reject(forward_logical_channel_number),
            M::TerminalCapabilitySetAck(seq) if seq == self.tcs_sequence => {
                self.tcs_acked = true;
                self.tcs_pending = false;
                self.tcs_deadline = None;
            }
            M::TerminalCapabilitySetReject {
                sequence_number, ..
            } if sequence_number == self.tcs_sequence => {
                // answered, if not liked: T101 stops (H.245 C.4)
                self.tcs_pending = false;
                self.tcs_deadline = None;
            }
            M::MasterSlaveDetermination {
                terminal_type,
                status_determination_number,
            } => self.on_msd(terminal_type, status_determination_number),
            M::MasterSlaveDeterminationAck(decision) => {
                self.msd_deadline = None;
                let master = decision == MsdDecision::Master;
                let ack_sent = matches!(self.msd, Msd::Decided { ack_sent: true, .. });
                if !ack_sent {
                    // the initiator confirms the responder's decision
                    self.queue_h245(&M::MasterSlaveDeterminationAck(if master {
                        MsdDecision::Slave
                    } else {
                        MsdDecision::Master
                    }));
                }
                self.msd = Msd::Decided {
                    master,
                    ack_sent: true,
                };
            }
            M::MasterSlaveDeterminationReject => {
                // identical numbers: leave MSD undecided; ours is re-sent
                // with the next call, the peer may retry with a new number
                self.msd = Msd::Idle;
                self.msd_deadline = None;
            }
            M::OpenLogicalChannel(olc) => self.on_peer_olc(olc),
            M::CloseLogicalChannel {
                forward_logical_channel_number,
                ..
            } => self.queue_h245(&M::CloseLogicalChannelAck(forward_logical_channel_number)),
            M::RequestChannelClose {
                forward_logical_channel_number,
                ..
            } => self.queue_h245(&M::RequestChannelCloseAck(forward_logical_channel_number)),
            M::RoundTripDelayRequest(n) => self.queue_h245(&M::RoundTripDelayResponse(n)),
            M::UserInput(ui) => self.on_user_input(ui),
            M::MiscellaneousCommand(c) if c.command == MiscCommandType::VideoFastUpdatePicture => {
                self.events.push_back(LegEvent::KeyframeRequest);
            }
            M::FlowControlCommand(f) => {
                if let Some(rate) = f.maximum_bit_rate {
                    // units of 100 bit/s
                    self.events.push_back(LegEvent::Bandwidth(rate / 10));
                }
            }
            M::EndSessionCommand(_) => {
                // Answer the peer's EndSession with ours and release: the
                // peer would send ReleaseComplete next anyway.
                self.queue_h245(&M::EndSessionCommand(EndSessionCommand::Disconnect));
                let cause = Cause::normal_clearing();
                self.release(&cause);
                self.events.push_back(LegEvent::Ended(cause));
            }
            M::Other {
                category: Category::Request,
                ..
            } => {
                // functionNotUnderstood is not modelled: the request goes
                // unanswered and the peer's timer decides.
            }
            _ => {}
        }
    }

    pub(super) fn on_msd(&mut self, remote_type: u8, remote_number: u32) {
        let local_type = self.config.terminal_type;
        let master = if local_type != remote_type {
            Some(local_type > remote_type)
        } else {
            // H.245 C.2: the numbers compared modulo 2^24
            let diff = remote_number.wrapping_sub(self.config.msd_number) & 0xFF_FFFF;
            match diff {
                0 | 0x80_0000 => None,
                d => Some(d < 0x80_0000),
            }
        };
        match master {
            None => self.queue_h245(&H245Message::MasterSlaveDeterminationReject),
            Some(master) => {
                self.queue_h245(&H245Message::MasterSlaveDeterminationAck(if master {
                    MsdDecision::Slave
                } else {
                    MsdDecision::Master
                }));
                self.msd = Msd::Decided {
                    master,
                    ack_sent: true,
                };
                // ours crossed the peer's: decided all the same, so T106
                // has nothing left to wait for
                self.msd_deadline = None;
            }
        }
    }

    pub(super) fn on_peer_olc(&mut self, olc: OpenLogicalChannel) {
        if let Some(reply) = self.on_peer_video_olc(&olc) {
            return self.queue_h245(&reply);
        }
        let lcn = olc.forward_logical_channel_number;
        let codec = match &olc.forward.data_type {
            DataType::Audio(c) => codec_of(c),
            _ => None,
        };
        // A call we answered without Fast Start carries the answer's codecs
        // and no other (one codec both ways per leg is what the bridge and
        // a meeting expect): a channel in another codec is refused, so the
        // room may open one in a codec of the answer instead of sending
        // what nobody decodes.
        let answered_other = !self.outgoing
            && !self.answer_codecs.is_empty()
            && codec.is_some_and(|c| !self.answer_codecs.contains(&c));
        let supported = codec.is_some() && !answered_other;
        let unanswered = !self.outgoing
            && matches!(self.state, CallState::Proceeding | CallState::Ringing)
            && olc.reverse.is_none();
        if supported && self.local_media.is_none() && unanswered {
            // A slow-start caller may open its channel while the call
            // rings; where we receive is only known with the owner's
            // answer. One channel waits: a newer one replaces it.
            self.peer_audio = codec;
            if let Some(old) = self.pending_peer_olc.replace(olc) {
                self.queue_h245(&H245Message::OpenLogicalChannelReject {
                    forward_logical_channel_number: old.forward_logical_channel_number,
                    cause: OlcRejectCause::Unspecified,
                });
            }
            return;
        }
        match (supported, self.local_media) {
            (true, Some((rtp, rtcp))) if olc.reverse.is_none() => {
                self.peer_audio = codec;
                let ack = OpenLogicalChannelAck {
                    forward_logical_channel_number: lcn,
                    reverse: None,
                    h2250_ack: Some(H2250LogicalChannelAckParameters {
                        session_id: Some(AUDIO_SESSION),
                        media_channel: Some(H245Address::Unicast(rtp)),
                        media_control_channel: Some(H245Address::Unicast(rtcp)),
                        dynamic_rtp_payload_type: None,
                        flow_control_to_zero: false,
                    }),
                };
                self.queue_h245(&H245Message::OpenLogicalChannelAck(ack));
            }
            _ => self.queue_h245(&H245Message::OpenLogicalChannelReject {
                forward_logical_channel_number: lcn,
                cause: if supported {
                    OlcRejectCause::Unspecified
                } else {
                    OlcRejectCause::DataTypeNotSupported
                },
            }),
        }
    }

    pub(super) fn on_user_input(&mut self, ui: UserInputIndication) {
        match ui {
            UserInputIndication::Signal {
                signal_type,
                duration,
                ..
            } if signal_type != '!' => {
                self.events.push_back(LegEvent::Dtmf {
                    digit: signal_type,
                    duration_ms: duration.map(u32::from).unwrap_or(100),
                });
            }
            UserInputIndication::Alphanumeric(s) => {
                for c in s
                    .chars()
                    .filter(|c| "0123456789*#ABCD".contains(*c))
                    .take(32)
                {
                    self.events.push_back(LegEvent::Dtmf {
                        digit: c,
                        duration_ms: 100,
                    });
                }
            }
            _ => {}
        }
    }

    /// Our capabilities: the audio the bridge transcodes, the video it
    /// forwards (see `video::tcs_video`), user input. Audio, video and
    /// user input are each one alternative set of the descriptor.
    pub(super) fn our_tcs(&self) -> TerminalCapabilitySet {
        let audio = [
            FramedAudio::G722_64k,
            FramedAudio::G711Alaw64k,
            FramedAudio::G711Ulaw64k,
        ]
        .map(|f| Capability::Audio(CapDirection::Receive, AudioCapability::Framed(f, 20)));
        let video: Vec<Capability> = video::tcs_video(self.video.offered.as_ref())
            .into_iter()
            .map(|v| Capability::Video(CapDirection::Receive, v))
            .collect();
        let input = [
            UserInputCapabilityKind::Dtmf,
            UserInputCapabilityKind::BasicString,
        ]
        .map(|k| Capability::UserInput(CapDirection::ReceiveAndTransmit, k));
        let mut table = Vec::new();
        let mut sets = Vec::new();
        for group in [audio.to_vec(), video, input.to_vec()] {
            if group.is_empty() {
                continue;
            }
            let mut set = Vec::new();
            for c in group {
                let number = table.len() as u16 + 1;
                set.push(number);
                table.push(CapabilityTableEntry {
                    number,
                    capability: Some(c),
                });
            }
            sets.push(set);
        }
        TerminalCapabilitySet {
            sequence_number: self.tcs_sequence,
            protocol_identifier: H245_PROTOCOL_V7.to_vec(),
            multiplex_capability: None,
            capability_table: Some(table),
            capability_descriptors: Some(vec![CapabilityDescriptor {
                number: 0,
                simultaneous_capabilities: Some(sets),
            }]),
        }
    }

    pub(super) fn queue_h245(&mut self, m: &H245Message) {
        if !self.h245_available() {
            return;
        }
        if self.h245_queue.len() >= MAX_QUEUED_H245 {
            self.stats.h245_dropped += 1;
            return;
        }
        if matches!(m, H245Message::EndSessionCommand(_)) {
            self.end_session_sent = true;
        }
        if matches!(m, H245Message::TerminalCapabilitySet(_)) {
            self.tcs_pending = true;
        }
        match m.encode() {
            Ok(b) => self.h245_queue.push(b),
            Err(_) => debug_assert!(false, "cannot encode our {}", m.name()),
        }
    }

    /// H.245 may go out once Fast Start is settled, on whichever way.
    pub(super) fn h245_may_flush(&self) -> bool {
        self.fast_start != FastStart::Pending
    }

    /// Sends queued H.245 on the connection when it is up, else in a
    /// Facility when no other message carried it.
    pub(super) fn flush_h245(&mut self) {
        self.flush_h245_queue();
        self.arm_h245_timers();
    }

    /// T101 and T106 run from when our TCS and MSD have left the queue
    /// (Fast Start may hold them back for as long as the call rings).
    fn arm_h245_timers(&mut self) {
        let Some(now) = self.clock else { return };
        if !self.h245_queue.is_empty()
            || matches!(self.state, CallState::Idle | CallState::Released)
        {
            return;
        }
        let t = self.config.h245_response_timeout;
        if self.tcs_pending && !self.tcs_acked && self.tcs_deadline.is_none() {
            self.tcs_deadline = Some(now + t);
        }
        if self.msd == Msd::Sent && self.msd_deadline.is_none() {
            self.msd_deadline = Some(now + t);
        }
        if self.slow_start_opened() && self.olc_deadline.is_none() {
            self.olc_deadline = Some(now + t);
        }
        if self.slow_video_opened() && self.video_olc_deadline.is_none() {
            self.video_olc_deadline = Some(now + t);
        }
    }

    /// H.245 C.4.4.2 and C.2.4.2: an unanswered TCS or MSD is released
    /// (TerminalCapabilitySetRelease, MasterSlaveDeterminationRelease);
    /// the call goes on with what Fast Start or the peer's own set gave it.
    pub(super) fn h245_timeouts(&mut self, now: Instant) {
        if self.tcs_deadline.is_some_and(|d| d <= now) {
            self.tcs_deadline = None;
            if self.tcs_pending && !self.tcs_acked {
                self.tcs_pending = false;
                self.stats.h245_timeouts += 1;
                self.queue_h245(&H245Message::TerminalCapabilitySetRelease);
            }
        }
        if self.msd_deadline.is_some_and(|d| d <= now) {
            self.msd_deadline = None;
            if self.msd == Msd::Sent {
                self.msd = Msd::Idle;
                self.stats.h245_timeouts += 1;
                self.queue_h245(&H245Message::MasterSlaveDeterminationRelease);
            }
        }
        if self.video_olc_deadline.is_some_and(|d| d <= now) {
            self.video_olc_deadline = None;
            if self.slow_video_opened() {
                self.stats.h245_timeouts += 1;
                self.slow_video_timed_out();
            }
        }
        if self.olc_deadline.is_some_and(|d| d <= now) {
            self.olc_deadline = None;
            if self.slow_start_opened() {
                self.stats.h245_timeouts += 1;
                self.slow_start_timed_out();
            }
        }
    }

    fn flush_h245_queue(&mut self) {
        if self.h245_queue.is_empty()
            || !self.h245_may_flush()
            || matches!(self.state, CallState::Idle | CallState::Released)
        {
            return;
        }
        if self.link_flush() || !self.tunnelling {
            return;
        }
        // H.225.0 v4+: a Facility whose body is `empty` only carries H.245
        self.send(MessageType::Facility, UuBody::Empty, Vec::new());
    }

    pub(super) fn send_dtmf(&mut self, digit: char, duration_ms: u32) {
        if !"0123456789*#ABCD".contains(digit) {
            return;
        }
        let signal = self.remote_tcs.as_ref().is_some_and(|t| {
            t.capability_table.iter().flatten().any(|e| {
                matches!(
                    e.capability,
                    Some(Capability::UserInput(_, UserInputCapabilityKind::Dtmf))
                )
            })
        });
        let ui = if signal {
            UserInputIndication::Signal {
                signal_type: digit,
                duration: Some(duration_ms.min(u16::MAX as u32) as u16),
                rtp: None,
            }
        } else {
            UserInputIndication::Alphanumeric(digit.to_string())
        };
        self.queue_h245(&H245Message::UserInput(ui));
    }
}

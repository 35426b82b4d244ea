//! Slow start: media opened over H.245 instead of Fast Start, whichever
//! side placed the call (H.323 8.1.7.2 falls back to it when the Setup had
//! no fastStart or the answer refused it).
//!
//! Once the peer's capability set is known and we know our own media (our
//! offer for a call we place, the owner's answer for a call we take), we
//! open one audio channel towards the peer. Its OpenLogicalChannelAck is
//! the only place the peer says where it receives, so that ack becomes the
//! peer's media for the owner (`LegEvent::Answer`). The peer's channels
//! towards us are acknowledged with our address in `control.rs`.

use super::*;
use crate::h245::{ForwardLogicalChannelParameters, H2250LogicalChannelParameters};

/// Our audio channel opened over H.245 has this number.
pub(super) const SLOW_START_LCN: u16 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SlowStart {
    AwaitingCapabilities,
    Opened {
        codec: AudioCodec,
        ptime: Option<u32>,
    },
    /// Our audio channel is acknowledged: the peer's audio stream, told
    /// to the owner once our video channel (if any) is settled too.
    Acked(StreamCaps),
    Established,
}

/// Our channel towards the peer, carrying `codec` in `frames` ms packets.
fn audio_olc(codec: AudioCodec, frames: u16, rtcp: SocketAddr) -> Option<OpenLogicalChannel> {
    Some(OpenLogicalChannel {
        forward_logical_channel_number: SLOW_START_LCN,
        forward: ForwardLogicalChannelParameters {
            port_number: None,
            data_type: DataType::Audio(AudioCapability::Framed(framed_of(codec)?, frames)),
            h2250: Some(H2250LogicalChannelParameters {
                session_id: AUDIO_SESSION,
                media_control_channel: Some(H245Address::Unicast(rtcp)),
                silence_suppression: Some(false),
                ..Default::default()
            }),
        },
        reverse: None,
    })
}

impl H323CallLeg {
    /// A call we take, answered without Fast Start: our channel towards
    /// the caller will carry the first codec of `caps` it can receive.
    /// The caller's channel that waited for our address is acknowledged.
    pub(super) fn slow_start_answer(&mut self, caps: &MediaCaps) {
        if self.outgoing || self.slow_start.is_some() {
            return;
        }
        self.answer_codecs = caps
            .first(MediaKind::Audio)
            .map(|(_, s)| {
                let mut v: Vec<AudioCodec> = Vec::new();
                for c in s.codecs.iter().filter_map(|c| c.audio_codec()) {
                    if framed_of(c).is_some() && !v.contains(&c) {
                        v.push(c);
                    }
                }
                v
            })
            .unwrap_or_default();
        self.answer_ptime = caps
            .first(MediaKind::Audio)
            .and_then(|(_, s)| s.ptime_ms)
            .unwrap_or(20)
            .clamp(10, 60) as u16;
        if self.answer_codecs.is_empty() || self.local_media.is_none() {
            let cause = Cause::new(Q850::BEARER_CAPABILITY_NOT_AVAILABLE)
                .with_text("The answer has no G.711 or G.722 audio with an address");
            self.release(&cause);
            self.events.push_back(LegEvent::Ended(cause));
            return;
        }
        self.slow_start = Some(SlowStart::AwaitingCapabilities);
        if let Some(olc) = self.pending_peer_olc.take() {
            self.on_peer_olc(olc);
        }
        self.slow_start_open();
    }

    /// Slow start, the peer's capabilities known: open our channel with the
    /// first codec of ours the peer can receive, the one it sends us if we
    /// have that too (one codec both ways is what the bridge expects of a
    /// leg).
    pub(super) fn slow_start_open(&mut self) {
        if self.slow_start != Some(SlowStart::AwaitingCapabilities) {
            return;
        }
        let Some(tcs) = self.remote_tcs.as_ref() else {
            return;
        };
        let candidates: Vec<(OpenLogicalChannel, AudioCodec)> = if self.outgoing {
            self.proposals
                .iter()
                .filter(|p| p.caller_sends)
                .map(|p| (p.olc.clone(), p.codec))
                .collect()
        } else {
            let Some((_, rtcp)) = self.local_media else {
                return;
            };
            self.answer_codecs
                .iter()
                .filter_map(|c| Some((audio_olc(*c, self.answer_ptime, rtcp)?, *c)))
                .collect()
        };
        let receivable = |c: AudioCodec| {
            tcs.capability_table.iter().flatten().any(|e| {
                matches!(
                    &e.capability,
                    Some(Capability::Audio(CapDirection::Receive | CapDirection::ReceiveAndTransmit, a))
                        if codec_of(a) == Some(c)
                )
            })
        };
        let peer_audio = self.peer_audio;
        let chosen = candidates
            .into_iter()
            .filter(|(_, c)| receivable(*c))
            .min_by_key(|(_, c)| Some(*c) != peer_audio);
        let Some((mut olc, codec)) = chosen else {
            let cause =
                Cause::new(Q850::BEARER_CAPABILITY_NOT_AVAILABLE).with_text(if self.outgoing {
                    "The callee receives none of the offered codecs"
                } else {
                    "The caller receives none of the answered codecs"
                });
            self.release(&cause);
            self.events.push_back(LegEvent::Ended(cause));
            return;
        };
        olc.forward_logical_channel_number = SLOW_START_LCN;
        let ptime = match &olc.forward.data_type {
            DataType::Audio(a) => packet_ms(a),
            _ => None,
        };
        self.queue_h245(&H245Message::OpenLogicalChannel(olc));
        self.slow_start = Some(SlowStart::Opened { codec, ptime });
        self.slow_start_open_video();
    }

    pub(super) fn slow_start_opened(&self) -> bool {
        matches!(self.slow_start, Some(SlowStart::Opened { .. }))
    }

    /// T103 expired on our audio channel (H.245 C.5.4): it is closed, and
    /// a call that cannot get its media is released.
    pub(super) fn slow_start_timed_out(&mut self) {
        self.queue_h245(&H245Message::CloseLogicalChannel {
            forward_logical_channel_number: SLOW_START_LCN,
            source_user: false,
            reason: None,
        });
        let cause = Cause::new(Q850::RECOVERY_ON_TIMER_EXPIRY).with_text(if self.outgoing {
            "The callee never answered our audio channel"
        } else {
            "The caller never answered our audio channel"
        });
        self.release(&cause);
        self.events.push_back(LegEvent::Ended(cause));
    }

    pub(super) fn on_olc_ack(&mut self, ack: crate::h245::OpenLogicalChannelAck) {
        if self.on_video_olc_answer(ack.forward_logical_channel_number, Some(&ack)) {
            return self.slow_start_finish();
        }
        let Some(SlowStart::Opened { codec, ptime }) = self.slow_start else {
            return;
        };
        if ack.forward_logical_channel_number != SLOW_START_LCN {
            return;
        }
        self.olc_deadline = None;
        let h = ack.h2250_ack.as_ref();
        let Some(rtp) = h.and_then(|h| unicast(&h.media_channel)) else {
            let cause = Cause::new(Q850::BEARER_CAPABILITY_NOT_AVAILABLE)
                .with_text("The peer acknowledged our channel without an address");
            self.release(&cause);
            self.events.push_back(LegEvent::Ended(cause));
            return;
        };
        let rtcp = h.and_then(|h| unicast(&h.media_control_channel));
        self.slow_start = Some(SlowStart::Acked(StreamCaps {
            kind: MediaKind::Audio,
            rtp: Some(rtp),
            rtcp,
            rtcp_mux: false,
            transport: MediaTransport::Rtp,
            direction: MediaDirection::SendRecv,
            ptime_ms: ptime,
            codecs: vec![codec_cap(codec)],
            bandwidth_kbps: None,
        }));
        self.slow_start_finish();
    }

    /// Slow start is over once our audio channel is acknowledged and our
    /// video channel (if we opened one) acknowledged or refused: the owner
    /// hears the peer's media, and for a call we place that it answered
    /// (a caller's answer is the Connect we sent).
    pub(super) fn slow_start_finish(&mut self) {
        let Some(SlowStart::Acked(audio)) = &self.slow_start else {
            return;
        };
        let Some(video) = self.slow_video_settled() else {
            return;
        };
        let streams = std::iter::once(audio.clone()).chain(video).collect();
        self.slow_start = Some(SlowStart::Established);
        self.answer_reported = true;
        self.events
            .push_back(LegEvent::Answer(MediaCaps { streams }));
        if self.outgoing {
            self.events.push_back(LegEvent::Answered);
        }
    }

    pub(super) fn on_olc_reject(&mut self, lcn: u16) {
        if self.on_video_olc_answer(lcn, None) {
            // audio only, then
            return self.slow_start_finish();
        }
        if matches!(self.slow_start, Some(SlowStart::Opened { .. })) && lcn == SLOW_START_LCN {
            let cause =
                Cause::new(Q850::BEARER_CAPABILITY_NOT_AVAILABLE).with_text(if self.outgoing {
                    "The callee refused our audio channel"
                } else {
                    "The caller refused our audio channel"
                });
            self.release(&cause);
            self.events.push_back(LegEvent::Ended(cause));
        }
    }
}

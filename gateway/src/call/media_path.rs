//! The media path of a two-leg call: which transforms each direction of
//! the audio stream runs (SRTP decrypt, DTMF tap, transcode, SRTP encrypt),
//! what the relay is told about each leg for its quality estimate, and
//! digits taken out of the media, which go to the call as leg events (the
//! other way, INFO digits played into the media, is in `sip_leg::info`).

use super::sdes::{self, LegKeys};
use super::Side;
use crate::engine::Engine;
use gateway_media::dtmf_tap::{DtmfDigit, DtmfTap};
use gateway_media::transcode::CodecEnd;
use gateway_media::{Leg, MediaSession};
use std::time::Instant;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// A transcoded audio stream: the offerer keeps its own codec, the
/// answerer's differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranscodePlan {
    pub index: usize,
    pub offerer: CodecEnd,
    pub answerer: CodecEnd,
}

/// Both legs' SRTP keys once the answer came (`None`: that leg is plain
/// RTP): the relay decrypts what arrives and encrypts what leaves.
#[derive(Debug, Clone)]
pub struct SrtpLegs {
    pub index: usize,
    pub offerer: Option<LegKeys>,
    pub answerer: Option<LegKeys>,
}

/// Where in-band digits are taken out: (call, side sending them, their
/// payload type and clock, the engine's digit channel).
pub(super) type DtmfTapSpec = (u64, Side, u8, u32, mpsc::UnboundedSender<DtmfDigit>);

/// The transforms of each direction of the first audio stream: decrypt
/// what arrives from an SRTP leg, transcode, encrypt what goes to an SRTP
/// leg. With none of these the stream is forwarded untouched.
pub(super) fn install_media(
    label: &str,
    media: &MediaSession,
    offerer: Side,
    plan: Option<&TranscodePlan>,
    srtp: Option<&(Side, SrtpLegs)>,
    tap: Option<DtmfTapSpec>,
) {
    use gateway_media::dtmf::EventForwarder;
    use gateway_media::dtmf_inject::{DtmfInjector, InjectConfig};
    use gateway_media::relay::Direction as RelayDirection;
    use gateway_media::srtp::{SrtpProtect, SrtpUnprotect};
    use gateway_media::transcode::Transcoder;
    use gateway_media::{Chain, PacketTransform, Pipeline};

    let direction_from = |side: Side| match side {
        Side::A => RelayDirection::AtoB,
        Side::B => RelayDirection::BtoA,
    };
    // Keys per side (the SRTP offerer may differ from the codec offerer
    // only in theory; both are the leg that sent the last offer).
    let keys = |side: Side| -> Option<&sdes::LegKeys> {
        let (srtp_offerer, legs) = srtp?;
        if side == *srtp_offerer {
            legs.offerer.as_ref()
        } else {
            legs.answerer.as_ref()
        }
    };
    let index = plan
        .map(|p| p.index)
        .or(srtp.map(|(_, l)| l.index))
        .unwrap_or(0);
    for from in [offerer, offerer.other()] {
        let mut chain: Vec<Box<dyn PacketTransform>> = Vec::new();
        let mut outbound: Option<Box<dyn PacketTransform>> = None;
        let mut inject = None;
        let result: Result<(), String> = (|| {
            if let Some(k) = keys(from) {
                chain.push(Box::new(SrtpUnprotect::new(k.contexts()?.inbound)));
            }
            if let Some((key, side, pt, clock, tx)) = &tap {
                if *side == from {
                    let t = DtmfTap::new(*key, side.leg(), *pt, *clock, tx.clone())
                        .ok_or("telephone-event clock not supported")?;
                    chain.push(Box::new(t));
                }
            }
            if let Some(p) = plan {
                let (f, t) = if from == offerer {
                    (p.offerer, p.answerer)
                } else {
                    (p.answerer, p.offerer)
                };
                chain.push(Box::new(Transcoder::new(f, t).map_err(|e| e.to_string())?));
                if let Some(te) = t.telephone_event {
                    // Events leave the transcoder on the receiver's PT and
                    // clock; a first report without marker gets one back.
                    chain.push(Box::new(EventForwarder::new(te, te, t.codec.rtp_clock())));
                }
            }
            // Digits the sending leg signals by INFO are played into this
            // direction when the receiving leg negotiated telephone-event
            // (the leg the tap serves is that receiver).
            if let Some((_, side, pt, clock, _)) = &tap {
                if *side == from.other() {
                    let audio_clock = plan
                        .map(|p| {
                            if *side == offerer {
                                p.offerer.codec.rtp_clock()
                            } else {
                                p.answerer.codec.rtp_clock()
                            }
                        })
                        .unwrap_or(*clock);
                    let cfg = InjectConfig::new(*pt, *clock, audio_clock);
                    inject = Some(DtmfInjector::new(cfg).map_err(|e| e.to_string())?);
                }
            }
            if let Some(k) = keys(from.other()) {
                outbound = Some(Box::new(SrtpProtect::new(k.contexts()?.outbound)));
            }
            Ok(())
        })();
        if let Err(e) = result {
            warn!(call_id = %label, error = %e, "media transforms not installed");
            return;
        }
        let inbound: Box<dyn PacketTransform> = match chain.len() {
            0 => Box::new(gateway_media::IdentityTransform),
            _ => Box::new(Chain(chain)),
        };
        let pipeline = Pipeline {
            inbound,
            inject,
            outbound: outbound.unwrap_or_else(|| Box::new(gateway_media::IdentityTransform)),
        };
        if let Err(e) = media.set_pipeline(index, direction_from(from), pipeline) {
            warn!(call_id = %label, error = %e, "media transforms not installed");
            return;
        }
    }
    info!(
        call_id = %label,
        transcoded = ?plan.map(|p| (p.offerer.codec, p.answerer.codec)),
        srtp_offerer = srtp.is_some(),
        srtp_answerer = srtp.is_some_and(|(_, l)| l.answerer.is_some()),
        "audio path set"
    );
    if plan.is_some() {
        info!(call_id = %label, "audio transcoded");
    }
}

impl Engine {
    /// A digit the relay took out of one leg's media: an event of that leg
    /// for its call, which signals it to the other leg its own way.
    pub fn on_in_band_dtmf(&mut self, now: Instant, d: DtmfDigit) {
        let from = match d.from {
            Leg::A => Side::A,
            Leg::B => Side::B,
        };
        if self.bridged.calls.contains_key(&d.key) {
            let ev = gateway_callmodel::LegEvent::Dtmf {
                digit: d.digit,
                duration_ms: d.duration_ms,
            };
            self.on_bridged_event(now, d.key, from, ev);
        }
    }
}

/// Tell the relay what a leg's audio is, for its quality estimate: the RTP
/// clock (jitter in milliseconds), the codec's E-model impairment, and
/// whether its RTCP is encrypted (then not read).
pub(super) fn describe_leg_media(
    media: &MediaSession,
    stream: usize,
    side: Side,
    codec: gateway_callmodel::AudioCodec,
    rtcp_encrypted: bool,
) {
    use gateway_callmodel::AudioCodec;
    use gateway_media::quality::CodecImpairment;
    let impairment = match codec {
        // Room systems and phones conceal lost G.711 frames.
        AudioCodec::Pcmu | AudioCodec::Pcma => CodecImpairment::G711_PLC,
        AudioCodec::G722 => CodecImpairment::G722,
        AudioCodec::Opus => CodecImpairment::OPUS,
    };
    let leg = side.leg();
    let _ = media.set_clock_rate(stream, leg, codec.rtp_clock());
    let _ = media.set_codec(stream, leg, impairment);
    let _ = media.set_rtcp_encrypted(stream, leg, rtcp_encrypted);
}

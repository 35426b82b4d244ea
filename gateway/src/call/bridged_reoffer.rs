//! Mid-call offers on a bridged call: one leg offers new media (hold,
//! resume, a moved address, new keys, video added); the offer goes on to
//! the other leg with the bridge's addresses, and that leg's answer sets
//! the path again and answers the first. A leg that cannot renegotiate
//! (H.323 today) is not asked: its peer is answered with the path it has.
//!
//! One exchange at a time per call. An offer that crosses one in flight
//! is refused with 491 (RFC 3261 §14.1), which the offerer retries after
//! a random wait; a refusal by the other leg reaches the offerer with the
//! same cause, and the media stays as it was.

use super::bridged_media::{self, LocalMedia, OfferState, AUDIO_STREAM, VIDEO_STREAM};
use super::Side;
use crate::engine::Engine;
use gateway_callmodel::{Cause, LegCommand, MediaCaps};
use gateway_media::MediaSession;
use std::time::Instant;
use tracing::{info, warn};

/// An offer from `from`, sent on to the other leg as `offered`.
pub(crate) struct ReOffer {
    pub(super) from: Side,
    offer: MediaCaps,
    offered: OfferState,
    /// Video was added and the call had no relay stream for it: the new
    /// session, taken into use when the exchange succeeds.
    grown: Option<MediaSession>,
}

impl Engine {
    /// Whether the leg opposite `side` takes mid-call offers.
    pub(crate) fn bridged_peer_renegotiates(&self, call_id: u64, side: Side) -> bool {
        self.bridged
            .calls
            .get(&call_id)
            .is_some_and(|c| c.legs[side.other() as usize].signalling.renegotiates())
    }

    pub(super) fn on_bridged_reoffer(
        &mut self,
        now: Instant,
        call_id: u64,
        side: Side,
        caps: MediaCaps,
    ) {
        match self.forward_reoffer(call_id, side, caps) {
            Ok(offer) => self.bridged_command(now, call_id, side.other(), LegCommand::Offer(offer)),
            Err(cause) => self.bridged_command(now, call_id, side, LegCommand::RefuseOffer(cause)),
        }
    }

    /// The other leg's offer: the offerer's media with the bridge's
    /// addresses towards that leg.
    fn forward_reoffer(
        &mut self,
        call_id: u64,
        side: Side,
        caps: MediaCaps,
    ) -> Result<MediaCaps, Cause> {
        let ip = self.cfg.advertised_ip;
        let call = self
            .bridged
            .calls
            .get(&call_id)
            .ok_or_else(Cause::normal_clearing)?;
        if call.answered.is_none() || call.reoffer.is_some() {
            return Err(Cause::from_sip_status(
                491,
                "Another media change is in progress",
            ));
        }
        let required = call.require_encryption;
        let video = !required && bridged_media::plain_video(&caps).is_some();
        let grown = if video && call.media.streams() <= VIDEO_STREAM {
            Some(
                self.media
                    .allocate(&call.label, VIDEO_STREAM + 1)
                    .map_err(|e| {
                        Cause::from_sip_status(e.sip_status(), &format!("Media relay: {e}"))
                    })?,
            )
        } else {
            None
        };
        let media = grown.as_ref().unwrap_or(&call.media);
        let to = side.other().leg();
        let local = |stream: usize| {
            media.local_addr(stream, to).map(|(rtp, rtcp)| LocalMedia {
                rtp: std::net::SocketAddr::new(ip, rtp.port()),
                rtcp: std::net::SocketAddr::new(ip, rtcp.port()),
            })
        };
        let audio = local(AUDIO_STREAM)
            .map_err(|e| Cause::from_sip_status(500, &format!("Media relay: {e}")))?;
        let (offer, offered) =
            bridged_media::offer_for_callee(&caps, audio, local(VIDEO_STREAM).ok(), required)?;
        info!(call_id = %call.label, from = ?side, video = grown.is_some(), "mid-call offer sent on to the other leg");
        let call = self
            .bridged
            .calls
            .get_mut(&call_id)
            .ok_or_else(Cause::normal_clearing)?;
        call.reoffer = Some(ReOffer {
            from: side,
            offer: caps,
            offered,
            grown,
        });
        Ok(offer)
    }

    /// The other leg answered the offer we passed on: the path follows the
    /// new exchange and the offerer gets its answer.
    pub(super) fn finish_reoffer(&mut self, now: Instant, call_id: u64, answer: MediaCaps) {
        let Some(call) = self.bridged.calls.get_mut(&call_id) else {
            return;
        };
        let Some(r) = call.reoffer.take() else {
            return;
        };
        if let Some(media) = r.grown {
            // Both legs learn the new session's ports in this exchange;
            // the old one's ports go back to the pool as it drops.
            call.media = media;
        }
        match self.apply_plan(call_id, r.from, &r.offered, &r.offer, &answer) {
            Ok(caps) => self.bridged_command(now, call_id, r.from, LegCommand::Answer(caps)),
            Err(cause) => {
                warn!(call_id = call_id, cause = %cause, "mid-call answer unusable; offer refused");
                self.bridged_command(now, call_id, r.from, LegCommand::RefuseOffer(cause))
            }
        }
    }

    /// The other leg refused the offer we passed on: the offerer hears
    /// the same refusal and nothing changes.
    pub(super) fn reoffer_refused(&mut self, now: Instant, call_id: u64, side: Side, cause: Cause) {
        let Some(call) = self.bridged.calls.get_mut(&call_id) else {
            return;
        };
        if call.reoffer.as_ref().is_none_or(|r| r.from == side) {
            return;
        }
        if let Some(r) = call.reoffer.take() {
            info!(call_id = %call.label, cause = %cause, "mid-call offer refused by the other leg");
            self.bridged_command(now, call_id, r.from, LegCommand::RefuseOffer(cause));
        }
    }
}

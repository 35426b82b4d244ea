//! What a leg tells its owner, and what the owner asks of a leg.

use crate::cause::Cause;
use crate::media::MediaCaps;

/// A leg's identity within its call or meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u64);

impl std::fmt::Display for LegId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "leg-{}", self.0)
    }
}

/// Neutral events, one per protocol happening that matters to the owner.
#[derive(Debug, Clone, PartialEq)]
pub enum LegEvent {
    /// The peer wants a session (INVITE, H.225 Setup, a WebRTC join) to this
    /// target, with this media offer (`None`: the peer waits for ours).
    Incoming {
        target: String,
        offer: Option<MediaCaps>,
    },
    /// The peer offers new media mid-call (re-INVITE, H.245 reopen).
    Offer(MediaCaps),
    /// The peer's answer to our offer.
    Answer(MediaCaps),
    /// The peer refused our mid-call offer (SIP 488, 491 on glare); the
    /// media stays as it was.
    OfferRefused(Cause),
    /// Ringing or session progress, with early media if `Some`.
    Progress {
        early_media: Option<MediaCaps>,
    },
    Answered,
    /// The peer put us on hold (`true`) or resumed (`false`).
    Hold(bool),
    /// A DTMF digit signalled out of band (SIP INFO, H.245 userInput).
    Dtmf {
        digit: char,
        duration_ms: u32,
    },
    /// The peer asks for a video keyframe (SIP INFO picture_fast_update,
    /// H.245 videoFastUpdatePicture).
    KeyframeRequest,
    /// The peer's receive bandwidth for all media, kbit/s.
    Bandwidth(u32),
    /// An application message the bridge does not read (a SIP INFO of
    /// another package, an empty keep-alive INFO), for the other leg; its
    /// outcome comes back as [`LegCommand::MessageAnswered`] with this id.
    Message(AppMessage),
    /// The outcome of a [`LegCommand::Message`] this leg carried.
    MessageAnswered {
        id: u64,
        result: Result<(), Cause>,
    },
    Ended(Cause),
}

/// An opaque in-dialog message carried between legs that both speak it.
#[derive(Debug, Clone, PartialEq)]
pub struct AppMessage {
    /// Chosen by the leg it came from, unique among its messages.
    pub id: u64,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// How many more hops it may take (SIP Max-Forwards, less ours).
    pub hops: u32,
}

/// What the owner asks a leg to do.
#[derive(Debug, Clone, PartialEq)]
pub enum LegCommand {
    Progress {
        early_media: Option<MediaCaps>,
    },
    /// Accept the session with this media (answer or offer).
    Answer(MediaCaps),
    Offer(MediaCaps),
    /// Refuse the peer's pending mid-call offer with this cause; the
    /// session and its media stay as they were.
    RefuseOffer(Cause),
    Dtmf {
        digit: char,
        duration_ms: u32,
    },
    KeyframeRequest,
    /// Carry the other leg's message to this leg's peer.
    Message(AppMessage),
    /// The outcome of the peer's message the other leg carried.
    MessageAnswered {
        id: u64,
        result: Result<(), Cause>,
    },
    /// End the leg (reject if not answered) with this cause.
    End(Cause),
}

//! Media anchoring for the B2BUA: the gateway rewrites each leg's SDP to its
//! own address and ports, and this crate relays RTP and RTCP between the two
//! legs of a call.
//!
//! - [`ports`], [`packet`], [`leg`]: sans-IO — port allocation, RTP/RTCP
//!   classification (RFC 5761 demux), symmetric-RTP latching with hijack
//!   protection (policy documented in [`leg`]).
//! - [`relay`]: the tokio runtime part — [`MediaRelay`] hands out
//!   [`MediaSession`]s, each relayed by one task that owns its sockets.
//! - [`transform`]: per-direction hook for SRTP/transcoding (identity now).
//! - [`metrics`]: relay-wide counters for the Prometheus exporter.
//!
//! How the B2BUA uses it, per call:
//!
//! ```no_run
//! # async fn call() -> Result<(), gateway_media::MediaError> {
//! use gateway_media::{Leg, MediaRelay};
//! let relay = MediaRelay::new("192.0.2.1".parse().unwrap(), 20000..=29999)?;
//! // Offer from A with audio + video: one stream per m-line.
//! let media = relay.allocate("call-id-1234", 2)?; // PortsExhausted => 503
//! media.set_remote(0, Leg::A, "198.51.100.7:4000".parse().unwrap(), None, false)?;
//! let (rtp, _rtcp) = media.local_addr(0, Leg::B)?; // goes into the offer to B
//! // ... B answers:
//! media.set_remote(0, Leg::B, "203.0.113.9:5000".parse().unwrap(), None, true)?;
//! // ... BYE:
//! media.close().await;
//! # let _ = rtp; Ok(()) }
//! ```

pub mod dtmf;
pub mod dtmf_inject;
pub mod dtmf_tap;
pub mod leg;
pub mod meeting;
pub mod metrics;
pub mod ogg;
pub mod packet;
pub mod ports;
pub mod pt_map;
pub mod quality;
pub mod relay;
mod relay_io;
pub mod rtcp;
pub mod rtcp_term;
mod rtp_header;
pub mod srtp;
pub mod transcode;
pub mod transform;

pub use leg::{DropReason, Inbound, LatchReason, LegCounters, LegState, RemoteMedia, SocketKind};
pub use metrics::{RelayMetrics, RelayMetricsSnapshot};
pub use packet::{MalformedPacket, PacketClass, PacketInfo};
pub use ports::{PortAllocator, PortPair, PortRangeError, PortsExhausted};
pub use pt_map::PayloadTypeMap;
pub use relay::{
    Direction, DirectionStats, Leg, MediaError, MediaRelay, MediaSession, Pipeline, RelayConfig,
    SessionStats,
};
pub use transform::{Chain, IdentityTransform, PacketTransform};

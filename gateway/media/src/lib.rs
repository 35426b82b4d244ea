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

pub mod leg;
pub mod metrics;
pub mod packet;
pub mod ports;
pub mod relay;
pub mod transform;

pub use leg::{DropReason, Inbound, LatchReason, LegCounters, LegState, RemoteMedia, SocketKind};
pub use metrics::{RelayMetrics, RelayMetricsSnapshot};
pub use packet::{MalformedPacket, PacketClass, PacketInfo};
pub use ports::{PortAllocator, PortPair, PortRangeError, PortsExhausted};
pub use relay::{
    Direction, DirectionStats, Leg, MediaError, MediaRelay, MediaSession, RelayConfig, SessionStats,
};
pub use transform::{IdentityTransform, PacketTransform};

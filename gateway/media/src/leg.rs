//! Per-leg media addressing and symmetric-RTP latching (sans-IO).
//!
//! # Latching policy
//!
//! Endpoints behind NAT put an address in their SDP that we cannot reach
//! (a private address, or the right IP with a port the NAT rewrites). As with
//! "comedia" (RFC 4961 symmetric RTP), we send to the address the endpoint's
//! packets come *from*. Because anyone can send a UDP packet to our port, the
//! relay only latches under these rules, applied per local socket (the RTP
//! socket and, without rtcp-mux, the RTCP socket):
//!
//! 1. **Before latching**, a packet is accepted and latched to when
//!    - its source IP equals the IP in the SDP (a *strong* latch; the port may
//!      differ, NATs with a public IP in SDP rewrite it), or
//!    - it is the first packet within [`LegState::latch_window`] after the
//!      offer/answer (`set_remote`) — whether the SDP address is private/
//!      unroutable (classic NAT) or a public address that differs (SIP ALGs,
//!      multi-homed endpoints) — a *weak* latch. After the window only the
//!      first rule can latch. For the RTCP socket the IP of the latched RTP
//!      source also counts as the SDP IP: RTCP comes from the same host.
//! 2. **After latching**, packets from any other source are dropped and
//!    counted ([`LegCounters::foreign`]), with two exceptions:
//!    - a packet carrying an SSRC already seen from the latched source moves
//!      the latch to the new source: that is a NAT rebinding (or a roaming
//!      endpoint); an off-path attacker does not know the 32-bit SSRC;
//!    - a weak latch is replaced by a source whose IP equals the SDP IP, the
//!      stronger evidence, so a stranger who raced the real endpoint within
//!      the window loses the latch as soon as the endpoint speaks.
//! 3. A new offer/answer with a different address resets the latches and
//!    restarts the window; one with the same address (session refresh, codec
//!    change) keeps them.
//!
//! Until a socket has latched, packets toward this leg go to the SDP address.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::packet::{inspect, MalformedPacket, PacketClass, PacketInfo};

/// Default window after offer/answer in which an unexpected source may latch.
pub const DEFAULT_LATCH_WINDOW: Duration = Duration::from_secs(10);

/// How many distinct SSRCs are remembered per latched source. A stream may
/// carry more than one (RTX, receiver-report-only SSRC, a mixer's sources).
const KNOWN_SSRCS: usize = 4;

/// Which of a leg's two local sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketKind {
    Rtp = 0,
    Rtcp = 1,
}

/// The peer's media address as given in its SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteMedia {
    pub rtp: SocketAddr,
    /// From `a=rtcp`; `None` means RTP port + 1 on the RTP address.
    pub rtcp: Option<SocketAddr>,
    pub rtcp_mux: bool,
}

/// Why a socket latched to a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatchReason {
    /// Source IP equals the SDP IP.
    SdpAddress,
    /// First source in the window; the SDP IP is private or unroutable (NAT).
    FirstInWindowPrivateSdp,
    /// First source in the window; the SDP IP is public but differs.
    FirstInWindowMismatch,
    /// A known SSRC arrived from a new source (NAT rebinding).
    SsrcRebind,
    /// A source with the SDP IP replaced a weak latch.
    UpgradeToSdpAddress,
}

/// Why an inbound packet was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    Malformed(MalformedPacket),
    /// No offer/answer yet: we do not know whom to expect.
    NoRemote,
    /// Not from the latched (or a latchable) source.
    ForeignSource,
}

/// Decision on an inbound packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    Forward {
        info: PacketInfo,
        latched: Option<LatchReason>,
    },
    Drop(DropReason),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegCounters {
    pub accepted: u64,
    pub malformed: u64,
    pub foreign: u64,
    pub no_remote: u64,
    pub latches: u64,
    pub relatches: u64,
}

#[derive(Debug, Clone, Copy)]
struct Latch {
    addr: SocketAddr,
    /// Endorsed by the SDP IP rather than by the window.
    strong: bool,
    ssrcs: [u32; KNOWN_SSRCS],
    ssrc_count: usize,
    ssrc_next: usize,
}

impl Latch {
    fn new(addr: SocketAddr, strong: bool, ssrc: u32) -> Self {
        let mut l = Latch {
            addr,
            strong,
            ssrcs: [0; KNOWN_SSRCS],
            ssrc_count: 0,
            ssrc_next: 0,
        };
        l.note_ssrc(ssrc);
        l
    }

    fn knows(&self, ssrc: u32) -> bool {
        self.ssrcs[..self.ssrc_count].contains(&ssrc)
    }

    fn note_ssrc(&mut self, ssrc: u32) {
        if self.knows(ssrc) {
            return;
        }
        self.ssrcs[self.ssrc_next] = ssrc;
        self.ssrc_next = (self.ssrc_next + 1) % KNOWN_SSRCS;
        self.ssrc_count = (self.ssrc_count + 1).min(KNOWN_SSRCS);
    }
}

/// One leg of a relayed stream: whom we expect and where we send.
#[derive(Debug, Clone)]
pub struct LegState {
    remote: Option<RemoteMedia>,
    remote_set_at: Option<Instant>,
    window: Duration,
    latches: [Option<Latch>; 2],
    counters: LegCounters,
}

impl Default for LegState {
    fn default() -> Self {
        Self::new(DEFAULT_LATCH_WINDOW)
    }
}

impl LegState {
    pub fn new(latch_window: Duration) -> Self {
        LegState {
            remote: None,
            remote_set_at: None,
            window: latch_window,
            latches: [None, None],
            counters: LegCounters::default(),
        }
    }

    pub fn latch_window(&self) -> Duration {
        self.window
    }

    /// Apply the address from an offer or answer (again on re-INVITE).
    pub fn set_remote(
        &mut self,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
        rtcp_mux: bool,
        now: Instant,
    ) {
        let new = RemoteMedia {
            rtp,
            rtcp,
            rtcp_mux,
        };
        match self.remote {
            Some(old) if old.rtp == new.rtp && old.rtcp == new.rtcp => {
                if old.rtcp_mux != new.rtcp_mux {
                    // RTCP moves between sockets; its old latch means nothing.
                    self.latches[SocketKind::Rtcp as usize] = None;
                }
            }
            _ => {
                self.latches = [None, None];
                self.remote_set_at = Some(now);
            }
        }
        self.remote = Some(new);
    }

    pub fn remote(&self) -> Option<&RemoteMedia> {
        self.remote.as_ref()
    }

    pub fn rtcp_mux(&self) -> bool {
        self.remote.is_some_and(|r| r.rtcp_mux)
    }

    pub fn latched(&self, socket: SocketKind) -> Option<SocketAddr> {
        self.latches[socket as usize].map(|l| l.addr)
    }

    pub fn counters(&self) -> &LegCounters {
        &self.counters
    }

    /// Check a datagram that arrived from `src` on this leg's `socket`.
    pub fn inbound(
        &mut self,
        socket: SocketKind,
        src: SocketAddr,
        packet: &[u8],
        now: Instant,
    ) -> Inbound {
        let mux = self.rtcp_mux();
        let info = match inspect(packet, socket == SocketKind::Rtcp, mux) {
            Ok(info) => info,
            Err(e) => {
                self.counters.malformed += 1;
                return Inbound::Drop(DropReason::Malformed(e));
            }
        };
        let Some(remote) = self.remote else {
            self.counters.no_remote += 1;
            return Inbound::Drop(DropReason::NoRemote);
        };
        let sdp_ip = match socket {
            SocketKind::Rtp => remote.rtp.ip(),
            SocketKind::Rtcp => remote.rtcp.map_or(remote.rtp.ip(), |a| a.ip()),
        };
        let rtp_latched_ip = match socket {
            SocketKind::Rtcp => self.latches[SocketKind::Rtp as usize].map(|l| l.addr.ip()),
            SocketKind::Rtp => None,
        };
        let endorsed =
            same_ip(src.ip(), sdp_ip) || rtp_latched_ip.is_some_and(|ip| same_ip(ip, src.ip()));
        let in_window = self
            .remote_set_at
            .is_some_and(|t| now.saturating_duration_since(t) <= self.window);

        let slot = &mut self.latches[socket as usize];
        let latched = match slot {
            Some(l) if l.addr == src => {
                l.note_ssrc(info.ssrc);
                None
            }
            Some(l) if l.knows(info.ssrc) => {
                l.addr = src;
                l.strong = endorsed;
                self.counters.relatches += 1;
                Some(LatchReason::SsrcRebind)
            }
            Some(l) if !l.strong && endorsed => {
                *l = Latch::new(src, true, info.ssrc);
                self.counters.relatches += 1;
                Some(LatchReason::UpgradeToSdpAddress)
            }
            Some(_) => {
                self.counters.foreign += 1;
                return Inbound::Drop(DropReason::ForeignSource);
            }
            None if endorsed => {
                *slot = Some(Latch::new(src, true, info.ssrc));
                self.counters.latches += 1;
                Some(LatchReason::SdpAddress)
            }
            None if in_window => {
                *slot = Some(Latch::new(src, false, info.ssrc));
                self.counters.latches += 1;
                Some(if is_unroutable(sdp_ip) {
                    LatchReason::FirstInWindowPrivateSdp
                } else {
                    LatchReason::FirstInWindowMismatch
                })
            }
            None => {
                self.counters.foreign += 1;
                return Inbound::Drop(DropReason::ForeignSource);
            }
        };
        self.counters.accepted += 1;
        Inbound::Forward { info, latched }
    }

    /// Where a packet of `class` toward this leg goes, and from which of our
    /// sockets. `None` while there is no usable address (no SDP yet, `c=0.0.0.0`
    /// hold, or port 0).
    pub fn destination(&self, class: PacketClass) -> Option<(SocketKind, SocketAddr)> {
        let remote = self.remote?;
        let rtp_dest = self.latched(SocketKind::Rtp).unwrap_or(remote.rtp);
        let (kind, addr) = match class {
            PacketClass::Rtp => (SocketKind::Rtp, rtp_dest),
            PacketClass::Rtcp if remote.rtcp_mux => (SocketKind::Rtp, rtp_dest),
            PacketClass::Rtcp => {
                let addr = match (self.latched(SocketKind::Rtcp), remote.rtcp) {
                    (Some(a), _) | (None, Some(a)) => a,
                    (None, None) => {
                        SocketAddr::new(remote.rtp.ip(), remote.rtp.port().checked_add(1)?)
                    }
                };
                (SocketKind::Rtcp, addr)
            }
        };
        (addr.port() != 0 && !addr.ip().is_unspecified()).then_some((kind, addr))
    }
}

/// Compare IPs treating an IPv4-mapped IPv6 address as its IPv4 address
/// (dual-stack sockets report IPv4 sources that way).
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// Addresses a packet from the Internet cannot have as its source: private,
/// shared (CGNAT), loopback, link-local, documentation, unspecified.
pub fn is_unroutable(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_documentation()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(ssrc: u32) -> [u8; 12] {
        let s = ssrc.to_be_bytes();
        [0x80, 0, 0, 1, 0, 0, 0, 0, s[0], s[1], s[2], s[3]]
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn forwarded(v: Inbound) -> Option<LatchReason> {
        match v {
            Inbound::Forward { latched, .. } => latched,
            Inbound::Drop(r) => panic!("dropped: {r:?}"),
        }
    }

    #[test]
    fn natted_endpoint_latches_and_is_answered_at_its_public_source() {
        let t0 = Instant::now();
        let mut leg = LegState::new(Duration::from_secs(5));
        leg.set_remote(addr("10.0.0.5:4000"), None, false, t0);
        // Before latching we can only send to the SDP address.
        assert_eq!(
            leg.destination(PacketClass::Rtp),
            Some((SocketKind::Rtp, addr("10.0.0.5:4000")))
        );
        let src = addr("127.0.0.1:55000");
        let r = forwarded(leg.inbound(
            SocketKind::Rtp,
            src,
            &rtp(1),
            t0 + Duration::from_millis(300),
        ));
        assert_eq!(r, Some(LatchReason::FirstInWindowPrivateSdp));
        assert_eq!(
            leg.destination(PacketClass::Rtp),
            Some((SocketKind::Rtp, src))
        );
        // RTCP from the same host latches its own socket by IP even after the window.
        let rtcp_src = addr("127.0.0.1:55001");
        let rr = [0x80, 201, 0, 1, 0, 0, 0, 1];
        let r = forwarded(leg.inbound(
            SocketKind::Rtcp,
            rtcp_src,
            &rr,
            t0 + Duration::from_secs(60),
        ));
        assert_eq!(r, Some(LatchReason::SdpAddress));
        assert_eq!(
            leg.destination(PacketClass::Rtcp),
            Some((SocketKind::Rtcp, rtcp_src))
        );
    }

    #[test]
    fn public_mismatch_in_window_is_reported_as_such() {
        let t0 = Instant::now();
        let mut leg = LegState::default();
        leg.set_remote(addr("198.18.0.1:4000"), None, false, t0);
        assert_eq!(
            forwarded(leg.inbound(SocketKind::Rtp, addr("127.0.0.1:1"), &rtp(1), t0)),
            Some(LatchReason::FirstInWindowMismatch)
        );
    }

    #[test]
    fn stranger_after_window_cannot_latch() {
        let t0 = Instant::now();
        let mut leg = LegState::new(Duration::from_secs(5));
        leg.set_remote(addr("192.0.2.7:4000"), None, false, t0);
        let v = leg.inbound(
            SocketKind::Rtp,
            addr("127.0.0.1:9"),
            &rtp(1),
            t0 + Duration::from_secs(6),
        );
        assert_eq!(v, Inbound::Drop(DropReason::ForeignSource));
        assert_eq!(leg.counters().foreign, 1);
        assert_eq!(leg.latched(SocketKind::Rtp), None);
        // The SDP IP may still latch late (port rewritten by a NAT with that IP).
        let r = forwarded(leg.inbound(
            SocketKind::Rtp,
            addr("192.0.2.7:61000"),
            &rtp(1),
            t0 + Duration::from_secs(60),
        ));
        assert_eq!(r, Some(LatchReason::SdpAddress));
    }

    #[test]
    fn hijack_dropped_rebinding_with_same_ssrc_accepted() {
        let t0 = Instant::now();
        let mut leg = LegState::default();
        leg.set_remote(addr("127.0.0.1:4000"), None, false, t0);
        assert_eq!(
            forwarded(leg.inbound(SocketKind::Rtp, addr("127.0.0.1:4000"), &rtp(0xaaaa), t0)),
            Some(LatchReason::SdpAddress)
        );
        // Same IP, other port, other SSRC: a stranger on the endpoint's host or NAT.
        let v = leg.inbound(SocketKind::Rtp, addr("127.0.0.1:5000"), &rtp(0xbbbb), t0);
        assert_eq!(v, Inbound::Drop(DropReason::ForeignSource));
        assert_eq!(
            leg.destination(PacketClass::Rtp).unwrap().1,
            addr("127.0.0.1:4000")
        );
        // Rebinding: the latched SSRC from a new address moves the latch.
        let r = forwarded(leg.inbound(SocketKind::Rtp, addr("127.0.0.1:6000"), &rtp(0xaaaa), t0));
        assert_eq!(r, Some(LatchReason::SsrcRebind));
        assert_eq!(
            leg.destination(PacketClass::Rtp).unwrap().1,
            addr("127.0.0.1:6000")
        );
        assert_eq!(leg.counters().relatches, 1);
        assert_eq!(leg.counters().foreign, 1);
        // The old address is now foreign.
        assert_eq!(
            leg.inbound(SocketKind::Rtp, addr("127.0.0.1:4000"), &rtp(0xcccc), t0),
            Inbound::Drop(DropReason::ForeignSource)
        );
    }

    #[test]
    fn weak_latch_yields_to_sdp_address() {
        let t0 = Instant::now();
        let mut leg = LegState::default();
        leg.set_remote(addr("192.0.2.1:4000"), None, false, t0);
        assert_eq!(
            forwarded(leg.inbound(SocketKind::Rtp, addr("198.51.100.9:7"), &rtp(1), t0)),
            Some(LatchReason::FirstInWindowPrivateSdp)
        );
        assert_eq!(
            forwarded(leg.inbound(SocketKind::Rtp, addr("192.0.2.1:4000"), &rtp(2), t0)),
            Some(LatchReason::UpgradeToSdpAddress)
        );
        // The racer's SSRC went with its weak latch, so it cannot rebind back.
        assert_eq!(
            leg.inbound(SocketKind::Rtp, addr("198.51.100.9:7"), &rtp(1), t0),
            Inbound::Drop(DropReason::ForeignSource)
        );
    }

    #[test]
    fn reinvite_same_address_keeps_latch_new_address_resets() {
        let t0 = Instant::now();
        let mut leg = LegState::new(Duration::from_secs(5));
        leg.set_remote(addr("10.1.1.1:4000"), None, false, t0);
        forwarded(leg.inbound(SocketKind::Rtp, addr("127.0.0.1:1234"), &rtp(1), t0));
        leg.set_remote(
            addr("10.1.1.1:4000"),
            None,
            false,
            t0 + Duration::from_secs(30),
        );
        assert_eq!(leg.latched(SocketKind::Rtp), Some(addr("127.0.0.1:1234")));
        leg.set_remote(
            addr("10.1.1.2:4000"),
            None,
            false,
            t0 + Duration::from_secs(31),
        );
        assert_eq!(leg.latched(SocketKind::Rtp), None);
        // The window restarted with the new offer.
        let r = forwarded(leg.inbound(
            SocketKind::Rtp,
            addr("127.0.0.1:999"),
            &rtp(5),
            t0 + Duration::from_secs(32),
        ));
        assert_eq!(r, Some(LatchReason::FirstInWindowPrivateSdp));
    }

    #[test]
    fn rtcp_mux_demux_and_destination() {
        let t0 = Instant::now();
        let mut leg = LegState::default();
        leg.set_remote(addr("127.0.0.1:4000"), None, true, t0);
        let sr = [0x80, 200, 0, 6, 0, 0, 0, 42, 0, 0, 0, 0];
        match leg.inbound(SocketKind::Rtp, addr("127.0.0.1:4000"), &sr, t0) {
            Inbound::Forward { info, .. } => assert_eq!(info.class, PacketClass::Rtcp),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            leg.destination(PacketClass::Rtcp),
            Some((SocketKind::Rtp, addr("127.0.0.1:4000")))
        );
        let mut plain = LegState::default();
        plain.set_remote(addr("127.0.0.1:4000"), None, false, t0);
        assert_eq!(
            plain.destination(PacketClass::Rtcp),
            Some((SocketKind::Rtcp, addr("127.0.0.1:4001")))
        );
        plain.set_remote(
            addr("127.0.0.1:4000"),
            Some(addr("127.0.0.1:5555")),
            false,
            t0,
        );
        assert_eq!(
            plain.destination(PacketClass::Rtcp),
            Some((SocketKind::Rtcp, addr("127.0.0.1:5555")))
        );
    }

    #[test]
    fn no_destination_on_hold_or_before_sdp() {
        let t0 = Instant::now();
        let mut leg = LegState::default();
        assert_eq!(leg.destination(PacketClass::Rtp), None);
        assert_eq!(
            leg.inbound(SocketKind::Rtp, addr("127.0.0.1:1"), &rtp(1), t0),
            Inbound::Drop(DropReason::NoRemote)
        );
        leg.set_remote(addr("0.0.0.0:4000"), None, false, t0);
        assert_eq!(leg.destination(PacketClass::Rtp), None);
        leg.set_remote(addr("127.0.0.1:0"), None, false, t0);
        assert_eq!(leg.destination(PacketClass::Rtp), None);
        leg.set_remote(addr("127.0.0.1:65535"), None, false, t0);
        assert_eq!(leg.destination(PacketClass::Rtcp), None);
    }

    #[test]
    fn malformed_counted_not_latched() {
        let t0 = Instant::now();
        let mut leg = LegState::default();
        leg.set_remote(addr("127.0.0.1:4000"), None, false, t0);
        assert!(matches!(
            leg.inbound(SocketKind::Rtp, addr("127.0.0.1:4000"), &[1, 2, 3], t0),
            Inbound::Drop(DropReason::Malformed(_))
        ));
        assert_eq!(leg.counters().malformed, 1);
        assert_eq!(leg.latched(SocketKind::Rtp), None);
    }

    #[test]
    fn unroutable_classification() {
        for s in [
            "10.0.0.5",
            "172.16.3.4",
            "192.168.1.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "192.0.2.3",
            "0.0.0.0",
            "fd00::1",
            "fe80::1",
            "::1",
            "2001:db8::5",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_unroutable(s.parse().unwrap()), "{s}");
        }
        for s in ["8.8.8.8", "100.128.0.1", "2a00:1450::1", "::ffff:8.8.8.8"] {
            assert!(!is_unroutable(s.parse().unwrap()), "{s}");
        }
    }
}

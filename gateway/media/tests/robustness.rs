//! Arbitrary datagrams and sources never panic the sans-IO layer, and the
//! latch never moves to a source that the policy does not allow.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use gateway_media::packet::inspect;
use gateway_media::{Inbound, LatchReason, LegState, PacketClass, SocketKind};
use proptest::prelude::*;

fn src(ip_last: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, ip_last)), port)
}

proptest! {
    #[test]
    fn inspect_never_panics(data in proptest::collection::vec(any::<u8>(), 0..80), rtcp_port: bool, mux: bool) {
        if let Ok(info) = inspect(&data, rtcp_port, mux) {
            prop_assert_eq!(data[0] >> 6, 2);
            let min = if info.class == PacketClass::Rtp { 12 } else { 8 };
            prop_assert!(data.len() >= min);
        }
    }

    /// Only the first source in the window may latch without the SDP IP; a
    /// strong latch (source IP = SDP IP) only moves by an SSRC rebind; the
    /// destination is always the latched source.
    #[test]
    fn strangers_never_take_a_strong_latch(
        packets in proptest::collection::vec((1u8..4, 1000u16..1004, 0u32..4, any::<bool>(), 0u64..20), 1..60)
    ) {
        let t0 = Instant::now();
        let sdp = src(1, 1000);
        let mut leg = LegState::new(Duration::from_secs(5));
        leg.set_remote(sdp, None, true, t0);
        let mut expected = None;
        let mut strong = false;
        for (ip, port, ssrc, as_rtcp, secs) in packets {
            let mut p = vec![0x80, if as_rtcp { 200 } else { 0 }, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            let ssrc_at = if as_rtcp { 4 } else { 8 };
            p[ssrc_at..ssrc_at + 4].copy_from_slice(&ssrc.to_be_bytes());
            let from = src(ip, port);
            match leg.inbound(SocketKind::Rtp, from, &p, t0 + Duration::from_secs(secs)) {
                Inbound::Forward { latched: Some(reason), .. } => {
                    match reason {
                        LatchReason::SdpAddress | LatchReason::UpgradeToSdpAddress => {
                            prop_assert!(!strong);
                            prop_assert_eq!(ip, 1);
                            strong = true;
                        }
                        LatchReason::FirstInWindowPrivateSdp | LatchReason::FirstInWindowMismatch => {
                            prop_assert!(expected.is_none() && secs <= 5);
                        }
                        LatchReason::SsrcRebind => {
                            prop_assert!(expected.is_some());
                            strong = ip == 1;
                        }
                    }
                    expected = Some(from);
                }
                Inbound::Forward { latched: None, .. } => prop_assert_eq!(Some(from), expected),
                Inbound::Drop(_) => {}
            }
            if let Some(e) = expected {
                prop_assert_eq!(leg.destination(PacketClass::Rtp).map(|d| d.1), Some(e));
            }
        }
    }
}

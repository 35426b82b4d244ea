use gateway_srtp::{SrtpContext, SrtpError, SrtpKey, SrtpOptions, SrtpSuite};
use proptest::prelude::*;

const SSRC: u32 = 0xcafe_f00d;

fn key(suite: SrtpSuite) -> SrtpKey {
    let material: Vec<u8> = (0..(suite.key_len() + suite.salt_len()) as u8)
        .map(|b| b.wrapping_mul(37).wrapping_add(11))
        .collect();
    SrtpKey::from_concatenated(suite, &material).unwrap()
}

fn pair(suite: SrtpSuite, opts: SrtpOptions) -> (SrtpContext, SrtpContext) {
    let k = key(suite);
    (
        SrtpContext::new(suite, &k, opts).unwrap(),
        SrtpContext::new(suite, &k, opts).unwrap(),
    )
}

fn rtp(seq: u16, ssrc: u32, payload_len: usize) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..payload_len).map(|i| (i as u8) ^ 0x55));
    p
}

/// A sender report with one report block: 52 bytes.
fn rtcp(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x81, 200, 0, 12];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..44).map(|i| i as u8));
    p
}

#[test]
fn every_suite_round_trips_rtp_and_rtcp() {
    for suite in SrtpSuite::ALL {
        let (mut tx, mut rx) = pair(suite, SrtpOptions::default());
        for seq in 1000..1010u16 {
            let plain = rtp(seq, SSRC, 160);
            let mut pkt = plain.clone();
            tx.protect_rtp(&mut pkt).unwrap();
            assert_eq!(pkt.len(), plain.len() + suite.tag_len(), "{suite}");
            assert_eq!(pkt[..12], plain[..12], "{suite}: header stays clear");
            assert_ne!(pkt[12..172], plain[12..], "{suite}: payload encrypted");
            rx.unprotect_rtp(&mut pkt).unwrap();
            assert_eq!(pkt, plain, "{suite}");
        }
        for _ in 0..3 {
            let plain = rtcp(SSRC);
            let mut pkt = plain.clone();
            tx.protect_rtcp(&mut pkt).unwrap();
            assert_eq!(pkt.len(), plain.len() + suite.rtcp_overhead(), "{suite}");
            assert_ne!(pkt[8..52], plain[8..], "{suite}: RTCP encrypted");
            rx.unprotect_rtcp(&mut pkt).unwrap();
            assert_eq!(pkt, plain, "{suite}");
        }
    }
}

#[test]
fn sha1_32_suite_uses_80_bit_tag_for_srtcp() {
    let suite = SrtpSuite::AesCm128HmacSha1_32;
    let (mut tx, _) = pair(suite, SrtpOptions::default());
    let mut p = rtp(1, SSRC, 20);
    tx.protect_rtp(&mut p).unwrap();
    assert_eq!(p.len(), 32 + 4);
    let mut c = rtcp(SSRC);
    tx.protect_rtcp(&mut c).unwrap();
    assert_eq!(c.len(), 52 + 4 + 10);
    // The E flag is set and the first SRTCP index is 0.
    assert_eq!(c[52..56], [0x80, 0, 0, 0]);
}

#[test]
fn headers_with_csrcs_extensions_and_empty_payloads_round_trip() {
    for suite in SrtpSuite::ALL {
        let (mut tx, mut rx) = pair(suite, SrtpOptions::default());
        let mut plain = vec![0x91, 0x60, 0x00, 0x07, 0, 0, 0, 9];
        plain.extend_from_slice(&SSRC.to_be_bytes());
        plain.extend_from_slice(&[1, 2, 3, 4]); // CSRC
        plain.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]); // one-byte ext
        let hdr = plain.len();
        for payload in [0usize, 1, 15, 16, 17, 127, 128, 129, 1200] {
            let mut p = plain.clone();
            p.extend(std::iter::repeat_n(0xa5, payload));
            let orig = p.clone();
            tx.protect_rtp(&mut p).unwrap();
            assert_eq!(p[..hdr], orig[..hdr], "{suite}");
            rx.unprotect_rtp(&mut p).unwrap();
            assert_eq!(p, orig, "{suite} payload {payload}");
            plain[3] = plain[3].wrapping_add(1);
        }
    }
}

#[test]
fn any_flipped_bit_is_refused() {
    for suite in SrtpSuite::ALL {
        let (mut tx, _) = pair(suite, SrtpOptions::default());
        let mut p = rtp(5, SSRC, 40);
        tx.protect_rtp(&mut p).unwrap();
        let mut c = rtcp(SSRC);
        tx.protect_rtcp(&mut c).unwrap();
        for i in 0..p.len() {
            let (_, mut rx) = pair(suite, SrtpOptions::default());
            let mut bad = p.clone();
            bad[i] ^= 0x04;
            let before = bad.clone();
            assert!(rx.unprotect_rtp(&mut bad).is_err(), "{suite} RTP byte {i}");
            assert_eq!(bad, before, "{suite}: refused packet left as given");
        }
        for i in 0..c.len() {
            let (_, mut rx) = pair(suite, SrtpOptions::default());
            let mut bad = c.clone();
            bad[i] ^= 0x04;
            assert!(
                rx.unprotect_rtcp(&mut bad).is_err(),
                "{suite} RTCP byte {i}"
            );
        }
        // Payload and tag damage is an authentication failure, not something else.
        let (_, mut rx) = pair(suite, SrtpOptions::default());
        let mut bad = p.clone();
        bad[20] ^= 1;
        assert_eq!(rx.unprotect_rtp(&mut bad), Err(SrtpError::AuthFailed));
    }
}

#[test]
fn wrong_key_is_refused() {
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let (mut tx, _) = pair(suite, SrtpOptions::default());
    let other = SrtpKey::from_concatenated(suite, &[9u8; 30]).unwrap();
    let mut rx = SrtpContext::new(suite, &other, SrtpOptions::default()).unwrap();
    let mut p = rtp(1, SSRC, 160);
    tx.protect_rtp(&mut p).unwrap();
    assert_eq!(rx.unprotect_rtp(&mut p), Err(SrtpError::AuthFailed));
    // A packet that failed does not make its SSRC known.
    assert_eq!(rx.rx_roc(SSRC), None);
}

#[test]
fn replays_are_refused_and_reordering_inside_the_window_is_not() {
    for suite in SrtpSuite::ALL {
        let (mut tx, mut rx) = pair(suite, SrtpOptions::default());
        let protected: Vec<Vec<u8>> = (0..200u16)
            .map(|s| {
                let mut p = rtp(s, SSRC, 20);
                tx.protect_rtp(&mut p).unwrap();
                p
            })
            .collect();
        for i in [0usize, 2, 1, 5, 4, 3] {
            let mut p = protected[i].clone();
            rx.unprotect_rtp(&mut p).unwrap();
        }
        let mut again = protected[4].clone();
        assert_eq!(
            rx.unprotect_rtp(&mut again),
            Err(SrtpError::Replayed {
                ssrc: SSRC,
                index: 4
            })
        );
        let mut p = protected[199].clone();
        rx.unprotect_rtp(&mut p).unwrap();
        // Inside the 128-packet window: late but fine, once.
        let mut late = protected[80].clone();
        rx.unprotect_rtp(&mut late).unwrap();
        let mut late = protected[80].clone();
        assert!(matches!(
            rx.unprotect_rtp(&mut late),
            Err(SrtpError::Replayed { .. })
        ));
        let mut stale = protected[60].clone();
        assert_eq!(
            rx.unprotect_rtp(&mut stale),
            Err(SrtpError::TooOld {
                ssrc: SSRC,
                index: 60
            })
        );

        let mut c = rtcp(SSRC);
        tx.protect_rtcp(&mut c).unwrap();
        let copy = c.clone();
        rx.unprotect_rtcp(&mut c).unwrap();
        let mut c = copy;
        assert!(
            matches!(rx.unprotect_rtcp(&mut c), Err(SrtpError::Replayed { .. })),
            "{suite}"
        );
    }
}

#[test]
fn rollover_across_65535_with_reordering() {
    for suite in SrtpSuite::ALL {
        let (mut tx, mut rx) = pair(suite, SrtpOptions::default());
        let seqs: Vec<u16> = (65500..=65535).chain(0..40).collect();
        let protected: Vec<(u16, Vec<u8>)> = seqs
            .iter()
            .map(|&s| {
                let mut p = rtp(s, SSRC, 30);
                tx.protect_rtp(&mut p).unwrap();
                (s, p)
            })
            .collect();
        assert_eq!(tx.tx_roc(SSRC), Some(1));
        // Deliver with the packets around the wrap shuffled: 0 and 1 before
        // 65534/65535, and a ROC-0 straggler after ROC 1 is established.
        let order: Vec<usize> = {
            let mut o: Vec<usize> = (0..protected.len()).collect();
            let pos = |s: u16| seqs.iter().position(|&x| x == s).unwrap();
            o.retain(|&i| ![65534, 65535, 0, 1, 65530].contains(&seqs[i]));
            let at = o.iter().position(|&i| seqs[i] == 2).unwrap();
            for s in [65530, 65535, 65534, 1, 0] {
                o.insert(at, pos(s));
            }
            o
        };
        for i in order {
            let (s, ref p) = protected[i];
            let mut p = p.clone();
            rx.unprotect_rtp(&mut p)
                .unwrap_or_else(|e| panic!("{suite} seq {s}: {e}"));
            assert_eq!(p, rtp(s, SSRC, 30), "{suite} seq {s}");
        }
        assert_eq!(rx.rx_roc(SSRC), Some(1));
        // The same sequence number one ROC earlier is a different packet:
        // replaying seq 65535 (ROC 0) is caught.
        let (_, p) = protected.iter().find(|(s, _)| *s == 65535).unwrap();
        let mut p = p.clone();
        assert!(matches!(
            rx.unprotect_rtp(&mut p),
            Err(SrtpError::Replayed { index: 65535, .. })
        ));
    }
}

#[test]
fn a_packet_from_the_previous_roc_decrypts_with_that_roc() {
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let (mut tx, mut rx) = pair(suite, SrtpOptions::default());
    let mut wrap = Vec::new();
    for s in [65534u16, 65535, 0] {
        let mut p = rtp(s, SSRC, 10);
        tx.protect_rtp(&mut p).unwrap();
        wrap.push(p);
    }
    let mut first = wrap[0].clone();
    rx.unprotect_rtp(&mut first).unwrap();
    let mut after = wrap[2].clone();
    rx.unprotect_rtp(&mut after).unwrap();
    assert_eq!(rx.rx_roc(SSRC), Some(1));
    let mut late = wrap[1].clone();
    rx.unprotect_rtp(&mut late).unwrap();
    assert_eq!(late, rtp(65535, SSRC, 10));
    assert_eq!(rx.rx_roc(SSRC), Some(1));
}

#[test]
fn ssrc_count_is_bounded_and_forged_ssrcs_do_not_fill_it() {
    let suite = SrtpSuite::AeadAes128Gcm;
    let opts = SrtpOptions {
        max_ssrcs: 4,
        ..SrtpOptions::default()
    };
    let (mut tx, mut rx) = pair(suite, opts);
    // Unauthentic packets from many SSRCs are refused without being remembered.
    for ssrc in 100..200 {
        let mut junk = rtp(1, ssrc, 40);
        assert_eq!(rx.unprotect_rtp(&mut junk), Err(SrtpError::AuthFailed));
    }
    for ssrc in 1..=4 {
        let mut p = rtp(1, ssrc, 40);
        tx.protect_rtp(&mut p).unwrap();
        rx.unprotect_rtp(&mut p).unwrap();
    }
    let mut p = rtp(1, 5, 40);
    assert_eq!(
        tx.protect_rtp(&mut p),
        Err(SrtpError::TooManySsrcs { ssrc: 5, limit: 4 })
    );
    let mut other_tx = pair(suite, SrtpOptions::default()).0;
    other_tx.protect_rtp(&mut p).unwrap();
    let sent = p.clone();
    assert_eq!(
        rx.unprotect_rtp(&mut p),
        Err(SrtpError::TooManySsrcs { ssrc: 5, limit: 4 })
    );
    // Forgetting an SSRC frees its slot.
    rx.remove_ssrc(2);
    assert_eq!(rx.rx_roc(2), None);
    let mut p = sent;
    rx.unprotect_rtp(&mut p).unwrap();
    assert_eq!(rx.rx_roc(5), Some(0));
}

#[test]
fn polycom_unencrypted_srtp_and_srtcp_are_authenticated_but_clear() {
    for suite in SrtpSuite::ALL {
        let opts = SrtpOptions {
            encrypt_rtp: false,
            encrypt_rtcp: false,
            ..SrtpOptions::default()
        };
        let (mut tx, mut rx) = pair(suite, opts);
        let plain = rtp(7, SSRC, 160);
        let mut p = plain.clone();
        tx.protect_rtp(&mut p).unwrap();
        assert_eq!(p[..plain.len()], plain[..], "{suite}: payload in the clear");
        assert_eq!(p.len(), plain.len() + suite.tag_len());
        let mut bad = p.clone();
        bad[50] ^= 1;
        assert_eq!(
            rx.unprotect_rtp(&mut bad),
            Err(SrtpError::AuthFailed),
            "{suite}"
        );
        rx.unprotect_rtp(&mut p).unwrap();
        assert_eq!(p, plain);

        let plain = rtcp(SSRC);
        let mut c = plain.clone();
        tx.protect_rtcp(&mut c).unwrap();
        assert_eq!(c[..plain.len()], plain[..], "{suite}: RTCP in the clear");
        let trailer_at = if suite.is_aead() {
            c.len() - 4
        } else {
            plain.len()
        };
        assert_eq!(c[trailer_at] & 0x80, 0, "{suite}: E flag clear");
        // A receiver that expected encryption follows the E flag.
        let mut strict_rx = pair(suite, SrtpOptions::default()).1;
        strict_rx.unprotect_rtcp(&mut c).unwrap();
        assert_eq!(c, plain);
    }
}

#[test]
fn unauthenticated_srtp_has_no_tag_and_is_refused_for_aead() {
    let opts = SrtpOptions {
        auth_rtp: false,
        ..SrtpOptions::default()
    };
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let (mut tx, mut rx) = pair(suite, opts);
    let plain = rtp(9, SSRC, 100);
    let mut p = plain.clone();
    tx.protect_rtp(&mut p).unwrap();
    assert_eq!(p.len(), plain.len());
    assert_ne!(p, plain);
    rx.unprotect_rtp(&mut p).unwrap();
    assert_eq!(p, plain);
    // SRTCP keeps its tag.
    let mut c = rtcp(SSRC);
    tx.protect_rtcp(&mut c).unwrap();
    assert_eq!(c.len(), 52 + 14);

    let k = key(SrtpSuite::AeadAes128Gcm);
    assert!(matches!(
        SrtpContext::new(SrtpSuite::AeadAes128Gcm, &k, opts),
        Err(SrtpError::BadOption(_))
    ));
}

#[test]
fn bad_keys_and_options_are_refused() {
    let suite = SrtpSuite::AeadAes256Gcm;
    assert!(matches!(
        SrtpKey::from_concatenated(suite, &[0; 30]),
        Err(SrtpError::BadKeyLength {
            expected_key: 32,
            expected_salt: 12,
            ..
        })
    ));
    let k = key(suite);
    assert!(SrtpContext::new(SrtpSuite::AeadAes128Gcm, &k, SrtpOptions::default()).is_err());
    for opts in [
        SrtpOptions {
            replay_window: 32,
            ..SrtpOptions::default()
        },
        SrtpOptions {
            replay_window: 129,
            ..SrtpOptions::default()
        },
        SrtpOptions {
            max_ssrcs: 0,
            ..SrtpOptions::default()
        },
    ] {
        assert!(SrtpContext::new(suite, &k, opts).is_err(), "{opts:?}");
    }
}

#[test]
fn debug_output_never_shows_keys() {
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let k = SrtpKey::from_concatenated(suite, &[0xab; 30]).unwrap();
    let ctx = SrtpContext::new(suite, &k, SrtpOptions::default()).unwrap();
    for text in [format!("{k:?}"), format!("{ctx:?}"), format!("{k:#?}")] {
        assert!(text.contains("redacted"), "{text}");
        assert!(
            !text.to_lowercase().contains("ab, ab") && !text.contains("171"),
            "{text}"
        );
    }
}

#[test]
fn short_and_malformed_input_is_an_error() {
    for suite in SrtpSuite::ALL {
        let (_, mut rx) = pair(suite, SrtpOptions::default());
        for len in 0..40 {
            let mut p = vec![0x80; len];
            assert!(rx.unprotect_rtp(&mut p).is_err());
            let mut p = vec![0x80; len];
            assert!(rx.unprotect_rtcp(&mut p).is_err());
        }
        let mut p = vec![0x8f; 60]; // 15 CSRCs claimed
        assert_eq!(rx.unprotect_rtp(&mut p), Err(SrtpError::BadHeader));
        let mut tx = pair(suite, SrtpOptions::default()).0;
        let mut p = vec![0x80; 11];
        assert!(matches!(
            tx.protect_rtp(&mut p),
            Err(SrtpError::TooShort { .. })
        ));
    }
}

#[test]
fn protect_does_not_reallocate_a_buffer_with_room() {
    for suite in SrtpSuite::ALL {
        let (mut tx, mut rx) = pair(suite, SrtpOptions::default());
        let mut buf = Vec::with_capacity(172 + suite.rtcp_overhead());
        let ptr = buf.as_ptr();
        for seq in 0..50 {
            buf.clear();
            buf.extend_from_slice(&rtp(seq, SSRC, 160));
            tx.protect_rtp(&mut buf).unwrap();
            rx.unprotect_rtp(&mut buf).unwrap();
            buf.clear();
            buf.extend_from_slice(&rtcp(SSRC));
            tx.protect_rtcp(&mut buf).unwrap();
            rx.unprotect_rtcp(&mut buf).unwrap();
        }
        assert_eq!(buf.as_ptr(), ptr, "{suite}");
    }
}

proptest! {
    #[test]
    fn unprotect_inverts_protect(
        suite_i in 0usize..4,
        start in any::<u16>(),
        ssrc in any::<u32>(),
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..12),
        clear_rtp in any::<bool>(),
        clear_rtcp in any::<bool>(),
    ) {
        let suite = SrtpSuite::ALL[suite_i];
        let opts = SrtpOptions { encrypt_rtp: !clear_rtp, encrypt_rtcp: !clear_rtcp, ..SrtpOptions::default() };
        let (mut tx, mut rx) = pair(suite, opts);
        for (i, payload) in payloads.iter().enumerate() {
            let mut plain = rtp(start.wrapping_add(i as u16), ssrc, 0);
            plain.extend_from_slice(payload);
            let mut p = plain.clone();
            tx.protect_rtp(&mut p).unwrap();
            rx.unprotect_rtp(&mut p).unwrap();
            prop_assert_eq!(&p, &plain);

            let mut plain = rtcp(ssrc);
            plain.extend_from_slice(payload);
            let mut c = plain.clone();
            tx.protect_rtcp(&mut c).unwrap();
            rx.unprotect_rtcp(&mut c).unwrap();
            prop_assert_eq!(&c, &plain);
        }
    }

    #[test]
    fn garbage_never_panics(suite_i in 0usize..4, bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (_, mut rx) = pair(SrtpSuite::ALL[suite_i], SrtpOptions::default());
        let mut p = bytes.clone();
        prop_assert!(rx.unprotect_rtp(&mut p).is_err());
        let mut p = bytes;
        prop_assert!(rx.unprotect_rtcp(&mut p).is_err());
    }
}

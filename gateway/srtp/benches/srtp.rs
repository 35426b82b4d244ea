//! protect + unprotect of one 172-byte RTP packet (12-byte header, 160-byte
//! G.711 payload) per suite. With `--features bench-webrtc` the same work
//! is also timed with the `webrtc-srtp` crate as a reference.
//!
//! `cargo bench -p gateway-srtp [--features bench-webrtc]`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gateway_srtp::{SrtpContext, SrtpKey, SrtpOptions, SrtpSuite};

const SSRC: u32 = 0x1234_5678;

#[cfg_attr(not(feature = "bench-webrtc"), allow(dead_code))]
fn rtp_packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend_from_slice(&[0xd5; 160]);
    p
}

fn key_material(suite: SrtpSuite) -> Vec<u8> {
    (0..(suite.key_len() + suite.salt_len()) as u8)
        .map(|b| b.wrapping_mul(29).wrapping_add(3))
        .collect()
}

fn ours(c: &mut Criterion) {
    let mut group = c.benchmark_group("protect+unprotect 172B RTP");
    group.throughput(Throughput::Elements(1));
    for suite in SrtpSuite::ALL {
        let key = SrtpKey::from_concatenated(suite, &key_material(suite)).unwrap();
        let mut tx = SrtpContext::new(suite, &key, SrtpOptions::default()).unwrap();
        let mut rx = SrtpContext::new(suite, &key, SrtpOptions::default()).unwrap();
        let mut buf = Vec::with_capacity(172 + suite.rtp_overhead());
        let mut seq = 0u16;
        group.bench_function(format!("gateway-srtp/{suite}"), |b| {
            b.iter(|| {
                buf.clear();
                // Header and payload, as a relay copies a received packet.
                buf.extend_from_slice(&[0x80, 0x00]);
                buf.extend_from_slice(&seq.to_be_bytes());
                buf.extend_from_slice(&[0, 0, 0, 0]);
                buf.extend_from_slice(&SSRC.to_be_bytes());
                buf.extend_from_slice(&[0xd5; 160]);
                seq = seq.wrapping_add(1);
                tx.protect_rtp(&mut buf).unwrap();
                rx.unprotect_rtp(&mut buf).unwrap();
                black_box(&buf);
            })
        });
    }
    group.finish();
}

#[cfg(feature = "bench-webrtc")]
fn reference(c: &mut Criterion) {
    use webrtc_srtp::context::Context;
    use webrtc_srtp::protection_profile::ProtectionProfile;

    let mut group = c.benchmark_group("protect+unprotect 172B RTP");
    group.throughput(Throughput::Elements(1));
    for (suite, profile) in [
        (
            SrtpSuite::AesCm128HmacSha1_80,
            ProtectionProfile::Aes128CmHmacSha1_80,
        ),
        (
            SrtpSuite::AesCm128HmacSha1_32,
            ProtectionProfile::Aes128CmHmacSha1_32,
        ),
        (SrtpSuite::AeadAes128Gcm, ProtectionProfile::AeadAes128Gcm),
        (SrtpSuite::AeadAes256Gcm, ProtectionProfile::AeadAes256Gcm),
    ] {
        let m = key_material(suite);
        let (k, s) = m.split_at(suite.key_len());
        let mut tx = Context::new(k, s, profile, None, None).unwrap();
        let mut rx = Context::new(k, s, profile, None, None).unwrap();
        let mut seq = 0u16;
        let mut pkt = rtp_packet(0);
        group.bench_function(format!("webrtc-srtp/{suite}"), |b| {
            b.iter(|| {
                pkt[2..4].copy_from_slice(&seq.to_be_bytes());
                seq = seq.wrapping_add(1);
                let protected = tx.encrypt_rtp(&pkt).unwrap();
                let plain = rx.decrypt_rtp(&protected).unwrap();
                black_box(plain);
            })
        });
    }
    group.finish();
}

#[cfg(not(feature = "bench-webrtc"))]
fn reference(_: &mut Criterion) {
    eprintln!("webrtc-srtp reference skipped: build with --features bench-webrtc");
}

/// Cross-check outside the timed loop: both implementations must produce
/// byte-identical SRTP for the same master key (which also pins our key
/// derivation for the AEAD suites), and read each other's SRTCP, or the
/// comparison is meaningless.
#[cfg(feature = "bench-webrtc")]
fn cross_check() {
    use webrtc_srtp::context::Context;
    for (suite, profile) in profiles() {
        let m = key_material(suite);
        let (k, s) = m.split_at(suite.key_len());
        let mut theirs = Context::new(k, s, profile, None, None).unwrap();
        let mut theirs_rx = Context::new(k, s, profile, None, None).unwrap();
        let key = SrtpKey::from_concatenated(suite, &m).unwrap();
        let mut mine = SrtpContext::new(suite, &key, SrtpOptions::default()).unwrap();
        let mut mine_rx = SrtpContext::new(suite, &key, SrtpOptions::default()).unwrap();
        for seq in [65534u16, 65535, 0, 1, 2] {
            let mut pkt = rtp_packet(seq);
            let reference = theirs.encrypt_rtp(&pkt).unwrap();
            mine.protect_rtp(&mut pkt).unwrap();
            assert_eq!(&pkt[..], &reference[..], "{suite} seq {seq}: SRTP differs");
        }
        let mut sr = vec![0x80, 200, 0, 6];
        sr.extend_from_slice(&SSRC.to_be_bytes());
        sr.extend_from_slice(&[0x11; 20]);
        let theirs_srtcp = theirs.encrypt_rtcp(&sr).unwrap();
        let mut buf = theirs_srtcp.to_vec();
        mine_rx.unprotect_rtcp(&mut buf).unwrap();
        assert_eq!(buf, sr, "{suite}: their SRTCP");
        let mut buf = sr.clone();
        mine.protect_rtcp(&mut buf).unwrap();
        let back = theirs_rx.decrypt_rtcp(&buf).unwrap();
        assert_eq!(&back[..], &sr[..], "{suite}: our SRTCP");
    }
    eprintln!("cross-check with webrtc-srtp: identical SRTP, mutually readable SRTCP");
}

#[cfg(feature = "bench-webrtc")]
fn profiles() -> [(
    SrtpSuite,
    webrtc_srtp::protection_profile::ProtectionProfile,
); 4] {
    use webrtc_srtp::protection_profile::ProtectionProfile;
    [
        (
            SrtpSuite::AesCm128HmacSha1_80,
            ProtectionProfile::Aes128CmHmacSha1_80,
        ),
        (
            SrtpSuite::AesCm128HmacSha1_32,
            ProtectionProfile::Aes128CmHmacSha1_32,
        ),
        (SrtpSuite::AeadAes128Gcm, ProtectionProfile::AeadAes128Gcm),
        (SrtpSuite::AeadAes256Gcm, ProtectionProfile::AeadAes256Gcm),
    ]
}

fn all(c: &mut Criterion) {
    #[cfg(feature = "bench-webrtc")]
    cross_check();
    ours(c);
    reference(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = all
}
criterion_main!(benches);

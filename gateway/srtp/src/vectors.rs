//! Published test vectors: RFC 3711 Appendix B and RFC 7714 §16–17. The
//! RFC 7714 vectors are stated on session keys, so they enter below the
//! key derivation.

use crate::context::SrtpContext;
use crate::kdf::{self, Prf};
use crate::transform::Transform;
use crate::{SrtpError, SrtpKey, SrtpOptions, SrtpSuite};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).unwrap()
}

#[test]
fn rfc3711_b2_aes_cm_keystream() {
    let key: [u8; 16] = h("2B7E151628AED2A6ABF7158809CF4F3C").try_into().unwrap();
    let salt: [u8; 14] = h("F0F1F2F3F4F5F6F7F8F9FAFBFCFD").try_into().unwrap();
    let iv = Transform::cm_iv(&salt, 0, 0);
    assert_eq!(iv.to_vec(), h("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"));
    let mut ks = vec![0u8; 16 * 0xff02];
    kdf::keystream_for_test(&key, iv, &mut ks);
    let block = |i: usize| hex::encode_upper(&ks[16 * i..16 * i + 16]);
    assert_eq!(block(0), "E03EAD0935C95E80E166B16DD92B4EB4");
    assert_eq!(block(1), "D23513162B02D0F72A43A2FE4A5F97AB");
    assert_eq!(block(2), "41E95B3BB0A2E8DD477901E4FCA894C0");
    assert_eq!(block(0xfeff), "EC8CDF7398607CB0F2D21675EA9EA1E4");
    assert_eq!(block(0xff00), "362B7C3C6773516318A077D7FC5073AE");
    assert_eq!(block(0xff01), "6A2CC3787889374FBEB4C81B17BA6C44");
}

#[test]
fn rfc3711_b3_key_derivation() {
    let master = SrtpKey::new(
        SrtpSuite::AesCm128HmacSha1_80,
        &h("E1F97A0D3E018BE0D64FA32C06DE4139"),
        &h("0EC675AD498AFEEBB6960B3AABE6"),
    )
    .unwrap();
    let prf = Prf::new(&master);
    let mut enc = [0u8; 16];
    prf.derive(&master, kdf::LABEL_RTP_ENCRYPTION, &mut enc);
    assert_eq!(enc.to_vec(), h("C61E7A93744F39EE10734AFE3FF7A087"));
    let mut salt = [0u8; 14];
    prf.derive(&master, kdf::LABEL_RTP_SALT, &mut salt);
    assert_eq!(salt.to_vec(), h("30CBBC08863D8C85D49DB34A9AE1"));
    let mut auth = [0u8; 94];
    prf.derive(&master, kdf::LABEL_RTP_AUTH, &mut auth);
    assert_eq!(
        auth.to_vec(),
        h(
            "CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE
           E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25
           6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2"
        )
    );
}

const GCM_KEY_128: &str = "000102030405060708090a0b0c0d0e0f";
const GCM_KEY_256: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// "Quid pro quo"
const GCM_SALT: &str = "517569642070726f2071756f";
/// RFC 7714 §16: SSRC 0x5501a0b2, seq 0xf17b, ROC 0.
const RTP: &str = "8040f17b8041f8d35501a0b2 47616c6c696120657374206f6d6e6973
                   2064697669736120696e207061727465732074726573";
const SRTP_128: &str = "8040f17b8041f8d35501a0b2 f24de3a3fb34de6cacba861c9d7e4bca
                        be633bd50d294e6f42a5f47a51c7d19b36de3adf8833
                        899d7f27beb16a9152cf765ee4390cce";
const SRTP_256: &str = "8040f17b8041f8d35501a0b2 32b1de78a822fe12ef9f78fa332e33aa
                        b18012389a58e2f3b50b2a0276ffae0f1ba63799b87b
                        7aa3db36dfffd6b0f9bb7878d7a76c13";
/// RFC 7714 §17.1–17.4 work on this packet (SSRC "Mars"), SRTCP index 0x5d4.
const RTCP: &str = "81c8000d4d617273 4e5450314e545032525450200000042a0000e930
                    4c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";
const SRTCP_128: &str = "81c8000d4d617273 63e94885dcdab67ca727d7662f6b7e997ff5c0f7
                         6c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275bc84aa458
                         96cf4d2fc5abf87245d9eade 800005d4";
const SRTCP_256: &str = "81c8000d4d617273 d50ae4d1f5ce5d304ba297e47d470c282c3ece5d
                         bffe0a50a2eaa5c1110555be8415f658c61de0476f1b6fad1d1eb30c
                         4446839f57ff6f6cb26ac3be 800005d4";
/// §17.3: authenticated only, E flag clear.
const SRTCP_128_TAG_ONLY: &str = "81c8000d4d6172734e5450314e545032525450200000042a0000e930
                                  4c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef
                                  841dd9683dd78ec92ae58790125f62b3 000005d4";
const MARS: u32 = 0x4d61_7273;

fn gcm_context(suite: SrtpSuite, key: &str, opts: SrtpOptions) -> SrtpContext {
    let (k, s) = (h(key), h(GCM_SALT));
    SrtpContext::from_transforms(suite, opts, Transform::gcm(&k, &s), Transform::gcm(&k, &s))
        .unwrap()
}

#[test]
fn rfc7714_16_srtp_gcm() {
    for (suite, key, expected) in [
        (SrtpSuite::AeadAes128Gcm, GCM_KEY_128, SRTP_128),
        (SrtpSuite::AeadAes256Gcm, GCM_KEY_256, SRTP_256),
    ] {
        let mut pkt = h(RTP);
        gcm_context(suite, key, SrtpOptions::default())
            .protect_rtp(&mut pkt)
            .unwrap();
        assert_eq!(hex::encode(&pkt), hex::encode(h(expected)), "{suite}");

        let mut rx = gcm_context(suite, key, SrtpOptions::default());
        rx.unprotect_rtp(&mut pkt).unwrap();
        assert_eq!(pkt, h(RTP), "{suite}");

        // §16.1.2/§16.2.2 also check that a damaged tag is refused.
        let mut bad = h(expected);
        *bad.last_mut().unwrap() ^= 1;
        let mut rx = gcm_context(suite, key, SrtpOptions::default());
        assert_eq!(rx.unprotect_rtp(&mut bad), Err(SrtpError::AuthFailed));
    }
}

#[test]
fn rfc7714_17_srtcp_gcm() {
    for (suite, key, expected) in [
        (SrtpSuite::AeadAes128Gcm, GCM_KEY_128, SRTCP_128),
        (SrtpSuite::AeadAes256Gcm, GCM_KEY_256, SRTCP_256),
    ] {
        let mut tx = gcm_context(suite, key, SrtpOptions::default());
        tx.set_next_srtcp_index(MARS, 0x5d4);
        let mut pkt = h(RTCP);
        tx.protect_rtcp(&mut pkt).unwrap();
        assert_eq!(hex::encode(&pkt), hex::encode(h(expected)), "{suite}");

        let mut rx = gcm_context(suite, key, SrtpOptions::default());
        rx.unprotect_rtcp(&mut pkt).unwrap();
        assert_eq!(pkt, h(RTCP), "{suite}");
    }
}

#[test]
fn rfc7714_17_3_srtcp_gcm_authenticated_only() {
    let unencrypted = SrtpOptions {
        encrypt_rtcp: false,
        ..SrtpOptions::default()
    };
    let mut tx = gcm_context(SrtpSuite::AeadAes128Gcm, GCM_KEY_128, unencrypted);
    tx.set_next_srtcp_index(MARS, 0x5d4);
    let mut pkt = h(RTCP);
    tx.protect_rtcp(&mut pkt).unwrap();
    assert_eq!(hex::encode(&pkt), hex::encode(h(SRTCP_128_TAG_ONLY)));

    // §17.4: a receiver configured for encryption still follows the E flag.
    let mut rx = gcm_context(
        SrtpSuite::AeadAes128Gcm,
        GCM_KEY_128,
        SrtpOptions::default(),
    );
    let mut tampered = pkt.clone();
    tampered[20] ^= 0x40;
    assert_eq!(rx.unprotect_rtcp(&mut tampered), Err(SrtpError::AuthFailed));
    // A refused packet is handed back untouched.
    let mut expect_tampered = h(SRTCP_128_TAG_ONLY);
    expect_tampered[20] ^= 0x40;
    assert_eq!(tampered, expect_tampered);
    rx.unprotect_rtcp(&mut pkt).unwrap();
    assert_eq!(pkt, h(RTCP));
}

//! From an SDES `a=crypto` line (gateway-sdp) to working SRTP contexts, as
//! the media layer will wire them.

use gateway_sdp::crypto::{SdesCrypto, SdesSuite, SessionParam};
use gateway_srtp::{SrtpContext, SrtpKey, SrtpOptions, SrtpSuite};

fn context(line: &SdesCrypto) -> SrtpContext {
    let suite = SrtpSuite::from_sdes_name(line.suite.name()).expect("same suite names");
    let key = SrtpKey::from_concatenated(suite, line.single_key().unwrap().material()).unwrap();
    let opts = SrtpOptions {
        encrypt_rtp: !line.has(&SessionParam::UnencryptedSrtp),
        encrypt_rtcp: !line.has(&SessionParam::UnencryptedSrtcp),
        auth_rtp: !line.has(&SessionParam::UnauthenticatedSrtp),
        ..SrtpOptions::default()
    };
    SrtpContext::new(suite, &key, opts).unwrap()
}

#[test]
fn suite_tables_agree_between_sdp_and_srtp() {
    for s in SdesSuite::ALL {
        let ours = SrtpSuite::from_sdes_name(s.name()).unwrap();
        assert_eq!(ours.sdes_name(), s.name());
        assert_eq!(ours.key_len(), s.key_len(), "{s}");
        assert_eq!(ours.salt_len(), s.salt_len(), "{s}");
    }
    assert_eq!(SrtpSuite::ALL.len(), SdesSuite::ALL.len());
}

#[test]
fn polycom_line_keys_an_unencrypted_srtcp_context() {
    let line = SdesCrypto::parse(
        "2 AES_CM_128_HMAC_SHA1_32 inline:c2Vjb25kdGVzdGtleW1hdGVyaWFsNjc4OWFiY2Rl|2^48 UNENCRYPTED_SRTCP",
    )
    .unwrap();
    let (mut tx, mut rx) = (context(&line), context(&line));
    let mut rtcp = vec![0x81, 201, 0, 1, 0, 0, 0, 9];
    let plain = rtcp.clone();
    tx.protect_rtcp(&mut rtcp).unwrap();
    assert_eq!(rtcp[..8], plain[..]);
    assert_eq!(rtcp[8], 0x00, "E flag clear");
    assert_eq!(rtcp.len(), 8 + 4 + 10, "80-bit SRTCP tag for the _32 suite");
    rx.unprotect_rtcp(&mut rtcp).unwrap();
    assert_eq!(rtcp, plain);
}

#[test]
fn generated_keys_work_for_every_suite() {
    for s in SdesSuite::ALL {
        let offer = SdesCrypto::generate(1, s);
        // What the peer parses from our SDP keys its receiver.
        let seen = SdesCrypto::parse(&offer.to_string()).unwrap();
        let (mut tx, mut rx) = (context(&offer), context(&seen));
        let mut pkt = vec![0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        pkt.extend_from_slice(&[0xff; 160]);
        let plain = pkt.clone();
        tx.protect_rtp(&mut pkt).unwrap();
        rx.unprotect_rtp(&mut pkt).unwrap();
        assert_eq!(pkt, plain, "{s}");
    }
}

use super::*;
use crate::h225::{RasMessage, RegistrationRequest};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const TS: u32 = 1_700_000_000;

fn room() -> Vec<AliasAddress> {
    vec![
        AliasAddress::H323Id("room-2001".into()),
        AliasAddress::DialedDigits("2001".into()),
    ]
}

fn expect<'a>(aliases: &'a [AliasAddress], password: &'a str) -> Expect<'a> {
    Expect {
        password,
        aliases,
        endpoint_identifier: Some("GK-000001"),
        gatekeeper_identifier: "GK",
        unix_now: TS as u64 + 20,
        window: Duration::from_secs(300),
    }
}

fn sec_with(tokens: &[CryptoH323Token]) -> RasSecurity {
    RasSecurity {
        crypto_tokens: Some(encode_crypto_tokens(tokens).unwrap()),
        ..Default::default()
    }
}

#[test]
fn hmac_sha1_matches_rfc_2202() {
    // RFC 2202 test cases 1 and 2, truncated to 96 bits (RFC 2104 section 5)
    assert_eq!(
        hmac_sha1_96_keyed(&[0x0b; 20], b"Hi There").to_vec(),
        unhex("b617318655057264e28bc0b6")
    );
    assert_eq!(
        hmac_sha1_96_keyed(b"Jefe", b"what do ya want for nothing?").to_vec(),
        unhex("effcdf6ae5eb2fa2d27416d5")
    );
    // the H.235.1 key is SHA-1 of the password (Python hmac/hashlib)
    assert_eq!(
        hmac_sha1_96("secret", b"abc").to_vec(),
        unhex("af1a27e5381bcc58870b2b3b")
    );
}

#[test]
fn md5_password_clear_token_encodes_as_pycrate_does() {
    // pycrate 0.8.1, H235-SECURITY-MESSAGES.ClearToken {tokenOID 0.0,
    // timeStamp 1700000000, password "secret\0", generalID "room-2001\0"}
    // to_aper(), and its MD5 from Python's hashlib.
    let clear = ClearToken {
        token_oid: vec![0, 0],
        time_stamp: Some(TS),
        password: Some("secret\0".into()),
        general_id: Some("room-2001\0".into()),
        ..Default::default()
    };
    let ours = crate::per::encode_with("ClearToken", |e| clear.encode(e)).unwrap();
    assert_eq!(
        ours,
        unhex(
            "61000100c06553f0ff0c0073006500630072006500740000\
             120072006f006f006d002d00320030003000310000"
        )
    );
    assert_eq!(
        md5_password_digest("room-2001", "secret", TS, true)
            .unwrap()
            .to_vec(),
        unhex("bbf96b81ebd28df8b852b5811fa4483c")
    );
    // a terminating NUL already there is not doubled
    assert_eq!(
        md5_password_digest("room-2001\0", "secret\0", TS, true),
        md5_password_digest("room-2001", "secret", TS, true)
    );
    assert_ne!(
        md5_password_digest("room-2001", "secret", TS, false),
        md5_password_digest("room-2001", "secret", TS, true)
    );
}

#[test]
fn cat_challenge_is_md5_of_random_password_timestamp() {
    // hashlib.md5(bytes([7]) + b"secret" + (1700000000).to_bytes(4, "big"))
    assert_eq!(
        cat_challenge(7, "secret", TS).to_vec(),
        unhex("fbb9fef036bf0e0be6ea60559f77a81d")
    );
}

#[test]
fn tokens_round_trip() {
    let tokens = vec![
        md5_password_token(&room()[0], "secret", TS).unwrap(),
        h2351_token(Some("GK"), Some("GK-000001"), TS, -5),
        CryptoH323Token::GkPwdHash {
            gatekeeper_id: "GK".into(),
            time_stamp: 1,
            token: Hashed {
                algorithm_oid: OID_MD5.to_vec(),
                hash: vec![0xAB; 16],
                bits: 128,
            },
        },
    ];
    let b = encode_crypto_tokens(&tokens).unwrap();
    assert_eq!(decode_crypto_tokens(&b).unwrap(), tokens);
    let clear = vec![cat_token("room-2001", "secret", TS, 200)];
    let b = encode_clear_tokens(&clear).unwrap();
    assert_eq!(decode_clear_tokens(&b).unwrap(), clear);
    let (mode, oid) = encode_pwd_hash_mode(OID_MD5).unwrap();
    assert_eq!(
        crate::per::Decoder::new(&mode)
            .choice_index(7, true)
            .unwrap(),
        Index::Root(2)
    );
    assert_eq!(
        crate::per::Decoder::new(&oid).object_identifier().unwrap(),
        OID_MD5
    );
}

#[test]
fn md5_password_token_verifies_and_fails_for_each_reason() {
    let aliases = room();
    let ok = expect(&aliases, "secret");
    let sec = sec_with(&[md5_password_token(&aliases[0], "secret", TS).unwrap()]);
    let v = verify(&ok, &sec, b"").unwrap();
    assert_eq!((v.method, v.time_stamp), (AuthMethod::Md5Password, TS));

    // the dialledDigits alias works too, and the form without NULs
    let digits = CryptoH323Token::EpPwdHash {
        alias: aliases[1].clone(),
        time_stamp: TS,
        token: Hashed {
            algorithm_oid: OID_MD5.to_vec(),
            hash: md5_password_digest("2001", "secret", TS, false)
                .unwrap()
                .to_vec(),
            bits: 128,
        },
    };
    assert!(verify(&ok, &sec_with(&[digits]), b"").is_ok());

    assert_eq!(
        verify(&expect(&aliases, "other"), &sec, b""),
        Err(AuthError::BadHash {
            method: AuthMethod::Md5Password
        })
    );
    let mut late = ok;
    late.unix_now = TS as u64 + 301;
    assert_eq!(
        verify(&late, &sec, b""),
        Err(AuthError::Timestamp {
            method: AuthMethod::Md5Password,
            skew_s: 301,
            window_s: 300
        })
    );
    let mut early = ok;
    early.unix_now = TS as u64 - 400;
    assert!(matches!(
        verify(&early, &sec, b""),
        Err(AuthError::Timestamp { skew_s: -400, .. })
    ));
    // a token made for another endpoint's alias
    let other = AliasAddress::H323Id("room-2002".into());
    let sec2 = sec_with(&[md5_password_token(&other, "secret", TS).unwrap()]);
    assert!(matches!(
        verify(&ok, &sec2, b""),
        Err(AuthError::Identity { .. })
    ));
    // no tokens at all, and tokens that do not decode
    assert_eq!(
        verify(&ok, &RasSecurity::default(), b""),
        Err(AuthError::Missing)
    );
    let junk = RasSecurity {
        crypto_tokens: Some(vec![0x01, 0xFF]),
        ..Default::default()
    };
    assert!(matches!(
        verify(&ok, &junk, b""),
        Err(AuthError::Malformed(_))
    ));
    // the error never shows the password
    for e in [
        verify(&expect(&aliases, "hunter2"), &sec, b"").unwrap_err(),
        verify(&late, &sec, b"").unwrap_err(),
    ] {
        assert!(!e.to_string().contains("hunter2") && !e.to_string().contains("secret"));
    }
}

fn rrq() -> RasMessage {
    RasMessage::RegistrationRequest(RegistrationRequest {
        request_seq_num: 9,
        protocol_identifier: crate::h225::H225_PROTOCOL_V4.to_vec(),
        non_standard_data: None,
        discovery_complete: true,
        call_signal_address: vec![crate::h225::TransportAddress::ip([10, 0, 0, 5], 1720)],
        ras_address: vec![crate::h225::TransportAddress::ip([10, 0, 0, 5], 1719)],
        terminal_type: crate::h225::EndpointType::terminal(),
        terminal_alias: Some(room()),
        gatekeeper_identifier: None,
        endpoint_vendor: crate::h225::VendorIdentifier {
            vendor: crate::h225::H221NonStandard {
                t35_country_code: 181,
                t35_extension: 0,
                manufacturer_code: 1,
            },
            product_id: None,
            version_id: None,
            enterprise_number: None,
        },
        time_to_live: Some(60),
        keep_alive: false,
        endpoint_identifier: None,
        will_supply_uuies: false,
        maintain_connection: false,
        additive_registration: false,
        supports_alt_gk: false,
        multiple_calls: None,
    })
}

fn signed_rrq(password: &str, random: i64) -> (Vec<u8>, RasSecurity) {
    let sec = sec_with(&[h2351_token(Some("GK"), None, TS, random)]);
    let mut bytes = rrq().encode_secured(&sec).unwrap();
    assert!(h2351_sign(&mut bytes, password));
    let (_, sec) = RasMessage::decode_secured(&bytes).unwrap();
    (bytes, sec)
}

#[test]
fn h2351_covers_the_whole_message() {
    let aliases = room();
    let ok = expect(&aliases, "secret");
    let (bytes, sec) = signed_rrq("secret", 17);
    let v = verify(&ok, &sec, &bytes).unwrap();
    assert_eq!(v.method, AuthMethod::H2351);
    assert_eq!(v.replay_key, Some((TS, 17)));

    assert_eq!(
        verify(&expect(&aliases, "wrong"), &sec, &bytes),
        Err(AuthError::BadHash {
            method: AuthMethod::H2351
        })
    );
    // any octet of the message changed (here the time to live, outside
    // the token) breaks the hash
    let (mut m, _) = RasMessage::decode_secured(&bytes).unwrap();
    if let RasMessage::RegistrationRequest(r) = &mut m {
        r.time_to_live = Some(3600);
    }
    let tampered = m.encode_secured(&sec).unwrap();
    assert_ne!(tampered, bytes);
    assert!(matches!(
        verify(&ok, &sec, &tampered),
        Err(AuthError::BadHash { .. })
    ));
    // a token addressed to another gatekeeper
    let sec_other = sec_with(&[h2351_token(Some("OTHER-GK"), None, TS, 1)]);
    let mut b = rrq().encode_secured(&sec_other).unwrap();
    assert!(h2351_sign(&mut b, "secret"));
    let (_, sec_other) = RasMessage::decode_secured(&b).unwrap();
    assert!(matches!(
        verify(&ok, &sec_other, &b),
        Err(AuthError::Identity { .. })
    ));
    // the placeholder must be there exactly once to sign
    let mut plain = rrq().encode().unwrap();
    assert!(!h2351_sign(&mut plain, "secret"));
}

#[test]
fn cat_token_verifies() {
    let aliases = room();
    let ok = expect(&aliases, "secret");
    let sec = RasSecurity {
        tokens: Some(encode_clear_tokens(&[cat_token("room-2001", "secret", TS, 250)]).unwrap()),
        ..Default::default()
    };
    let v = verify(&ok, &sec, b"").unwrap();
    assert_eq!((v.method, v.replay_key), (AuthMethod::Cat, Some((TS, 250))));
    assert!(matches!(
        verify(&expect(&aliases, "nope"), &sec, b""),
        Err(AuthError::BadHash {
            method: AuthMethod::Cat
        })
    ));
}

#[test]
fn best_error_is_reported_and_one_good_token_is_enough() {
    let aliases = room();
    let ok = expect(&aliases, "secret");
    let bad = md5_password_token(&aliases[0], "guess", TS).unwrap();
    let good = md5_password_token(&aliases[0], "secret", TS).unwrap();
    let unsupported = CryptoH323Token::Unsupported("cryptoEPCert");
    assert!(verify(&ok, &sec_with(&[bad.clone(), good]), b"").is_ok());
    // Unsupported cannot be encoded: only the decodable kinds are sent
    assert!(encode_crypto_tokens(&[unsupported]).is_err());
    assert!(matches!(
        verify(&ok, &sec_with(&[bad]), b""),
        Err(AuthError::BadHash { .. })
    ));
}

#[test]
fn gcf_mode_prefers_hmac_over_md5() {
    let cap = |mechs: &[u8], oids: &[&[u64]]| RasSecurity {
        authentication_capability: Some(
            crate::per::encode_with("c", |e| {
                e.length(mechs.len(), Size::unbounded())?;
                for m in mechs {
                    e.choice_index(Index::Root(*m as u64), 7, true)?;
                }
                Ok(())
            })
            .unwrap(),
        ),
        algorithm_oids: Some(
            crate::per::encode_with("o", |e| {
                e.sequence_of(oids, Size::unbounded(), |e, o| e.object_identifier(o))
            })
            .unwrap(),
        ),
        ..Default::default()
    };
    assert_eq!(
        choose_pwd_hash_algorithm(&cap(&[2], &[OID_MD5, &[0, 0, 8, 235, 0, 3, 6]])),
        Some(OID_H2351_U)
    );
    assert_eq!(
        choose_pwd_hash_algorithm(&cap(&[2], &[OID_MD5])),
        Some(OID_MD5)
    );
    // dhExch only: no password mode to choose
    assert_eq!(choose_pwd_hash_algorithm(&cap(&[0], &[OID_MD5])), None);
    assert_eq!(choose_pwd_hash_algorithm(&RasSecurity::default()), None);
}

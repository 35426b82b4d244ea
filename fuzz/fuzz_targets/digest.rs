//! Any Authorization value, and any challenge: verification and challenge
//! parsing fail cleanly, never panic, and never authenticate garbage.
#![no_main]
use gateway_sip::auth::{parse_challenge, DigestChallenger, NonceCounts, UserSecret};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_challenge(text);
    let server = DigestChallenger::new("gateway.local", [7u8; 32], 300);
    let mut counts = NonceCounts::new(64);
    let verdict = server.verify_at(
        1_800_000_000,
        "REGISTER",
        Some("sip:127.0.0.1"),
        text,
        &mut counts,
        |_, _, _| Some(UserSecret::Password("pass1001".into())),
    );
    // A nonce we issued carries our keyed hash: random input cannot forge one.
    assert!(verdict.is_err(), "arbitrary credentials were accepted");
});

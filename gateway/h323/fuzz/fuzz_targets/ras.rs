//! Any datagram: RasMessage decodes or errs (with a field path) without
//! panicking, and what decodes encodes to something that decodes the same.
#![no_main]
use gateway_h323::h225::RasMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match RasMessage::decode(data) {
        Ok(m) => {
            if let Ok(again) = m.encode() {
                assert_eq!(RasMessage::decode(&again).as_ref(), Ok(&m), "re-encoding changed the message");
            }
        }
        Err(e) => assert!(!e.path.is_empty()),
    }
});

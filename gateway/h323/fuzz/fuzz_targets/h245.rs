//! Any H.245 PDU (and any Fast Start proposal): decodes or errs without
//! panicking; what decodes and encodes decodes back the same.
#![no_main]
use gateway_h323::h245::{H245Message, OpenLogicalChannel};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = H245Message::decode(data) {
        if let Ok(again) = m.encode() {
            assert_eq!(H245Message::decode(&again).as_ref(), Ok(&m), "re-encoding changed the message");
        }
    }
    if let Ok(o) = OpenLogicalChannel::decode_fast_start(data) {
        if let Ok(again) = o.encode_fast_start() {
            assert_eq!(OpenLogicalChannel::decode_fast_start(&again).as_ref(), Ok(&o));
        }
    }
});

//! Any byte stream, cut at arbitrary points: the framer yields messages,
//! pings and pongs or an error, never panics, and never a frame larger than
//! its limit.
#![no_main]
use gateway_transport::{Frame, StreamFramer};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(cut).max(1);
    let mut framer = StreamFramer::new(LIMIT);
    for chunk in rest.chunks(step) {
        framer.extend(chunk);
        loop {
            match framer.next_frame() {
                Ok(Some(Frame::Message(m))) => assert!(m.len() <= LIMIT + 4, "frame over the limit"),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});

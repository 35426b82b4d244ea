//! Property tests: however a stream of messages is padded and cut into
//! reads, the framer returns exactly the messages that were sent; arbitrary
//! bytes never make it panic or hold more than the limit.

use bytes::Bytes;
use gateway_transport::{Frame, StreamFramer};
use proptest::prelude::*;

const MAX: usize = 4096;

#[derive(Debug, Clone)]
enum Unit {
    Message(String),
    Ping,
}

fn message() -> impl Strategy<Value = String> {
    let header_name = prop_oneof![
        Just("Content-Length"),
        Just("content-length"),
        Just("l"),
        Just("L"),
    ];
    let body = proptest::collection::vec(any::<u8>(), 0..300)
        // The body is opaque: it may hold CRLFCRLF and anything else.
        .prop_map(|b| b.iter().map(|&x| (x % 96 + 10) as char).collect::<String>());
    (header_name, body, 0usize..3, proptest::bool::ANY).prop_map(|(name, body, extra, omit)| {
        let mut m = String::from("MESSAGE sip:a@example.com SIP/2.0\r\nCall-ID: x\r\n");
        for i in 0..extra {
            m.push_str(&format!("X-Pad-{i}: {}\r\n", "v".repeat(i * 7)));
        }
        if omit && body.is_empty() {
            m.push_str("\r\n");
        } else {
            m.push_str(&format!("{name}: {}\r\n\r\n{body}", body.len()));
        }
        m
    })
}

fn unit() -> impl Strategy<Value = Unit> {
    prop_oneof![4 => message().prop_map(Unit::Message), 1 => Just(Unit::Ping)]
}

proptest! {
    #[test]
    fn any_split_yields_the_sent_messages(
        units in proptest::collection::vec(unit(), 1..8),
        cuts in proptest::collection::vec(1usize..200, 0..40),
    ) {
        let mut wire = Vec::new();
        let mut want = Vec::new();
        for u in &units {
            match u {
                Unit::Message(m) => {
                    wire.extend_from_slice(m.as_bytes());
                    want.push(Frame::Message(Bytes::from(m.clone())));
                }
                Unit::Ping => {
                    wire.extend_from_slice(b"\r\n\r\n");
                    want.push(Frame::Ping);
                }
            }
        }
        let mut f = StreamFramer::new(MAX);
        let mut got = Vec::new();
        let mut rest = &wire[..];
        let mut cuts = cuts.into_iter();
        while !rest.is_empty() {
            let n = cuts.next().unwrap_or(rest.len()).min(rest.len());
            f.extend(&rest[..n]);
            rest = &rest[n..];
            while let Some(fr) = f.next_frame().unwrap() {
                got.push(fr);
            }
        }
        prop_assert_eq!(got, want);
        prop_assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn arbitrary_bytes_stay_bounded(chunks in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..512), 0..40)) {
        let mut f = StreamFramer::new(MAX);
        'outer: for c in chunks {
            f.extend(&c);
            loop {
                match f.next_frame() {
                    Ok(Some(Frame::Message(m))) => prop_assert!(m.len() <= MAX),
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => break 'outer,
                }
            }
            prop_assert!(f.buffered() <= MAX + 512);
        }
    }
}

//! Property tests: generated messages survive serialize -> parse unchanged;
//! the parser never panics on arbitrary or mutated input, and whatever it
//! accepts it can serialize into something it accepts again, unchanged.

use gateway_sip::message::{Header, Headers, Message};
use gateway_sip::parse::{frame_len, parse_message, MAX_MESSAGE_SIZE};
use gateway_sip::{HeaderName, Method, NameAddr, Params, Request, Response, Scheme, Uri, Via};
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,11}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
        (0u8..=255, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| format!("[2001:db8::{a:x}:{b:x}]")),
    ]
}

fn uri_param() -> impl Strategy<Value = (String, Option<String>)> {
    (
        "[A-Za-z0-9._~-]{1,8}",
        proptest::option::of("[A-Za-z0-9._~-]{1,8}"),
    )
}

fn uri() -> impl Strategy<Value = Uri> {
    (
        prop_oneof![Just(Scheme::Sip), Just(Scheme::Sips)],
        proptest::option::of("[a-z0-9._~+-]{1,10}"),
        host(),
        proptest::option::of(1u16..),
        proptest::collection::vec(uri_param(), 0..3),
    )
        .prop_map(|(scheme, user, host, port, params)| Uri {
            scheme,
            user,
            password: None,
            host,
            port,
            params,
            headers: Vec::new(),
        })
}

fn header_params() -> impl Strategy<Value = Params> {
    proptest::collection::vec(
        (
            token(),
            proptest::option::of(prop_oneof![
                token(),
                "[ !#-\\[\\]-~]{0,10}".prop_map(|s| format!("\"{s}\"")),
            ]),
        ),
        0..3,
    )
    .prop_map(Params)
}

fn name_addr() -> impl Strategy<Value = NameAddr> {
    (proptest::option::of("[ -~]{0,12}"), uri(), header_params()).prop_map(
        |(display, uri, params)| NameAddr {
            display,
            uri,
            params,
        },
    )
}

fn via() -> impl Strategy<Value = Via> {
    (
        prop_oneof![Just("UDP"), Just("TCP"), Just("TLS"), Just("WSS")],
        host(),
        proptest::option::of(1u16..),
        header_params(),
    )
        .prop_map(|(t, host, port, mut params)| {
            params.set("branch", Some("z9hG4bK1".into()));
            Via {
                transport: t.into(),
                host,
                port,
                params,
            }
        })
}

/// Unknown headers: `X-` names (so no known name is hit by chance) and any
/// printable value without surrounding whitespace.
fn extension_header() -> impl Strategy<Value = Header> {
    (token(), "[!-~]([ -~]{0,30}[!-~])?")
        .prop_map(|(name, value)| Header::new(HeaderName::Other(format!("X-{name}")), value))
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Invite),
        Just(Method::Options),
        Just(Method::Bye),
        Just(Method::Register),
        Just(Method::Info),
        token().prop_map(|t| Method::from_token(&t.to_ascii_uppercase())),
    ]
}

fn common_headers() -> impl Strategy<Value = Vec<Header>> {
    (
        proptest::collection::vec(via(), 1..4),
        name_addr(),
        name_addr(),
        "[!-~]{1,30}",
        0u32..=u32::MAX,
        proptest::collection::vec(name_addr(), 0..3),
        proptest::collection::vec(extension_header(), 0..4),
    )
        .prop_map(|(vias, from, to, call_id, seq, contacts, extensions)| {
            let mut h: Vec<Header> = vias
                .iter()
                .map(|v| Header::new(HeaderName::Via, v.to_string()))
                .collect();
            h.push(Header::new(HeaderName::From, from.to_string()));
            h.push(Header::new(HeaderName::To, to.to_string()));
            h.push(Header::new(HeaderName::CallId, call_id));
            h.push(Header::new(HeaderName::CSeq, seq.to_string()));
            h.extend(
                contacts
                    .iter()
                    .map(|c| Header::new(HeaderName::Contact, c.to_string())),
            );
            h.extend(extensions);
            h
        })
}

fn message() -> impl Strategy<Value = Message> {
    let request = (
        method(),
        uri(),
        common_headers(),
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(method, uri, mut headers, body)| {
            // The CSeq carries the request's method.
            for h in &mut headers {
                if h.name == HeaderName::CSeq {
                    h.value = format!("{} {}", h.value, method);
                }
            }
            Message::Request(Request {
                method,
                uri,
                headers: Headers(headers),
                body,
            })
        });
    let response = (
        100u16..=699,
        "[ -~]{0,20}",
        method(),
        common_headers(),
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(status, reason, method, mut headers, body)| {
            for h in &mut headers {
                if h.name == HeaderName::CSeq {
                    h.value = format!("{} {}", h.value, method);
                }
            }
            Message::Response(Response {
                status,
                reason,
                headers: Headers(headers),
                body,
            })
        });
    prop_oneof![request, response]
}

/// What the parser is expected to give back for a message it was handed:
/// the same message with a Content-Length matching the body.
fn with_content_length(m: &Message) -> Message {
    let mut m = m.clone();
    let len = m.body().len().to_string();
    m.headers_mut().set(HeaderName::ContentLength, len);
    m
}

const SEED_MESSAGE: &[u8] = b"INVITE sip:bob@biloxi.example.com;transport=tcp SIP/2.0\r\n\
Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9, SIP/2.0/UDP [2001:db8::1];branch=z9hG4bK2\r\n\
Max-Forwards: 70\r\n\
From: \"Alice \\\"A\\\"\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
t: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@client.atlanta.example.com;transport=tcp>, \"x,y\" <sip:a@b>\r\n\
Route: <sip:p1.example.com;lr>,\r\n <sip:p2.example.com;lr>\r\n\
X-Unknown: a, b;c=\"d,e\"\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 31\r\n\
\r\n\
v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n";

/// Every RFC 4475 message (valid or not) as wire bytes: LF becomes CRLF
/// and `<hex>` runs become octets (`<repeat>` runs are left as text, which
/// only makes them odd header values).
fn torture_seeds() -> &'static Vec<Vec<u8>> {
    static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rfc4475");
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
                let text = text.replace('\n', "\r\n");
                let mut out = Vec::new();
                let mut rest = text.as_str();
                while let Some(start) = rest.find("<hex>") {
                    out.extend_from_slice(&rest.as_bytes()[..start]);
                    let end = rest.find("</hex>").unwrap();
                    out.extend(hex::decode(&rest[start + 5..end]).unwrap());
                    rest = &rest[end + 6..];
                }
                out.extend_from_slice(rest.as_bytes());
                out
            })
            .collect();
        seeds.sort();
        seeds
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 1usize..20).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (
            any::<usize>(),
            proptest::collection::vec(
                prop_oneof![
                    Just(b'\r'),
                    Just(b'\n'),
                    Just(b' '),
                    Just(b','),
                    Just(b';'),
                    Just(b'"'),
                    Just(b'<'),
                    Just(b'>'),
                    Just(b':'),
                    Just(b'\\'),
                    Just(b'['),
                    any::<u8>()
                ],
                1..8
            )
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(data: &mut Vec<u8>, m: &Mutation) {
    if data.is_empty() {
        return;
    }
    let len = data.len();
    match m {
        Mutation::Flip(i, b) => data[i % len] = *b,
        Mutation::Delete(i, n) => {
            let at = i % len;
            data.drain(at..(at + n).min(len));
        }
        Mutation::Insert(i, bytes) => {
            let at = i % len;
            data.splice(at..at, bytes.iter().copied());
        }
        Mutation::Duplicate(i, n) => {
            let at = i % len;
            let seg = data[at..(at + n).min(len)].to_vec();
            data.splice(at..at, seg);
        }
        Mutation::Truncate(i) => data.truncate(i % len),
    }
}

/// Whatever parses must serialize to bytes that parse to the same message
/// and that a stream framer cuts at exactly their length.
fn check_reserialization(data: &[u8]) -> Result<(), TestCaseError> {
    let _ = frame_len(data);
    match parse_message(data) {
        Ok(m) => {
            let bytes = m.to_bytes();
            let again = parse_message(&bytes);
            prop_assert_eq!(
                again.as_ref().ok(),
                Some(&with_content_length(&m)),
                "{:?}",
                again.as_ref().err()
            );
            prop_assert_eq!(frame_len(&bytes), Ok(Some(bytes.len())));
        }
        Err(f) => {
            if let Some(resp) = f.error_response() {
                prop_assert!(resp.status >= 400);
                let _ = resp.to_bytes();
            }
        }
    }
    Ok(())
}

proptest! {
    // PROPTEST_CASES=100000 for a long local run; CI keeps the default.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn generated_messages_round_trip(m in message()) {
        let bytes = m.to_bytes();
        let parsed = parse_message(&bytes);
        prop_assert_eq!(parsed.as_ref().ok(), Some(&with_content_length(&m)), "{:?}\n{}", parsed.as_ref().err(), String::from_utf8_lossy(&bytes));
        prop_assert_eq!(frame_len(&bytes), Ok(Some(bytes.len())));
        // Typed views read back what was generated.
        let m = parsed.unwrap();
        prop_assert!(m.top_via().is_ok());
        prop_assert!(m.cseq().is_ok());
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_reserialization(&data)?;
    }

    #[test]
    fn sip_looking_noise_never_panics(
        lines in proptest::collection::vec("[ -~]{0,40}", 0..12),
        sep in prop_oneof![Just("\r\n"), Just("\n"), Just("\r\n "), Just("\r")],
    ) {
        let mut text = String::from("INVITE sip:a@b SIP/2.0\r\n");
        text.push_str(&lines.join(sep));
        text.push_str("\r\n\r\n");
        check_reserialization(text.as_bytes())?;
    }

    #[test]
    fn mutated_torture_messages_never_panic(
        seed in any::<proptest::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let seeds = torture_seeds();
        let mut data = seeds[seed.index(seeds.len())].clone();
        for m in &mutations {
            apply(&mut data, m);
        }
        check_reserialization(&data)?;
    }

    #[test]
    fn mutated_messages_never_panic(mutations in proptest::collection::vec(mutation(), 1..6)) {
        let mut data = SEED_MESSAGE.to_vec();
        for m in &mutations {
            apply(&mut data, m);
        }
        check_reserialization(&data)?;
    }
}

#[test]
fn oversized_input_is_refused_not_parsed() {
    let mut data = SEED_MESSAGE.to_vec();
    data.resize(MAX_MESSAGE_SIZE + 1, b'x');
    assert_eq!(
        parse_message(&data).unwrap_err().error,
        gateway_sip::ParseError::TooLarge
    );
}

//! RFC 4475 torture messages through the parser.
//!
//! The messages live in `tests/data/rfc4475/<name>.sip`, written in the
//! RFC's own notation: lines end in LF in the file and CRLF on the wire,
//! `<hex>..</hex>` stands for raw octets and `<repeat count=N>..</repeat>`
//! for a repeated string (RFC 4475 section 2).
//!
//! Verdicts:
//! - 3.1.1 (valid): all 13 parse and their key fields come out right.
//! - 3.1.2 (invalid): every one is rejected with a specific error except
//!   `baddate`, which is accepted: the Date header is never interpreted by
//!   this stack, and the RFC allows elements that do not use Date to accept
//!   it. `lwsstart` and `trws` (extra SP in the request line) are rejected;
//!   the RFC allows either. `mismatch02` is rejected with 400 (the RFC
//!   prefers 501 but accepts 400). `escruri` is rejected rather than
//!   forwarded with its escaped headers stripped.
//! - 3.2/3.3/3.4: every message is syntactically valid except `insuf`
//!   (missing From/To/Call-ID), `multi01` (repeated single-value headers)
//!   and `mcl01` (conflicting Content-Length), which the parser refuses;
//!   `unkscm`, `novelsc`, `unksm2` parse with `Scheme::Other` so that the
//!   layer above answers 416 (or 400 for a non-SIP To in a REGISTER).

use gateway_sip::message::Message;
use gateway_sip::parse::{frame_len, parse_message};
use gateway_sip::{HeaderName, Method, ParseError, Request, Response, Scheme};

/// Load a torture message and turn the RFC notation into wire bytes.
fn wire(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/data/rfc4475/{name}.sip",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = text.replace('\n', "\r\n");
    let text = expand_repeats(&text);
    decode_hex(&text)
}

fn expand_repeats(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("<repeat count=") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "<repeat count=".len()..];
        let gt = after.find('>').unwrap();
        let count: usize = after[..gt].parse().unwrap();
        let end = after.find("</repeat>").unwrap();
        out.push_str(&after[gt + 1..end].repeat(count));
        rest = &after[end + "</repeat>".len()..];
    }
    out.push_str(rest);
    out
}

fn decode_hex(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("<hex>") {
        out.extend_from_slice(&rest.as_bytes()[..start]);
        let after = &rest[start + 5..];
        let end = after.find("</hex>").unwrap();
        out.extend(hex::decode(&after[..end]).unwrap());
        rest = &after[end + 6..];
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

fn request(name: &str) -> Request {
    match parse_message(&wire(name)) {
        Ok(Message::Request(r)) => r,
        Ok(_) => panic!("{name}: expected a request"),
        Err(e) => panic!("{name}: {e}"),
    }
}

fn response(name: &str) -> Response {
    match parse_message(&wire(name)) {
        Ok(Message::Response(r)) => r,
        Ok(_) => panic!("{name}: expected a response"),
        Err(e) => panic!("{name}: {e}"),
    }
}

fn error_of(name: &str) -> ParseError {
    match parse_message(&wire(name)) {
        Ok(m) => panic!("{name}: accepted {m:?}"),
        Err(f) => f.error,
    }
}

fn header<'a>(headers: &'a gateway_sip::Headers, exact_name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.as_str() == exact_name)
        .map(|h| h.value.as_str())
}

/// serialize(parse(m)) parses back to the same message, up to the
/// Content-Length the serializer always writes.
fn assert_round_trip(name: &str) {
    let parsed = parse_message(&wire(name)).unwrap();
    let bytes = parsed.to_bytes();
    let again = parse_message(&bytes).unwrap_or_else(|e| panic!("{name}: reparse: {e}"));
    let mut expected = parsed.clone();
    let len = expected.body().len().to_string();
    expected.headers_mut().set(HeaderName::ContentLength, len);
    assert_eq!(again, expected, "{name}");
}

const VALID: &[&str] = &[
    "wsinv",
    "intmeth",
    "esc01",
    "escnull",
    "esc02",
    "lwsdisp",
    "longreq",
    "dblreq",
    "semiuri",
    "transports",
    "mpart01",
    "unreason",
    "noreason",
];

const ACCEPTED_SEMANTIC: &[&str] = &[
    "baddate",
    "badbranch",
    "unkscm",
    "novelsc",
    "unksm2",
    "bext01",
    "invut",
    "regaut01",
    "bcast",
    "zeromf",
    "cparam01",
    "cparam02",
    "regescrt",
    "sdp01",
    "inv2543",
];

#[test]
fn every_valid_message_parses_and_round_trips() {
    for name in VALID.iter().chain(ACCEPTED_SEMANTIC) {
        assert_round_trip(name);
    }
}

#[test]
fn stream_framing_matches_content_length() {
    for name in VALID.iter().chain(ACCEPTED_SEMANTIC) {
        if *name == "dblreq" || *name == "inv2543" {
            continue; // framed below / no Content-Length (datagram only)
        }
        let data = wire(name);
        assert_eq!(frame_len(&data).unwrap(), Some(data.len()), "{name}");
        assert_eq!(frame_len(&data[..data.len() - 1]).unwrap(), None, "{name}");
    }
    let data = wire("dblreq");
    let first = frame_len(&data).unwrap().unwrap();
    let second = frame_len(&data[first..]).unwrap().unwrap();
    // The trailing INVITE's body ("m =video" line) runs 3 octets past its
    // Content-Length: on a stream those would start the next frame.
    assert_eq!(first + second + 3, data.len());
    let Message::Request(invite) = parse_message(&data[first..]).unwrap() else {
        panic!("second dblreq message is a request")
    };
    assert_eq!(invite.method, Method::Invite);
}

#[test]
fn wsinv_short_tortuous_invite() {
    let r = request("wsinv");
    assert_eq!(r.method, Method::Invite);
    assert_eq!(r.uri.user.as_deref(), Some("vivekg"));
    assert_eq!(r.uri.param("unknownparam"), Some(None));
    assert_eq!(r.call_id().unwrap(), "wsinv.ndaksdj@192.0.2.1");
    assert_eq!(r.max_forwards().unwrap(), 68);
    let cseq = r.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (9, Method::Invite));
    let to = r.to().unwrap();
    assert_eq!(to.tag(), Some("1918181833n"));
    assert_eq!(to.uri.host, "chair-dnrc.example.com");
    let from = r.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(from.tag(), Some("98asjd8"));

    let vias = r.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(
        (vias[0].transport.as_str(), vias[0].host.as_str()),
        ("UDP", "192.0.2.2")
    );
    assert_eq!(vias[0].branch(), Some("390skdjuw"));
    assert_eq!(
        (vias[1].transport.as_str(), vias[1].host.as_str()),
        ("TCP", "spindle.example.com")
    );
    assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].host, "192.168.255.111");
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));

    assert_eq!(r.headers.get(&HeaderName::Subject), Some(""));
    assert_eq!(
        header(&r.headers, "NewFangledHeader"),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(
        header(&r.headers, "UnknownHeaderWithUnusualValue"),
        Some(";;,,;;,;")
    );
    assert_eq!(r.headers.get_all(&HeaderName::Route).count(), 1);

    let contacts = r.contacts().unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].display.as_deref(), Some("Quoted string \"\""));
    assert_eq!(contacts[0].params.get("newparam"), Some(Some("newvalue")));
    assert_eq!(contacts[0].params.get("secondparam"), Some(None));
    assert_eq!(contacts[0].params.get("q"), Some(Some("0.33")));
    assert_eq!(r.content_type(), Some("application/sdp"));
    assert_eq!(r.body.len(), 150);

    // The unknown header is forwarded byte-exact, under its own spelling.
    let out = r.to_bytes();
    let needle = b"\r\nUnknownHeaderWithUnusualValue: ;;,,;;,;\r\n";
    assert!(out.windows(needle.len()).any(|w| w == needle));
}

#[test]
fn intmeth_wide_range_of_characters() {
    let r = request("intmeth");
    let method = "!interesting-Method0123456789_*+`.%indeed'~";
    assert_eq!(r.method, Method::Other(method.into()));
    assert_eq!(r.cseq().unwrap().method.as_str(), method);
    assert_eq!(
        r.uri.user.as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        r.uri.password.as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(r.uri.host, "example.com");
    assert_eq!(r.top_via().unwrap().branch(), Some("z9hG4bK-.!%66*_+`'~"));
    assert_eq!(
        r.to().unwrap().display.as_deref(),
        Some("BEL:\x07 NUL:\0 DEL:\x7f")
    );
    let from = r.from().unwrap();
    assert_eq!(
        from.display.as_deref(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(
        from.params.get("fromParam''~+*_!.-%"),
        Some(Some("\"работающий\""))
    );
    assert_eq!(
        r.call_id().unwrap(),
        "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    );
    assert_eq!(r.max_forwards().unwrap(), 255);
    assert_eq!(
        header(&r.headers, "extensionHeader-!.%*+_`'~"),
        Some("\u{feff}大停電")
    );
}

#[test]
fn esc01_escapes_are_kept_as_received() {
    let r = request("esc01");
    assert_eq!(r.uri.user.as_deref(), Some("sips%3Auser%40example.com"));
    assert_eq!(r.uri.host, "example.net");
    assert_eq!(r.to().unwrap().uri.user.as_deref(), Some("%75se%72"));
    assert_eq!(
        r.from().unwrap().uri.user.as_deref(),
        Some("I%20have%20spaces")
    );
    assert_eq!(r.call_id().unwrap(), "esc01.239409asdfakjkn23onasd0-3234");
    assert_eq!(r.content_type(), Some("application/sdp"));
    let c = &r.contacts().unwrap()[0];
    assert_eq!(c.uri.param("%6C%72"), Some(None));
    assert_eq!(c.uri.param("n%61me"), Some(Some("v%61lue%25%34%31")));
}

#[test]
fn escnull_and_esc02() {
    let r = request("escnull");
    let users: Vec<_> = r
        .contacts()
        .unwrap()
        .into_iter()
        .map(|c| c.uri.user.unwrap())
        .collect();
    assert_eq!(users, ["%00", "%00%00"]);
    assert_eq!(r.to().unwrap().uri.user.as_deref(), Some("null-%00-null"));

    let r = request("esc02");
    assert_eq!(r.method, Method::Other("RE%47IST%45R".into()));
    assert_eq!(r.to().unwrap().display.as_deref(), Some("%Z%45"));
    assert_eq!(r.top_via().unwrap().branch(), Some("z9hG4bK209%fzsnel234"));
    // C%6Fntact is another header, not Contact.
    assert_eq!(r.contacts().unwrap().len(), 2);
    assert_eq!(
        header(&r.headers, "C%6Fntact"),
        Some("<sip:alias2@host2.example.com>")
    );
}

#[test]
fn lwsdisp_longreq_semiuri_transports() {
    let r = request("lwsdisp");
    assert_eq!(r.from().unwrap().display.as_deref(), Some("caller"));

    let r = request("longreq");
    assert_eq!(r.vias().unwrap().len(), 34);
    assert_eq!(r.top_via().unwrap().host, "sip33.example.com");
    let to = r.to().unwrap();
    assert_eq!(to.uri.port, Some(6000));
    assert!(to.display.unwrap().contains(&"extreme".repeat(10)));
    let from = r.from().unwrap();
    assert_eq!(from.tag().unwrap().len(), 2 + 150 + 3);
    assert_eq!(
        r.call_id().unwrap(),
        format!("longreq.one{}longcallid", "really".repeat(20))
    );
    assert_eq!(r.body.len(), 150);

    let r = request("semiuri");
    assert_eq!(r.uri.user.as_deref(), Some("user;par=u%40example.net"));
    assert_eq!(r.uri.host, "example.com");
    assert!(r.uri.params.is_empty());
    assert_eq!(
        r.headers.get(&HeaderName::Accept),
        Some("application/sdp, application/pkcs7-mime, multipart/mixed, multipart/signed, message/sip, message/sipfrag")
    );

    let r = request("transports");
    let transports: Vec<_> = r.vias().unwrap().into_iter().map(|v| v.transport).collect();
    assert_eq!(transports, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
    assert_eq!(r.call_id().unwrap(), "transports.kijh4akdnaqjkwendsasfdj");
}

#[test]
fn dblreq_takes_only_the_first_message() {
    let r = request("dblreq");
    assert_eq!(r.method, Method::Register);
    assert!(r.body.is_empty());
    assert_eq!(
        r.call_id().unwrap(),
        "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    );
}

#[test]
fn mpart01_binary_multipart_body() {
    let r = request("mpart01");
    let len: usize = r
        .headers
        .get(&HeaderName::ContentLength)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(r.body.len(), len);
    assert!(r.body.contains(&0));
    let parts = gateway_sip::multipart::split(r.content_type().unwrap(), &r.body).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].content_type(), Some("text/plain"));
    assert_eq!(parts[0].body, b"Hello");
    assert_eq!(parts[1].content_type(), Some("application/octet-stream"));
    assert!(parts[1].body.starts_with(&[0x30, 0x82, 0x01, 0x52]));
    assert!(parts[1].body.ends_with(b"\r\n\r\n--"));
}

#[test]
fn unreason_and_noreason() {
    let r = response("unreason");
    assert_eq!(r.status, 200);
    assert_eq!(r.reason, "= 2**3 * 5**2 но сто девяносто девять - простое");
    assert_eq!(r.body.len(), 154);
    let r = response("noreason");
    assert_eq!(r.status, 100);
    assert_eq!(r.reason, "");
}

#[test]
fn invalid_messages_yield_specific_errors() {
    let h = |n: &str| ParseError::Header(n.into());
    let cases: &[(&str, ParseError)] = &[
        ("badinv01", h("Via")),
        ("clerr", ParseError::ContentLength),
        ("ncl", h("Content-Length")),
        ("scalar02", h("CSeq")),
        ("scalarlg", h("CSeq")),
        ("quotbal", h("To")),
        ("ltgtruri", ParseError::RequestUri),
        ("lwsruri", ParseError::StartLine),
        ("lwsstart", ParseError::StartLine),
        ("trws", ParseError::StartLine),
        ("escruri", ParseError::RequestUri),
        ("regbadct", h("Contact")),
        ("badaspec", h("To")),
        ("baddn", h("From")),
        ("badvers", ParseError::Version("SIP/7.0".into())),
        ("mismatch01", ParseError::CSeqMismatch),
        ("mismatch02", ParseError::CSeqMismatch),
        ("bigcode", ParseError::StartLine),
        ("insuf", ParseError::Missing("From")),
        ("multi01", ParseError::Duplicate("CSeq")),
        ("mcl01", ParseError::Duplicate("Content-Length")),
    ];
    for (name, expected) in cases {
        assert_eq!(&error_of(name), expected, "{name}");
    }
}

#[test]
fn rejected_requests_can_still_be_answered() {
    for name in [
        "badinv01",
        "clerr",
        "ncl",
        "scalar02",
        "quotbal",
        "ltgtruri",
        "lwsruri",
        "lwsstart",
        "trws",
        "escruri",
        "regbadct",
        "badaspec",
        "baddn",
        "mismatch01",
        "mismatch02",
        "multi01",
        "mcl01",
    ] {
        let failure = parse_message(&wire(name)).unwrap_err();
        let resp = failure
            .error_response()
            .unwrap_or_else(|| panic!("{name}: no response"));
        assert_eq!(resp.status, 400, "{name}");
        assert_eq!(resp.reason, failure.error.to_string(), "{name}");
        assert!(resp.headers.contains(&HeaderName::Via), "{name}");
        assert!(resp.headers.contains(&HeaderName::CallId), "{name}");
        // The response itself must be well-formed enough to send.
        let bytes = resp.to_bytes();
        assert!(bytes.starts_with(b"SIP/2.0 400 "), "{name}");
    }
    let badvers = parse_message(&wire("badvers")).unwrap_err();
    assert_eq!(badvers.error_response().unwrap().status, 505);
    let quotbal = parse_message(&wire("quotbal")).unwrap_err();
    assert_eq!(
        quotbal.partial.unwrap().to.as_deref(),
        Some("\"Mr. J. User <sip:j.user@example.com>")
    );
    // Responses are never answered; insuf lacks the headers a 400 needs.
    assert!(parse_message(&wire("bigcode"))
        .unwrap_err()
        .error_response()
        .is_none());
    assert!(parse_message(&wire("scalarlg"))
        .unwrap_err()
        .error_response()
        .is_none());
    assert!(parse_message(&wire("insuf"))
        .unwrap_err()
        .error_response()
        .is_none());
}

#[test]
fn application_layer_cases_parse_for_the_layer_above() {
    let r = request("unkscm");
    assert_eq!(r.uri.scheme, Scheme::Other("nobodyKnowsThisScheme".into()));
    assert!(!r.uri.is_sip());
    let r = request("novelsc");
    assert_eq!(r.uri.scheme, Scheme::Other("soap.beep".into()));
    assert_eq!(r.uri.to_string(), "soap.beep://192.0.2.103:3002");
    let r = request("unksm2");
    assert_eq!(r.to().unwrap().uri.scheme, Scheme::Other("isbn".into()));
    assert_eq!(r.from().unwrap().uri.scheme, Scheme::Other("http".into()));
    assert_eq!(r.contacts().unwrap()[0].uri.to_string(), "name:John_Smith");

    let r = request("cparam01");
    let c = &r.contacts().unwrap()[0];
    assert!(c.uri.params.is_empty());
    assert_eq!(c.params.get("unknownparam"), Some(None));
    let r = request("cparam02");
    let c = &r.contacts().unwrap()[0];
    assert_eq!(c.uri.param("unknownparam"), Some(None));
    assert!(c.params.0.is_empty());
    let r = request("regescrt");
    let c = &r.contacts().unwrap()[0];
    assert_eq!(
        c.uri.headers,
        [("Route".to_string(), "%3Csip:sip.example.com%3E".to_string())]
    );

    assert_eq!(request("zeromf").max_forwards().unwrap(), 0);
    assert_eq!(
        request("badbranch").top_via().unwrap().branch(),
        Some("z9hG4bK")
    );
    assert_eq!(response("bcast").vias().unwrap()[1].host, "255.255.255.255");
    assert_eq!(
        request("invut").content_type(),
        Some("application/unknownformat")
    );
    assert_eq!(
        request("regaut01").headers.get(&HeaderName::Authorization),
        Some("NoOneKnowsThisScheme opaque-data=here")
    );
    let r = request("bext01");
    assert_eq!(
        r.headers.get(&HeaderName::Require),
        Some("nothingSupportsThis, nothingSupportsThisEither")
    );
    assert_eq!(
        request("baddate").headers.get(&HeaderName::Date),
        Some("Fri, 01 Jan 2010 16:00:00 EST")
    );

    // RFC 2543-style request: no Max-Forwards, no branch, no Content-Length.
    let r = request("inv2543");
    assert_eq!(r.max_forwards().unwrap(), 70);
    assert_eq!(r.top_via().unwrap().branch(), None);
    assert!(r.body.starts_with(b"v=0\r\n") && r.body.ends_with(b"RTP/AVP 0\r\n"));
    assert_eq!(r.to().unwrap().params.get("user"), Some(Some("phone")));
}

//! Parse and serialize a Polycom Group Series INVITE (SDP with G.722.1C,
//! G.722, G.711, H.264 main video, BFCP, H.264 content, FECC) with this
//! crate and, in the same run, with `rsip` and `rvoip-sip-core` as
//! references.
//!
//! What each side does differs, so the groups are named for what they
//! measure:
//! - `parse`: ours checks the grammar of Via, From, To, Call-ID, CSeq,
//!   Max-Forwards, Content-Length and Contact and unfolds/splits headers;
//!   rsip tokenizes the message into header variants holding strings.
//! - `parse+route`: parse, then read what a transaction/dialog needs
//!   (top Via branch, From tag, CSeq number and method).
//! - `parse+serialize`: parse, then write the message back out.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use gateway_sip::parse::parse_message;
use rsip::prelude::*;

const INVITE: &[u8] = include_bytes!("polycom_group_invite.sip");

fn ours_route(data: &[u8]) -> (String, String, u32) {
    let m = parse_message(data).expect("valid INVITE");
    let via = m.top_via().unwrap();
    let gateway_sip::Message::Request(r) = &m else {
        unreachable!()
    };
    let tag = r.from().unwrap().tag().unwrap().to_string();
    let seq = m.cseq().unwrap().seq;
    (via.branch().unwrap().to_string(), tag, seq)
}

fn rsip_route(data: &[u8]) -> (String, String, u32) {
    let m = rsip::SipMessage::try_from(data).expect("rsip parses the INVITE");
    let via = m.via_header().unwrap().typed().unwrap();
    let branch = via.branch().unwrap().to_string();
    let tag = m.from_header().unwrap().tag().unwrap().unwrap().to_string();
    let seq = m.cseq_header().unwrap().seq().unwrap();
    (branch, tag, seq)
}

fn bench(c: &mut Criterion) {
    // Both parsers must agree on what they read before timing means much.
    assert_eq!(ours_route(INVITE), rsip_route(INVITE));

    let mut g = c.benchmark_group("polycom_invite");
    g.throughput(Throughput::Bytes(INVITE.len() as u64));

    g.bench_function("parse/gateway-sip", |b| {
        b.iter(|| parse_message(black_box(INVITE)).unwrap())
    });
    g.bench_function("parse/rsip", |b| {
        b.iter(|| rsip::SipMessage::try_from(black_box(INVITE)).unwrap())
    });

    g.bench_function("parse+route/gateway-sip", |b| {
        b.iter(|| ours_route(black_box(INVITE)))
    });
    g.bench_function("parse+route/rsip", |b| {
        b.iter(|| rsip_route(black_box(INVITE)))
    });

    g.bench_function("parse+serialize/gateway-sip", |b| {
        b.iter(|| parse_message(black_box(INVITE)).unwrap().to_bytes())
    });
    g.bench_function("parse+serialize/rsip", |b| {
        b.iter(|| {
            let m = rsip::SipMessage::try_from(black_box(INVITE)).unwrap();
            Vec::<u8>::from(m)
        })
    });

    // rvoip-sip-core types every header while parsing (nom), so its
    // "parse" is closer to our parse plus every typed accessor.
    g.bench_function("parse/rvoip-sip-core", |b| {
        b.iter(|| rvoip_sip_core::parse_message(black_box(INVITE)).unwrap())
    });
    g.bench_function("parse+serialize/rvoip-sip-core", |b| {
        b.iter(|| {
            rvoip_sip_core::parse_message(black_box(INVITE))
                .unwrap()
                .to_bytes()
        })
    });

    let parsed = parse_message(INVITE).unwrap();
    g.bench_function("serialize/gateway-sip", |b| {
        b.iter(|| black_box(&parsed).to_bytes())
    });
    let parsed_rsip = rsip::SipMessage::try_from(INVITE).unwrap();
    g.bench_function("serialize/rsip", |b| {
        b.iter(|| black_box(&parsed_rsip).to_string())
    });
    let parsed_rvoip = rvoip_sip_core::parse_message(INVITE).unwrap();
    g.bench_function("serialize/rvoip-sip-core", |b| {
        b.iter(|| black_box(&parsed_rvoip).to_bytes())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

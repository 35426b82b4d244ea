//! DTMF (RFC 4733 and SIP INFO), RTCP (RFC 3550/4585/5104) and receive
//! quality (RFC 3550 Appendix A, G.107 E-model).

use std::process::Command;
use std::time::{Duration, Instant};

use gateway_media::dtmf::{
    format_application_dtmf, format_dtmf_relay, parse_application_dtmf, parse_dtmf_relay,
    split_rtp, DtmfError, DtmfEvent, DtmfNotification, DtmfReceiver, DtmfSender, EndReason,
    EventPacket, EventPtRemapper, Remapped, TelephoneEvent,
};
use gateway_media::quality::{
    delay_impairment, effective_equipment_impairment, estimate, r_to_mos, rtt_from_ntp,
    CodecImpairment, QualityInput, ReceiveStats, SentReports,
};
use gateway_media::rtcp::{
    build_bye, build_compound, build_fir, build_pli, build_rr, build_sr, is_full_compound,
    nack_pairs, ntp_from_unix, ntp_middle32, parse_compound, Bye, FirEntry, NackPair,
    ReceiverReport, ReportBlock, RtcpError, RtcpPacket, SdesChunk, SdesItem, SenderReport,
};

// ---------------------------------------------------------------- DTMF ---

fn ev(c: char) -> DtmfEvent {
    DtmfEvent::from_char(c).unwrap()
}

/// Drain a receiver into (digit, began?) pairs and the Ended notifications.
fn drain(rx: &mut DtmfReceiver) -> Vec<DtmfNotification> {
    std::iter::from_fn(|| rx.poll_event()).collect()
}

fn ended_digits(notes: &[DtmfNotification]) -> String {
    notes
        .iter()
        .filter_map(|n| match n {
            DtmfNotification::Ended { event, .. } => Some(event.to_char()),
            _ => None,
        })
        .collect()
}

fn began_digits(notes: &[DtmfNotification]) -> String {
    notes
        .iter()
        .filter_map(|n| match n {
            DtmfNotification::Began { event, .. } => Some(event.to_char()),
            _ => None,
        })
        .collect()
}

/// Feed packets with consecutive sequence numbers starting at `seq`.
fn feed(rx: &mut DtmfReceiver, t0: Instant, seq: &mut u16, packets: &[EventPacket]) {
    for p in packets {
        rx.on_packet(t0 + p.at, *seq, p.timestamp, p.marker, &p.report.to_bytes())
            .unwrap();
        *seq = seq.wrapping_add(1);
    }
}

#[test]
fn telephone_event_payload_round_trip() {
    let te = TelephoneEvent {
        event: 5,
        end: true,
        volume: 10,
        duration: 800,
    };
    assert_eq!(te.to_bytes(), [5, 0x8a, 0x03, 0x20]);
    assert_eq!(TelephoneEvent::parse(&te.to_bytes()).unwrap(), te);
    // R bit set by a sloppy sender is ignored, volume is 6 bits.
    let te2 = TelephoneEvent::parse(&[11, 0x7f, 0, 160]).unwrap();
    assert_eq!((te2.end, te2.volume, te2.duration), (false, 63, 160));
    assert_eq!(te2.dtmf(), Some(ev('#')));
    assert_eq!(
        TelephoneEvent::parse(&[1, 2, 3]),
        Err(DtmfError::PayloadTooShort(3))
    );
    // Flash is event 16; 17+ are not DTMF.
    assert!(TelephoneEvent::parse(&[16, 0, 0, 0])
        .unwrap()
        .dtmf()
        .unwrap()
        .is_flash());
    assert_eq!(TelephoneEvent::parse(&[17, 0, 0, 0]).unwrap().dtmf(), None);
}

#[test]
fn all_digits_map_to_codes() {
    let keys = "0123456789*#ABCD!";
    for (code, c) in keys.chars().enumerate() {
        let e = DtmfEvent::from_code(code as u8).unwrap();
        assert_eq!(e.to_char(), c);
        assert_eq!(DtmfEvent::from_char(c), Some(e));
    }
    assert_eq!(DtmfEvent::from_char('d'), Some(ev('D')));
}

#[test]
fn sender_schedule_at_8khz() {
    let tx = DtmfSender::new(8000, 50).unwrap();
    let pkts = tx.packets(ev('1'), 200, 12345);
    // Updates at 0, 50, 100, 150 ms then three end reports.
    assert_eq!(pkts.len(), 7);
    assert!(pkts[0].marker);
    assert!(pkts[1..].iter().all(|p| !p.marker));
    assert!(pkts.iter().all(|p| p.timestamp == 12345));
    let durations: Vec<u16> = pkts.iter().map(|p| p.report.duration).collect();
    assert_eq!(durations, [400, 800, 1200, 1600, 1600, 1600, 1600]);
    let ends: Vec<bool> = pkts.iter().map(|p| p.report.end).collect();
    assert_eq!(ends, [false, false, false, false, true, true, true]);
    let at: Vec<u64> = pkts.iter().map(|p| p.at.as_millis() as u64).collect();
    assert_eq!(at, [0, 50, 100, 150, 200, 250, 300]);
    assert!(pkts.iter().all(|p| p.report.event == 1));
}

#[test]
fn sender_durations_follow_clock_rate() {
    for (rate, expect) in [(8000u32, 800u16), (16000, 1600), (48000, 4800)] {
        let tx = DtmfSender::new(rate, 20).unwrap();
        let pkts = tx.packets(ev('9'), 100, 0);
        let last = pkts.last().unwrap();
        assert!(last.report.end);
        assert_eq!(last.report.duration, expect, "rate {rate}");
        // ptime-based updates: 5 updates of 20 ms, each one step longer.
        assert_eq!(pkts.iter().filter(|p| !p.report.end).count(), 5);
        assert_eq!(pkts[0].report.duration, expect / 5);
    }
    assert!(DtmfSender::new(0, 20).is_err());
}

#[test]
fn sender_segments_long_events() {
    // 3 s at 48 kHz = 144000 units: segments of 65535, 65535, 12930.
    let tx = DtmfSender::new(48000, 50).unwrap();
    let start = u32::MAX - 1000; // the timestamps wrap inside the event
    let pkts = tx.packets(ev('0'), 3000, start);
    let mut seg_ts: Vec<u32> = pkts.iter().map(|p| p.timestamp).collect();
    seg_ts.dedup();
    assert_eq!(
        seg_ts,
        [start, start.wrapping_add(65535), start.wrapping_add(131070)]
    );
    assert_eq!(pkts.iter().filter(|p| p.marker).count(), 1);
    assert!(pkts[0].marker);
    // The E bit only in the three final reports of the last segment.
    let ends: Vec<&EventPacket> = pkts.iter().filter(|p| p.report.end).collect();
    assert_eq!(ends.len(), 3);
    assert!(ends.iter().all(|p| p.timestamp == seg_ts[2]));
    assert!(ends.iter().all(|p| p.report.duration == 12930));
    // Each non-final segment reaches the maximum duration.
    for ts in &seg_ts[..2] {
        let max = pkts
            .iter()
            .filter(|p| p.timestamp == *ts)
            .map(|p| p.report.duration)
            .max();
        assert_eq!(max, Some(65535));
    }
}

#[test]
fn receiver_reports_once_with_triple_end() {
    let t0 = Instant::now();
    let tx = DtmfSender::new(8000, 50).unwrap();
    let mut rx = DtmfReceiver::new(8000).unwrap();
    let mut seq = 100;
    feed(&mut rx, t0, &mut seq, &tx.packets(ev('5'), 200, 1000));
    let notes = drain(&mut rx);
    assert_eq!(
        notes,
        [
            DtmfNotification::Began {
                event: ev('5'),
                timestamp: 1000
            },
            DtmfNotification::Ended {
                event: ev('5'),
                timestamp: 1000,
                duration: 1600,
                reason: EndReason::EndBit
            }
        ]
    );
    assert_eq!(rx.stats().duplicates, 2, "2nd and 3rd end report");
    assert_eq!(rx.poll_timeout(), None);
}

#[test]
fn receiver_without_marker() {
    let t0 = Instant::now();
    let tx = DtmfSender::new(8000, 20).unwrap();
    let mut rx = DtmfReceiver::new(8000).unwrap();
    let mut seq = 7;
    let pkts = tx.packets(ev('#'), 120, 5000);
    // The first packet (the one with the marker) is lost.
    feed(&mut rx, t0, &mut seq, &pkts[1..]);
    let notes = drain(&mut rx);
    assert_eq!(began_digits(&notes), "#");
    assert_eq!(ended_digits(&notes), "#");
    assert!(matches!(
        notes[1],
        DtmfNotification::Ended { duration: 960, .. }
    ));
}

#[test]
fn receiver_reordered_packets() {
    let t0 = Instant::now();
    let tx = DtmfSender::new(8000, 50).unwrap();
    let mut rx = DtmfReceiver::new(8000).unwrap();
    let mut pkts = tx.packets(ev('7'), 200, 0);
    // An end report overtakes the last two updates; the marker packet
    // comes second.
    pkts.swap(0, 1);
    let end = pkts.remove(4);
    pkts.insert(2, end);
    let mut seq = 0;
    feed(&mut rx, t0, &mut seq, &pkts);
    let notes = drain(&mut rx);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(began_digits(&notes), "7");
    assert!(matches!(
        notes[1],
        DtmfNotification::Ended {
            duration: 1600,
            reason: EndReason::EndBit,
            ..
        }
    ));
}

#[test]
fn receiver_next_event_overtakes_end_reports() {
    let t0 = Instant::now();
    let tx = DtmfSender::new(8000, 50).unwrap();
    let mut rx = DtmfReceiver::new(8000).unwrap();
    let first = tx.packets(ev('1'), 100, 0);
    let second = tx.packets(ev('2'), 100, 2400);
    let mut order: Vec<EventPacket> = Vec::new();
    order.extend_from_slice(&first[..2]); // updates of '1'
    order.push(second[0]); // '2' starts before '1' ends
    order.extend_from_slice(&first[2..]); // the end reports of '1', late
    order.extend_from_slice(&second[1..]);
    let mut seq = 0;
    feed(&mut rx, t0, &mut seq, &order);
    let notes = drain(&mut rx);
    assert_eq!(began_digits(&notes), "12");
    assert_eq!(ended_digits(&notes), "12");
    assert!(matches!(
        notes[1],
        DtmfNotification::Ended {
            reason: EndReason::NextEvent,
            duration: 800,
            ..
        }
    ));
}

#[test]
fn receiver_times_out_when_all_end_reports_lost() {
    let t0 = Instant::now();
    let tx = DtmfSender::new(8000, 50).unwrap();
    let mut rx = DtmfReceiver::new(8000)
        .unwrap()
        .with_idle_end(Duration::from_millis(500));
    let pkts = tx.packets(ev('3'), 150, 0);
    let updates: Vec<EventPacket> = pkts.into_iter().filter(|p| !p.report.end).collect();
    let mut seq = 0;
    feed(&mut rx, t0, &mut seq, &updates);
    assert_eq!(began_digits(&drain(&mut rx)), "3");
    let last_seen = t0 + updates.last().unwrap().at;
    assert_eq!(
        rx.poll_timeout(),
        Some(last_seen + Duration::from_millis(500))
    );
    rx.handle_timeout(last_seen + Duration::from_millis(499));
    assert_eq!(rx.poll_event(), None);
    rx.handle_timeout(last_seen + Duration::from_millis(500));
    assert_eq!(
        rx.poll_event(),
        Some(DtmfNotification::Ended {
            event: ev('3'),
            timestamp: 0,
            duration: 1200,
            reason: EndReason::Timeout
        })
    );
    rx.handle_timeout(last_seen + Duration::from_secs(5));
    assert_eq!(rx.poll_event(), None);
}

#[test]
fn receiver_flush_ends_open_event() {
    let t0 = Instant::now();
    let mut rx = DtmfReceiver::new(8000).unwrap();
    rx.on_packet(t0, 1, 10, true, &[4, 10, 0, 160]).unwrap();
    rx.flush();
    rx.flush();
    let notes = drain(&mut rx);
    assert_eq!(notes.len(), 2);
    assert!(matches!(
        notes[1],
        DtmfNotification::Ended {
            reason: EndReason::Flush,
            ..
        }
    ));
}

#[test]
fn receiver_sequence_wrap_keeps_digit_order() {
    let t0 = Instant::now();
    let tx = DtmfSender::new(8000, 20).unwrap();
    let mut rx = DtmfReceiver::new(8000).unwrap();
    let mut seq = 65530u16;
    let mut ts = 4_294_960_000u32; // timestamps wrap too
    for c in "123#".chars() {
        feed(&mut rx, t0, &mut seq, &tx.packets(ev(c), 100, ts));
        ts = ts.wrapping_add(1600);
    }
    let notes = drain(&mut rx);
    assert_eq!(began_digits(&notes), "123#");
    assert_eq!(ended_digits(&notes), "123#");
    assert_eq!(rx.stats().late, 0);
}

#[test]
fn receiver_same_digit_twice_without_marker() {
    let t0 = Instant::now();
    let tx = DtmfSender::new(8000, 20).unwrap();
    let mut rx = DtmfReceiver::new(8000).unwrap();
    let mut seq = 0;
    feed(&mut rx, t0, &mut seq, &tx.packets(ev('5'), 100, 0));
    let second = tx.packets(ev('5'), 100, 1600);
    feed(&mut rx, t0, &mut seq, &second[1..]);
    assert_eq!(ended_digits(&drain(&mut rx)), "55");
}

#[test]
fn receiver_joins_segments_of_a_long_event() {
    let t0 = Instant::now();
    let tx = DtmfSender::new(48000, 50).unwrap();
    let mut rx = DtmfReceiver::new(48000).unwrap();
    let mut seq = 0;
    feed(&mut rx, t0, &mut seq, &tx.packets(ev('*'), 3000, 777));
    let notes = drain(&mut rx);
    assert_eq!(
        notes,
        [
            DtmfNotification::Began {
                event: ev('*'),
                timestamp: 777
            },
            DtmfNotification::Ended {
                event: ev('*'),
                timestamp: 777,
                duration: 144_000,
                reason: EndReason::EndBit
            }
        ]
    );
}

#[test]
fn receiver_drops_stragglers_but_follows_timestamp_restart() {
    let t0 = Instant::now();
    let mut rx = DtmfReceiver::new(8000).unwrap();
    rx.on_packet(t0, 50, 10_000, true, &[1, 0x80, 0, 160])
        .unwrap();
    // An older event, older sequence number: a straggler, dropped.
    rx.on_packet(t0, 40, 8_000, true, &[2, 0x80, 0, 160])
        .unwrap();
    assert_eq!(rx.stats().late, 1);
    // Older timestamp but newer sequence number: the source restarted its
    // timestamps; this is a new key press.
    rx.on_packet(t0, 51, 500, true, &[3, 0x80, 0, 160]).unwrap();
    assert_eq!(ended_digits(&drain(&mut rx)), "13");
}

#[test]
fn receiver_ignores_non_dtmf_and_rejects_short() {
    let t0 = Instant::now();
    let mut rx = DtmfReceiver::new(8000).unwrap();
    rx.on_packet(t0, 1, 0, true, &[32, 0x80, 0, 160]).unwrap();
    assert_eq!(rx.stats().non_dtmf, 1);
    assert_eq!(rx.poll_event(), None);
    assert_eq!(
        rx.on_packet(t0, 2, 0, true, &[1, 0]),
        Err(DtmfError::PayloadTooShort(2))
    );
}

#[test]
fn receiver_takes_whole_rtp_packets() {
    let t0 = Instant::now();
    let tx = DtmfSender::new(8000, 50).unwrap();
    let mut rx = DtmfReceiver::new(8000).unwrap();
    for (i, p) in tx.packets(ev('B'), 100, 99).iter().enumerate() {
        let rtp = p.to_rtp(101, 65534u16.wrapping_add(i as u16), 0xabc);
        let view = split_rtp(&rtp).unwrap();
        assert_eq!(view.payload_type, 101);
        assert_eq!(view.marker, i == 0);
        rx.on_rtp(t0 + p.at, &rtp).unwrap();
    }
    assert_eq!(ended_digits(&drain(&mut rx)), "B");
    assert!(rx.on_rtp(t0, &[0x80, 101, 0]).is_err());
}

#[test]
fn payload_type_remapping() {
    let mut map = EventPtRemapper::new();
    map.map(101, 96).map(110, 97);
    let tx = DtmfSender::new(8000, 50).unwrap();
    let p = tx.packets(ev('4'), 100, 0)[0];
    let mut rtp = p.to_rtp(101, 1, 2);
    assert_eq!(
        map.apply(&mut rtp).unwrap(),
        Remapped::Rewritten { from: 101, to: 96 }
    );
    assert_eq!(rtp[1], 0x80 | 96, "marker bit kept");
    assert_eq!(&rtp[12..], &p.report.to_bytes(), "payload untouched");
    // Audio (PT 0) passes.
    let mut audio = p.to_rtp(0, 2, 2);
    assert_eq!(map.apply(&mut audio).unwrap(), Remapped::NotEvent);
    assert_eq!(audio[1] & 0x7f, 0);
    // Remapping replaces, garbage is refused.
    map.map(101, 100);
    assert_eq!(map.lookup(101), Some(100));
    assert!(map
        .apply(&mut [0x40, 101, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        .is_err());
    assert!(map.apply(&mut [0x80, 101]).is_err());
}

#[test]
fn sip_info_dtmf_relay() {
    let info = parse_dtmf_relay("Signal=5\r\nDuration=160\r\n").unwrap();
    assert_eq!((info.event, info.duration_ms), (ev('5'), Some(160)));
    let info = parse_dtmf_relay("signal= *\nDURATION = 250\n").unwrap();
    assert_eq!((info.event, info.duration_ms), (ev('*'), Some(250)));
    let info = parse_dtmf_relay("  Signal =#").unwrap();
    assert_eq!((info.event, info.duration_ms), (ev('#'), None));
    // Numeric codes some devices send, and flash.
    assert_eq!(parse_dtmf_relay("Signal=11\r\n").unwrap().event, ev('#'));
    assert!(parse_dtmf_relay("Signal=16").unwrap().event.is_flash());
    assert!(parse_dtmf_relay("Signal=!").unwrap().event.is_flash());
    assert_eq!(parse_dtmf_relay("Signal=d").unwrap().event, ev('D'));
    assert_eq!(
        parse_dtmf_relay("Duration=100\r\n"),
        Err(DtmfError::MissingSignal)
    );
    assert!(matches!(
        parse_dtmf_relay("Signal=X"),
        Err(DtmfError::UnknownSignal(_))
    ));
    assert!(matches!(
        parse_dtmf_relay("Signal=17"),
        Err(DtmfError::UnknownSignal(_))
    ));
    assert!(matches!(
        parse_dtmf_relay("Signal=1\r\nDuration=-5"),
        Err(DtmfError::BadDuration(_))
    ));
    assert_eq!(
        format_dtmf_relay(ev('5'), 160),
        "Signal=5\r\nDuration=160\r\n"
    );
    for c in "0123456789*#ABCD!".chars() {
        let body = format_dtmf_relay(ev(c), 100);
        assert_eq!(parse_dtmf_relay(&body).unwrap().event, ev(c));
    }
}

#[test]
fn sip_info_application_dtmf() {
    assert_eq!(parse_application_dtmf("5").unwrap(), ev('5'));
    assert_eq!(parse_application_dtmf(" #\r\n").unwrap(), ev('#'));
    assert_eq!(parse_application_dtmf("12").unwrap(), ev('A'));
    assert_eq!(parse_application_dtmf(""), Err(DtmfError::MissingSignal));
    assert!(parse_application_dtmf("55").is_err());
    assert_eq!(format_application_dtmf(ev('*')), "*");
}

// ---------------------------------------------------------------- RTCP ---

fn block(ssrc: u32, lost: i32) -> ReportBlock {
    ReportBlock {
        ssrc,
        fraction_lost: 25,
        cumulative_lost: lost,
        extended_highest_seq: 0x0001_0203,
        jitter: 37,
        last_sr: 0xaabb_ccdd,
        delay_since_last_sr: 65536,
    }
}

fn sr() -> SenderReport {
    SenderReport {
        ssrc: 0x1122_3344,
        ntp_timestamp: 0xe9d0_5a3c_8000_0000,
        rtp_timestamp: 160_000,
        packet_count: 1000,
        octet_count: 160_000,
        reports: vec![block(7, 10), block(8, -3)],
    }
}

#[test]
fn sr_round_trip_with_report_blocks() {
    let bytes = build_sr(&sr()).unwrap();
    assert_eq!(bytes.len(), 28 + 2 * 24);
    assert_eq!(&bytes[..4], &[0x82, 200, 0, 18]);
    // Negative cumulative loss is a 24-bit two's complement.
    assert_eq!(&bytes[28 + 24 + 4..28 + 24 + 8], &[25, 0xff, 0xff, 0xfd]);
    assert_eq!(
        parse_compound(&bytes).unwrap(),
        [RtcpPacket::SenderReport(sr())]
    );
}

#[test]
fn rr_round_trip() {
    let empty = build_rr(5, &[]).unwrap();
    assert_eq!(empty, [0x80, 201, 0, 1, 0, 0, 0, 5]);
    let rr = build_rr(5, &[block(9, 0x7f_ffff)]).unwrap();
    assert_eq!(
        parse_compound(&rr).unwrap(),
        [RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: 5,
            reports: vec![block(9, 0x7f_ffff)]
        })]
    );
    // Out-of-range loss saturates instead of wrapping.
    let rr = build_rr(5, &[block(9, 20_000_000)]).unwrap();
    let RtcpPacket::ReceiverReport(parsed) = &parse_compound(&rr).unwrap()[0] else {
        panic!("not an RR");
    };
    assert_eq!(parsed.reports[0].cumulative_lost, 0x7f_ffff);
    let too_many = vec![block(1, 0); 32];
    assert_eq!(build_rr(5, &too_many), Err(RtcpError::TooManyItems(32)));
}

#[test]
fn sdes_round_trip_and_alignment() {
    for n in 0..12 {
        let cname: String = "abcdefghijkl"[..n].to_string();
        let pkt = RtcpPacket::SourceDescription(vec![SdesChunk::cname(42, &cname)]);
        let bytes = build_compound(std::slice::from_ref(&pkt)).unwrap();
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(
            (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])) + 1) * 4,
            bytes.len()
        );
        let parsed = parse_compound(&bytes).unwrap();
        assert_eq!(parsed, [pkt]);
    }
    let two = RtcpPacket::SourceDescription(vec![
        SdesChunk {
            ssrc: 1,
            items: vec![
                SdesItem {
                    kind: 1,
                    text: "gw@10.0.0.1".into(),
                },
                SdesItem {
                    kind: 6,
                    text: "gateway".into(),
                },
            ],
        },
        SdesChunk::cname(2, "x"),
    ]);
    let bytes = build_compound(std::slice::from_ref(&two)).unwrap();
    assert_eq!(parse_compound(&bytes).unwrap(), [two]);
}

#[test]
fn bye_round_trip() {
    let bytes = build_bye(&[1, 2], Some("meeting ended")).unwrap();
    assert_eq!(bytes.len() % 4, 0);
    assert_eq!(
        parse_compound(&bytes).unwrap(),
        [RtcpPacket::Bye(Bye {
            ssrcs: vec![1, 2],
            reason: Some("meeting ended".into())
        })]
    );
    let bytes = build_bye(&[9], None).unwrap();
    assert_eq!(bytes, [0x81, 203, 0, 1, 0, 0, 0, 9]);
    assert!(build_bye(&[9], Some(&"x".repeat(256))).is_err());
}

#[test]
fn pli_and_fir_bytes() {
    assert_eq!(
        build_pli(0x0102_0304, 0x0a0b_0c0d),
        [0x81, 206, 0, 2, 1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d]
    );
    let fir = build_fir(1, 0x0a0b_0c0d, 7);
    assert_eq!(
        fir,
        [0x84, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0x0a, 0x0b, 0x0c, 0x0d, 7, 0, 0, 0]
    );
    assert_eq!(
        parse_compound(&fir).unwrap(),
        [RtcpPacket::Fir {
            sender_ssrc: 1,
            entries: vec![FirEntry {
                ssrc: 0x0a0b_0c0d,
                seq_nr: 7
            }]
        }]
    );
    assert_eq!(
        parse_compound(&build_pli(5, 6)).unwrap(),
        [RtcpPacket::Pli {
            sender_ssrc: 5,
            media_ssrc: 6
        }]
    );
}

#[test]
fn generic_nack() {
    let lost = [100u16, 101, 105, 116, 117, 65535, 0, 3];
    let pairs = nack_pairs(&lost);
    assert_eq!(
        pairs,
        [
            NackPair {
                pid: 100,
                blp: 0b1000_0000_0001_0001
            },
            NackPair { pid: 117, blp: 0 },
            NackPair {
                pid: 65535,
                blp: 0b1001
            },
        ]
    );
    let expanded: Vec<u16> = pairs
        .iter()
        .flat_map(|p| p.lost().collect::<Vec<_>>())
        .collect();
    assert_eq!(expanded, lost);
    let pkt = RtcpPacket::Nack {
        sender_ssrc: 1,
        media_ssrc: 2,
        pairs,
    };
    let bytes = build_compound(std::slice::from_ref(&pkt)).unwrap();
    assert_eq!(&bytes[..2], &[0x81, 205]);
    assert_eq!(parse_compound(&bytes).unwrap(), [pkt]);
}

#[test]
fn remb_parse() {
    // 1.5 Mbit/s = 0x2dc6c (mantissa 187500 << 3 = 1500000), one SSRC.
    let mantissa: u32 = 187_500;
    let exp = 3u8;
    let mut b = vec![0x8f, 206, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0];
    b.extend_from_slice(b"REMB");
    b.push(1);
    b.push((exp << 2) | (mantissa >> 16) as u8);
    b.extend_from_slice(&(mantissa as u16).to_be_bytes());
    b.extend_from_slice(&0xdead_beefu32.to_be_bytes());
    let want = RtcpPacket::Remb {
        sender_ssrc: 1,
        bitrate_bps: 1_500_000,
        ssrcs: vec![0xdead_beef],
    };
    assert_eq!(parse_compound(&b).unwrap(), [want.clone()]);
    assert_eq!(build_compound(&[want]).unwrap(), b);
    // SSRC count larger than the packet.
    b[16] = 9;
    assert!(matches!(
        parse_compound(&b),
        Err(RtcpError::BadFeedback { .. })
    ));
}

#[test]
fn compound_round_trip() {
    let packets = vec![
        RtcpPacket::SenderReport(sr()),
        RtcpPacket::SourceDescription(vec![SdesChunk::cname(0x1122_3344, "gw")]),
        RtcpPacket::Bye(Bye {
            ssrcs: vec![0x1122_3344],
            reason: Some("bye".into()),
        }),
    ];
    let bytes = build_compound(&packets).unwrap();
    let parsed = parse_compound(&bytes).unwrap();
    assert_eq!(parsed, packets);
    assert!(is_full_compound(&parsed));
    assert!(!is_full_compound(
        &parse_compound(&build_pli(1, 2)).unwrap()
    ));
}

/// SR + SDES as Chrome sends it (a capture quoted in public bug reports of
/// RTCP libraries: an SR without report blocks followed by an SDES with the
/// 16-character WebRTC CNAME).
const CHROME_SR_SDES: [u8; 56] = [
    0x80, 0xc8, 0x00, 0x06, 0x2b, 0x7e, 0xc0, 0xc5, 0xe0, 0x20, 0xa2, 0xa9, 0x52, 0xa5, 0x3f, 0xc0,
    0x2e, 0x48, 0xa5, 0x52, 0x00, 0x00, 0x00, 0x46, 0x00, 0x00, 0x12, 0x1d, 0x81, 0xca, 0x00, 0x06,
    0x2b, 0x7e, 0xc0, 0xc5, 0x01, 0x10, 0x4c, 0x63, 0x49, 0x66, 0x7a, 0x58, 0x6f, 0x6e, 0x44, 0x6f,
    0x72, 0x64, 0x53, 0x65, 0x57, 0x36, 0x00, 0x00,
];

#[test]
fn real_chrome_sr_sdes() {
    let parsed = parse_compound(&CHROME_SR_SDES).unwrap();
    assert_eq!(parsed.len(), 2);
    assert!(is_full_compound(&parsed));
    let RtcpPacket::SenderReport(sr) = &parsed[0] else {
        panic!("first is not an SR: {parsed:?}");
    };
    assert_eq!(sr.ssrc, 0x2b7e_c0c5);
    assert_eq!(sr.ntp_timestamp, 0xe020_a2a9_52a5_3fc0);
    assert_eq!(sr.rtp_timestamp, 0x2e48_a552);
    assert_eq!((sr.packet_count, sr.octet_count), (70, 4637));
    assert!(sr.reports.is_empty());
    let RtcpPacket::SourceDescription(chunks) = &parsed[1] else {
        panic!("second is not SDES");
    };
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].ssrc, 0x2b7e_c0c5);
    assert_eq!(chunks[0].get_cname(), Some("LcIfzXonDordSeW6"));
    // Our builder produces the same bytes from the parsed form.
    assert_eq!(build_compound(&parsed).unwrap(), CHROME_SR_SDES);
}

/// An SR captured from ffmpeg's RTP muxer (`-f rtp`, PCMU) on this machine.
#[test]
fn real_ffmpeg_sr() {
    let b: [u8; 28] = [
        0x80, 0xc8, 0x00, 0x06, 0x14, 0xc3, 0x28, 0xbb, 0xee, 0xbb, 0x9d, 0xb7, 0x95, 0x3f, 0x7c,
        0xed, 0x37, 0xd0, 0xca, 0x69, 0x00, 0x00, 0x00, 0xd8, 0x00, 0x00, 0x9c, 0xac,
    ];
    let parsed = parse_compound(&b).unwrap();
    let RtcpPacket::SenderReport(sr) = &parsed[0] else {
        panic!("not an SR");
    };
    assert_eq!(sr.ssrc, 0x14c3_28bb);
    assert_eq!((sr.packet_count, sr.octet_count), (216, 40108));
    assert_eq!(sr.rtp_timestamp, 0x37d0_ca69);
    // NTP seconds are in 2026-ish, i.e. after the Unix epoch offset.
    assert!(sr.ntp_timestamp >> 32 > 2_208_988_800);
}

/// Chrome transport-cc feedback with the padding bit set (a published
/// capture): parsed as an unknown feedback type, padding validated.
#[test]
fn real_padded_transport_cc_is_skipped() {
    let b: [u8; 32] = [
        0xaf, 0xcd, 0x00, 0x07, 0x00, 0x00, 0x00, 0x01, 0xdd, 0x58, 0x6e, 0xb6, 0x00, 0x01, 0x00,
        0x09, 0x5e, 0x91, 0x10, 0x00, 0x20, 0x09, 0x1c, 0x0c, 0x2c, 0x38, 0x00, 0x04, 0x00, 0x08,
        0x18, 0x01,
    ];
    assert_eq!(
        parse_compound(&b).unwrap(),
        [RtcpPacket::Other {
            packet_type: 205,
            count: 15
        }]
    );
}

#[test]
fn truncated_and_lying_packets_are_rejected() {
    let good = build_compound(&[
        RtcpPacket::SenderReport(sr()),
        RtcpPacket::SourceDescription(vec![SdesChunk::cname(1, "abc")]),
        RtcpPacket::Bye(Bye {
            ssrcs: vec![1],
            reason: Some("r".into()),
        }),
    ])
    .unwrap();
    // Packet boundaries inside the compound packet.
    let boundaries = [76usize, 92];
    for cut in 0..good.len() {
        let r = parse_compound(&good[..cut]);
        if boundaries.contains(&cut) {
            assert!(r.is_ok(), "cut at boundary {cut}");
        } else {
            assert!(r.is_err(), "truncated at {cut} accepted");
        }
    }
    // Length field larger than the datagram.
    let mut b = build_pli(1, 2);
    b[3] = 200;
    assert_eq!(
        parse_compound(&b),
        Err(RtcpError::LengthOverrun {
            declared: 804,
            available: 12
        })
    );
    // Report count larger than the length allows.
    let mut b = build_rr(5, &[block(1, 0)]).unwrap();
    b[0] = 0x80 | 5;
    assert!(matches!(
        parse_compound(&b),
        Err(RtcpError::CountOverrun { count: 5, .. })
    ));
    // Wrong version.
    let mut b = build_pli(1, 2);
    b[0] = 0x41;
    assert_eq!(parse_compound(&b), Err(RtcpError::BadVersion(1)));
    // Padding: zero count, count beyond the packet, and not on the last.
    let mut b = build_rr(5, &[]).unwrap();
    b.extend_from_slice(&[0, 0, 0, 0]);
    b[3] = 2;
    b[0] |= 0x20;
    assert!(matches!(
        parse_compound(&b),
        Err(RtcpError::BadPadding { padding: 0, .. })
    ));
    b[11] = 13;
    assert!(matches!(
        parse_compound(&b),
        Err(RtcpError::BadPadding { padding: 13, .. })
    ));
    b[11] = 4;
    assert!(parse_compound(&b).is_ok());
    let mut two = b.clone();
    two.extend_from_slice(&build_pli(1, 2));
    assert_eq!(parse_compound(&two), Err(RtcpError::PaddingNotLast));
    // SDES item length running past the chunk.
    let mut s = build_compound(&[RtcpPacket::SourceDescription(vec![SdesChunk::cname(
        1, "abc",
    )])])
    .unwrap();
    s[9] = 40;
    assert_eq!(parse_compound(&s), Err(RtcpError::BadSdes));
    // BYE reason length running past the packet.
    let mut s = build_bye(&[1], Some("abc")).unwrap();
    s[8] = 10;
    assert!(parse_compound(&s).is_err());
    // FIR with a partial entry.
    let mut f = build_fir(1, 2, 3);
    f.truncate(16);
    f[3] = 3;
    assert!(matches!(
        parse_compound(&f),
        Err(RtcpError::BadFeedback { .. })
    ));
    assert_eq!(parse_compound(&[]), Err(RtcpError::Empty));
}

#[test]
fn parser_never_panics_on_mutations() {
    let good = build_compound(&[
        RtcpPacket::SenderReport(sr()),
        RtcpPacket::SourceDescription(vec![SdesChunk::cname(1, "abcdef")]),
        RtcpPacket::Nack {
            sender_ssrc: 1,
            media_ssrc: 2,
            pairs: vec![NackPair { pid: 1, blp: 3 }],
        },
        RtcpPacket::Bye(Bye {
            ssrcs: vec![1],
            reason: Some("r".into()),
        }),
    ])
    .unwrap();
    // Every single-byte change to every position, with a few values.
    for i in 0..good.len() {
        for v in [0u8, 1, 0x1f, 0x20, 0x3f, 0x7f, 0x80, 0xa0, 0xbf, 0xff] {
            let mut m = good.clone();
            m[i] = v;
            let _ = parse_compound(&m);
        }
    }
    // And the published/captured packets, every truncation.
    for cut in 0..CHROME_SR_SDES.len() {
        assert!(parse_compound(&CHROME_SR_SDES[..cut]).is_err() || cut == 28);
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_do_not_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_compound(&data);
        }

        #[test]
        fn report_blocks_round_trip(
            ssrc in any::<u32>(), fraction in any::<u8>(), lost in -0x80_0000i32..0x80_0000,
            seq in any::<u32>(), jitter in any::<u32>(), lsr in any::<u32>(), dlsr in any::<u32>(),
        ) {
            let b = ReportBlock { ssrc, fraction_lost: fraction, cumulative_lost: lost,
                extended_highest_seq: seq, jitter, last_sr: lsr, delay_since_last_sr: dlsr };
            let bytes = build_rr(1, &[b]).unwrap();
            let parsed = parse_compound(&bytes).unwrap();
            prop_assert_eq!(parsed, vec![RtcpPacket::ReceiverReport(ReceiverReport { ssrc: 1, reports: vec![b] })]);
        }
    }
}

/// Independent check of our builders with Wireshark's dissector, if
/// installed.
#[test]
fn tshark_dissects_our_compound_packet() {
    let (Ok(_), Ok(_)) = (
        Command::new("tshark").arg("--version").output(),
        Command::new("text2pcap").arg("-h").output(),
    ) else {
        eprintln!("SKIP: tshark/text2pcap not installed");
        return;
    };
    let packets = vec![
        RtcpPacket::SenderReport(sr()),
        RtcpPacket::SourceDescription(vec![SdesChunk::cname(0x1122_3344, "gw@example")]),
        RtcpPacket::Bye(Bye {
            ssrcs: vec![0x1122_3344],
            reason: Some("meeting ended".into()),
        }),
    ];
    let bytes = build_compound(&packets).unwrap();
    let dir = std::env::temp_dir().join(format!("rtcp-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hex: String = bytes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if i % 16 == 0 {
                format!("\n{i:06x} {b:02x}")
            } else {
                format!(" {b:02x}")
            }
        })
        .collect();
    let txt = dir.join("rtcp.txt");
    let pcap = dir.join("rtcp.pcap");
    std::fs::write(&txt, hex.trim_start()).unwrap();
    let st = Command::new("text2pcap")
        .args(["-q", "-u", "5005,5005"])
        .arg(&txt)
        .arg(&pcap)
        .status()
        .unwrap();
    assert!(st.success());
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(&pcap)
        .args([
            "-d",
            "udp.port==5005,rtcp",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "rtcp.pt",
            "-e",
            "rtcp.sdes.text",
            "-e",
            "rtcp.ssrc.cum_nr",
            "-e",
            "rtcp.length_check",
        ])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("200,202,203"), "{text}");
    // SDES text and BYE reason are both shown as `rtcp.sdes.text`.
    assert!(text.contains("gw@example,meeting ended"), "{text}");
    // Cumulative losses 10 and -3 (24-bit signed).
    assert!(text.contains("10,-3"), "{text}");
    assert!(!text.contains("False"), "length check failed: {text}");
}

// ------------------------------------------------------------- quality ---

#[test]
fn loss_and_fraction_lost() {
    let t0 = Instant::now();
    let mut s = ReceiveStats::new(0x77, 8000);
    for i in 0..100u16 {
        if i % 10 == 9 {
            continue;
        }
        s.on_packet(
            1000 + i,
            u32::from(i) * 160,
            t0 + Duration::from_millis(20 * u64::from(i)),
        );
    }
    // Highest seen is 1098: 99 expected, 90 received.
    assert_eq!(s.expected(), 99);
    assert_eq!(s.received(), 90);
    assert_eq!(s.cumulative_lost(), 9);
    assert!((s.loss_percent() - 100.0 * 9.0 / 99.0).abs() < 1e-9);
    let rb = s.report_block(t0);
    assert_eq!(rb.ssrc, 0x77);
    assert_eq!(rb.fraction_lost, (9 * 256 / 99) as u8);
    assert_eq!(rb.cumulative_lost, 9);
    assert_eq!(rb.extended_highest_seq, 1098);
    // Next interval: no loss.
    for i in 100..150u16 {
        s.on_packet(
            1000 + i,
            u32::from(i) * 160,
            t0 + Duration::from_millis(20 * u64::from(i)),
        );
    }
    // 1099 (i = 99) was lost: 1 of the 51 expected in this interval.
    let rb = s.report_block(t0);
    assert_eq!(rb.fraction_lost, (256 / 51) as u8);
    assert_eq!(rb.cumulative_lost, 10);
    // An interval without loss.
    for i in 150..200u16 {
        s.on_packet(
            1000 + i,
            u32::from(i) * 160,
            t0 + Duration::from_millis(20 * u64::from(i)),
        );
    }
    let rb = s.report_block(t0);
    assert_eq!(rb.fraction_lost, 0);
    assert_eq!(rb.cumulative_lost, 10);
    assert_eq!(rb.extended_highest_seq, 1199);
}

#[test]
fn sequence_wrap_and_duplicates() {
    let t0 = Instant::now();
    let mut s = ReceiveStats::new(1, 8000);
    for i in 0..100u32 {
        s.on_packet(65500u16.wrapping_add(i as u16), i * 160, t0);
    }
    assert_eq!(s.extended_highest_seq(), 65536 + 63);
    assert_eq!(s.expected(), 100);
    assert_eq!(s.cumulative_lost(), 0);
    // Reordered old packet and duplicates: counted, loss goes negative.
    s.on_packet(65530, 0, t0);
    s.on_packet(10, 0, t0);
    assert_eq!(s.extended_highest_seq(), 65536 + 63);
    assert_eq!(s.cumulative_lost(), -2);
    assert_eq!(s.report_block(t0).cumulative_lost, -2);
}

#[test]
fn jitter_converges_for_known_pattern() {
    let t0 = Instant::now();
    // Perfectly paced: no jitter.
    let mut s = ReceiveStats::new(1, 8000);
    for i in 0..200u32 {
        s.on_packet(
            i as u16,
            i * 160,
            t0 + Duration::from_millis(20 * u64::from(i)),
        );
    }
    assert_eq!(s.jitter(), 0);
    // Every other packet 4 ms late: |D| = 4 ms = 32 units each time, so J
    // converges to 32.
    let mut s = ReceiveStats::new(1, 8000);
    for i in 0..400u32 {
        let late = if i % 2 == 1 { 4 } else { 0 };
        s.on_packet(
            i as u16,
            i * 160,
            t0 + Duration::from_millis(20 * u64::from(i) + late),
        );
    }
    assert!((31..=32).contains(&s.jitter()), "jitter {}", s.jitter());
    assert!((s.jitter_ms() - 4.0).abs() < 0.2);
    // Same pattern at 48 kHz: 4 ms = 192 units.
    let mut s = ReceiveStats::new(1, 48000);
    for i in 0..400u32 {
        let late = if i % 2 == 1 { 4 } else { 0 };
        s.on_packet(
            i as u16,
            (i * 960).wrapping_add(u32::MAX - 5000), // RTP timestamps wrap
            t0 + Duration::from_millis(20 * u64::from(i) + late),
        );
    }
    assert!((190..=192).contains(&s.jitter()), "jitter {}", s.jitter());
}

#[test]
fn lsr_and_dlsr_in_report_block() {
    let t0 = Instant::now();
    let mut s = ReceiveStats::new(1, 8000);
    s.on_packet(1, 0, t0);
    assert_eq!(s.report_block(t0).last_sr, 0);
    let ntp = ntp_from_unix(Duration::from_millis(1_700_000_000_500));
    s.on_sender_report(ntp, t0);
    let rb = s.report_block(t0 + Duration::from_millis(1500));
    assert_eq!(rb.last_sr, ntp_middle32(ntp));
    assert_eq!(rb.delay_since_last_sr, 98_304); // 1.5 × 65536
}

#[test]
fn rtt_from_lsr_dlsr() {
    // LSR 1.5 s, DLSR 0.5 s, report arrives at 2.25 s: RTT 0.25 s.
    assert_eq!(
        rtt_from_ntp(0x0001_8000, 0x0000_8000, 0x0002_4000),
        Some(Duration::from_millis(250))
    );
    assert_eq!(rtt_from_ntp(0, 0, 0x0002_4000), None);
    assert_eq!(rtt_from_ntp(0x0002_0000, 0x0001_0000, 0x0002_4000), None);
    // Across the 16-bit seconds wrap of the middle 32 bits.
    assert_eq!(
        rtt_from_ntp(0xffff_8000, 0x0000_4000, 0x0000_0000),
        Some(Duration::from_millis(250))
    );

    let t0 = Instant::now();
    let mut sent = SentReports::new();
    let ntp1 = ntp_from_unix(Duration::from_secs(1_700_000_000));
    let ntp2 = ntp_from_unix(Duration::from_secs(1_700_000_005));
    sent.on_sr_sent(ntp1, t0);
    sent.on_sr_sent(ntp2, t0 + Duration::from_secs(5));
    let echo = ReportBlock {
        ssrc: 1,
        last_sr: ntp_middle32(ntp1),
        delay_since_last_sr: 6554, // ≈ 100 ms
        ..Default::default()
    };
    let rtt = sent.rtt(&echo, t0 + Duration::from_millis(180)).unwrap();
    assert!(
        rtt.abs_diff(Duration::from_millis(80)) < Duration::from_millis(1),
        "{rtt:?}"
    );
    let unknown = ReportBlock {
        last_sr: 12345,
        ..echo
    };
    assert_eq!(sent.rtt(&unknown, t0), None);
}

fn input(codec: CodecImpairment, loss: f64, rtt_ms: u64) -> QualityInput {
    QualityInput {
        codec,
        loss_percent: loss,
        burst_ratio: 1.0,
        rtt: Duration::from_millis(rtt_ms),
        jitter_buffer: Duration::from_millis(40),
        extra_delay: Duration::ZERO,
    }
}

#[test]
fn mos_for_perfect_g711() {
    let q = estimate(&input(CodecImpairment::G711_PLC, 0.0, 20));
    assert!((q.r - 93.2).abs() < 1e-9);
    assert!((q.mos - 4.41).abs() < 0.01, "{q:?}");
    assert!((q.one_way_delay_ms - 50.0).abs() < 1e-9);
}

#[test]
fn known_r_to_mos_points() {
    for (r, mos) in [
        (-5.0, 1.0),
        (5.0, 1.0), // the polynomial dips below 1 near 0: clamped
        (0.0, 1.0),
        (50.0, 2.575),
        (70.0, 3.597),
        (80.0, 4.024),
        (93.2, 4.41),
        (100.0, 4.5),
        (120.0, 4.5),
    ] {
        assert!((r_to_mos(r) - mos).abs() < 0.005, "R {r}: {}", r_to_mos(r));
    }
}

#[test]
fn mos_falls_monotonically_with_loss_and_delay() {
    for codec in [
        CodecImpairment::G711,
        CodecImpairment::G711_PLC,
        CodecImpairment::G722,
        CodecImpairment::OPUS,
    ] {
        let mut prev = f64::INFINITY;
        for step in 0..=40 {
            let loss = f64::from(step) * 0.5;
            let mos = estimate(&input(codec, loss, 20)).mos;
            assert!(mos < prev, "{codec:?} loss {loss}: {mos} !< {prev}");
            prev = mos;
        }
        let mut prev = f64::INFINITY;
        for rtt in (0..=1200).step_by(20) {
            let mos = estimate(&input(codec, 1.0, rtt)).mos;
            assert!(mos <= prev, "{codec:?} rtt {rtt}");
            // Beyond 100 ms one way the delay impairment bites.
            if rtt > 120 {
                assert!(mos < prev, "{codec:?} rtt {rtt}: no fall");
            }
            prev = mos;
        }
    }
    // Concealment helps: at 2 % loss, G.711 with PLC beats G.711 without.
    let plc = estimate(&input(CodecImpairment::G711_PLC, 2.0, 20)).mos;
    let raw = estimate(&input(CodecImpairment::G711, 2.0, 20)).mos;
    assert!(plc > raw + 0.5, "{plc} vs {raw}");
    // Bursty loss hurts more than random loss.
    let mut bursty = input(CodecImpairment::G711_PLC, 5.0, 20);
    bursty.burst_ratio = 3.0;
    assert!(estimate(&bursty).mos < estimate(&input(CodecImpairment::G711_PLC, 5.0, 20)).mos);
}

#[test]
fn e_model_components() {
    // Ie-eff = 95 × 1 / (1 + 4.3) for 1 % loss without PLC.
    let ie = effective_equipment_impairment(CodecImpairment::G711, 1.0, 1.0);
    assert!((ie - 95.0 / 5.3).abs() < 1e-9);
    assert_eq!(
        effective_equipment_impairment(CodecImpairment::G711, 0.0, 1.0),
        0.0
    );
    assert_eq!(delay_impairment(100.0), 0.0);
    // X = 1 at 200 ms: 25 × (2^(1/6) − 3 (1 + 1/729)^(1/6) + 2) ≈ 3.05.
    assert!((delay_impairment(200.0) - 3.05).abs() < 0.01);
    assert!((delay_impairment(400.0) - 24.07).abs() < 0.05);
    // Heavy loss and delay floor at MOS 1, never NaN.
    let q = estimate(&input(CodecImpairment::G711, 100.0, 5000));
    assert_eq!(q.mos, 1.0);
}

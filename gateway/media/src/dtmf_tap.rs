//! RFC 4733 events from a leg whose far side did not negotiate
//! telephone-event: the relay takes them out of the stream (the far side
//! could not play them) and reports each digit once, when it ends, so that
//! signalling can carry it instead (SIP INFO, H.245 UserInputIndication).

use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;

use crate::dtmf::{DtmfNotification, DtmfReceiver};
use crate::packet::PacketClass;
use crate::relay::Leg;
use crate::rtp_header;
use crate::transform::PacketTransform;

/// A digit one leg sent in band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfDigit {
    /// Whose media it was (the caller's call id, for the owner to find).
    pub key: u64,
    /// The leg the digit came from.
    pub from: Leg,
    pub digit: char,
    pub duration_ms: u32,
}

pub struct DtmfTap {
    receiver: DtmfReceiver,
    payload_type: u8,
    clock_rate: u32,
    key: u64,
    from: Leg,
    digits: UnboundedSender<DtmfDigit>,
}

impl DtmfTap {
    /// Events of `payload_type` (at `clock_rate`) sent by leg `from`.
    pub fn new(
        key: u64,
        from: Leg,
        payload_type: u8,
        clock_rate: u32,
        digits: UnboundedSender<DtmfDigit>,
    ) -> Option<DtmfTap> {
        Some(DtmfTap {
            receiver: DtmfReceiver::new(clock_rate).ok()?,
            payload_type,
            clock_rate,
            key,
            from,
            digits,
        })
    }

    fn report(&mut self, now: Instant) {
        if self.receiver.poll_timeout().is_some_and(|t| t <= now) {
            self.receiver.handle_timeout(now);
        }
        while let Some(n) = self.receiver.poll_event() {
            if let DtmfNotification::Ended {
                event, duration, ..
            } = n
            {
                let ms = duration * 1000 / u64::from(self.clock_rate.max(1));
                let _ = self.digits.send(DtmfDigit {
                    key: self.key,
                    from: self.from,
                    digit: event.to_char(),
                    duration_ms: ms.min(u64::from(u32::MAX)) as u32,
                });
            }
        }
    }
}

impl PacketTransform for DtmfTap {
    fn transform(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Option<usize> {
        if class != PacketClass::Rtp {
            return Some(len);
        }
        let now = Instant::now();
        let is_event =
            rtp_header::parse(&buf[..len]).is_some_and(|v| v.payload_type == self.payload_type);
        if is_event {
            let _ = self.receiver.on_rtp(now, &buf[..len]);
        }
        self.report(now);
        if is_event {
            None
        } else {
            Some(len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::{DtmfEvent, DtmfSender};

    #[test]
    fn a_digit_is_reported_once_and_its_packets_taken_out() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut tap = DtmfTap::new(7, Leg::A, 101, 8000, tx).unwrap();
        let sender = DtmfSender::new(8000, 20).unwrap();
        let packets = sender.packets(DtmfEvent::from_char('5').unwrap(), 100, 16000);
        let mut forwarded = 0;
        for (i, p) in packets.iter().enumerate() {
            let mut buf = p.to_rtp(101, i as u16, 0x55).to_vec();
            buf.resize(512, 0);
            let n = 12 + 4;
            if tap.transform(PacketClass::Rtp, &mut buf, n).is_some() {
                forwarded += 1;
            }
        }
        assert_eq!(
            forwarded, 0,
            "event packets do not reach a leg without telephone-event"
        );
        let d = rx.try_recv().expect("the digit is reported");
        assert_eq!((d.key, d.from, d.digit), (7, Leg::A, '5'));
        assert!((90..=120).contains(&d.duration_ms), "{d:?}");
        assert!(
            rx.try_recv().is_err(),
            "reported once despite the repeated end packets"
        );
        let mut audio = vec![0x80, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0x55, 0xd5, 0xd5];
        assert_eq!(tap.transform(PacketClass::Rtp, &mut audio, 14), Some(14));
    }

    #[test]
    fn sipps_dtmf_pcap_digit_is_reported() {
        // dtmf_2833_1.pcap of SIPp: digit 1, marker on the first packet,
        // durations 0..2240, the end packet sent three times with one seq.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut tap = DtmfTap::new(1, Leg::A, 101, 8000, tx).unwrap();
        let rows: [(u16, bool, bool, u16); 10] = [
            (7984, true, false, 0),
            (7985, false, false, 320),
            (7986, false, false, 640),
            (7987, false, false, 960),
            (7988, false, false, 1280),
            (7989, false, false, 1600),
            (7990, false, false, 1920),
            (7991, false, true, 2240),
            (7991, false, true, 2240),
            (7991, false, true, 2240),
        ];
        for (seq, marker, end, duration) in rows {
            let mut p = vec![0x80, 101 | if marker { 0x80 } else { 0 }];
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&13280u32.to_be_bytes());
            p.extend_from_slice(&0x0e05_384eu32.to_be_bytes());
            p.extend_from_slice(&[1, if end { 0x80 | 10 } else { 10 }]);
            p.extend_from_slice(&duration.to_be_bytes());
            let n = p.len();
            assert_eq!(tap.transform(PacketClass::Rtp, &mut p, n), None);
        }
        let d = rx.try_recv().expect("digit 1 reported");
        assert_eq!((d.digit, d.duration_ms), ('1', 280));
    }
}

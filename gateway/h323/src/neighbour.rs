//! Neighbour gatekeepers (H.225.0 7.x, location): the zones of other
//! authorities and carriers the city's gatekeeper exchanges LRQs with.
//!
//! Outgoing: an ARQ whose destination the dialplan cannot place is asked
//! of the neighbours whose prefixes match it, all at once; the first LCF
//! admits the call straight to the call-signalling address it names, and
//! when every neighbour refused or the wait ran out the ARQ is refused.
//! The endpoint is told to wait (RequestInProgress) meanwhile. Incoming:
//! only configured neighbours are answered, and only for aliases we can
//! place. State only: the gatekeeper sends and times (sans-IO).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::gatekeeper::{
    from_transport, to_transport, Admission, AdmittedCall, EndpointDirectory, LocationQuery,
    RasGatekeeper,
};
use crate::h225::*;

/// One neighbour gatekeeper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    /// Its RAS address: LRQs go there, and LRQs from its host are answered.
    pub address: SocketAddr,
    /// Dialled aliases (digits or names) starting with one of these are
    /// asked of it; empty: every alias the dialplan cannot place.
    pub prefixes: Vec<String>,
    /// Its gatekeeperIdentifier, named in our LRQs when known.
    pub gatekeeper_identifier: Option<String>,
}

impl Neighbour {
    pub fn new(address: SocketAddr) -> Self {
        Neighbour {
            address,
            prefixes: Vec::new(),
            gatekeeper_identifier: None,
        }
    }

    /// Whether an LRQ for `destination` goes to this neighbour.
    pub fn serves(&self, destination: &[AliasAddress]) -> bool {
        if self.prefixes.is_empty() {
            return !destination.is_empty();
        }
        destination.iter().any(|a| {
            crate::h235::alias_text(a)
                .is_some_and(|t| self.prefixes.iter().any(|p| t.starts_with(p.as_str())))
        })
    }

    /// Whether a datagram from `from` comes from this neighbour. By host:
    /// a gatekeeper may send its LRQs from another port than its RAS one.
    pub fn is_source(&self, from: SocketAddr) -> bool {
        self.address.ip() == from.ip()
    }
}

/// An ARQ waiting for the neighbours' answers.
#[derive(Debug, Clone)]
pub(crate) struct PendingAdmission {
    pub from: SocketAddr,
    /// The ARQ as received: its retransmissions are answered from the
    /// duplicate cache, which gets the final answer.
    pub request: Vec<u8>,
    pub arq: AdmissionRequest,
    /// Bandwidth granted if a neighbour locates the callee.
    pub band_width: u32,
    /// Neighbours asked that have not answered yet.
    pub waiting: Vec<SocketAddr>,
    pub deadline: Instant,
    /// RequestInProgress from a neighbour may push the deadline out once.
    pub extended: bool,
}

/// The pending admissions by the requestSeqNum of their LRQs.
#[derive(Debug, Default)]
pub(crate) struct Locations {
    pub pending: HashMap<u16, PendingAdmission>,
}

impl Locations {
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// The pending admission an answer from `from` to LRQ `seq` is for.
    pub fn answer_from(&mut self, seq: u16, from: SocketAddr) -> Option<&mut PendingAdmission> {
        self.pending
            .get_mut(&seq)
            .filter(|p| p.waiting.iter().any(|w| w.ip() == from.ip()))
    }

    /// The admissions whose wait is over, in LRQ order.
    pub fn expired(&mut self, now: Instant) -> Vec<PendingAdmission> {
        let mut seqs: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(s, _)| *s)
            .collect();
        seqs.sort_unstable();
        seqs.into_iter()
            .filter_map(|s| self.pending.remove(&s))
            .collect()
    }
}

/// The longest a neighbour's RequestInProgress may make us wait.
const MAX_NEIGHBOUR_DELAY: Duration = Duration::from_secs(30);

fn rip(seq: u16, wait: Duration) -> RasMessage {
    RasMessage::RequestInProgress(RequestInProgress {
        request_seq_num: seq,
        non_standard_data: None,
        delay: wait.as_millis().clamp(1, 65535) as u16,
    })
}

fn arj(seq: u16, reason: AdmissionRejectReason) -> RasMessage {
    RasMessage::AdmissionReject(AdmissionReject {
        request_seq_num: seq,
        reject_reason: reason,
        non_standard_data: None,
    })
}

impl<D: EndpointDirectory, A: Admission> RasGatekeeper<D, A> {
    /// An ARQ the dialplan cannot place: LRQs to the neighbours serving
    /// the destination, and RequestInProgress to the endpoint (or ARJ
    /// calledPartyNotRegistered when no neighbour serves it).
    pub(crate) fn ask_neighbours(
        &mut self,
        now: Instant,
        rx: &crate::gatekeeper::Received<'_>,
        arq: AdmissionRequest,
        destination: Vec<AliasAddress>,
        band_width: u32,
    ) -> RasMessage {
        let seq = arq.request_seq_num;
        let asked: Vec<Neighbour> = self
            .config
            .neighbours
            .iter()
            .filter(|n| n.serves(&destination))
            .cloned()
            .collect();
        if asked.is_empty() {
            return arj(seq, AdmissionRejectReason::CalledPartyNotRegistered);
        }
        if self.locations.pending.len() >= self.config.max_pending_locations {
            return arj(seq, AdmissionRejectReason::ResourceUnavailable);
        }
        let lrq_seq = self.next_request_seq();
        let mut waiting = Vec::new();
        for n in &asked {
            let lrq = RasMessage::LocationRequest(LocationRequest {
                request_seq_num: lrq_seq,
                endpoint_identifier: None,
                destination_info: destination.clone(),
                non_standard_data: None,
                reply_address: to_transport(self.config.ras_address),
                source_info: (!arq.src_info.is_empty()).then(|| arq.src_info.clone()),
                can_map_alias: false,
                gatekeeper_identifier: n.gatekeeper_identifier.clone(),
                hop_count: None,
                call_identifier: arq.call_identifier,
                band_width: Some(band_width),
                can_map_src_alias: false,
            });
            if let Ok(b) = lrq.encode() {
                self.extra_out.push((n.address, b));
                waiting.push(n.address);
            }
        }
        let wait = self.config.lrq_timeout;
        self.locations.pending.insert(
            lrq_seq,
            PendingAdmission {
                from: rx.from,
                request: rx.bytes.to_vec(),
                arq,
                band_width,
                waiting,
                deadline: now + wait,
                extended: false,
            },
        );
        // a little longer than our own wait, so the final answer comes first
        rip(seq, wait + Duration::from_secs(1))
    }

    /// Encodes the final answer to a pending ARQ, for its retransmissions too.
    fn finish(
        &mut self,
        now: Instant,
        p: &PendingAdmission,
        answer: RasMessage,
    ) -> Vec<(SocketAddr, Vec<u8>)> {
        if matches!(answer, RasMessage::AdmissionReject(_)) {
            self.stats.rejections += 1;
        }
        let Ok(b) = answer.encode() else {
            debug_assert!(false, "cannot encode {}", answer.name());
            return Vec::new();
        };
        self.cache_answer(now, p.from, &p.request, &b);
        vec![(p.from, b)]
    }

    pub(crate) fn on_lcf(
        &mut self,
        now: Instant,
        from: SocketAddr,
        m: LocationConfirm,
    ) -> Vec<(SocketAddr, Vec<u8>)> {
        if self
            .locations
            .answer_from(m.request_seq_num, from)
            .is_none()
            || from_transport(&m.call_signal_address).is_none()
        {
            self.stats.ignored += 1;
            return Vec::new();
        }
        let Some(p) = self.locations.pending.remove(&m.request_seq_num) else {
            return Vec::new();
        };
        let arq = &p.arq;
        let Some(reg) = self.registrations.get_mut(&arq.endpoint_identifier) else {
            // the caller went away while the neighbours were asked
            return self.finish(
                now,
                &p,
                arj(
                    arq.request_seq_num,
                    AdmissionRejectReason::CallerNotRegistered,
                ),
            );
        };
        reg.calls.push(AdmittedCall {
            call_identifier: arq.call_identifier,
            conference_id: arq.conference_id,
            call_reference_value: arq.call_reference_value,
            answer_call: false,
            band_width: p.band_width,
        });
        let acf = RasMessage::AdmissionConfirm(AdmissionConfirm {
            request_seq_num: arq.request_seq_num,
            band_width: p.band_width,
            // the call goes to the neighbour's zone, not through us
            call_model: CallModel::Direct,
            dest_call_signal_address: m.call_signal_address,
            irr_frequency: None,
            non_standard_data: None,
            destination_info: m.destination_info.or_else(|| arq.destination_info.clone()),
            will_respond_to_irr: false,
            uuies_requested: None,
        });
        self.finish(now, &p, acf)
    }

    pub(crate) fn on_lrj(
        &mut self,
        now: Instant,
        from: SocketAddr,
        m: LocationReject,
    ) -> Vec<(SocketAddr, Vec<u8>)> {
        let Some(p) = self.locations.answer_from(m.request_seq_num, from) else {
            self.stats.ignored += 1;
            return Vec::new();
        };
        p.waiting.retain(|w| w.ip() != from.ip());
        if !p.waiting.is_empty() {
            return Vec::new();
        }
        let Some(p) = self.locations.pending.remove(&m.request_seq_num) else {
            return Vec::new();
        };
        let seq = p.arq.request_seq_num;
        self.finish(
            now,
            &p,
            arj(seq, AdmissionRejectReason::CalledPartyNotRegistered),
        )
    }

    /// A neighbour needs longer: wait once more, up to its delay (bounded),
    /// and tell the endpoint.
    pub(crate) fn on_rip(
        &mut self,
        now: Instant,
        from: SocketAddr,
        m: RequestInProgress,
    ) -> Vec<(SocketAddr, Vec<u8>)> {
        let Some(p) = self.locations.answer_from(m.request_seq_num, from) else {
            self.stats.ignored += 1;
            return Vec::new();
        };
        if p.extended {
            return Vec::new();
        }
        p.extended = true;
        let wait = Duration::from_millis(m.delay as u64).min(MAX_NEIGHBOUR_DELAY);
        p.deadline = p.deadline.max(now + wait);
        let to = p.from;
        let left = p.deadline.saturating_duration_since(now);
        rip(p.arq.request_seq_num, left + Duration::from_secs(1))
            .encode()
            .map(|b| vec![(to, b)])
            .unwrap_or_default()
    }

    pub(crate) fn location_timeouts(&mut self, now: Instant) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut out = Vec::new();
        for p in self.locations.expired(now) {
            let seq = p.arq.request_seq_num;
            out.extend(self.finish(
                now,
                &p,
                arj(seq, AdmissionRejectReason::CalledPartyNotRegistered),
            ));
        }
        out
    }

    /// An LRQ: answered for configured neighbours only, with an LCF naming
    /// our call-signalling address when the destination is registered here
    /// or the dialplan places it. The reply goes to the LRQ's replyAddress
    /// when that is on the sender's host, else to the sender.
    pub(crate) fn on_lrq(
        &mut self,
        from: SocketAddr,
        m: LocationRequest,
    ) -> (SocketAddr, RasMessage) {
        let lrj = |reason| {
            RasMessage::LocationReject(LocationReject {
                request_seq_num: m.request_seq_num,
                reject_reason: reason,
                non_standard_data: None,
            })
        };
        if !self.config.neighbours.iter().any(|n| n.is_source(from)) {
            // no registration leaks to strangers
            return (from, lrj(LocationRejectReason::RequestDenied));
        }
        let reply_to = from_transport(&m.reply_address)
            .filter(|a| a.ip() == from.ip())
            .unwrap_or(from);
        if m.destination_info.is_empty() {
            return (reply_to, lrj(LocationRejectReason::IncompleteAddress));
        }
        let registered = m
            .destination_info
            .iter()
            .any(|a| self.lookup_alias(a).is_some());
        let source_info = m.source_info.clone().unwrap_or_default();
        let placed = registered
            || self.admission.locate(&LocationQuery {
                destination: &m.destination_info,
                source_info: &source_info,
                from,
            });
        if !placed {
            return (reply_to, lrj(LocationRejectReason::NotRegistered));
        }
        (
            reply_to,
            RasMessage::LocationConfirm(LocationConfirm {
                request_seq_num: m.request_seq_num,
                call_signal_address: to_transport(self.config.call_signal_address),
                ras_address: to_transport(self.config.ras_address),
                non_standard_data: None,
                destination_info: Some(m.destination_info),
                destination_type: None,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_choose_the_neighbour() {
        let mut n = Neighbour::new("192.0.2.9:1719".parse().unwrap());
        let digits = |s: &str| vec![AliasAddress::DialedDigits(s.into())];
        assert!(n.serves(&digits("0241234")), "no prefixes: every alias");
        assert!(!n.serves(&[]));
        n.prefixes = vec!["024".into(), "mobile-".into()];
        assert!(n.serves(&digits("0241234")));
        assert!(!n.serves(&digits("0281234")));
        assert!(n.serves(&[AliasAddress::H323Id("mobile-room".into())]));
        assert!(n.is_source("192.0.2.9:40000".parse().unwrap()));
        assert!(!n.is_source("192.0.2.10:1719".parse().unwrap()));
    }
}

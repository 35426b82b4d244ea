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
    RasGatekeeper, ReplySigning,
};
use crate::h225::*;

/// One neighbour gatekeeper.
#[derive(Clone, PartialEq, Eq)]
pub struct Neighbour {
    /// Its RAS address: LRQs go there, and LRQs from its host are answered.
    pub address: SocketAddr,
    /// Dialled aliases (digits or names) starting with one of these are
    /// asked of it; empty: every alias the dialplan cannot place.
    pub prefixes: Vec<String>,
    /// Its gatekeeperIdentifier, named in our LRQs when known.
    pub gatekeeper_identifier: Option<String>,
    /// Shared with the neighbour: its LRQs must then carry an H.235
    /// password token made with it, else they get LRJ securityDenial.
    /// H.235.1 (HMAC-SHA1-96, generalID ours, sendersID its
    /// gatekeeperIdentifier) works always; cryptoEPPwdHash (MD5) and CAT
    /// name the sender, so they need `gatekeeper_identifier` (the alias
    /// they must name, as an h323-ID).
    pub password: Option<String>,
}

impl std::fmt::Debug for Neighbour {
    // the password stays out of logs
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neighbour")
            .field("address", &self.address)
            .field("prefixes", &self.prefixes)
            .field("gatekeeper_identifier", &self.gatekeeper_identifier)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Neighbour {
    pub fn new(address: SocketAddr) -> Self {
        Neighbour {
            address,
            prefixes: Vec::new(),
            gatekeeper_identifier: None,
            password: None,
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

/// A neighbour asked about a pending admission that has not answered yet.
#[derive(Debug, Clone)]
pub(crate) struct AskedNeighbour {
    pub address: SocketAddr,
    /// The LRQ as first sent: retransmissions repeat it byte for byte (same
    /// requestSeqNum), so the neighbour can tell them from a new request.
    pub lrq: Vec<u8>,
    /// When the LRQ goes out again (UDP loses datagrams). After the
    /// neighbour's RequestInProgress: when its announced delay is over.
    pub resend_at: Instant,
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
    pub waiting: Vec<AskedNeighbour>,
    pub deadline: Instant,
    /// The latest the deadline may be pushed to by neighbours'
    /// RequestInProgress: however often a neighbour asks for more time,
    /// the endpoint gets its answer by then.
    pub latest: Instant,
    /// How the final answer is signed (the ARQ was H.235.1-authenticated).
    pub signing: Option<crate::gatekeeper::ReplySigning>,
}

impl PendingAdmission {
    fn waits_for(&self, from: SocketAddr) -> bool {
        self.waiting.iter().any(|w| w.address.ip() == from.ip())
    }
}

/// The pending admissions by the requestSeqNum of their LRQs.
#[derive(Debug, Default)]
pub(crate) struct Locations {
    pub pending: HashMap<u16, PendingAdmission>,
}

impl Locations {
    /// The next end of a wait or LRQ retransmission.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending
            .values()
            .flat_map(|p| {
                let resends = p
                    .waiting
                    .iter()
                    .map(|w| w.resend_at)
                    .filter(|t| *t < p.deadline);
                std::iter::once(p.deadline).chain(resends)
            })
            .min()
    }

    /// The pending admission an answer from `from` to LRQ `seq` is for.
    pub fn answer_from(&mut self, seq: u16, from: SocketAddr) -> Option<&mut PendingAdmission> {
        self.pending.get_mut(&seq).filter(|p| p.waits_for(from))
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

    /// The LRQs due again at `now` to neighbours that have not answered,
    /// in LRQ order; each is rescheduled `interval` later. A zero
    /// interval turns retransmission off.
    pub fn retransmissions(
        &mut self,
        now: Instant,
        interval: Duration,
    ) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut out = Vec::new();
        if interval.is_zero() {
            return out;
        }
        let mut seqs: Vec<u16> = self.pending.keys().copied().collect();
        seqs.sort_unstable();
        for seq in seqs {
            let Some(p) = self.pending.get_mut(&seq) else {
                continue;
            };
            if p.deadline <= now {
                continue;
            }
            for w in p.waiting.iter_mut().filter(|w| w.resend_at <= now) {
                out.push((w.address, w.lrq.clone()));
                // from now, not from the missed time: a late timer call
                // must not send a burst
                w.resend_at = now + interval;
            }
        }
        out
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
        let resend_at = now + self.config.lrq_retransmit;
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
            // A neighbour that wants our LRQs authenticated shares a
            // password with us: they are signed with it (H.235.1), and
            // repeated byte for byte, token included.
            let signing = n
                .password
                .as_ref()
                .map(|pw| ReplySigning::new(pw, n.gatekeeper_identifier.clone(), rx.unix_now, now));
            let sec = RasSecurity::default();
            if let Some(b) = self.encode_reply(now, &lrq, &sec, signing.as_ref()) {
                self.extra_out.push((n.address, b.clone()));
                waiting.push(AskedNeighbour {
                    address: n.address,
                    lrq: b,
                    resend_at,
                });
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
                latest: now + wait + MAX_NEIGHBOUR_DELAY,
                signing: self.reply_signing.clone(),
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
        let sec = RasSecurity::default();
        let Some(b) = self.encode_reply(now, &answer, &sec, p.signing.as_ref()) else {
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
        p.waiting.retain(|w| w.address.ip() != from.ip());
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

    /// A neighbour needs longer: the wait grows to its delay (bounded by
    /// [`PendingAdmission::latest`]), its LRQ is not repeated before the
    /// delay is over, and the endpoint is told to wait too.
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
        let wait = Duration::from_millis(m.delay as u64).min(MAX_NEIGHBOUR_DELAY);
        let until = (now + wait).min(p.latest);
        for w in p.waiting.iter_mut().filter(|w| w.address.ip() == from.ip()) {
            w.resend_at = w.resend_at.max(until);
        }
        if until <= p.deadline {
            return Vec::new();
        }
        p.deadline = until;
        let (to, request) = (p.from, p.request.clone());
        let left = until.saturating_duration_since(now);
        let Ok(b) = rip(p.arq.request_seq_num, left + Duration::from_secs(1)).encode() else {
            return Vec::new();
        };
        // the ARQ's retransmissions hear the longer wait too
        self.cache_answer(now, to, &request, &b);
        vec![(to, b)]
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
    /// or the dialplan places it. A neighbour with a password must
    /// authenticate the LRQ (H.235), else LRJ securityDenial. The reply
    /// goes to the LRQ's replyAddress when that is on the sender's host,
    /// else to the sender.
    pub(crate) fn on_lrq(
        &mut self,
        rx: &crate::gatekeeper::Received<'_>,
        m: LocationRequest,
    ) -> (SocketAddr, RasMessage) {
        let from = rx.from;
        let lrj = |reason| {
            RasMessage::LocationReject(LocationReject {
                request_seq_num: m.request_seq_num,
                reject_reason: reason,
                non_standard_data: None,
            })
        };
        // the exact address first: several neighbours may share a host
        let neighbour = self
            .config
            .neighbours
            .iter()
            .find(|n| n.address == from)
            .or_else(|| self.config.neighbours.iter().find(|n| n.is_source(from)))
            .cloned();
        let Some(neighbour) = neighbour else {
            // no registration leaks to strangers
            return (from, lrj(LocationRejectReason::RequestDenied));
        };
        if let Some(password) = neighbour.password.as_deref() {
            let name = format!("h323_neighbour {}", neighbour.address);
            let aliases: Vec<AliasAddress> = neighbour
                .gatekeeper_identifier
                .iter()
                .map(|g| AliasAddress::H323Id(g.clone()))
                .collect();
            let claim = crate::gatekeeper::Claim {
                request: "locationRequest",
                directory_id: &name,
                password: Some(password),
                aliases: &aliases,
                endpoint_identifier: neighbour.gatekeeper_identifier.as_deref(),
                required: true,
            };
            if self.authenticate(rx, &claim).is_err() {
                // an unauthenticated peer learns nothing, not even where
                // a reply address would have led
                return (from, lrj(LocationRejectReason::SecurityDenial));
            }
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
        assert!(
            !format!(
                "{:?}",
                Neighbour {
                    password: Some("s3cret".into()),
                    ..n
                }
            )
            .contains("s3cret"),
            "no password in Debug"
        );
    }

    fn pending(t0: Instant, asked: &[(&str, u8)]) -> PendingAdmission {
        PendingAdmission {
            from: "198.51.100.7:1719".parse().unwrap(),
            request: vec![1],
            arq: AdmissionRequest {
                request_seq_num: 9,
                call_type: CallType::PointToPoint,
                call_model: None,
                endpoint_identifier: "e".into(),
                destination_info: None,
                dest_call_signal_address: None,
                dest_extra_call_info: None,
                src_info: Vec::new(),
                src_call_signal_address: None,
                band_width: 0,
                call_reference_value: 1,
                non_standard_data: None,
                conference_id: [0; 16],
                active_mc: false,
                answer_call: false,
                can_map_alias: false,
                call_identifier: None,
                gatekeeper_identifier: None,
                will_supply_uuies: false,
                can_map_src_alias: false,
            },
            band_width: 0,
            waiting: asked
                .iter()
                .map(|(a, b)| AskedNeighbour {
                    address: a.parse().unwrap(),
                    lrq: vec![*b],
                    resend_at: t0 + Duration::from_secs(1),
                })
                .collect(),
            deadline: t0 + Duration::from_millis(3500),
            latest: t0 + Duration::from_secs(30),
            signing: None,
        }
    }

    #[test]
    fn unanswered_lrqs_are_repeated_until_the_deadline() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut l = Locations::default();
        l.pending.insert(
            7,
            pending(t0, &[("192.0.2.1:1719", 1), ("192.0.2.2:1719", 2)]),
        );
        assert_eq!(l.next_deadline(), Some(t0 + s));
        assert!(l.retransmissions(t0, s).is_empty(), "not yet");
        let first = l.retransmissions(t0 + s, s);
        assert_eq!(
            first,
            vec![
                ("192.0.2.1:1719".parse().unwrap(), vec![1]),
                ("192.0.2.2:1719".parse().unwrap(), vec![2])
            ],
            "the LRQ as first sent, to each neighbour"
        );
        // a late timer sends once, not a burst, and counts from then
        l.pending.get_mut(&7).unwrap().waiting.pop();
        assert_eq!(l.retransmissions(t0 + s * 2 + s / 2, s).len(), 1);
        assert_eq!(
            l.next_deadline(),
            Some(t0 + Duration::from_millis(3500)),
            "the next repeat (3.5 s) is not before the deadline"
        );
        assert!(l
            .retransmissions(t0 + Duration::from_millis(3499), s)
            .is_empty());
        assert!(
            l.retransmissions(t0 + s * 10, Duration::ZERO).is_empty(),
            "off"
        );
        assert_eq!(l.expired(t0 + Duration::from_millis(3500)).len(), 1);
        assert_eq!(l.next_deadline(), None);
    }
}

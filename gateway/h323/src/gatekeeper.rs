//! The RAS gatekeeper (H.225.0 clause 7), sans-IO: datagrams in, datagrams
//! out, registrations expiring on a virtual clock.
//!
//! The gatekeeper is gatekeeper-routed: every ACF names our own
//! call-signalling address, so calls always come to the gateway. Who may
//! register comes from an [`EndpointDirectory`] (the dialplan's endpoints)
//! and who may call from an [`Admission`] decision; both are supplied by the
//! daemon so the dialplan stays the one place that decides.
//!
//! Replies go to the datagram's source address rather than the rasAddress
//! the endpoint announces: behind NAT only the source address works, and an
//! endpoint that announces a foreign address gets nothing sent elsewhere.
//!
//! Calls to aliases the dialplan cannot place are located through
//! neighbour gatekeepers (see [`crate::neighbour`]); those calls go
//! straight to the call-signalling address the neighbour names.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::h225::*;
use crate::h235::{self, AuthError, AuthMethod, Expect};
use crate::neighbour::{Locations, Neighbour};

/// What the daemon's dialplan knows of an endpoint that owns an alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// The dialplan's endpoint identity (for example `2001`).
    pub endpoint_id: String,
    /// Vetting admitted the device; an unvetted endpoint is refused.
    pub vetted: bool,
    /// The H.323 password (H.235 password-based tokens), if it has one.
    pub password: Option<String>,
}

/// Maps a registering endpoint's alias to a dialplan endpoint.
pub trait EndpointDirectory {
    fn lookup(&self, alias: &AliasAddress) -> Option<DirectoryEntry>;
}

impl<F: Fn(&AliasAddress) -> Option<DirectoryEntry>> EndpointDirectory for F {
    fn lookup(&self, alias: &AliasAddress) -> Option<DirectoryEntry> {
        self(alias)
    }
}

/// One admission request, as the dialplan sees it.
#[derive(Debug, Clone)]
pub struct AdmissionQuery<'a> {
    pub registration: &'a Registration,
    /// destinationInfo (the dialled aliases), empty when absent.
    pub destination: &'a [AliasAddress],
    pub dest_call_signal_address: Option<&'a TransportAddress>,
    pub src_info: &'a [AliasAddress],
    /// The endpoint asks to answer a call (rather than to place one).
    pub answer_call: bool,
    /// Requested bandwidth, 100 bit/s units.
    pub band_width: u32,
    pub call_identifier: Option<CallIdentifier>,
    pub conference_id: [u8; 16],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdmissionDecision {
    /// Admit, optionally capping the bandwidth (100 bit/s units).
    Allow {
        band_width: Option<u32>,
    },
    Reject(AdmissionRejectReason),
    /// The dialplan has no route for the destination: the neighbour
    /// gatekeepers serving it are asked; with none, or when none locates
    /// it, ARJ calledPartyNotRegistered.
    Unknown,
}

/// An LRQ from a neighbour gatekeeper, as the dialplan sees it.
#[derive(Debug, Clone)]
pub struct LocationQuery<'a> {
    pub destination: &'a [AliasAddress],
    pub source_info: &'a [AliasAddress],
    /// The neighbour's address.
    pub from: SocketAddr,
}

/// The dialplan's admission decision for ARQs.
pub trait Admission {
    fn admit(&mut self, query: &AdmissionQuery<'_>) -> AdmissionDecision;

    /// Whether a call from a neighbour's zone to `query.destination` would
    /// be placed here (so its LRQ gets an LCF). Registered endpoints'
    /// aliases are located without asking.
    fn locate(&mut self, query: &LocationQuery<'_>) -> bool {
        let _ = query;
        false
    }
}

impl<F: FnMut(&AdmissionQuery<'_>) -> AdmissionDecision> Admission for F {
    fn admit(&mut self, query: &AdmissionQuery<'_>) -> AdmissionDecision {
        self(query)
    }
}

#[derive(Debug, Clone)]
pub struct GatekeeperConfig {
    pub gatekeeper_identifier: String,
    /// Our RAS address (GCF rasAddress).
    pub ras_address: SocketAddr,
    /// Our call-signalling address: RCF callSignalAddress and every ACF's
    /// destCallSignalAddress (gatekeeper-routed).
    pub call_signal_address: SocketAddr,
    /// Time to live granted when the RRQ asks for none.
    pub default_ttl: Duration,
    pub min_ttl: Duration,
    pub max_ttl: Duration,
    /// Extra time past the TTL before a registration is dropped: the
    /// keep-alive RRQ is sent just before the TTL and may be retransmitted.
    pub ttl_grace: Duration,
    pub max_registrations: usize,
    pub max_calls_per_endpoint: usize,
    /// Largest bandwidth granted per call, 100 bit/s units.
    pub max_band_width: u32,
    /// How many answered requests are kept to answer retransmissions.
    pub duplicate_cache_size: usize,
    /// How long an answered request counts as a retransmission candidate.
    pub duplicate_window: Duration,
    /// Largest difference between an H.235 token's timestamp and our wall
    /// clock: room systems keep their own clocks, not always by NTP.
    pub h235_window: Duration,
    /// How many (timestamp, random) pairs of H.235.1 and CAT tokens are
    /// remembered to refuse a replayed message.
    pub replay_cache_size: usize,
    /// Neighbour gatekeepers: asked about destinations the dialplan cannot
    /// place, and the only gatekeepers whose LRQs are answered.
    pub neighbours: Vec<Neighbour>,
    /// How long the neighbours' LCF/LRJ are waited for.
    pub lrq_timeout: Duration,
    /// How often an unanswered LRQ is sent again within `lrq_timeout`
    /// (UDP loses datagrams); zero: never.
    pub lrq_retransmit: Duration,
    /// Most ARQs waiting for neighbours at once (then resourceUnavailable).
    pub max_pending_locations: usize,
}

impl GatekeeperConfig {
    pub fn new(
        gatekeeper_identifier: &str,
        ras_address: SocketAddr,
        call_signal_address: SocketAddr,
    ) -> Self {
        GatekeeperConfig {
            gatekeeper_identifier: gatekeeper_identifier.into(),
            ras_address,
            call_signal_address,
            default_ttl: Duration::from_secs(300),
            min_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(3600),
            ttl_grace: Duration::from_secs(10),
            max_registrations: 10_000,
            max_calls_per_endpoint: 16,
            max_band_width: 40_960,
            duplicate_cache_size: 256,
            duplicate_window: Duration::from_secs(16),
            h235_window: Duration::from_secs(600),
            replay_cache_size: 4096,
            neighbours: Vec::new(),
            lrq_timeout: Duration::from_secs(4),
            lrq_retransmit: Duration::from_secs(1),
            max_pending_locations: 256,
        }
    }
}

/// A call the gatekeeper admitted, until its DRQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmittedCall {
    pub call_identifier: Option<CallIdentifier>,
    pub conference_id: [u8; 16],
    pub call_reference_value: u16,
    pub answer_call: bool,
    pub band_width: u32,
}

/// One registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The endpointIdentifier we assigned.
    pub endpoint_identifier: String,
    /// The dialplan endpoint the aliases resolved to.
    pub directory_id: String,
    /// The aliases we confirmed (those the directory knows).
    pub aliases: Vec<AliasAddress>,
    /// Where its RAS datagrams come from.
    pub ras_source: SocketAddr,
    pub call_signal_addresses: Vec<TransportAddress>,
    pub endpoint_type: EndpointType,
    /// endpointVendor, for the device inventory.
    pub vendor: VendorIdentifier,
    pub ttl: Duration,
    pub registered_at: Instant,
    pub expires_at: Instant,
    pub calls: Vec<AdmittedCall>,
    /// The H.235 procedure its registration was authenticated with (None:
    /// the dialplan gives it no password).
    pub authentication: Option<AuthMethod>,
}

impl Registration {
    pub fn has_alias(&self, alias: &AliasAddress) -> bool {
        self.aliases.iter().any(|a| alias_eq(a, alias))
    }
}

/// h323-ID compares exactly (it is a name the device chose); url-ID and
/// email-ID are case-insensitive like the URIs and addresses they carry.
fn alias_eq(a: &AliasAddress, b: &AliasAddress) -> bool {
    match (a, b) {
        (AliasAddress::UrlId(x), AliasAddress::UrlId(y))
        | (AliasAddress::EmailId(x), AliasAddress::EmailId(y)) => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnregisterCause {
    /// The endpoint sent URQ.
    Requested,
    /// Its time to live ran out without a keep-alive.
    Expired,
    /// A new full registration of the same dialplan endpoint from the
    /// same host replaced it (a reboot).
    Replaced,
}

/// What the daemon hears about registrations (device inventory, presence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatekeeperEvent {
    /// Boxed: a registration is large beside the other variant.
    Registered(Box<Registration>),
    Unregistered {
        endpoint_identifier: String,
        directory_id: String,
        cause: UnregisterCause,
    },
    /// A request of an endpoint with a password failed its H.235 check
    /// and was refused with securityDenial (or, an IRR, dropped). An LRQ
    /// of a neighbour gatekeeper with a password too: then `directory_id`
    /// names the neighbour ("h323_neighbour <its RAS address>").
    AuthenticationFailed {
        source: SocketAddr,
        directory_id: String,
        /// The request's ASN.1 name.
        request: &'static str,
        error: AuthError,
    },
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GatekeeperStats {
    pub received: u64,
    /// Datagrams that are not valid RAS PER: dropped unanswered.
    pub malformed: u64,
    /// Valid RAS we do not handle (confirms, unknown extensions).
    pub ignored: u64,
    /// Retransmitted requests answered from the cache.
    pub duplicates: u64,
    pub registrations: u64,
    pub rejections: u64,
    /// Requests refused because their H.235 tokens did not verify.
    pub auth_failures: u64,
    /// LRQs sent again to neighbours that had not answered.
    pub lrq_retransmissions: u64,
    /// Messages signed with H.235.1: replies to requests that were, and
    /// LRQs to neighbours with a password.
    pub signed_replies: u64,
}

struct CachedAnswer {
    from: SocketAddr,
    request: Vec<u8>,
    answer: Vec<u8>,
    at: Instant,
}

/// The RAS gatekeeper. `D` resolves aliases, `A` admits calls.
pub struct RasGatekeeper<D, A> {
    pub(crate) config: GatekeeperConfig,
    directory: D,
    pub(crate) admission: A,
    pub(crate) registrations: HashMap<String, Registration>,
    next_endpoint: u64,
    cache: VecDeque<CachedAnswer>,
    events: VecDeque<GatekeeperEvent>,
    pub(crate) stats: GatekeeperStats,
    next_seq: u16,
    /// ARQs waiting for neighbour gatekeepers.
    pub(crate) locations: Locations,
    /// Datagrams to other peers than the request's source (LRQs), sent
    /// with the request's answer.
    pub(crate) extra_out: Vec<(SocketAddr, Vec<u8>)>,
    /// (dialplan endpoint, timeStamp, random) of accepted H.235.1 and CAT
    /// tokens, oldest first.
    replays: VecDeque<(String, u32, i64)>,
    /// Set while a request that passed H.235.1 is handled: its reply is
    /// signed the same way.
    pub(crate) reply_signing: Option<ReplySigning>,
    /// The random of our H.235.1 tokens: a counter, as H.235.1 allows,
    /// so no two of our signed replies share (timeStamp, random).
    next_random: i64,
    /// Which registration owns each alias, kept in step with
    /// `registrations` (see [`AliasIndex`]).
    aliases: AliasIndex,
}

/// How a reply is signed with H.235.1 (HMAC-SHA1-96 over the whole
/// message, keyed with the password the request was checked with).
#[derive(Clone)]
pub(crate) struct ReplySigning {
    pub(crate) password: String,
    /// The generalID of our token: the endpointIdentifier (or a
    /// neighbour's gatekeeperIdentifier) the reply goes to, when known.
    pub(crate) recipient: Option<String>,
    /// The request's wall clock, so a reply made later (after neighbours
    /// answered) gets a timestamp without reading a clock.
    unix_at: u64,
    at: Instant,
}

impl ReplySigning {
    pub(crate) fn new(
        password: &str,
        recipient: Option<String>,
        unix_at: u64,
        at: Instant,
    ) -> Self {
        ReplySigning {
            password: password.to_string(),
            recipient,
            unix_at,
            at,
        }
    }

    fn unix_now(&self, now: Instant) -> u64 {
        self.unix_at + now.saturating_duration_since(self.at).as_secs()
    }
}

impl std::fmt::Debug for ReplySigning {
    // never the password
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplySigning")
            .field("recipient", &self.recipient)
            .finish_non_exhaustive()
    }
}

/// How an alias is compared (see [`alias_eq`]): url-ID and email-ID
/// without regard to ASCII case. Transport and other aliases are compared
/// whole; their Debug text is a faithful rendering of the value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum AliasKey {
    Digits(String),
    H323Id(String),
    Url(String),
    Email(String),
    Other(String),
}

impl AliasKey {
    fn of(a: &AliasAddress) -> Self {
        match a {
            AliasAddress::DialedDigits(s) => AliasKey::Digits(s.clone()),
            AliasAddress::H323Id(s) => AliasKey::H323Id(s.clone()),
            AliasAddress::UrlId(s) => AliasKey::Url(s.to_ascii_lowercase()),
            AliasAddress::EmailId(s) => AliasKey::Email(s.to_ascii_lowercase()),
            other => AliasKey::Other(format!("{other:?}")),
        }
    }
}

/// Alias -> endpointIdentifier and dialplan endpoint -> endpointIdentifier
/// of the live registrations, so neither an LRQ nor an RRQ scans them all.
/// A registration never shares an alias or a dialplan endpoint with
/// another (the RRQ replaces or refuses the older one), so one owner each.
#[derive(Debug, Default)]
pub(crate) struct AliasIndex {
    by_alias: HashMap<AliasKey, String>,
    by_directory: HashMap<String, String>,
}

impl AliasIndex {
    fn insert(&mut self, r: &Registration) {
        for a in &r.aliases {
            self.by_alias
                .insert(AliasKey::of(a), r.endpoint_identifier.clone());
        }
        self.by_directory
            .insert(r.directory_id.clone(), r.endpoint_identifier.clone());
    }

    /// Forgets `r`'s entries, only where they still name it.
    fn remove(&mut self, r: &Registration) {
        let id = &r.endpoint_identifier;
        for a in &r.aliases {
            let k = AliasKey::of(a);
            if self.by_alias.get(&k) == Some(id) {
                self.by_alias.remove(&k);
            }
        }
        if self.by_directory.get(&r.directory_id) == Some(id) {
            self.by_directory.remove(&r.directory_id);
        }
    }

    fn owner(&self, a: &AliasAddress) -> Option<&str> {
        self.by_alias.get(&AliasKey::of(a)).map(String::as_str)
    }

    fn of_directory(&self, directory_id: &str) -> Option<&str> {
        self.by_directory.get(directory_id).map(String::as_str)
    }
}

/// A request as received, with what its H.235 check needs.
pub(crate) struct Received<'a> {
    pub(crate) from: SocketAddr,
    pub(crate) bytes: &'a [u8],
    pub(crate) sec: &'a RasSecurity,
    /// Wall clock, seconds since 1970-01-01 UTC.
    pub(crate) unix_now: u64,
    pub(crate) now: Instant,
}

/// What a request must prove about the endpoint (or neighbour
/// gatekeeper) that sent it.
pub(crate) struct Claim<'a> {
    pub(crate) request: &'static str,
    pub(crate) directory_id: &'a str,
    pub(crate) password: Option<&'a str>,
    pub(crate) aliases: &'a [AliasAddress],
    /// The sender's identifier an H.235.1 sendersID must name, and the
    /// recipient of a signed reply.
    pub(crate) endpoint_identifier: Option<&'a str>,
    /// The request must carry a token (RRQ, ARQ); other requests are
    /// checked when they carry one. Endpoints differ in which requests
    /// they protect (OpenH323's CAT and H.235.1 only RRQ and ARQ), and a
    /// registration is bound to its source host already.
    pub(crate) required: bool,
}

fn protocol() -> Vec<u64> {
    H225_PROTOCOL_V4.to_vec()
}

pub fn to_transport(a: SocketAddr) -> TransportAddress {
    match a {
        SocketAddr::V4(v) => TransportAddress::Ip {
            ip: *v.ip(),
            port: v.port(),
        },
        SocketAddr::V6(v) => TransportAddress::Ip6 {
            ip: *v.ip(),
            port: v.port(),
        },
    }
}

pub fn from_transport(a: &TransportAddress) -> Option<SocketAddr> {
    match a {
        TransportAddress::Ip { ip, port } => Some(SocketAddr::new(IpAddr::V4(*ip), *port)),
        TransportAddress::Ip6 { ip, port } => Some(SocketAddr::new(IpAddr::V6(*ip), *port)),
        _ => None,
    }
}

/// InfoRequestAck (RasMessage extension alternative 3), which the RAS codec
/// does not model: its root is requestSeqNum and four absent OPTIONALs.
fn info_request_ack(seq: u16) -> RasMessage {
    let seq = seq.max(1) - 1;
    RasMessage::Other {
        ext_index: 3,
        encoded: vec![0x00, (seq >> 8) as u8, seq as u8],
    }
}

impl<D: EndpointDirectory, A: Admission> RasGatekeeper<D, A> {
    pub fn new(config: GatekeeperConfig, directory: D, admission: A) -> Self {
        RasGatekeeper {
            config,
            directory,
            admission,
            registrations: HashMap::new(),
            next_endpoint: 1,
            cache: VecDeque::new(),
            events: VecDeque::new(),
            stats: GatekeeperStats::default(),
            next_seq: 1,
            replays: VecDeque::new(),
            locations: Locations::default(),
            extra_out: Vec::new(),
            reply_signing: None,
            next_random: 0,
            aliases: AliasIndex::default(),
        }
    }

    pub fn config(&self) -> &GatekeeperConfig {
        &self.config
    }

    /// For swapping in a new dialplan snapshot.
    pub fn directory_mut(&mut self) -> &mut D {
        &mut self.directory
    }

    pub fn admission_mut(&mut self) -> &mut A {
        &mut self.admission
    }

    pub fn stats(&self) -> GatekeeperStats {
        self.stats
    }

    pub fn registrations(&self) -> impl Iterator<Item = &Registration> {
        self.registrations.values()
    }

    pub fn registration(&self, endpoint_identifier: &str) -> Option<&Registration> {
        self.registrations.get(endpoint_identifier)
    }

    /// The registration that owns this alias, if any.
    pub fn lookup_alias(&self, alias: &AliasAddress) -> Option<&Registration> {
        self.aliases
            .owner(alias)
            .and_then(|id| self.registrations.get(id))
    }

    pub fn poll_event(&mut self) -> Option<GatekeeperEvent> {
        self.events.pop_front()
    }

    /// The next registration expiry or end of a wait for neighbours.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let regs = self
            .registrations
            .values()
            .map(|r| r.expires_at + self.config.ttl_grace)
            .min();
        match (regs, self.locations.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drops registrations whose time to live (plus grace) has passed and
    /// refuses the ARQs no neighbour located in time; returns what to send.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut out = self.location_timeouts(now);
        let resent = self
            .locations
            .retransmissions(now, self.config.lrq_retransmit);
        self.stats.lrq_retransmissions += resent.len() as u64;
        out.extend(resent);
        let grace = self.config.ttl_grace;
        let mut expired: Vec<String> = self
            .registrations
            .values()
            .filter(|r| r.expires_at + grace <= now)
            .map(|r| r.endpoint_identifier.clone())
            .collect();
        expired.sort();
        for id in expired {
            self.drop_registration(&id, UnregisterCause::Expired);
        }
        let window = self.config.duplicate_window;
        self.cache.retain(|c| c.at + window > now);
        out
    }

    pub(crate) fn next_request_seq(&mut self) -> u16 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.checked_add(1).unwrap_or(1);
        seq
    }

    /// Keeps `answer` as the reply to retransmissions of `request` (in
    /// place of an earlier one: a RequestInProgress, then the final).
    pub(crate) fn cache_answer(
        &mut self,
        now: Instant,
        from: SocketAddr,
        request: &[u8],
        answer: &[u8],
    ) {
        if self.config.duplicate_cache_size == 0 {
            return;
        }
        self.cache
            .retain(|c| !(c.from == from && c.request == request));
        while self.cache.len() >= self.config.duplicate_cache_size {
            self.cache.pop_front();
        }
        self.cache.push_back(CachedAnswer {
            from,
            request: request.to_vec(),
            answer: answer.to_vec(),
            at: now,
        });
    }

    /// An IRQ to a registered endpoint (to ask about its calls or probe it).
    pub fn info_request(
        &mut self,
        endpoint_identifier: &str,
        call_reference_value: u16,
    ) -> Option<(SocketAddr, Vec<u8>)> {
        let to = self.registrations.get(endpoint_identifier)?.ras_source;
        let seq = self.next_request_seq();
        let m = RasMessage::InfoRequest(InfoRequest {
            request_seq_num: seq,
            call_reference_value,
            non_standard_data: None,
            reply_address: Some(to_transport(self.config.ras_address)),
            call_identifier: None,
        });
        m.encode().ok().map(|b| (to, b))
    }

    /// One RAS datagram from `from`; returns the datagrams to send. `wall`
    /// is the wall clock H.235 timestamps are checked against.
    pub fn handle(
        &mut self,
        now: Instant,
        wall: SystemTime,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Vec<(SocketAddr, Vec<u8>)> {
        self.stats.received += 1;
        let window = self.config.duplicate_window;
        if let Some(c) = self
            .cache
            .iter()
            .find(|c| c.from == from && c.request == bytes && c.at + window > now)
        {
            self.stats.duplicates += 1;
            return vec![(from, c.answer.clone())];
        }
        let (msg, sec) = match RasMessage::decode_secured(bytes) {
            Ok(m) => m,
            Err(_) => {
                self.stats.malformed += 1;
                return Vec::new();
            }
        };
        let rx = Received {
            from,
            bytes,
            sec: &sec,
            unix_now: wall
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            now,
        };
        self.reply_signing = None;
        let mut answer_sec = RasSecurity::default();
        let mut reply_to = from;
        let answer = match msg {
            RasMessage::GatekeeperRequest(m) => Some(self.on_grq(m, &sec, &mut answer_sec)),
            RasMessage::RegistrationRequest(m) => Some(self.on_rrq(now, &rx, m)),
            RasMessage::UnregistrationRequest(m) => Some(self.on_urq(&rx, m)),
            RasMessage::AdmissionRequest(m) => Some(self.on_arq(now, &rx, m)),
            RasMessage::BandwidthRequest(m) => Some(self.on_brq(&rx, m)),
            RasMessage::DisengageRequest(m) => Some(self.on_drq(&rx, m)),
            RasMessage::InfoRequestResponse(m) => self.on_irr(&rx, m),
            RasMessage::LocationRequest(m) => {
                let (to, answer) = self.on_lrq(&rx, m);
                reply_to = to;
                Some(answer)
            }
            RasMessage::LocationConfirm(m) => return self.on_lcf(now, from, m),
            RasMessage::LocationReject(m) => return self.on_lrj(now, from, m),
            RasMessage::RequestInProgress(m) => return self.on_rip(now, from, m),
            RasMessage::NonStandardMessage(m) => {
                Some(RasMessage::UnknownMessageResponse(UnknownMessageResponse {
                    request_seq_num: m.request_seq_num,
                }))
            }
            _ => {
                self.stats.ignored += 1;
                None
            }
        };
        let signing = self.reply_signing.take();
        let Some(answer) = answer else {
            return Vec::new();
        };
        if matches!(
            answer,
            RasMessage::GatekeeperReject(_)
                | RasMessage::RegistrationReject(_)
                | RasMessage::AdmissionReject(_)
                | RasMessage::UnregistrationReject(_)
                | RasMessage::BandwidthReject(_)
                | RasMessage::DisengageReject(_)
        ) {
            self.stats.rejections += 1;
        }
        let Some(out) = self.encode_reply(now, &answer, &answer_sec, signing.as_ref()) else {
            // our own message failed to encode: a bug, never the peer's fault
            debug_assert!(false, "cannot encode {}", answer.name());
            return Vec::new();
        };
        self.cache_answer(now, from, bytes, &out);
        let mut datagrams = vec![(reply_to, out)];
        datagrams.append(&mut self.extra_out);
        datagrams
    }

    /// Encodes a reply, signed with H.235.1 when `signing` says so and the
    /// message carries cryptoTokens; unsigned otherwise (a reply type
    /// without the field, or a placeholder that cannot be found once).
    pub(crate) fn encode_reply(
        &mut self,
        now: Instant,
        answer: &RasMessage,
        sec: &RasSecurity,
        signing: Option<&ReplySigning>,
    ) -> Option<Vec<u8>> {
        if let Some(sg) = signing {
            let recipient = match answer {
                // a new registration learns its identifier in this very RCF
                RasMessage::RegistrationConfirm(r) => Some(r.endpoint_identifier.as_str()),
                _ => sg.recipient.as_deref(),
            };
            self.next_random = self.next_random.checked_add(1).unwrap_or(1);
            let ts = sg.unix_now(now).clamp(1, u32::MAX as u64) as u32;
            let token = h235::h2351_token(
                recipient,
                Some(&self.config.gatekeeper_identifier),
                ts,
                self.next_random,
            );
            if let Ok(tokens) = h235::encode_crypto_tokens(&[token]) {
                let signed = RasSecurity {
                    crypto_tokens: Some(tokens),
                    ..sec.clone()
                };
                if let Ok(mut b) = answer.encode_secured(&signed) {
                    if h235::h2351_sign(&mut b, &sg.password) {
                        self.stats.signed_replies += 1;
                        return Some(b);
                    }
                }
            }
        }
        answer.encode_secured(sec).ok()
    }

    fn on_grq(
        &mut self,
        m: GatekeeperRequest,
        sec: &RasSecurity,
        answer_sec: &mut RasSecurity,
    ) -> RasMessage {
        let reject = |reason| {
            RasMessage::GatekeeperReject(GatekeeperReject {
                request_seq_num: m.request_seq_num,
                protocol_identifier: protocol(),
                non_standard_data: None,
                gatekeeper_identifier: Some(self.config.gatekeeper_identifier.clone()),
                reject_reason: reason,
            })
        };
        if let Some(gk) = &m.gatekeeper_identifier {
            if *gk != self.config.gatekeeper_identifier {
                return reject(GatekeeperRejectReason::TerminalExcluded);
            }
        }
        // Discovery with aliases: refuse endpoints the dialplan does not
        // know now rather than at RRQ, so they can look elsewhere.
        let aliases = m.endpoint_alias.as_deref().unwrap_or_default();
        let entry = aliases.iter().find_map(|a| self.directory.lookup(a));
        if !aliases.is_empty() && entry.is_none() {
            return reject(GatekeeperRejectReason::TerminalExcluded);
        }
        // An endpoint with a password that offers password hashing is told
        // which procedure to use (H.225.0 7.8.1: authenticationMode); one
        // that offers none still registers if its RRQ carries a token.
        if entry.is_some_and(|e| e.password.is_some()) {
            if let Some(alg) = h235::choose_pwd_hash_algorithm(sec) {
                if let Ok((mode, oid)) = h235::encode_pwd_hash_mode(alg) {
                    answer_sec.authentication_mode = Some(mode);
                    answer_sec.algorithm_oid = Some(oid);
                }
            }
        }
        RasMessage::GatekeeperConfirm(GatekeeperConfirm {
            request_seq_num: m.request_seq_num,
            protocol_identifier: protocol(),
            non_standard_data: None,
            gatekeeper_identifier: Some(self.config.gatekeeper_identifier.clone()),
            ras_address: to_transport(self.config.ras_address),
        })
    }

    fn rrj(&self, seq: u16, reason: RegistrationRejectReason) -> RasMessage {
        RasMessage::RegistrationReject(RegistrationReject {
            request_seq_num: seq,
            protocol_identifier: protocol(),
            non_standard_data: None,
            reject_reason: reason,
            gatekeeper_identifier: Some(self.config.gatekeeper_identifier.clone()),
        })
    }

    fn rcf(&self, seq: u16, reg: &Registration, with_aliases: bool) -> RasMessage {
        RasMessage::RegistrationConfirm(RegistrationConfirm {
            request_seq_num: seq,
            protocol_identifier: protocol(),
            non_standard_data: None,
            call_signal_address: vec![to_transport(self.config.call_signal_address)],
            terminal_alias: with_aliases.then(|| reg.aliases.clone()),
            gatekeeper_identifier: Some(self.config.gatekeeper_identifier.clone()),
            endpoint_identifier: reg.endpoint_identifier.clone(),
            time_to_live: Some(reg.ttl.as_secs().clamp(1, u32::MAX as u64) as u32),
            will_respond_to_irr: false,
            pre_granted_arq: None,
            maintain_connection: false,
            supports_additive_registration: false,
        })
    }

    fn grant_ttl(&self, asked: Option<u32>) -> Duration {
        let asked = asked
            .map(|s| Duration::from_secs(s as u64))
            .unwrap_or(self.config.default_ttl);
        asked.clamp(
            self.config.min_ttl,
            self.config.max_ttl.max(self.config.min_ttl),
        )
    }

    fn on_rrq(&mut self, now: Instant, rx: &Received<'_>, m: RegistrationRequest) -> RasMessage {
        use RegistrationRejectReason as R;
        let from = rx.from;
        let seq = m.request_seq_num;
        if let Some(gk) = &m.gatekeeper_identifier {
            if *gk != self.config.gatekeeper_identifier {
                return self.rrj(seq, R::UndefinedReason);
            }
        }
        if m.keep_alive {
            let ttl = self.grant_ttl(m.time_to_live);
            let Some(id) = m
                .endpoint_identifier
                .clone()
                .filter(|id| owned(&self.registrations, from, id).is_ok())
            else {
                return self.rrj(seq, R::FullRegistrationRequired);
            };
            if !self.authenticate_registered(rx, "registrationRequest", &id, true) {
                return self.rrj(seq, R::SecurityDenial);
            }
            let Some(reg) = self.registrations.get_mut(&id) else {
                return self.rrj(seq, R::FullRegistrationRequired);
            };
            reg.ttl = ttl;
            reg.expires_at = now + ttl;
            reg.ras_source = from;
            let reg = reg.clone();
            return self.rcf(seq, &reg, false);
        }

        let aliases = m.terminal_alias.clone().unwrap_or_default();
        let mut entry: Option<DirectoryEntry> = None;
        let mut accepted = Vec::new();
        for a in &aliases {
            let Some(e) = self.directory.lookup(a) else {
                continue;
            };
            match &entry {
                Some(prev) if prev.endpoint_id != e.endpoint_id => {
                    // aliases of two different dialplan endpoints
                    return self.rrj(seq, R::InvalidAlias);
                }
                Some(_) => {}
                None => entry = Some(e),
            }
            accepted.push(a.clone());
        }
        let Some(entry) = entry else {
            return self.rrj(seq, R::InvalidAlias);
        };
        if !entry.vetted {
            return self.rrj(seq, R::SecurityDenial);
        }
        let Ok(authentication) = self.authenticate(
            rx,
            &Claim {
                request: "registrationRequest",
                directory_id: &entry.endpoint_id,
                password: entry.password.as_deref(),
                aliases: &accepted,
                endpoint_identifier: None,
                required: true,
            },
        ) else {
            return self.rrj(seq, R::SecurityDenial);
        };
        if m.call_signal_address
            .iter()
            .all(|a| from_transport(a).is_none())
        {
            return self.rrj(seq, R::InvalidCallSignalAddress);
        }
        // Another live registration of the same dialplan endpoint: a reboot
        // when it comes from the same host, a second device otherwise.
        let mut existing: Vec<(String, IpAddr)> = Vec::new();
        let owners = std::iter::once(self.aliases.of_directory(&entry.endpoint_id))
            .chain(accepted.iter().map(|a| self.aliases.owner(a)))
            .flatten();
        for id in owners {
            if existing.iter().any(|(e, _)| e == id) {
                continue;
            }
            if let Some(r) = self.registrations.get(id) {
                existing.push((r.endpoint_identifier.clone(), r.ras_source.ip()));
            }
        }
        for (id, ip) in &existing {
            if *ip != from.ip() {
                return self.rrj(seq, R::DuplicateAlias(accepted.clone()));
            }
            let _ = id;
        }
        for (id, _) in existing {
            self.drop_registration(&id, UnregisterCause::Replaced);
        }
        if self.registrations.len() >= self.config.max_registrations {
            return self.rrj(seq, R::ResourceUnavailable);
        }
        let ttl = self.grant_ttl(m.time_to_live);
        let endpoint_identifier = format!(
            "{}-{:06}",
            self.config.gatekeeper_identifier, self.next_endpoint
        );
        self.next_endpoint += 1;
        let reg = Registration {
            endpoint_identifier: endpoint_identifier.clone(),
            directory_id: entry.endpoint_id,
            aliases: accepted,
            ras_source: from,
            call_signal_addresses: m.call_signal_address,
            endpoint_type: m.terminal_type,
            vendor: m.endpoint_vendor,
            ttl,
            registered_at: now,
            expires_at: now + ttl,
            calls: Vec::new(),
            authentication,
        };
        let answer = self.rcf(seq, &reg, true);
        self.stats.registrations += 1;
        self.events
            .push_back(GatekeeperEvent::Registered(Box::new(reg.clone())));
        self.aliases.insert(&reg);
        self.registrations.insert(endpoint_identifier, reg);
        answer
    }

    fn drop_registration(&mut self, id: &str, cause: UnregisterCause) {
        if let Some(r) = self.registrations.remove(id) {
            self.aliases.remove(&r);
            self.events.push_back(GatekeeperEvent::Unregistered {
                endpoint_identifier: r.endpoint_identifier,
                directory_id: r.directory_id,
                cause,
            });
        }
    }

    /// The H.235 check of a request (see [`Claim`]): Ok with the procedure
    /// that passed (None: no password, or an optional token absent), Err
    /// when it failed, reported as an event.
    pub(crate) fn authenticate(
        &mut self,
        rx: &Received<'_>,
        claim: &Claim<'_>,
    ) -> Result<Option<AuthMethod>, ()> {
        let Some(password) = claim.password else {
            return Ok(None);
        };
        if !claim.required && rx.sec.tokens.is_none() && rx.sec.crypto_tokens.is_none() {
            return Ok(None);
        }
        let expect = Expect {
            password,
            aliases: claim.aliases,
            endpoint_identifier: claim.endpoint_identifier,
            gatekeeper_identifier: &self.config.gatekeeper_identifier,
            unix_now: rx.unix_now,
            window: self.config.h235_window,
        };
        let result = h235::verify(&expect, rx.sec, rx.bytes)
            .and_then(|v| self.not_replayed(claim.directory_id, rx.unix_now, v));
        match result {
            Ok(v) => {
                if v.method == AuthMethod::H2351 {
                    self.reply_signing = Some(ReplySigning {
                        password: password.to_string(),
                        recipient: claim.endpoint_identifier.map(Into::into),
                        unix_at: rx.unix_now,
                        at: rx.now,
                    });
                }
                Ok(Some(v.method))
            }
            Err(error) => {
                self.stats.auth_failures += 1;
                self.events
                    .push_back(GatekeeperEvent::AuthenticationFailed {
                        source: rx.from,
                        directory_id: claim.directory_id.to_string(),
                        request: claim.request,
                        error,
                    });
                Err(())
            }
        }
    }

    /// [`Self::authenticate`] for a registered endpoint: its password is
    /// looked up again, so a password changed in the dialplan applies at
    /// once.
    fn authenticate_registered(
        &mut self,
        rx: &Received<'_>,
        request: &'static str,
        endpoint_identifier: &str,
        required: bool,
    ) -> bool {
        let Some(reg) = self.registrations.get(endpoint_identifier) else {
            return false;
        };
        let password = reg
            .aliases
            .iter()
            .find_map(|a| self.directory.lookup(a))
            .filter(|e| e.endpoint_id == reg.directory_id)
            .and_then(|e| e.password);
        let (directory_id, aliases) = (reg.directory_id.clone(), reg.aliases.clone());
        self.authenticate(
            rx,
            &Claim {
                request,
                directory_id: &directory_id,
                password: password.as_deref(),
                aliases: &aliases,
                endpoint_identifier: Some(endpoint_identifier),
                required,
            },
        )
        .is_ok()
    }

    /// Refuses a (timestamp, random) pair an endpoint used before; the
    /// retransmission of a whole request never gets here (answered from
    /// the duplicate cache).
    fn not_replayed(
        &mut self,
        directory_id: &str,
        unix_now: u64,
        v: h235::Verified,
    ) -> Result<h235::Verified, AuthError> {
        let Some((ts, random)) = v.replay_key else {
            return Ok(v);
        };
        let window = self.config.h235_window.as_secs();
        // pairs out of the window would fail the timestamp check anyway
        while self
            .replays
            .front()
            .is_some_and(|(_, t, _)| (unix_now as i64 - *t as i64).unsigned_abs() > window)
        {
            self.replays.pop_front();
        }
        if self
            .replays
            .iter()
            .any(|(d, t, r)| *t == ts && *r == random && d == directory_id)
        {
            return Err(AuthError::Replay { method: v.method });
        }
        if self.config.replay_cache_size > 0 {
            while self.replays.len() >= self.config.replay_cache_size {
                self.replays.pop_front();
            }
            self.replays
                .push_back((directory_id.to_string(), ts, random));
        }
        Ok(v)
    }

    /// The registration an endpoint names, checked against the datagram's
    /// source host so one endpoint cannot act for another.
    fn owned(&self, from: SocketAddr, id: &str) -> Result<&Registration, bool> {
        owned(&self.registrations, from, id)
    }

    fn on_urq(&mut self, rx: &Received<'_>, m: UnregistrationRequest) -> RasMessage {
        let from = rx.from;
        let urj = |reason| {
            RasMessage::UnregistrationReject(UnregistrationReject {
                request_seq_num: m.request_seq_num,
                reject_reason: reason,
                non_standard_data: None,
            })
        };
        let id = match &m.endpoint_identifier {
            Some(id) => Some(id.clone()),
            // older endpoints name themselves by call-signalling address
            None => self
                .registrations
                .values()
                .find(|r| {
                    r.ras_source.ip() == from.ip()
                        && m.call_signal_address
                            .iter()
                            .any(|a| r.call_signal_addresses.contains(a))
                })
                .map(|r| r.endpoint_identifier.clone()),
        };
        let Some(id) = id else {
            return urj(UnregRejectReason::NotCurrentlyRegistered);
        };
        match self.owned(from, &id).map(|_| ()) {
            Err(false) => urj(UnregRejectReason::NotCurrentlyRegistered),
            Err(true) => urj(UnregRejectReason::PermissionDenied),
            Ok(_) if !self.authenticate_registered(rx, "unregistrationRequest", &id, false) => {
                urj(UnregRejectReason::SecurityDenial)
            }
            Ok(_) => {
                self.drop_registration(&id, UnregisterCause::Requested);
                RasMessage::UnregistrationConfirm(UnregistrationConfirm {
                    request_seq_num: m.request_seq_num,
                    non_standard_data: None,
                })
            }
        }
    }

    fn on_arq(&mut self, now: Instant, rx: &Received<'_>, m: AdmissionRequest) -> RasMessage {
        let from = rx.from;
        use AdmissionRejectReason as R;
        let arj = |reason| {
            RasMessage::AdmissionReject(AdmissionReject {
                request_seq_num: m.request_seq_num,
                reject_reason: reason,
                non_standard_data: None,
            })
        };
        let reg = match owned(&self.registrations, from, &m.endpoint_identifier) {
            Err(false) => return arj(R::CallerNotRegistered),
            Err(true) => return arj(R::InvalidEndpointIdentifier),
            Ok(r) => r,
        };
        // vetting may have been withdrawn since the registration
        let still_vetted = reg
            .aliases
            .iter()
            .find_map(|a| self.directory.lookup(a))
            .is_some_and(|e| e.vetted && e.endpoint_id == reg.directory_id);
        if !still_vetted {
            return arj(R::SecurityDenial);
        }
        if !self.authenticate_registered(rx, "admissionRequest", &m.endpoint_identifier, true) {
            return arj(R::SecurityDenial);
        }
        let Some(reg) = self.registrations.get(&m.endpoint_identifier) else {
            return arj(R::CallerNotRegistered);
        };
        if reg.calls.len() >= self.config.max_calls_per_endpoint {
            return arj(R::ExceedsCallCapacity);
        }
        let destination = m.destination_info.clone().unwrap_or_default();
        if !m.answer_call && destination.is_empty() && m.dest_call_signal_address.is_none() {
            return arj(R::IncompleteAddress);
        }
        let query = AdmissionQuery {
            registration: reg,
            destination: &destination,
            dest_call_signal_address: m.dest_call_signal_address.as_ref(),
            src_info: &m.src_info,
            answer_call: m.answer_call,
            band_width: m.band_width,
            call_identifier: m.call_identifier,
            conference_id: m.conference_id,
        };
        let decision = self.admission.admit(&query);
        let cap = match decision {
            AdmissionDecision::Reject(reason) => return arj(reason),
            AdmissionDecision::Allow { band_width } => band_width,
            AdmissionDecision::Unknown => {
                let granted = m.band_width.min(self.config.max_band_width);
                return self.ask_neighbours(now, rx, m, destination, granted);
            }
        };
        let granted = m
            .band_width
            .min(self.config.max_band_width)
            .min(cap.unwrap_or(u32::MAX));
        if let Some(reg) = self.registrations.get_mut(&m.endpoint_identifier) {
            reg.calls.push(AdmittedCall {
                call_identifier: m.call_identifier,
                conference_id: m.conference_id,
                call_reference_value: m.call_reference_value,
                answer_call: m.answer_call,
                band_width: granted,
            });
        }
        RasMessage::AdmissionConfirm(AdmissionConfirm {
            request_seq_num: m.request_seq_num,
            band_width: granted,
            call_model: CallModel::GatekeeperRouted,
            dest_call_signal_address: to_transport(self.config.call_signal_address),
            irr_frequency: None,
            non_standard_data: None,
            destination_info: m.destination_info,
            will_respond_to_irr: false,
            uuies_requested: None,
        })
    }

    fn on_brq(&mut self, rx: &Received<'_>, m: BandwidthRequest) -> RasMessage {
        let from = rx.from;
        let brj = |reason, allowed| {
            RasMessage::BandwidthReject(BandwidthReject {
                request_seq_num: m.request_seq_num,
                reject_reason: reason,
                allowed_band_width: allowed,
                non_standard_data: None,
            })
        };
        let max = self.config.max_band_width;
        match self.owned(from, &m.endpoint_identifier).map(|_| ()) {
            Err(false) => brj(BandRejectReason::NotBound, 0),
            Err(true) => brj(BandRejectReason::InvalidPermission, 0),
            Ok(_)
                if !self.authenticate_registered(
                    rx,
                    "bandwidthRequest",
                    &m.endpoint_identifier,
                    false,
                ) =>
            {
                brj(BandRejectReason::SecurityDenial, 0)
            }
            Ok(_) => {
                let granted = m.band_width.min(max);
                if let Some(reg) = self.registrations.get_mut(&m.endpoint_identifier) {
                    if let Some(c) = reg.calls.iter_mut().find(|c| {
                        same_call(
                            c,
                            m.call_identifier,
                            &m.conference_id,
                            m.call_reference_value,
                        )
                    }) {
                        c.band_width = granted;
                    }
                }
                RasMessage::BandwidthConfirm(BandwidthConfirm {
                    request_seq_num: m.request_seq_num,
                    band_width: granted,
                    non_standard_data: None,
                })
            }
        }
    }

    fn on_drq(&mut self, rx: &Received<'_>, m: DisengageRequest) -> RasMessage {
        let from = rx.from;
        let drj = |reason| {
            RasMessage::DisengageReject(DisengageReject {
                request_seq_num: m.request_seq_num,
                reject_reason: reason,
                non_standard_data: None,
            })
        };
        match self.owned(from, &m.endpoint_identifier).map(|_| ()) {
            Err(false) => drj(DisengageRejectReason::NotRegistered),
            Err(true) => drj(DisengageRejectReason::RequestToDropOther),
            Ok(_)
                if !self.authenticate_registered(
                    rx,
                    "disengageRequest",
                    &m.endpoint_identifier,
                    false,
                ) =>
            {
                drj(DisengageRejectReason::SecurityDenial)
            }
            Ok(_) => {
                if let Some(reg) = self.registrations.get_mut(&m.endpoint_identifier) {
                    reg.calls.retain(|c| {
                        !same_call(
                            c,
                            m.call_identifier,
                            &m.conference_id,
                            m.call_reference_value,
                        )
                    });
                }
                RasMessage::DisengageConfirm(DisengageConfirm {
                    request_seq_num: m.request_seq_num,
                    non_standard_data: None,
                })
            }
        }
    }

    fn on_irr(&mut self, rx: &Received<'_>, m: InfoRequestResponse) -> Option<RasMessage> {
        // An IRR shows the endpoint alive, but only the TTL's own keep-alive
        // RRQ extends the registration (H.225.0 7.9.1).
        let known = self.owned(rx.from, &m.endpoint_identifier).is_ok();
        if !known {
            self.stats.ignored += 1;
            return None;
        }
        if !self.authenticate_registered(rx, "infoRequestResponse", &m.endpoint_identifier, false) {
            return None;
        }
        m.need_response.then(|| info_request_ack(m.request_seq_num))
    }
}

fn same_call(c: &AdmittedCall, id: Option<CallIdentifier>, conf: &[u8; 16], crv: u16) -> bool {
    match (c.call_identifier, id) {
        (Some(a), Some(b)) => a == b,
        _ => c.conference_id == *conf && c.call_reference_value == crv,
    }
}

/// `Err(false)`: not registered; `Err(true)`: registered from another host.
fn owned<'a>(
    regs: &'a HashMap<String, Registration>,
    from: SocketAddr,
    id: &str,
) -> Result<&'a Registration, bool> {
    match regs.get(id) {
        None => Err(false),
        Some(r) if r.ras_source.ip() != from.ip() => Err(true),
        Some(r) => Ok(r),
    }
}

//! The gateway as an endpoint of an outside gatekeeper (H.225.0 7.2-7.8):
//! a carrier's or another authority's gatekeeper the gateway registers
//! with as a gateway-type endpoint, with its aliases and the prefixes it
//! serves, so calls from that zone to them come here.
//!
//! Sans-IO: datagrams in and out, timers as `Instant`s, the wall clock
//! (for H.235 timestamps) as an argument. The life of the registration:
//! GRQ (discovery) → RRQ → RCF; a lightweight RRQ (keepAlive) well before
//! the granted timeToLive runs out; a registration lost (keep-alive
//! unanswered or refused, a URQ from the gatekeeper) is made again, after
//! a pause when the gatekeeper refuses or does not answer; URQ on
//! shutdown. Requests are retransmitted a few times (H.225.0 7.4: RAS
//! runs over UDP), each retransmission the same datagram.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::gatekeeper::{from_transport, to_transport};
use crate::h225::*;
use crate::h235;

/// How the gateway registers with the outside gatekeeper.
#[derive(Debug, Clone)]
pub struct OutsideGatekeeperConfig {
    /// Where GRQ goes (and RRQ, unless the GCF names another rasAddress).
    pub gatekeeper: SocketAddr,
    /// Named in GRQ/RRQ when set; a GCF from another gatekeeper is then
    /// not accepted.
    pub gatekeeper_identifier: Option<String>,
    /// Our RAS and call-signalling addresses as the gatekeeper reaches them.
    pub ras_address: SocketAddr,
    pub call_signal_address: SocketAddr,
    /// terminalAlias: h323-IDs and dialedDigits of the gateway.
    pub aliases: Vec<AliasAddress>,
    /// Prefixes the gateway serves (GatewayInfo supportedPrefixes, H.323
    /// voice and H.323 protocols): calls to numbers starting with them come
    /// here.
    pub prefixes: Vec<String>,
    /// timeToLive asked for.
    pub time_to_live: Duration,
    /// H.235 password: tokens in RRQ and URQ (MD5 password hash, or
    /// H.235.1 when the GCF asks for HMAC-SHA1-96).
    pub password: Option<String>,
    pub vendor: VendorIdentifier,
    /// Wait for one answer before retransmitting.
    pub request_timeout: Duration,
    /// Transmissions of one request before it counts as unanswered.
    pub attempts: u32,
    /// Pause before trying again after a refusal or no answer.
    pub retry_interval: Duration,
}

impl OutsideGatekeeperConfig {
    pub fn new(
        gatekeeper: SocketAddr,
        ras_address: SocketAddr,
        call_signal_address: SocketAddr,
        aliases: Vec<AliasAddress>,
        vendor: VendorIdentifier,
    ) -> Self {
        OutsideGatekeeperConfig {
            gatekeeper,
            gatekeeper_identifier: None,
            ras_address,
            call_signal_address,
            aliases,
            prefixes: Vec::new(),
            time_to_live: Duration::from_secs(300),
            password: None,
            vendor,
            request_timeout: Duration::from_secs(3),
            attempts: 3,
            retry_interval: Duration::from_secs(30),
        }
    }
}

/// What the daemon hears about the registration (logs, metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutsideGatekeeperEvent {
    Registered {
        gatekeeper_identifier: Option<String>,
        endpoint_identifier: String,
        time_to_live: Duration,
    },
    /// The gatekeeper refused a request (GRJ, RRJ): tried again later.
    Refused {
        request: &'static str,
        reason: String,
    },
    /// No answer after every retransmission: tried again later.
    Unanswered { request: &'static str },
    /// A live registration ended without us asking: made again.
    Lost { reason: &'static str },
    /// Our URQ on shutdown was sent.
    Unregistered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing outstanding: the next step is at `timer`.
    Idle,
    Discovering,
    Registering,
    /// Registered; a keep-alive RRQ is outstanding when `pending` is set.
    Registered,
    Stopped,
}

#[derive(Debug, Clone)]
struct Outstanding {
    seq: u16,
    name: &'static str,
    bytes: Vec<u8>,
    sent: u32,
    retry_at: Instant,
}

/// The registration with the outside gatekeeper.
#[derive(Debug)]
pub struct OutsideRegistration {
    cfg: OutsideGatekeeperConfig,
    phase: Phase,
    /// The gatekeeper's RAS address (from the GCF).
    gk_ras: SocketAddr,
    gk_identifier: Option<String>,
    endpoint_identifier: Option<String>,
    /// H.235.1 instead of the MD5 password hash (the GCF chose HMAC).
    use_h2351: bool,
    granted_ttl: Duration,
    pending: Option<Outstanding>,
    /// When the next step is due: discovery after a pause, or keep-alive.
    timer: Option<Instant>,
    next_seq: u16,
    random: i64,
    events: Vec<OutsideGatekeeperEvent>,
}

fn unix(wall: SystemTime) -> u32 {
    wall.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs().clamp(1, u32::MAX as u64) as u32)
        .unwrap_or(1)
}

/// When to refresh a registration granted `ttl`: at three quarters of
/// it, so two keep-alive retransmissions still fit before it runs out.
fn refresh_after(ttl: Duration) -> Duration {
    (ttl * 3 / 4).max(Duration::from_secs(1))
}

impl OutsideRegistration {
    /// Starts with discovery at `now`.
    pub fn new(cfg: OutsideGatekeeperConfig, now: Instant) -> Self {
        OutsideRegistration {
            gk_ras: cfg.gatekeeper,
            gk_identifier: cfg.gatekeeper_identifier.clone(),
            granted_ttl: cfg.time_to_live,
            cfg,
            phase: Phase::Idle,
            endpoint_identifier: None,
            use_h2351: false,
            pending: None,
            timer: Some(now),
            next_seq: 1,
            random: 0,
            events: Vec::new(),
        }
    }

    pub fn is_registered(&self) -> bool {
        self.phase == Phase::Registered
    }

    pub fn endpoint_identifier(&self) -> Option<&str> {
        self.endpoint_identifier.as_deref()
    }

    pub fn poll_event(&mut self) -> Option<OutsideGatekeeperEvent> {
        (!self.events.is_empty()).then(|| self.events.remove(0))
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let retry = self.pending.as_ref().map(|p| p.retry_at);
        match (retry, self.timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether a datagram from `from` is for this registration (its
    /// gatekeeper's answers and requests) rather than for our own
    /// gatekeeper.
    pub fn is_from_gatekeeper(&self, from: SocketAddr) -> bool {
        from == self.gk_ras || from == self.cfg.gatekeeper
    }

    pub fn handle_timeout(&mut self, now: Instant, wall: SystemTime) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut out = Vec::new();
        if let Some(p) = &mut self.pending {
            if p.retry_at <= now {
                if p.sent < self.cfg.attempts {
                    p.sent += 1;
                    p.retry_at = now + self.cfg.request_timeout;
                    out.push((self.gk_ras, p.bytes.clone()));
                } else {
                    let name = p.name;
                    self.pending = None;
                    self.unanswered(now, name);
                }
            }
        }
        if self.timer.is_some_and(|t| t <= now) && self.pending.is_none() {
            self.timer = None;
            match self.phase {
                Phase::Idle => out.extend(self.discover(now)),
                Phase::Registered => out.extend(self.send_rrq(now, wall, true)),
                _ => {}
            }
        }
        out
    }

    fn unanswered(&mut self, now: Instant, name: &'static str) {
        self.events
            .push(OutsideGatekeeperEvent::Unanswered { request: name });
        let lost = self.phase == Phase::Registered;
        self.restart_later(now);
        if lost {
            // registered again at once; the pause comes if that fails too
            self.events.push(OutsideGatekeeperEvent::Lost {
                reason: "keep-alive unanswered",
            });
            self.timer = Some(now);
        }
    }

    /// Back to discovery after the pause (the gatekeeper may have moved).
    fn restart_later(&mut self, now: Instant) {
        self.phase = Phase::Idle;
        self.endpoint_identifier = None;
        self.gk_ras = self.cfg.gatekeeper;
        self.pending = None;
        self.timer = Some(now + self.cfg.retry_interval);
    }

    fn seq(&mut self) -> u16 {
        let s = self.next_seq;
        self.next_seq = self.next_seq.checked_add(1).unwrap_or(1);
        s
    }

    fn send(
        &mut self,
        now: Instant,
        seq: u16,
        name: &'static str,
        bytes: Vec<u8>,
    ) -> Vec<(SocketAddr, Vec<u8>)> {
        self.pending = Some(Outstanding {
            seq,
            name,
            bytes: bytes.clone(),
            sent: 1,
            retry_at: now + self.cfg.request_timeout,
        });
        vec![(self.gk_ras, bytes)]
    }

    fn endpoint_type(&self) -> EndpointType {
        let prefixes: Vec<AliasAddress> = self
            .cfg
            .prefixes
            .iter()
            .map(|p| AliasAddress::DialedDigits(p.clone()))
            .collect();
        let protocol = |kind| SupportedProtocol {
            kind,
            prefixes: prefixes.clone(),
        };
        EndpointType {
            vendor: Some(self.cfg.vendor.clone()),
            gateway: Some(GatewayInfo {
                protocol: Some(vec![
                    protocol(ProtocolKind::H323),
                    protocol(ProtocolKind::Voice),
                ]),
            }),
            ..Default::default()
        }
    }

    fn discover(&mut self, now: Instant) -> Vec<(SocketAddr, Vec<u8>)> {
        self.phase = Phase::Discovering;
        self.gk_ras = self.cfg.gatekeeper;
        let seq = self.seq();
        let mut sec = RasSecurity::default();
        if self.cfg.password.is_some() {
            // offer both password hashes; the GCF picks one
            let mechs = crate::per::encode_with("authenticationCapability", |e| {
                e.length(1, crate::per::Size::unbounded())?;
                e.choice_index(crate::per::Index::Root(2), 7, true)
            });
            let oids = crate::per::encode_with("algorithmOIDs", |e| {
                e.sequence_of(
                    &[h235::OID_H2351_U, h235::OID_MD5],
                    crate::per::Size::unbounded(),
                    |e, o| e.object_identifier(o),
                )
            });
            sec.authentication_capability = mechs.ok();
            sec.algorithm_oids = oids.ok();
        }
        let grq = RasMessage::GatekeeperRequest(GatekeeperRequest {
            request_seq_num: seq,
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            non_standard_data: None,
            ras_address: to_transport(self.cfg.ras_address),
            endpoint_type: self.endpoint_type(),
            gatekeeper_identifier: self.cfg.gatekeeper_identifier.clone(),
            endpoint_alias: (!self.cfg.aliases.is_empty()).then(|| self.cfg.aliases.clone()),
            supports_alt_gk: false,
        });
        match grq.encode_secured(&sec) {
            Ok(b) => self.send(now, seq, "gatekeeperRequest", b),
            Err(_) => Vec::new(),
        }
    }

    /// H.235 tokens for a request, and whether the encoding must be
    /// signed afterwards (H.235.1).
    fn tokens(&mut self, wall: SystemTime) -> (RasSecurity, bool) {
        let Some(password) = self.cfg.password.clone() else {
            return (RasSecurity::default(), false);
        };
        let ts = unix(wall);
        let token = if self.use_h2351 {
            self.random = self.random.wrapping_add(1);
            Some(h235::h2351_token(
                self.gk_identifier.as_deref(),
                self.endpoint_identifier.as_deref(),
                ts,
                self.random,
            ))
        } else {
            let alias = self
                .cfg
                .aliases
                .iter()
                .find(|a| matches!(a, AliasAddress::H323Id(_)))
                .or(self.cfg.aliases.first());
            alias.and_then(|a| h235::md5_password_token(a, &password, ts))
        };
        let sec = RasSecurity {
            crypto_tokens: token.and_then(|t| h235::encode_crypto_tokens(&[t]).ok()),
            ..Default::default()
        };
        (sec, self.use_h2351)
    }

    fn encode_with_tokens(&mut self, m: &RasMessage, wall: SystemTime) -> Option<Vec<u8>> {
        let (sec, sign) = self.tokens(wall);
        let mut b = m.encode_secured(&sec).ok()?;
        if sign {
            let password = self.cfg.password.as_deref().unwrap_or_default();
            if !h235::h2351_sign(&mut b, password) {
                return None;
            }
        }
        Some(b)
    }

    fn send_rrq(
        &mut self,
        now: Instant,
        wall: SystemTime,
        keep_alive: bool,
    ) -> Vec<(SocketAddr, Vec<u8>)> {
        let seq = self.seq();
        if !keep_alive {
            self.phase = Phase::Registering;
        }
        let rrq = RasMessage::RegistrationRequest(RegistrationRequest {
            request_seq_num: seq,
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            non_standard_data: None,
            discovery_complete: !keep_alive,
            call_signal_address: vec![to_transport(self.cfg.call_signal_address)],
            ras_address: vec![to_transport(self.cfg.ras_address)],
            terminal_type: self.endpoint_type(),
            terminal_alias: (!keep_alive && !self.cfg.aliases.is_empty())
                .then(|| self.cfg.aliases.clone()),
            gatekeeper_identifier: self.gk_identifier.clone(),
            endpoint_vendor: self.cfg.vendor.clone(),
            time_to_live: Some(self.cfg.time_to_live.as_secs().clamp(1, u32::MAX as u64) as u32),
            keep_alive,
            endpoint_identifier: if keep_alive {
                self.endpoint_identifier.clone()
            } else {
                None
            },
            will_supply_uuies: false,
            maintain_connection: false,
            additive_registration: false,
            supports_alt_gk: false,
            multiple_calls: Some(true),
        });
        match self.encode_with_tokens(&rrq, wall) {
            Some(b) => self.send(now, seq, "registrationRequest", b),
            None => Vec::new(),
        }
    }

    /// URQ for shutdown: sent once (there is no waiting for the UCF).
    pub fn shutdown(&mut self, wall: SystemTime) -> Vec<(SocketAddr, Vec<u8>)> {
        let was_registered = self.phase == Phase::Registered;
        self.phase = Phase::Stopped;
        self.pending = None;
        self.timer = None;
        let Some(eid) = self.endpoint_identifier.take().filter(|_| was_registered) else {
            return Vec::new();
        };
        let seq = self.seq();
        let urq = RasMessage::UnregistrationRequest(UnregistrationRequest {
            request_seq_num: seq,
            call_signal_address: vec![to_transport(self.cfg.call_signal_address)],
            endpoint_alias: (!self.cfg.aliases.is_empty()).then(|| self.cfg.aliases.clone()),
            non_standard_data: None,
            endpoint_identifier: Some(eid.clone()),
            gatekeeper_identifier: self.gk_identifier.clone(),
            reason: Some(UnregRequestReason::Maintenance),
        });
        // the tokens name the endpoint identifier just taken
        self.endpoint_identifier = Some(eid);
        let out = self.encode_with_tokens(&urq, wall);
        self.endpoint_identifier = None;
        self.events.push(OutsideGatekeeperEvent::Unregistered);
        out.map(|b| vec![(self.gk_ras, b)]).unwrap_or_default()
    }

    /// A datagram from the gatekeeper; `None` when it is not ours to
    /// handle (another request or a stranger's answer).
    pub fn handle(
        &mut self,
        now: Instant,
        wall: SystemTime,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Option<Vec<(SocketAddr, Vec<u8>)>> {
        if !self.is_from_gatekeeper(from) || self.phase == Phase::Stopped {
            return None;
        }
        let (msg, sec) = RasMessage::decode_secured(bytes).ok()?;
        let answers = |s: u16, p: &Option<Outstanding>| p.as_ref().is_some_and(|p| p.seq == s);
        Some(match msg {
            RasMessage::GatekeeperConfirm(m)
                if self.phase == Phase::Discovering
                    && answers(m.request_seq_num, &self.pending) =>
            {
                self.pending = None;
                if let (Some(want), Some(got)) =
                    (&self.cfg.gatekeeper_identifier, &m.gatekeeper_identifier)
                {
                    if want != got {
                        self.events.push(OutsideGatekeeperEvent::Refused {
                            request: "gatekeeperRequest",
                            reason: format!("answered by gatekeeper {got:?}"),
                        });
                        self.restart_later(now);
                        return Some(Vec::new());
                    }
                }
                self.gk_identifier = m.gatekeeper_identifier.or(self.gk_identifier.take());
                if let Some(a) = from_transport(&m.ras_address).filter(|a| !a.ip().is_unspecified())
                {
                    self.gk_ras = a;
                }
                self.use_h2351 = sec
                    .algorithm_oid
                    .as_deref()
                    .and_then(|b| crate::per::Decoder::new(b).object_identifier().ok())
                    .is_some_and(|o| o == h235::OID_H2351_U);
                self.send_rrq(now, wall, false)
            }
            RasMessage::GatekeeperReject(m) if answers(m.request_seq_num, &self.pending) => {
                self.events.push(OutsideGatekeeperEvent::Refused {
                    request: "gatekeeperRequest",
                    reason: format!("{:?}", m.reject_reason),
                });
                self.restart_later(now);
                Vec::new()
            }
            RasMessage::RegistrationConfirm(m) if answers(m.request_seq_num, &self.pending) => {
                self.pending = None;
                let keep_alive = self.phase == Phase::Registered;
                self.phase = Phase::Registered;
                self.endpoint_identifier = Some(m.endpoint_identifier.clone());
                if m.gatekeeper_identifier.is_some() {
                    self.gk_identifier = m.gatekeeper_identifier;
                }
                self.granted_ttl = m
                    .time_to_live
                    .map(|s| Duration::from_secs(s as u64))
                    .unwrap_or(self.cfg.time_to_live);
                self.timer = Some(now + refresh_after(self.granted_ttl));
                if !keep_alive {
                    self.events.push(OutsideGatekeeperEvent::Registered {
                        gatekeeper_identifier: self.gk_identifier.clone(),
                        endpoint_identifier: m.endpoint_identifier,
                        time_to_live: self.granted_ttl,
                    });
                }
                Vec::new()
            }
            RasMessage::RegistrationReject(m) if answers(m.request_seq_num, &self.pending) => {
                self.pending = None;
                let reason = format!("{:?}", m.reject_reason);
                if self.phase == Phase::Registered {
                    // the gatekeeper forgot us: register in full at once
                    self.events.push(OutsideGatekeeperEvent::Lost {
                        reason: "keep-alive refused",
                    });
                    self.endpoint_identifier = None;
                    return Some(self.send_rrq(now, wall, false));
                }
                self.events.push(OutsideGatekeeperEvent::Refused {
                    request: "registrationRequest",
                    reason,
                });
                self.restart_later(now);
                Vec::new()
            }
            RasMessage::UnregistrationRequest(m) => {
                // the gatekeeper ends our registration; the UCF goes to the
                // datagram's source like every answer
                let ours = self.endpoint_identifier.is_some()
                    && m.endpoint_identifier
                        .as_deref()
                        .is_none_or(|e| Some(e) == self.endpoint_identifier.as_deref());
                let answer = if ours {
                    RasMessage::UnregistrationConfirm(UnregistrationConfirm {
                        request_seq_num: m.request_seq_num,
                        non_standard_data: None,
                    })
                } else {
                    RasMessage::UnregistrationReject(UnregistrationReject {
                        request_seq_num: m.request_seq_num,
                        reject_reason: UnregRejectReason::NotCurrentlyRegistered,
                        non_standard_data: None,
                    })
                };
                let mut out: Vec<_> = answer
                    .encode()
                    .ok()
                    .map(|b| (from, b))
                    .into_iter()
                    .collect();
                if ours {
                    self.events.push(OutsideGatekeeperEvent::Lost {
                        reason: "unregistered by the gatekeeper",
                    });
                    self.endpoint_identifier = None;
                    // a gatekeeper that asks us to go away (maintenance, a
                    // moved registration) is registered with again through
                    // discovery, which may name another gatekeeper
                    self.phase = Phase::Idle;
                    self.pending = None;
                    self.timer = None;
                    out.extend(self.discover(now));
                }
                out
            }
            RasMessage::InfoRequest(m) => {
                // the gatekeeper checks we are alive
                let Some(eid) = self.endpoint_identifier.clone() else {
                    return Some(Vec::new());
                };
                let irr = RasMessage::InfoRequestResponse(InfoRequestResponse {
                    non_standard_data: None,
                    request_seq_num: m.request_seq_num,
                    endpoint_type: self.endpoint_type(),
                    endpoint_identifier: eid,
                    ras_address: to_transport(self.cfg.ras_address),
                    call_signal_address: vec![to_transport(self.cfg.call_signal_address)],
                    endpoint_alias: (!self.cfg.aliases.is_empty())
                        .then(|| self.cfg.aliases.clone()),
                    per_call_info: None,
                    need_response: false,
                    unsolicited: false,
                });
                irr.encode()
                    .ok()
                    .map(|b| vec![(from, b)])
                    .unwrap_or_default()
            }
            RasMessage::RequestInProgress(m) if answers(m.request_seq_num, &self.pending) => {
                if let Some(p) = &mut self.pending {
                    let wait = Duration::from_millis(m.delay as u64).min(Duration::from_secs(30));
                    p.retry_at = p.retry_at.max(now + wait);
                }
                Vec::new()
            }
            RasMessage::UnregistrationConfirm(_) | RasMessage::UnregistrationReject(_) => {
                Vec::new()
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests;

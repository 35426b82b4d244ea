//! H.323 in the daemon: the engine side of the gatekeeper (RAS on UDP) and
//! of the call-signalling connections (H.225 over TCP), each connection an
//! [`H323CallLeg`] owned by the engine like every other leg.
//!
//! Still sans-IO at this level: the runtime ([`net`]) owns the sockets and
//! hands datagrams, accepted connections, bytes and closes in as
//! [`H323Input`]; what must go out comes back as [`H323Output`]. The
//! protocol machines themselves live in the `gateway-h323` crate.
//!
//! - [`gatekeeper`]: the dialplan and the vetting gate as the gatekeeper's
//!   directory and admission policy.
//! - [`leg`]: connections → legs, their events routed by the dialplan (a
//!   meeting through `meeting::h323`, other targets released for now).

pub mod gatekeeper;
pub mod leg;
pub mod neighbours;
pub mod net;
pub mod outside_gk;

use crate::engine::Engine;
use gateway_h323::call::H323CallLeg;
use gateway_h323::gatekeeper::{GatekeeperConfig, GatekeeperEvent};
use gateway_h323::h225::{H221NonStandard, RasMessage, VendorIdentifier};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};
use tracing::{debug, info, warn};

/// One call-signalling connection, numbered by the runtime.
pub type ConnId = u64;

/// What the runtime hands the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum H323Input {
    /// A RAS datagram arrived.
    Ras { from: SocketAddr, data: Vec<u8> },
    /// A TCP connection to the call-signalling port was accepted.
    Accepted { conn: ConnId, peer: SocketAddr },
    /// A connection the engine asked for ([`H323Output::Connect`]) is up;
    /// its Bytes and Closed follow as for accepted ones. A connection that
    /// could not be made is reported as Closed without Connected.
    Connected { conn: ConnId },
    /// Bytes read from a connection (any split).
    Bytes { conn: ConnId, data: Vec<u8> },
    /// The peer closed the connection, or it failed.
    Closed { conn: ConnId },
    /// The runtime listens for the H.245 connection of the call on `conn`
    /// at `addr` ([`H323Output::H245Listen`]).
    H245Listening { conn: ConnId, addr: SocketAddr },
    /// The call's H.245 connection is up (made, or accepted from its peer).
    H245Connected { conn: ConnId },
    /// Bytes read from the call's H.245 connection.
    H245Bytes { conn: ConnId, data: Vec<u8> },
    /// The call's H.245 connection closed, or could not be made or accepted.
    H245Closed { conn: ConnId },
}

/// What the engine wants the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum H323Output {
    Ras {
        to: SocketAddr,
        data: Vec<u8>,
    },
    /// Write a TPKT frame on the connection.
    Send {
        conn: ConnId,
        data: Vec<u8>,
    },
    /// Close the connection once what was sent before is written.
    Close {
        conn: ConnId,
    },
    /// Open a TCP connection to a callee's call-signalling address under
    /// this number; frames sent to it before it is up wait for it.
    Connect {
        conn: ConnId,
        addr: SocketAddr,
    },
    /// Open the H.245 connection of the call on `conn` to its peer's
    /// h245Address.
    H245Connect {
        conn: ConnId,
        addr: SocketAddr,
    },
    /// Listen on a fresh port for the H.245 connection of the call on
    /// `conn`, from the host `peer` only; answer with H245Listening.
    H245Listen {
        conn: ConnId,
        peer: std::net::IpAddr,
    },
    /// Write a TPKT frame on the call's H.245 connection.
    H245Send {
        conn: ConnId,
        data: Vec<u8>,
    },
    /// Close the call's H.245 connection (or stop listening) once what was
    /// sent before is written.
    H245Close {
        conn: ConnId,
    },
}

/// Connections the engine opens are numbered from here, so that they never
/// meet the runtime's numbers for accepted ones (counted up from 1).
pub(crate) const OUTGOING_CONN_BASE: ConnId = 1 << 48;

/// Addresses and names the H.323 side announces.
#[derive(Debug, Clone)]
pub struct H323Config {
    pub gatekeeper_id: String,
    /// Our RAS address as endpoints reach it (GCF rasAddress).
    pub ras_address: SocketAddr,
    /// Our call-signalling address (RCF/ACF callSignalAddress).
    pub call_signal_address: SocketAddr,
}

/// H.323 settings beyond the listen addresses, set before
/// [`Engine::enable_h323`].
#[derive(Debug, Clone, Default)]
pub struct H323Options {
    pub neighbours: Vec<gateway_h323::neighbour::Neighbour>,
    pub lrq_timeout: Option<Duration>,
    pub h235_window: Option<Duration>,
    pub outside_gatekeeper: Option<outside_gk::OutsideGatekeeperSettings>,
}

impl H323Options {
    /// From a validated configuration.
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        H323Options {
            neighbours: neighbours::neighbours(&cfg.h323_neighbours).unwrap_or_default(),
            lrq_timeout: Some(Duration::from_secs(cfg.h323_lrq_timeout_secs)),
            h235_window: Some(Duration::from_secs(cfg.h323_h235_window_secs)),
            outside_gatekeeper: cfg.h323_outside_gatekeeper.clone(),
        }
    }
}

/// How long an accepted connection may stay without a Setup.
pub(crate) const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// The vendor we present in H.225 (destinationInfo) and MSD.
pub(crate) fn our_vendor() -> VendorIdentifier {
    VendorIdentifier {
        // T.35 country 0xB5 with an unassigned manufacturer code: a
        // product without a registered code says so rather than borrow one.
        vendor: H221NonStandard {
            t35_country_code: 0xB5,
            t35_extension: 0,
            manufacturer_code: 0,
        },
        product_id: Some(b"gateway".to_vec()),
        version_id: Some(env!("CARGO_PKG_VERSION").as_bytes().to_vec()),
        enterprise_number: None,
    }
}

/// The engine's H.323 half. Disabled (no gatekeeper, nothing accepted)
/// until the runtime enables it with the bound addresses.
#[derive(Default)]
pub(crate) struct H323State {
    pub(crate) gatekeeper: Option<gatekeeper::Gatekeeper>,
    pub(crate) conns: HashMap<ConnId, leg::Conn>,
    pub(crate) out: VecDeque<H323Output>,
    /// The last number given to a connection we opened.
    pub(crate) last_outgoing: ConnId,
    pub(crate) options: H323Options,
    /// Our registration with an outside gatekeeper, when configured.
    pub(crate) outside: Option<gateway_h323::registration::OutsideRegistration>,
}

impl Engine {
    /// Turn H.323 on: the gatekeeper answers RAS and calls are accepted.
    pub fn enable_h323(&mut self, cfg: H323Config) {
        let mut gk_cfg =
            GatekeeperConfig::new(&cfg.gatekeeper_id, cfg.ras_address, cfg.call_signal_address);
        let o = &self.h323.options;
        gk_cfg.neighbours = o.neighbours.clone();
        if let Some(t) = o.lrq_timeout {
            gk_cfg.lrq_timeout = t;
        }
        if let Some(w) = o.h235_window {
            gk_cfg.h235_window = w;
        }
        self.h323.gatekeeper = Some(gatekeeper::Gatekeeper::new(
            gk_cfg,
            gatekeeper::DialplanDirectory::new(self.dialplan.clone()),
            gatekeeper::DialplanAdmission::new(self.dialplan.clone()),
        ));
        self.start_outside_registration(cfg.ras_address, cfg.call_signal_address);
    }

    /// Settings [`Engine::enable_h323`] applies (neighbours, timers).
    pub fn set_h323_options(&mut self, options: H323Options) {
        self.h323.options = options;
    }

    /// One input from the H.323 sockets.
    pub fn h323_input(&mut self, now: Instant, input: H323Input) {
        self.now = now;
        match input {
            H323Input::Ras { from, data } => self.on_ras(now, from, &data),
            H323Input::Accepted { conn, peer } => self.on_h323_accepted(now, conn, peer),
            H323Input::Connected { conn } => self.on_h323_connected(now, conn),
            H323Input::Bytes { conn, data } => self.on_h323_bytes(now, conn, &data),
            H323Input::Closed { conn } => self.on_h323_closed(now, conn),
            h245 => self.on_h245_input(now, h245),
        }
    }

    /// The next thing to put on an H.323 socket.
    pub fn h323_transmit(&mut self) -> Option<H323Output> {
        self.h323.out.pop_front()
    }

    pub(crate) fn h323_poll_timeout(&self) -> Option<Instant> {
        let gk = self.h323.gatekeeper.as_ref().and_then(|g| g.poll_timeout());
        let legs = self
            .h323
            .conns
            .values()
            .filter_map(|c| c.next_deadline())
            .min();
        [gk, legs, self.outside_gk_poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    pub(crate) fn h323_handle_timeout(&mut self, now: Instant) {
        if let Some(gk) = self.h323.gatekeeper.as_mut() {
            if gk.poll_timeout().is_some_and(|t| t <= now) {
                for (to, data) in gk.handle_timeout(now) {
                    if let Ok(m) = RasMessage::decode(&data) {
                        log_ras_answer(to, &m);
                    }
                    self.h323.out.push_back(H323Output::Ras { to, data });
                }
            }
        }
        self.drain_gatekeeper_events();
        self.outside_gk_timeout(now);
        self.h323_conn_timeouts(now);
    }

    fn on_ras(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        if self.h323.gatekeeper.is_none() || self.outside_gk_ras(now, from, data) {
            return;
        }
        // The device is looked at before the gate, as a SIP REGISTER's
        // User-Agent is, so the RRQ presenting a changed device is itself
        // refused.
        if let Ok(RasMessage::RegistrationRequest(rrq)) = RasMessage::decode(data) {
            if !rrq.keep_alive {
                let ua = gatekeeper::vendor_string(&rrq.endpoint_vendor);
                let owner = rrq
                    .terminal_alias
                    .iter()
                    .flatten()
                    .find_map(|a| gatekeeper::endpoint_for_alias(&self.dialplan, a))
                    .map(|e| e.id.clone());
                if let Some(id) = owner {
                    self.vetting.device_seen(&id, &ua);
                }
            }
        }
        let dialplan = self.dialplan.clone();
        let Some(gk) = self.h323.gatekeeper.as_mut() else {
            return;
        };
        gk.directory_mut().refresh(&dialplan, &self.vetting);
        gk.admission_mut().refresh(&dialplan);
        let before = gk.stats();
        let replies = gk.handle(now, SystemTime::now(), from, data);
        let after = gk.stats();
        if after.malformed > before.malformed {
            self.metrics.parse_errors.inc();
            debug!(peer = %from, len = data.len(), "malformed RAS datagram dropped");
        }
        for (to, data) in replies {
            if let Ok(m) = RasMessage::decode(&data) {
                log_ras_answer(from, &m);
            }
            self.h323.out.push_back(H323Output::Ras { to, data });
        }
        self.drain_gatekeeper_events();
    }

    fn drain_gatekeeper_events(&mut self) {
        let Some(gk) = self.h323.gatekeeper.as_mut() else {
            return;
        };
        while let Some(ev) = gk.poll_event() {
            match ev {
                GatekeeperEvent::Registered(r) => info!(
                    endpoint = %r.directory_id,
                    endpoint_identifier = %r.endpoint_identifier,
                    source = %r.ras_source,
                    ttl_s = r.ttl.as_secs(),
                    vendor = %gatekeeper::vendor_string(&r.vendor),
                    "H.323 endpoint registered"
                ),
                GatekeeperEvent::Unregistered {
                    endpoint_identifier,
                    directory_id,
                    cause,
                } => info!(
                    endpoint = %directory_id,
                    %endpoint_identifier,
                    cause = ?cause,
                    "H.323 endpoint unregistered"
                ),
                // the error names the token kind and what failed, never
                // the password or a hash
                GatekeeperEvent::AuthenticationFailed {
                    source,
                    directory_id,
                    request,
                    error,
                } => warn!(
                    endpoint = %directory_id,
                    %source,
                    request,
                    reason = %error,
                    "H.323 H.235 authentication failed: refused with securityDenial"
                ),
            }
        }
    }
}

/// Refusals are worth a log line: they are what an operator looks for when
/// a room cannot register or call.
fn log_ras_answer(peer: SocketAddr, m: &RasMessage) {
    match m {
        RasMessage::RegistrationReject(r) => {
            info!(%peer, reason = ?r.reject_reason, "H.323 registration refused (RRJ)")
        }
        RasMessage::AdmissionReject(r) => {
            info!(%peer, reason = ?r.reject_reason, "H.323 admission refused (ARJ)")
        }
        RasMessage::GatekeeperReject(r) => {
            info!(%peer, reason = ?r.reject_reason, "H.323 gatekeeper discovery refused (GRJ)")
        }
        other => debug!(%peer, message = other.name(), "RAS answered"),
    }
}

/// Hex of a GUID, for labels and CDRs.
pub(crate) fn guid_hex(g: &[u8; 16]) -> String {
    crate::engine::hex_encode(g)
}

pub(crate) fn leg_config(msd_number: u32) -> gateway_h323::call::CallLegConfig {
    gateway_h323::call::CallLegConfig::new(our_vendor(), msd_number)
}

pub(crate) fn new_leg(msd_number: u32) -> H323CallLeg {
    H323CallLeg::new_incoming(gateway_h323::call::CallLegConfig::new(
        our_vendor(),
        msd_number,
    ))
}

#[cfg(test)]
mod tests;

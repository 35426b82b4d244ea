//! The gateway registered with an outside gatekeeper
//! (`[h323_outside_gatekeeper]`): a carrier's or another authority's
//! gatekeeper, so that calls from its zone to the gateway's aliases and
//! prefixes come here. The protocol is `gateway_h323::registration`; this
//! is its configuration and its place in the engine (datagrams from that
//! gatekeeper go to it rather than to our own gatekeeper, its timers, its
//! log lines, the URQ on shutdown).

use super::{our_vendor, H323Output};
use crate::engine::Engine;
use gateway_h323::h225::AliasAddress;
use gateway_h323::registration::{
    OutsideGatekeeperConfig, OutsideGatekeeperEvent, OutsideRegistration,
};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};
use tracing::{info, warn};

/// `[h323_outside_gatekeeper]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutsideGatekeeperSettings {
    /// Its RAS address: "IP" (port 1719) or "IP:port".
    pub address: String,
    /// Its gatekeeperIdentifier, when it must be that one.
    pub gatekeeper_id: Option<String>,
    /// Our h323-IDs there.
    #[serde(default)]
    pub h323_ids: Vec<String>,
    /// Our numbers there (dialedDigits).
    #[serde(default)]
    pub numbers: Vec<String>,
    /// Number prefixes we serve (GatewayInfo supportedPrefixes).
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// timeToLive asked for, seconds.
    #[serde(default = "default_ttl")]
    pub ttl_secs: u64,
    /// H.235 password the outside gatekeeper knows us by.
    pub password: Option<String>,
}

fn default_ttl() -> u64 {
    300
}

fn digits_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.chars().all(|c| "0123456789#*,".contains(c))
}

impl OutsideGatekeeperSettings {
    pub fn gatekeeper(&self) -> Result<SocketAddr, String> {
        let text = self.address.trim();
        text.parse::<SocketAddr>()
            .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 1719)))
            .map_err(|_| {
                format!("h323_outside_gatekeeper.address: expected IP or IP:port, got {text:?}")
            })
    }

    pub fn validate(&self) -> Result<(), String> {
        self.gatekeeper()?;
        if self.h323_ids.is_empty() && self.numbers.is_empty() {
            return Err(
                "h323_outside_gatekeeper: give h323_ids or numbers to register with".into(),
            );
        }
        if let Some(id) = self.h323_ids.iter().find(|i| {
            i.is_empty() || i.encode_utf16().count() > 256 || i.chars().any(char::is_control)
        }) {
            return Err(format!(
                "h323_outside_gatekeeper.h323_ids: bad h323-ID {id:?}"
            ));
        }
        if let Some(n) = self
            .numbers
            .iter()
            .chain(&self.prefixes)
            .find(|n| !digits_ok(n))
        {
            return Err(format!(
                "h323_outside_gatekeeper: {n:?} is not dialedDigits (0-9 # * ,)"
            ));
        }
        if !(10..=86_400).contains(&self.ttl_secs) {
            return Err(format!(
                "h323_outside_gatekeeper.ttl_secs: {} is outside 10..=86400",
                self.ttl_secs
            ));
        }
        if self.password.as_ref().is_some_and(|p| p.is_empty()) {
            return Err("h323_outside_gatekeeper.password: empty".into());
        }
        Ok(())
    }

    /// The registration's settings; `ras`/`call_signalling` are our
    /// addresses as the outside gatekeeper reaches them.
    pub fn to_config(
        &self,
        ras: SocketAddr,
        call_signalling: SocketAddr,
    ) -> Result<OutsideGatekeeperConfig, String> {
        self.validate()?;
        let aliases = self
            .h323_ids
            .iter()
            .map(|i| AliasAddress::H323Id(i.clone()))
            .chain(
                self.numbers
                    .iter()
                    .map(|n| AliasAddress::DialedDigits(n.clone())),
            )
            .collect();
        let mut c = OutsideGatekeeperConfig::new(
            self.gatekeeper()?,
            ras,
            call_signalling,
            aliases,
            our_vendor(),
        );
        c.gatekeeper_identifier = self.gatekeeper_id.clone();
        c.prefixes = self.prefixes.clone();
        c.time_to_live = Duration::from_secs(self.ttl_secs);
        c.password = self.password.clone();
        Ok(c)
    }
}

impl Engine {
    /// Starts registering with the configured outside gatekeeper (called
    /// by `enable_h323` with our announced addresses).
    pub(crate) fn start_outside_registration(
        &mut self,
        ras: SocketAddr,
        call_signalling: SocketAddr,
    ) {
        let Some(s) = self.h323.options.outside_gatekeeper.clone() else {
            return;
        };
        match s.to_config(ras, call_signalling) {
            Ok(cfg) => {
                info!(gatekeeper = %cfg.gatekeeper, aliases = cfg.aliases.len(), prefixes = ?cfg.prefixes, "registering with the outside H.323 gatekeeper");
                self.h323.outside = Some(OutsideRegistration::new(cfg, self.now));
            }
            Err(e) => warn!(error = %e, "outside H.323 gatekeeper not used"),
        }
    }

    /// A RAS datagram from the outside gatekeeper: true when it was its
    /// (answers to our requests, its URQ or IRQ), false for our own
    /// gatekeeper to handle.
    pub(crate) fn outside_gk_ras(&mut self, now: Instant, from: SocketAddr, data: &[u8]) -> bool {
        let Some(r) = self.h323.outside.as_mut() else {
            return false;
        };
        let Some(out) = r.handle(now, SystemTime::now(), from, data) else {
            return false;
        };
        for (to, data) in out {
            self.h323.out.push_back(H323Output::Ras { to, data });
        }
        self.drain_outside_events();
        true
    }

    pub(crate) fn outside_gk_timeout(&mut self, now: Instant) {
        let Some(r) = self.h323.outside.as_mut() else {
            return;
        };
        if r.poll_timeout().is_some_and(|t| t <= now) {
            for (to, data) in r.handle_timeout(now, SystemTime::now()) {
                self.h323.out.push_back(H323Output::Ras { to, data });
            }
        }
        self.drain_outside_events();
    }

    pub(crate) fn outside_gk_poll_timeout(&self) -> Option<Instant> {
        self.h323.outside.as_ref().and_then(|r| r.poll_timeout())
    }

    /// On shutdown: the URQ to the outside gatekeeper (the runtime
    /// flushes H.323 output once more before it stops).
    pub fn h323_shutdown(&mut self) {
        if let Some(r) = self.h323.outside.as_mut() {
            for (to, data) in r.shutdown(SystemTime::now()) {
                self.h323.out.push_back(H323Output::Ras { to, data });
            }
        }
        self.drain_outside_events();
    }

    fn drain_outside_events(&mut self) {
        let Some(r) = self.h323.outside.as_mut() else {
            return;
        };
        while let Some(ev) = r.poll_event() {
            match ev {
                OutsideGatekeeperEvent::Registered {
                    gatekeeper_identifier,
                    endpoint_identifier,
                    time_to_live,
                } => info!(
                    gatekeeper = gatekeeper_identifier.as_deref().unwrap_or("?"),
                    %endpoint_identifier,
                    ttl_s = time_to_live.as_secs(),
                    "registered with the outside H.323 gatekeeper"
                ),
                OutsideGatekeeperEvent::Refused { request, reason } => warn!(
                    request,
                    %reason,
                    "the outside H.323 gatekeeper refused us; trying again later"
                ),
                OutsideGatekeeperEvent::Unanswered { request } => warn!(
                    request,
                    "the outside H.323 gatekeeper does not answer; trying again later"
                ),
                OutsideGatekeeperEvent::Lost { reason } => warn!(
                    reason,
                    "registration with the outside H.323 gatekeeper lost; registering again"
                ),
                OutsideGatekeeperEvent::Unregistered => {
                    info!("unregistered from the outside H.323 gatekeeper")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> OutsideGatekeeperSettings {
        OutsideGatekeeperSettings {
            address: "203.0.113.5".into(),
            gatekeeper_id: Some("CARRIER".into()),
            h323_ids: vec!["city-gateway".into()],
            numbers: vec!["8400".into()],
            prefixes: vec!["84".into()],
            ttl_secs: 120,
            password: None,
        }
    }

    #[test]
    fn settings_become_a_gateway_registration() {
        let c = settings()
            .to_config(
                "192.0.2.1:1719".parse().unwrap(),
                "192.0.2.1:1720".parse().unwrap(),
            )
            .unwrap();
        assert_eq!(c.gatekeeper, "203.0.113.5:1719".parse().unwrap());
        assert_eq!(
            c.aliases,
            vec![
                AliasAddress::H323Id("city-gateway".into()),
                AliasAddress::DialedDigits("8400".into())
            ]
        );
        assert_eq!(c.time_to_live, Duration::from_secs(120));
        for bad in [
            OutsideGatekeeperSettings {
                address: "carrier.example".into(),
                ..settings()
            },
            OutsideGatekeeperSettings {
                h323_ids: vec![],
                numbers: vec![],
                ..settings()
            },
            OutsideGatekeeperSettings {
                prefixes: vec!["8a".into()],
                ..settings()
            },
            OutsideGatekeeperSettings {
                ttl_secs: 1,
                ..settings()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}

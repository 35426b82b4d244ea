//! Gateway configuration: a TOML file (all fields optional) whose values the
//! command-line flags override. With no file at all the gateway runs on
//! embedded defaults: SIP on 0.0.0.0:5060 (UDP+TCP), admin on
//! 127.0.0.1:8080, RTP ports 20000-29999, SQLite in ./data, and the sample
//! dialplan imported on first start.

use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SIP UDP and TCP listeners bind.
    pub sip_listen: SocketAddr,
    /// Where the SIP TLS listener binds (none when absent).
    pub tls_listen: Option<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The address written into Via, Contact and SDP when the listen address
    /// is a wildcard (0.0.0.0). Defaults to the listen address, or 127.0.0.1.
    pub advertised_ip: Option<IpAddr>,
    pub admin_listen: SocketAddr,
    /// `LOW-HIGH`, both even-aligned ports are used as RTP/RTCP pairs.
    pub rtp_ports: String,
    pub data_dir: PathBuf,
    /// Database URL; default `sqlite://<data_dir>/gateway.db`.
    pub db: Option<String>,
    /// A dialplan file imported at start (replacing the stored one when it
    /// differs). Without it the stored dialplan is used, or the embedded
    /// sample on first start.
    pub dialplan: Option<PathBuf>,
    /// Realm of digest challenges; default: the dialplan's realm.
    pub realm: Option<String>,
    /// Seconds a nonce stays valid.
    pub nonce_lifetime_secs: u64,
    /// Digest algorithms offered in challenges, most preferred first
    /// (RFC 8760). The default offers MD5 alone: some deployed user agents
    /// (libre-based ones such as baresip 1.0, older room systems) give up on
    /// the whole 401 when any challenge names an algorithm they lack. Use
    /// `["SHA-256", "MD5"]` where every endpoint follows RFC 8760.
    pub digest_algorithms: Vec<String>,
    /// REGISTER expiry bounds (RFC 3261 10.3: 423 below the minimum).
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    /// Seconds between OPTIONS qualify pings of registered contacts (0: off).
    pub qualify_interval_secs: u64,
    /// Seconds an outgoing INVITE may stay unanswered (Timer C-like).
    pub ring_timeout_secs: u64,
    /// Deprecated, without effect: SIP-to-SIP calls always go through the
    /// protocol-neutral call owner (the one H.323 and WebRTC legs use).
    /// `true` is accepted with a warning at start; `false`, which chose the
    /// SIP B2BUA, is refused since that B2BUA was retired.
    pub neutral_sip_calls: Option<bool>,
    /// Where a call or meeting requires encryption, SDES-SRTP legs whose
    /// signalling is not TLS count as encrypted. Off: SDES keys sent in
    /// clear protect nothing, so such legs are refused with 488.
    pub sdes_without_tls: bool,
    /// Log format: "text" or "json".
    pub log_format: String,
    /// Largest SIP message accepted on any transport, in bytes. Larger
    /// datagrams are dropped; a stream that sends one is closed.
    pub max_message_bytes: usize,
    /// The city's unit structure the dialplan's unit codes refer to,
    /// "2024" or "2025"; default: the one whose units match the dialplan's
    /// codes and names best, "2025" when both match as well.
    pub unit_structure: Option<String>,
    /// Lifetime of an admin API session token, in seconds.
    pub admin_token_ttl_secs: i64,
    /// Meeting recordings (`[recordings]`).
    pub recordings: RecordingsConfig,
    /// H.323: the IP address whose RAS (UDP `h323_ras_port`) and call
    /// signalling (TCP `h323_cs_port`) ports the gatekeeper and the H.323
    /// legs use; "off" disables H.323. Unset: the IP of `sip_listen`, and a
    /// port already taken is then only a warning (another gateway on the
    /// host owns H.323), while a configured address must bind.
    pub h323_listen: Option<String>,
    /// RAS port (H.225.0: 1719).
    pub h323_ras_port: u16,
    /// Call-signalling port (H.225.0: 1720).
    pub h323_cs_port: u16,
    /// The gatekeeperIdentifier we answer GRQ/RRQ with.
    pub h323_gatekeeper_id: String,
    /// Neighbour gatekeepers (`[[h323_neighbour]]`: address, prefixes,
    /// gatekeeper_id), asked about destinations the dialplan cannot place.
    #[serde(rename = "h323_neighbour")]
    pub h323_neighbours: Vec<crate::h323::neighbours::NeighbourConfig>,
    /// Seconds the neighbours' answers to an LRQ are waited for.
    pub h323_lrq_timeout_secs: u64,
    /// Seconds an H.235 token's timestamp may differ from our clock.
    pub h323_h235_window_secs: u64,
    /// An outside gatekeeper the gateway registers with
    /// (`[h323_outside_gatekeeper]`).
    pub h323_outside_gatekeeper: Option<crate::h323::outside_gk::OutsideGatekeeperSettings>,
    /// The web listener (WHIP `POST /whip/{number}`, WHEP `POST
    /// /whep/{number}`): `ADDR:PORT`, or "off". HTTPS with `tls_cert` /
    /// `tls_key`, else with the self-signed certificate kept in the data
    /// directory. Unset: 0.0.0.0:8443, and a port already taken is then
    /// only a warning (another gateway on the host serves the web), while a
    /// configured address must bind.
    pub web_listen: Option<String>,
    /// Serve the web listener as plain HTTP: only behind a reverse proxy
    /// that terminates TLS (browsers refuse WebRTC pages without it).
    pub web_plain_http: bool,
    /// The IP in the WebRTC legs' ICE host candidates: the address browsers
    /// reach the gateway at (a NAT's public address). Default: the web
    /// listener's IP, or `advertised_ip` when that is a wildcard.
    pub webrtc_public_ip: Option<IpAddr>,
    /// Deprecated settings the file used, one line each, logged at start
    /// (not a key of the file).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// The web listener (WHIP/WHEP) when `web_listen` is not set.
pub const DEFAULT_WEB_LISTEN: &str = "0.0.0.0:8443";

/// Where H.323 listens, from `h323_listen` and the two ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H323Listen {
    pub ras: SocketAddr,
    pub call_signalling: SocketAddr,
    /// Set by the operator (a failure to bind stops the gateway).
    pub explicit: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sip_listen: "0.0.0.0:5060".parse().expect("literal"),
            tls_listen: None,
            tls_cert: None,
            tls_key: None,
            advertised_ip: None,
            admin_listen: "127.0.0.1:8080".parse().expect("literal"),
            rtp_ports: "20000-29999".into(),
            data_dir: PathBuf::from("data"),
            db: None,
            dialplan: None,
            realm: None,
            nonce_lifetime_secs: 300,
            digest_algorithms: vec!["MD5".into()],
            min_expires: 60,
            max_expires: 7200,
            default_expires: 3600,
            qualify_interval_secs: 30,
            ring_timeout_secs: 120,
            neutral_sip_calls: None,
            sdes_without_tls: false,
            log_format: "text".into(),
            max_message_bytes: 32 * 1024,
            unit_structure: None,
            admin_token_ttl_secs: 8 * 3600,
            recordings: RecordingsConfig::default(),
            h323_listen: None,
            h323_ras_port: 1719,
            h323_cs_port: 1720,
            h323_gatekeeper_id: "gateway".into(),
            h323_neighbours: Vec::new(),
            h323_lrq_timeout_secs: 4,
            h323_h235_window_secs: 600,
            h323_outside_gatekeeper: None,
            web_listen: None,
            web_plain_http: false,
            webrtc_public_ip: None,
            warnings: Vec::new(),
        }
    }
}

/// `[recordings]`: recordings of meetings marked `record`, written under
/// `<data_dir>/recordings/<unit>/`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingsConfig {
    /// The key that seals recordings of confidential and secret meetings:
    /// exactly 32 random bytes, created (mode 0600) when absent. Default:
    /// `<data_dir>/recordings.key`. Keep a copy: without it those
    /// recordings cannot be read.
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("rtp_ports: {0}")]
    RtpPorts(String),
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, path: &str) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            // toml reports a byte span; turn it into line:column for humans.
            let at = e
                .span()
                .map(|s| {
                    let before = &text[..s.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
                    format!("{line}:{col}: ")
                })
                .unwrap_or_default();
            ConfigError::Parse {
                path: path.to_string(),
                message: format!("{at}{}", e.message()),
            }
        })?;
        // The key outlives the SIP B2BUA it chose, so that a file written
        // for either model fails loudly rather than silently changing model.
        match cfg.neutral_sip_calls {
            Some(false) => {
                let line = text
                    .lines()
                    .position(|l| l.trim_start().starts_with("neutral_sip_calls"))
                    .map(|i| format!("{}:1: ", i + 1))
                    .unwrap_or_default();
                return Err(ConfigError::Parse {
                    path: path.to_string(),
                    message: format!(
                        "{line}neutral_sip_calls = false: the SIP B2BUA was retired; remove neutral_sip_calls"
                    ),
                });
            }
            Some(true) => cfg.warnings.push(format!(
                "{path}: neutral_sip_calls is deprecated (SIP calls always use the neutral call model); remove it"
            )),
            None => {}
        }
        Ok(cfg)
    }

    pub fn rtp_port_range(&self) -> Result<RangeInclusive<u16>, ConfigError> {
        parse_port_range(&self.rtp_ports).map_err(ConfigError::RtpPorts)
    }

    /// The recording key file (`recordings.key_file`, or its default).
    pub fn recording_key_file(&self) -> PathBuf {
        self.recordings
            .key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("recordings.key"))
    }

    pub fn db_url(&self) -> String {
        self.db
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("gateway.db").display()))
    }

    /// The IP other parties should send SIP and RTP to.
    pub fn advertised_ip(&self) -> IpAddr {
        if let Some(ip) = self.advertised_ip {
            return ip;
        }
        let ip = self.sip_listen.ip();
        if ip.is_unspecified() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            ip
        }
    }

    /// The H.323 listen addresses, or `None` when H.323 is off.
    pub fn h323(&self) -> Result<Option<H323Listen>, ConfigError> {
        let (ip, explicit) = match self.h323_listen.as_deref().map(str::trim) {
            None => (self.sip_listen.ip(), false),
            Some("off") | Some("none") => return Ok(None),
            Some(text) => match text.parse::<IpAddr>() {
                Ok(ip) => (ip, true),
                Err(_) => {
                    return Err(ConfigError::Invalid(format!(
                        "h323_listen: expected an IP address (RAS and call signalling use h323_ras_port and h323_cs_port) or \"off\", got {text:?}"
                    )))
                }
            },
        };
        if self.h323_ras_port != 0 && self.h323_ras_port == self.h323_cs_port {
            // different protocols, but a single number is nearly always a typo
            return Err(ConfigError::Invalid(format!(
                "h323_ras_port and h323_cs_port are both {}",
                self.h323_ras_port
            )));
        }
        Ok(Some(H323Listen {
            ras: SocketAddr::new(ip, self.h323_ras_port),
            call_signalling: SocketAddr::new(ip, self.h323_cs_port),
            explicit,
        }))
    }

    /// The web listener's address and whether the operator set it, or
    /// `None` when it is "off".
    pub fn web(&self) -> Result<Option<(SocketAddr, bool)>, ConfigError> {
        match self.web_listen.as_deref().map(str::trim) {
            None => Ok(Some((DEFAULT_WEB_LISTEN.parse().expect("literal"), false))),
            Some("off") | Some("none") => Ok(None),
            Some(text) => text.parse::<SocketAddr>().map(|a| Some((a, true))).map_err(|_| {
                ConfigError::Invalid(format!(
                    "web_listen: expected ADDR:PORT (e.g. {DEFAULT_WEB_LISTEN}) or \"off\", got {text:?}"
                ))
            }),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.rtp_port_range()?;
        self.web()?;
        self.h323()?;
        let gk = &self.h323_gatekeeper_id;
        if gk.is_empty() || gk.chars().count() > 128 || gk.chars().any(|c| c.is_control()) {
            return Err(ConfigError::Invalid(format!(
                "h323_gatekeeper_id: 1 to 128 printable characters, got {gk:?}"
            )));
        }
        crate::h323::neighbours::neighbours(&self.h323_neighbours).map_err(ConfigError::Invalid)?;
        if let Some(o) = &self.h323_outside_gatekeeper {
            o.validate().map_err(ConfigError::Invalid)?;
        }
        if !(1..=30).contains(&self.h323_lrq_timeout_secs) {
            return Err(ConfigError::Invalid(format!(
                "h323_lrq_timeout_secs: {} is outside 1..=30",
                self.h323_lrq_timeout_secs
            )));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "tls_cert and tls_key go together: set both PEM paths, or neither for a self-signed certificate"
                    .into(),
            ));
        }
        if self.min_expires > self.max_expires {
            return Err(ConfigError::Invalid(format!(
                "min_expires ({}) is greater than max_expires ({})",
                self.min_expires, self.max_expires
            )));
        }
        if !(1500..=65_535).contains(&self.max_message_bytes) {
            return Err(ConfigError::Invalid(format!(
                "max_message_bytes: {} is outside 1500..=65535",
                self.max_message_bytes
            )));
        }
        if self.digest_algorithms.is_empty() {
            return Err(ConfigError::Invalid(
                "digest_algorithms: at least one of \"MD5\", \"SHA-256\" is needed".into(),
            ));
        }
        for a in &self.digest_algorithms {
            if gateway_sip::auth::Algorithm::parse(a).is_none() {
                return Err(ConfigError::Invalid(format!(
                    "digest_algorithms: unknown algorithm {a:?} (use \"MD5\" or \"SHA-256\")"
                )));
            }
        }
        if let Some(s) = &self.unit_structure {
            if gateway_admin::Structure::parse(s).is_none() {
                return Err(ConfigError::Invalid(format!(
                    "unit_structure: expected \"2024\" or \"2025\", got {s:?}"
                )));
            }
        }
        if self.admin_token_ttl_secs < 60 {
            return Err(ConfigError::Invalid(format!(
                "admin_token_ttl_secs: {} is less than 60",
                self.admin_token_ttl_secs
            )));
        }
        match self.log_format.as_str() {
            "text" | "json" => {}
            other => {
                return Err(ConfigError::Invalid(format!(
                    "log_format: expected \"text\" or \"json\", got {other:?}"
                )))
            }
        }
        Ok(())
    }
}

/// `LOW-HIGH` with LOW < HIGH, room for at least two RTP/RTCP pairs.
pub fn parse_port_range(s: &str) -> Result<RangeInclusive<u16>, String> {
    let (lo, hi) = s
        .split_once('-')
        .ok_or_else(|| format!("expected LOW-HIGH, got {s:?}"))?;
    let lo: u16 = lo
        .trim()
        .parse()
        .map_err(|_| format!("bad low port {lo:?}"))?;
    let hi: u16 = hi
        .trim()
        .parse()
        .map_err(|_| format!("bad high port {hi:?}"))?;
    if lo < 1024 || hi <= lo || hi - lo < 3 {
        return Err(format!(
            "range {lo}-{hi} must be above 1023 and hold at least two even/odd port pairs"
        ));
    }
    Ok(lo..=hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::parse("", "x.toml").unwrap();
        assert_eq!(c.sip_listen.port(), 5060);
        assert_eq!(c.rtp_port_range().unwrap(), 20000..=29999);
        c.validate().unwrap();
    }

    #[test]
    fn unknown_field_is_named_with_line() {
        let err = Config::parse(
            "sip_listen = \"127.0.0.1:5060\"\nrtp_prots = \"1-2\"\n",
            "gw.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("gw.toml: 2:1: "), "{err}");
        assert!(err.contains("rtp_prots"), "{err}");
    }

    #[test]
    fn web_listener_defaults_to_8443_and_can_be_turned_off() {
        let c = Config::parse("", "x").unwrap();
        assert_eq!(
            c.web().unwrap(),
            Some(("0.0.0.0:8443".parse().unwrap(), false))
        );
        assert!(!c.web_plain_http);
        let c = Config::parse("web_listen = \"off\"\n", "x").unwrap();
        assert_eq!(c.web().unwrap(), None);
        let c = Config::parse(
            "web_listen = \"127.0.0.1:9443\"\nweb_plain_http = true\nwebrtc_public_ip = \"192.0.2.7\"\n",
            "x",
        )
        .unwrap();
        assert_eq!(
            c.web().unwrap(),
            Some(("127.0.0.1:9443".parse().unwrap(), true))
        );
        assert!(c.web_plain_http);
        assert_eq!(c.webrtc_public_ip, Some("192.0.2.7".parse().unwrap()));
        let c = Config::parse("web_listen = \"8443\"\n", "x").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("web_listen"));
    }

    #[test]
    fn port_range_errors() {
        assert!(parse_port_range("20000").is_err());
        assert!(parse_port_range("30000-20000").is_err());
        assert!(parse_port_range("80-90").is_err());
        assert_eq!(parse_port_range("40000-40100").unwrap(), 40000..=40100);
    }

    #[test]
    fn unknown_digest_algorithm_is_refused() {
        let c = Config::parse("digest_algorithms = [\"SHA-512\"]\n", "x").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("SHA-512"));
    }

    #[test]
    fn h323_listens_on_the_sip_ip_by_default_and_can_be_turned_off() {
        let c = Config::parse("sip_listen = \"127.0.0.1:5060\"\n", "x").unwrap();
        let h = c.h323().unwrap().unwrap();
        assert_eq!(h.ras, "127.0.0.1:1719".parse().unwrap());
        assert_eq!(h.call_signalling, "127.0.0.1:1720".parse().unwrap());
        assert!(!h.explicit);
        let c = Config::parse(
            "h323_listen = \"127.0.0.2\"\nh323_ras_port = 31719\nh323_cs_port = 31720\n",
            "x",
        )
        .unwrap();
        let h = c.h323().unwrap().unwrap();
        assert_eq!(h.call_signalling, "127.0.0.2:31720".parse().unwrap());
        assert!(h.explicit);
        let c = Config::parse("h323_listen = \"off\"\n", "x").unwrap();
        assert_eq!(c.h323().unwrap(), None);
        let c = Config::parse("h323_listen = \"127.0.0.1:1720\"\n", "x").unwrap();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("h323_listen"));
    }

    #[test]
    fn the_retired_b2bua_is_refused_and_true_only_warned_about() {
        let err = Config::parse("realm = \"x\"\nneutral_sip_calls = false\n", "gw.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("gw.toml: 2:1: "), "{err}");
        assert!(
            err.contains("the SIP B2BUA was retired; remove neutral_sip_calls"),
            "{err}"
        );
        let c = Config::parse("neutral_sip_calls = true\n", "gw.toml").unwrap();
        c.validate().unwrap();
        assert_eq!(c.warnings.len(), 1);
        assert!(
            c.warnings[0].starts_with("gw.toml: neutral_sip_calls is deprecated"),
            "{:?}",
            c.warnings
        );
        assert!(Config::parse("", "gw.toml").unwrap().warnings.is_empty());
    }

    #[test]
    fn tls_cert_and_key_go_together() {
        let c = Config::parse("tls_listen = \"127.0.0.1:5061\"\n", "x").unwrap();
        c.validate().unwrap();
        let c = Config::parse("tls_cert = \"/x/cert.pem\"\n", "x").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("tls_key"));
    }
}

#[cfg(test)]
mod recordings_section {
    #[test]
    fn key_file_defaults_to_the_data_dir_and_can_be_set() {
        let c = super::Config::parse("data_dir = \"/srv/gw\"\n", "x").unwrap();
        assert_eq!(
            c.recording_key_file(),
            std::path::Path::new("/srv/gw/recordings.key")
        );
        let c = super::Config::parse("[recordings]\nkey_file = \"/etc/gateway/rec.key\"\n", "x")
            .unwrap();
        assert_eq!(
            c.recording_key_file(),
            std::path::Path::new("/etc/gateway/rec.key")
        );
        let err = super::Config::parse("[recordings]\nkey = \"x\"\n", "gw.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("gw.toml: 2:1") && err.contains("key"), "{err}");
    }
}

#[cfg(test)]
mod example_file {
    #[test]
    fn example_config_parses_and_matches_defaults() {
        let text = include_str!("../../gateway.example.toml");
        let c = super::Config::parse(text, "gateway.example.toml").unwrap();
        c.validate().unwrap();
        let d = super::Config::default();
        assert_eq!(c.sip_listen, d.sip_listen);
        assert_eq!(c.rtp_ports, d.rtp_ports);
        assert_eq!(c.qualify_interval_secs, d.qualify_interval_secs);
    }
}

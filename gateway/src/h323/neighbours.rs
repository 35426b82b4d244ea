//! Neighbour gatekeepers in the configuration (`[[h323_neighbour]]`):
//! the zones of other authorities and carriers. The gatekeeper asks them
//! (LRQ) about destinations the dialplan cannot place, and answers only
//! their LRQs (see `gateway_h323::neighbour`).

use gateway_h323::neighbour::Neighbour;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

/// One `[[h323_neighbour]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeighbourConfig {
    /// Its RAS address: "IP" (port 1719) or "IP:port".
    pub address: String,
    /// Dialled numbers or aliases starting with one of these are asked of
    /// it; none: every destination the dialplan cannot place.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// Its gatekeeperIdentifier, named in the LRQs sent to it.
    pub gatekeeper_id: Option<String>,
}

impl NeighbourConfig {
    pub fn to_neighbour(&self) -> Result<Neighbour, String> {
        let text = self.address.trim();
        let address = text
            .parse::<SocketAddr>()
            .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 1719)))
            .map_err(|_| format!("h323_neighbour address: expected IP or IP:port, got {text:?}"))?;
        if self.prefixes.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "h323_neighbour {text}: an empty prefix (leave `prefixes` out to send every unplaced destination)"
            ));
        }
        if let Some(id) = &self.gatekeeper_id {
            if id.is_empty() || id.chars().count() > 128 {
                return Err(format!(
                    "h323_neighbour {text}: gatekeeper_id of 1 to 128 characters"
                ));
            }
        }
        Ok(Neighbour {
            address,
            prefixes: self.prefixes.clone(),
            gatekeeper_identifier: self.gatekeeper_id.clone(),
        })
    }
}

/// Every neighbour, or the first configuration error.
pub fn neighbours(list: &[NeighbourConfig]) -> Result<Vec<Neighbour>, String> {
    list.iter().map(NeighbourConfig::to_neighbour).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_the_ras_port_and_are_checked() {
        let n = |address: &str, prefixes: &[&str]| NeighbourConfig {
            address: address.into(),
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            gatekeeper_id: None,
        };
        let got = neighbours(&[n("192.0.2.5", &[]), n("192.0.2.6:2719", &["024"])]).unwrap();
        assert_eq!(got[0].address, "192.0.2.5:1719".parse().unwrap());
        assert_eq!(got[1].address, "192.0.2.6:2719".parse().unwrap());
        assert_eq!(got[1].prefixes, vec!["024".to_string()]);
        assert!(neighbours(&[n("gk.example", &[])]).is_err());
        assert!(neighbours(&[n("192.0.2.5", &[""])]).is_err());
    }

    #[test]
    fn config_file_tables_become_neighbours() {
        let cfg = crate::config::Config::parse(
            "h323_lrq_timeout_secs = 2\n[[h323_neighbour]]\naddress = \"192.0.2.5\"\n\
             [[h323_neighbour]]\naddress = \"192.0.2.6:1719\"\nprefixes = [\"9\"]\ngatekeeper_id = \"GOV\"\n",
            "x",
        )
        .unwrap();
        cfg.validate().unwrap();
        let o = crate::h323::H323Options::from_config(&cfg);
        assert_eq!(o.neighbours.len(), 2);
        assert_eq!(
            o.neighbours[1].gatekeeper_identifier.as_deref(),
            Some("GOV")
        );
        assert_eq!(o.lrq_timeout, Some(std::time::Duration::from_secs(2)));
        let bad = crate::config::Config::parse("[[h323_neighbour]]\naddress = \"nowhere\"\n", "x")
            .unwrap();
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("h323_neighbour"));
        let unknown = crate::config::Config::parse(
            "[[h323_neighbour]]\naddress = \"192.0.2.5\"\npassword = \"x\"\n",
            "x",
        );
        assert!(unknown.is_err(), "unknown fields are refused");
    }
}

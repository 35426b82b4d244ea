//! Neighbour gatekeepers in the configuration (`[[h323_neighbour]]`):
//! the zones of other authorities and carriers. The gatekeeper asks them
//! (LRQ) about destinations the dialplan cannot place, and answers only
//! their LRQs (see `gateway_h323::neighbour`).
//!
//! The runtime needs nothing of its own for LRQ retransmission: the
//! gatekeeper's retransmission times are part of its `poll_timeout`, which
//! the engine's timer includes, and what `handle_timeout` returns goes out
//! on the RAS socket like every other reply.

use gateway_h323::neighbour::Neighbour;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

/// One `[[h323_neighbour]]` table.
#[derive(Clone, PartialEq, Eq, Deserialize)]
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
    /// Shared with the neighbour: its LRQs must carry an H.235 password
    /// token (H.235.1 HMAC-SHA1-96; MD5 or CAT naming `gatekeeper_id`),
    /// else they are refused with LRJ securityDenial.
    pub password: Option<String>,
}

impl std::fmt::Debug for NeighbourConfig {
    // the configuration is logged at start-up: never the password
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NeighbourConfig")
            .field("address", &self.address)
            .field("prefixes", &self.prefixes)
            .field("gatekeeper_id", &self.gatekeeper_id)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
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
        if let Some(pw) = &self.password {
            // a BMPString of 1..128 in the MD5 token; empty would be no secret
            if pw.is_empty() || pw.chars().count() > 128 {
                return Err(format!(
                    "h323_neighbour {text}: password of 1 to 128 characters"
                ));
            }
        }
        Ok(Neighbour {
            address,
            prefixes: self.prefixes.clone(),
            gatekeeper_identifier: self.gatekeeper_id.clone(),
            password: self.password.clone(),
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
            password: None,
        };
        let got = neighbours(&[n("192.0.2.5", &[]), n("192.0.2.6:2719", &["024"])]).unwrap();
        assert_eq!(got[0].address, "192.0.2.5:1719".parse().unwrap());
        assert_eq!(got[1].address, "192.0.2.6:2719".parse().unwrap());
        assert_eq!(got[1].prefixes, vec!["024".to_string()]);
        assert!(neighbours(&[n("gk.example", &[])]).is_err());
        assert!(neighbours(&[n("192.0.2.5", &[""])]).is_err());
        let mut with_pw = n("192.0.2.5", &[]);
        with_pw.password = Some(String::new());
        assert!(neighbours(std::slice::from_ref(&with_pw)).is_err());
        with_pw.password = Some("s3cret".into());
        assert_eq!(
            neighbours(std::slice::from_ref(&with_pw)).unwrap()[0]
                .password
                .as_deref(),
            Some("s3cret")
        );
        assert!(!format!("{with_pw:?}").contains("s3cret"));
    }

    #[test]
    fn config_file_tables_become_neighbours() {
        let cfg = crate::config::Config::parse(
            "h323_lrq_timeout_secs = 2\n[[h323_neighbour]]\naddress = \"192.0.2.5\"\n\
             [[h323_neighbour]]\naddress = \"192.0.2.6:1719\"\nprefixes = [\"9\"]\ngatekeeper_id = \"GOV\"\n\
             password = \"shared\"\n",
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
        assert_eq!(o.neighbours[1].password.as_deref(), Some("shared"));
        assert_eq!(o.neighbours[0].password, None);
        assert_eq!(o.lrq_timeout, Some(std::time::Duration::from_secs(2)));
        let bad = crate::config::Config::parse("[[h323_neighbour]]\naddress = \"nowhere\"\n", "x")
            .unwrap();
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("h323_neighbour"));
        let unknown = crate::config::Config::parse(
            "[[h323_neighbour]]\naddress = \"192.0.2.5\"\nsecret = \"x\"\n",
            "x",
        );
        assert!(unknown.is_err(), "unknown fields are refused");
    }
}

/// The engine drives the gatekeeper's LRQ retransmissions from its timer
/// and logs the neighbours' refused LRQs.
#[cfg(test)]
mod engine_tests {
    use super::*;
    use crate::engine_tests::{test_config, Harness};
    use crate::h323::{H323Config, H323Input, H323Options, H323Output};
    use gateway_h323::h225::*;
    use std::time::Duration;

    const ROOM: &str = "127.0.0.9:41719";
    const NB: &str = "127.0.0.77:1719";

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn harness() -> Harness {
        let mut h = Harness::with(test_config(), gateway_dialplan::SAMPLE_DIALPLAN);
        let mut nb = Neighbour::new(addr(NB));
        nb.prefixes = vec!["#7".into()];
        nb.gatekeeper_identifier = Some("NB-GK".into());
        nb.password = Some("shared".into());
        h.e.set_h323_options(H323Options {
            neighbours: vec![nb],
            lrq_timeout: Some(Duration::from_secs(3)),
            ..Default::default()
        });
        h.e.enable_h323(H323Config {
            gatekeeper_id: "gw".into(),
            ras_address: addr("127.0.0.1:1719"),
            call_signal_address: addr("127.0.0.1:1720"),
        });
        h
    }

    fn ras_in(h: &mut Harness, from: &str, m: RasMessage) -> Vec<(SocketAddr, RasMessage)> {
        let now = h.now;
        h.e.h323_input(
            now,
            H323Input::Ras {
                from: addr(from),
                data: m.encode().unwrap(),
            },
        );
        ras_out(h)
    }

    fn ras_out(h: &mut Harness) -> Vec<(SocketAddr, RasMessage)> {
        std::iter::from_fn(|| h.e.h323_transmit())
            .map(|o| match o {
                H323Output::Ras { to, data } => (to, RasMessage::decode(&data).unwrap()),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    fn register(h: &mut Harness) -> String {
        let rrq = RegistrationRequest {
            request_seq_num: 1,
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            non_standard_data: None,
            discovery_complete: true,
            call_signal_address: vec![TransportAddress::ip([127, 0, 0, 9], 41720)],
            ras_address: vec![TransportAddress::ip([127, 0, 0, 9], 41719)],
            terminal_type: EndpointType::terminal(),
            terminal_alias: Some(vec![AliasAddress::H323Id("room-2001".into())]),
            gatekeeper_identifier: None,
            endpoint_vendor: crate::h323::our_vendor(),
            time_to_live: Some(600),
            keep_alive: false,
            endpoint_identifier: None,
            will_supply_uuies: false,
            maintain_connection: false,
            additive_registration: false,
            supports_alt_gk: false,
            multiple_calls: None,
        };
        match &ras_in(h, ROOM, RasMessage::RegistrationRequest(rrq))[..] {
            [(_, RasMessage::RegistrationConfirm(c))] => c.endpoint_identifier.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn unanswered_lrqs_are_repeated_by_the_engine_timer() {
        let mut h = harness();
        let eid = register(&mut h);
        let arq = AdmissionRequest {
            request_seq_num: 5,
            call_type: CallType::PointToPoint,
            call_model: None,
            endpoint_identifier: eid,
            destination_info: Some(vec![AliasAddress::DialedDigits("#7001".into())]),
            dest_call_signal_address: None,
            dest_extra_call_info: None,
            src_info: vec![AliasAddress::H323Id("room-2001".into())],
            src_call_signal_address: None,
            band_width: 1280,
            call_reference_value: 5,
            non_standard_data: None,
            conference_id: [5; 16],
            active_mc: false,
            answer_call: false,
            can_map_alias: false,
            call_identifier: Some(CallIdentifier { guid: [5; 16] }),
            gatekeeper_identifier: None,
            will_supply_uuies: false,
            can_map_src_alias: false,
        };
        let out = ras_in(&mut h, ROOM, RasMessage::AdmissionRequest(arq));
        let seq = match &out[..] {
            [(_, RasMessage::RequestInProgress(_)), (to, RasMessage::LocationRequest(l))] => {
                assert_eq!(*to, addr(NB));
                l.request_seq_num
            }
            other => panic!("{other:?}"),
        };
        let mut lrqs = Vec::new();
        for _ in 0..3 {
            h.advance(Duration::from_secs(1));
            lrqs.extend(ras_out(&mut h));
        }
        let (resent, rest): (Vec<_>, Vec<_>) = lrqs
            .into_iter()
            .partition(|(_, m)| matches!(m, RasMessage::LocationRequest(_)));
        assert_eq!(resent.len(), 2, "at 1 s and 2 s: {resent:?}");
        assert!(resent.iter().all(|(to, m)| *to == addr(NB)
            && matches!(m, RasMessage::LocationRequest(l) if l.request_seq_num == seq)));
        assert!(
            matches!(&rest[..], [(to, RasMessage::AdmissionReject(r))] if *to == addr(ROOM) && r.request_seq_num == 5),
            "refused at 3 s: {rest:?}"
        );
    }

    #[tokio::test]
    async fn an_lrq_without_the_neighbours_password_token_is_refused() {
        let mut h = harness();
        register(&mut h);
        let lrq = LocationRequest {
            request_seq_num: 40,
            endpoint_identifier: None,
            destination_info: vec![AliasAddress::H323Id("room-2001".into())],
            non_standard_data: None,
            reply_address: TransportAddress::ip([127, 0, 0, 77], 1719),
            source_info: None,
            can_map_alias: false,
            gatekeeper_identifier: None,
            hop_count: None,
            call_identifier: None,
            band_width: None,
            can_map_src_alias: false,
        };
        let out = ras_in(&mut h, NB, RasMessage::LocationRequest(lrq));
        assert!(
            matches!(&out[..], [(_, RasMessage::LocationReject(r))] if r.reject_reason == LocationRejectReason::SecurityDenial),
            "{out:?}"
        );
    }
}

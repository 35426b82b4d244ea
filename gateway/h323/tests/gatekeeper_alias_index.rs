//! The gatekeeper finds a registration by alias through an index kept in
//! step with RRQ (new, keep-alive, replacing), URQ and expiry. Property:
//! after any sequence of those, the index answers as a scan of every
//! registration does (and no alias has two owners). Sequences come from a
//! seeded xorshift generator, so a failure names its seed and replays.

use std::net::SocketAddr;
use std::time::{Duration, Instant, UNIX_EPOCH};

use gateway_h323::gatekeeper::*;
use gateway_h323::h225::*;

const ENDPOINTS: u32 = 5;
const HOSTS: [[u8; 4]; 3] = [[198, 51, 100, 1], [198, 51, 100, 2], [198, 51, 100, 3]];

/// Endpoint n owns h323-ID "room-n", digits "200n" and url-ID
/// "h323:room-n@city.example" (any case).
fn directory(alias: &AliasAddress) -> Option<DirectoryEntry> {
    let n: u32 = match alias {
        AliasAddress::H323Id(s) => s.strip_prefix("room-")?.parse().ok()?,
        AliasAddress::DialedDigits(s) => s.strip_prefix("200")?.parse().ok()?,
        AliasAddress::UrlId(s) => s
            .to_ascii_lowercase()
            .strip_prefix("h323:room-")?
            .strip_suffix("@city.example")?
            .parse()
            .ok()?,
        _ => return None,
    };
    (n < ENDPOINTS).then(|| DirectoryEntry {
        endpoint_id: format!("ep{n}"),
        vetted: true,
        password: None,
    })
}

fn admission(_: &AdmissionQuery<'_>) -> AdmissionDecision {
    AdmissionDecision::Allow { band_width: None }
}

type Dir = fn(&AliasAddress) -> Option<DirectoryEntry>;
type Adm = fn(&AdmissionQuery<'_>) -> AdmissionDecision;

/// Every alias a registration may hold, in the cases the index must fold.
fn universe() -> Vec<AliasAddress> {
    let mut v = Vec::new();
    for n in 0..ENDPOINTS + 1 {
        v.push(AliasAddress::H323Id(format!("room-{n}")));
        v.push(AliasAddress::H323Id(format!("ROOM-{n}")));
        v.push(AliasAddress::DialedDigits(format!("200{n}")));
        v.push(AliasAddress::UrlId(format!("h323:room-{n}@city.example")));
        v.push(AliasAddress::UrlId(format!("H323:Room-{n}@City.Example")));
    }
    v
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn rrq(seq: u16, aliases: Vec<AliasAddress>, keep_alive: Option<String>, ttl: u32) -> Vec<u8> {
    RasMessage::RegistrationRequest(RegistrationRequest {
        request_seq_num: seq,
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        non_standard_data: None,
        discovery_complete: true,
        call_signal_address: vec![TransportAddress::ip([198, 51, 100, 1], 1720)],
        ras_address: vec![TransportAddress::ip([198, 51, 100, 1], 1719)],
        terminal_type: EndpointType::terminal(),
        terminal_alias: keep_alive.is_none().then_some(aliases),
        gatekeeper_identifier: None,
        endpoint_vendor: VendorIdentifier {
            vendor: H221NonStandard {
                t35_country_code: 181,
                t35_extension: 0,
                manufacturer_code: 1,
            },
            product_id: None,
            version_id: None,
            enterprise_number: None,
        },
        time_to_live: Some(ttl),
        keep_alive: keep_alive.is_some(),
        endpoint_identifier: keep_alive,
        will_supply_uuies: false,
        maintain_connection: false,
        additive_registration: false,
        supports_alt_gk: false,
        multiple_calls: None,
    })
    .encode()
    .unwrap()
}

fn urq(seq: u16, eid: &str) -> Vec<u8> {
    RasMessage::UnregistrationRequest(UnregistrationRequest {
        request_seq_num: seq,
        call_signal_address: vec![TransportAddress::ip([198, 51, 100, 1], 1720)],
        endpoint_alias: None,
        non_standard_data: None,
        endpoint_identifier: Some(eid.into()),
        gatekeeper_identifier: None,
        reason: None,
    })
    .encode()
    .unwrap()
}

fn check(gk: &RasGatekeeper<Dir, Adm>, seed: u64, step: usize) {
    for a in universe() {
        let owners: Vec<&str> = gk
            .registrations()
            .filter(|r| r.has_alias(&a))
            .map(|r| r.endpoint_identifier.as_str())
            .collect();
        assert!(
            owners.len() <= 1,
            "seed {seed} step {step}: {a:?} owned by {owners:?}"
        );
        let indexed = gk.lookup_alias(&a).map(|r| r.endpoint_identifier.as_str());
        assert_eq!(
            indexed,
            owners.first().copied(),
            "seed {seed} step {step}: index and scan disagree on {a:?}"
        );
    }
}

#[test]
fn the_alias_index_agrees_with_a_scan_after_random_sequences() {
    let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let all = universe();
    let mut registered_ever = 0;
    let mut expired_ever = 0;
    for seed in 1..=200u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut cfg = GatekeeperConfig::new(
            "GK",
            "192.0.2.1:1719".parse().unwrap(),
            "192.0.2.1:1720".parse().unwrap(),
        );
        cfg.min_ttl = Duration::from_secs(1);
        cfg.ttl_grace = Duration::ZERO;
        cfg.duplicate_cache_size = 0;
        cfg.max_registrations = 4;
        let mut gk: RasGatekeeper<Dir, Adm> =
            RasGatekeeper::new(cfg, directory as Dir, admission as Adm);
        let mut now = Instant::now();
        let mut seq = 0u16;
        for step in 0..60 {
            seq = seq.wrapping_add(1);
            let host = HOSTS[rng.below(HOSTS.len() as u64) as usize];
            let from = SocketAddr::from((host, 1719));
            match rng.below(10) {
                // a full registration with 1..3 aliases, some of them
                // another endpoint's or unknown ones
                0..=4 => {
                    let k = 1 + rng.below(3) as usize;
                    let aliases = (0..k)
                        .map(|_| all[rng.below(all.len() as u64) as usize].clone())
                        .collect();
                    let ttl = 1 + rng.below(30) as u32;
                    for (_, b) in gk.handle(now, wall, from, &rrq(seq, aliases, None, ttl)) {
                        if matches!(
                            RasMessage::decode(&b),
                            Ok(RasMessage::RegistrationConfirm(_))
                        ) {
                            registered_ever += 1;
                        }
                    }
                }
                // a keep-alive or a URQ of a live registration, from its
                // own host or (refused) another
                5..=7 => {
                    let ids: Vec<(String, SocketAddr)> = gk
                        .registrations()
                        .map(|r| (r.endpoint_identifier.clone(), r.ras_source))
                        .collect();
                    if ids.is_empty() {
                        continue;
                    }
                    let (id, src) = ids[rng.below(ids.len() as u64) as usize].clone();
                    let src = if rng.below(4) == 0 { from } else { src };
                    let bytes = if rng.below(2) == 0 {
                        urq(seq, &id)
                    } else {
                        rrq(seq, Vec::new(), Some(id), 1 + rng.below(30) as u32)
                    };
                    gk.handle(now, wall, src, &bytes);
                }
                // time passes; registrations expire
                _ => {
                    now += Duration::from_secs(rng.below(20));
                    let before = gk.registrations().count();
                    gk.handle_timeout(now);
                    expired_ever += before - gk.registrations().count();
                }
            }
            check(&gk, seed, step);
        }
    }
    // the sequences did exercise what they are meant to
    assert!(registered_ever > 1000, "{registered_ever} registrations");
    assert!(expired_ever > 100, "{expired_ever} expiries");
}

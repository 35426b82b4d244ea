//! The gateway registering with an outside gatekeeper, played by the
//! crate's own RasGatekeeper with a password for the gateway: discovery
//! choosing H.235.1, registration, keep-alives, unregistration on
//! shutdown, all on a virtual clock. Everything the registering side sends
//! is also decoded by pycrate.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{hex, oracle};
use gateway_h323::gatekeeper::*;
use gateway_h323::h225::*;
use gateway_h323::h235::AuthMethod;
use gateway_h323::registration::*;

const CARRIER: &str = "203.0.113.5:1719";
const GATEWAY: &str = "192.0.2.1:1719";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn wall(at: Instant, t0: Instant) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000) + (at - t0)
}

fn directory(alias: &AliasAddress) -> Option<DirectoryEntry> {
    match alias {
        AliasAddress::H323Id(s) if s == "city-gateway" => Some(DirectoryEntry {
            endpoint_id: "city".into(),
            vetted: true,
            password: Some("carrier-secret".into()),
        }),
        _ => None,
    }
}

fn admission(_: &AdmissionQuery<'_>) -> AdmissionDecision {
    AdmissionDecision::Allow { band_width: None }
}

type Dir = fn(&AliasAddress) -> Option<DirectoryEntry>;
type Adm = fn(&AdmissionQuery<'_>) -> AdmissionDecision;

#[test]
fn gateway_registers_with_an_outside_gatekeeper_and_leaves() {
    let t0 = Instant::now();
    let mut cfg = GatekeeperConfig::new("CARRIER-GK", addr(CARRIER), addr("203.0.113.5:1720"));
    cfg.min_ttl = Duration::from_secs(10);
    let mut carrier = RasGatekeeper::new(cfg, directory as Dir, admission as Adm);

    let mut rc = OutsideGatekeeperConfig::new(
        addr(CARRIER),
        addr(GATEWAY),
        addr("192.0.2.1:1720"),
        vec![
            AliasAddress::H323Id("city-gateway".into()),
            AliasAddress::DialedDigits("8400".into()),
        ],
        VendorIdentifier {
            vendor: H221NonStandard {
                t35_country_code: 0xB5,
                t35_extension: 0,
                manufacturer_code: 0,
            },
            product_id: Some(b"gateway".to_vec()),
            version_id: Some(b"0.1".to_vec()),
            enterprise_number: None,
        },
    );
    rc.prefixes = vec!["84".into(), "0243".into()];
    rc.time_to_live = Duration::from_secs(40);
    rc.password = Some("carrier-secret".into());
    rc.gatekeeper_identifier = Some("CARRIER-GK".into());
    let mut gw = OutsideRegistration::new(rc, t0);

    let mut sent_by_gateway: Vec<Vec<u8>> = Vec::new();
    // deliver the gateway's datagrams to the carrier and back until quiet
    let mut pump = |gw: &mut OutsideRegistration,
                    carrier: &mut RasGatekeeper<Dir, Adm>,
                    now: Instant,
                    mut out: Vec<(SocketAddr, Vec<u8>)>| {
        for _ in 0..10 {
            let mut back = Vec::new();
            for (to, b) in out.drain(..) {
                assert_eq!(to, addr(CARRIER));
                sent_by_gateway.push(b.clone());
                back.extend(carrier.handle(now, wall(now, t0), addr(GATEWAY), &b));
            }
            for (to, b) in back {
                assert_eq!(to, addr(GATEWAY));
                // after shutdown the UCF is nobody's concern
                out.extend(
                    gw.handle(now, wall(now, t0), addr(CARRIER), &b)
                        .unwrap_or_default(),
                );
            }
            if out.is_empty() {
                return;
            }
        }
        panic!("no end to the exchange");
    };

    let out = gw.handle_timeout(t0, wall(t0, t0));
    pump(&mut gw, &mut carrier, t0, out);
    assert!(gw.is_registered());
    let eid = gw.endpoint_identifier().unwrap().to_string();
    match gw.poll_event() {
        Some(OutsideGatekeeperEvent::Registered {
            gatekeeper_identifier,
            time_to_live,
            ..
        }) => {
            assert_eq!(gatekeeper_identifier.as_deref(), Some("CARRIER-GK"));
            assert_eq!(time_to_live, Duration::from_secs(40));
        }
        e => panic!("expected Registered, got {e:?}"),
    }
    let reg = carrier
        .registration(&eid)
        .expect("the carrier has us")
        .clone();
    assert_eq!(
        reg.authentication,
        Some(AuthMethod::H2351),
        "the GCF chose HMAC-SHA1-96"
    );
    assert_eq!(reg.directory_id, "city");
    let prefixes: Vec<_> = reg.endpoint_type.gateway.unwrap().protocol.unwrap()[0]
        .prefixes
        .clone();
    assert_eq!(prefixes.len(), 2);

    // keep-alives hold the registration for five times its TTL
    let mut now = t0;
    for _ in 0..6 {
        now = gw.poll_timeout().unwrap();
        let out = gw.handle_timeout(now, wall(now, t0));
        pump(&mut gw, &mut carrier, now, out);
        carrier.handle_timeout(now);
    }
    assert!(now >= t0 + Duration::from_secs(180));
    assert!(
        carrier.registration(&eid).is_some(),
        "still registered at {:?}",
        now - t0
    );
    assert_eq!(carrier.stats().auth_failures, 0);
    assert_eq!(gw.poll_event(), None);

    // shutdown: URQ, and the carrier drops us
    let out = gw.shutdown(wall(now, t0));
    pump(&mut gw, &mut carrier, now, out);
    assert!(carrier.registration(&eid).is_none());

    let input: String = sent_by_gateway
        .iter()
        .enumerate()
        .map(|(i, b)| format!("m{i} {}\n", hex(b)))
        .collect();
    let results = oracle("check", &input);
    assert_eq!(results.len(), sent_by_gateway.len());
    for r in results {
        assert!(r.get("error").is_none(), "pycrate: {r}");
    }
}

//! The committed sample dialplans parse, and route as their comments say.

use gateway_dialplan::*;

const HANOI_2024: &str = include_str!("../../../dialplans/hanoi-2024.toml");
const HANOI_2025: &str = include_str!("../../../dialplans/hanoi-2025.toml");
const LOOPBACK: &str = include_str!("../../../dialplans/loopback.toml");

fn parse(src: &str, name: &str) -> Dialplan {
    Dialplan::parse(src, name).unwrap_or_else(|errs| {
        panic!(
            "{}",
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

fn count(d: &Dialplan, kinds: &[UnitKind]) -> usize {
    d.units().iter().filter(|u| kinds.contains(&u.kind)).count()
}

const WARDS: [UnitKind; 3] = [UnitKind::Ward, UnitKind::Commune, UnitKind::Township];
const DISTRICTS: [UnitKind; 3] = [
    UnitKind::UrbanDistrict,
    UnitKind::RuralDistrict,
    UnitKind::Town,
];

#[test]
fn loopback_is_the_embedded_sample() {
    assert_eq!(SAMPLE_DIALPLAN, LOOPBACK);
    let d = parse(LOOPBACK, "dialplans/loopback.toml");
    // 1001-1003 over SIP, 2001 an H.323 room
    assert_eq!(d.endpoints().len(), 4);
    assert!(d.endpoints().iter().all(|e| e.vetted));
    let meetings: Vec<(&str, &str, bool)> = d
        .meetings()
        .iter()
        .map(|m| (m.number.as_str(), m.classification.as_str(), m.record))
        .collect();
    assert_eq!(
        meetings,
        [
            ("8000", "normal", false),
            ("8001", "secret", false),
            ("8002", "normal", true)
        ]
    );
    assert!(d.meetings().iter().all(|m| m.unit == "01"));
}

#[test]
fn hanoi_2024_has_three_tiers() {
    let d = parse(HANOI_2024, "dialplans/hanoi-2024.toml");
    assert_eq!(count(&d, &[UnitKind::City]), 1);
    assert_eq!(count(&d, &DISTRICTS), 30);
    assert_eq!(count(&d, &WARDS), 526);
    assert_eq!(d.endpoints().len(), 557);
    // Phường Trúc Bạch (00004) lies in Quận Ba Đình (001) in the city (01).
    let anc: Vec<&str> = d
        .unit_ancestors("00004")
        .iter()
        .map(|u| u.code.as_str())
        .collect();
    assert_eq!(anc, ["001", "01"]);
    assert_eq!(d.endpoint_by_user("300004").unwrap().id, "bp-00004");
    assert_eq!(d.endpoint_by_user("200001").unwrap().unit, "001");
    assert_eq!(d.endpoint_by_user("100001").unwrap().unit, "01");
}

#[test]
fn hanoi_2025_has_two_tiers() {
    let d = parse(HANOI_2025, "dialplans/hanoi-2025.toml");
    assert_eq!(count(&d, &[UnitKind::City]), 1);
    assert_eq!(count(&d, &DISTRICTS), 0);
    assert_eq!(count(&d, &WARDS), 126);
    assert!(d
        .units()
        .iter()
        .filter(|u| u.kind != UnitKind::City)
        .all(|u| u.parent.as_deref() == Some("01")));
    assert_eq!(d.endpoint_by_user("phuong-ba-dinh").unwrap().unit, "00004");
}

#[test]
fn hanoi_rules_route_as_documented() {
    let d = parse(HANOI_2025, "dialplans/hanoi-2025.toml");
    // Sample endpoints are not vetted yet.
    let r = d.route(&RouteRequest {
        caller: Caller::Endpoint("bp-00004".into()),
        from_user: None,
        target: "300070".into(),
        transport_secure: false,
        at_unix_secs: 0,
    });
    assert_eq!(
        r.outcome,
        RouteOutcome::Reject {
            status: 403,
            reason: "Endpoint bp-00004 is not security-vetted".into()
        }
    );
    // The carrier trunk (by ACL) dialling a classified meeting over TLS.
    let r = d.route(&RouteRequest {
        caller: Caller::Anonymous {
            source: "203.0.113.5".parse().unwrap(),
        },
        from_user: Some("0912345678".into()),
        target: "9123456".into(),
        transport_secure: true,
        at_unix_secs: 0,
    });
    assert_eq!(
        r.outcome,
        RouteOutcome::Uri {
            uri: "sips:meeting-123456@core.hanoi.gateway.local;transport=tls".into()
        }
    );
    assert!(r.policy.encryption_required && r.policy.record);
    // The same over plain UDP is refused.
    let r = d.route(&RouteRequest {
        caller: Caller::Trunk("carrier".into()),
        from_user: None,
        target: "9123456".into(),
        transport_secure: false,
        at_unix_secs: 0,
    });
    assert!(matches!(
        r.outcome,
        RouteOutcome::Reject { status: 488, .. }
    ));
    // The carrier calls out to PSTN from the city's unit, under the city's
    // main number (the carrier trunk's caller-ID policy).
    let r = d.route(&RouteRequest {
        caller: Caller::Trunk("carrier".into()),
        from_user: None,
        target: "0912345678".into(),
        transport_secure: true,
        at_unix_secs: 0,
    });
    assert_eq!(
        r.outcome,
        RouteOutcome::Trunk {
            name: "carrier".into(),
            uri: "sip:84912345678@sbc.carrier.example:5060;transport=tcp".into()
        }
    );
    assert_eq!(r.policy.caller_id.as_deref(), Some("842400000000"));
}

#[test]
fn hanoi_national_and_party_trunks_carry_their_kind_and_ranges() {
    for (src, name) in [
        (HANOI_2024, "dialplans/hanoi-2024.toml"),
        (HANOI_2025, "dialplans/hanoi-2025.toml"),
    ] {
        let d = parse(src, name);
        let kind = |t: &str| d.trunk(t).unwrap().kind;
        assert_eq!(kind("chinh-phu"), TrunkKind::National);
        assert_eq!(kind("thanh-uy"), TrunkKind::Party);
        assert_eq!(kind("carrier"), TrunkKind::Carrier);
        assert!(d.trunks().iter().all(|t| t.outbound_numbers.is_some()));
        let call = |caller: &str, target: &str| {
            d.route(&RouteRequest {
                caller: Caller::Trunk(caller.into()),
                from_user: None,
                target: target.into(),
                transport_secure: true,
                at_unix_secs: 0,
            })
            .outcome
        };
        // Both may call the city's bridge points and meetings ...
        assert_eq!(
            call("chinh-phu", "100001"),
            RouteOutcome::Endpoint { id: "bp-01".into() }
        );
        assert!(matches!(
            call("thanh-uy", "9123456"),
            RouteOutcome::Uri { .. }
        ));
        // ... but are no transit to the carrier.
        assert_eq!(
            call("thanh-uy", "0912345678"),
            RouteOutcome::Reject {
                status: 403,
                reason:
                    "Trunk thanh-uy (party) may not call 0912345678: not in its inbound_numbers"
                        .into()
            }
        );
        // The government bridge's conference numbers have four or six
        // digits: five are refused by its outbound_numbers.
        assert!(matches!(
            call("carrier", "701234"),
            RouteOutcome::Trunk { ref name, .. } if name == "chinh-phu"
        ));
        assert_eq!(
            call("carrier", "7012345"),
            RouteOutcome::Reject {
                status: 403,
                reason: "12345 may not be sent over trunk chinh-phu (national): not in its outbound_numbers"
                    .into()
            }
        );
    }
}

//! Sample call-signalling PDUs (H323-UserInformation) for the oracle tests.

use gateway_callmodel::H225ReleaseReason;
use gateway_h323::h225::*;

use super::{CID, GUID};

pub fn vendor_type() -> EndpointType {
    EndpointType {
        vendor: Some(VendorIdentifier {
            vendor: H221NonStandard {
                t35_country_code: 181,
                t35_extension: 0,
                manufacturer_code: 0x5555,
            },
            product_id: Some(b"gateway".to_vec()),
            version_id: Some(b"0.1".to_vec()),
            enterprise_number: None,
        }),
        gateway: Some(GatewayInfo { protocol: None }),
        ..Default::default()
    }
}

fn ip(a: [u8; 4], port: u16) -> TransportAddress {
    TransportAddress::ip(a, port)
}

fn cid() -> Option<CallIdentifier> {
    Some(CallIdentifier { guid: GUID })
}

/// Two fast-start proposals as opaque octets (real OLCs in the H.245 tests).
pub fn fast_start() -> Vec<Vec<u8>> {
    vec![vec![0x00, 0x00, 0x01, 0x40, 0x02], vec![0x00, 0x01, 0x02]]
}

fn ui(body: UuBody, tunnelling: bool, control: Option<Vec<Vec<u8>>>) -> H323UserInformation {
    let mut u = H323UserInformation::new(body);
    u.pdu.h245_tunnelling = tunnelling;
    u.pdu.h245_control = control;
    u
}

pub fn setup() -> SetupUuie {
    SetupUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        h245_address: None,
        source_address: Some(vec![
            AliasAddress::H323Id("gateway".into()),
            AliasAddress::DialedDigits("1001".into()),
        ]),
        source_info: vendor_type(),
        destination_address: Some(vec![AliasAddress::DialedDigits("2001".into())]),
        dest_call_signal_address: Some(ip([127, 0, 0, 1], 1720)),
        dest_extra_call_info: None,
        active_mc: false,
        conference_id: CID,
        conference_goal: ConferenceGoal::Create,
        call_type: CallType::PointToPoint,
        source_call_signal_address: Some(ip([127, 0, 0, 2], 1720)),
        call_identifier: cid(),
        fast_start: Some(fast_start()),
        media_wait_for_connect: false,
        can_overlap_send: false,
        endpoint_identifier: None,
        multiple_calls: false,
        maintain_connection: false,
    }
}

fn proceeding(fast: bool) -> ProceedingUuie {
    ProceedingUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        destination_info: vendor_type(),
        h245_address: Some(ip([127, 0, 0, 1], 30000)),
        call_identifier: cid(),
        fast_start: fast.then(fast_start),
        multiple_calls: false,
        maintain_connection: false,
        fast_connect_refused: false,
    }
}

pub fn connect() -> ConnectUuie {
    ConnectUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        h245_address: Some(ip([127, 0, 0, 1], 30001)),
        destination_info: vendor_type(),
        conference_id: CID,
        call_identifier: cid(),
        fast_start: Some(fast_start()),
        multiple_calls: false,
        maintain_connection: true,
        fast_connect_refused: false,
    }
}

pub fn release(reason: ReleaseCompleteReason) -> ReleaseCompleteUuie {
    ReleaseCompleteUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        reason: Some(reason),
        call_identifier: cid(),
    }
}

fn facility(reason: FacilityReason) -> FacilityUuie {
    FacilityUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        alternative_address: None,
        alternative_alias_address: None,
        conference_id: Some(CID),
        reason,
        call_identifier: cid(),
        h245_address: None,
        fast_start: None,
        multiple_calls: false,
        maintain_connection: false,
    }
}

fn callid_only() -> CallIdUuie {
    CallIdUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        call_identifier: CallIdentifier { guid: GUID },
    }
}

/// One or more of every body alternative we encode.
pub fn uu_samples() -> Vec<(&'static str, H323UserInformation)> {
    let mut fac_h245 = facility(FacilityReason::StartH245);
    fac_h245.h245_address = Some(ip([127, 0, 0, 1], 30002));
    let mut fac_gk = facility(FacilityReason::RouteCallToGatekeeper);
    fac_gk.alternative_address = Some(ip([127, 0, 0, 1], 1720));
    fac_gk.alternative_alias_address = Some(vec![AliasAddress::DialedDigits("2001".into())]);
    let mut alerting = proceeding(false);
    alerting.fast_connect_refused = true;
    let mut setup_ind = setup();
    setup_ind.conference_goal = ConferenceGoal::Join;
    setup_ind.media_wait_for_connect = true;
    setup_ind.can_overlap_send = true;
    setup_ind.fast_start = None;
    setup_ind.h245_address = Some(ip([127, 0, 0, 2], 30010));
    setup_ind.endpoint_identifier = Some("EP0001".into());
    vec![
        ("setup", ui(UuBody::Setup(setup()), true, None)),
        ("setup_slow", ui(UuBody::Setup(setup_ind), false, None)),
        (
            "call_proceeding",
            ui(UuBody::CallProceeding(proceeding(true)), true, None),
        ),
        ("alerting", ui(UuBody::Alerting(alerting), true, None)),
        ("connect", ui(UuBody::Connect(connect()), true, None)),
        (
            "release_busy",
            ui(
                UuBody::ReleaseComplete(release(ReleaseCompleteReason::Reason(
                    H225ReleaseReason::AdaptiveBusy,
                ))),
                false,
                None,
            ),
        ),
        (
            "release_not_registered",
            ui(
                UuBody::ReleaseComplete(release(ReleaseCompleteReason::Reason(
                    H225ReleaseReason::CalledPartyNotRegistered,
                ))),
                true,
                None,
            ),
        ),
        (
            "facility_start_h245",
            ui(UuBody::Facility(fac_h245), false, None),
        ),
        (
            "facility_route_to_gk",
            ui(UuBody::Facility(fac_gk), false, None),
        ),
        (
            "progress",
            ui(
                UuBody::Progress(ProgressUuie {
                    protocol_identifier: H225_PROTOCOL_V4.to_vec(),
                    destination_info: vendor_type(),
                    h245_address: None,
                    call_identifier: CallIdentifier { guid: GUID },
                    fast_start: Some(fast_start()),
                    multiple_calls: false,
                    maintain_connection: false,
                    fast_connect_refused: false,
                }),
                true,
                None,
            ),
        ),
        (
            "information",
            ui(
                UuBody::Information(InformationUuie {
                    protocol_identifier: H225_PROTOCOL_V4.to_vec(),
                    call_identifier: cid(),
                    fast_start: None,
                }),
                true,
                None,
            ),
        ),
        ("status", ui(UuBody::Status(callid_only()), true, None)),
        (
            "status_inquiry",
            ui(UuBody::StatusInquiry(callid_only()), true, None),
        ),
        ("notify", ui(UuBody::Notify(callid_only()), true, None)),
        (
            "setup_ack",
            ui(UuBody::SetupAcknowledge(callid_only()), true, None),
        ),
        (
            "empty_tunnel",
            ui(
                UuBody::Empty,
                true,
                Some(vec![vec![0x60, 0x00], vec![0x20, 0x80, 0x01]]),
            ),
        ),
    ]
}

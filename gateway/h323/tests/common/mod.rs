//! Sample RAS messages and the oracle plumbing shared by the interop tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

pub mod calls;
pub mod h245;

use gateway_h323::h225::*;

pub const GUID: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
pub const CID: [u8; 16] = [
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
];

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python with pycrate: $H323_PYTHON, else the venv scripts/test-all.sh
/// makes on an externally managed Debian Python, else python3.
pub fn python() -> String {
    if let Ok(p) = std::env::var("H323_PYTHON") {
        return p;
    }
    let venv = repo_root().join("target/interop-venv/bin/python3");
    if venv.exists() {
        return venv.to_string_lossy().into_owned();
    }
    "python3".into()
}

/// Runs the pycrate oracle script; fails loudly when Python or pycrate is missing.
pub fn oracle(mode: &str, stdin: &str) -> Vec<serde_json::Value> {
    use std::io::Write;
    let script = repo_root().join("interop-tests/h323/ras_oracle.py");
    let py = python();
    let mut child = Command::new(&py)
        .arg(&script)
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {py} (pip install pycrate==0.8.1): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{py} {} {mode} failed (is pycrate installed?): {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn ip(a: [u8; 4], port: u16) -> TransportAddress {
    TransportAddress::ip(a, port)
}

fn vendor() -> VendorIdentifier {
    VendorIdentifier {
        vendor: H221NonStandard {
            t35_country_code: 181,
            t35_extension: 0,
            manufacturer_code: 0x5555,
        },
        product_id: Some(b"gateway".to_vec()),
        version_id: Some(b"0.1".to_vec()),
        enterprise_number: Some(vec![1, 3, 6, 1, 4, 1, 99999]),
    }
}

fn nsd() -> NonStandardParameter {
    NonStandardParameter {
        identifier: NonStandardIdentifier::H221(H221NonStandard {
            t35_country_code: 181,
            t35_extension: 0,
            manufacturer_code: 8888,
        }),
        data: vec![0xDE, 0xAD],
    }
}

/// One or more of every RAS message we encode, with varied optional fields.
pub fn samples() -> Vec<(&'static str, RasMessage)> {
    let v4 = H225_PROTOCOL_V4.to_vec();
    let room = vec![
        AliasAddress::H323Id("Room 101 \u{e9}".into()),
        AliasAddress::DialedDigits("1001#*,".into()),
        AliasAddress::UrlId("h323:room101@example.com".into()),
        AliasAddress::EmailId("room101@example.com".into()),
        AliasAddress::TransportId(ip([10, 0, 0, 5], 1720)),
    ];
    let gw_type = EndpointType {
        vendor: Some(vendor()),
        gateway: Some(GatewayInfo {
            protocol: Some(vec![SupportedProtocol {
                kind: ProtocolKind::Voice,
                prefixes: vec![AliasAddress::DialedDigits("9".into())],
            }]),
        }),
        ..Default::default()
    };
    vec![
        (
            "grq",
            RasMessage::GatekeeperRequest(GatekeeperRequest {
                request_seq_num: 1,
                protocol_identifier: v4.clone(),
                non_standard_data: Some(nsd()),
                ras_address: ip([10, 0, 0, 5], 1719),
                endpoint_type: EndpointType::terminal(),
                gatekeeper_identifier: Some("GK1".into()),
                endpoint_alias: Some(room.clone()),
                supports_alt_gk: true,
            }),
        ),
        (
            "gcf",
            RasMessage::GatekeeperConfirm(GatekeeperConfirm {
                request_seq_num: 1,
                protocol_identifier: v4.clone(),
                non_standard_data: None,
                gatekeeper_identifier: Some("GK1".into()),
                ras_address: ip([10, 0, 0, 1], 1719),
            }),
        ),
        (
            "grj",
            RasMessage::GatekeeperReject(GatekeeperReject {
                request_seq_num: 1,
                protocol_identifier: v4.clone(),
                non_standard_data: None,
                gatekeeper_identifier: None,
                reject_reason: GatekeeperRejectReason::SecurityDenial,
            }),
        ),
        (
            "rrq",
            RasMessage::RegistrationRequest(RegistrationRequest {
                request_seq_num: 2,
                protocol_identifier: v4.clone(),
                non_standard_data: None,
                discovery_complete: true,
                call_signal_address: vec![
                    ip([10, 0, 0, 5], 1720),
                    TransportAddress::Ip6 {
                        ip: "2001:db8::5".parse().unwrap(),
                        port: 1720,
                    },
                ],
                ras_address: vec![ip([10, 0, 0, 5], 1719)],
                terminal_type: gw_type.clone(),
                terminal_alias: Some(room.clone()),
                gatekeeper_identifier: Some("GK1".into()),
                endpoint_vendor: vendor(),
                time_to_live: Some(300),
                keep_alive: false,
                endpoint_identifier: None,
                will_supply_uuies: false,
                maintain_connection: false,
                additive_registration: false,
                supports_alt_gk: true,
                multiple_calls: Some(true),
            }),
        ),
        (
            "rrq_keepalive",
            RasMessage::RegistrationRequest(RegistrationRequest {
                request_seq_num: 3,
                protocol_identifier: v4.clone(),
                non_standard_data: None,
                discovery_complete: false,
                call_signal_address: vec![ip([10, 0, 0, 5], 1720)],
                ras_address: vec![ip([10, 0, 0, 5], 1719)],
                terminal_type: EndpointType::terminal(),
                terminal_alias: None,
                gatekeeper_identifier: None,
                endpoint_vendor: vendor(),
                time_to_live: Some(300),
                keep_alive: true,
                endpoint_identifier: Some("EP0001".into()),
                will_supply_uuies: false,
                maintain_connection: false,
                additive_registration: false,
                supports_alt_gk: false,
                multiple_calls: None,
            }),
        ),
        (
            "rcf",
            RasMessage::RegistrationConfirm(RegistrationConfirm {
                request_seq_num: 2,
                protocol_identifier: v4.clone(),
                non_standard_data: None,
                call_signal_address: vec![ip([10, 0, 0, 1], 1720)],
                terminal_alias: Some(vec![AliasAddress::DialedDigits("1001".into())]),
                gatekeeper_identifier: Some("GK1".into()),
                endpoint_identifier: "EP0001".into(),
                time_to_live: Some(60),
                will_respond_to_irr: true,
                pre_granted_arq: Some(PreGrantedArq {
                    make_call: true,
                    use_gk_call_signal_address_to_make_call: true,
                    answer_call: false,
                    use_gk_call_signal_address_to_answer: true,
                }),
                maintain_connection: false,
                supports_additive_registration: true,
            }),
        ),
        (
            "rrj",
            RasMessage::RegistrationReject(RegistrationReject {
                request_seq_num: 2,
                protocol_identifier: v4.clone(),
                non_standard_data: None,
                reject_reason: RegistrationRejectReason::DuplicateAlias(vec![
                    AliasAddress::H323Id("Room".into()),
                ]),
                gatekeeper_identifier: Some("GK1".into()),
            }),
        ),
        (
            "rrj_ext",
            RasMessage::RegistrationReject(RegistrationReject {
                request_seq_num: 2,
                protocol_identifier: v4.clone(),
                non_standard_data: None,
                reject_reason: RegistrationRejectReason::FullRegistrationRequired,
                gatekeeper_identifier: None,
            }),
        ),
        (
            "urq",
            RasMessage::UnregistrationRequest(UnregistrationRequest {
                request_seq_num: 4,
                call_signal_address: vec![ip([10, 0, 0, 5], 1720)],
                endpoint_alias: Some(vec![AliasAddress::H323Id("Room".into())]),
                non_standard_data: None,
                endpoint_identifier: Some("EP0001".into()),
                gatekeeper_identifier: Some("GK1".into()),
                reason: Some(UnregRequestReason::TtlExpired),
            }),
        ),
        (
            "ucf",
            RasMessage::UnregistrationConfirm(UnregistrationConfirm {
                request_seq_num: 4,
                non_standard_data: None,
            }),
        ),
        (
            "urj",
            RasMessage::UnregistrationReject(UnregistrationReject {
                request_seq_num: 4,
                reject_reason: UnregRejectReason::NotCurrentlyRegistered,
                non_standard_data: Some(nsd()),
            }),
        ),
        (
            "arq",
            RasMessage::AdmissionRequest(AdmissionRequest {
                request_seq_num: 5,
                call_type: CallType::PointToPoint,
                call_model: Some(CallModel::GatekeeperRouted),
                endpoint_identifier: "EP0001".into(),
                destination_info: Some(vec![AliasAddress::DialedDigits("2002".into())]),
                dest_call_signal_address: Some(ip([10, 0, 0, 9], 1720)),
                dest_extra_call_info: None,
                src_info: vec![AliasAddress::H323Id("Room".into())],
                src_call_signal_address: Some(ip([10, 0, 0, 5], 1720)),
                band_width: 7680,
                call_reference_value: 77,
                non_standard_data: None,
                conference_id: CID,
                active_mc: false,
                answer_call: false,
                can_map_alias: true,
                call_identifier: Some(CallIdentifier { guid: GUID }),
                gatekeeper_identifier: Some("GK1".into()),
                will_supply_uuies: false,
                can_map_src_alias: false,
            }),
        ),
        (
            "acf",
            RasMessage::AdmissionConfirm(AdmissionConfirm {
                request_seq_num: 5,
                band_width: 7680,
                call_model: CallModel::Direct,
                dest_call_signal_address: ip([10, 0, 0, 9], 1720),
                irr_frequency: Some(120),
                non_standard_data: None,
                destination_info: Some(vec![AliasAddress::DialedDigits("2002".into())]),
                will_respond_to_irr: false,
                uuies_requested: Some(UuiesRequested {
                    setup: true,
                    release_complete: true,
                    ..Default::default()
                }),
            }),
        ),
        (
            "arj",
            RasMessage::AdmissionReject(AdmissionReject {
                request_seq_num: 5,
                reject_reason: AdmissionRejectReason::NoRouteToDestination,
                non_standard_data: None,
            }),
        ),
        (
            "brq",
            RasMessage::BandwidthRequest(BandwidthRequest {
                request_seq_num: 6,
                endpoint_identifier: "EP0001".into(),
                conference_id: CID,
                call_reference_value: 77,
                call_type: Some(CallType::PointToPoint),
                band_width: 3840,
                non_standard_data: None,
                call_identifier: Some(CallIdentifier { guid: GUID }),
                answered_call: true,
            }),
        ),
        (
            "bcf",
            RasMessage::BandwidthConfirm(BandwidthConfirm {
                request_seq_num: 6,
                band_width: 3840,
                non_standard_data: None,
            }),
        ),
        (
            "brj",
            RasMessage::BandwidthReject(BandwidthReject {
                request_seq_num: 6,
                reject_reason: BandRejectReason::InsufficientResources,
                allowed_band_width: 1280,
                non_standard_data: None,
            }),
        ),
        (
            "drq",
            RasMessage::DisengageRequest(DisengageRequest {
                request_seq_num: 7,
                endpoint_identifier: "EP0001".into(),
                conference_id: CID,
                call_reference_value: 77,
                disengage_reason: DisengageReason::NormalDrop,
                non_standard_data: None,
                call_identifier: Some(CallIdentifier { guid: GUID }),
                gatekeeper_identifier: None,
                answered_call: false,
            }),
        ),
        (
            "dcf",
            RasMessage::DisengageConfirm(DisengageConfirm {
                request_seq_num: 7,
                non_standard_data: None,
            }),
        ),
        (
            "drj",
            RasMessage::DisengageReject(DisengageReject {
                request_seq_num: 7,
                reject_reason: DisengageRejectReason::RequestToDropOther,
                non_standard_data: None,
            }),
        ),
        (
            "lrq",
            RasMessage::LocationRequest(LocationRequest {
                request_seq_num: 8,
                endpoint_identifier: None,
                destination_info: vec![AliasAddress::DialedDigits("2002".into())],
                non_standard_data: None,
                reply_address: ip([10, 0, 0, 1], 1719),
                source_info: Some(vec![AliasAddress::H323Id("GK1".into())]),
                can_map_alias: true,
                gatekeeper_identifier: Some("GK1".into()),
                hop_count: Some(4),
                call_identifier: None,
                band_width: Some(7680),
                can_map_src_alias: false,
            }),
        ),
        (
            "lcf",
            RasMessage::LocationConfirm(LocationConfirm {
                request_seq_num: 8,
                call_signal_address: ip([10, 0, 0, 9], 1720),
                ras_address: ip([10, 0, 0, 9], 1719),
                non_standard_data: None,
                destination_info: Some(vec![AliasAddress::DialedDigits("2002".into())]),
                destination_type: Some(gw_type.clone()),
            }),
        ),
        (
            "lrj",
            RasMessage::LocationReject(LocationReject {
                request_seq_num: 8,
                reject_reason: LocationRejectReason::NotRegistered,
                non_standard_data: None,
            }),
        ),
        (
            "irq",
            RasMessage::InfoRequest(InfoRequest {
                request_seq_num: 9,
                call_reference_value: 0,
                non_standard_data: None,
                reply_address: Some(ip([10, 0, 0, 1], 1719)),
                call_identifier: None,
            }),
        ),
        (
            "irr",
            RasMessage::InfoRequestResponse(InfoRequestResponse {
                non_standard_data: None,
                request_seq_num: 9,
                endpoint_type: EndpointType::terminal(),
                endpoint_identifier: "EP0001".into(),
                ras_address: ip([10, 0, 0, 5], 1719),
                call_signal_address: vec![ip([10, 0, 0, 5], 1720)],
                endpoint_alias: Some(vec![AliasAddress::H323Id("Room".into())]),
                per_call_info: Some(vec![PerCallInfo {
                    call_reference_value: 77,
                    conference_id: CID,
                    originator: Some(true),
                    audio: vec![RtpSession {
                        rtp_address: TransportChannelInfo {
                            send_address: None,
                            recv_address: Some(ip([10, 0, 0, 5], 5004)),
                        },
                        rtcp_address: TransportChannelInfo {
                            send_address: None,
                            recv_address: Some(ip([10, 0, 0, 5], 5005)),
                        },
                        cname: "room 101".into(),
                        ssrc: 0xDEADBEEF,
                        session_id: 1,
                        associated_session_ids: vec![],
                    }],
                    video: vec![],
                    h245: TransportChannelInfo::default(),
                    call_signalling: TransportChannelInfo {
                        send_address: Some(ip([10, 0, 0, 5], 1720)),
                        recv_address: Some(ip([10, 0, 0, 9], 1720)),
                    },
                    call_type: CallType::PointToPoint,
                    band_width: 7680,
                    call_model: CallModel::Direct,
                    call_identifier: Some(CallIdentifier { guid: GUID }),
                }]),
                need_response: true,
                unsolicited: false,
            }),
        ),
        (
            "nsm",
            RasMessage::NonStandardMessage(NonStandardMessage {
                request_seq_num: 10,
                non_standard_data: NonStandardParameter {
                    identifier: NonStandardIdentifier::Object(vec![1, 3, 6, 1, 4, 1, 99999, 1]),
                    data: vec![1, 2, 3],
                },
            }),
        ),
        (
            "xrs",
            RasMessage::UnknownMessageResponse(UnknownMessageResponse {
                request_seq_num: 11,
            }),
        ),
        (
            "rip",
            RasMessage::RequestInProgress(RequestInProgress {
                request_seq_num: 5,
                non_standard_data: None,
                delay: 3000,
            }),
        ),
    ]
}

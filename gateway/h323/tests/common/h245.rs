//! Sample H.245 PDUs for the oracle tests.

use std::net::SocketAddr;

use gateway_h323::h245::*;

fn addr(s: &str) -> H245Address {
    H245Address::Unicast(s.parse::<SocketAddr>().unwrap())
}

pub fn tcs() -> TerminalCapabilitySet {
    use Capability as C;
    use Direction::*;
    let g7221 = GenericCapability {
        capability_identifier: CapabilityIdentifier::Standard(G7221_CAPABILITY_OID.to_vec()),
        max_bit_rate: Some(320),
        collapsing: Some(vec![GenericParameter::standard(
            1,
            ParameterValue::UnsignedMin(16),
        )]),
        non_collapsing: None,
        non_collapsing_raw: None,
        has_transport: false,
    };
    let table = vec![
        C::Audio(
            Receive,
            AudioCapability::Framed(FramedAudio::G711Alaw64k, 20),
        ),
        C::Audio(
            Receive,
            AudioCapability::Framed(FramedAudio::G711Ulaw64k, 20),
        ),
        C::Audio(Receive, AudioCapability::Framed(FramedAudio::G722_64k, 20)),
        C::Audio(Receive, AudioCapability::Generic(g7221)),
        C::Video(
            Receive,
            VideoCapability::H261(H261VideoCapability {
                qcif_mpi: Some(1),
                cif_mpi: Some(1),
                temporal_spatial_trade_off: false,
                max_bit_rate: 19200,
                still_image_transmission: false,
            }),
        ),
        C::Video(
            Receive,
            VideoCapability::H263(H263VideoCapability {
                qcif_mpi: Some(1),
                cif_mpi: Some(1),
                cif4_mpi: Some(2),
                max_bit_rate: 19200,
                ..Default::default()
            }),
        ),
        C::Video(
            Receive,
            VideoCapability::Generic(GenericCapability::h264(64, 71, 19200)),
        ),
        C::UserInput(ReceiveAndTransmit, UserInputCapabilityKind::BasicString),
        C::UserInput(ReceiveAndTransmit, UserInputCapabilityKind::Dtmf),
    ];
    TerminalCapabilitySet {
        sequence_number: 1,
        protocol_identifier: H245_PROTOCOL_V7.to_vec(),
        multiplex_capability: None,
        capability_table: Some(
            table
                .into_iter()
                .enumerate()
                .map(|(i, c)| CapabilityTableEntry {
                    number: i as u16 + 1,
                    capability: Some(c),
                })
                .collect(),
        ),
        capability_descriptors: Some(vec![CapabilityDescriptor {
            number: 0,
            simultaneous_capabilities: Some(vec![vec![1, 2, 3, 4], vec![5, 6, 7], vec![8, 9]]),
        }]),
    }
}

pub fn olc_audio() -> OpenLogicalChannel {
    OpenLogicalChannel {
        forward_logical_channel_number: 1,
        forward: ForwardLogicalChannelParameters {
            port_number: None,
            data_type: DataType::Audio(AudioCapability::Framed(FramedAudio::G711Ulaw64k, 20)),
            h2250: Some(H2250LogicalChannelParameters {
                session_id: 1,
                media_control_channel: Some(addr("127.0.0.1:30001")),
                silence_suppression: Some(false),
                ..Default::default()
            }),
        },
        reverse: None,
    }
}

pub fn olc_video_reverse() -> OpenLogicalChannel {
    OpenLogicalChannel {
        forward_logical_channel_number: 2,
        forward: ForwardLogicalChannelParameters {
            port_number: Some(0),
            data_type: DataType::Video(VideoCapability::Generic(GenericCapability::h264(
                64, 29, 3840,
            ))),
            h2250: Some(H2250LogicalChannelParameters {
                session_id: 2,
                media_channel: Some(addr("127.0.0.1:30002")),
                media_control_channel: Some(addr("127.0.0.1:30003")),
                dynamic_rtp_payload_type: Some(97),
                ..Default::default()
            }),
        },
        reverse: Some(ReverseLogicalChannelParameters {
            data_type: DataType::Video(VideoCapability::Generic(GenericCapability::h264(
                64, 29, 3840,
            ))),
            h2250: Some(H2250LogicalChannelParameters {
                session_id: 2,
                media_channel: Some(addr("127.0.0.1:30004")),
                media_control_channel: Some(addr("127.0.0.1:30005")),
                dynamic_rtp_payload_type: Some(97),
                ..Default::default()
            }),
        }),
    }
}

pub fn h245_samples() -> Vec<(&'static str, H245Message)> {
    use H245Message as M;
    vec![
        ("tcs", M::TerminalCapabilitySet(tcs())),
        (
            "tcs_empty",
            M::TerminalCapabilitySet(TerminalCapabilitySet {
                sequence_number: 2,
                protocol_identifier: H245_PROTOCOL_V7.to_vec(),
                multiplex_capability: None,
                capability_table: None,
                capability_descriptors: None,
            }),
        ),
        ("tcs_ack", M::TerminalCapabilitySetAck(1)),
        (
            "tcs_reject",
            M::TerminalCapabilitySetReject {
                sequence_number: 1,
                cause: TcsRejectCause::TableEntryCapacityExceeded(Some(4)),
            },
        ),
        (
            "msd",
            M::MasterSlaveDetermination {
                terminal_type: 190,
                status_determination_number: 0x123456,
            },
        ),
        (
            "msd_ack",
            M::MasterSlaveDeterminationAck(MsdDecision::Slave),
        ),
        ("msd_reject", M::MasterSlaveDeterminationReject),
        ("olc_audio", M::OpenLogicalChannel(olc_audio())),
        ("olc_video", M::OpenLogicalChannel(olc_video_reverse())),
        (
            "olc_ack",
            M::OpenLogicalChannelAck(OpenLogicalChannelAck {
                forward_logical_channel_number: 1,
                reverse: None,
                h2250_ack: Some(H2250LogicalChannelAckParameters {
                    session_id: Some(1),
                    media_channel: Some(addr("127.0.0.1:40000")),
                    media_control_channel: Some(addr("127.0.0.1:40001")),
                    dynamic_rtp_payload_type: None,
                    flow_control_to_zero: false,
                }),
            }),
        ),
        (
            "olc_reject",
            M::OpenLogicalChannelReject {
                forward_logical_channel_number: 2,
                cause: OlcRejectCause::DataTypeNotSupported,
            },
        ),
        (
            "clc",
            M::CloseLogicalChannel {
                forward_logical_channel_number: 1,
                source_user: true,
                reason: Some(CloseReason::Unknown),
            },
        ),
        ("clc_ack", M::CloseLogicalChannelAck(1)),
        (
            "rcc",
            M::RequestChannelClose {
                forward_logical_channel_number: 2,
                reason: Some(RequestCloseReason::Normal),
            },
        ),
        ("rcc_ack", M::RequestChannelCloseAck(2)),
        ("rtd_req", M::RoundTripDelayRequest(7)),
        ("rtd_rsp", M::RoundTripDelayResponse(7)),
        (
            "uii_alnum",
            M::UserInput(UserInputIndication::Alphanumeric("5".into())),
        ),
        (
            "uii_signal",
            M::UserInput(UserInputIndication::Signal {
                signal_type: '#',
                duration: Some(250),
                rtp: None,
            }),
        ),
        (
            "vfu",
            M::MiscellaneousCommand(MiscellaneousCommand {
                logical_channel_number: 2,
                command: MiscCommandType::VideoFastUpdatePicture,
            }),
        ),
        (
            "flow_control",
            M::FlowControlCommand(FlowControlCommand {
                scope: FlowControlScope::LogicalChannel(2),
                maximum_bit_rate: Some(5120),
            }),
        ),
        (
            "end_session",
            M::EndSessionCommand(EndSessionCommand::Disconnect),
        ),
    ]
}

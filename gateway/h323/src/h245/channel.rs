//! H.245 logical channels: the TransportAddress of media, the H.225.0
//! parameters of a channel (session, addresses, RTP payload type and
//! packetization), OpenLogicalChannel and its acknowledgement, and the
//! causes and reasons of refusing or closing one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::*;

/// H.245 TransportAddress (mediaChannel, mediaControlChannel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum H245Address {
    Unicast(SocketAddr),
    Multicast(SocketAddr),
    /// IPX, NetBIOS, source route, NSAP or non-standard: walked, not kept.
    Unsupported,
}

fn ip_tsap(d: &mut Decoder<'_>, v6: bool) -> Result<SocketAddr> {
    simple_seq(d, |d| {
        let ip: IpAddr = if v6 {
            Ipv6Addr::from(d.octets::<16>()?).into()
        } else {
            Ipv4Addr::from(d.octets::<4>()?).into()
        };
        let port = d.constrained(0, 65535)? as u16;
        Ok(SocketAddr::new(ip, port))
    })
}

impl PerType for H245Address {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        match d.choice_index(2, false)? {
            Index::Root(0) => d.field("unicastAddress", |d| {
                Ok(match d.choice_index(5, true)? {
                    Index::Root(0) => {
                        H245Address::Unicast(d.field("iPAddress", |d| ip_tsap(d, false))?)
                    }
                    Index::Root(1) => {
                        simple_seq(d, |d| {
                            d.octets::<6>()?;
                            d.octets::<4>()?;
                            d.octets::<2>()
                        })?;
                        H245Address::Unsupported
                    }
                    Index::Root(2) => {
                        H245Address::Unicast(d.field("iP6Address", |d| ip_tsap(d, true))?)
                    }
                    Index::Root(3) => {
                        d.octets::<16>()?;
                        H245Address::Unsupported
                    }
                    Index::Root(_) => {
                        simple_seq(d, |d| {
                            d.choice_index(2, false)?;
                            d.octets::<4>()?;
                            d.constrained(0, 65535)?;
                            d.sequence_of(Size::unbounded(), |d| d.octets::<4>())
                        })?;
                        H245Address::Unsupported
                    }
                    Index::Ext(_) => {
                        d.skip_open_type()?;
                        H245Address::Unsupported
                    }
                })
            }),
            _ => d.field("multicastAddress", |d| {
                Ok(match d.choice_index(2, true)? {
                    Index::Root(0) => H245Address::Multicast(ip_tsap(d, false)?),
                    Index::Root(_) => H245Address::Multicast(ip_tsap(d, true)?),
                    Index::Ext(_) => {
                        d.skip_open_type()?;
                        H245Address::Unsupported
                    }
                })
            }),
        }
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let (outer, a, root) = match self {
            H245Address::Unicast(a) => (0, a, 5),
            H245Address::Multicast(a) => (1, a, 2),
            H245Address::Unsupported => return Err(not_modelled(e, "address not kept")),
        };
        e.choice_index(Index::Root(outer), 2, false)?;
        match a.ip() {
            IpAddr::V4(ip) => {
                e.choice_index(Index::Root(0), root, true)?;
                e.preamble(true, false, &[]);
                e.octet_string(&ip.octets(), Size::fixed(4))?;
            }
            IpAddr::V6(ip) => {
                e.choice_index(Index::Root(if outer == 0 { 2 } else { 1 }), root, true)?;
                e.preamble(true, false, &[]);
                e.octet_string(&ip.octets(), Size::fixed(16))?;
            }
        }
        e.constrained(a.port() as i64, 0, 65535)
    }
}

/// H2250LogicalChannelParameters
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct H2250LogicalChannelParameters {
    pub session_id: u8,
    pub associated_session_id: Option<u8>,
    pub media_channel: Option<H245Address>,
    pub media_guaranteed_delivery: Option<bool>,
    pub media_control_channel: Option<H245Address>,
    pub media_control_guaranteed_delivery: Option<bool>,
    pub silence_suppression: Option<bool>,
    /// TerminalLabel (mcuNumber, terminalNumber).
    pub destination: Option<(u8, u8)>,
    pub dynamic_rtp_payload_type: Option<u8>,
    pub media_packetization: Option<MediaPacketization>,
}

/// How a channel's media is put in RTP (H2250LogicalChannelParameters
/// mediaPacketization). H.241 names H.264's RFC 6184 packetization mode
/// with an `oid` descriptor (see `video::H264_PACKETIZATION_OIDS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaPacketization {
    H261aVideoPacketization,
    RtpPayloadType(RtpPayloadType),
    Other { ext_index: u64, encoded: Vec<u8> },
}

/// RTPPayloadType: which payload format, and optionally its payload type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPayloadType {
    pub descriptor: PayloadDescriptor,
    pub payload_type: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadDescriptor {
    NonStandard(NonStandardParameter),
    /// The RFC defining the payload format (2190 for H.263, ...).
    RfcNumber(u32),
    Oid(Vec<u64>),
    Other {
        ext_index: u64,
        encoded: Vec<u8>,
    },
}

impl PerType for RtpPayloadType {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 1)?;
        let descriptor = d.field("payloadDescriptor", |d| {
            Ok(match d.choice_index(3, true)? {
                Index::Root(0) => PayloadDescriptor::NonStandard(ns_decode(d)?),
                Index::Root(1) => {
                    let n = d.constrained_ext(1, 32768)?;
                    PayloadDescriptor::RfcNumber(
                        u32::try_from(n)
                            .map_err(|_| d.err(PerErrorKind::Invalid("rfc-number out of range")))?,
                    )
                }
                Index::Root(_) => PayloadDescriptor::Oid(d.object_identifier()?),
                Index::Ext(x) => PayloadDescriptor::Other {
                    ext_index: x,
                    encoded: d.skip_open_type()?,
                },
            })
        })?;
        let payload_type = pre
            .has(0)
            .then(|| d.field("payloadType", |d| d.constrained(0, 127)))
            .transpose()?
            .map(|v| v as u8);
        skip_ext(d, pre.extended)?;
        Ok(RtpPayloadType {
            descriptor,
            payload_type,
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(true, false, &[self.payload_type.is_some()]);
        match &self.descriptor {
            PayloadDescriptor::NonStandard(n) => {
                e.choice_index(Index::Root(0), 3, true)?;
                ns_encode(e, n)?;
            }
            PayloadDescriptor::RfcNumber(n) => {
                e.choice_index(Index::Root(1), 3, true)?;
                e.constrained_ext(*n as i64, 1, 32768)?;
            }
            PayloadDescriptor::Oid(o) => {
                e.choice_index(Index::Root(2), 3, true)?;
                e.object_identifier(o)?;
            }
            PayloadDescriptor::Other { ext_index, encoded } => {
                e.choice_index(Index::Ext(*ext_index), 3, true)?;
                e.open_type_bytes(encoded)?;
            }
        }
        if let Some(pt) = self.payload_type {
            e.field("payloadType", |e| e.constrained(pt as i64, 0, 127))?;
        }
        Ok(())
    }
}

impl PerType for MediaPacketization {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(match d.choice_index(1, true)? {
            Index::Root(_) => MediaPacketization::H261aVideoPacketization,
            Index::Ext(0) => MediaPacketization::RtpPayloadType(
                d.field("rtpPayloadType", |d| d.open_type(RtpPayloadType::decode))?,
            ),
            Index::Ext(x) => MediaPacketization::Other {
                ext_index: x,
                encoded: d.skip_open_type()?,
            },
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        match self {
            MediaPacketization::H261aVideoPacketization => e.choice_index(Index::Root(0), 1, true),
            MediaPacketization::RtpPayloadType(r) => {
                e.choice_index(Index::Ext(0), 1, true)?;
                e.field("rtpPayloadType", |e| e.open_type(|e| r.encode(e)))
            }
            MediaPacketization::Other { ext_index, encoded } => {
                e.choice_index(Index::Ext(*ext_index), 1, true)?;
                e.open_type_bytes(encoded)
            }
        }
    }
}

fn terminal_label(d: &mut Decoder<'_>) -> Result<(u8, u8)> {
    simple_seq(d, |d| {
        Ok((d.constrained(0, 192)? as u8, d.constrained(0, 192)? as u8))
    })
}

impl PerType for H2250LogicalChannelParameters {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 10)?;
        if pre.has(0) {
            d.field("nonStandard", |d| {
                d.sequence_of(Size::unbounded(), ns_decode)
            })?;
        }
        let mut m = H2250LogicalChannelParameters {
            session_id: d.field("sessionID", |d| d.constrained(0, 255))? as u8,
            ..Default::default()
        };
        if pre.has(1) {
            m.associated_session_id =
                Some(d.field("associatedSessionID", |d| d.constrained(1, 255))? as u8);
        }
        if pre.has(2) {
            m.media_channel = Some(d.field("mediaChannel", H245Address::decode)?);
        }
        if pre.has(3) {
            m.media_guaranteed_delivery = Some(d.bool()?);
        }
        if pre.has(4) {
            m.media_control_channel = Some(d.field("mediaControlChannel", H245Address::decode)?);
        }
        if pre.has(5) {
            m.media_control_guaranteed_delivery = Some(d.bool()?);
        }
        if pre.has(6) {
            m.silence_suppression = Some(d.bool()?);
        }
        if pre.has(7) {
            m.destination = Some(d.field("destination", terminal_label)?);
        }
        if pre.has(8) {
            m.dynamic_rtp_payload_type =
                Some(d.field("dynamicRTPPayloadType", |d| d.constrained(96, 127))? as u8);
        }
        if pre.has(9) {
            m.media_packetization =
                Some(d.field("mediaPacketization", MediaPacketization::decode)?);
        }
        skip_ext(d, pre.extended)?;
        Ok(m)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(
            true,
            false,
            &[
                false,
                self.associated_session_id.is_some(),
                self.media_channel.is_some(),
                self.media_guaranteed_delivery.is_some(),
                self.media_control_channel.is_some(),
                self.media_control_guaranteed_delivery.is_some(),
                self.silence_suppression.is_some(),
                self.destination.is_some(),
                self.dynamic_rtp_payload_type.is_some(),
                self.media_packetization.is_some(),
            ],
        );
        e.field("sessionID", |e| {
            e.constrained(self.session_id as i64, 0, 255)
        })?;
        if let Some(v) = self.associated_session_id {
            e.constrained(v as i64, 1, 255)?;
        }
        if let Some(a) = &self.media_channel {
            e.field("mediaChannel", |e| a.encode(e))?;
        }
        if let Some(b) = self.media_guaranteed_delivery {
            e.bool(b);
        }
        if let Some(a) = &self.media_control_channel {
            e.field("mediaControlChannel", |e| a.encode(e))?;
        }
        if let Some(b) = self.media_control_guaranteed_delivery {
            e.bool(b);
        }
        if let Some(b) = self.silence_suppression {
            e.bool(b);
        }
        if let Some((m, t)) = self.destination {
            e.preamble(true, false, &[]);
            e.constrained(m as i64, 0, 192)?;
            e.constrained(t as i64, 0, 192)?;
        }
        if let Some(v) = self.dynamic_rtp_payload_type {
            e.field("dynamicRTPPayloadType", |e| {
                e.constrained(v as i64, 96, 127)
            })?;
        }
        if let Some(p) = &self.media_packetization {
            e.field("mediaPacketization", |e| p.encode(e))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataType {
    NonStandard(NonStandardParameter),
    NullData,
    Video(VideoCapability),
    Audio(AudioCapability),
    /// data / encryptionData: walked, not kept.
    SkippedRoot(u64),
    Other {
        ext_index: u64,
        encoded: Vec<u8>,
    },
}

impl PerType for DataType {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(match d.choice_index(6, true)? {
            Index::Root(0) => DataType::NonStandard(d.field("nonStandard", ns_decode)?),
            Index::Root(1) => DataType::NullData,
            Index::Root(2) => DataType::Video(d.field("videoData", VideoCapability::decode)?),
            Index::Root(3) => DataType::Audio(d.field("audioData", AudioCapability::decode)?),
            Index::Root(4) => {
                d.field("data", skip_data_application)?;
                DataType::SkippedRoot(4)
            }
            Index::Root(_) => {
                d.field("encryptionData", |d| match d.choice_index(2, true)? {
                    Index::Root(0) => ns_decode(d).map(|_| ()),
                    Index::Root(_) => Ok(()),
                    Index::Ext(_) => d.skip_open_type().map(|_| ()),
                })?;
                DataType::SkippedRoot(5)
            }
            Index::Ext(x) => DataType::Other {
                ext_index: x,
                encoded: d.skip_open_type()?,
            },
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        match self {
            DataType::NonStandard(n) => {
                e.choice_index(Index::Root(0), 6, true)?;
                ns_encode(e, n)
            }
            DataType::NullData => e.choice_index(Index::Root(1), 6, true),
            DataType::Video(v) => {
                e.choice_index(Index::Root(2), 6, true)?;
                e.field("videoData", |e| v.encode(e))
            }
            DataType::Audio(a) => {
                e.choice_index(Index::Root(3), 6, true)?;
                e.field("audioData", |e| a.encode(e))
            }
            DataType::SkippedRoot(_) => Err(not_modelled(e, "data type not kept")),
            DataType::Other { ext_index, encoded } => {
                e.choice_index(Index::Ext(*ext_index), 6, true)?;
                e.open_type_bytes(encoded)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardLogicalChannelParameters {
    pub port_number: Option<u16>,
    pub data_type: DataType,
    /// h2250LogicalChannelParameters; None for the `none` alternative.
    pub h2250: Option<H2250LogicalChannelParameters>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReverseLogicalChannelParameters {
    pub data_type: DataType,
    pub h2250: Option<H2250LogicalChannelParameters>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenLogicalChannel {
    pub forward_logical_channel_number: u16,
    pub forward: ForwardLogicalChannelParameters,
    pub reverse: Option<ReverseLogicalChannelParameters>,
}

const MUX_ROOT_REFUSED: &str = "H.222/H.223/V.76 multiplex parameters not supported";

fn h2250_ext(d: &mut Decoder<'_>) -> Result<H2250LogicalChannelParameters> {
    d.field("h2250LogicalChannelParameters", |d| {
        d.open_type(H2250LogicalChannelParameters::decode)
    })
}

impl OpenLogicalChannel {
    /// Decodes one OpenLogicalChannel on its own (a Fast Start proposal).
    pub fn decode_fast_start(data: &[u8]) -> Result<Self> {
        let mut d = Decoder::with_root(data, "OpenLogicalChannel");
        Self::decode(&mut d)
    }

    /// Encodes it on its own (for fastStart).
    pub fn encode_fast_start(&self) -> Result<Vec<u8>> {
        crate::per::encode_with("OpenLogicalChannel", |e| self.encode(e))
    }
}

impl PerType for OpenLogicalChannel {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 1)?;
        let forward_logical_channel_number = lcn(d)?;
        let forward = d.field("forwardLogicalChannelParameters", |d| {
            let pre = d.preamble(true, 1)?;
            let port_number = pre
                .has(0)
                .then(|| d.field("portNumber", |d| d.constrained(0, 65535)))
                .transpose()?
                .map(|p| p as u16);
            let data_type = d.field("dataType", DataType::decode)?;
            let h2250 = d.field("multiplexParameters", |d| {
                match d.choice_index(3, true)? {
                    Index::Ext(0) => h2250_ext(d).map(Some),
                    Index::Ext(_) => d.skip_open_type().map(|_| None),
                    Index::Root(_) => Err(d.err(PerErrorKind::Invalid(MUX_ROOT_REFUSED))),
                }
            })?;
            skip_ext(d, pre.extended)?;
            Ok(ForwardLogicalChannelParameters {
                port_number,
                data_type,
                h2250,
            })
        })?;
        let reverse = if pre.has(0) {
            Some(d.field("reverseLogicalChannelParameters", |d| {
                let pre = d.preamble(true, 1)?;
                let data_type = d.field("dataType", DataType::decode)?;
                let h2250 = if pre.has(0) {
                    d.field("multiplexParameters", |d| {
                        match d.choice_index(2, true)? {
                            Index::Ext(0) => h2250_ext(d).map(Some),
                            Index::Ext(_) => d.skip_open_type().map(|_| None),
                            Index::Root(_) => Err(d.err(PerErrorKind::Invalid(MUX_ROOT_REFUSED))),
                        }
                    })?
                } else {
                    None
                };
                skip_ext(d, pre.extended)?;
                Ok(ReverseLogicalChannelParameters { data_type, h2250 })
            })?)
        } else {
            None
        };
        skip_ext(d, pre.extended)?;
        Ok(OpenLogicalChannel {
            forward_logical_channel_number,
            forward,
            reverse,
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(true, false, &[self.reverse.is_some()]);
        put_lcn(e, self.forward_logical_channel_number)?;
        let f = &self.forward;
        e.field("forwardLogicalChannelParameters", |e| {
            e.preamble(true, false, &[f.port_number.is_some()]);
            if let Some(p) = f.port_number {
                e.constrained(p as i64, 0, 65535)?;
            }
            e.field("dataType", |e| f.data_type.encode(e))?;
            match &f.h2250 {
                Some(h) => {
                    e.choice_index(Index::Ext(0), 3, true)?;
                    e.field("h2250LogicalChannelParameters", |e| {
                        e.open_type(|e| h.encode(e))
                    })
                }
                None => {
                    e.choice_index(Index::Ext(1), 3, true)?;
                    e.open_type_bytes(&[0])
                }
            }
        })?;
        if let Some(r) = &self.reverse {
            e.field("reverseLogicalChannelParameters", |e| {
                e.preamble(true, false, &[r.h2250.is_some()]);
                e.field("dataType", |e| r.data_type.encode(e))?;
                if let Some(h) = &r.h2250 {
                    e.choice_index(Index::Ext(0), 2, true)?;
                    e.field("h2250LogicalChannelParameters", |e| {
                        e.open_type(|e| h.encode(e))
                    })?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }
}

/// H2250LogicalChannelAckParameters
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct H2250LogicalChannelAckParameters {
    pub session_id: Option<u8>,
    pub media_channel: Option<H245Address>,
    pub media_control_channel: Option<H245Address>,
    pub dynamic_rtp_payload_type: Option<u8>,
    pub flow_control_to_zero: bool,
}

impl PerType for H2250LogicalChannelAckParameters {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 5)?;
        if pre.has(0) {
            d.field("nonStandard", |d| {
                d.sequence_of(Size::unbounded(), ns_decode)
            })?;
        }
        let mut m = H2250LogicalChannelAckParameters::default();
        if pre.has(1) {
            m.session_id = Some(d.field("sessionID", |d| d.constrained(1, 255))? as u8);
        }
        if pre.has(2) {
            m.media_channel = Some(d.field("mediaChannel", H245Address::decode)?);
        }
        if pre.has(3) {
            m.media_control_channel = Some(d.field("mediaControlChannel", H245Address::decode)?);
        }
        if pre.has(4) {
            m.dynamic_rtp_payload_type =
                Some(d.field("dynamicRTPPayloadType", |d| d.constrained(96, 127))? as u8);
        }
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => {
                    m.flow_control_to_zero =
                        d.field("flowControlToZero", |d| d.open_type(|d| d.bool()))?
                }
                _ => {
                    d.skip_open_type()?;
                }
            }
        }
        Ok(m)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let adds = vec![self.flow_control_to_zero.then(|| vec![0x80]), None, None];
        e.preamble(
            true,
            any_ext(&adds),
            &[
                false,
                self.session_id.is_some(),
                self.media_channel.is_some(),
                self.media_control_channel.is_some(),
                self.dynamic_rtp_payload_type.is_some(),
            ],
        );
        if let Some(s) = self.session_id {
            e.constrained(s as i64, 1, 255)?;
        }
        if let Some(a) = &self.media_channel {
            e.field("mediaChannel", |e| a.encode(e))?;
        }
        if let Some(a) = &self.media_control_channel {
            e.field("mediaControlChannel", |e| a.encode(e))?;
        }
        if let Some(v) = self.dynamic_rtp_payload_type {
            e.constrained(v as i64, 96, 127)?;
        }
        e.extensions(&adds)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OlcAckReverse {
    pub reverse_logical_channel_number: u16,
    pub port_number: Option<u16>,
    pub h2250: Option<H2250LogicalChannelParameters>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenLogicalChannelAck {
    pub forward_logical_channel_number: u16,
    pub reverse: Option<OlcAckReverse>,
    /// forwardMultiplexAckParameters: where to send the media.
    pub h2250_ack: Option<H2250LogicalChannelAckParameters>,
}

impl PerType for OpenLogicalChannelAck {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 1)?;
        let forward_logical_channel_number = lcn(d)?;
        let reverse = if pre.has(0) {
            Some(d.field("reverseLogicalChannelParameters", |d| {
                let pre = d.preamble(true, 2)?;
                let n = d.field("reverseLogicalChannelNumber", entry_number)?;
                let port_number = pre
                    .has(0)
                    .then(|| d.constrained(0, 65535))
                    .transpose()?
                    .map(|p| p as u16);
                let h2250 = if pre.has(1) {
                    d.field("multiplexParameters", |d| {
                        match d.choice_index(1, true)? {
                            Index::Ext(0) => h2250_ext(d).map(Some),
                            Index::Ext(_) => d.skip_open_type().map(|_| None),
                            Index::Root(_) => Err(d.err(PerErrorKind::Invalid(MUX_ROOT_REFUSED))),
                        }
                    })?
                } else {
                    None
                };
                skip_ext(d, pre.extended)?;
                Ok(OlcAckReverse {
                    reverse_logical_channel_number: n,
                    port_number,
                    h2250,
                })
            })?)
        } else {
            None
        };
        let mut h2250_ack = None;
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                1 => {
                    h2250_ack = d.field("forwardMultiplexAckParameters", |d| {
                        d.open_type(|d| match d.choice_index(1, true)? {
                            Index::Root(_) => d
                                .field(
                                    "h2250LogicalChannelAckParameters",
                                    H2250LogicalChannelAckParameters::decode,
                                )
                                .map(Some),
                            Index::Ext(_) => d.skip_open_type().map(|_| None),
                        })
                    })?
                }
                _ => {
                    d.skip_open_type()?;
                }
            }
        }
        Ok(OpenLogicalChannelAck {
            forward_logical_channel_number,
            reverse,
            h2250_ack,
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let ack = match &self.h2250_ack {
            Some(a) => Some(e.field("forwardMultiplexAckParameters", |e| {
                e.sub(|e| {
                    e.choice_index(Index::Root(0), 1, true)?;
                    a.encode(e)
                })
            })?),
            None => None,
        };
        let adds = vec![None, ack, None, None];
        e.preamble(true, any_ext(&adds), &[self.reverse.is_some()]);
        put_lcn(e, self.forward_logical_channel_number)?;
        if let Some(r) = &self.reverse {
            e.field("reverseLogicalChannelParameters", |e| {
                e.preamble(true, false, &[r.port_number.is_some(), r.h2250.is_some()]);
                e.constrained(r.reverse_logical_channel_number as i64, 1, 65535)?;
                if let Some(p) = r.port_number {
                    e.constrained(p as i64, 0, 65535)?;
                }
                if let Some(h) = &r.h2250 {
                    e.choice_index(Index::Ext(0), 1, true)?;
                    e.field("h2250LogicalChannelParameters", |e| {
                        e.open_type(|e| h.encode(e))
                    })?;
                }
                Ok(())
            })?;
        }
        e.extensions(&adds)
    }
}

null_choice!(
    /// OpenLogicalChannelReject.cause
    OlcRejectCause {
        root: [
            Unspecified,
            UnsuitableReverseParameters,
            DataTypeNotSupported,
            DataTypeNotAvailable,
            UnknownDataType,
            DataTypeAlCombinationNotSupported,
        ],
        ext: [
            0 => MulticastChannelNotAllowed,
            1 => InsufficientBandwidth,
            2 => SeparateStackEstablishmentFailed,
            3 => InvalidSessionId,
            4 => MasterSlaveConflict,
            5 => WaitForCommunicationMode,
            6 => InvalidDependentChannel,
            7 => ReplacementForRejected,
            8 => SecurityDenied,
            9 => QosControlNotSupported,
        ]
    }
);

null_choice!(
    /// CloseLogicalChannel.reason (networkErrorCode comes back as Other)
    CloseReason {
        root: [Unknown, Reopen, ReservationFailure],
        ext: []
    }
);

null_choice!(
    /// RequestChannelClose.reason
    RequestCloseReason {
        root: [Unknown, Normal, Reopen, ReservationFailure],
        ext: []
    }
);

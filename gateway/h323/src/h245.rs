//! H.245 (MultimediaSystemControlMessage) core messages in aligned PER:
//! capability exchange, master/slave determination, logical channels,
//! round-trip delay, user input, fast update and flow control, end session.
//!
//! H.245's root alternatives carry no length, so a root alternative we do
//! not model can only be skipped when it is the whole PDU (reported as
//! `H245Message::Other` with the PDU's octets). Inside a message, root
//! alternatives are walked structurally (audio, video and data capability
//! shapes) and extension alternatives and additions skipped through their
//! open-type length. Recursive types (nested generic parameters) are
//! depth-bounded so no input can exhaust the stack.

use crate::h225::common::null_choice;
use crate::h225::{H221NonStandard, NonStandardIdentifier, NonStandardParameter, PerType};
use crate::per::{
    any_ext, Alphabet, Decoder, Encoder, Index, PerError, PerErrorKind, Result, Size,
};

mod channel;
pub mod video;

pub use channel::*;

/// H.245 version 7 protocol identifier (itu-t(0) recommendation(0) h(8) 245 version(0) 7).
pub const H245_PROTOCOL_V7: [u64; 6] = [0, 0, 8, 245, 0, 7];
/// genericVideoCapability identifier of H.264 (H.241).
pub const H264_CAPABILITY_OID: [u64; 7] = [0, 0, 8, 241, 0, 0, 1];
/// genericAudioCapability identifier of G.722.1 (ITU-T G.722.1 Annex A).
pub const G7221_CAPABILITY_OID: [u64; 6] = [0, 0, 7, 7221, 1, 0];
/// H.241 generic parameter identifiers of the H.264 capability.
pub const H264_PARAM_PROFILE: u8 = 41;
pub const H264_PARAM_LEVEL: u8 = 42;

/// How deep nested generic parameters may go.
const MAX_GENERIC_DEPTH: u32 = 4;

fn not_modelled(e: &Encoder, what: &'static str) -> PerError {
    e.err(PerErrorKind::Invalid(what))
}

fn lcn(d: &mut Decoder<'_>) -> Result<u16> {
    d.field("forwardLogicalChannelNumber", |d| {
        Ok(d.constrained(1, 65535)? as u16)
    })
}

fn put_lcn(e: &mut Encoder, v: u16) -> Result<()> {
    e.field("forwardLogicalChannelNumber", |e| {
        e.constrained(v as i64, 1, 65535)
    })
}

fn seq_number(d: &mut Decoder<'_>) -> Result<u8> {
    d.field("sequenceNumber", |d| Ok(d.constrained(0, 255)? as u8))
}

fn skip_ext(d: &mut Decoder<'_>, extended: bool) -> Result<()> {
    let ext = d.ext_bitmap(extended)?;
    d.skip_extensions(&ext)
}

/// An extensible SEQUENCE with only the given fields in its root.
fn simple_seq<T>(d: &mut Decoder<'_>, f: impl FnOnce(&mut Decoder<'_>) -> Result<T>) -> Result<T> {
    let pre = d.preamble(true, 0)?;
    let v = f(d)?;
    skip_ext(d, pre.extended)?;
    Ok(v)
}

// ------------------------------------------------------- non-standard

/// H.245's NonStandardParameter: unlike H.225.0's, its identifier CHOICE
/// and h221NonStandard SEQUENCE have no extension marker.
fn ns_decode(d: &mut Decoder<'_>) -> Result<NonStandardParameter> {
    let identifier = d.field("nonStandardIdentifier", |d| {
        Ok(match d.choice_index(2, false)? {
            Index::Root(0) => NonStandardIdentifier::Object(d.object_identifier()?),
            _ => NonStandardIdentifier::H221(H221NonStandard {
                t35_country_code: d.constrained(0, 255)? as u8,
                t35_extension: d.constrained(0, 255)? as u8,
                manufacturer_code: d.constrained(0, 65535)? as u16,
            }),
        })
    })?;
    let data = d.field("data", |d| d.octet_string(Size::unbounded()))?;
    Ok(NonStandardParameter { identifier, data })
}

fn ns_encode(e: &mut Encoder, n: &NonStandardParameter) -> Result<()> {
    match &n.identifier {
        NonStandardIdentifier::Object(o) => {
            e.choice_index(Index::Root(0), 2, false)?;
            e.object_identifier(o)?;
        }
        NonStandardIdentifier::H221(h) => {
            e.choice_index(Index::Root(1), 2, false)?;
            e.constrained(h.t35_country_code as i64, 0, 255)?;
            e.constrained(h.t35_extension as i64, 0, 255)?;
            e.constrained(h.manufacturer_code as i64, 0, 65535)?;
        }
        NonStandardIdentifier::Other { .. } => {
            return Err(not_modelled(
                e,
                "H.245 non-standard identifier has no extensions",
            ))
        }
    }
    e.octet_string(&n.data, Size::unbounded())
}

// ------------------------------------------------- generic capability

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapabilityIdentifier {
    Standard(Vec<u64>),
    H221NonStandard(NonStandardParameter),
    Uuid([u8; 16]),
    DomainBased(String),
    Other { ext_index: u64, encoded: Vec<u8> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterIdentifier {
    Standard(u8),
    H221NonStandard(NonStandardParameter),
    Uuid([u8; 16]),
    DomainBased(String),
    Other { ext_index: u64, encoded: Vec<u8> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterValue {
    Logical,
    BooleanArray(u8),
    UnsignedMin(u16),
    UnsignedMax(u16),
    Unsigned32Min(u32),
    Unsigned32Max(u32),
    OctetString(Vec<u8>),
    GenericParameter(Vec<GenericParameter>),
    Other { ext_index: u64, encoded: Vec<u8> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericParameter {
    pub id: ParameterIdentifier,
    pub value: ParameterValue,
    pub supersedes: Option<Vec<ParameterIdentifier>>,
}

impl GenericParameter {
    pub fn standard(id: u8, value: ParameterValue) -> Self {
        GenericParameter {
            id: ParameterIdentifier::Standard(id),
            value,
            supersedes: None,
        }
    }
}

/// GenericCapability (genericAudioCapability, genericVideoCapability, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericCapability {
    pub capability_identifier: CapabilityIdentifier,
    /// In units of 100 bit/s.
    pub max_bit_rate: Option<u32>,
    pub collapsing: Option<Vec<GenericParameter>>,
    pub non_collapsing: Option<Vec<GenericParameter>>,
    pub non_collapsing_raw: Option<Vec<u8>>,
    /// A transport (DataProtocolCapability) was present; not kept.
    pub has_transport: bool,
}

impl GenericCapability {
    /// H.264 (H.241): profile as the booleanArray of parameter 41, level as
    /// parameter 42 (e.g. 29 for level 1.2, 64 for 3, 71 for 3.1, 85 for 4;
    /// see [`video`]).
    pub fn h264(profile: u8, level: u16, max_bit_rate: u32) -> Self {
        GenericCapability {
            capability_identifier: CapabilityIdentifier::Standard(H264_CAPABILITY_OID.to_vec()),
            max_bit_rate: Some(max_bit_rate),
            collapsing: Some(vec![
                GenericParameter::standard(
                    H264_PARAM_PROFILE,
                    ParameterValue::BooleanArray(profile),
                ),
                GenericParameter::standard(H264_PARAM_LEVEL, ParameterValue::UnsignedMin(level)),
            ]),
            non_collapsing: None,
            non_collapsing_raw: None,
            has_transport: false,
        }
    }

    /// A standard collapsing parameter's value, when present.
    pub fn collapsing_param(&self, id: u8) -> Option<&ParameterValue> {
        self.collapsing
            .iter()
            .flatten()
            .find(|p| p.id == ParameterIdentifier::Standard(id))
            .map(|p| &p.value)
    }

    pub fn is(&self, oid: &[u64]) -> bool {
        matches!(&self.capability_identifier, CapabilityIdentifier::Standard(o) if o == oid)
    }
}

fn domain(d: &mut Decoder<'_>) -> Result<String> {
    d.char_string(Alphabet::Ia5, Size::range(1, 64))
}

impl PerType for CapabilityIdentifier {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(match d.choice_index(4, true)? {
            Index::Root(0) => CapabilityIdentifier::Standard(d.object_identifier()?),
            Index::Root(1) => CapabilityIdentifier::H221NonStandard(ns_decode(d)?),
            Index::Root(2) => CapabilityIdentifier::Uuid(d.octets()?),
            Index::Root(_) => CapabilityIdentifier::DomainBased(domain(d)?),
            Index::Ext(x) => CapabilityIdentifier::Other {
                ext_index: x,
                encoded: d.skip_open_type()?,
            },
        })
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        match self {
            CapabilityIdentifier::Standard(o) => {
                e.choice_index(Index::Root(0), 4, true)?;
                e.object_identifier(o)
            }
            CapabilityIdentifier::H221NonStandard(n) => {
                e.choice_index(Index::Root(1), 4, true)?;
                ns_encode(e, n)
            }
            CapabilityIdentifier::Uuid(u) => {
                e.choice_index(Index::Root(2), 4, true)?;
                e.octet_string(u, Size::fixed(16))
            }
            CapabilityIdentifier::DomainBased(s) => {
                e.choice_index(Index::Root(3), 4, true)?;
                e.char_string(s, Alphabet::Ia5, Size::range(1, 64))
            }
            CapabilityIdentifier::Other { ext_index, encoded } => {
                e.choice_index(Index::Ext(*ext_index), 4, true)?;
                e.open_type_bytes(encoded)
            }
        }
    }
}

impl PerType for ParameterIdentifier {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(match d.choice_index(4, true)? {
            Index::Root(0) => ParameterIdentifier::Standard(d.constrained(0, 127)? as u8),
            Index::Root(1) => ParameterIdentifier::H221NonStandard(ns_decode(d)?),
            Index::Root(2) => ParameterIdentifier::Uuid(d.octets()?),
            Index::Root(_) => ParameterIdentifier::DomainBased(domain(d)?),
            Index::Ext(x) => ParameterIdentifier::Other {
                ext_index: x,
                encoded: d.skip_open_type()?,
            },
        })
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        match self {
            ParameterIdentifier::Standard(v) => {
                e.choice_index(Index::Root(0), 4, true)?;
                e.constrained(*v as i64, 0, 127)
            }
            ParameterIdentifier::H221NonStandard(n) => {
                e.choice_index(Index::Root(1), 4, true)?;
                ns_encode(e, n)
            }
            ParameterIdentifier::Uuid(u) => {
                e.choice_index(Index::Root(2), 4, true)?;
                e.octet_string(u, Size::fixed(16))
            }
            ParameterIdentifier::DomainBased(s) => {
                e.choice_index(Index::Root(3), 4, true)?;
                e.char_string(s, Alphabet::Ia5, Size::range(1, 64))
            }
            ParameterIdentifier::Other { ext_index, encoded } => {
                e.choice_index(Index::Ext(*ext_index), 4, true)?;
                e.open_type_bytes(encoded)
            }
        }
    }
}

fn decode_param(d: &mut Decoder<'_>, depth: u32) -> Result<GenericParameter> {
    let pre = d.preamble(true, 1)?;
    let id = d.field("parameterIdentifier", ParameterIdentifier::decode)?;
    let value = d.field("parameterValue", |d| {
        Ok(match d.choice_index(8, true)? {
            Index::Root(0) => ParameterValue::Logical,
            Index::Root(1) => ParameterValue::BooleanArray(d.constrained(0, 255)? as u8),
            Index::Root(2) => ParameterValue::UnsignedMin(d.constrained(0, 65535)? as u16),
            Index::Root(3) => ParameterValue::UnsignedMax(d.constrained(0, 65535)? as u16),
            Index::Root(4) => ParameterValue::Unsigned32Min(d.constrained(0, 4294967295)? as u32),
            Index::Root(5) => ParameterValue::Unsigned32Max(d.constrained(0, 4294967295)? as u32),
            Index::Root(6) => ParameterValue::OctetString(d.octet_string(Size::unbounded())?),
            Index::Root(_) => {
                if depth >= MAX_GENERIC_DEPTH {
                    return Err(d.err(PerErrorKind::Invalid("generic parameters nested too deep")));
                }
                ParameterValue::GenericParameter(
                    d.sequence_of(Size::unbounded(), |d| decode_param(d, depth + 1))?,
                )
            }
            Index::Ext(x) => ParameterValue::Other {
                ext_index: x,
                encoded: d.skip_open_type()?,
            },
        })
    })?;
    let supersedes = if pre.has(0) {
        Some(d.field("supersedes", |d| {
            d.sequence_of(Size::unbounded(), ParameterIdentifier::decode)
        })?)
    } else {
        None
    };
    skip_ext(d, pre.extended)?;
    Ok(GenericParameter {
        id,
        value,
        supersedes,
    })
}

fn encode_param(e: &mut Encoder, p: &GenericParameter) -> Result<()> {
    e.preamble(true, false, &[p.supersedes.is_some()]);
    p.id.encode(e)?;
    let (i, ext) = match &p.value {
        ParameterValue::Logical => (0, false),
        ParameterValue::BooleanArray(_) => (1, false),
        ParameterValue::UnsignedMin(_) => (2, false),
        ParameterValue::UnsignedMax(_) => (3, false),
        ParameterValue::Unsigned32Min(_) => (4, false),
        ParameterValue::Unsigned32Max(_) => (5, false),
        ParameterValue::OctetString(_) => (6, false),
        ParameterValue::GenericParameter(_) => (7, false),
        ParameterValue::Other { ext_index, .. } => (*ext_index, true),
    };
    e.choice_index(if ext { Index::Ext(i) } else { Index::Root(i) }, 8, true)?;
    match &p.value {
        ParameterValue::Logical => {}
        ParameterValue::BooleanArray(v) => e.constrained(*v as i64, 0, 255)?,
        ParameterValue::UnsignedMin(v) | ParameterValue::UnsignedMax(v) => {
            e.constrained(*v as i64, 0, 65535)?
        }
        ParameterValue::Unsigned32Min(v) | ParameterValue::Unsigned32Max(v) => {
            e.constrained(*v as i64, 0, 4294967295)?
        }
        ParameterValue::OctetString(v) => e.octet_string(v, Size::unbounded())?,
        ParameterValue::GenericParameter(v) => e.sequence_of(v, Size::unbounded(), encode_param)?,
        ParameterValue::Other { encoded, .. } => e.open_type_bytes(encoded)?,
    }
    if let Some(s) = &p.supersedes {
        e.sequence_of(s, Size::unbounded(), |e, x| x.encode(e))?;
    }
    Ok(())
}

/// DataProtocolCapability: decoded only to get past it.
fn skip_data_protocol(d: &mut Decoder<'_>) -> Result<()> {
    match d.choice_index(7, true)? {
        Index::Root(0) => {
            ns_decode(d)?;
        }
        Index::Root(_) => {}
        Index::Ext(_) => {
            d.skip_open_type()?;
        }
    }
    Ok(())
}

impl PerType for GenericCapability {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 5)?;
        let capability_identifier =
            d.field("capabilityIdentifier", CapabilityIdentifier::decode)?;
        let max_bit_rate = if pre.has(0) {
            Some(d.field("maxBitRate", |d| d.constrained(0, 4294967295))? as u32)
        } else {
            None
        };
        let params = |d: &mut Decoder<'_>| d.sequence_of(Size::unbounded(), |d| decode_param(d, 0));
        let collapsing = if pre.has(1) {
            Some(d.field("collapsing", params)?)
        } else {
            None
        };
        let non_collapsing = if pre.has(2) {
            Some(d.field("nonCollapsing", params)?)
        } else {
            None
        };
        let non_collapsing_raw = if pre.has(3) {
            Some(d.field("nonCollapsingRaw", |d| d.octet_string(Size::unbounded()))?)
        } else {
            None
        };
        if pre.has(4) {
            d.field("transport", skip_data_protocol)?;
        }
        skip_ext(d, pre.extended)?;
        Ok(GenericCapability {
            capability_identifier,
            max_bit_rate,
            collapsing,
            non_collapsing,
            non_collapsing_raw,
            has_transport: pre.has(4),
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        if self.has_transport {
            return Err(not_modelled(e, "generic capability transport not kept"));
        }
        e.preamble(
            true,
            false,
            &[
                self.max_bit_rate.is_some(),
                self.collapsing.is_some(),
                self.non_collapsing.is_some(),
                self.non_collapsing_raw.is_some(),
                false,
            ],
        );
        e.field("capabilityIdentifier", |e| {
            self.capability_identifier.encode(e)
        })?;
        if let Some(v) = self.max_bit_rate {
            e.constrained(v as i64, 0, 4294967295)?;
        }
        for (name, p) in [
            ("collapsing", &self.collapsing),
            ("nonCollapsing", &self.non_collapsing),
        ] {
            if let Some(p) = p {
                e.field(name, |e| e.sequence_of(p, Size::unbounded(), encode_param))?;
            }
        }
        if let Some(r) = &self.non_collapsing_raw {
            e.octet_string(r, Size::unbounded())?;
        }
        Ok(())
    }
}

// ------------------------------------------------------------- audio

/// The AudioCapability root alternatives that are just a frame count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramedAudio {
    G711Alaw64k,
    G711Alaw56k,
    G711Ulaw64k,
    G711Ulaw56k,
    G722_64k,
    G722_56k,
    G722_48k,
    G728,
    G729,
    G729AnnexA,
}

impl FramedAudio {
    fn root_index(self) -> u64 {
        match self {
            FramedAudio::G711Alaw64k => 1,
            FramedAudio::G711Alaw56k => 2,
            FramedAudio::G711Ulaw64k => 3,
            FramedAudio::G711Ulaw56k => 4,
            FramedAudio::G722_64k => 5,
            FramedAudio::G722_56k => 6,
            FramedAudio::G722_48k => 7,
            FramedAudio::G728 => 9,
            FramedAudio::G729 => 10,
            FramedAudio::G729AnnexA => 11,
        }
    }
    fn from_root(i: u64) -> Option<Self> {
        use FramedAudio::*;
        [
            G711Alaw64k,
            G711Alaw56k,
            G711Ulaw64k,
            G711Ulaw56k,
            G722_64k,
            G722_56k,
            G722_48k,
            G728,
            G729,
            G729AnnexA,
        ]
        .into_iter()
        .find(|f| f.root_index() == i)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioCapability {
    NonStandard(NonStandardParameter),
    /// g711Alaw64k, g722-64k, ...: frames (or ms for G.711/G.722) per packet.
    Framed(FramedAudio, u16),
    G7231 {
        max_al_sdu_audio_frames: u16,
        silence_suppression: bool,
    },
    /// genericAudioCapability (G.722.1, ...).
    Generic(GenericCapability),
    /// is11172/is13818 audio: walked, not kept (cannot be re-encoded).
    SkippedRoot(u64),
    Other {
        ext_index: u64,
        encoded: Vec<u8>,
    },
}

impl PerType for AudioCapability {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(match d.choice_index(14, true)? {
            Index::Root(0) => AudioCapability::NonStandard(d.field("nonStandard", ns_decode)?),
            Index::Root(8) => d.field("g7231", |d| {
                Ok(AudioCapability::G7231 {
                    max_al_sdu_audio_frames: d.constrained(1, 256)? as u16,
                    silence_suppression: d.bool()?,
                })
            })?,
            Index::Root(12) => {
                d.field("is11172AudioCapability", |d| {
                    simple_seq(d, |d| d.read_bits(8).and_then(|_| d.constrained(1, 448)))
                })?;
                AudioCapability::SkippedRoot(12)
            }
            Index::Root(13) => {
                d.field("is13818AudioCapability", |d| {
                    simple_seq(d, |d| d.read_bits(20).and_then(|_| d.constrained(1, 1130)))
                })?;
                AudioCapability::SkippedRoot(13)
            }
            Index::Root(i) => match FramedAudio::from_root(i) {
                Some(f) => AudioCapability::Framed(f, d.constrained(1, 256)? as u16),
                None => return Err(d.err(PerErrorKind::BadChoice(i))),
            },
            Index::Ext(6) => AudioCapability::Generic(d.field("genericAudioCapability", |d| {
                d.open_type(GenericCapability::decode)
            })?),
            Index::Ext(x) => AudioCapability::Other {
                ext_index: x,
                encoded: d.skip_open_type()?,
            },
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        match self {
            AudioCapability::NonStandard(n) => {
                e.choice_index(Index::Root(0), 14, true)?;
                ns_encode(e, n)
            }
            AudioCapability::Framed(f, n) => {
                e.choice_index(Index::Root(f.root_index()), 14, true)?;
                e.constrained(*n as i64, 1, 256)
            }
            AudioCapability::G7231 {
                max_al_sdu_audio_frames,
                silence_suppression,
            } => {
                e.choice_index(Index::Root(8), 14, true)?;
                e.constrained(*max_al_sdu_audio_frames as i64, 1, 256)?;
                e.bool(*silence_suppression);
                Ok(())
            }
            AudioCapability::Generic(g) => {
                e.choice_index(Index::Ext(6), 14, true)?;
                e.field("genericAudioCapability", |e| e.open_type(|e| g.encode(e)))
            }
            AudioCapability::SkippedRoot(_) => Err(not_modelled(e, "audio capability not kept")),
            AudioCapability::Other { ext_index, encoded } => {
                e.choice_index(Index::Ext(*ext_index), 14, true)?;
                e.open_type_bytes(encoded)
            }
        }
    }
}

// ------------------------------------------------------------- video

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct H261VideoCapability {
    pub qcif_mpi: Option<u8>,
    pub cif_mpi: Option<u8>,
    pub temporal_spatial_trade_off: bool,
    /// In units of 100 bit/s (1..19200).
    pub max_bit_rate: u16,
    pub still_image_transmission: bool,
}

impl PerType for H261VideoCapability {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 2)?;
        let mpi = |d: &mut Decoder<'_>| Ok(d.constrained(1, 4)? as u8);
        let v = H261VideoCapability {
            qcif_mpi: pre.has(0).then(|| d.field("qcifMPI", mpi)).transpose()?,
            cif_mpi: pre.has(1).then(|| d.field("cifMPI", mpi)).transpose()?,
            temporal_spatial_trade_off: d.bool()?,
            max_bit_rate: d.field("maxBitRate", |d| d.constrained(1, 19200))? as u16,
            still_image_transmission: d.bool()?,
        };
        skip_ext(d, pre.extended)?;
        Ok(v)
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(
            true,
            false,
            &[self.qcif_mpi.is_some(), self.cif_mpi.is_some()],
        );
        for m in [self.qcif_mpi, self.cif_mpi].into_iter().flatten() {
            e.constrained(m as i64, 1, 4)?;
        }
        e.bool(self.temporal_spatial_trade_off);
        e.field("maxBitRate", |e| {
            e.constrained(self.max_bit_rate as i64, 1, 19200)
        })?;
        e.bool(self.still_image_transmission);
        Ok(())
    }
}

/// H263VideoCapability's root (its additions, h263Options included, are skipped).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct H263VideoCapability {
    pub sqcif_mpi: Option<u8>,
    pub qcif_mpi: Option<u8>,
    pub cif_mpi: Option<u8>,
    pub cif4_mpi: Option<u8>,
    pub cif16_mpi: Option<u8>,
    /// In units of 100 bit/s (1..192400).
    pub max_bit_rate: u32,
    pub unrestricted_vector: bool,
    pub arithmetic_coding: bool,
    pub advanced_prediction: bool,
    pub pb_frames: bool,
    pub temporal_spatial_trade_off: bool,
    pub hrd_b: Option<u32>,
    pub bpp_max_kb: Option<u16>,
}

impl PerType for H263VideoCapability {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 7)?;
        let mut mpis = [None; 5];
        for (i, m) in mpis.iter_mut().enumerate() {
            if pre.has(i) {
                *m = Some(d.field("mpi", |d| d.constrained(1, 32))? as u8);
            }
        }
        let max_bit_rate = d.field("maxBitRate", |d| d.constrained(1, 192400))? as u32;
        let b = d.read_bits(5)?;
        let hrd_b = pre
            .has(5)
            .then(|| d.field("hrd-B", |d| d.constrained(0, 524287)))
            .transpose()?
            .map(|v| v as u32);
        let bpp_max_kb = pre
            .has(6)
            .then(|| d.field("bppMaxKb", |d| d.constrained(0, 65535)))
            .transpose()?
            .map(|v| v as u16);
        skip_ext(d, pre.extended)?;
        Ok(H263VideoCapability {
            sqcif_mpi: mpis[0],
            qcif_mpi: mpis[1],
            cif_mpi: mpis[2],
            cif4_mpi: mpis[3],
            cif16_mpi: mpis[4],
            max_bit_rate,
            unrestricted_vector: b & 0x10 != 0,
            arithmetic_coding: b & 0x08 != 0,
            advanced_prediction: b & 0x04 != 0,
            pb_frames: b & 0x02 != 0,
            temporal_spatial_trade_off: b & 0x01 != 0,
            hrd_b,
            bpp_max_kb,
        })
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let mpis = [
            self.sqcif_mpi,
            self.qcif_mpi,
            self.cif_mpi,
            self.cif4_mpi,
            self.cif16_mpi,
        ];
        let mut opt: Vec<bool> = mpis.iter().map(|m| m.is_some()).collect();
        opt.push(self.hrd_b.is_some());
        opt.push(self.bpp_max_kb.is_some());
        e.preamble(true, false, &opt);
        for m in mpis.into_iter().flatten() {
            e.constrained(m as i64, 1, 32)?;
        }
        e.field("maxBitRate", |e| {
            e.constrained(self.max_bit_rate as i64, 1, 192400)
        })?;
        for b in [
            self.unrestricted_vector,
            self.arithmetic_coding,
            self.advanced_prediction,
            self.pb_frames,
            self.temporal_spatial_trade_off,
        ] {
            e.bool(b);
        }
        if let Some(v) = self.hrd_b {
            e.constrained(v as i64, 0, 524287)?;
        }
        if let Some(v) = self.bpp_max_kb {
            e.constrained(v as i64, 0, 65535)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoCapability {
    NonStandard(NonStandardParameter),
    H261(H261VideoCapability),
    H263(H263VideoCapability),
    /// genericVideoCapability (H.264 and others).
    Generic(GenericCapability),
    /// h262 / is11172 video: walked, not kept.
    SkippedRoot(u64),
    Other {
        ext_index: u64,
        encoded: Vec<u8>,
    },
}

fn skip_mpeg_video(d: &mut Decoder<'_>, extensible: bool, bools: u32) -> Result<()> {
    let pre = d.preamble(extensible, 6)?;
    d.read_bits(bools)?;
    let ranges: [i64; 6] = [1073741823, 262143, 16383, 16383, 15, 4294967295];
    for (i, ub) in ranges.into_iter().enumerate() {
        if pre.has(i) {
            d.constrained(0, ub)?;
        }
    }
    skip_ext(d, pre.extended)
}

impl PerType for VideoCapability {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(match d.choice_index(5, true)? {
            Index::Root(0) => VideoCapability::NonStandard(d.field("nonStandard", ns_decode)?),
            Index::Root(1) => {
                VideoCapability::H261(d.field("h261VideoCapability", H261VideoCapability::decode)?)
            }
            Index::Root(2) => {
                d.field("h262VideoCapability", |d| {
                    // 11 profile/level booleans, six optional integers, videoBadMBsCap
                    skip_mpeg_video(d, true, 11)?;
                    d.bool()
                })?;
                VideoCapability::SkippedRoot(2)
            }
            Index::Root(3) => {
                VideoCapability::H263(d.field("h263VideoCapability", H263VideoCapability::decode)?)
            }
            Index::Root(_) => {
                d.field("is11172VideoCapability", |d| skip_mpeg_video(d, true, 1))?;
                VideoCapability::SkippedRoot(4)
            }
            Index::Ext(0) => VideoCapability::Generic(d.field("genericVideoCapability", |d| {
                d.open_type(GenericCapability::decode)
            })?),
            Index::Ext(x) => VideoCapability::Other {
                ext_index: x,
                encoded: d.skip_open_type()?,
            },
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        match self {
            VideoCapability::NonStandard(n) => {
                e.choice_index(Index::Root(0), 5, true)?;
                ns_encode(e, n)
            }
            VideoCapability::H261(v) => {
                e.choice_index(Index::Root(1), 5, true)?;
                e.field("h261VideoCapability", |e| v.encode(e))
            }
            VideoCapability::H263(v) => {
                e.choice_index(Index::Root(3), 5, true)?;
                e.field("h263VideoCapability", |e| v.encode(e))
            }
            VideoCapability::Generic(g) => {
                e.choice_index(Index::Ext(0), 5, true)?;
                e.field("genericVideoCapability", |e| e.open_type(|e| g.encode(e)))
            }
            VideoCapability::SkippedRoot(_) => Err(not_modelled(e, "video capability not kept")),
            VideoCapability::Other { ext_index, encoded } => {
                e.choice_index(Index::Ext(*ext_index), 5, true)?;
                e.open_type_bytes(encoded)
            }
        }
    }
}

/// DataApplicationCapability: walked to get past it (T.120, H.224 far-end
/// camera control, ...); the application's root index and bit rate kept.
fn skip_data_application(d: &mut Decoder<'_>) -> Result<(Index, u32)> {
    let pre = d.preamble(true, 0)?;
    let app = d.field("application", |d| {
        let i = d.choice_index(10, true)?;
        match i {
            Index::Root(0) => {
                ns_decode(d)?;
            }
            Index::Root(4) => {
                // t84: protocol, then t84Unrestricted or the (long) restricted profile
                skip_data_protocol(d)?;
                if d.choice_index(2, false)? == Index::Root(1) {
                    return Err(d.err(PerErrorKind::Invalid("t84Restricted not supported")));
                }
            }
            Index::Root(7) => {
                // nlpid
                skip_data_protocol(d)?;
                d.octet_string(Size::unbounded())?;
            }
            Index::Root(8) => {} // dsvdControl
            Index::Root(_) => skip_data_protocol(d)?,
            Index::Ext(_) => {
                d.skip_open_type()?;
            }
        }
        Ok(i)
    })?;
    let rate = d.field("maxBitRate", |d| d.constrained(0, 4294967295))? as u32;
    skip_ext(d, pre.extended)?;
    Ok((app, rate))
}

// -------------------------------------------------------- user input

null_choice!(
    /// UserInputCapability alternatives we model; nonStandard and
    /// genericUserInputCapability come back as `Other` when an extension,
    /// and nonStandard (root) is refused on encode.
    UserInputCapabilityKind {
        root: [NonStandardRoot, BasicString, Ia5String, GeneralString, Dtmf, Hookflash],
        ext: [
            0 => ExtendedAlphanumeric,
            1 => EncryptedBasicString,
            2 => EncryptedIa5String,
            3 => EncryptedGeneralString,
            4 => SecureDtmf,
        ]
    }
);

fn decode_user_input_cap(d: &mut Decoder<'_>) -> Result<UserInputCapabilityKind> {
    use UserInputCapabilityKind as K;
    // nonStandard (root 0) is a SEQUENCE OF, not NULL, so the NULL-choice
    // decoder cannot be used as is.
    Ok(match d.choice_index(6, true)? {
        Index::Root(0) => {
            d.field("nonStandard", |d| {
                d.sequence_of(Size::range(1, 16), ns_decode)
            })?;
            K::NonStandardRoot
        }
        Index::Root(1) => K::BasicString,
        Index::Root(2) => K::Ia5String,
        Index::Root(3) => K::GeneralString,
        Index::Root(4) => K::Dtmf,
        Index::Root(_) => K::Hookflash,
        Index::Ext(x) => {
            let encoded = d.skip_open_type()?;
            match x {
                0 => K::ExtendedAlphanumeric,
                1 => K::EncryptedBasicString,
                2 => K::EncryptedIa5String,
                3 => K::EncryptedGeneralString,
                4 => K::SecureDtmf,
                x => K::Other {
                    ext_index: x,
                    encoded,
                },
            }
        }
    })
}

// -------------------------------------------------------- capability

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Receive,
    Transmit,
    ReceiveAndTransmit,
}

impl Direction {
    fn offset(self) -> u64 {
        match self {
            Direction::Receive => 0,
            Direction::Transmit => 1,
            Direction::ReceiveAndTransmit => 2,
        }
    }
    fn from_offset(o: u64) -> Direction {
        match o {
            0 => Direction::Receive,
            1 => Direction::Transmit,
            _ => Direction::ReceiveAndTransmit,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    NonStandard(NonStandardParameter),
    Video(Direction, VideoCapability),
    Audio(Direction, AudioCapability),
    /// A data application (T.120, H.224, ...): walked, kept only as a note.
    Data {
        direction: Direction,
        application: Index,
        max_bit_rate: u32,
    },
    UserInput(Direction, UserInputCapabilityKind),
    /// h233Encryption capabilities: walked, not kept.
    H233Encryption,
    /// Any other extension alternative (conferenceCapability,
    /// genericControlCapability, ...) with its encoding.
    Other {
        ext_index: u64,
        encoded: Vec<u8>,
    },
}

impl PerType for Capability {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(match d.choice_index(12, true)? {
            Index::Root(0) => Capability::NonStandard(d.field("nonStandard", ns_decode)?),
            Index::Root(i @ 1..=3) => Capability::Video(
                Direction::from_offset(i - 1),
                d.field("videoCapability", VideoCapability::decode)?,
            ),
            Index::Root(i @ 4..=6) => Capability::Audio(
                Direction::from_offset(i - 4),
                d.field("audioCapability", AudioCapability::decode)?,
            ),
            Index::Root(i @ 7..=9) => {
                let (application, max_bit_rate) =
                    d.field("dataApplicationCapability", skip_data_application)?;
                Capability::Data {
                    direction: Direction::from_offset(i - 7),
                    application,
                    max_bit_rate,
                }
            }
            Index::Root(10) => {
                d.bool()?;
                Capability::H233Encryption
            }
            Index::Root(_) => {
                d.field("h233EncryptionReceiveCapability", |d| {
                    simple_seq(d, |d| d.constrained(0, 255))
                })?;
                Capability::H233Encryption
            }
            Index::Ext(x @ 3..=5) => Capability::UserInput(
                Direction::from_offset(x - 3),
                d.field("userInputCapability", |d| {
                    d.open_type(decode_user_input_cap)
                })?,
            ),
            Index::Ext(x) => Capability::Other {
                ext_index: x,
                encoded: d.skip_open_type()?,
            },
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        match self {
            Capability::NonStandard(n) => {
                e.choice_index(Index::Root(0), 12, true)?;
                ns_encode(e, n)
            }
            Capability::Video(dir, v) => {
                e.choice_index(Index::Root(1 + dir.offset()), 12, true)?;
                e.field("videoCapability", |e| v.encode(e))
            }
            Capability::Audio(dir, a) => {
                e.choice_index(Index::Root(4 + dir.offset()), 12, true)?;
                e.field("audioCapability", |e| a.encode(e))
            }
            Capability::UserInput(dir, u) => {
                if *u == UserInputCapabilityKind::NonStandardRoot {
                    return Err(not_modelled(
                        e,
                        "non-standard user input capability not kept",
                    ));
                }
                e.choice_index(Index::Ext(3 + dir.offset()), 12, true)?;
                e.field("userInputCapability", |e| e.open_type(|e| u.encode(e)))
            }
            Capability::Other { ext_index, encoded } => {
                e.choice_index(Index::Ext(*ext_index), 12, true)?;
                e.open_type_bytes(encoded)
            }
            Capability::Data { .. } | Capability::H233Encryption => {
                Err(not_modelled(e, "data/encryption capability not kept"))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityTableEntry {
    pub number: u16,
    pub capability: Option<Capability>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityDescriptor {
    pub number: u8,
    /// Each inner list is an AlternativeCapabilitySet (table entry numbers).
    pub simultaneous_capabilities: Option<Vec<Vec<u16>>>,
}

/// TerminalCapabilitySet. An empty one (no table, no descriptors) is the
/// "pause" of H.245 8.4.6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalCapabilitySet {
    pub sequence_number: u8,
    pub protocol_identifier: Vec<u64>,
    /// multiplexCapability when it is an extension alternative
    /// (h2250Capability is ext 0): (index, open-type octets).
    pub multiplex_capability: Option<(u64, Vec<u8>)>,
    pub capability_table: Option<Vec<CapabilityTableEntry>>,
    pub capability_descriptors: Option<Vec<CapabilityDescriptor>>,
}

fn entry_number(d: &mut Decoder<'_>) -> Result<u16> {
    Ok(d.constrained(1, 65535)? as u16)
}

impl PerType for TerminalCapabilitySet {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 3)?;
        let sequence_number = seq_number(d)?;
        let protocol_identifier = d.field("protocolIdentifier", |d| d.object_identifier())?;
        let multiplex_capability = if pre.has(0) {
            Some(
                d.field("multiplexCapability", |d| {
                    match d.choice_index(4, true)? {
                        Index::Ext(x) => Ok((x, d.skip_open_type()?)),
                        Index::Root(_) => Err(d.err(PerErrorKind::Invalid(
                            "H.222/H.223/V.76 multiplex capability not supported",
                        ))),
                    }
                })?,
            )
        } else {
            None
        };
        let capability_table = if pre.has(1) {
            Some(d.field("capabilityTable", |d| {
                d.sequence_of(Size::range(1, 256), |d| {
                    let pre = d.preamble(false, 1)?;
                    let number = d.field("capabilityTableEntryNumber", entry_number)?;
                    let capability = if pre.has(0) {
                        Some(d.field("capability", Capability::decode)?)
                    } else {
                        None
                    };
                    Ok(CapabilityTableEntry { number, capability })
                })
            })?)
        } else {
            None
        };
        let capability_descriptors = if pre.has(2) {
            Some(d.field("capabilityDescriptors", |d| {
                d.sequence_of(Size::range(1, 256), |d| {
                    let pre = d.preamble(false, 1)?;
                    let number =
                        d.field("capabilityDescriptorNumber", |d| d.constrained(0, 255))? as u8;
                    let simultaneous_capabilities = if pre.has(0) {
                        Some(d.field("simultaneousCapabilities", |d| {
                            d.sequence_of(Size::range(1, 256), |d| {
                                d.sequence_of(Size::range(1, 256), entry_number)
                            })
                        })?)
                    } else {
                        None
                    };
                    Ok(CapabilityDescriptor {
                        number,
                        simultaneous_capabilities,
                    })
                })
            })?)
        } else {
            None
        };
        skip_ext(d, pre.extended)?;
        Ok(TerminalCapabilitySet {
            sequence_number,
            protocol_identifier,
            multiplex_capability,
            capability_table,
            capability_descriptors,
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(
            true,
            false,
            &[
                self.multiplex_capability.is_some(),
                self.capability_table.is_some(),
                self.capability_descriptors.is_some(),
            ],
        );
        e.constrained(self.sequence_number as i64, 0, 255)?;
        e.object_identifier(&self.protocol_identifier)?;
        if let Some((x, enc)) = &self.multiplex_capability {
            e.choice_index(Index::Ext(*x), 4, true)?;
            e.open_type_bytes(enc)?;
        }
        if let Some(t) = &self.capability_table {
            e.field("capabilityTable", |e| {
                e.sequence_of(t, Size::range(1, 256), |e, c| {
                    e.preamble(false, false, &[c.capability.is_some()]);
                    e.constrained(c.number as i64, 1, 65535)?;
                    match &c.capability {
                        Some(cap) => e.field("capability", |e| cap.encode(e)),
                        None => Ok(()),
                    }
                })
            })?;
        }
        if let Some(ds) = &self.capability_descriptors {
            e.field("capabilityDescriptors", |e| {
                e.sequence_of(ds, Size::range(1, 256), |e, c| {
                    e.preamble(false, false, &[c.simultaneous_capabilities.is_some()]);
                    e.constrained(c.number as i64, 0, 255)?;
                    if let Some(s) = &c.simultaneous_capabilities {
                        e.sequence_of(s, Size::range(1, 256), |e, alt| {
                            e.sequence_of(alt, Size::range(1, 256), |e, n| {
                                e.constrained(*n as i64, 1, 65535)
                            })
                        })?;
                    }
                    Ok(())
                })
            })?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcsRejectCause {
    Unspecified,
    UndefinedTableEntryUsed,
    DescriptorCapacityExceeded,
    /// highestEntryNumberProcessed, None for noneProcessed.
    TableEntryCapacityExceeded(Option<u16>),
    Other {
        ext_index: u64,
        encoded: Vec<u8>,
    },
}

// -------------------------------------------------- commands, indications

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MiscCommandType {
    EqualiseDelay,
    ZeroDelay,
    MultipointModeCommand,
    CancelMultipointModeCommand,
    VideoFreezePicture,
    VideoFastUpdatePicture,
    VideoFastUpdateGob { first_gob: u8, number_of_gobs: u8 },
    VideoTemporalSpatialTradeOff(u8),
    VideoSendSyncEveryGob,
    VideoSendSyncEveryGobCancel,
    Other { ext_index: u64, encoded: Vec<u8> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiscellaneousCommand {
    pub logical_channel_number: u16,
    pub command: MiscCommandType,
}

impl PerType for MiscellaneousCommand {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        use MiscCommandType as T;
        let pre = d.preamble(true, 0)?;
        let logical_channel_number = d.field("logicalChannelNumber", entry_number)?;
        let command = d.field("type", |d| {
            Ok(match d.choice_index(10, true)? {
                Index::Root(0) => T::EqualiseDelay,
                Index::Root(1) => T::ZeroDelay,
                Index::Root(2) => T::MultipointModeCommand,
                Index::Root(3) => T::CancelMultipointModeCommand,
                Index::Root(4) => T::VideoFreezePicture,
                Index::Root(5) => T::VideoFastUpdatePicture,
                Index::Root(6) => T::VideoFastUpdateGob {
                    first_gob: d.constrained(0, 17)? as u8,
                    number_of_gobs: d.constrained(1, 18)? as u8,
                },
                Index::Root(7) => T::VideoTemporalSpatialTradeOff(d.constrained(0, 31)? as u8),
                Index::Root(8) => T::VideoSendSyncEveryGob,
                Index::Root(_) => T::VideoSendSyncEveryGobCancel,
                Index::Ext(x) => T::Other {
                    ext_index: x,
                    encoded: d.skip_open_type()?,
                },
            })
        })?;
        skip_ext(d, pre.extended)?;
        Ok(MiscellaneousCommand {
            logical_channel_number,
            command,
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        use MiscCommandType as T;
        e.preamble(true, false, &[]);
        e.constrained(self.logical_channel_number as i64, 1, 65535)?;
        let i = match &self.command {
            T::EqualiseDelay => 0,
            T::ZeroDelay => 1,
            T::MultipointModeCommand => 2,
            T::CancelMultipointModeCommand => 3,
            T::VideoFreezePicture => 4,
            T::VideoFastUpdatePicture => 5,
            T::VideoFastUpdateGob { .. } => 6,
            T::VideoTemporalSpatialTradeOff(_) => 7,
            T::VideoSendSyncEveryGob => 8,
            T::VideoSendSyncEveryGobCancel => 9,
            T::Other { ext_index, encoded } => {
                e.choice_index(Index::Ext(*ext_index), 10, true)?;
                return e.open_type_bytes(encoded);
            }
        };
        e.choice_index(Index::Root(i), 10, true)?;
        match &self.command {
            T::VideoFastUpdateGob {
                first_gob,
                number_of_gobs,
            } => {
                e.constrained(*first_gob as i64, 0, 17)?;
                e.constrained(*number_of_gobs as i64, 1, 18)
            }
            T::VideoTemporalSpatialTradeOff(v) => e.constrained(*v as i64, 0, 31),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowControlScope {
    LogicalChannel(u16),
    ResourceId(u16),
    WholeMultiplex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowControlCommand {
    pub scope: FlowControlScope,
    /// maximumBitRate in units of 100 bit/s; None for noRestriction.
    pub maximum_bit_rate: Option<u32>,
}

impl PerType for FlowControlCommand {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        simple_seq(d, |d| {
            let scope = d.field("scope", |d| {
                Ok(match d.choice_index(3, false)? {
                    Index::Root(0) => FlowControlScope::LogicalChannel(entry_number(d)?),
                    Index::Root(1) => FlowControlScope::ResourceId(d.constrained(0, 65535)? as u16),
                    _ => FlowControlScope::WholeMultiplex,
                })
            })?;
            let maximum_bit_rate = d.field("restriction", |d| {
                Ok(match d.choice_index(2, false)? {
                    Index::Root(0) => Some(d.constrained(0, 16777215)? as u32),
                    _ => None,
                })
            })?;
            Ok(FlowControlCommand {
                scope,
                maximum_bit_rate,
            })
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(true, false, &[]);
        match self.scope {
            FlowControlScope::LogicalChannel(n) => {
                e.choice_index(Index::Root(0), 3, false)?;
                e.constrained(n as i64, 1, 65535)?;
            }
            FlowControlScope::ResourceId(n) => {
                e.choice_index(Index::Root(1), 3, false)?;
                e.constrained(n as i64, 0, 65535)?;
            }
            FlowControlScope::WholeMultiplex => e.choice_index(Index::Root(2), 3, false)?,
        }
        match self.maximum_bit_rate {
            Some(r) => {
                e.choice_index(Index::Root(0), 2, false)?;
                e.constrained(r as i64, 0, 16777215)
            }
            None => e.choice_index(Index::Root(1), 2, false),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndSessionCommand {
    NonStandard(NonStandardParameter),
    Disconnect,
    /// gstnOptions: walked, the option's index kept.
    GstnOptions(u64),
    Other {
        ext_index: u64,
        encoded: Vec<u8>,
    },
}

/// RTP details of a signal in UserInputIndication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalRtp {
    pub timestamp: Option<u32>,
    pub expiration_time: Option<u32>,
    pub logical_channel_number: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserInputIndication {
    NonStandard(NonStandardParameter),
    /// alphanumeric (GeneralString, kept as its octets' Latin-1 reading).
    Alphanumeric(String),
    /// A DTMF signal: one of 0-9 * # A-D ! (hookflash).
    Signal {
        signal_type: char,
        duration: Option<u16>,
        rtp: Option<SignalRtp>,
    },
    SignalUpdate {
        duration: u16,
        rtp_logical_channel_number: Option<u16>,
    },
    Other {
        ext_index: u64,
        encoded: Vec<u8>,
    },
}

const SIGNAL_TYPES: Alphabet = Alphabet::Ia5From("!#*0123456789ABCD");

impl PerType for UserInputIndication {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(match d.choice_index(2, true)? {
            Index::Root(0) => UserInputIndication::NonStandard(d.field("nonStandard", ns_decode)?),
            Index::Root(_) => UserInputIndication::Alphanumeric(d.field("alphanumeric", |d| {
                // GeneralString has no known multiplier: a length in octets.
                let b = d.octet_string(Size::unbounded())?;
                Ok(b.iter().map(|c| *c as char).collect())
            })?),
            Index::Ext(1) => d.field("signal", |d| {
                d.open_type(|d| {
                    let pre = d.preamble(true, 2)?;
                    let s = d.field("signalType", |d| {
                        d.char_string(SIGNAL_TYPES, Size::fixed(1))
                    })?;
                    let duration = pre
                        .has(0)
                        .then(|| d.field("duration", |d| d.constrained(1, 65535)))
                        .transpose()?
                        .map(|v| v as u16);
                    let rtp = if pre.has(1) {
                        Some(d.field("rtp", |d| {
                            let pre = d.preamble(true, 2)?;
                            let timestamp = pre
                                .has(0)
                                .then(|| d.constrained(0, 4294967295))
                                .transpose()?;
                            let expiration = pre
                                .has(1)
                                .then(|| d.constrained(0, 4294967295))
                                .transpose()?;
                            let n = entry_number(d)?;
                            skip_ext(d, pre.extended)?;
                            Ok(SignalRtp {
                                timestamp: timestamp.map(|v| v as u32),
                                expiration_time: expiration.map(|v| v as u32),
                                logical_channel_number: n,
                            })
                        })?)
                    } else {
                        None
                    };
                    skip_ext(d, pre.extended)?;
                    Ok(UserInputIndication::Signal {
                        signal_type: s.chars().next().unwrap_or('!'),
                        duration,
                        rtp,
                    })
                })
            })?,
            Index::Ext(2) => d.field("signalUpdate", |d| {
                d.open_type(|d| {
                    let pre = d.preamble(true, 1)?;
                    let duration = d.constrained(1, 65535)? as u16;
                    let rtp = if pre.has(0) {
                        Some(d.field("rtp", |d| simple_seq(d, entry_number))?)
                    } else {
                        None
                    };
                    skip_ext(d, pre.extended)?;
                    Ok(UserInputIndication::SignalUpdate {
                        duration,
                        rtp_logical_channel_number: rtp,
                    })
                })
            })?,
            Index::Ext(x) => UserInputIndication::Other {
                ext_index: x,
                encoded: d.skip_open_type()?,
            },
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        match self {
            UserInputIndication::NonStandard(n) => {
                e.choice_index(Index::Root(0), 2, true)?;
                ns_encode(e, n)
            }
            UserInputIndication::Alphanumeric(s) => {
                e.choice_index(Index::Root(1), 2, true)?;
                let b: Vec<u8> = s
                    .chars()
                    .map(|c| u8::try_from(c as u32))
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|_| e.err(PerErrorKind::Invalid("alphanumeric outside Latin-1")))?;
                e.field("alphanumeric", |e| e.octet_string(&b, Size::unbounded()))
            }
            UserInputIndication::Signal {
                signal_type,
                duration,
                rtp,
            } => {
                e.choice_index(Index::Ext(1), 2, true)?;
                e.field("signal", |e| {
                    e.open_type(|e| {
                        e.preamble(true, false, &[duration.is_some(), rtp.is_some()]);
                        e.char_string(&signal_type.to_string(), SIGNAL_TYPES, Size::fixed(1))?;
                        if let Some(v) = duration {
                            e.constrained(*v as i64, 1, 65535)?;
                        }
                        if let Some(r) = rtp {
                            e.preamble(
                                true,
                                false,
                                &[r.timestamp.is_some(), r.expiration_time.is_some()],
                            );
                            for v in [r.timestamp, r.expiration_time].into_iter().flatten() {
                                e.constrained(v as i64, 0, 4294967295)?;
                            }
                            e.constrained(r.logical_channel_number as i64, 1, 65535)?;
                        }
                        Ok(())
                    })
                })
            }
            UserInputIndication::SignalUpdate {
                duration,
                rtp_logical_channel_number,
            } => {
                e.choice_index(Index::Ext(2), 2, true)?;
                e.field("signalUpdate", |e| {
                    e.open_type(|e| {
                        e.preamble(true, false, &[rtp_logical_channel_number.is_some()]);
                        e.constrained(*duration as i64, 1, 65535)?;
                        if let Some(n) = rtp_logical_channel_number {
                            e.preamble(true, false, &[]);
                            e.constrained(*n as i64, 1, 65535)?;
                        }
                        Ok(())
                    })
                })
            }
            UserInputIndication::Other { ext_index, encoded } => {
                e.choice_index(Index::Ext(*ext_index), 2, true)?;
                e.open_type_bytes(encoded)
            }
        }
    }
}

// ------------------------------------------------------------ messages

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsdDecision {
    Master,
    Slave,
}

/// The four top-level categories of MultimediaSystemControlMessage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Request,
    Response,
    Command,
    Indication,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum H245Message {
    // requests
    MasterSlaveDetermination {
        terminal_type: u8,
        status_determination_number: u32,
    },
    TerminalCapabilitySet(TerminalCapabilitySet),
    OpenLogicalChannel(OpenLogicalChannel),
    CloseLogicalChannel {
        forward_logical_channel_number: u16,
        /// true: source user, false: lcse.
        source_user: bool,
        reason: Option<CloseReason>,
    },
    RequestChannelClose {
        forward_logical_channel_number: u16,
        reason: Option<RequestCloseReason>,
    },
    RoundTripDelayRequest(u8),
    // responses
    MasterSlaveDeterminationAck(MsdDecision),
    /// cause identicalNumbers.
    MasterSlaveDeterminationReject,
    TerminalCapabilitySetAck(u8),
    TerminalCapabilitySetReject {
        sequence_number: u8,
        cause: TcsRejectCause,
    },
    OpenLogicalChannelAck(OpenLogicalChannelAck),
    OpenLogicalChannelReject {
        forward_logical_channel_number: u16,
        cause: OlcRejectCause,
    },
    CloseLogicalChannelAck(u16),
    RequestChannelCloseAck(u16),
    /// cause unspecified.
    RequestChannelCloseReject(u16),
    RoundTripDelayResponse(u8),
    // commands
    MiscellaneousCommand(MiscellaneousCommand),
    FlowControlCommand(FlowControlCommand),
    EndSessionCommand(EndSessionCommand),
    // indications
    MasterSlaveDeterminationRelease,
    TerminalCapabilitySetRelease,
    OpenLogicalChannelConfirm(u16),
    RequestChannelCloseRelease(u16),
    UserInput(UserInputIndication),
    /// An alternative we do not model, root or extension: `raw` is the
    /// whole PDU as received, re-sent verbatim by `encode`.
    Other {
        category: Category,
        index: Index,
        raw: Vec<u8>,
    },
}

const REQ_ROOT: u64 = 11;
const RSP_ROOT: u64 = 19;
const CMD_ROOT: u64 = 7;
const IND_ROOT: u64 = 14;

fn lcn_only(d: &mut Decoder<'_>) -> Result<u16> {
    simple_seq(d, lcn)
}

fn put_lcn_only(e: &mut Encoder, v: u16) -> Result<()> {
    e.preamble(true, false, &[]);
    put_lcn(e, v)
}

fn seq_only(d: &mut Decoder<'_>) -> Result<u8> {
    simple_seq(d, seq_number)
}

fn put_seq_only(e: &mut Encoder, v: u8) -> Result<()> {
    e.preamble(true, false, &[]);
    e.field("sequenceNumber", |e| e.constrained(v as i64, 0, 255))
}

impl H245Message {
    /// Decodes one PDU (a TPKT payload on the H.245 channel, or one
    /// octet string of h245Control / fastStart's neighbour).
    pub fn decode(data: &[u8]) -> Result<H245Message> {
        let mut dec = Decoder::with_root(data, "MultimediaSystemControlMessage");
        let d = &mut dec;
        let other = |category, index| H245Message::Other {
            category,
            index,
            raw: data.to_vec(),
        };
        Ok(match d.choice_index(4, true)? {
            Index::Root(0) => d.field("request", |d| {
                let i = d.choice_index(REQ_ROOT, true)?;
                Ok(match i {
                    Index::Root(1) => d.field("masterSlaveDetermination", |d| {
                        simple_seq(d, |d| {
                            Ok(H245Message::MasterSlaveDetermination {
                                terminal_type: d.field("terminalType", |d| d.constrained(0, 255))?
                                    as u8,
                                status_determination_number: d
                                    .field("statusDeterminationNumber", |d| {
                                        d.constrained(0, 16777215)
                                    })?
                                    as u32,
                            })
                        })
                    })?,
                    Index::Root(2) => H245Message::TerminalCapabilitySet(
                        d.field("terminalCapabilitySet", TerminalCapabilitySet::decode)?,
                    ),
                    Index::Root(3) => H245Message::OpenLogicalChannel(
                        d.field("openLogicalChannel", OpenLogicalChannel::decode)?,
                    ),
                    Index::Root(4) => d.field("closeLogicalChannel", |d| {
                        let pre = d.preamble(true, 0)?;
                        let n = lcn(d)?;
                        let source_user =
                            d.field("source", |d| d.choice_index(2, false))? == Index::Root(0);
                        let mut reason = None;
                        for x in d.ext_bitmap(pre.extended)?.indices() {
                            match x {
                                0 => {
                                    reason =
                                        Some(d.field("reason", |d| {
                                            d.open_type(CloseReason::decode)
                                        })?)
                                }
                                _ => {
                                    d.skip_open_type()?;
                                }
                            }
                        }
                        Ok(H245Message::CloseLogicalChannel {
                            forward_logical_channel_number: n,
                            source_user,
                            reason,
                        })
                    })?,
                    Index::Root(5) => d.field("requestChannelClose", |d| {
                        let pre = d.preamble(true, 0)?;
                        let n = lcn(d)?;
                        let mut reason = None;
                        for x in d.ext_bitmap(pre.extended)?.indices() {
                            match x {
                                1 => {
                                    reason = Some(d.field("reason", |d| {
                                        d.open_type(RequestCloseReason::decode)
                                    })?)
                                }
                                _ => {
                                    d.skip_open_type()?;
                                }
                            }
                        }
                        Ok(H245Message::RequestChannelClose {
                            forward_logical_channel_number: n,
                            reason,
                        })
                    })?,
                    Index::Root(9) => H245Message::RoundTripDelayRequest(
                        d.field("roundTripDelayRequest", seq_only)?,
                    ),
                    i => other(Category::Request, i),
                })
            })?,
            Index::Root(1) => d.field("response", |d| {
                let i = d.choice_index(RSP_ROOT, true)?;
                Ok(match i {
                    Index::Root(1) => d.field("masterSlaveDeterminationAck", |d| {
                        simple_seq(d, |d| {
                            Ok(H245Message::MasterSlaveDeterminationAck(
                                if d.choice_index(2, false)? == Index::Root(0) {
                                    MsdDecision::Master
                                } else {
                                    MsdDecision::Slave
                                },
                            ))
                        })
                    })?,
                    Index::Root(2) => d.field("masterSlaveDeterminationReject", |d| {
                        simple_seq(d, |d| {
                            if let Index::Ext(_) = d.choice_index(1, true)? {
                                d.skip_open_type()?;
                            }
                            Ok(H245Message::MasterSlaveDeterminationReject)
                        })
                    })?,
                    Index::Root(3) => H245Message::TerminalCapabilitySetAck(
                        d.field("terminalCapabilitySetAck", seq_only)?,
                    ),
                    Index::Root(4) => d.field("terminalCapabilitySetReject", |d| {
                        simple_seq(d, |d| {
                            let sequence_number = seq_number(d)?;
                            let cause = d.field("cause", |d| {
                                Ok(match d.choice_index(4, true)? {
                                    Index::Root(0) => TcsRejectCause::Unspecified,
                                    Index::Root(1) => TcsRejectCause::UndefinedTableEntryUsed,
                                    Index::Root(2) => TcsRejectCause::DescriptorCapacityExceeded,
                                    Index::Root(_) => TcsRejectCause::TableEntryCapacityExceeded(
                                        match d.choice_index(2, false)? {
                                            Index::Root(0) => Some(entry_number(d)?),
                                            _ => None,
                                        },
                                    ),
                                    Index::Ext(x) => TcsRejectCause::Other {
                                        ext_index: x,
                                        encoded: d.skip_open_type()?,
                                    },
                                })
                            })?;
                            Ok(H245Message::TerminalCapabilitySetReject {
                                sequence_number,
                                cause,
                            })
                        })
                    })?,
                    Index::Root(5) => H245Message::OpenLogicalChannelAck(
                        d.field("openLogicalChannelAck", OpenLogicalChannelAck::decode)?,
                    ),
                    Index::Root(6) => d.field("openLogicalChannelReject", |d| {
                        simple_seq(d, |d| {
                            Ok(H245Message::OpenLogicalChannelReject {
                                forward_logical_channel_number: lcn(d)?,
                                cause: d.field("cause", OlcRejectCause::decode)?,
                            })
                        })
                    })?,
                    Index::Root(7) => H245Message::CloseLogicalChannelAck(
                        d.field("closeLogicalChannelAck", lcn_only)?,
                    ),
                    Index::Root(8) => H245Message::RequestChannelCloseAck(
                        d.field("requestChannelCloseAck", lcn_only)?,
                    ),
                    Index::Root(9) => d.field("requestChannelCloseReject", |d| {
                        simple_seq(d, |d| {
                            let n = lcn(d)?;
                            if let Index::Ext(_) = d.field("cause", |d| d.choice_index(1, true))? {
                                d.skip_open_type()?;
                            }
                            Ok(H245Message::RequestChannelCloseReject(n))
                        })
                    })?,
                    Index::Root(16) => H245Message::RoundTripDelayResponse(
                        d.field("roundTripDelayResponse", seq_only)?,
                    ),
                    i => other(Category::Response, i),
                })
            })?,
            Index::Root(2) => d.field("command", |d| {
                let i = d.choice_index(CMD_ROOT, true)?;
                Ok(match i {
                    Index::Root(4) => H245Message::FlowControlCommand(
                        d.field("flowControlCommand", FlowControlCommand::decode)?,
                    ),
                    Index::Root(5) => {
                        H245Message::EndSessionCommand(d.field("endSessionCommand", |d| {
                            Ok(match d.choice_index(3, true)? {
                                Index::Root(0) => EndSessionCommand::NonStandard(ns_decode(d)?),
                                Index::Root(1) => EndSessionCommand::Disconnect,
                                Index::Root(_) => match d.choice_index(5, true)? {
                                    Index::Root(o) => EndSessionCommand::GstnOptions(o),
                                    Index::Ext(o) => {
                                        d.skip_open_type()?;
                                        EndSessionCommand::GstnOptions(5 + o)
                                    }
                                },
                                Index::Ext(x) => EndSessionCommand::Other {
                                    ext_index: x,
                                    encoded: d.skip_open_type()?,
                                },
                            })
                        })?)
                    }
                    Index::Root(6) => H245Message::MiscellaneousCommand(
                        d.field("miscellaneousCommand", MiscellaneousCommand::decode)?,
                    ),
                    i => other(Category::Command, i),
                })
            })?,
            Index::Root(_) => d.field("indication", |d| {
                let i = d.choice_index(IND_ROOT, true)?;
                Ok(match i {
                    Index::Root(2) => {
                        d.field("masterSlaveDeterminationRelease", |d| {
                            simple_seq(d, |_| Ok(()))
                        })?;
                        H245Message::MasterSlaveDeterminationRelease
                    }
                    Index::Root(3) => {
                        d.field("terminalCapabilitySetRelease", |d| {
                            simple_seq(d, |_| Ok(()))
                        })?;
                        H245Message::TerminalCapabilitySetRelease
                    }
                    Index::Root(4) => H245Message::OpenLogicalChannelConfirm(
                        d.field("openLogicalChannelConfirm", lcn_only)?,
                    ),
                    Index::Root(5) => H245Message::RequestChannelCloseRelease(
                        d.field("requestChannelCloseRelease", lcn_only)?,
                    ),
                    Index::Root(13) => {
                        H245Message::UserInput(d.field("userInput", UserInputIndication::decode)?)
                    }
                    i => other(Category::Indication, i),
                })
            })?,
            Index::Ext(x) => H245Message::Other {
                category: Category::Indication,
                index: Index::Ext(x),
                raw: data.to_vec(),
            },
        })
    }

    /// The ASN.1 name of the message (for logs and tests).
    pub fn name(&self) -> &'static str {
        use H245Message as M;
        match self {
            M::MasterSlaveDetermination { .. } => "masterSlaveDetermination",
            M::TerminalCapabilitySet(_) => "terminalCapabilitySet",
            M::OpenLogicalChannel(_) => "openLogicalChannel",
            M::CloseLogicalChannel { .. } => "closeLogicalChannel",
            M::RequestChannelClose { .. } => "requestChannelClose",
            M::RoundTripDelayRequest(_) => "roundTripDelayRequest",
            M::MasterSlaveDeterminationAck(_) => "masterSlaveDeterminationAck",
            M::MasterSlaveDeterminationReject => "masterSlaveDeterminationReject",
            M::TerminalCapabilitySetAck(_) => "terminalCapabilitySetAck",
            M::TerminalCapabilitySetReject { .. } => "terminalCapabilitySetReject",
            M::OpenLogicalChannelAck(_) => "openLogicalChannelAck",
            M::OpenLogicalChannelReject { .. } => "openLogicalChannelReject",
            M::CloseLogicalChannelAck(_) => "closeLogicalChannelAck",
            M::RequestChannelCloseAck(_) => "requestChannelCloseAck",
            M::RequestChannelCloseReject(_) => "requestChannelCloseReject",
            M::RoundTripDelayResponse(_) => "roundTripDelayResponse",
            M::MiscellaneousCommand(_) => "miscellaneousCommand",
            M::FlowControlCommand(_) => "flowControlCommand",
            M::EndSessionCommand(_) => "endSessionCommand",
            M::MasterSlaveDeterminationRelease => "masterSlaveDeterminationRelease",
            M::TerminalCapabilitySetRelease => "terminalCapabilitySetRelease",
            M::OpenLogicalChannelConfirm(_) => "openLogicalChannelConfirm",
            M::RequestChannelCloseRelease(_) => "requestChannelCloseRelease",
            M::UserInput(_) => "userInput",
            M::Other { .. } => "unknown",
        }
    }

    /// The category and root index of a modelled message.
    fn position(&self) -> (u64, u64, u64) {
        use H245Message as M;
        match self {
            M::MasterSlaveDetermination { .. } => (0, 1, REQ_ROOT),
            M::TerminalCapabilitySet(_) => (0, 2, REQ_ROOT),
            M::OpenLogicalChannel(_) => (0, 3, REQ_ROOT),
            M::CloseLogicalChannel { .. } => (0, 4, REQ_ROOT),
            M::RequestChannelClose { .. } => (0, 5, REQ_ROOT),
            M::RoundTripDelayRequest(_) => (0, 9, REQ_ROOT),
            M::MasterSlaveDeterminationAck(_) => (1, 1, RSP_ROOT),
            M::MasterSlaveDeterminationReject => (1, 2, RSP_ROOT),
            M::TerminalCapabilitySetAck(_) => (1, 3, RSP_ROOT),
            M::TerminalCapabilitySetReject { .. } => (1, 4, RSP_ROOT),
            M::OpenLogicalChannelAck(_) => (1, 5, RSP_ROOT),
            M::OpenLogicalChannelReject { .. } => (1, 6, RSP_ROOT),
            M::CloseLogicalChannelAck(_) => (1, 7, RSP_ROOT),
            M::RequestChannelCloseAck(_) => (1, 8, RSP_ROOT),
            M::RequestChannelCloseReject(_) => (1, 9, RSP_ROOT),
            M::RoundTripDelayResponse(_) => (1, 16, RSP_ROOT),
            M::FlowControlCommand(_) => (2, 4, CMD_ROOT),
            M::EndSessionCommand(_) => (2, 5, CMD_ROOT),
            M::MiscellaneousCommand(_) => (2, 6, CMD_ROOT),
            M::MasterSlaveDeterminationRelease => (3, 2, IND_ROOT),
            M::TerminalCapabilitySetRelease => (3, 3, IND_ROOT),
            M::OpenLogicalChannelConfirm(_) => (3, 4, IND_ROOT),
            M::RequestChannelCloseRelease(_) => (3, 5, IND_ROOT),
            M::UserInput(_) => (3, 13, IND_ROOT),
            M::Other { .. } => (0, 0, 0),
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>> {
        use H245Message as M;
        if let M::Other { raw, .. } = self {
            return Ok(raw.clone());
        }
        let mut enc = Encoder::with_root("MultimediaSystemControlMessage");
        let e = &mut enc;
        let (cat, i, root) = self.position();
        e.choice_index(Index::Root(cat), 4, true)?;
        e.choice_index(Index::Root(i), root, true)?;
        let name = self.name();
        e.field(name, |e| match self {
            M::MasterSlaveDetermination {
                terminal_type,
                status_determination_number,
            } => {
                e.preamble(true, false, &[]);
                e.constrained(*terminal_type as i64, 0, 255)?;
                e.constrained(*status_determination_number as i64, 0, 16777215)
            }
            M::TerminalCapabilitySet(t) => t.encode(e),
            M::OpenLogicalChannel(o) => o.encode(e),
            M::CloseLogicalChannel {
                forward_logical_channel_number,
                source_user,
                reason,
            } => {
                let adds = vec![match reason {
                    Some(r) => Some(e.field("reason", |e| e.sub(|e| r.encode(e)))?),
                    None => None,
                }];
                e.preamble(true, any_ext(&adds), &[]);
                put_lcn(e, *forward_logical_channel_number)?;
                e.choice_index(Index::Root(if *source_user { 0 } else { 1 }), 2, false)?;
                e.extensions(&adds)
            }
            M::RequestChannelClose {
                forward_logical_channel_number,
                reason,
            } => {
                let adds = vec![
                    None,
                    match reason {
                        Some(r) => Some(e.field("reason", |e| e.sub(|e| r.encode(e)))?),
                        None => None,
                    },
                ];
                e.preamble(true, any_ext(&adds), &[]);
                put_lcn(e, *forward_logical_channel_number)?;
                e.extensions(&adds)
            }
            M::RoundTripDelayRequest(s)
            | M::RoundTripDelayResponse(s)
            | M::TerminalCapabilitySetAck(s) => put_seq_only(e, *s),
            M::MasterSlaveDeterminationAck(dec) => {
                e.preamble(true, false, &[]);
                e.choice_index(
                    Index::Root(if *dec == MsdDecision::Master { 0 } else { 1 }),
                    2,
                    false,
                )
            }
            M::MasterSlaveDeterminationReject => {
                e.preamble(true, false, &[]);
                e.choice_index(Index::Root(0), 1, true)
            }
            M::TerminalCapabilitySetReject {
                sequence_number,
                cause,
            } => {
                e.preamble(true, false, &[]);
                e.constrained(*sequence_number as i64, 0, 255)?;
                match cause {
                    TcsRejectCause::Unspecified => e.choice_index(Index::Root(0), 4, true),
                    TcsRejectCause::UndefinedTableEntryUsed => {
                        e.choice_index(Index::Root(1), 4, true)
                    }
                    TcsRejectCause::DescriptorCapacityExceeded => {
                        e.choice_index(Index::Root(2), 4, true)
                    }
                    TcsRejectCause::TableEntryCapacityExceeded(h) => {
                        e.choice_index(Index::Root(3), 4, true)?;
                        match h {
                            Some(n) => {
                                e.choice_index(Index::Root(0), 2, false)?;
                                e.constrained(*n as i64, 1, 65535)
                            }
                            None => e.choice_index(Index::Root(1), 2, false),
                        }
                    }
                    TcsRejectCause::Other { ext_index, encoded } => {
                        e.choice_index(Index::Ext(*ext_index), 4, true)?;
                        e.open_type_bytes(encoded)
                    }
                }
            }
            M::OpenLogicalChannelAck(a) => a.encode(e),
            M::OpenLogicalChannelReject {
                forward_logical_channel_number,
                cause,
            } => {
                e.preamble(true, false, &[]);
                put_lcn(e, *forward_logical_channel_number)?;
                e.field("cause", |e| cause.encode(e))
            }
            M::CloseLogicalChannelAck(n)
            | M::RequestChannelCloseAck(n)
            | M::OpenLogicalChannelConfirm(n)
            | M::RequestChannelCloseRelease(n) => put_lcn_only(e, *n),
            M::RequestChannelCloseReject(n) => {
                put_lcn_only(e, *n)?;
                e.choice_index(Index::Root(0), 1, true)
            }
            M::MiscellaneousCommand(m) => m.encode(e),
            M::FlowControlCommand(f) => f.encode(e),
            M::EndSessionCommand(c) => match c {
                EndSessionCommand::NonStandard(n) => {
                    e.choice_index(Index::Root(0), 3, true)?;
                    ns_encode(e, n)
                }
                EndSessionCommand::Disconnect => e.choice_index(Index::Root(1), 3, true),
                EndSessionCommand::GstnOptions(o) if *o < 5 => {
                    e.choice_index(Index::Root(2), 3, true)?;
                    e.choice_index(Index::Root(*o), 5, true)
                }
                EndSessionCommand::GstnOptions(_) => Err(not_modelled(e, "gstn option not kept")),
                EndSessionCommand::Other { ext_index, encoded } => {
                    e.choice_index(Index::Ext(*ext_index), 3, true)?;
                    e.open_type_bytes(encoded)
                }
            },
            M::MasterSlaveDeterminationRelease | M::TerminalCapabilitySetRelease => {
                e.preamble(true, false, &[]);
                Ok(())
            }
            M::UserInput(u) => u.encode(e),
            M::Other { .. } => unreachable!("handled above"),
        })?;
        Ok(enc.finish())
    }
}

#[cfg(test)]
mod tests;

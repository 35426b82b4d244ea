//! H323-UserInformation: the H.323-UU-PDU carried in the Q.931 User-user
//! IE of call-signalling messages.
//!
//! Each UUIE keeps what a gatekeeper-routed call needs (addresses, call and
//! conference identifiers, Fast Start proposals, tunnelled H.245); other
//! root components are decoded only to get past them and extension
//! additions we do not model are skipped through their open-type length.
//! Additions H.225.0 v4 defines without OPTIONAL (callIdentifier,
//! multipleCalls, maintainConnection, mediaWaitForConnect, canOverlapSend,
//! h245Tunnelling) are always encoded, and decode to their defaults when an
//! older endpoint leaves them out.

use gateway_callmodel::H225ReleaseReason;

use super::common::*;
use super::ras::{add_opt, aliases, ext_bool, ext_of, nsd, put_aliases, put_nsd, put_opt, skip};
use crate::per::{any_ext, Decoder, Encoder, Index, PerErrorKind, Result, Size};

/// fastStart / h245Control / h4501SupplementaryService: SEQUENCE OF OCTET
/// STRING, each octet string one complete PER-encoded H.245 PDU.
fn octet_strings(d: &mut Decoder<'_>) -> Result<Vec<Vec<u8>>> {
    d.sequence_of(Size::unbounded(), |d| d.octet_string(Size::unbounded()))
}

fn put_octet_strings(e: &mut Encoder, v: &[Vec<u8>]) -> Result<()> {
    e.sequence_of(v, Size::unbounded(), |e, x| {
        e.octet_string(x, Size::unbounded())
    })
}

fn protocol_identifier(d: &mut Decoder<'_>) -> Result<Vec<u64>> {
    d.field("protocolIdentifier", |d| d.object_identifier())
}

fn put_protocol_identifier(e: &mut Encoder, v: &[u64]) -> Result<()> {
    e.field("protocolIdentifier", |e| e.object_identifier(v))
}

fn add_call_id(e: &mut Encoder, v: &Option<CallIdentifier>) -> Result<Option<Vec<u8>>> {
    add_opt(e, "callIdentifier", v, |e, c| c.encode(e))
}

fn add_fast_start(e: &mut Encoder, v: &Option<Vec<Vec<u8>>>) -> Result<Option<Vec<u8>>> {
    add_opt(e, "fastStart", v, |e, f| put_octet_strings(e, f))
}

fn ext_call_id(d: &mut Decoder<'_>) -> Result<Option<CallIdentifier>> {
    ext_of(d, "callIdentifier", CallIdentifier::decode).map(Some)
}

fn ext_fast_start(d: &mut Decoder<'_>) -> Result<Option<Vec<Vec<u8>>>> {
    ext_of(d, "fastStart", octet_strings).map(Some)
}

/// Tokens and cryptoTokens (H.235) in a root: their structure is not
/// modelled, so a body carrying them cannot be walked. Bodies that are
/// extension alternatives are then reported as `UuBody::Other`.
const TOKENS_IN_ROOT: &str = "H.235 tokens in the root not supported";

null_choice!(
    /// ConferenceGoal
    ConferenceGoal {
        root: [Create, Join, Invite],
        ext: [0 => CapabilityNegotiation, 1 => CallIndependentSupplementaryService]
    }
);

null_choice!(
    /// FacilityReason
    FacilityReason {
        root: [RouteCallToGatekeeper, CallForwarded, RouteCallToMc, UndefinedReason],
        ext: [
            0 => ConferenceListChoice,
            1 => StartH245,
            2 => NoH245,
            3 => NewTokens,
            4 => FeatureSetUpdate,
            5 => ForwardedElements,
            6 => TransportedInformation,
        ]
    }
);

/// ReleaseCompleteReason, its NULL alternatives as the call model's
/// `H225ReleaseReason` (which owns the Q.850 mapping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseCompleteReason {
    /// A NULL alternative (root or addition).
    Reason(H225ReleaseReason),
    NonStandard(NonStandardParameter),
    ReplaceWithConferenceInvite([u8; 16]),
    /// securityError or an addition of a later version, with its encoding.
    Other {
        ext_index: u64,
        encoded: Vec<u8>,
    },
}

const RC_ROOT: u64 = H225ReleaseReason::ROOT_COUNT as u64;
const RC_NON_STANDARD: u64 = 5;
const RC_REPLACE: u64 = 6;

impl ReleaseCompleteReason {
    /// The call model's reason, when the alternative is one it knows.
    pub fn reason(&self) -> Option<H225ReleaseReason> {
        match self {
            ReleaseCompleteReason::Reason(r) => Some(*r),
            ReleaseCompleteReason::NonStandard(_) => Some(H225ReleaseReason::NonStandardReason),
            ReleaseCompleteReason::ReplaceWithConferenceInvite(_) => {
                Some(H225ReleaseReason::ReplaceWithConferenceInvite)
            }
            ReleaseCompleteReason::Other { ext_index, .. } => u32::try_from(*ext_index + RC_ROOT)
                .ok()
                .and_then(H225ReleaseReason::from_choice_index),
        }
    }
}

impl PerType for ReleaseCompleteReason {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(match d.choice_index(RC_ROOT, true)? {
            Index::Root(i) => ReleaseCompleteReason::Reason(
                H225ReleaseReason::from_choice_index(i as u32)
                    .ok_or_else(|| d.err(PerErrorKind::BadChoice(i)))?,
            ),
            Index::Ext(RC_NON_STANDARD) => {
                ReleaseCompleteReason::NonStandard(d.field("nonStandardReason", |d| {
                    d.open_type(NonStandardParameter::decode)
                })?)
            }
            Index::Ext(RC_REPLACE) => ReleaseCompleteReason::ReplaceWithConferenceInvite(
                d.field("replaceWithConferenceInvite", |d| {
                    d.open_type(|d| d.octets::<16>())
                })?,
            ),
            Index::Ext(x) => {
                let encoded = d.skip_open_type()?;
                match u32::try_from(x + RC_ROOT)
                    .ok()
                    .and_then(H225ReleaseReason::from_choice_index)
                {
                    // every other alternative the call model knows is NULL,
                    // except securityError, kept with its content
                    Some(r) if r != H225ReleaseReason::SecurityError => {
                        ReleaseCompleteReason::Reason(r)
                    }
                    _ => ReleaseCompleteReason::Other {
                        ext_index: x,
                        encoded,
                    },
                }
            }
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        match self {
            ReleaseCompleteReason::Reason(r) => {
                let i = r.choice_index() as u64;
                if !r.is_extension() {
                    return e.choice_index(Index::Root(i), RC_ROOT, true);
                }
                let x = i - RC_ROOT;
                if x == RC_NON_STANDARD || x == RC_REPLACE || *r == H225ReleaseReason::SecurityError
                {
                    return Err(e.err(PerErrorKind::Invalid(
                        "release reason needs its data (use NonStandard, ReplaceWithConferenceInvite or Other)",
                    )));
                }
                e.choice_index(Index::Ext(x), RC_ROOT, true)?;
                e.open_type_bytes(&[0])
            }
            ReleaseCompleteReason::NonStandard(n) => {
                e.choice_index(Index::Ext(RC_NON_STANDARD), RC_ROOT, true)?;
                e.field("nonStandardReason", |e| e.open_type(|e| n.encode(e)))
            }
            ReleaseCompleteReason::ReplaceWithConferenceInvite(c) => {
                e.choice_index(Index::Ext(RC_REPLACE), RC_ROOT, true)?;
                e.field("replaceWithConferenceInvite", |e| {
                    e.open_type(|e| e.octet_string(c, Size::fixed(16)))
                })
            }
            ReleaseCompleteReason::Other { ext_index, encoded } => {
                e.choice_index(Index::Ext(*ext_index), RC_ROOT, true)?;
                e.open_type_bytes(encoded)
            }
        }
    }
}

// ------------------------------------------------------------------ UUIEs

/// Setup-UUIE
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupUuie {
    pub protocol_identifier: Vec<u64>,
    pub h245_address: Option<TransportAddress>,
    pub source_address: Option<Vec<AliasAddress>>,
    pub source_info: EndpointType,
    pub destination_address: Option<Vec<AliasAddress>>,
    pub dest_call_signal_address: Option<TransportAddress>,
    pub dest_extra_call_info: Option<Vec<AliasAddress>>,
    pub active_mc: bool,
    pub conference_id: [u8; 16],
    pub conference_goal: ConferenceGoal,
    pub call_type: CallType,
    pub source_call_signal_address: Option<TransportAddress>,
    pub call_identifier: Option<CallIdentifier>,
    /// Fast Start proposals: each an encoded H.245 OpenLogicalChannel.
    pub fast_start: Option<Vec<Vec<u8>>>,
    pub media_wait_for_connect: bool,
    pub can_overlap_send: bool,
    pub endpoint_identifier: Option<String>,
    pub multiple_calls: bool,
    pub maintain_connection: bool,
}

impl PerType for SetupUuie {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 7)?;
        let mut m = SetupUuie {
            protocol_identifier: protocol_identifier(d)?,
            h245_address: opt(d, pre.has(0), "h245Address", TransportAddress::decode)?,
            source_address: opt(d, pre.has(1), "sourceAddress", aliases)?,
            source_info: d.field("sourceInfo", EndpointType::decode)?,
            destination_address: opt(d, pre.has(2), "destinationAddress", aliases)?,
            dest_call_signal_address: opt(
                d,
                pre.has(3),
                "destCallSignalAddress",
                TransportAddress::decode,
            )?,
            dest_extra_call_info: opt(d, pre.has(4), "destExtraCallInfo", aliases)?,
            active_mc: false,
            conference_id: [0; 16],
            conference_goal: ConferenceGoal::Create,
            call_type: CallType::PointToPoint,
            source_call_signal_address: None,
            call_identifier: None,
            fast_start: None,
            media_wait_for_connect: false,
            can_overlap_send: false,
            endpoint_identifier: None,
            multiple_calls: false,
            maintain_connection: false,
        };
        opt(d, pre.has(5), "destExtraCRV", |d| {
            d.sequence_of(Size::unbounded(), |d| d.constrained(0, 65535))
        })?;
        m.active_mc = d.field("activeMC", |d| d.bool())?;
        m.conference_id = conference_id(d)?;
        m.conference_goal = d.field("conferenceGoal", ConferenceGoal::decode)?;
        opt(d, pre.has(6), "callServices", skip_qseries_options)?;
        m.call_type = d.field("callType", CallType::decode)?;
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => {
                    m.source_call_signal_address = Some(ext_of(
                        d,
                        "sourceCallSignalAddress",
                        TransportAddress::decode,
                    )?)
                }
                2 => m.call_identifier = ext_call_id(d)?,
                6 => m.fast_start = ext_fast_start(d)?,
                7 => m.media_wait_for_connect = ext_bool(d, "mediaWaitForConnect")?,
                8 => m.can_overlap_send = ext_bool(d, "canOverlapSend")?,
                9 => m.endpoint_identifier = Some(ext_of(d, "endpointIdentifier", identifier)?),
                10 => m.multiple_calls = ext_bool(d, "multipleCalls")?,
                11 => m.maintain_connection = ext_bool(d, "maintainConnection")?,
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let mut adds = vec![None; 28];
        adds[0] = add_opt(
            e,
            "sourceCallSignalAddress",
            &self.source_call_signal_address,
            |e, a| a.encode(e),
        )?;
        adds[2] = add_call_id(e, &self.call_identifier)?;
        adds[6] = add_fast_start(e, &self.fast_start)?;
        adds[7] = add_bool(e, "mediaWaitForConnect", self.media_wait_for_connect)?;
        adds[8] = add_bool(e, "canOverlapSend", self.can_overlap_send)?;
        adds[9] = add_opt(
            e,
            "endpointIdentifier",
            &self.endpoint_identifier,
            |e, s| put_identifier(e, s),
        )?;
        adds[10] = add_bool(e, "multipleCalls", self.multiple_calls)?;
        adds[11] = add_bool(e, "maintainConnection", self.maintain_connection)?;
        e.preamble(
            true,
            any_ext(&adds),
            &[
                self.h245_address.is_some(),
                self.source_address.is_some(),
                self.destination_address.is_some(),
                self.dest_call_signal_address.is_some(),
                self.dest_extra_call_info.is_some(),
                false,
                false,
            ],
        );
        put_protocol_identifier(e, &self.protocol_identifier)?;
        put_opt(e, "h245Address", &self.h245_address, |e, a| a.encode(e))?;
        put_opt(e, "sourceAddress", &self.source_address, |e, a| {
            put_aliases(e, a)
        })?;
        e.field("sourceInfo", |e| self.source_info.encode(e))?;
        put_opt(
            e,
            "destinationAddress",
            &self.destination_address,
            |e, a| put_aliases(e, a),
        )?;
        put_opt(
            e,
            "destCallSignalAddress",
            &self.dest_call_signal_address,
            |e, a| a.encode(e),
        )?;
        put_opt(
            e,
            "destExtraCallInfo",
            &self.dest_extra_call_info,
            |e, a| put_aliases(e, a),
        )?;
        e.bool(self.active_mc);
        put_conference_id(e, &self.conference_id)?;
        e.field("conferenceGoal", |e| self.conference_goal.encode(e))?;
        e.field("callType", |e| self.call_type.encode(e))?;
        e.extensions(&adds)
    }
}

/// CallProceeding-UUIE and Alerting-UUIE share their modelled fields (and
/// their root): protocolIdentifier, destinationInfo, h245Address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProceedingUuie {
    pub protocol_identifier: Vec<u64>,
    pub destination_info: EndpointType,
    pub h245_address: Option<TransportAddress>,
    pub call_identifier: Option<CallIdentifier>,
    pub fast_start: Option<Vec<Vec<u8>>>,
    pub multiple_calls: bool,
    pub maintain_connection: bool,
    /// fastConnectRefused: the callee will not use Fast Start.
    pub fast_connect_refused: bool,
}

/// Extension-addition positions in CallProceeding-UUIE / Alerting-UUIE.
struct ProceedingLayout {
    count: usize,
    fast_connect_refused: usize,
}

const CALL_PROCEEDING: ProceedingLayout = ProceedingLayout {
    count: 9,
    fast_connect_refused: 7,
};
const ALERTING: ProceedingLayout = ProceedingLayout {
    count: 15,
    fast_connect_refused: 10,
};

impl ProceedingUuie {
    fn decode_with(d: &mut Decoder<'_>, l: &ProceedingLayout) -> Result<Self> {
        let pre = d.preamble(true, 1)?;
        let mut m = ProceedingUuie {
            protocol_identifier: protocol_identifier(d)?,
            destination_info: d.field("destinationInfo", EndpointType::decode)?,
            h245_address: opt(d, pre.has(0), "h245Address", TransportAddress::decode)?,
            call_identifier: None,
            fast_start: None,
            multiple_calls: false,
            maintain_connection: false,
            fast_connect_refused: false,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => m.call_identifier = ext_call_id(d)?,
                4 => m.fast_start = ext_fast_start(d)?,
                5 => m.multiple_calls = ext_bool(d, "multipleCalls")?,
                6 => m.maintain_connection = ext_bool(d, "maintainConnection")?,
                i if i == l.fast_connect_refused => {
                    skip(d)?;
                    m.fast_connect_refused = true;
                }
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode_with(&self, e: &mut Encoder, l: &ProceedingLayout) -> Result<()> {
        let mut adds = vec![None; l.count];
        adds[0] = add_call_id(e, &self.call_identifier)?;
        adds[4] = add_fast_start(e, &self.fast_start)?;
        adds[5] = add_bool(e, "multipleCalls", self.multiple_calls)?;
        adds[6] = add_bool(e, "maintainConnection", self.maintain_connection)?;
        adds[l.fast_connect_refused] = add_null(self.fast_connect_refused);
        e.preamble(true, any_ext(&adds), &[self.h245_address.is_some()]);
        put_protocol_identifier(e, &self.protocol_identifier)?;
        e.field("destinationInfo", |e| self.destination_info.encode(e))?;
        put_opt(e, "h245Address", &self.h245_address, |e, a| a.encode(e))?;
        e.extensions(&adds)
    }
}

/// Connect-UUIE
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectUuie {
    pub protocol_identifier: Vec<u64>,
    pub h245_address: Option<TransportAddress>,
    pub destination_info: EndpointType,
    pub conference_id: [u8; 16],
    pub call_identifier: Option<CallIdentifier>,
    pub fast_start: Option<Vec<Vec<u8>>>,
    pub multiple_calls: bool,
    pub maintain_connection: bool,
    pub fast_connect_refused: bool,
}

impl PerType for ConnectUuie {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 1)?;
        let mut m = ConnectUuie {
            protocol_identifier: protocol_identifier(d)?,
            h245_address: opt(d, pre.has(0), "h245Address", TransportAddress::decode)?,
            destination_info: d.field("destinationInfo", EndpointType::decode)?,
            conference_id: conference_id(d)?,
            call_identifier: None,
            fast_start: None,
            multiple_calls: false,
            maintain_connection: false,
            fast_connect_refused: false,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => m.call_identifier = ext_call_id(d)?,
                4 => m.fast_start = ext_fast_start(d)?,
                5 => m.multiple_calls = ext_bool(d, "multipleCalls")?,
                6 => m.maintain_connection = ext_bool(d, "maintainConnection")?,
                11 => {
                    skip(d)?;
                    m.fast_connect_refused = true;
                }
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let mut adds = vec![None; 16];
        adds[0] = add_call_id(e, &self.call_identifier)?;
        adds[4] = add_fast_start(e, &self.fast_start)?;
        adds[5] = add_bool(e, "multipleCalls", self.multiple_calls)?;
        adds[6] = add_bool(e, "maintainConnection", self.maintain_connection)?;
        adds[11] = add_null(self.fast_connect_refused);
        e.preamble(true, any_ext(&adds), &[self.h245_address.is_some()]);
        put_protocol_identifier(e, &self.protocol_identifier)?;
        put_opt(e, "h245Address", &self.h245_address, |e, a| a.encode(e))?;
        e.field("destinationInfo", |e| self.destination_info.encode(e))?;
        put_conference_id(e, &self.conference_id)?;
        e.extensions(&adds)
    }
}

/// ReleaseComplete-UUIE
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseCompleteUuie {
    pub protocol_identifier: Vec<u64>,
    pub reason: Option<ReleaseCompleteReason>,
    pub call_identifier: Option<CallIdentifier>,
}

impl PerType for ReleaseCompleteUuie {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 1)?;
        let mut m = ReleaseCompleteUuie {
            protocol_identifier: protocol_identifier(d)?,
            reason: opt(d, pre.has(0), "reason", ReleaseCompleteReason::decode)?,
            call_identifier: None,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => m.call_identifier = ext_call_id(d)?,
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let mut adds = vec![None; 11];
        adds[0] = add_call_id(e, &self.call_identifier)?;
        e.preamble(true, any_ext(&adds), &[self.reason.is_some()]);
        put_protocol_identifier(e, &self.protocol_identifier)?;
        put_opt(e, "reason", &self.reason, |e, r| r.encode(e))?;
        e.extensions(&adds)
    }
}

/// Facility-UUIE
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacilityUuie {
    pub protocol_identifier: Vec<u64>,
    pub alternative_address: Option<TransportAddress>,
    pub alternative_alias_address: Option<Vec<AliasAddress>>,
    pub conference_id: Option<[u8; 16]>,
    pub reason: FacilityReason,
    pub call_identifier: Option<CallIdentifier>,
    pub h245_address: Option<TransportAddress>,
    pub fast_start: Option<Vec<Vec<u8>>>,
    pub multiple_calls: bool,
    pub maintain_connection: bool,
}

impl PerType for FacilityUuie {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 3)?;
        let mut m = FacilityUuie {
            protocol_identifier: protocol_identifier(d)?,
            alternative_address: opt(
                d,
                pre.has(0),
                "alternativeAddress",
                TransportAddress::decode,
            )?,
            alternative_alias_address: opt(d, pre.has(1), "alternativeAliasAddress", aliases)?,
            conference_id: opt(d, pre.has(2), "conferenceID", |d| d.octets::<16>())?,
            reason: d.field("reason", FacilityReason::decode)?,
            call_identifier: None,
            h245_address: None,
            fast_start: None,
            multiple_calls: false,
            maintain_connection: false,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => m.call_identifier = ext_call_id(d)?,
                6 => m.h245_address = Some(ext_of(d, "h245Address", TransportAddress::decode)?),
                7 => m.fast_start = ext_fast_start(d)?,
                8 => m.multiple_calls = ext_bool(d, "multipleCalls")?,
                9 => m.maintain_connection = ext_bool(d, "maintainConnection")?,
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let mut adds = vec![None; 16];
        adds[0] = add_call_id(e, &self.call_identifier)?;
        adds[6] = add_opt(e, "h245Address", &self.h245_address, |e, a| a.encode(e))?;
        adds[7] = add_fast_start(e, &self.fast_start)?;
        adds[8] = add_bool(e, "multipleCalls", self.multiple_calls)?;
        adds[9] = add_bool(e, "maintainConnection", self.maintain_connection)?;
        e.preamble(
            true,
            any_ext(&adds),
            &[
                self.alternative_address.is_some(),
                self.alternative_alias_address.is_some(),
                self.conference_id.is_some(),
            ],
        );
        put_protocol_identifier(e, &self.protocol_identifier)?;
        put_opt(
            e,
            "alternativeAddress",
            &self.alternative_address,
            |e, a| a.encode(e),
        )?;
        put_opt(
            e,
            "alternativeAliasAddress",
            &self.alternative_alias_address,
            |e, a| put_aliases(e, a),
        )?;
        put_opt(e, "conferenceID", &self.conference_id, |e, c| {
            e.octet_string(c, Size::fixed(16))
        })?;
        e.field("reason", |e| self.reason.encode(e))?;
        e.extensions(&adds)
    }
}

/// Progress-UUIE (an extension alternative of the body: H.225.0 v3+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressUuie {
    pub protocol_identifier: Vec<u64>,
    pub destination_info: EndpointType,
    pub h245_address: Option<TransportAddress>,
    pub call_identifier: CallIdentifier,
    pub fast_start: Option<Vec<Vec<u8>>>,
    pub multiple_calls: bool,
    pub maintain_connection: bool,
    pub fast_connect_refused: bool,
}

impl PerType for ProgressUuie {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 5)?;
        let protocol_identifier = protocol_identifier(d)?;
        let destination_info = d.field("destinationInfo", EndpointType::decode)?;
        let h245_address = opt(d, pre.has(0), "h245Address", TransportAddress::decode)?;
        let call_identifier = d.field("callIdentifier", CallIdentifier::decode)?;
        if pre.has(1) || pre.has(2) || pre.has(3) {
            // h245SecurityMode, tokens, cryptoTokens
            return Err(d.err(PerErrorKind::Invalid(TOKENS_IN_ROOT)));
        }
        let fast_start = opt(d, pre.has(4), "fastStart", octet_strings)?;
        let mut m = ProgressUuie {
            protocol_identifier,
            destination_info,
            h245_address,
            call_identifier,
            fast_start,
            multiple_calls: false,
            maintain_connection: false,
            fast_connect_refused: false,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => m.multiple_calls = ext_bool(d, "multipleCalls")?,
                1 => m.maintain_connection = ext_bool(d, "maintainConnection")?,
                2 => {
                    skip(d)?;
                    m.fast_connect_refused = true;
                }
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let adds = vec![
            add_bool(e, "multipleCalls", self.multiple_calls)?,
            add_bool(e, "maintainConnection", self.maintain_connection)?,
            add_null(self.fast_connect_refused),
        ];
        e.preamble(
            true,
            true,
            &[
                self.h245_address.is_some(),
                false,
                false,
                false,
                self.fast_start.is_some(),
            ],
        );
        put_protocol_identifier(e, &self.protocol_identifier)?;
        e.field("destinationInfo", |e| self.destination_info.encode(e))?;
        put_opt(e, "h245Address", &self.h245_address, |e, a| a.encode(e))?;
        e.field("callIdentifier", |e| self.call_identifier.encode(e))?;
        put_opt(e, "fastStart", &self.fast_start, |e, f| {
            put_octet_strings(e, f)
        })?;
        e.extensions(&adds)
    }
}

/// Information-UUIE
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InformationUuie {
    pub protocol_identifier: Vec<u64>,
    pub call_identifier: Option<CallIdentifier>,
    pub fast_start: Option<Vec<Vec<u8>>>,
}

impl PerType for InformationUuie {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 0)?;
        let mut m = InformationUuie {
            protocol_identifier: protocol_identifier(d)?,
            call_identifier: None,
            fast_start: None,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => m.call_identifier = ext_call_id(d)?,
                3 => m.fast_start = ext_fast_start(d)?,
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let mut adds = vec![None; 6];
        adds[0] = add_call_id(e, &self.call_identifier)?;
        adds[3] = add_fast_start(e, &self.fast_start)?;
        e.preamble(true, any_ext(&adds), &[]);
        put_protocol_identifier(e, &self.protocol_identifier)?;
        e.extensions(&adds)
    }
}

/// Status-UUIE, StatusInquiry-UUIE, SetupAcknowledge-UUIE and Notify-UUIE:
/// protocolIdentifier and callIdentifier (tokens refused, see
/// `TOKENS_IN_ROOT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallIdUuie {
    pub protocol_identifier: Vec<u64>,
    pub call_identifier: CallIdentifier,
}

impl PerType for CallIdUuie {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 2)?;
        let m = CallIdUuie {
            protocol_identifier: protocol_identifier(d)?,
            call_identifier: d.field("callIdentifier", CallIdentifier::decode)?,
        };
        if pre.has(0) || pre.has(1) {
            return Err(d.err(PerErrorKind::Invalid(TOKENS_IN_ROOT)));
        }
        let ext = d.ext_bitmap(pre.extended)?;
        d.skip_extensions(&ext)?;
        Ok(m)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(true, false, &[false, false]);
        put_protocol_identifier(e, &self.protocol_identifier)?;
        e.field("callIdentifier", |e| self.call_identifier.encode(e))
    }
}

/// h323-message-body
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UuBody {
    Setup(SetupUuie),
    CallProceeding(ProceedingUuie),
    Connect(ConnectUuie),
    Alerting(ProceedingUuie),
    Information(InformationUuie),
    ReleaseComplete(ReleaseCompleteUuie),
    Facility(FacilityUuie),
    Progress(ProgressUuie),
    /// No body: the PDU only carries tunnelled H.245 or other controls.
    Empty,
    Status(CallIdUuie),
    StatusInquiry(CallIdUuie),
    SetupAcknowledge(CallIdUuie),
    Notify(CallIdUuie),
    /// An extension alternative we do not model (or one whose content we
    /// cannot walk, such as a Status with H.235 tokens), with its encoding.
    Other {
        ext_index: u64,
        encoded: Vec<u8>,
    },
}

const BODY_ROOT: u64 = 7;

impl UuBody {
    /// The ASN.1 name of the alternative (for logs).
    pub fn name(&self) -> &'static str {
        match self {
            UuBody::Setup(_) => "setup",
            UuBody::CallProceeding(_) => "callProceeding",
            UuBody::Connect(_) => "connect",
            UuBody::Alerting(_) => "alerting",
            UuBody::Information(_) => "information",
            UuBody::ReleaseComplete(_) => "releaseComplete",
            UuBody::Facility(_) => "facility",
            UuBody::Progress(_) => "progress",
            UuBody::Empty => "empty",
            UuBody::Status(_) => "status",
            UuBody::StatusInquiry(_) => "statusInquiry",
            UuBody::SetupAcknowledge(_) => "setupAcknowledge",
            UuBody::Notify(_) => "notify",
            UuBody::Other { .. } => "unknown extension",
        }
    }
}

/// Decodes an extension alternative's open type; content that is well
/// formed but not walkable (tokens) makes the body `Other`.
fn ext_body<T: PerType>(
    d: &mut Decoder<'_>,
    x: u64,
    name: &'static str,
    wrap: impl FnOnce(T) -> UuBody,
) -> Result<UuBody> {
    let encoded = d.skip_open_type()?;
    let r = d.field(name, |d| {
        let mut sub = d.sub_decoder(&encoded);
        T::decode(&mut sub)
    });
    match r {
        Ok(v) => Ok(wrap(v)),
        Err(e) if e.kind == PerErrorKind::Invalid(TOKENS_IN_ROOT) => Ok(UuBody::Other {
            ext_index: x,
            encoded,
        }),
        Err(e) => Err(e),
    }
}

impl PerType for UuBody {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(match d.choice_index(BODY_ROOT, true)? {
            Index::Root(0) => UuBody::Setup(d.field("setup", SetupUuie::decode)?),
            Index::Root(1) => UuBody::CallProceeding(d.field("callProceeding", |d| {
                ProceedingUuie::decode_with(d, &CALL_PROCEEDING)
            })?),
            Index::Root(2) => UuBody::Connect(d.field("connect", ConnectUuie::decode)?),
            Index::Root(3) => UuBody::Alerting(
                d.field("alerting", |d| ProceedingUuie::decode_with(d, &ALERTING))?,
            ),
            Index::Root(4) => UuBody::Information(d.field("information", InformationUuie::decode)?),
            Index::Root(5) => {
                UuBody::ReleaseComplete(d.field("releaseComplete", ReleaseCompleteUuie::decode)?)
            }
            Index::Root(_) => UuBody::Facility(d.field("facility", FacilityUuie::decode)?),
            Index::Ext(0) => ext_body(d, 0, "progress", UuBody::Progress)?,
            Index::Ext(1) => {
                d.field("empty", |d| d.skip_open_type())?;
                UuBody::Empty
            }
            Index::Ext(2) => ext_body(d, 2, "status", UuBody::Status)?,
            Index::Ext(3) => ext_body(d, 3, "statusInquiry", UuBody::StatusInquiry)?,
            Index::Ext(4) => ext_body(d, 4, "setupAcknowledge", UuBody::SetupAcknowledge)?,
            Index::Ext(5) => ext_body(d, 5, "notify", UuBody::Notify)?,
            Index::Ext(x) => UuBody::Other {
                ext_index: x,
                encoded: d.skip_open_type()?,
            },
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let name = self.name();
        let root = |e: &mut Encoder, i: u64| e.choice_index(Index::Root(i), BODY_ROOT, true);
        let ext = |e: &mut Encoder, i: u64, f: &dyn Fn(&mut Encoder) -> Result<()>| {
            e.choice_index(Index::Ext(i), BODY_ROOT, true)?;
            e.field(name, |e| e.open_type(f))
        };
        match self {
            UuBody::Setup(m) => {
                root(e, 0)?;
                e.field(name, |e| m.encode(e))
            }
            UuBody::CallProceeding(m) => {
                root(e, 1)?;
                e.field(name, |e| m.encode_with(e, &CALL_PROCEEDING))
            }
            UuBody::Connect(m) => {
                root(e, 2)?;
                e.field(name, |e| m.encode(e))
            }
            UuBody::Alerting(m) => {
                root(e, 3)?;
                e.field(name, |e| m.encode_with(e, &ALERTING))
            }
            UuBody::Information(m) => {
                root(e, 4)?;
                e.field(name, |e| m.encode(e))
            }
            UuBody::ReleaseComplete(m) => {
                root(e, 5)?;
                e.field(name, |e| m.encode(e))
            }
            UuBody::Facility(m) => {
                root(e, 6)?;
                e.field(name, |e| m.encode(e))
            }
            UuBody::Progress(m) => ext(e, 0, &|e| m.encode(e)),
            UuBody::Empty => {
                e.choice_index(Index::Ext(1), BODY_ROOT, true)?;
                e.open_type_bytes(&[0])
            }
            UuBody::Status(m) => ext(e, 2, &|e| m.encode(e)),
            UuBody::StatusInquiry(m) => ext(e, 3, &|e| m.encode(e)),
            UuBody::SetupAcknowledge(m) => ext(e, 4, &|e| m.encode(e)),
            UuBody::Notify(m) => ext(e, 5, &|e| m.encode(e)),
            UuBody::Other { ext_index, encoded } => {
                e.choice_index(Index::Ext(*ext_index), BODY_ROOT, true)?;
                e.open_type_bytes(encoded)
            }
        }
    }
}

/// H323-UU-PDU
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H323UuPdu {
    pub body: UuBody,
    pub non_standard_data: Option<NonStandardParameter>,
    /// h4501SupplementaryService: H.450 APDUs, kept encoded.
    pub h4501_supplementary_service: Option<Vec<Vec<u8>>>,
    /// The sender tunnels H.245 in this call signalling channel.
    pub h245_tunnelling: bool,
    /// Tunnelled H.245 PDUs (each a MultimediaSystemControlMessage).
    pub h245_control: Option<Vec<Vec<u8>>>,
}

impl H323UuPdu {
    pub fn new(body: UuBody) -> Self {
        H323UuPdu {
            body,
            non_standard_data: None,
            h4501_supplementary_service: None,
            h245_tunnelling: false,
            h245_control: None,
        }
    }
}

impl PerType for H323UuPdu {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 1)?;
        let mut m = H323UuPdu::new(d.field("h323-message-body", UuBody::decode)?);
        m.non_standard_data = nsd(d, pre.has(0))?;
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => {
                    m.h4501_supplementary_service =
                        Some(ext_of(d, "h4501SupplementaryService", octet_strings)?)
                }
                1 => m.h245_tunnelling = ext_bool(d, "h245Tunnelling")?,
                2 => m.h245_control = Some(ext_of(d, "h245Control", octet_strings)?),
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let mut adds = vec![None; 9];
        adds[0] = add_opt(
            e,
            "h4501SupplementaryService",
            &self.h4501_supplementary_service,
            |e, v| put_octet_strings(e, v),
        )?;
        adds[1] = add_bool(e, "h245Tunnelling", self.h245_tunnelling)?;
        adds[2] = add_opt(e, "h245Control", &self.h245_control, |e, v| {
            put_octet_strings(e, v)
        })?;
        e.preamble(true, true, &[self.non_standard_data.is_some()]);
        e.field("h323-message-body", |e| self.body.encode(e))?;
        put_nsd(e, &self.non_standard_data)?;
        e.extensions(&adds)
    }
}

/// user-data of H323-UserInformation (rarely sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserData {
    pub protocol_discriminator: u8,
    pub user_information: Vec<u8>,
}

/// H323-UserInformation: the content of the Q.931 User-user IE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H323UserInformation {
    pub pdu: H323UuPdu,
    pub user_data: Option<UserData>,
}

impl H323UserInformation {
    pub fn new(body: UuBody) -> Self {
        H323UserInformation {
            pdu: H323UuPdu::new(body),
            user_data: None,
        }
    }

    /// Decodes the User-user IE's payload (after its protocol discriminator).
    pub fn decode(data: &[u8]) -> Result<Self> {
        let mut d = Decoder::with_root(data, "H323-UserInformation");
        let d = &mut d;
        let pre = d.preamble(true, 1)?;
        let pdu = d.field("h323-uu-pdu", H323UuPdu::decode)?;
        let user_data = opt(d, pre.has(0), "user-data", |d| {
            let pre = d.preamble(true, 0)?;
            let u = UserData {
                protocol_discriminator: d
                    .field("protocol-discriminator", |d| d.constrained(0, 255))?
                    as u8,
                user_information: d
                    .field("user-information", |d| d.octet_string(Size::range(1, 131)))?,
            };
            let ext = d.ext_bitmap(pre.extended)?;
            d.skip_extensions(&ext)?;
            Ok(u)
        })?;
        let ext = d.ext_bitmap(pre.extended)?;
        d.skip_extensions(&ext)?;
        Ok(H323UserInformation { pdu, user_data })
    }

    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut enc = Encoder::with_root("H323-UserInformation");
        let e = &mut enc;
        e.preamble(true, false, &[self.user_data.is_some()]);
        e.field("h323-uu-pdu", |e| self.pdu.encode(e))?;
        if let Some(u) = &self.user_data {
            e.field("user-data", |e| {
                e.preamble(true, false, &[]);
                e.constrained(u.protocol_discriminator as i64, 0, 255)?;
                e.octet_string(&u.user_information, Size::range(1, 131))
            })?;
        }
        Ok(enc.finish())
    }
}

#[cfg(test)]
mod tests;

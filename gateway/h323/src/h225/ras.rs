//! H.225.0 RAS messages (RasMessage CHOICE) in aligned PER.
//!
//! Each message keeps the fields a gatekeeper needs; every other field is
//! decoded only to get past it (root components) or skipped through its
//! open-type length (extension additions). Extension additions are numbered
//! from 0 after the `...` of their SEQUENCE in H.225.0 (12/2009).

use super::common::*;
use crate::per::{any_ext, Decoder, Encoder, Index, Result};

pub(crate) fn nsd(d: &mut Decoder<'_>, present: bool) -> Result<Option<NonStandardParameter>> {
    opt(d, present, "nonStandardData", NonStandardParameter::decode)
}

pub(crate) fn put_nsd(e: &mut Encoder, v: &Option<NonStandardParameter>) -> Result<()> {
    match v {
        Some(n) => e.field("nonStandardData", |e| n.encode(e)),
        None => Ok(()),
    }
}

pub(crate) fn put_opt<T>(
    e: &mut Encoder,
    name: &'static str,
    v: &Option<T>,
    f: impl FnOnce(&mut Encoder, &T) -> Result<()>,
) -> Result<()> {
    match v {
        Some(x) => e.field(name, |e| f(e, x)),
        None => Ok(()),
    }
}

pub(crate) fn aliases(d: &mut Decoder<'_>) -> Result<Vec<AliasAddress>> {
    seq_of(d)
}

pub(crate) fn put_aliases(e: &mut Encoder, v: &[AliasAddress]) -> Result<()> {
    put_seq_of(e, v)
}

pub(crate) fn ext_bool(d: &mut Decoder<'_>, name: &'static str) -> Result<bool> {
    d.field(name, |d| d.open_type(|d| d.bool()))
}

pub(crate) fn ext_of<'a, T>(
    d: &mut Decoder<'a>,
    name: &'static str,
    f: impl FnOnce(&mut Decoder<'a>) -> Result<T>,
) -> Result<T> {
    d.field(name, |d| d.open_type(f))
}

pub(crate) fn add_opt<T>(
    e: &mut Encoder,
    name: &'static str,
    v: &Option<T>,
    f: impl FnOnce(&mut Encoder, &T) -> Result<()>,
) -> Result<Option<Vec<u8>>> {
    match v {
        Some(x) => add(e, name, |e| f(e, x)),
        None => Ok(None),
    }
}

/// Skips one extension addition: for additions a message does not model.
pub(crate) fn skip(d: &mut Decoder<'_>) -> Result<()> {
    d.skip_open_type().map(|_| ())
}

/// The H.235 fields of a RAS message, carried beside it as they travel
/// (each the content of its extension addition's open type). The message
/// structs stay as they are for the many callers that do no security;
/// [`crate::h235`] reads and builds these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RasSecurity {
    /// `tokens`: SEQUENCE OF ClearToken.
    pub tokens: Option<Vec<u8>>,
    /// `cryptoTokens`: SEQUENCE OF CryptoH323Token.
    pub crypto_tokens: Option<Vec<u8>>,
    /// GRQ `authenticationCapability`: SEQUENCE OF AuthenticationMechanism.
    pub authentication_capability: Option<Vec<u8>>,
    /// GRQ `algorithmOIDs`: SEQUENCE OF OBJECT IDENTIFIER.
    pub algorithm_oids: Option<Vec<u8>>,
    /// GCF `authenticationMode`: AuthenticationMechanism.
    pub authentication_mode: Option<Vec<u8>>,
    /// GCF `algorithmOID`.
    pub algorithm_oid: Option<Vec<u8>>,
}

impl RasSecurity {
    pub fn is_empty(&self) -> bool {
        *self == RasSecurity::default()
    }
}

/// Decoding and encoding with the H.235 fields beside the message. For
/// messages that carry none we model, the plain codec.
pub(crate) trait Secured: PerType {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let _ = sec;
        Self::decode(d)
    }
    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let _ = sec;
        self.encode(e)
    }
}

/// The plain codec of a message whose H.235 fields are modelled: they are
/// dropped on decoding and absent on encoding.
macro_rules! secured_per_type {
    ($t:ty) => {
        impl PerType for $t {
            fn decode(d: &mut Decoder<'_>) -> Result<Self> {
                Self::decode_sec(d, &mut RasSecurity::default())
            }
            fn encode(&self, e: &mut Encoder) -> Result<()> {
                self.encode_sec(e, &RasSecurity::default())
            }
        }
    };
}

// ------------------------------------------------------------- reasons

null_choice!(
    GatekeeperRejectReason {
        root: [ResourceUnavailable, TerminalExcluded, InvalidRevision, UndefinedReason],
        ext: [0 => SecurityDenial, 1 => GenericDataReason, 2 => NeededFeatureNotSupported]
    }
);

null_choice!(
    UnregRequestReason {
        root: [ReregistrationRequired, TtlExpired, SecurityDenial, UndefinedReason],
        ext: [0 => Maintenance, 2 => RegisterWithAssignedGk]
    }
);

null_choice!(
    UnregRejectReason {
        root: [NotCurrentlyRegistered, CallInProgress, UndefinedReason],
        ext: [0 => PermissionDenied, 1 => SecurityDenial]
    }
);

null_choice!(
    AdmissionRejectReason {
        root: [
            CalledPartyNotRegistered,
            InvalidPermission,
            RequestDenied,
            UndefinedReason,
            CallerNotRegistered,
            RouteCallToGatekeeper,
            InvalidEndpointIdentifier,
            ResourceUnavailable,
        ],
        ext: [
            0 => SecurityDenial,
            1 => QosControlNotSupported,
            2 => IncompleteAddress,
            3 => AliasesInconsistent,
            5 => ExceedsCallCapacity,
            6 => CollectDestination,
            7 => CollectPin,
            8 => GenericDataReason,
            9 => NeededFeatureNotSupported,
            11 => SecurityDhMismatch,
            12 => NoRouteToDestination,
            13 => UnallocatedNumber,
            14 => RegisterWithAssignedGk,
        ]
    }
);

null_choice!(
    BandRejectReason {
        root: [
            NotBound,
            InvalidConferenceId,
            InvalidPermission,
            InsufficientResources,
            InvalidRevision,
            UndefinedReason,
        ],
        ext: [0 => SecurityDenial]
    }
);

null_choice!(DisengageReason {
    root: [ForcedDrop, NormalDrop, UndefinedReason],
    ext: []
});

null_choice!(
    DisengageRejectReason {
        root: [NotRegistered, RequestToDropOther],
        ext: [0 => SecurityDenial]
    }
);

null_choice!(
    LocationRejectReason {
        root: [NotRegistered, InvalidPermission, RequestDenied, UndefinedReason],
        ext: [
            0 => SecurityDenial,
            1 => AliasesInconsistent,
            3 => ResourceUnavailable,
            4 => GenericDataReason,
            5 => NeededFeatureNotSupported,
            6 => HopCountExceeded,
            7 => IncompleteAddress,
            9 => SecurityDhMismatch,
            10 => NoRouteToDestination,
            11 => UnallocatedNumber,
        ]
    }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationRejectReason {
    DiscoveryRequired,
    InvalidRevision,
    InvalidCallSignalAddress,
    InvalidRasAddress,
    DuplicateAlias(Vec<AliasAddress>),
    InvalidTerminalType,
    UndefinedReason,
    TransportNotSupported,
    TransportQosNotSupported,
    ResourceUnavailable,
    InvalidAlias,
    SecurityDenial,
    FullRegistrationRequired,
    AdditiveRegistrationNotSupported,
    GenericDataReason,
    NeededFeatureNotSupported,
    RegisterWithAssignedGk,
    /// invalidTerminalAliases, securityError or a later addition.
    Other {
        ext_index: u64,
        encoded: Vec<u8>,
    },
}

impl PerType for RegistrationRejectReason {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        use RegistrationRejectReason as R;
        Ok(match d.choice_index(8, true)? {
            Index::Root(0) => R::DiscoveryRequired,
            Index::Root(1) => R::InvalidRevision,
            Index::Root(2) => R::InvalidCallSignalAddress,
            Index::Root(3) => R::InvalidRasAddress,
            Index::Root(4) => R::DuplicateAlias(d.field("duplicateAlias", aliases)?),
            Index::Root(5) => R::InvalidTerminalType,
            Index::Root(6) => R::UndefinedReason,
            Index::Root(_) => R::TransportNotSupported,
            Index::Ext(x) => {
                let encoded = d.skip_open_type()?;
                match x {
                    0 => R::TransportQosNotSupported,
                    1 => R::ResourceUnavailable,
                    2 => R::InvalidAlias,
                    3 => R::SecurityDenial,
                    4 => R::FullRegistrationRequired,
                    5 => R::AdditiveRegistrationNotSupported,
                    7 => R::GenericDataReason,
                    8 => R::NeededFeatureNotSupported,
                    10 => R::RegisterWithAssignedGk,
                    _ => R::Other {
                        ext_index: x,
                        encoded,
                    },
                }
            }
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        use RegistrationRejectReason as R;
        let idx = match self {
            R::DiscoveryRequired => Index::Root(0),
            R::InvalidRevision => Index::Root(1),
            R::InvalidCallSignalAddress => Index::Root(2),
            R::InvalidRasAddress => Index::Root(3),
            R::DuplicateAlias(_) => Index::Root(4),
            R::InvalidTerminalType => Index::Root(5),
            R::UndefinedReason => Index::Root(6),
            R::TransportNotSupported => Index::Root(7),
            R::TransportQosNotSupported => Index::Ext(0),
            R::ResourceUnavailable => Index::Ext(1),
            R::InvalidAlias => Index::Ext(2),
            R::SecurityDenial => Index::Ext(3),
            R::FullRegistrationRequired => Index::Ext(4),
            R::AdditiveRegistrationNotSupported => Index::Ext(5),
            R::GenericDataReason => Index::Ext(7),
            R::NeededFeatureNotSupported => Index::Ext(8),
            R::RegisterWithAssignedGk => Index::Ext(10),
            R::Other { ext_index, .. } => Index::Ext(*ext_index),
        };
        e.choice_index(idx, 8, true)?;
        match self {
            R::DuplicateAlias(a) => e.field("duplicateAlias", |e| put_aliases(e, a)),
            R::Other { encoded, .. } => e.open_type_bytes(encoded),
            _ if matches!(idx, Index::Ext(_)) => e.open_type_bytes(&[0]),
            _ => Ok(()),
        }
    }
}

// ------------------------------------------------------------ messages

/// GRQ
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatekeeperRequest {
    pub request_seq_num: u16,
    pub protocol_identifier: Vec<u64>,
    pub non_standard_data: Option<NonStandardParameter>,
    pub ras_address: TransportAddress,
    pub endpoint_type: EndpointType,
    pub gatekeeper_identifier: Option<String>,
    pub endpoint_alias: Option<Vec<AliasAddress>>,
    pub supports_alt_gk: bool,
}

impl Secured for GatekeeperRequest {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 4)?;
        let mut m = GatekeeperRequest {
            request_seq_num: seq_num(d)?,
            protocol_identifier: d.field("protocolIdentifier", |d| d.object_identifier())?,
            non_standard_data: nsd(d, pre.has(0))?,
            ras_address: d.field("rasAddress", TransportAddress::decode)?,
            endpoint_type: d.field("endpointType", EndpointType::decode)?,
            gatekeeper_identifier: opt(d, pre.has(1), "gatekeeperIdentifier", identifier)?,
            endpoint_alias: None,
            supports_alt_gk: false,
        };
        opt(d, pre.has(2), "callServices", skip_qseries_options)?;
        m.endpoint_alias = opt(d, pre.has(3), "endpointAlias", aliases)?;
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                7 => {
                    skip(d)?;
                    m.supports_alt_gk = true;
                }
                1 => sec.tokens = Some(d.skip_open_type()?),
                2 => sec.crypto_tokens = Some(d.skip_open_type()?),
                3 => sec.authentication_capability = Some(d.skip_open_type()?),
                4 => sec.algorithm_oids = Some(d.skip_open_type()?),
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let mut adds = vec![None; 12];
        adds[1] = sec.tokens.clone();
        adds[2] = sec.crypto_tokens.clone();
        adds[3] = sec.authentication_capability.clone();
        adds[4] = sec.algorithm_oids.clone();
        adds[7] = add_null(self.supports_alt_gk);
        e.preamble(
            true,
            any_ext(&adds),
            &[
                self.non_standard_data.is_some(),
                self.gatekeeper_identifier.is_some(),
                false,
                self.endpoint_alias.is_some(),
            ],
        );
        put_seq_num(e, self.request_seq_num)?;
        e.field("protocolIdentifier", |e| {
            e.object_identifier(&self.protocol_identifier)
        })?;
        put_nsd(e, &self.non_standard_data)?;
        e.field("rasAddress", |e| self.ras_address.encode(e))?;
        e.field("endpointType", |e| self.endpoint_type.encode(e))?;
        put_opt(
            e,
            "gatekeeperIdentifier",
            &self.gatekeeper_identifier,
            |e, v| put_identifier(e, v),
        )?;
        put_opt(e, "endpointAlias", &self.endpoint_alias, |e, v| {
            put_aliases(e, v)
        })?;
        e.extensions(&adds)
    }
}

secured_per_type!(GatekeeperRequest);

/// GCF
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatekeeperConfirm {
    pub request_seq_num: u16,
    pub protocol_identifier: Vec<u64>,
    pub non_standard_data: Option<NonStandardParameter>,
    pub gatekeeper_identifier: Option<String>,
    pub ras_address: TransportAddress,
}

impl Secured for GatekeeperConfirm {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 2)?;
        let m = GatekeeperConfirm {
            request_seq_num: seq_num(d)?,
            protocol_identifier: d.field("protocolIdentifier", |d| d.object_identifier())?,
            non_standard_data: nsd(d, pre.has(0))?,
            gatekeeper_identifier: opt(d, pre.has(1), "gatekeeperIdentifier", identifier)?,
            ras_address: d.field("rasAddress", TransportAddress::decode)?,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                1 => sec.authentication_mode = Some(d.skip_open_type()?),
                2 => sec.tokens = Some(d.skip_open_type()?),
                3 => sec.crypto_tokens = Some(d.skip_open_type()?),
                4 => sec.algorithm_oid = Some(d.skip_open_type()?),
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let mut adds = vec![None; 11];
        adds[1] = sec.authentication_mode.clone();
        adds[2] = sec.tokens.clone();
        adds[3] = sec.crypto_tokens.clone();
        adds[4] = sec.algorithm_oid.clone();
        e.preamble(
            true,
            any_ext(&adds),
            &[
                self.non_standard_data.is_some(),
                self.gatekeeper_identifier.is_some(),
            ],
        );
        put_seq_num(e, self.request_seq_num)?;
        e.object_identifier(&self.protocol_identifier)?;
        put_nsd(e, &self.non_standard_data)?;
        put_opt(
            e,
            "gatekeeperIdentifier",
            &self.gatekeeper_identifier,
            |e, v| put_identifier(e, v),
        )?;
        e.field("rasAddress", |e| self.ras_address.encode(e))?;
        e.extensions(&adds)
    }
}

secured_per_type!(GatekeeperConfirm);

/// GRJ
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatekeeperReject {
    pub request_seq_num: u16,
    pub protocol_identifier: Vec<u64>,
    pub non_standard_data: Option<NonStandardParameter>,
    pub gatekeeper_identifier: Option<String>,
    pub reject_reason: GatekeeperRejectReason,
}

impl PerType for GatekeeperReject {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 2)?;
        let m = GatekeeperReject {
            request_seq_num: seq_num(d)?,
            protocol_identifier: d.field("protocolIdentifier", |d| d.object_identifier())?,
            non_standard_data: nsd(d, pre.has(0))?,
            gatekeeper_identifier: opt(d, pre.has(1), "gatekeeperIdentifier", identifier)?,
            reject_reason: d.field("rejectReason", GatekeeperRejectReason::decode)?,
        };
        let ext = d.ext_bitmap(pre.extended)?;
        d.skip_extensions(&ext)?;
        Ok(m)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(
            true,
            false,
            &[
                self.non_standard_data.is_some(),
                self.gatekeeper_identifier.is_some(),
            ],
        );
        put_seq_num(e, self.request_seq_num)?;
        e.object_identifier(&self.protocol_identifier)?;
        put_nsd(e, &self.non_standard_data)?;
        put_opt(
            e,
            "gatekeeperIdentifier",
            &self.gatekeeper_identifier,
            |e, v| put_identifier(e, v),
        )?;
        e.field("rejectReason", |e| self.reject_reason.encode(e))
    }
}

/// RRQ
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRequest {
    pub request_seq_num: u16,
    pub protocol_identifier: Vec<u64>,
    pub non_standard_data: Option<NonStandardParameter>,
    pub discovery_complete: bool,
    pub call_signal_address: Vec<TransportAddress>,
    pub ras_address: Vec<TransportAddress>,
    pub terminal_type: EndpointType,
    pub terminal_alias: Option<Vec<AliasAddress>>,
    pub gatekeeper_identifier: Option<String>,
    pub endpoint_vendor: VendorIdentifier,
    /// Seconds.
    pub time_to_live: Option<u32>,
    /// A lightweight re-registration (keep-alive RRQ).
    pub keep_alive: bool,
    pub endpoint_identifier: Option<String>,
    pub will_supply_uuies: bool,
    pub maintain_connection: bool,
    pub additive_registration: bool,
    pub supports_alt_gk: bool,
    pub multiple_calls: Option<bool>,
}

const RRQ_ADDITIONS: usize = 27;

impl Secured for RegistrationRequest {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 3)?;
        let mut m = RegistrationRequest {
            request_seq_num: seq_num(d)?,
            protocol_identifier: d.field("protocolIdentifier", |d| d.object_identifier())?,
            non_standard_data: nsd(d, pre.has(0))?,
            discovery_complete: d.field("discoveryComplete", |d| d.bool())?,
            call_signal_address: d.field("callSignalAddress", seq_of)?,
            ras_address: d.field("rasAddress", seq_of)?,
            terminal_type: d.field("terminalType", EndpointType::decode)?,
            terminal_alias: opt(d, pre.has(1), "terminalAlias", aliases)?,
            gatekeeper_identifier: opt(d, pre.has(2), "gatekeeperIdentifier", identifier)?,
            endpoint_vendor: d.field("endpointVendor", VendorIdentifier::decode)?,
            time_to_live: None,
            keep_alive: false,
            endpoint_identifier: None,
            will_supply_uuies: false,
            maintain_connection: false,
            additive_registration: false,
            supports_alt_gk: false,
            multiple_calls: None,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                1 => {
                    m.time_to_live = Some(ext_of(d, "timeToLive", |d| {
                        Ok(d.constrained(1, 4294967295)? as u32)
                    })?)
                }
                5 => m.keep_alive = ext_bool(d, "keepAlive")?,
                6 => m.endpoint_identifier = Some(ext_of(d, "endpointIdentifier", identifier)?),
                7 => m.will_supply_uuies = ext_bool(d, "willSupplyUUIEs")?,
                8 => m.maintain_connection = ext_bool(d, "maintainConnection")?,
                10 => {
                    skip(d)?;
                    m.additive_registration = true;
                }
                12 => {
                    skip(d)?;
                    m.supports_alt_gk = true;
                }
                14 => m.multiple_calls = Some(ext_bool(d, "multipleCalls")?),
                2 => sec.tokens = Some(d.skip_open_type()?),
                3 => sec.crypto_tokens = Some(d.skip_open_type()?),
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let mut adds = vec![None; RRQ_ADDITIONS];
        adds[2] = sec.tokens.clone();
        adds[3] = sec.crypto_tokens.clone();
        adds[1] = add_opt(e, "timeToLive", &self.time_to_live, |e, v| {
            e.constrained(*v as i64, 1, 4294967295)
        })?;
        adds[5] = add_bool(e, "keepAlive", self.keep_alive)?;
        adds[6] = add_opt(
            e,
            "endpointIdentifier",
            &self.endpoint_identifier,
            |e, v| put_identifier(e, v),
        )?;
        adds[7] = add_bool(e, "willSupplyUUIEs", self.will_supply_uuies)?;
        adds[8] = add_bool(e, "maintainConnection", self.maintain_connection)?;
        adds[10] = add_null(self.additive_registration);
        adds[12] = add_null(self.supports_alt_gk);
        adds[14] = add_opt(e, "multipleCalls", &self.multiple_calls, |e, v| {
            e.bool(*v);
            Ok(())
        })?;
        e.preamble(
            true,
            any_ext(&adds),
            &[
                self.non_standard_data.is_some(),
                self.terminal_alias.is_some(),
                self.gatekeeper_identifier.is_some(),
            ],
        );
        put_seq_num(e, self.request_seq_num)?;
        e.object_identifier(&self.protocol_identifier)?;
        put_nsd(e, &self.non_standard_data)?;
        e.bool(self.discovery_complete);
        e.field("callSignalAddress", |e| {
            put_seq_of(e, &self.call_signal_address)
        })?;
        e.field("rasAddress", |e| put_seq_of(e, &self.ras_address))?;
        e.field("terminalType", |e| self.terminal_type.encode(e))?;
        put_opt(e, "terminalAlias", &self.terminal_alias, |e, v| {
            put_aliases(e, v)
        })?;
        put_opt(
            e,
            "gatekeeperIdentifier",
            &self.gatekeeper_identifier,
            |e, v| put_identifier(e, v),
        )?;
        e.field("endpointVendor", |e| self.endpoint_vendor.encode(e))?;
        e.extensions(&adds)
    }
}

secured_per_type!(RegistrationRequest);

/// RCF preGrantedARQ (its own additions are not modelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PreGrantedArq {
    pub make_call: bool,
    pub use_gk_call_signal_address_to_make_call: bool,
    pub answer_call: bool,
    pub use_gk_call_signal_address_to_answer: bool,
}

impl PerType for PreGrantedArq {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 0)?;
        let v = PreGrantedArq {
            make_call: d.bool()?,
            use_gk_call_signal_address_to_make_call: d.bool()?,
            answer_call: d.bool()?,
            use_gk_call_signal_address_to_answer: d.bool()?,
        };
        let ext = d.ext_bitmap(pre.extended)?;
        d.skip_extensions(&ext)?;
        Ok(v)
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(true, false, &[]);
        e.bool(self.make_call);
        e.bool(self.use_gk_call_signal_address_to_make_call);
        e.bool(self.answer_call);
        e.bool(self.use_gk_call_signal_address_to_answer);
        Ok(())
    }
}

/// RCF
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationConfirm {
    pub request_seq_num: u16,
    pub protocol_identifier: Vec<u64>,
    pub non_standard_data: Option<NonStandardParameter>,
    pub call_signal_address: Vec<TransportAddress>,
    pub terminal_alias: Option<Vec<AliasAddress>>,
    pub gatekeeper_identifier: Option<String>,
    pub endpoint_identifier: String,
    pub time_to_live: Option<u32>,
    pub will_respond_to_irr: bool,
    pub pre_granted_arq: Option<PreGrantedArq>,
    pub maintain_connection: bool,
    pub supports_additive_registration: bool,
}

impl Secured for RegistrationConfirm {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 3)?;
        let mut m = RegistrationConfirm {
            request_seq_num: seq_num(d)?,
            protocol_identifier: d.field("protocolIdentifier", |d| d.object_identifier())?,
            non_standard_data: nsd(d, pre.has(0))?,
            call_signal_address: d.field("callSignalAddress", seq_of)?,
            terminal_alias: opt(d, pre.has(1), "terminalAlias", aliases)?,
            gatekeeper_identifier: opt(d, pre.has(2), "gatekeeperIdentifier", identifier)?,
            endpoint_identifier: d.field("endpointIdentifier", identifier)?,
            time_to_live: None,
            will_respond_to_irr: false,
            pre_granted_arq: None,
            maintain_connection: false,
            supports_additive_registration: false,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                1 => {
                    m.time_to_live = Some(ext_of(d, "timeToLive", |d| {
                        Ok(d.constrained(1, 4294967295)? as u32)
                    })?)
                }
                5 => m.will_respond_to_irr = ext_bool(d, "willRespondToIRR")?,
                6 => m.pre_granted_arq = Some(ext_of(d, "preGrantedARQ", PreGrantedArq::decode)?),
                7 => m.maintain_connection = ext_bool(d, "maintainConnection")?,
                9 => {
                    skip(d)?;
                    m.supports_additive_registration = true;
                }
                2 => sec.tokens = Some(d.skip_open_type()?),
                3 => sec.crypto_tokens = Some(d.skip_open_type()?),
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let mut adds = vec![None; 20];
        adds[2] = sec.tokens.clone();
        adds[3] = sec.crypto_tokens.clone();
        adds[1] = add_opt(e, "timeToLive", &self.time_to_live, |e, v| {
            e.constrained(*v as i64, 1, 4294967295)
        })?;
        adds[5] = add_bool(e, "willRespondToIRR", self.will_respond_to_irr)?;
        adds[6] = add_opt(e, "preGrantedARQ", &self.pre_granted_arq, |e, v| {
            v.encode(e)
        })?;
        adds[7] = add_bool(e, "maintainConnection", self.maintain_connection)?;
        adds[9] = add_null(self.supports_additive_registration);
        e.preamble(
            true,
            any_ext(&adds),
            &[
                self.non_standard_data.is_some(),
                self.terminal_alias.is_some(),
                self.gatekeeper_identifier.is_some(),
            ],
        );
        put_seq_num(e, self.request_seq_num)?;
        e.object_identifier(&self.protocol_identifier)?;
        put_nsd(e, &self.non_standard_data)?;
        e.field("callSignalAddress", |e| {
            put_seq_of(e, &self.call_signal_address)
        })?;
        put_opt(e, "terminalAlias", &self.terminal_alias, |e, v| {
            put_aliases(e, v)
        })?;
        put_opt(
            e,
            "gatekeeperIdentifier",
            &self.gatekeeper_identifier,
            |e, v| put_identifier(e, v),
        )?;
        e.field("endpointIdentifier", |e| {
            put_identifier(e, &self.endpoint_identifier)
        })?;
        e.extensions(&adds)
    }
}

secured_per_type!(RegistrationConfirm);

/// RRJ
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationReject {
    pub request_seq_num: u16,
    pub protocol_identifier: Vec<u64>,
    pub non_standard_data: Option<NonStandardParameter>,
    pub reject_reason: RegistrationRejectReason,
    pub gatekeeper_identifier: Option<String>,
}

impl Secured for RegistrationReject {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 2)?;
        let m = RegistrationReject {
            request_seq_num: seq_num(d)?,
            protocol_identifier: d.field("protocolIdentifier", |d| d.object_identifier())?,
            non_standard_data: nsd(d, pre.has(0))?,
            reject_reason: d.field("rejectReason", RegistrationRejectReason::decode)?,
            gatekeeper_identifier: opt(d, pre.has(1), "gatekeeperIdentifier", identifier)?,
        };
        crypto_tokens_only(d, pre.extended, 2, sec)?;
        Ok(m)
    }

    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let adds = crypto_adds(2, sec);
        e.preamble(
            true,
            any_ext(&adds),
            &[
                self.non_standard_data.is_some(),
                self.gatekeeper_identifier.is_some(),
            ],
        );
        put_seq_num(e, self.request_seq_num)?;
        e.object_identifier(&self.protocol_identifier)?;
        put_nsd(e, &self.non_standard_data)?;
        e.field("rejectReason", |e| self.reject_reason.encode(e))?;
        put_opt(
            e,
            "gatekeeperIdentifier",
            &self.gatekeeper_identifier,
            |e, v| put_identifier(e, v),
        )?;
        e.extensions(&adds)
    }
}

secured_per_type!(RegistrationReject);

/// URQ
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnregistrationRequest {
    pub request_seq_num: u16,
    pub call_signal_address: Vec<TransportAddress>,
    pub endpoint_alias: Option<Vec<AliasAddress>>,
    pub non_standard_data: Option<NonStandardParameter>,
    pub endpoint_identifier: Option<String>,
    pub gatekeeper_identifier: Option<String>,
    pub reason: Option<UnregRequestReason>,
}

impl Secured for UnregistrationRequest {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 3)?;
        let mut m = UnregistrationRequest {
            request_seq_num: seq_num(d)?,
            call_signal_address: d.field("callSignalAddress", seq_of)?,
            endpoint_alias: opt(d, pre.has(0), "endpointAlias", aliases)?,
            non_standard_data: nsd(d, pre.has(1))?,
            endpoint_identifier: opt(d, pre.has(2), "endpointIdentifier", identifier)?,
            gatekeeper_identifier: None,
            reason: None,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                1 => m.gatekeeper_identifier = Some(ext_of(d, "gatekeeperIdentifier", identifier)?),
                5 => m.reason = Some(ext_of(d, "reason", UnregRequestReason::decode)?),
                2 => sec.tokens = Some(d.skip_open_type()?),
                3 => sec.crypto_tokens = Some(d.skip_open_type()?),
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let mut adds = vec![None; 11];
        adds[2] = sec.tokens.clone();
        adds[3] = sec.crypto_tokens.clone();
        adds[1] = add_opt(
            e,
            "gatekeeperIdentifier",
            &self.gatekeeper_identifier,
            |e, v| put_identifier(e, v),
        )?;
        adds[5] = add_opt(e, "reason", &self.reason, |e, v| v.encode(e))?;
        e.preamble(
            true,
            any_ext(&adds),
            &[
                self.endpoint_alias.is_some(),
                self.non_standard_data.is_some(),
                self.endpoint_identifier.is_some(),
            ],
        );
        put_seq_num(e, self.request_seq_num)?;
        e.field("callSignalAddress", |e| {
            put_seq_of(e, &self.call_signal_address)
        })?;
        put_opt(e, "endpointAlias", &self.endpoint_alias, |e, v| {
            put_aliases(e, v)
        })?;
        put_nsd(e, &self.non_standard_data)?;
        put_opt(
            e,
            "endpointIdentifier",
            &self.endpoint_identifier,
            |e, v| put_identifier(e, v),
        )?;
        e.extensions(&adds)
    }
}

secured_per_type!(UnregistrationRequest);

/// UCF, DCF and BCF-like messages: a sequence number and optional
/// nonStandardData in the root, nothing modelled in the additions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnregistrationConfirm {
    pub request_seq_num: u16,
    pub non_standard_data: Option<NonStandardParameter>,
}

/// The extension additions of a reply whose only modelled one is
/// cryptoTokens, at addition index `at` (the signature of a gatekeeper
/// that signs its replies, H.235.1).
fn crypto_tokens_only(
    d: &mut Decoder<'_>,
    extended: bool,
    at: usize,
    sec: &mut RasSecurity,
) -> Result<()> {
    for i in d.ext_bitmap(extended)?.indices() {
        if i == at {
            sec.crypto_tokens = Some(d.skip_open_type()?);
        } else {
            skip(d)?;
        }
    }
    Ok(())
}

/// The additions [`crypto_tokens_only`] reads, for encoding.
fn crypto_adds(at: usize, sec: &RasSecurity) -> Vec<Option<Vec<u8>>> {
    let mut adds = vec![None; at + 1];
    adds[at] = sec.crypto_tokens.clone();
    adds
}

/// requestSeqNum and nonStandardData, cryptoTokens the second addition
/// (UCF, DCF).
fn decode_seq_nsd(
    d: &mut Decoder<'_>,
    sec: &mut RasSecurity,
) -> Result<(u16, Option<NonStandardParameter>)> {
    let pre = d.preamble(true, 1)?;
    let s = seq_num(d)?;
    let n = nsd(d, pre.has(0))?;
    crypto_tokens_only(d, pre.extended, 1, sec)?;
    Ok((s, n))
}

fn encode_seq_nsd(
    e: &mut Encoder,
    s: u16,
    n: &Option<NonStandardParameter>,
    sec: &RasSecurity,
) -> Result<()> {
    let adds = crypto_adds(1, sec);
    e.preamble(true, any_ext(&adds), &[n.is_some()]);
    put_seq_num(e, s)?;
    put_nsd(e, n)?;
    e.extensions(&adds)
}

impl Secured for UnregistrationConfirm {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let (request_seq_num, non_standard_data) = decode_seq_nsd(d, sec)?;
        Ok(UnregistrationConfirm {
            request_seq_num,
            non_standard_data,
        })
    }
    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        encode_seq_nsd(e, self.request_seq_num, &self.non_standard_data, sec)
    }
}

secured_per_type!(UnregistrationConfirm);

/// URJ
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnregistrationReject {
    pub request_seq_num: u16,
    pub reject_reason: UnregRejectReason,
    pub non_standard_data: Option<NonStandardParameter>,
}

impl Secured for UnregistrationReject {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 1)?;
        let m = UnregistrationReject {
            request_seq_num: seq_num(d)?,
            reject_reason: d.field("rejectReason", UnregRejectReason::decode)?,
            non_standard_data: nsd(d, pre.has(0))?,
        };
        crypto_tokens_only(d, pre.extended, 2, sec)?;
        Ok(m)
    }
    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let adds = crypto_adds(2, sec);
        e.preamble(true, any_ext(&adds), &[self.non_standard_data.is_some()]);
        put_seq_num(e, self.request_seq_num)?;
        e.field("rejectReason", |e| self.reject_reason.encode(e))?;
        put_nsd(e, &self.non_standard_data)?;
        e.extensions(&adds)
    }
}

secured_per_type!(UnregistrationReject);

/// ARQ
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionRequest {
    pub request_seq_num: u16,
    pub call_type: CallType,
    pub call_model: Option<CallModel>,
    pub endpoint_identifier: String,
    pub destination_info: Option<Vec<AliasAddress>>,
    pub dest_call_signal_address: Option<TransportAddress>,
    pub dest_extra_call_info: Option<Vec<AliasAddress>>,
    pub src_info: Vec<AliasAddress>,
    pub src_call_signal_address: Option<TransportAddress>,
    pub band_width: u32,
    pub call_reference_value: u16,
    pub non_standard_data: Option<NonStandardParameter>,
    pub conference_id: [u8; 16],
    pub active_mc: bool,
    pub answer_call: bool,
    pub can_map_alias: bool,
    pub call_identifier: Option<CallIdentifier>,
    pub gatekeeper_identifier: Option<String>,
    pub will_supply_uuies: bool,
    pub can_map_src_alias: bool,
}

impl Secured for AdmissionRequest {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 7)?;
        let request_seq_num = seq_num(d)?;
        let call_type = d.field("callType", CallType::decode)?;
        let call_model = opt(d, pre.has(0), "callModel", CallModel::decode)?;
        let endpoint_identifier = d.field("endpointIdentifier", identifier)?;
        let destination_info = opt(d, pre.has(1), "destinationInfo", aliases)?;
        let dest_call_signal_address = opt(
            d,
            pre.has(2),
            "destCallSignalAddress",
            TransportAddress::decode,
        )?;
        let dest_extra_call_info = opt(d, pre.has(3), "destExtraCallInfo", aliases)?;
        let src_info = d.field("srcInfo", aliases)?;
        let src_call_signal_address = opt(
            d,
            pre.has(4),
            "srcCallSignalAddress",
            TransportAddress::decode,
        )?;
        let band_width = d.field("bandWidth", bandwidth)?;
        let call_reference_value =
            d.field("callReferenceValue", |d| d.constrained(0, 65535))? as u16;
        let non_standard_data = nsd(d, pre.has(5))?;
        opt(d, pre.has(6), "callServices", skip_qseries_options)?;
        let conference_id = conference_id(d)?;
        let active_mc = d.field("activeMC", |d| d.bool())?;
        let answer_call = d.field("answerCall", |d| d.bool())?;
        let mut m = AdmissionRequest {
            request_seq_num,
            call_type,
            call_model,
            endpoint_identifier,
            destination_info,
            dest_call_signal_address,
            dest_extra_call_info,
            src_info,
            src_call_signal_address,
            band_width,
            call_reference_value,
            non_standard_data,
            conference_id,
            active_mc,
            answer_call,
            can_map_alias: false,
            call_identifier: None,
            gatekeeper_identifier: None,
            will_supply_uuies: false,
            can_map_src_alias: false,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => m.can_map_alias = ext_bool(d, "canMapAlias")?,
                1 => m.call_identifier = Some(ext_of(d, "callIdentifier", CallIdentifier::decode)?),
                4 => m.gatekeeper_identifier = Some(ext_of(d, "gatekeeperIdentifier", identifier)?),
                9 => m.will_supply_uuies = ext_bool(d, "willSupplyUUIEs")?,
                18 => m.can_map_src_alias = ext_bool(d, "canMapSrcAlias")?,
                5 => sec.tokens = Some(d.skip_open_type()?),
                6 => sec.crypto_tokens = Some(d.skip_open_type()?),
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let mut adds = vec![None; 19];
        adds[5] = sec.tokens.clone();
        adds[6] = sec.crypto_tokens.clone();
        adds[0] = add_bool(e, "canMapAlias", self.can_map_alias)?;
        adds[1] = add_opt(e, "callIdentifier", &self.call_identifier, |e, v| {
            v.encode(e)
        })?;
        adds[4] = add_opt(
            e,
            "gatekeeperIdentifier",
            &self.gatekeeper_identifier,
            |e, v| put_identifier(e, v),
        )?;
        adds[9] = add_bool(e, "willSupplyUUIEs", self.will_supply_uuies)?;
        adds[18] = add_bool(e, "canMapSrcAlias", self.can_map_src_alias)?;
        e.preamble(
            true,
            any_ext(&adds),
            &[
                self.call_model.is_some(),
                self.destination_info.is_some(),
                self.dest_call_signal_address.is_some(),
                self.dest_extra_call_info.is_some(),
                self.src_call_signal_address.is_some(),
                self.non_standard_data.is_some(),
                false,
            ],
        );
        put_seq_num(e, self.request_seq_num)?;
        e.field("callType", |e| self.call_type.encode(e))?;
        put_opt(e, "callModel", &self.call_model, |e, v| v.encode(e))?;
        e.field("endpointIdentifier", |e| {
            put_identifier(e, &self.endpoint_identifier)
        })?;
        put_opt(e, "destinationInfo", &self.destination_info, |e, v| {
            put_aliases(e, v)
        })?;
        put_opt(
            e,
            "destCallSignalAddress",
            &self.dest_call_signal_address,
            |e, v| v.encode(e),
        )?;
        put_opt(
            e,
            "destExtraCallInfo",
            &self.dest_extra_call_info,
            |e, v| put_aliases(e, v),
        )?;
        e.field("srcInfo", |e| put_aliases(e, &self.src_info))?;
        put_opt(
            e,
            "srcCallSignalAddress",
            &self.src_call_signal_address,
            |e, v| v.encode(e),
        )?;
        put_bandwidth(e, self.band_width)?;
        e.constrained(self.call_reference_value as i64, 0, 65535)?;
        put_nsd(e, &self.non_standard_data)?;
        put_conference_id(e, &self.conference_id)?;
        e.bool(self.active_mc);
        e.bool(self.answer_call);
        e.extensions(&adds)
    }
}

secured_per_type!(AdmissionRequest);

/// UUIEsRequested (ACF, IRQ): which call signalling messages the
/// gatekeeper wants copies of in IRRs. Its own additions are not modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UuiesRequested {
    pub setup: bool,
    pub call_proceeding: bool,
    pub connect: bool,
    pub alerting: bool,
    pub information: bool,
    pub release_complete: bool,
    pub facility: bool,
    pub progress: bool,
    pub empty: bool,
}

impl PerType for UuiesRequested {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 0)?;
        let v = UuiesRequested {
            setup: d.bool()?,
            call_proceeding: d.bool()?,
            connect: d.bool()?,
            alerting: d.bool()?,
            information: d.bool()?,
            release_complete: d.bool()?,
            facility: d.bool()?,
            progress: d.bool()?,
            empty: d.bool()?,
        };
        let ext = d.ext_bitmap(pre.extended)?;
        d.skip_extensions(&ext)?;
        Ok(v)
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(true, false, &[]);
        for b in [
            self.setup,
            self.call_proceeding,
            self.connect,
            self.alerting,
            self.information,
            self.release_complete,
            self.facility,
            self.progress,
            self.empty,
        ] {
            e.bool(b);
        }
        Ok(())
    }
}

/// ACF
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionConfirm {
    pub request_seq_num: u16,
    pub band_width: u32,
    pub call_model: CallModel,
    pub dest_call_signal_address: TransportAddress,
    pub irr_frequency: Option<u16>,
    pub non_standard_data: Option<NonStandardParameter>,
    pub destination_info: Option<Vec<AliasAddress>>,
    pub will_respond_to_irr: bool,
    pub uuies_requested: Option<UuiesRequested>,
}

impl Secured for AdmissionConfirm {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 2)?;
        let mut m = AdmissionConfirm {
            request_seq_num: seq_num(d)?,
            band_width: d.field("bandWidth", bandwidth)?,
            call_model: d.field("callModel", CallModel::decode)?,
            dest_call_signal_address: d.field("destCallSignalAddress", TransportAddress::decode)?,
            irr_frequency: opt(d, pre.has(0), "irrFrequency", |d| {
                Ok(d.constrained(1, 65535)? as u16)
            })?,
            non_standard_data: nsd(d, pre.has(1))?,
            destination_info: None,
            will_respond_to_irr: false,
            uuies_requested: None,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => m.destination_info = Some(ext_of(d, "destinationInfo", aliases)?),
                9 => m.will_respond_to_irr = ext_bool(d, "willRespondToIRR")?,
                10 => {
                    m.uuies_requested = Some(ext_of(d, "uuiesRequested", UuiesRequested::decode)?)
                }
                5 => sec.tokens = Some(d.skip_open_type()?),
                6 => sec.crypto_tokens = Some(d.skip_open_type()?),
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let mut adds = vec![None; 23];
        adds[5] = sec.tokens.clone();
        adds[6] = sec.crypto_tokens.clone();
        adds[0] = add_opt(e, "destinationInfo", &self.destination_info, |e, v| {
            put_aliases(e, v)
        })?;
        adds[9] = add_bool(e, "willRespondToIRR", self.will_respond_to_irr)?;
        adds[10] = add_opt(e, "uuiesRequested", &self.uuies_requested, |e, v| {
            v.encode(e)
        })?;
        e.preamble(
            true,
            any_ext(&adds),
            &[
                self.irr_frequency.is_some(),
                self.non_standard_data.is_some(),
            ],
        );
        put_seq_num(e, self.request_seq_num)?;
        put_bandwidth(e, self.band_width)?;
        self.call_model.encode(e)?;
        e.field("destCallSignalAddress", |e| {
            self.dest_call_signal_address.encode(e)
        })?;
        put_opt(e, "irrFrequency", &self.irr_frequency, |e, v| {
            e.constrained(*v as i64, 1, 65535)
        })?;
        put_nsd(e, &self.non_standard_data)?;
        e.extensions(&adds)
    }
}

secured_per_type!(AdmissionConfirm);

/// ARJ
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionReject {
    pub request_seq_num: u16,
    pub reject_reason: AdmissionRejectReason,
    pub non_standard_data: Option<NonStandardParameter>,
}

impl Secured for AdmissionReject {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 1)?;
        let m = AdmissionReject {
            request_seq_num: seq_num(d)?,
            reject_reason: d.field("rejectReason", AdmissionRejectReason::decode)?,
            non_standard_data: nsd(d, pre.has(0))?,
        };
        crypto_tokens_only(d, pre.extended, 2, sec)?;
        Ok(m)
    }
    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let adds = crypto_adds(2, sec);
        e.preamble(true, any_ext(&adds), &[self.non_standard_data.is_some()]);
        put_seq_num(e, self.request_seq_num)?;
        e.field("rejectReason", |e| self.reject_reason.encode(e))?;
        put_nsd(e, &self.non_standard_data)?;
        e.extensions(&adds)
    }
}

secured_per_type!(AdmissionReject);

/// BRQ
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BandwidthRequest {
    pub request_seq_num: u16,
    pub endpoint_identifier: String,
    pub conference_id: [u8; 16],
    pub call_reference_value: u16,
    pub call_type: Option<CallType>,
    pub band_width: u32,
    pub non_standard_data: Option<NonStandardParameter>,
    pub call_identifier: Option<CallIdentifier>,
    pub answered_call: bool,
}

impl Secured for BandwidthRequest {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 2)?;
        let mut m = BandwidthRequest {
            request_seq_num: seq_num(d)?,
            endpoint_identifier: d.field("endpointIdentifier", identifier)?,
            conference_id: conference_id(d)?,
            call_reference_value: d.field("callReferenceValue", |d| d.constrained(0, 65535))?
                as u16,
            call_type: opt(d, pre.has(0), "callType", CallType::decode)?,
            band_width: d.field("bandWidth", bandwidth)?,
            non_standard_data: nsd(d, pre.has(1))?,
            call_identifier: None,
            answered_call: false,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => m.call_identifier = Some(ext_of(d, "callIdentifier", CallIdentifier::decode)?),
                5 => m.answered_call = ext_bool(d, "answeredCall")?,
                2 => sec.tokens = Some(d.skip_open_type()?),
                3 => sec.crypto_tokens = Some(d.skip_open_type()?),
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let mut adds = vec![None; 12];
        adds[2] = sec.tokens.clone();
        adds[3] = sec.crypto_tokens.clone();
        adds[0] = add_opt(e, "callIdentifier", &self.call_identifier, |e, v| {
            v.encode(e)
        })?;
        adds[5] = add_bool(e, "answeredCall", self.answered_call)?;
        e.preamble(
            true,
            any_ext(&adds),
            &[self.call_type.is_some(), self.non_standard_data.is_some()],
        );
        put_seq_num(e, self.request_seq_num)?;
        e.field("endpointIdentifier", |e| {
            put_identifier(e, &self.endpoint_identifier)
        })?;
        put_conference_id(e, &self.conference_id)?;
        e.constrained(self.call_reference_value as i64, 0, 65535)?;
        put_opt(e, "callType", &self.call_type, |e, v| v.encode(e))?;
        put_bandwidth(e, self.band_width)?;
        put_nsd(e, &self.non_standard_data)?;
        e.extensions(&adds)
    }
}

secured_per_type!(BandwidthRequest);

/// BCF
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BandwidthConfirm {
    pub request_seq_num: u16,
    pub band_width: u32,
    pub non_standard_data: Option<NonStandardParameter>,
}

impl Secured for BandwidthConfirm {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 1)?;
        let m = BandwidthConfirm {
            request_seq_num: seq_num(d)?,
            band_width: d.field("bandWidth", bandwidth)?,
            non_standard_data: nsd(d, pre.has(0))?,
        };
        crypto_tokens_only(d, pre.extended, 1, sec)?;
        Ok(m)
    }
    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let adds = crypto_adds(1, sec);
        e.preamble(true, any_ext(&adds), &[self.non_standard_data.is_some()]);
        put_seq_num(e, self.request_seq_num)?;
        put_bandwidth(e, self.band_width)?;
        put_nsd(e, &self.non_standard_data)?;
        e.extensions(&adds)
    }
}

secured_per_type!(BandwidthConfirm);

/// BRJ
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BandwidthReject {
    pub request_seq_num: u16,
    pub reject_reason: BandRejectReason,
    pub allowed_band_width: u32,
    pub non_standard_data: Option<NonStandardParameter>,
}

impl Secured for BandwidthReject {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 1)?;
        let m = BandwidthReject {
            request_seq_num: seq_num(d)?,
            reject_reason: d.field("rejectReason", BandRejectReason::decode)?,
            allowed_band_width: d.field("allowedBandWidth", bandwidth)?,
            non_standard_data: nsd(d, pre.has(0))?,
        };
        crypto_tokens_only(d, pre.extended, 2, sec)?;
        Ok(m)
    }
    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let adds = crypto_adds(2, sec);
        e.preamble(true, any_ext(&adds), &[self.non_standard_data.is_some()]);
        put_seq_num(e, self.request_seq_num)?;
        e.field("rejectReason", |e| self.reject_reason.encode(e))?;
        put_bandwidth(e, self.allowed_band_width)?;
        put_nsd(e, &self.non_standard_data)?;
        e.extensions(&adds)
    }
}

secured_per_type!(BandwidthReject);

/// DRQ
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisengageRequest {
    pub request_seq_num: u16,
    pub endpoint_identifier: String,
    pub conference_id: [u8; 16],
    pub call_reference_value: u16,
    pub disengage_reason: DisengageReason,
    pub non_standard_data: Option<NonStandardParameter>,
    pub call_identifier: Option<CallIdentifier>,
    pub gatekeeper_identifier: Option<String>,
    pub answered_call: bool,
}

impl Secured for DisengageRequest {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 1)?;
        let mut m = DisengageRequest {
            request_seq_num: seq_num(d)?,
            endpoint_identifier: d.field("endpointIdentifier", identifier)?,
            conference_id: conference_id(d)?,
            call_reference_value: d.field("callReferenceValue", |d| d.constrained(0, 65535))?
                as u16,
            disengage_reason: d.field("disengageReason", DisengageReason::decode)?,
            non_standard_data: nsd(d, pre.has(0))?,
            call_identifier: None,
            gatekeeper_identifier: None,
            answered_call: false,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => m.call_identifier = Some(ext_of(d, "callIdentifier", CallIdentifier::decode)?),
                1 => m.gatekeeper_identifier = Some(ext_of(d, "gatekeeperIdentifier", identifier)?),
                5 => m.answered_call = ext_bool(d, "answeredCall")?,
                2 => sec.tokens = Some(d.skip_open_type()?),
                3 => sec.crypto_tokens = Some(d.skip_open_type()?),
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let mut adds = vec![None; 13];
        adds[2] = sec.tokens.clone();
        adds[3] = sec.crypto_tokens.clone();
        adds[0] = add_opt(e, "callIdentifier", &self.call_identifier, |e, v| {
            v.encode(e)
        })?;
        adds[1] = add_opt(
            e,
            "gatekeeperIdentifier",
            &self.gatekeeper_identifier,
            |e, v| put_identifier(e, v),
        )?;
        adds[5] = add_bool(e, "answeredCall", self.answered_call)?;
        e.preamble(true, any_ext(&adds), &[self.non_standard_data.is_some()]);
        put_seq_num(e, self.request_seq_num)?;
        e.field("endpointIdentifier", |e| {
            put_identifier(e, &self.endpoint_identifier)
        })?;
        put_conference_id(e, &self.conference_id)?;
        e.constrained(self.call_reference_value as i64, 0, 65535)?;
        e.field("disengageReason", |e| self.disengage_reason.encode(e))?;
        put_nsd(e, &self.non_standard_data)?;
        e.extensions(&adds)
    }
}

secured_per_type!(DisengageRequest);

/// DCF
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisengageConfirm {
    pub request_seq_num: u16,
    pub non_standard_data: Option<NonStandardParameter>,
}

impl Secured for DisengageConfirm {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let (request_seq_num, non_standard_data) = decode_seq_nsd(d, sec)?;
        Ok(DisengageConfirm {
            request_seq_num,
            non_standard_data,
        })
    }
    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        encode_seq_nsd(e, self.request_seq_num, &self.non_standard_data, sec)
    }
}

secured_per_type!(DisengageConfirm);

/// DRJ
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisengageReject {
    pub request_seq_num: u16,
    pub reject_reason: DisengageRejectReason,
    pub non_standard_data: Option<NonStandardParameter>,
}

impl Secured for DisengageReject {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 1)?;
        let m = DisengageReject {
            request_seq_num: seq_num(d)?,
            reject_reason: d.field("rejectReason", DisengageRejectReason::decode)?,
            non_standard_data: nsd(d, pre.has(0))?,
        };
        crypto_tokens_only(d, pre.extended, 2, sec)?;
        Ok(m)
    }
    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let adds = crypto_adds(2, sec);
        e.preamble(true, any_ext(&adds), &[self.non_standard_data.is_some()]);
        put_seq_num(e, self.request_seq_num)?;
        e.field("rejectReason", |e| self.reject_reason.encode(e))?;
        put_nsd(e, &self.non_standard_data)?;
        e.extensions(&adds)
    }
}

secured_per_type!(DisengageReject);

/// LRQ
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationRequest {
    pub request_seq_num: u16,
    pub endpoint_identifier: Option<String>,
    pub destination_info: Vec<AliasAddress>,
    pub non_standard_data: Option<NonStandardParameter>,
    pub reply_address: TransportAddress,
    pub source_info: Option<Vec<AliasAddress>>,
    pub can_map_alias: bool,
    pub gatekeeper_identifier: Option<String>,
    pub hop_count: Option<u8>,
    pub call_identifier: Option<CallIdentifier>,
    pub band_width: Option<u32>,
    pub can_map_src_alias: bool,
}

impl Secured for LocationRequest {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 2)?;
        let mut m = LocationRequest {
            request_seq_num: seq_num(d)?,
            endpoint_identifier: opt(d, pre.has(0), "endpointIdentifier", identifier)?,
            destination_info: d.field("destinationInfo", aliases)?,
            non_standard_data: nsd(d, pre.has(1))?,
            reply_address: d.field("replyAddress", TransportAddress::decode)?,
            source_info: None,
            can_map_alias: false,
            gatekeeper_identifier: None,
            hop_count: None,
            call_identifier: None,
            band_width: None,
            can_map_src_alias: false,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => m.source_info = Some(ext_of(d, "sourceInfo", aliases)?),
                1 => m.can_map_alias = ext_bool(d, "canMapAlias")?,
                2 => m.gatekeeper_identifier = Some(ext_of(d, "gatekeeperIdentifier", identifier)?),
                10 => {
                    m.hop_count = Some(ext_of(d, "hopCount", |d| Ok(d.constrained(1, 255)? as u8))?)
                }
                12 => {
                    m.call_identifier = Some(ext_of(d, "callIdentifier", CallIdentifier::decode)?)
                }
                13 => m.band_width = Some(ext_of(d, "bandWidth", bandwidth)?),
                15 => m.can_map_src_alias = ext_bool(d, "canMapSrcAlias")?,
                3 => sec.tokens = Some(d.skip_open_type()?),
                4 => sec.crypto_tokens = Some(d.skip_open_type()?),
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let mut adds = vec![None; 17];
        adds[3] = sec.tokens.clone();
        adds[4] = sec.crypto_tokens.clone();
        adds[0] = add_opt(e, "sourceInfo", &self.source_info, |e, v| put_aliases(e, v))?;
        adds[1] = add_bool(e, "canMapAlias", self.can_map_alias)?;
        adds[2] = add_opt(
            e,
            "gatekeeperIdentifier",
            &self.gatekeeper_identifier,
            |e, v| put_identifier(e, v),
        )?;
        adds[10] = add_opt(e, "hopCount", &self.hop_count, |e, v| {
            e.constrained(*v as i64, 1, 255)
        })?;
        adds[12] = add_opt(e, "callIdentifier", &self.call_identifier, |e, v| {
            v.encode(e)
        })?;
        adds[13] = add_opt(e, "bandWidth", &self.band_width, |e, v| {
            put_bandwidth(e, *v)
        })?;
        adds[15] = add_bool(e, "canMapSrcAlias", self.can_map_src_alias)?;
        e.preamble(
            true,
            any_ext(&adds),
            &[
                self.endpoint_identifier.is_some(),
                self.non_standard_data.is_some(),
            ],
        );
        put_seq_num(e, self.request_seq_num)?;
        put_opt(
            e,
            "endpointIdentifier",
            &self.endpoint_identifier,
            |e, v| put_identifier(e, v),
        )?;
        e.field("destinationInfo", |e| {
            put_aliases(e, &self.destination_info)
        })?;
        put_nsd(e, &self.non_standard_data)?;
        e.field("replyAddress", |e| self.reply_address.encode(e))?;
        e.extensions(&adds)
    }
}

secured_per_type!(LocationRequest);

/// LCF
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationConfirm {
    pub request_seq_num: u16,
    pub call_signal_address: TransportAddress,
    pub ras_address: TransportAddress,
    pub non_standard_data: Option<NonStandardParameter>,
    pub destination_info: Option<Vec<AliasAddress>>,
    pub destination_type: Option<EndpointType>,
}

impl Secured for LocationConfirm {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 1)?;
        let mut m = LocationConfirm {
            request_seq_num: seq_num(d)?,
            call_signal_address: d.field("callSignalAddress", TransportAddress::decode)?,
            ras_address: d.field("rasAddress", TransportAddress::decode)?,
            non_standard_data: nsd(d, pre.has(0))?,
            destination_info: None,
            destination_type: None,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => m.destination_info = Some(ext_of(d, "destinationInfo", aliases)?),
                2 => m.destination_type = Some(ext_of(d, "destinationType", EndpointType::decode)?),
                5 => sec.tokens = Some(d.skip_open_type()?),
                6 => sec.crypto_tokens = Some(d.skip_open_type()?),
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let mut adds = vec![None; 17];
        adds[5] = sec.tokens.clone();
        adds[6] = sec.crypto_tokens.clone();
        adds[0] = add_opt(e, "destinationInfo", &self.destination_info, |e, v| {
            put_aliases(e, v)
        })?;
        adds[2] = add_opt(e, "destinationType", &self.destination_type, |e, v| {
            v.encode(e)
        })?;
        e.preamble(true, any_ext(&adds), &[self.non_standard_data.is_some()]);
        put_seq_num(e, self.request_seq_num)?;
        e.field("callSignalAddress", |e| self.call_signal_address.encode(e))?;
        e.field("rasAddress", |e| self.ras_address.encode(e))?;
        put_nsd(e, &self.non_standard_data)?;
        e.extensions(&adds)
    }
}

secured_per_type!(LocationConfirm);

/// LRJ
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationReject {
    pub request_seq_num: u16,
    pub reject_reason: LocationRejectReason,
    pub non_standard_data: Option<NonStandardParameter>,
}

impl Secured for LocationReject {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 1)?;
        let m = LocationReject {
            request_seq_num: seq_num(d)?,
            reject_reason: d.field("rejectReason", LocationRejectReason::decode)?,
            non_standard_data: nsd(d, pre.has(0))?,
        };
        crypto_tokens_only(d, pre.extended, 2, sec)?;
        Ok(m)
    }
    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let adds = crypto_adds(2, sec);
        e.preamble(true, any_ext(&adds), &[self.non_standard_data.is_some()]);
        put_seq_num(e, self.request_seq_num)?;
        e.field("rejectReason", |e| self.reject_reason.encode(e))?;
        put_nsd(e, &self.non_standard_data)?;
        e.extensions(&adds)
    }
}

secured_per_type!(LocationReject);

/// IRQ
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRequest {
    pub request_seq_num: u16,
    pub call_reference_value: u16,
    pub non_standard_data: Option<NonStandardParameter>,
    pub reply_address: Option<TransportAddress>,
    pub call_identifier: Option<CallIdentifier>,
}

impl PerType for InfoRequest {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 2)?;
        let mut m = InfoRequest {
            request_seq_num: seq_num(d)?,
            call_reference_value: d.field("callReferenceValue", |d| d.constrained(0, 65535))?
                as u16,
            non_standard_data: nsd(d, pre.has(0))?,
            reply_address: opt(d, pre.has(1), "replyAddress", TransportAddress::decode)?,
            call_identifier: None,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => m.call_identifier = Some(ext_of(d, "callIdentifier", CallIdentifier::decode)?),
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let mut adds = vec![None; 12];
        adds[0] = add_opt(e, "callIdentifier", &self.call_identifier, |e, v| {
            v.encode(e)
        })?;
        e.preamble(
            true,
            any_ext(&adds),
            &[
                self.non_standard_data.is_some(),
                self.reply_address.is_some(),
            ],
        );
        put_seq_num(e, self.request_seq_num)?;
        e.constrained(self.call_reference_value as i64, 0, 65535)?;
        put_nsd(e, &self.non_standard_data)?;
        put_opt(e, "replyAddress", &self.reply_address, |e, v| v.encode(e))?;
        e.extensions(&adds)
    }
}

/// One entry of IRR perCallInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerCallInfo {
    pub call_reference_value: u16,
    pub conference_id: [u8; 16],
    pub originator: Option<bool>,
    pub audio: Vec<RtpSession>,
    pub video: Vec<RtpSession>,
    pub h245: TransportChannelInfo,
    pub call_signalling: TransportChannelInfo,
    pub call_type: CallType,
    pub band_width: u32,
    pub call_model: CallModel,
    pub call_identifier: Option<CallIdentifier>,
}

impl PerType for PerCallInfo {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 5)?;
        nsd(d, pre.has(0))?;
        let call_reference_value =
            d.field("callReferenceValue", |d| d.constrained(0, 65535))? as u16;
        let conference_id = conference_id(d)?;
        let originator = opt(d, pre.has(1), "originator", |d| d.bool())?;
        let audio = opt(d, pre.has(2), "audio", seq_of)?.unwrap_or_default();
        let video = opt(d, pre.has(3), "video", seq_of)?.unwrap_or_default();
        opt(d, pre.has(4), "data", seq_of::<TransportChannelInfo>)?;
        let mut m = PerCallInfo {
            call_reference_value,
            conference_id,
            originator,
            audio,
            video,
            h245: d.field("h245", TransportChannelInfo::decode)?,
            call_signalling: d.field("callSignalling", TransportChannelInfo::decode)?,
            call_type: d.field("callType", CallType::decode)?,
            band_width: d.field("bandWidth", bandwidth)?,
            call_model: d.field("callModel", CallModel::decode)?,
            call_identifier: None,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => m.call_identifier = Some(ext_of(d, "callIdentifier", CallIdentifier::decode)?),
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let mut adds = vec![None; 8];
        adds[0] = add_opt(e, "callIdentifier", &self.call_identifier, |e, v| {
            v.encode(e)
        })?;
        // substituteConfIDs is a mandatory addition once any is sent.
        if adds[0].is_some() {
            adds[3] = add(e, "substituteConfIDs", |e| {
                e.length(0, crate::per::Size::unbounded())
            })?;
        }
        e.preamble(
            true,
            any_ext(&adds),
            &[
                false,
                self.originator.is_some(),
                !self.audio.is_empty(),
                !self.video.is_empty(),
                false,
            ],
        );
        e.constrained(self.call_reference_value as i64, 0, 65535)?;
        put_conference_id(e, &self.conference_id)?;
        if let Some(o) = self.originator {
            e.bool(o);
        }
        if !self.audio.is_empty() {
            e.field("audio", |e| put_seq_of(e, &self.audio))?;
        }
        if !self.video.is_empty() {
            e.field("video", |e| put_seq_of(e, &self.video))?;
        }
        e.field("h245", |e| self.h245.encode(e))?;
        e.field("callSignalling", |e| self.call_signalling.encode(e))?;
        self.call_type.encode(e)?;
        put_bandwidth(e, self.band_width)?;
        self.call_model.encode(e)?;
        e.extensions(&adds)
    }
}

/// IRR
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRequestResponse {
    pub non_standard_data: Option<NonStandardParameter>,
    pub request_seq_num: u16,
    pub endpoint_type: EndpointType,
    pub endpoint_identifier: String,
    pub ras_address: TransportAddress,
    pub call_signal_address: Vec<TransportAddress>,
    pub endpoint_alias: Option<Vec<AliasAddress>>,
    pub per_call_info: Option<Vec<PerCallInfo>>,
    pub need_response: bool,
    pub unsolicited: bool,
}

impl Secured for InfoRequestResponse {
    fn decode_sec(d: &mut Decoder<'_>, sec: &mut RasSecurity) -> Result<Self> {
        let pre = d.preamble(true, 3)?;
        let mut m = InfoRequestResponse {
            non_standard_data: nsd(d, pre.has(0))?,
            request_seq_num: seq_num(d)?,
            endpoint_type: d.field("endpointType", EndpointType::decode)?,
            endpoint_identifier: d.field("endpointIdentifier", identifier)?,
            ras_address: d.field("rasAddress", TransportAddress::decode)?,
            call_signal_address: d.field("callSignalAddress", seq_of)?,
            endpoint_alias: opt(d, pre.has(1), "endpointAlias", aliases)?,
            per_call_info: opt(d, pre.has(2), "perCallInfo", seq_of)?,
            need_response: false,
            unsolicited: false,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                3 => m.need_response = ext_bool(d, "needResponse")?,
                6 => m.unsolicited = ext_bool(d, "unsolicited")?,
                0 => sec.tokens = Some(d.skip_open_type()?),
                1 => sec.crypto_tokens = Some(d.skip_open_type()?),
                _ => skip(d)?,
            }
        }
        Ok(m)
    }

    fn encode_sec(&self, e: &mut Encoder, sec: &RasSecurity) -> Result<()> {
        let mut adds = vec![None; 8];
        adds[0] = sec.tokens.clone();
        adds[1] = sec.crypto_tokens.clone();
        adds[3] = add_bool(e, "needResponse", self.need_response)?;
        adds[6] = add_bool(e, "unsolicited", self.unsolicited)?;
        e.preamble(
            true,
            any_ext(&adds),
            &[
                self.non_standard_data.is_some(),
                self.endpoint_alias.is_some(),
                self.per_call_info.is_some(),
            ],
        );
        put_nsd(e, &self.non_standard_data)?;
        put_seq_num(e, self.request_seq_num)?;
        e.field("endpointType", |e| self.endpoint_type.encode(e))?;
        e.field("endpointIdentifier", |e| {
            put_identifier(e, &self.endpoint_identifier)
        })?;
        e.field("rasAddress", |e| self.ras_address.encode(e))?;
        e.field("callSignalAddress", |e| {
            put_seq_of(e, &self.call_signal_address)
        })?;
        put_opt(e, "endpointAlias", &self.endpoint_alias, |e, v| {
            put_aliases(e, v)
        })?;
        put_opt(e, "perCallInfo", &self.per_call_info, |e, v| {
            put_seq_of(e, v)
        })?;
        e.extensions(&adds)
    }
}

secured_per_type!(InfoRequestResponse);

/// NonStandardMessage
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonStandardMessage {
    pub request_seq_num: u16,
    pub non_standard_data: NonStandardParameter,
}

impl PerType for NonStandardMessage {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 0)?;
        let m = NonStandardMessage {
            request_seq_num: seq_num(d)?,
            non_standard_data: d.field("nonStandardData", NonStandardParameter::decode)?,
        };
        let ext = d.ext_bitmap(pre.extended)?;
        d.skip_extensions(&ext)?;
        Ok(m)
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(true, false, &[]);
        put_seq_num(e, self.request_seq_num)?;
        e.field("nonStandardData", |e| self.non_standard_data.encode(e))
    }
}

/// UnknownMessageResponse (XRS)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMessageResponse {
    pub request_seq_num: u16,
}

impl PerType for UnknownMessageResponse {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 0)?;
        let request_seq_num = seq_num(d)?;
        let ext = d.ext_bitmap(pre.extended)?;
        d.skip_extensions(&ext)?;
        Ok(UnknownMessageResponse { request_seq_num })
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(true, false, &[]);
        put_seq_num(e, self.request_seq_num)
    }
}

/// RequestInProgress (RIP): "wait `delay` ms longer for my answer".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInProgress {
    pub request_seq_num: u16,
    pub non_standard_data: Option<NonStandardParameter>,
    pub delay: u16,
}

impl PerType for RequestInProgress {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 4)?;
        let request_seq_num = seq_num(d)?;
        let non_standard_data = nsd(d, pre.has(0))?;
        if pre.has(1) || pre.has(2) || pre.has(3) {
            // tokens, cryptoTokens, integrityCheckValue: H.235 security we
            // do not decode; their structure cannot be skipped blind.
            return Err(d.err(crate::per::PerErrorKind::Invalid(
                "H.235 tokens in RequestInProgress not supported",
            )));
        }
        let delay = d.field("delay", |d| d.constrained(1, 65535))? as u16;
        let ext = d.ext_bitmap(pre.extended)?;
        d.skip_extensions(&ext)?;
        Ok(RequestInProgress {
            request_seq_num,
            non_standard_data,
            delay,
        })
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(
            true,
            false,
            &[self.non_standard_data.is_some(), false, false, false],
        );
        put_seq_num(e, self.request_seq_num)?;
        put_nsd(e, &self.non_standard_data)?;
        e.field("delay", |e| e.constrained(self.delay as i64, 1, 65535))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RasMessage {
    GatekeeperRequest(GatekeeperRequest),
    GatekeeperConfirm(GatekeeperConfirm),
    GatekeeperReject(GatekeeperReject),
    RegistrationRequest(RegistrationRequest),
    RegistrationConfirm(RegistrationConfirm),
    RegistrationReject(RegistrationReject),
    UnregistrationRequest(UnregistrationRequest),
    UnregistrationConfirm(UnregistrationConfirm),
    UnregistrationReject(UnregistrationReject),
    AdmissionRequest(AdmissionRequest),
    AdmissionConfirm(AdmissionConfirm),
    AdmissionReject(AdmissionReject),
    BandwidthRequest(BandwidthRequest),
    BandwidthConfirm(BandwidthConfirm),
    BandwidthReject(BandwidthReject),
    DisengageRequest(DisengageRequest),
    DisengageConfirm(DisengageConfirm),
    DisengageReject(DisengageReject),
    LocationRequest(LocationRequest),
    LocationConfirm(LocationConfirm),
    LocationReject(LocationReject),
    InfoRequest(InfoRequest),
    InfoRequestResponse(InfoRequestResponse),
    NonStandardMessage(NonStandardMessage),
    UnknownMessageResponse(UnknownMessageResponse),
    RequestInProgress(RequestInProgress),
    /// An extension alternative we do not model (resourcesAvailableIndicate,
    /// serviceControlIndication, ... or one from a later version): reported
    /// with its index and encoding so the caller can answer with an XRS.
    Other {
        ext_index: u64,
        encoded: Vec<u8>,
    },
}

impl Secured for GatekeeperReject {}
impl Secured for InfoRequest {}
impl Secured for NonStandardMessage {}
impl Secured for UnknownMessageResponse {}

/// RasMessage root alternatives, in ASN.1 order.
const RAS_ROOT: u64 = 25;

macro_rules! ras_alternatives {
    ($($i:literal => $v:ident, $name:literal;)*) => {
        impl RasMessage {
            /// Decodes one RAS message (a whole UDP payload).
            pub fn decode(data: &[u8]) -> Result<RasMessage> {
                Self::decode_secured(data).map(|(m, _)| m)
            }

            /// Decodes one RAS message and its H.235 fields.
            pub fn decode_secured(data: &[u8]) -> Result<(RasMessage, RasSecurity)> {
                let mut sec = RasSecurity::default();
                let m = Self::decode_into(data, &mut sec)?;
                Ok((m, sec))
            }

            fn decode_into(data: &[u8], sec: &mut RasSecurity) -> Result<RasMessage> {
                let mut d = Decoder::with_root(data, "RasMessage");
                let d = &mut d;
                Ok(match d.choice_index(RAS_ROOT, true)? {
                    $(Index::Root($i) => RasMessage::$v(d.field($name, |d| $v::decode_sec(d, sec))?),)*
                    Index::Root(i) => {
                        return Err(d.err(crate::per::PerErrorKind::BadChoice(i)))
                    }
                    Index::Ext(0) => RasMessage::RequestInProgress(
                        d.field("requestInProgress", |d| d.open_type(RequestInProgress::decode))?,
                    ),
                    Index::Ext(x) => RasMessage::Other {
                        ext_index: x,
                        encoded: d.skip_open_type()?,
                    },
                })
            }

            /// Encodes the message as a UDP payload.
            pub fn encode(&self) -> Result<Vec<u8>> {
                self.encode_secured(&RasSecurity::default())
            }

            /// Encodes the message with H.235 fields (those a message type
            /// does not carry are left out).
            pub fn encode_secured(&self, sec: &RasSecurity) -> Result<Vec<u8>> {
                let mut enc = Encoder::with_root("RasMessage");
                let e = &mut enc;
                match self {
                    $(RasMessage::$v(m) => {
                        e.choice_index(Index::Root($i), RAS_ROOT, true)?;
                        e.field($name, |e| m.encode_sec(e, sec))?;
                    })*
                    RasMessage::RequestInProgress(m) => {
                        e.choice_index(Index::Ext(0), RAS_ROOT, true)?;
                        e.field("requestInProgress", |e| e.open_type(|e| m.encode(e)))?;
                    }
                    RasMessage::Other { ext_index, encoded } => {
                        e.choice_index(Index::Ext(*ext_index), RAS_ROOT, true)?;
                        e.open_type_bytes(encoded)?;
                    }
                }
                Ok(enc.finish())
            }

            /// The ASN.1 name of the alternative (for logs).
            pub fn name(&self) -> &'static str {
                match self {
                    $(RasMessage::$v(_) => $name,)*
                    RasMessage::RequestInProgress(_) => "requestInProgress",
                    RasMessage::Other { .. } => "unknown extension",
                }
            }
        }
    };
}

ras_alternatives! {
    0 => GatekeeperRequest, "gatekeeperRequest";
    1 => GatekeeperConfirm, "gatekeeperConfirm";
    2 => GatekeeperReject, "gatekeeperReject";
    3 => RegistrationRequest, "registrationRequest";
    4 => RegistrationConfirm, "registrationConfirm";
    5 => RegistrationReject, "registrationReject";
    6 => UnregistrationRequest, "unregistrationRequest";
    7 => UnregistrationConfirm, "unregistrationConfirm";
    8 => UnregistrationReject, "unregistrationReject";
    9 => AdmissionRequest, "admissionRequest";
    10 => AdmissionConfirm, "admissionConfirm";
    11 => AdmissionReject, "admissionReject";
    12 => BandwidthRequest, "bandwidthRequest";
    13 => BandwidthConfirm, "bandwidthConfirm";
    14 => BandwidthReject, "bandwidthReject";
    15 => DisengageRequest, "disengageRequest";
    16 => DisengageConfirm, "disengageConfirm";
    17 => DisengageReject, "disengageReject";
    18 => LocationRequest, "locationRequest";
    19 => LocationConfirm, "locationConfirm";
    20 => LocationReject, "locationReject";
    21 => InfoRequest, "infoRequest";
    22 => InfoRequestResponse, "infoRequestResponse";
    23 => NonStandardMessage, "nonStandardMessage";
    24 => UnknownMessageResponse, "unknownMessageResponse";
}

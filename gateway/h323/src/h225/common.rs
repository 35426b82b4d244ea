//! Types shared by H.225.0 RAS and call signalling (module H323-MESSAGES).
//!
//! Root components of a SEQUENCE have no length wrapper, so every root
//! component is decoded structurally even when we keep nothing of it;
//! extension additions and extended CHOICE alternatives we do not model are
//! skipped through their open-type length.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::per::{Alphabet, Decoder, Encoder, Index, PerErrorKind, Result, Size, DIALED_DIGITS};

/// A type with an aligned-PER encoding.
pub trait PerType: Sized {
    fn decode(d: &mut Decoder<'_>) -> Result<Self>;
    fn encode(&self, e: &mut Encoder) -> Result<()>;
}

/// H.225.0 version 4 protocol identifier: Polycom and Cisco send v4 to v7.
pub const H225_PROTOCOL_V4: [u64; 6] = [0, 0, 8, 2250, 0, 4];
pub const H225_PROTOCOL_V7: [u64; 6] = [0, 0, 8, 2250, 0, 7];

// ----------------------------------------------------------------- helpers

pub(crate) fn opt<'a, T>(
    d: &mut Decoder<'a>,
    present: bool,
    name: &'static str,
    f: impl FnOnce(&mut Decoder<'a>) -> Result<T>,
) -> Result<Option<T>> {
    if present {
        d.field(name, f).map(Some)
    } else {
        Ok(None)
    }
}

pub(crate) fn seq_num(d: &mut Decoder<'_>) -> Result<u16> {
    d.field("requestSeqNum", |d| Ok(d.constrained(1, 65535)? as u16))
}

pub(crate) fn put_seq_num(e: &mut Encoder, v: u16) -> Result<()> {
    e.field("requestSeqNum", |e| e.constrained(v as i64, 1, 65535))
}

/// GatekeeperIdentifier / EndpointIdentifier: BMPString (SIZE (1..128)).
pub(crate) fn identifier(d: &mut Decoder<'_>) -> Result<String> {
    d.char_string(Alphabet::Bmp, Size::range(1, 128))
}

pub(crate) fn put_identifier(e: &mut Encoder, s: &str) -> Result<()> {
    e.char_string(s, Alphabet::Bmp, Size::range(1, 128))
}

/// BandWidth: INTEGER (0..4294967295), in units of 100 bit/s.
pub(crate) fn bandwidth(d: &mut Decoder<'_>) -> Result<u32> {
    Ok(d.constrained(0, 4294967295)? as u32)
}

pub(crate) fn put_bandwidth(e: &mut Encoder, v: u32) -> Result<()> {
    e.constrained(v as i64, 0, 4294967295)
}

pub(crate) fn seq_of<T: PerType>(d: &mut Decoder<'_>) -> Result<Vec<T>> {
    d.sequence_of(Size::unbounded(), T::decode)
}

pub(crate) fn put_seq_of<T: PerType>(e: &mut Encoder, v: &[T]) -> Result<()> {
    e.sequence_of(v, Size::unbounded(), |e, x| x.encode(e))
}

/// Encodes an extension addition's content (for `Encoder::extensions`).
pub(crate) fn add(
    e: &mut Encoder,
    name: &'static str,
    f: impl FnOnce(&mut Encoder) -> Result<()>,
) -> Result<Option<Vec<u8>>> {
    e.field(name, |e| e.sub(f)).map(Some)
}

pub(crate) fn add_bool(e: &mut Encoder, name: &'static str, v: bool) -> Result<Option<Vec<u8>>> {
    add(e, name, |e| {
        e.bool(v);
        Ok(())
    })
}

/// A present NULL addition (its open type holds one zero octet).
pub(crate) fn add_null(present: bool) -> Option<Vec<u8>> {
    present.then(|| vec![0])
}

/// Skips a type we only need to get past: an extensible SEQUENCE whose root
/// holds just OPTIONAL NonStandardParameter (TerminalInfo, GatekeeperInfo,
/// McuInfo and the H.3xx capability types).
pub(crate) fn skip_nsd_only_seq(d: &mut Decoder<'_>) -> Result<()> {
    let pre = d.preamble(true, 1)?;
    opt(
        d,
        pre.has(0),
        "nonStandardData",
        NonStandardParameter::decode,
    )?;
    let ext = d.ext_bitmap(pre.extended)?;
    d.skip_extensions(&ext)
}

pub(crate) fn put_empty_ext_seq(e: &mut Encoder, optional: usize) {
    e.preamble(true, false, &vec![false; optional]);
}

/// CHOICE types whose root alternatives are all NULL. Extension
/// alternatives listed by index are NULL too; any other extension
/// alternative (non-NULL or unknown to us) is kept verbatim in `Other`.
macro_rules! null_choice {
    ($(#[$m:meta])* $name:ident { root: [$($r:ident),* $(,)?], ext: [$($ei:literal => $e:ident),* $(,)?] }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $($r,)*
            $($e,)*
            /// An extension alternative we do not model, with its encoding.
            Other { ext_index: u64, encoded: Vec<u8> },
        }

        impl $crate::h225::common::PerType for $name {
            #[allow(unused_assignments, unused_mut)]
            fn decode(d: &mut $crate::per::Decoder<'_>) -> $crate::per::Result<Self> {
                const ROOT: u64 = [$(stringify!($r)),*].len() as u64;
                match d.choice_index(ROOT, true)? {
                    $crate::per::Index::Root(i) => {
                        let mut k = 0u64;
                        $(if i == k { return Ok($name::$r); } k += 1;)*
                        Err(d.err($crate::per::PerErrorKind::BadChoice(i)))
                    }
                    $crate::per::Index::Ext(x) => {
                        let encoded = d.skip_open_type()?;
                        $(if x == $ei { return Ok($name::$e); })*
                        Ok($name::Other { ext_index: x, encoded })
                    }
                }
            }

            #[allow(unused_assignments, unused_mut)]
            fn encode(&self, e: &mut $crate::per::Encoder) -> $crate::per::Result<()> {
                const ROOT: u64 = [$(stringify!($r)),*].len() as u64;
                let mut k = 0u64;
                $(if matches!(self, $name::$r) {
                    return e.choice_index($crate::per::Index::Root(k), ROOT, true);
                }
                k += 1;)*
                $(if matches!(self, $name::$e) {
                    e.choice_index($crate::per::Index::Ext($ei), ROOT, true)?;
                    return e.open_type_bytes(&[0]);
                })*
                match self {
                    $name::Other { ext_index, encoded } => {
                        e.choice_index($crate::per::Index::Ext(*ext_index), ROOT, true)?;
                        e.open_type_bytes(encoded)
                    }
                    _ => unreachable!("every variant handled above"),
                }
            }
        }
    };
}
pub(crate) use null_choice;

// ------------------------------------------------------------------- types

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H221NonStandard {
    pub t35_country_code: u8,
    pub t35_extension: u8,
    pub manufacturer_code: u16,
}

impl PerType for H221NonStandard {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 0)?;
        let v = H221NonStandard {
            t35_country_code: d.field("t35CountryCode", |d| d.constrained(0, 255))? as u8,
            t35_extension: d.field("t35Extension", |d| d.constrained(0, 255))? as u8,
            manufacturer_code: d.field("manufacturerCode", |d| d.constrained(0, 65535))? as u16,
        };
        let ext = d.ext_bitmap(pre.extended)?;
        d.skip_extensions(&ext)?;
        Ok(v)
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(true, false, &[]);
        e.constrained(self.t35_country_code as i64, 0, 255)?;
        e.constrained(self.t35_extension as i64, 0, 255)?;
        e.constrained(self.manufacturer_code as i64, 0, 65535)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NonStandardIdentifier {
    Object(Vec<u64>),
    H221(H221NonStandard),
    Other { ext_index: u64, encoded: Vec<u8> },
}

impl PerType for NonStandardIdentifier {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(match d.choice_index(2, true)? {
            Index::Root(0) => {
                NonStandardIdentifier::Object(d.field("object", |d| d.object_identifier())?)
            }
            Index::Root(_) => {
                NonStandardIdentifier::H221(d.field("h221NonStandard", H221NonStandard::decode)?)
            }
            Index::Ext(x) => NonStandardIdentifier::Other {
                ext_index: x,
                encoded: d.skip_open_type()?,
            },
        })
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        match self {
            NonStandardIdentifier::Object(o) => {
                e.choice_index(Index::Root(0), 2, true)?;
                e.object_identifier(o)
            }
            NonStandardIdentifier::H221(h) => {
                e.choice_index(Index::Root(1), 2, true)?;
                h.encode(e)
            }
            NonStandardIdentifier::Other { ext_index, encoded } => {
                e.choice_index(Index::Ext(*ext_index), 2, true)?;
                e.open_type_bytes(encoded)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonStandardParameter {
    pub identifier: NonStandardIdentifier,
    pub data: Vec<u8>,
}

impl PerType for NonStandardParameter {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(NonStandardParameter {
            identifier: d.field("nonStandardIdentifier", NonStandardIdentifier::decode)?,
            data: d.field("data", |d| d.octet_string(Size::unbounded()))?,
        })
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        self.identifier.encode(e)?;
        e.field("data", |e| e.octet_string(&self.data, Size::unbounded()))
    }
}

null_choice!(
    /// `ipSourceRoute.routing`: strict or loose source routing; an
    /// extension alternative is kept verbatim so it re-encodes unchanged.
    SourceRouting { root: [Strict, Loose], ext: [] }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportAddress {
    Ip {
        ip: Ipv4Addr,
        port: u16,
    },
    IpSourceRoute {
        ip: Ipv4Addr,
        port: u16,
        route: Vec<Ipv4Addr>,
        routing: SourceRouting,
    },
    Ipx {
        node: [u8; 6],
        netnum: [u8; 4],
        port: [u8; 2],
    },
    Ip6 {
        ip: Ipv6Addr,
        port: u16,
    },
    NetBios([u8; 16]),
    Nsap(Vec<u8>),
    NonStandard(NonStandardParameter),
    Other {
        ext_index: u64,
        encoded: Vec<u8>,
    },
}

impl TransportAddress {
    pub fn ip(ip: [u8; 4], port: u16) -> Self {
        TransportAddress::Ip {
            ip: Ipv4Addr::from(ip),
            port,
        }
    }
}

fn port(d: &mut Decoder<'_>) -> Result<u16> {
    d.field("port", |d| Ok(d.constrained(0, 65535)? as u16))
}

impl PerType for TransportAddress {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(match d.choice_index(7, true)? {
            Index::Root(0) => d.field("ipAddress", |d| {
                let ip = d.field("ip", |d| d.octets::<4>())?;
                Ok(TransportAddress::Ip {
                    ip: ip.into(),
                    port: port(d)?,
                })
            })?,
            Index::Root(1) => d.field("ipSourceRoute", |d| {
                let pre = d.preamble(true, 0)?;
                let ip = d.field("ip", |d| d.octets::<4>())?;
                let port = port(d)?;
                let route = d.field("route", |d| {
                    d.sequence_of(Size::unbounded(), |d| Ok(Ipv4Addr::from(d.octets::<4>()?)))
                })?;
                let routing = d.field("routing", SourceRouting::decode)?;
                let ext = d.ext_bitmap(pre.extended)?;
                d.skip_extensions(&ext)?;
                Ok(TransportAddress::IpSourceRoute {
                    ip: ip.into(),
                    port,
                    route,
                    routing,
                })
            })?,
            Index::Root(2) => d.field("ipxAddress", |d| {
                Ok(TransportAddress::Ipx {
                    node: d.octets()?,
                    netnum: d.octets()?,
                    port: d.octets()?,
                })
            })?,
            Index::Root(3) => d.field("ip6Address", |d| {
                let pre = d.preamble(true, 0)?;
                let ip = d.field("ip", |d| d.octets::<16>())?;
                let port = port(d)?;
                let ext = d.ext_bitmap(pre.extended)?;
                d.skip_extensions(&ext)?;
                Ok(TransportAddress::Ip6 {
                    ip: ip.into(),
                    port,
                })
            })?,
            Index::Root(4) => TransportAddress::NetBios(d.field("netBios", |d| d.octets())?),
            Index::Root(5) => {
                TransportAddress::Nsap(d.field("nsap", |d| d.octet_string(Size::range(1, 20)))?)
            }
            Index::Root(_) => TransportAddress::NonStandard(
                d.field("nonStandardAddress", NonStandardParameter::decode)?,
            ),
            Index::Ext(x) => TransportAddress::Other {
                ext_index: x,
                encoded: d.skip_open_type()?,
            },
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        match self {
            TransportAddress::Ip { ip, port } => {
                e.choice_index(Index::Root(0), 7, true)?;
                e.octet_string(&ip.octets(), Size::fixed(4))?;
                e.constrained(*port as i64, 0, 65535)
            }
            TransportAddress::IpSourceRoute {
                ip,
                port,
                route,
                routing,
            } => {
                e.choice_index(Index::Root(1), 7, true)?;
                e.preamble(true, false, &[]);
                e.octet_string(&ip.octets(), Size::fixed(4))?;
                e.constrained(*port as i64, 0, 65535)?;
                e.sequence_of(route, Size::unbounded(), |e, r| {
                    e.octet_string(&r.octets(), Size::fixed(4))
                })?;
                e.field("routing", |e| routing.encode(e))
            }
            TransportAddress::Ipx { node, netnum, port } => {
                e.choice_index(Index::Root(2), 7, true)?;
                e.octet_string(node, Size::fixed(6))?;
                e.octet_string(netnum, Size::fixed(4))?;
                e.octet_string(port, Size::fixed(2))
            }
            TransportAddress::Ip6 { ip, port } => {
                e.choice_index(Index::Root(3), 7, true)?;
                e.preamble(true, false, &[]);
                e.octet_string(&ip.octets(), Size::fixed(16))?;
                e.constrained(*port as i64, 0, 65535)
            }
            TransportAddress::NetBios(b) => {
                e.choice_index(Index::Root(4), 7, true)?;
                e.octet_string(b, Size::fixed(16))
            }
            TransportAddress::Nsap(b) => {
                e.choice_index(Index::Root(5), 7, true)?;
                e.octet_string(b, Size::range(1, 20))
            }
            TransportAddress::NonStandard(n) => {
                e.choice_index(Index::Root(6), 7, true)?;
                n.encode(e)
            }
            TransportAddress::Other { ext_index, encoded } => {
                e.choice_index(Index::Ext(*ext_index), 7, true)?;
                e.open_type_bytes(encoded)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AliasAddress {
    DialedDigits(String),
    H323Id(String),
    UrlId(String),
    TransportId(TransportAddress),
    EmailId(String),
    /// partyNumber, mobileUIM, isupNumber or a later addition: kept verbatim.
    Other {
        ext_index: u64,
        encoded: Vec<u8>,
    },
}

impl PerType for AliasAddress {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(match d.choice_index(2, true)? {
            Index::Root(0) => AliasAddress::DialedDigits(d.field("dialedDigits", |d| {
                d.char_string(DIALED_DIGITS, Size::range(1, 128))
            })?),
            Index::Root(_) => AliasAddress::H323Id(d.field("h323-ID", |d| {
                d.char_string(Alphabet::Bmp, Size::range(1, 256))
            })?),
            Index::Ext(0) => AliasAddress::UrlId(d.field("url-ID", |d| {
                d.open_type(|d| d.char_string(Alphabet::Ia5, Size::range(1, 512)))
            })?),
            Index::Ext(1) => AliasAddress::TransportId(
                d.field("transportID", |d| d.open_type(TransportAddress::decode))?,
            ),
            Index::Ext(2) => AliasAddress::EmailId(d.field("email-ID", |d| {
                d.open_type(|d| d.char_string(Alphabet::Ia5, Size::range(1, 512)))
            })?),
            Index::Ext(x) => AliasAddress::Other {
                ext_index: x,
                encoded: d.skip_open_type()?,
            },
        })
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        match self {
            AliasAddress::DialedDigits(s) => {
                e.choice_index(Index::Root(0), 2, true)?;
                e.field("dialedDigits", |e| {
                    e.char_string(s, DIALED_DIGITS, Size::range(1, 128))
                })
            }
            AliasAddress::H323Id(s) => {
                e.choice_index(Index::Root(1), 2, true)?;
                e.field("h323-ID", |e| {
                    e.char_string(s, Alphabet::Bmp, Size::range(1, 256))
                })
            }
            AliasAddress::UrlId(s) => {
                e.choice_index(Index::Ext(0), 2, true)?;
                e.field("url-ID", |e| {
                    e.open_type(|e| e.char_string(s, Alphabet::Ia5, Size::range(1, 512)))
                })
            }
            AliasAddress::TransportId(t) => {
                e.choice_index(Index::Ext(1), 2, true)?;
                e.field("transportID", |e| e.open_type(|e| t.encode(e)))
            }
            AliasAddress::EmailId(s) => {
                e.choice_index(Index::Ext(2), 2, true)?;
                e.field("email-ID", |e| {
                    e.open_type(|e| e.char_string(s, Alphabet::Ia5, Size::range(1, 512)))
                })
            }
            AliasAddress::Other { ext_index, encoded } => {
                e.choice_index(Index::Ext(*ext_index), 2, true)?;
                e.open_type_bytes(encoded)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorIdentifier {
    pub vendor: H221NonStandard,
    pub product_id: Option<Vec<u8>>,
    pub version_id: Option<Vec<u8>>,
    pub enterprise_number: Option<Vec<u64>>,
}

impl PerType for VendorIdentifier {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 2)?;
        let mut v = VendorIdentifier {
            vendor: d.field("vendor", H221NonStandard::decode)?,
            product_id: opt(d, pre.has(0), "productId", |d| {
                d.octet_string(Size::range(1, 256))
            })?,
            version_id: opt(d, pre.has(1), "versionId", |d| {
                d.octet_string(Size::range(1, 256))
            })?,
            enterprise_number: None,
        };
        for i in d.ext_bitmap(pre.extended)?.indices() {
            match i {
                0 => {
                    v.enterprise_number = Some(d.field("enterpriseNumber", |d| {
                        d.open_type(|d| d.object_identifier())
                    })?)
                }
                _ => {
                    d.skip_open_type()?;
                }
            }
        }
        Ok(v)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let adds = vec![match &self.enterprise_number {
            Some(o) => add(e, "enterpriseNumber", |e| e.object_identifier(o))?,
            None => None,
        }];
        e.preamble(
            true,
            crate::per::any_ext(&adds),
            &[self.product_id.is_some(), self.version_id.is_some()],
        );
        self.vendor.encode(e)?;
        if let Some(p) = &self.product_id {
            e.field("productId", |e| e.octet_string(p, Size::range(1, 256)))?;
        }
        if let Some(p) = &self.version_id {
            e.field("versionId", |e| e.octet_string(p, Size::range(1, 256)))?;
        }
        e.extensions(&adds)
    }
}

/// SupportedProtocols alternatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolKind {
    NonStandard,
    H310,
    H320,
    H321,
    H322,
    H323,
    H324,
    Voice,
    T120Only,
    /// nonStandardProtocol, t38FaxAnnexbOnly, sip or later: not modelled.
    Ext(u64),
}

/// One entry of GatewayInfo.protocol: the kind and its supported prefixes
/// (the technology/dial prefixes gateways register with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedProtocol {
    pub kind: ProtocolKind,
    pub prefixes: Vec<AliasAddress>,
}

const PROTOCOL_KINDS: [ProtocolKind; 9] = [
    ProtocolKind::NonStandard,
    ProtocolKind::H310,
    ProtocolKind::H320,
    ProtocolKind::H321,
    ProtocolKind::H322,
    ProtocolKind::H323,
    ProtocolKind::H324,
    ProtocolKind::Voice,
    ProtocolKind::T120Only,
];

/// SupportedPrefix ::= SEQUENCE { nonStandardData OPTIONAL, prefix AliasAddress, ... }
fn decode_prefix(d: &mut Decoder<'_>) -> Result<AliasAddress> {
    let pre = d.preamble(true, 1)?;
    opt(
        d,
        pre.has(0),
        "nonStandardData",
        NonStandardParameter::decode,
    )?;
    let a = d.field("prefix", AliasAddress::decode)?;
    let ext = d.ext_bitmap(pre.extended)?;
    d.skip_extensions(&ext)?;
    Ok(a)
}

impl PerType for SupportedProtocol {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        match d.choice_index(9, true)? {
            Index::Root(0) => {
                d.field("nonStandardData", NonStandardParameter::decode)?;
                Ok(SupportedProtocol {
                    kind: ProtocolKind::NonStandard,
                    prefixes: Vec::new(),
                })
            }
            Index::Root(i) => {
                // The H.3xx/voice capability types share one shape.
                let pre = d.preamble(true, 1)?;
                opt(
                    d,
                    pre.has(0),
                    "nonStandardData",
                    NonStandardParameter::decode,
                )?;
                let mut prefixes = Vec::new();
                for x in d.ext_bitmap(pre.extended)?.indices() {
                    match x {
                        1 => {
                            prefixes = d.field("supportedPrefixes", |d| {
                                d.open_type(|d| d.sequence_of(Size::unbounded(), decode_prefix))
                            })?
                        }
                        _ => {
                            d.skip_open_type()?;
                        }
                    }
                }
                Ok(SupportedProtocol {
                    kind: PROTOCOL_KINDS[i as usize],
                    prefixes,
                })
            }
            Index::Ext(x) => {
                d.skip_open_type()?;
                Ok(SupportedProtocol {
                    kind: ProtocolKind::Ext(x),
                    prefixes: Vec::new(),
                })
            }
        }
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        let i = PROTOCOL_KINDS
            .iter()
            .position(|k| *k == self.kind)
            .filter(|i| *i > 0)
            .ok_or_else(|| e.err(PerErrorKind::Invalid("protocol kind cannot be encoded")))?;
        e.choice_index(Index::Root(i as u64), 9, true)?;
        let prefixes = add(e, "supportedPrefixes", |e| {
            e.sequence_of(&self.prefixes, Size::unbounded(), |e, p| {
                e.preamble(true, false, &[false]);
                p.encode(e)
            })
        })?;
        let adds = vec![None, prefixes];
        e.preamble(true, true, &[false]);
        e.extensions(&adds)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayInfo {
    pub protocol: Option<Vec<SupportedProtocol>>,
}

impl PerType for GatewayInfo {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 2)?;
        let protocol = opt(d, pre.has(0), "protocol", seq_of)?;
        opt(
            d,
            pre.has(1),
            "nonStandardData",
            NonStandardParameter::decode,
        )?;
        let ext = d.ext_bitmap(pre.extended)?;
        d.skip_extensions(&ext)?;
        Ok(GatewayInfo { protocol })
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(true, false, &[self.protocol.is_some(), false]);
        if let Some(p) = &self.protocol {
            e.field("protocol", |e| put_seq_of(e, p))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointType {
    pub non_standard_data: Option<NonStandardParameter>,
    pub vendor: Option<VendorIdentifier>,
    pub gatekeeper: bool,
    pub gateway: Option<GatewayInfo>,
    pub mcu: bool,
    pub terminal: bool,
    pub mc: bool,
    pub undefined_node: bool,
}

impl EndpointType {
    pub fn terminal() -> Self {
        EndpointType {
            terminal: true,
            ..Default::default()
        }
    }
}

impl PerType for EndpointType {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 6)?;
        let v = EndpointType {
            non_standard_data: opt(
                d,
                pre.has(0),
                "nonStandardData",
                NonStandardParameter::decode,
            )?,
            vendor: opt(d, pre.has(1), "vendor", VendorIdentifier::decode)?,
            gatekeeper: opt(d, pre.has(2), "gatekeeper", skip_nsd_only_seq)?.is_some(),
            gateway: opt(d, pre.has(3), "gateway", GatewayInfo::decode)?,
            mcu: opt(d, pre.has(4), "mcu", skip_nsd_only_seq)?.is_some(),
            terminal: opt(d, pre.has(5), "terminal", skip_nsd_only_seq)?.is_some(),
            mc: d.field("mc", |d| d.bool())?,
            undefined_node: d.field("undefinedNode", |d| d.bool())?,
        };
        let ext = d.ext_bitmap(pre.extended)?;
        d.skip_extensions(&ext)?;
        Ok(v)
    }

    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(
            true,
            false,
            &[
                self.non_standard_data.is_some(),
                self.vendor.is_some(),
                self.gatekeeper,
                self.gateway.is_some(),
                self.mcu,
                self.terminal,
            ],
        );
        if let Some(n) = &self.non_standard_data {
            e.field("nonStandardData", |e| n.encode(e))?;
        }
        if let Some(v) = &self.vendor {
            e.field("vendor", |e| v.encode(e))?;
        }
        if self.gatekeeper {
            put_empty_ext_seq(e, 1);
        }
        if let Some(g) = &self.gateway {
            e.field("gateway", |e| g.encode(e))?;
        }
        if self.mcu {
            put_empty_ext_seq(e, 1);
        }
        if self.terminal {
            put_empty_ext_seq(e, 1);
        }
        e.bool(self.mc);
        e.bool(self.undefined_node);
        Ok(())
    }
}

/// QseriesOptions: decoded only to get past it.
pub(crate) fn skip_qseries_options(d: &mut Decoder<'_>) -> Result<()> {
    let pre = d.preamble(true, 0)?;
    d.read_bits(7)?;
    d.field("q954Info", |d| {
        let pre = d.preamble(true, 0)?;
        d.read_bits(2)?;
        let ext = d.ext_bitmap(pre.extended)?;
        d.skip_extensions(&ext)
    })?;
    let ext = d.ext_bitmap(pre.extended)?;
    d.skip_extensions(&ext)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallIdentifier {
    pub guid: [u8; 16],
}

impl PerType for CallIdentifier {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 0)?;
        let guid = d.field("guid", |d| d.octets::<16>())?;
        let ext = d.ext_bitmap(pre.extended)?;
        d.skip_extensions(&ext)?;
        Ok(CallIdentifier { guid })
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(true, false, &[]);
        e.octet_string(&self.guid, Size::fixed(16))
    }
}

pub(crate) fn conference_id(d: &mut Decoder<'_>) -> Result<[u8; 16]> {
    d.field("conferenceID", |d| d.octets::<16>())
}

pub(crate) fn put_conference_id(e: &mut Encoder, id: &[u8; 16]) -> Result<()> {
    e.field("conferenceID", |e| e.octet_string(id, Size::fixed(16)))
}

null_choice!(
    /// CallType
    CallType {
        root: [PointToPoint, OneToN, NToOne, NToN],
        ext: []
    }
);

null_choice!(
    /// CallModel
    CallModel {
        root: [Direct, GatekeeperRouted],
        ext: []
    }
);

/// TransportChannelInfo (IRR per-call information).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransportChannelInfo {
    pub send_address: Option<TransportAddress>,
    pub recv_address: Option<TransportAddress>,
}

impl PerType for TransportChannelInfo {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 2)?;
        let v = TransportChannelInfo {
            send_address: opt(d, pre.has(0), "sendAddress", TransportAddress::decode)?,
            recv_address: opt(d, pre.has(1), "recvAddress", TransportAddress::decode)?,
        };
        let ext = d.ext_bitmap(pre.extended)?;
        d.skip_extensions(&ext)?;
        Ok(v)
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(
            true,
            false,
            &[self.send_address.is_some(), self.recv_address.is_some()],
        );
        if let Some(a) = &self.send_address {
            e.field("sendAddress", |e| a.encode(e))?;
        }
        if let Some(a) = &self.recv_address {
            e.field("recvAddress", |e| a.encode(e))?;
        }
        Ok(())
    }
}

/// RTPSession (IRR per-call information).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpSession {
    pub rtp_address: TransportChannelInfo,
    pub rtcp_address: TransportChannelInfo,
    pub cname: String,
    pub ssrc: u32,
    pub session_id: u8,
    pub associated_session_ids: Vec<u8>,
}

impl PerType for RtpSession {
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let pre = d.preamble(true, 0)?;
        let v = RtpSession {
            rtp_address: d.field("rtpAddress", TransportChannelInfo::decode)?,
            rtcp_address: d.field("rtcpAddress", TransportChannelInfo::decode)?,
            cname: d.field("cname", |d| {
                d.char_string(Alphabet::Printable, Size::unbounded())
            })?,
            ssrc: d.field("ssrc", |d| d.constrained(1, 4294967295))? as u32,
            session_id: d.field("sessionId", |d| d.constrained(1, 255))? as u8,
            associated_session_ids: d.field("associatedSessionIds", |d| {
                d.sequence_of(Size::unbounded(), |d| Ok(d.constrained(1, 255)? as u8))
            })?,
        };
        let ext = d.ext_bitmap(pre.extended)?;
        d.skip_extensions(&ext)?;
        Ok(v)
    }
    fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.preamble(true, false, &[]);
        self.rtp_address.encode(e)?;
        self.rtcp_address.encode(e)?;
        e.field("cname", |e| {
            e.char_string(&self.cname, Alphabet::Printable, Size::unbounded())
        })?;
        e.constrained(self.ssrc as i64, 1, 4294967295)?;
        e.constrained(self.session_id as i64, 1, 255)?;
        e.sequence_of(&self.associated_session_ids, Size::unbounded(), |e, s| {
            e.constrained(*s as i64, 1, 255)
        })
    }
}

//! One cause type for every protocol (SIP status, Q.850 cause, H.225 reason).
//!
//! Every leg converts its protocol's release into a [`Cause`] and back, here
//! and nowhere else. The Q.850 value is the common currency; the SIP status
//! or H.225 reason a cause arrived with is kept beside it, so a SIP→SIP or
//! H.323→H.323 call passes the peer's exact value through instead of a lossy
//! round trip through Q.850.
//!
//! Tables: RFC 3398 §7.2.4.1 (Q.850 → SIP) and §8.2.6.1 (SIP → Q.850),
//! H.225.0 Table 5 (ReleaseCompleteReason → Q.850), RFC 3326 / RFC 6432 for
//! the Reason header.

use std::fmt;

/// A Q.850 cause value, always in 1..=127.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Q850(u8);

impl Q850 {
    pub const UNALLOCATED_NUMBER: Q850 = Q850(1);
    pub const NO_ROUTE_TO_TRANSIT_NETWORK: Q850 = Q850(2);
    pub const NO_ROUTE_TO_DESTINATION: Q850 = Q850(3);
    pub const NORMAL_CLEARING: Q850 = Q850(16);
    pub const USER_BUSY: Q850 = Q850(17);
    pub const NO_USER_RESPONDING: Q850 = Q850(18);
    pub const NO_ANSWER: Q850 = Q850(19);
    pub const SUBSCRIBER_ABSENT: Q850 = Q850(20);
    pub const CALL_REJECTED: Q850 = Q850(21);
    pub const NUMBER_CHANGED: Q850 = Q850(22);
    pub const REDIRECTION_TO_NEW_DESTINATION: Q850 = Q850(23);
    pub const EXCHANGE_ROUTING_ERROR: Q850 = Q850(25);
    pub const NON_SELECTED_USER_CLEARING: Q850 = Q850(26);
    pub const DESTINATION_OUT_OF_ORDER: Q850 = Q850(27);
    pub const INVALID_NUMBER_FORMAT: Q850 = Q850(28);
    pub const FACILITY_REJECTED: Q850 = Q850(29);
    pub const NORMAL_UNSPECIFIED: Q850 = Q850(31);
    pub const NO_CIRCUIT_AVAILABLE: Q850 = Q850(34);
    pub const NETWORK_OUT_OF_ORDER: Q850 = Q850(38);
    pub const TEMPORARY_FAILURE: Q850 = Q850(41);
    pub const SWITCHING_EQUIPMENT_CONGESTION: Q850 = Q850(42);
    pub const RESOURCE_UNAVAILABLE: Q850 = Q850(47);
    pub const INCOMING_CALLS_BARRED_WITHIN_CUG: Q850 = Q850(55);
    pub const BEARER_CAPABILITY_NOT_AUTHORIZED: Q850 = Q850(57);
    pub const BEARER_CAPABILITY_NOT_AVAILABLE: Q850 = Q850(58);
    pub const SERVICE_NOT_AVAILABLE: Q850 = Q850(63);
    pub const BEARER_CAPABILITY_NOT_IMPLEMENTED: Q850 = Q850(65);
    pub const REQUESTED_FACILITY_NOT_IMPLEMENTED: Q850 = Q850(69);
    pub const ONLY_RESTRICTED_DIGITAL_AVAILABLE: Q850 = Q850(70);
    pub const SERVICE_NOT_IMPLEMENTED: Q850 = Q850(79);
    pub const USER_NOT_MEMBER_OF_CUG: Q850 = Q850(87);
    pub const INCOMPATIBLE_DESTINATION: Q850 = Q850(88);
    pub const INVALID_MESSAGE: Q850 = Q850(95);
    pub const RECOVERY_ON_TIMER_EXPIRY: Q850 = Q850(102);
    pub const PROTOCOL_ERROR: Q850 = Q850(111);
    pub const INTERWORKING: Q850 = Q850(127);

    /// `None` outside 1..=127.
    pub const fn new(value: u8) -> Option<Q850> {
        if value >= 1 && value <= 127 {
            Some(Q850(value))
        } else {
            None
        }
    }

    /// From a Q.931 cause octet as received: the extension bit (bit 8) is
    /// dropped, and 0, which Q.850 never assigns, reads as "normal,
    /// unspecified" so that a peer's odd octet still ends the call cleanly.
    pub const fn from_wire(octet: u8) -> Q850 {
        match octet & 0x7f {
            0 => Q850::NORMAL_UNSPECIFIED,
            v => Q850(v),
        }
    }

    pub const fn value(self) -> u8 {
        self.0
    }

    /// The Q.850 name in lower case, `None` for unassigned values.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "unallocated number",
            2 => "no route to transit network",
            3 => "no route to destination",
            4 => "send special information tone",
            5 => "misdialled trunk prefix",
            6 => "channel unacceptable",
            7 => "call awarded in established channel",
            8 => "preemption",
            9 => "preemption, circuit reserved",
            14 => "query on release, number ported",
            16 => "normal clearing",
            17 => "user busy",
            18 => "no user responding",
            19 => "no answer",
            20 => "subscriber absent",
            21 => "call rejected",
            22 => "number changed",
            23 => "redirection to new destination",
            25 => "exchange routing error",
            26 => "non-selected user clearing",
            27 => "destination out of order",
            28 => "invalid number format",
            29 => "facility rejected",
            30 => "response to status enquiry",
            31 => "normal unspecified",
            34 => "no circuit available",
            38 => "network out of order",
            39 => "frame mode connection out of service",
            40 => "frame mode connection operational",
            41 => "temporary failure",
            42 => "switching equipment congestion",
            43 => "access information discarded",
            44 => "requested circuit not available",
            46 => "precedence call blocked",
            47 => "resource unavailable",
            49 => "quality of service not available",
            50 => "requested facility not subscribed",
            53 => "outgoing calls barred within CUG",
            55 => "incoming calls barred within CUG",
            57 => "bearer capability not authorized",
            58 => "bearer capability not presently available",
            62 => "outgoing access inconsistent with subscriber class",
            63 => "service or option not available",
            65 => "bearer capability not implemented",
            66 => "channel type not implemented",
            69 => "requested facility not implemented",
            70 => "only restricted digital bearer available",
            79 => "service or option not implemented",
            81 => "invalid call reference",
            82 => "identified channel does not exist",
            83 => "suspended call exists, call identity does not",
            84 => "call identity in use",
            85 => "no call suspended",
            86 => "requested call identity has been cleared",
            87 => "user not member of CUG",
            88 => "incompatible destination",
            90 => "non-existent CUG",
            91 => "invalid transit network selection",
            95 => "invalid message",
            96 => "mandatory information element missing",
            97 => "message type not implemented",
            98 => "message not compatible with call state or not implemented",
            99 => "information element not implemented",
            100 => "invalid information element contents",
            101 => "message not compatible with call state",
            102 => "recovery on timer expiry",
            103 => "parameter not implemented, passed on",
            110 => "message with unrecognized parameter discarded",
            111 => "protocol error",
            127 => "interworking",
            _ => return None,
        })
    }
}

impl fmt::Display for Q850 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "Q.850 {} {}", self.0, name),
            None => write!(f, "Q.850 {}", self.0),
        }
    }
}

/// The alternatives of H.225.0 `ReleaseCompleteReason`, in ASN.1 CHOICE
/// order. Payloads (the non-standard parameter, the conference identifier,
/// the security error detail) stay with the H.323 codec; the call model only
/// needs which alternative it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum H225ReleaseReason {
    NoBandwidth,
    GatekeeperResources,
    UnreachableDestination,
    DestinationRejection,
    InvalidRevision,
    NoPermission,
    UnreachableGatekeeper,
    GatewayResources,
    BadFormatAddress,
    AdaptiveBusy,
    InConf,
    UndefinedReason,
    // Extension additions (after the `...` marker).
    FacilityCallDeflection,
    SecurityDenied,
    CalledPartyNotRegistered,
    CallerNotRegistered,
    NewConnectionNeeded,
    NonStandardReason,
    ReplaceWithConferenceInvite,
    GenericDataReason,
    NeededFeatureNotSupported,
    TunnelledSignallingRejected,
    InvalidCid,
    SecurityError,
    HopCountExceeded,
}

impl H225ReleaseReason {
    /// Every alternative, in CHOICE order (index = position).
    pub const ALL: [H225ReleaseReason; 25] = [
        H225ReleaseReason::NoBandwidth,
        H225ReleaseReason::GatekeeperResources,
        H225ReleaseReason::UnreachableDestination,
        H225ReleaseReason::DestinationRejection,
        H225ReleaseReason::InvalidRevision,
        H225ReleaseReason::NoPermission,
        H225ReleaseReason::UnreachableGatekeeper,
        H225ReleaseReason::GatewayResources,
        H225ReleaseReason::BadFormatAddress,
        H225ReleaseReason::AdaptiveBusy,
        H225ReleaseReason::InConf,
        H225ReleaseReason::UndefinedReason,
        H225ReleaseReason::FacilityCallDeflection,
        H225ReleaseReason::SecurityDenied,
        H225ReleaseReason::CalledPartyNotRegistered,
        H225ReleaseReason::CallerNotRegistered,
        H225ReleaseReason::NewConnectionNeeded,
        H225ReleaseReason::NonStandardReason,
        H225ReleaseReason::ReplaceWithConferenceInvite,
        H225ReleaseReason::GenericDataReason,
        H225ReleaseReason::NeededFeatureNotSupported,
        H225ReleaseReason::TunnelledSignallingRejected,
        H225ReleaseReason::InvalidCid,
        H225ReleaseReason::SecurityError,
        H225ReleaseReason::HopCountExceeded,
    ];

    /// Alternatives before this index are in the extension root (PER encodes
    /// them differently from the additions).
    pub const ROOT_COUNT: u8 = 12;

    /// Position in the CHOICE (root alternatives 0..=11, additions after).
    pub fn choice_index(self) -> u8 {
        self as u8
    }

    /// `None` for an index this table does not know (a later H.225.0
    /// version's addition): the codec decides what to do with it.
    pub fn from_choice_index(index: u32) -> Option<H225ReleaseReason> {
        usize::try_from(index)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    pub fn is_extension(self) -> bool {
        self.choice_index() >= Self::ROOT_COUNT
    }

    /// The ASN.1 identifier, for logs.
    pub fn asn1_name(self) -> &'static str {
        use H225ReleaseReason::*;
        match self {
            NoBandwidth => "noBandwidth",
            GatekeeperResources => "gatekeeperResources",
            UnreachableDestination => "unreachableDestination",
            DestinationRejection => "destinationRejection",
            InvalidRevision => "invalidRevision",
            NoPermission => "noPermission",
            UnreachableGatekeeper => "unreachableGatekeeper",
            GatewayResources => "gatewayResources",
            BadFormatAddress => "badFormatAddress",
            AdaptiveBusy => "adaptiveBusy",
            InConf => "inConf",
            UndefinedReason => "undefinedReason",
            FacilityCallDeflection => "facilityCallDeflection",
            SecurityDenied => "securityDenied",
            CalledPartyNotRegistered => "calledPartyNotRegistered",
            CallerNotRegistered => "callerNotRegistered",
            NewConnectionNeeded => "newConnectionNeeded",
            NonStandardReason => "nonStandardReason",
            ReplaceWithConferenceInvite => "replaceWithConferenceInvite",
            GenericDataReason => "genericDataReason",
            NeededFeatureNotSupported => "neededFeatureNotSupported",
            TunnelledSignallingRejected => "tunnelledSignallingRejected",
            InvalidCid => "invalidCID",
            SecurityError => "securityError",
            HopCountExceeded => "hopCountExceeded",
        }
    }

    /// H.225.0 Table 5. The table labels noPermission's 111 "interworking,
    /// unspecified" although Q.850 calls 111 "protocol error"; we keep the
    /// number the table gives, as deployed gatekeepers do. The last three
    /// alternatives have no row we could verify: invalidCID and securityError
    /// follow their neighbours (31, as securityDenied), hopCountExceeded takes
    /// 25, the cause Q.850 defines for an exhausted hop counter.
    pub fn q850(self) -> Q850 {
        use H225ReleaseReason::*;
        match self {
            NoBandwidth => Q850::NO_CIRCUIT_AVAILABLE,
            GatekeeperResources => Q850::RESOURCE_UNAVAILABLE,
            UnreachableDestination => Q850::NO_ROUTE_TO_DESTINATION,
            DestinationRejection => Q850::NORMAL_CLEARING,
            InvalidRevision => Q850::INCOMPATIBLE_DESTINATION,
            NoPermission => Q850::PROTOCOL_ERROR,
            UnreachableGatekeeper => Q850::NETWORK_OUT_OF_ORDER,
            GatewayResources => Q850::SWITCHING_EQUIPMENT_CONGESTION,
            BadFormatAddress => Q850::INVALID_NUMBER_FORMAT,
            AdaptiveBusy => Q850::TEMPORARY_FAILURE,
            InConf => Q850::USER_BUSY,
            UndefinedReason => Q850::NORMAL_UNSPECIFIED,
            FacilityCallDeflection => Q850::NORMAL_CLEARING,
            SecurityDenied => Q850::NORMAL_UNSPECIFIED,
            CalledPartyNotRegistered => Q850::SUBSCRIBER_ABSENT,
            CallerNotRegistered => Q850::NORMAL_UNSPECIFIED,
            NewConnectionNeeded => Q850::RESOURCE_UNAVAILABLE,
            NonStandardReason => Q850::INTERWORKING,
            ReplaceWithConferenceInvite => Q850::NORMAL_UNSPECIFIED,
            GenericDataReason => Q850::NORMAL_UNSPECIFIED,
            NeededFeatureNotSupported => Q850::NORMAL_UNSPECIFIED,
            TunnelledSignallingRejected => Q850::INTERWORKING,
            InvalidCid => Q850::NORMAL_UNSPECIFIED,
            SecurityError => Q850::NORMAL_UNSPECIFIED,
            HopCountExceeded => Q850::EXCHANGE_ROUTING_ERROR,
        }
    }

    /// The inverse of Table 5 where a cause has a row; where several reasons
    /// share a cause, the generic one. Everything else is undefinedReason:
    /// the H.323 leg sends the exact Q.850 value in the Cause IE anyway.
    pub fn from_q850(cause: Q850) -> H225ReleaseReason {
        use H225ReleaseReason::*;
        match cause.value() {
            3 => UnreachableDestination,
            16 => DestinationRejection,
            17 => InConf,
            20 => CalledPartyNotRegistered,
            25 => HopCountExceeded,
            28 => BadFormatAddress,
            34 => NoBandwidth,
            38 => UnreachableGatekeeper,
            41 => AdaptiveBusy,
            42 => GatewayResources,
            47 => GatekeeperResources,
            88 => InvalidRevision,
            111 => NoPermission,
            _ => UndefinedReason,
        }
    }
}

impl fmt::Display for H225ReleaseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.asn1_name())
    }
}

/// Longest reason text kept, in bytes: the text only feeds logs and reason
/// phrases, and comes from the network.
pub const MAX_TEXT_LEN: usize = 200;

/// Why a call or leg ended, in every protocol's terms at once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cause {
    q850: Q850,
    /// The SIP status the cause arrived with (100..=699), passed through
    /// unchanged to another SIP leg.
    sip_status: Option<u16>,
    /// The H.225 reason the cause arrived with, passed through unchanged to
    /// another H.323 leg.
    h225: Option<H225ReleaseReason>,
    /// Free text for logs and the SIP reason phrase; no control characters,
    /// at most [`MAX_TEXT_LEN`] bytes.
    text: Option<String>,
}

impl Cause {
    pub fn new(q850: Q850) -> Cause {
        Cause {
            q850,
            sip_status: None,
            h225: None,
            text: None,
        }
    }

    /// A BYE, CANCEL or on-hook: Q.850 16.
    pub fn normal_clearing() -> Cause {
        Cause::new(Q850::NORMAL_CLEARING)
    }

    /// Replaces the text (cleaned and bounded; empty clears it).
    pub fn with_text(mut self, text: &str) -> Cause {
        self.text = clean_text(text);
        self
    }

    /// A SIP final response (RFC 3398 §8.2.6.1), keeping the status for SIP
    /// peers and `reason` (the reason phrase) as text. Statuses outside
    /// 100..=699 are not SIP statuses and are not kept.
    pub fn from_sip_status(status: u16, reason: &str) -> Cause {
        let kept = (100..=699).contains(&status).then_some(status);
        Cause {
            q850: sip_to_q850(status),
            sip_status: kept,
            h225: None,
            text: clean_text(reason),
        }
    }

    /// A SIP final response that may carry a Reason header (RFC 6432): its
    /// Q.850 value, when present, is the precise one and wins over the table;
    /// the status is kept either way.
    pub fn from_sip_response(
        status: u16,
        reason_phrase: &str,
        reason_header: Option<&str>,
    ) -> Cause {
        let mut cause = Cause::from_sip_status(status, reason_phrase);
        if let Some(header) = reason_header.and_then(parse_reason) {
            if let Some((q850, text)) = header.q850 {
                cause.q850 = q850;
                if text.is_some() {
                    cause.text = text;
                }
            }
        }
        cause
    }

    /// An H.225 ReleaseComplete reason (H.225.0 Table 5), kept for H.323
    /// peers.
    pub fn from_h225(reason: H225ReleaseReason) -> Cause {
        Cause {
            q850: reason.q850(),
            sip_status: None,
            h225: Some(reason),
            text: None,
        }
    }

    /// From a Reason header value (RFC 3326), with or without the leading
    /// `Reason:`: `Q.850;cause=16;text="..."` and/or `SIP;cause=486`.
    /// With both, the Q.850 value is the cause and the SIP status is kept
    /// beside it. `None` when no entry carries a valid cause or the value
    /// does not follow the grammar.
    pub fn from_reason_header(value: &str) -> Option<Cause> {
        let parsed = parse_reason(value)?;
        match (parsed.q850, parsed.sip) {
            (Some((q850, q_text)), sip) => {
                let (sip_status, sip_text) = match sip {
                    Some((s, t)) => (Some(s), t),
                    None => (None, None),
                };
                Some(Cause {
                    q850,
                    sip_status,
                    h225: None,
                    text: q_text.or(sip_text),
                })
            }
            (None, Some((status, text))) => {
                let mut cause = Cause::from_sip_status(status, "");
                cause.text = text;
                Some(cause)
            }
            (None, None) => None,
        }
    }

    pub fn q850(&self) -> Q850 {
        self.q850
    }

    /// The SIP status this cause arrived with, if it came from SIP.
    pub fn sip_status(&self) -> Option<u16> {
        self.sip_status
    }

    /// The H.225 reason this cause arrived with, if it came from H.323.
    pub fn h225(&self) -> Option<H225ReleaseReason> {
        self.h225
    }

    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The status to reject a SIP INVITE with: the status the cause came
    /// with if that was a final non-2xx one, else RFC 3398 §7.2.4.1.
    pub fn to_sip_status(&self) -> u16 {
        match self.sip_status {
            Some(s) if s >= 300 => s,
            _ => q850_to_sip(self.q850),
        }
    }

    /// The reason phrase to send with [`Cause::to_sip_status`]: the text if
    /// there is one, else the status's standard phrase.
    pub fn sip_reason_phrase(&self) -> &str {
        match &self.text {
            Some(t) => t,
            None => sip_status_phrase(self.to_sip_status()),
        }
    }

    /// The reason to put in an H.225 ReleaseComplete: the one the cause came
    /// with, else the inverse of H.225.0 Table 5.
    pub fn to_h225(&self) -> H225ReleaseReason {
        self.h225
            .unwrap_or_else(|| H225ReleaseReason::from_q850(self.q850))
    }

    /// The call ended the ordinary way (Q.850 16), not a failure.
    pub fn is_normal(&self) -> bool {
        self.q850 == Q850::NORMAL_CLEARING
    }

    /// The Reason header value in RFC 6432 form (without `Reason:`):
    /// `Q.850;cause=17;text="user busy"`. The text is ours if we have one,
    /// else the Q.850 name.
    pub fn reason_header(&self) -> String {
        let mut out = format!("Q.850;cause={}", self.q850.value());
        if let Some(text) = self.text.as_deref().or(self.q850.name()) {
            push_text_param(&mut out, text);
        }
        out
    }

    /// The RFC 3326 `SIP;cause=...` form, for a cause that came from SIP (a
    /// CANCEL's `SIP;cause=200` tells forked phones the call was answered
    /// elsewhere).
    pub fn sip_reason_header(&self) -> Option<String> {
        let status = self.sip_status?;
        let mut out = format!("SIP;cause={status}");
        if let Some(text) = &self.text {
            push_text_param(&mut out, text);
        }
        Some(out)
    }
}

impl From<Q850> for Cause {
    fn from(q850: Q850) -> Cause {
        Cause::new(q850)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.q850)?;
        if let Some(s) = self.sip_status {
            write!(f, " (SIP {s})")?;
        }
        if let Some(r) = self.h225 {
            write!(f, " (H.225 {r})")?;
        }
        if let Some(t) = &self.text {
            write!(f, ": \"{t}\"")?;
        }
        Ok(())
    }
}

/// RFC 3398 §7.2.4.1. The RFC gives no status for 16 (it becomes BYE or
/// CANCEL); when a final response is unavoidable we answer 480 like the
/// other normal-class causes. Causes the table does not list take the
/// status of their class's "unspecified" cause (Q.850 treats an unknown
/// value as that); for the two classes whose unspecified cause has no row
/// (63, 95) we chose 503 and 500. Location "user" turning 403 into 603
/// (the RFC's footnote) is not modelled: we carry no location.
fn q850_to_sip(cause: Q850) -> u16 {
    match cause.value() {
        1..=3 => 404,
        16 => 480,
        17 => 486,
        18 => 408,
        19 | 20 => 480,
        21 => 403,
        22 | 23 => 410,
        26 => 404,
        27 => 502,
        28 => 484,
        29 => 501,
        31 => 480,
        34 | 38 | 41 | 42 | 47 => 503,
        55 | 57 => 403,
        58 => 503,
        65 | 70 => 488,
        79 => 501,
        87 => 403,
        88 => 503,
        102 => 504,
        111 | 127 => 500,
        v => match v {
            0..=31 => 480,
            32..=47 => 503,
            48..=63 => 503,
            64..=79 => 501,
            _ => 500,
        },
    }
}

/// RFC 3398 §8.2.6.1; unlisted statuses map to 31 as the RFC says. Where
/// the RFC has no number we chose: 487 (the echo of a CANCEL) is 16 like
/// the CANCEL itself; 488 and 606 ("by Warning header") are 65, the cause
/// whose forward mapping is 488, since unacceptable media is their usual
/// meaning. 1xx/2xx are not failures: 16.
fn sip_to_q850(status: u16) -> Q850 {
    match status {
        100..=299 => Q850::NORMAL_CLEARING,
        400 => Q850::TEMPORARY_FAILURE,
        401 | 402 | 403 | 407 => Q850::CALL_REJECTED,
        404 | 485 | 604 => Q850::UNALLOCATED_NUMBER,
        405 => Q850::SERVICE_NOT_AVAILABLE,
        406 | 415 | 501 => Q850::SERVICE_NOT_IMPLEMENTED,
        408 | 504 => Q850::RECOVERY_ON_TIMER_EXPIRY,
        410 => Q850::NUMBER_CHANGED,
        413 | 414 | 416 | 420 | 421 | 423 | 505 | 513 => Q850::INTERWORKING,
        480 => Q850::NO_USER_RESPONDING,
        481 | 500 | 503 => Q850::TEMPORARY_FAILURE,
        482 | 483 => Q850::EXCHANGE_ROUTING_ERROR,
        484 => Q850::INVALID_NUMBER_FORMAT,
        486 | 600 => Q850::USER_BUSY,
        487 => Q850::NORMAL_CLEARING,
        488 | 606 => Q850::BEARER_CAPABILITY_NOT_IMPLEMENTED,
        502 => Q850::NETWORK_OUT_OF_ORDER,
        603 => Q850::CALL_REJECTED,
        _ => Q850::NORMAL_UNSPECIFIED,
    }
}

/// Standard reason phrases (RFC 3261 and the extensions we map), with a
/// class phrase for anything else.
pub fn sip_status_phrase(status: u16) -> &'static str {
    let known = match status {
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "",
    };
    if !known.is_empty() {
        return known;
    }
    match status {
        300..=399 => "Redirection",
        400..=499 => "Request Failure",
        500..=599 => "Server Failure",
        600..=699 => "Global Failure",
        _ => "Unknown",
    }
}

/// Control characters become spaces (a reason phrase must never smuggle a
/// line break into a header we build); the result is trimmed and cut at a
/// character boundary.
fn clean_text(text: &str) -> Option<String> {
    let mut out = String::new();
    for c in text.trim().chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > MAX_TEXT_LEN {
            break;
        }
        out.push(c);
    }
    let trimmed = out.trim_end();
    if trimmed.is_empty() {
        None
    } else {
        Some(trimmed.to_owned())
    }
}

fn push_text_param(out: &mut String, text: &str) {
    out.push_str(";text=\"");
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// What a Reason header said, per protocol: the first valid entry of each.
struct ParsedReason {
    q850: Option<(Q850, Option<String>)>,
    sip: Option<(u16, Option<String>)>,
}

/// RFC 3326 §2:
/// `reason-value = protocol *(SEMI reason-params)`, values separated by
/// commas, params `cause=1*DIGIT`, `text=quoted-string` or generic-param.
/// `None` on anything off-grammar; unknown protocols and params are skipped.
fn parse_reason(input: &str) -> Option<ParsedReason> {
    let mut sc = Scanner {
        s: strip_header_name(input),
        pos: 0,
    };
    let mut parsed = ParsedReason {
        q850: None,
        sip: None,
    };
    loop {
        sc.skip_lws();
        let protocol = sc.token();
        if protocol.is_empty() {
            return None;
        }
        let mut cause: Option<&str> = None;
        let mut text: Option<String> = None;
        loop {
            sc.skip_lws();
            match sc.peek() {
                Some(';') => {
                    sc.bump();
                    sc.skip_lws();
                    let name = sc.token();
                    if name.is_empty() {
                        return None;
                    }
                    sc.skip_lws();
                    let value = if sc.peek() == Some('=') {
                        sc.bump();
                        sc.skip_lws();
                        if sc.peek() == Some('"') {
                            Some(ParamValue::Quoted(sc.quoted()?))
                        } else {
                            let v = sc.token();
                            if v.is_empty() {
                                return None;
                            }
                            Some(ParamValue::Token(v))
                        }
                    } else {
                        None
                    };
                    if name.eq_ignore_ascii_case("cause") {
                        if cause.is_none() {
                            // A quoted cause is off-grammar: the entry has none.
                            if let Some(ParamValue::Token(v)) = value {
                                cause = Some(v);
                            }
                        }
                    } else if name.eq_ignore_ascii_case("text") && text.is_none() {
                        // Some peers send an unquoted token; it means the same.
                        text = match value {
                            Some(ParamValue::Quoted(q)) => clean_text(&q),
                            Some(ParamValue::Token(t)) => clean_text(t),
                            None => None,
                        };
                    }
                }
                Some(',') | None => break,
                Some(_) => return None,
            }
        }
        let number = cause.and_then(parse_cause_number);
        if protocol.eq_ignore_ascii_case("Q.850") {
            if parsed.q850.is_none() {
                if let Some(q) = number
                    .and_then(|n| u8::try_from(n).ok())
                    .and_then(Q850::new)
                {
                    parsed.q850 = Some((q, text));
                }
            }
        } else if protocol.eq_ignore_ascii_case("SIP") && parsed.sip.is_none() {
            if let Some(s) = number
                .and_then(|n| u16::try_from(n).ok())
                .filter(|s| (100..=699).contains(s))
            {
                parsed.sip = Some((s, text));
            }
        }
        match sc.peek() {
            Some(',') => sc.bump(),
            _ => break,
        }
    }
    if parsed.q850.is_none() && parsed.sip.is_none() {
        return None;
    }
    Some(parsed)
}

enum ParamValue<'a> {
    Token(&'a str),
    Quoted(String),
}

/// 1*DIGIT; more than five digits cannot be a cause or status.
fn parse_cause_number(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn strip_header_name(input: &str) -> &str {
    let trimmed = input.trim_start();
    let name = "reason";
    match trimmed.get(..name.len()) {
        Some(head) if head.eq_ignore_ascii_case(name) => {
            let rest = trimmed[name.len()..].trim_start();
            match rest.strip_prefix(':') {
                Some(value) => value,
                None => input,
            }
        }
        _ => input,
    }
}

struct Scanner<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    /// Spaces, tabs and folded line breaks.
    fn skip_lws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\r' | '\n')) {
            self.bump();
        }
    }

    /// RFC 3261 token characters.
    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c) {
                self.bump();
            } else {
                break;
            }
        }
        &self.s[start..self.pos]
    }

    /// At an opening quote: the unescaped content, `None` if unterminated or
    /// a quoted-pair escapes a line break.
    fn quoted(&mut self) -> Option<String> {
        self.bump();
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            self.bump();
            match c {
                '"' => return Some(out),
                '\\' => {
                    let escaped = self.peek()?;
                    if escaped == '\r' || escaped == '\n' {
                        return None;
                    }
                    self.bump();
                    if out.len() < MAX_TEXT_LEN {
                        out.push(escaped);
                    }
                }
                c => {
                    // Bounded so a huge quoted string costs no memory;
                    // clean_text cuts it to size afterwards anyway.
                    if out.len() < MAX_TEXT_LEN {
                        out.push(c);
                    }
                }
            }
        }
    }
}

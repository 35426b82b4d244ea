//! Q.931 messages as H.225.0 uses them for call signalling: protocol
//! discriminator 8, a 2-octet call reference, and the information elements
//! an H.323 call needs. The H.323-UU-PDU travels in the User-user IE, whose
//! length H.225.0 widens to two octets.

use thiserror::Error;

pub const PROTOCOL_DISCRIMINATOR: u8 = 0x08;
/// User-user IE protocol discriminator for X.208/X.209 coded user
/// information: what H.225.0 puts in front of the H323-UserInformation.
pub const UU_PROTOCOL_X208: u8 = 0x05;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Q931Error {
    #[error("Q.931 message truncated in {0}")]
    Truncated(&'static str),
    #[error("protocol discriminator {0:#04x} is not Q.931")]
    BadProtocolDiscriminator(u8),
    #[error("call reference length {0} (at most 2)")]
    BadCallReferenceLength(u8),
    #[error("IE {name} ({id:#04x}): length {len} runs past the message ({left} left)")]
    IeTruncated {
        name: &'static str,
        id: u8,
        len: usize,
        left: usize,
    },
    #[error("IE {name}: {reason}")]
    IeInvalid {
        name: &'static str,
        reason: &'static str,
    },
    #[error("message too large to encode: {0}")]
    TooLarge(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Alerting,
    CallProceeding,
    Progress,
    Setup,
    SetupAcknowledge,
    Connect,
    ConnectAcknowledge,
    ReleaseComplete,
    Facility,
    Notify,
    StatusEnquiry,
    Information,
    Status,
    Other(u8),
}

impl MessageType {
    pub fn code(self) -> u8 {
        match self {
            MessageType::Alerting => 0x01,
            MessageType::CallProceeding => 0x02,
            MessageType::Progress => 0x03,
            MessageType::Setup => 0x05,
            MessageType::SetupAcknowledge => 0x0D,
            MessageType::Connect => 0x07,
            MessageType::ConnectAcknowledge => 0x0F,
            MessageType::ReleaseComplete => 0x5A,
            MessageType::Facility => 0x62,
            MessageType::Notify => 0x6E,
            MessageType::StatusEnquiry => 0x75,
            MessageType::Information => 0x7B,
            MessageType::Status => 0x7D,
            MessageType::Other(c) => c,
        }
    }

    pub fn from_code(c: u8) -> MessageType {
        match c {
            0x01 => MessageType::Alerting,
            0x02 => MessageType::CallProceeding,
            0x03 => MessageType::Progress,
            0x05 => MessageType::Setup,
            0x0D => MessageType::SetupAcknowledge,
            0x07 => MessageType::Connect,
            0x0F => MessageType::ConnectAcknowledge,
            0x5A => MessageType::ReleaseComplete,
            0x62 => MessageType::Facility,
            0x6E => MessageType::Notify,
            0x75 => MessageType::StatusEnquiry,
            0x7B => MessageType::Information,
            0x7D => MessageType::Status,
            c => MessageType::Other(c),
        }
    }
}

/// IE identifiers.
pub mod ie_id {
    pub const BEARER_CAPABILITY: u8 = 0x04;
    pub const CAUSE: u8 = 0x08;
    pub const PROGRESS_INDICATOR: u8 = 0x1E;
    pub const DISPLAY: u8 = 0x28;
    pub const KEYPAD: u8 = 0x2C;
    pub const SIGNAL: u8 = 0x34;
    pub const CALLING_PARTY_NUMBER: u8 = 0x6C;
    pub const CALLED_PARTY_NUMBER: u8 = 0x70;
    pub const USER_USER: u8 = 0x7E;
}

/// Bearer capability (Q.931 4.5.5), the fields H.323 sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerCapability {
    /// 0 = ITU-T.
    pub coding_standard: u8,
    /// 0x00 speech, 0x08 unrestricted digital, 0x10 3.1 kHz audio.
    pub transfer_capability: u8,
    /// 0 = circuit mode.
    pub transfer_mode: u8,
    /// 0x10 = 64 kbit/s, 0x18 = multirate.
    pub transfer_rate: u8,
    /// Present with the multirate transfer rate.
    pub rate_multiplier: Option<u8>,
    /// User information layer 1 protocol (0x02 µ-law, 0x03 A-law, 0x05 H.221).
    pub layer1_protocol: Option<u8>,
}

impl BearerCapability {
    /// What H.323 endpoints put in a voice call's Setup.
    pub fn speech_alaw() -> Self {
        BearerCapability {
            coding_standard: 0,
            transfer_capability: 0x00,
            transfer_mode: 0,
            transfer_rate: 0x10,
            rate_multiplier: None,
            layer1_protocol: Some(0x03),
        }
    }

    /// Unrestricted digital information at `n` × 64 kbit/s (video calls).
    pub fn multirate_video(n: u8) -> Self {
        BearerCapability {
            coding_standard: 0,
            transfer_capability: 0x08,
            transfer_mode: 0,
            transfer_rate: 0x18,
            rate_multiplier: Some(n),
            layer1_protocol: Some(0x05),
        }
    }
}

/// Calling/called party number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyNumber {
    pub type_of_number: u8,
    pub numbering_plan: u8,
    /// Calling party only: (presentation indicator, screening indicator).
    pub presentation: Option<(u8, u8)>,
    pub digits: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ie {
    BearerCapability(BearerCapability),
    Cause {
        coding_standard: u8,
        location: u8,
        /// Q.850 cause value (16 normal clearing, 17 user busy, ...).
        value: u8,
        diagnostics: Vec<u8>,
    },
    ProgressIndicator {
        coding_standard: u8,
        location: u8,
        description: u8,
    },
    Display(String),
    Keypad(String),
    Signal(u8),
    CallingPartyNumber(PartyNumber),
    CalledPartyNumber(PartyNumber),
    /// The User-user IE: for H.225.0, protocol discriminator 5 and the
    /// PER-encoded H323-UserInformation.
    UserUser {
        protocol_discriminator: u8,
        data: Vec<u8>,
    },
    /// A single-octet IE (shift, sending complete, ...), kept verbatim.
    SingleOctet(u8),
    /// Any other variable-length IE, kept verbatim.
    Other {
        id: u8,
        data: Vec<u8>,
    },
}

fn ie_name(id: u8) -> &'static str {
    match id {
        ie_id::BEARER_CAPABILITY => "Bearer capability",
        ie_id::CAUSE => "Cause",
        ie_id::PROGRESS_INDICATOR => "Progress indicator",
        ie_id::DISPLAY => "Display",
        ie_id::KEYPAD => "Keypad",
        ie_id::SIGNAL => "Signal",
        ie_id::CALLING_PARTY_NUMBER => "Calling party number",
        ie_id::CALLED_PARTY_NUMBER => "Called party number",
        ie_id::USER_USER => "User-user",
        _ => "unknown",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Call reference value (15 bits).
    pub call_reference: u16,
    /// The call reference flag: set by the side that did not allocate it.
    pub from_destination: bool,
    pub message_type: MessageType,
    pub ies: Vec<Ie>,
}

impl Message {
    pub fn new(message_type: MessageType, call_reference: u16, from_destination: bool) -> Self {
        Message {
            call_reference: call_reference & 0x7FFF,
            from_destination,
            message_type,
            ies: Vec::new(),
        }
    }

    /// The H.225.0 payload of the User-user IE, if any.
    pub fn user_user(&self) -> Option<&[u8]> {
        self.ies.iter().find_map(|ie| match ie {
            Ie::UserUser { data, .. } => Some(data.as_slice()),
            _ => None,
        })
    }

    pub fn cause(&self) -> Option<u8> {
        self.ies.iter().find_map(|ie| match ie {
            Ie::Cause { value, .. } => Some(*value),
            _ => None,
        })
    }

    pub fn parse(buf: &[u8]) -> Result<Message, Q931Error> {
        let pd = *buf
            .first()
            .ok_or(Q931Error::Truncated("protocol discriminator"))?;
        if pd != PROTOCOL_DISCRIMINATOR {
            return Err(Q931Error::BadProtocolDiscriminator(pd));
        }
        let crl = *buf.get(1).ok_or(Q931Error::Truncated("call reference"))? & 0x0F;
        if crl > 2 {
            return Err(Q931Error::BadCallReferenceLength(crl));
        }
        let cr = buf
            .get(2..2 + crl as usize)
            .ok_or(Q931Error::Truncated("call reference"))?;
        let (flag, value) = match cr {
            [] => (false, 0),
            [a] => (a & 0x80 != 0, (a & 0x7F) as u16),
            [a, b] => (a & 0x80 != 0, (((a & 0x7F) as u16) << 8) | *b as u16),
            _ => unreachable!("length checked above"),
        };
        let mut pos = 2 + crl as usize;
        let mt = *buf.get(pos).ok_or(Q931Error::Truncated("message type"))?;
        pos += 1;
        let mut ies = Vec::new();
        while pos < buf.len() {
            let id = buf[pos];
            pos += 1;
            if id & 0x80 != 0 {
                ies.push(Ie::SingleOctet(id));
                continue;
            }
            let name = ie_name(id);
            let (len, hdr) = if id == ie_id::USER_USER {
                match buf.get(pos..pos + 2) {
                    Some(l) => (((l[0] as usize) << 8) | l[1] as usize, 2),
                    None => return Err(Q931Error::Truncated("User-user length")),
                }
            } else {
                match buf.get(pos) {
                    Some(l) => (*l as usize, 1),
                    None => return Err(Q931Error::Truncated("IE length")),
                }
            };
            pos += hdr;
            let left = buf.len() - pos;
            if len > left {
                return Err(Q931Error::IeTruncated {
                    name,
                    id,
                    len,
                    left,
                });
            }
            let body = &buf[pos..pos + len];
            pos += len;
            ies.push(parse_ie(id, body)?);
        }
        Ok(Message {
            call_reference: value,
            from_destination: flag,
            message_type: MessageType::from_code(mt),
            ies,
        })
    }

    pub fn build(&self) -> Result<Vec<u8>, Q931Error> {
        let mut out = vec![
            PROTOCOL_DISCRIMINATOR,
            2,
            ((self.call_reference >> 8) as u8 & 0x7F)
                | if self.from_destination { 0x80 } else { 0 },
            self.call_reference as u8,
            self.message_type.code(),
        ];
        for ie in &self.ies {
            build_ie(ie, &mut out)?;
        }
        Ok(out)
    }
}

fn invalid(id: u8, reason: &'static str) -> Q931Error {
    Q931Error::IeInvalid {
        name: ie_name(id),
        reason,
    }
}

fn ia5(id: u8, b: &[u8]) -> Result<String, Q931Error> {
    if b.iter().any(|c| *c >= 0x80) {
        return Err(invalid(id, "not IA5"));
    }
    Ok(b.iter().map(|c| *c as char).collect())
}

fn parse_ie(id: u8, b: &[u8]) -> Result<Ie, Q931Error> {
    Ok(match id {
        ie_id::BEARER_CAPABILITY => {
            if b.len() < 2 {
                return Err(invalid(id, "shorter than 2 octets"));
            }
            let mut i = 0;
            // Octet 3 may carry extension octets (3a); skip to its last one.
            while b[i] & 0x80 == 0 {
                i += 1;
                if i >= b.len() {
                    return Err(invalid(id, "octet 3 extension runs past the IE"));
                }
            }
            let (coding_standard, transfer_capability) = ((b[0] >> 5) & 3, b[0] & 0x1F);
            i += 1;
            let o4 = *b.get(i).ok_or(invalid(id, "octet 4 missing"))?;
            i += 1;
            let transfer_rate = o4 & 0x1F;
            let mut rate_multiplier = None;
            if transfer_rate == 0x18 {
                let m = *b.get(i).ok_or(invalid(id, "rate multiplier missing"))?;
                rate_multiplier = Some(m & 0x7F);
                i += 1;
            }
            let layer1_protocol = b.get(i).filter(|o| (*o >> 5) & 3 == 1).map(|o| o & 0x1F);
            Ie::BearerCapability(BearerCapability {
                coding_standard,
                transfer_capability,
                transfer_mode: (o4 >> 5) & 3,
                transfer_rate,
                rate_multiplier,
                layer1_protocol,
            })
        }
        ie_id::CAUSE => {
            if b.len() < 2 {
                return Err(invalid(id, "shorter than 2 octets"));
            }
            // Octet 3a (recommendation) is present when octet 3 has no ext bit.
            let vi = if b[0] & 0x80 == 0 { 2 } else { 1 };
            let v = *b.get(vi).ok_or(invalid(id, "cause value missing"))?;
            Ie::Cause {
                coding_standard: (b[0] >> 5) & 3,
                location: b[0] & 0x0F,
                value: v & 0x7F,
                diagnostics: b[vi + 1..].to_vec(),
            }
        }
        ie_id::PROGRESS_INDICATOR => {
            if b.len() < 2 {
                return Err(invalid(id, "shorter than 2 octets"));
            }
            Ie::ProgressIndicator {
                coding_standard: (b[0] >> 5) & 3,
                location: b[0] & 0x0F,
                description: b[1] & 0x7F,
            }
        }
        ie_id::DISPLAY => {
            // Display is IA5 by the book; some endpoints send UTF-8 or Latin-1.
            Ie::Display(String::from_utf8_lossy(b).into_owned())
        }
        ie_id::KEYPAD => Ie::Keypad(ia5(id, b)?),
        ie_id::SIGNAL => Ie::Signal(*b.first().ok_or(invalid(id, "empty"))?),
        ie_id::CALLING_PARTY_NUMBER | ie_id::CALLED_PARTY_NUMBER => {
            let o3 = *b.first().ok_or(invalid(id, "empty"))?;
            let mut i = 1;
            let mut presentation = None;
            if o3 & 0x80 == 0 {
                let o3a = *b.get(1).ok_or(invalid(id, "octet 3a missing"))?;
                presentation = Some(((o3a >> 5) & 3, o3a & 3));
                i = 2;
            }
            let n = PartyNumber {
                type_of_number: (o3 >> 4) & 7,
                numbering_plan: o3 & 0x0F,
                presentation,
                digits: ia5(id, &b[i..])?,
            };
            if id == ie_id::CALLING_PARTY_NUMBER {
                Ie::CallingPartyNumber(n)
            } else {
                Ie::CalledPartyNumber(n)
            }
        }
        ie_id::USER_USER => {
            let pd = *b.first().ok_or(invalid(id, "empty"))?;
            Ie::UserUser {
                protocol_discriminator: pd,
                data: b[1..].to_vec(),
            }
        }
        _ => Ie::Other {
            id,
            data: b.to_vec(),
        },
    })
}

fn put_ie(out: &mut Vec<u8>, id: u8, body: &[u8]) -> Result<(), Q931Error> {
    if body.len() > 255 {
        return Err(Q931Error::TooLarge(ie_name(id)));
    }
    out.push(id);
    out.push(body.len() as u8);
    out.extend_from_slice(body);
    Ok(())
}

fn party_body(n: &PartyNumber, allow_3a: bool) -> Vec<u8> {
    let mut body = Vec::with_capacity(n.digits.len() + 2);
    let o3 = ((n.type_of_number & 7) << 4) | (n.numbering_plan & 0x0F);
    match n.presentation.filter(|_| allow_3a) {
        Some((pi, si)) => {
            body.push(o3);
            body.push(0x80 | ((pi & 3) << 5) | (si & 3));
        }
        None => body.push(0x80 | o3),
    }
    body.extend(n.digits.bytes());
    body
}

fn build_ie(ie: &Ie, out: &mut Vec<u8>) -> Result<(), Q931Error> {
    match ie {
        Ie::BearerCapability(bc) => {
            let mut body = vec![
                0x80 | ((bc.coding_standard & 3) << 5) | (bc.transfer_capability & 0x1F),
                0x80 | ((bc.transfer_mode & 3) << 5) | (bc.transfer_rate & 0x1F),
            ];
            if let Some(m) = bc.rate_multiplier {
                body.push(0x80 | (m & 0x7F));
            }
            if let Some(l1) = bc.layer1_protocol {
                body.push(0x80 | 0x20 | (l1 & 0x1F));
            }
            put_ie(out, ie_id::BEARER_CAPABILITY, &body)
        }
        Ie::Cause {
            coding_standard,
            location,
            value,
            diagnostics,
        } => {
            let mut body = vec![
                0x80 | ((coding_standard & 3) << 5) | (location & 0x0F),
                0x80 | (value & 0x7F),
            ];
            body.extend_from_slice(diagnostics);
            put_ie(out, ie_id::CAUSE, &body)
        }
        Ie::ProgressIndicator {
            coding_standard,
            location,
            description,
        } => put_ie(
            out,
            ie_id::PROGRESS_INDICATOR,
            &[
                0x80 | ((coding_standard & 3) << 5) | (location & 0x0F),
                0x80 | (description & 0x7F),
            ],
        ),
        Ie::Display(s) => put_ie(out, ie_id::DISPLAY, s.as_bytes()),
        Ie::Keypad(s) => put_ie(out, ie_id::KEYPAD, s.as_bytes()),
        Ie::Signal(v) => put_ie(out, ie_id::SIGNAL, &[*v]),
        Ie::CallingPartyNumber(n) => put_ie(out, ie_id::CALLING_PARTY_NUMBER, &party_body(n, true)),
        Ie::CalledPartyNumber(n) => put_ie(out, ie_id::CALLED_PARTY_NUMBER, &party_body(n, false)),
        Ie::UserUser {
            protocol_discriminator,
            data,
        } => {
            let len = data.len() + 1;
            if len > 65535 {
                return Err(Q931Error::TooLarge("User-user"));
            }
            out.push(ie_id::USER_USER);
            out.push((len >> 8) as u8);
            out.push(len as u8);
            out.push(*protocol_discriminator);
            out.extend_from_slice(data);
            Ok(())
        }
        Ie::SingleOctet(v) => {
            out.push(*v | 0x80);
            Ok(())
        }
        Ie::Other { id, data } => put_ie(out, *id & 0x7F, data),
    }
}

#[cfg(test)]
mod tests;

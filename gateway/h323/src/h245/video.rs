//! H.264 in H.245 terms (ITU-T H.241): the generic video capability's
//! profile and level parameters and their RTP packetization, translated to
//! and from the numbers SDP uses (`profile-level-id`, `packetization-mode`).
//!
//! H.241 counts levels on its own scale (parameter 42): level 1 is 15, 1b
//! is 19, and every step after adds 7 (1.1 is 22 ... 3.1 is 71, 4 is 85,
//! 5.1 is 113). Profiles are bits of a booleanArray (parameter 41): 64
//! baseline, 32 main, 16 extended, 8 high.

use super::{
    GenericCapability, MediaPacketization, ParameterValue, PayloadDescriptor, RtpPayloadType,
    H264_CAPABILITY_OID, H264_PARAM_LEVEL, H264_PARAM_PROFILE,
};

/// mediaPacketization `oid` of H.264 single NAL unit mode (RFC 6184 mode 0).
pub const H264_SINGLE_NAL_OID: [u64; 8] = [0, 0, 8, 241, 0, 0, 0, 0];
/// mediaPacketization `oid` of H.264 non-interleaved mode (RFC 6184 mode 1).
pub const H264_NON_INTERLEAVED_OID: [u64; 8] = [0, 0, 8, 241, 0, 0, 0, 1];
/// The RFC of H.263's RTP payload format as H.323 endpoints send it.
pub const H263_RFC: u32 = 2190;

/// (H.241 level, level_idc of H.264 Annex A), in increasing order.
const LEVELS: [(u16, u8); 17] = [
    (15, 10),
    (19, 9),
    (22, 11),
    (29, 12),
    (36, 13),
    (43, 20),
    (50, 21),
    (57, 22),
    (64, 30),
    (71, 31),
    (78, 32),
    (85, 40),
    (92, 41),
    (99, 42),
    (106, 50),
    (113, 51),
    (120, 52),
];

/// (H.241 profile bit, profile_idc, the constraint flags SDP peers expect).
const PROFILES: [(u8, u8, u8); 4] = [
    (64, 0x42, 0xe0),
    (32, 0x4d, 0x40),
    (16, 0x58, 0x00),
    (8, 0x64, 0x00),
];

/// H.264 as one side of a channel can take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H264Params {
    /// profile_idc (0x42 baseline, 0x4d main, 0x58 extended, 0x64 high).
    pub profile_idc: u8,
    /// level_idc times ten (31 for level 3.1; 9 for level 1b).
    pub level_idc: u8,
    /// RFC 6184 packetization-mode (0 or 1).
    pub packetization_mode: u8,
    /// maxBitRate in units of 100 bit/s, when given.
    pub max_bit_rate: Option<u32>,
}

/// level_idc of an H.241 level value; a value between two levels counts as
/// the lower one (a receiver can always take less).
pub fn level_idc_of(h241_level: u16) -> u8 {
    LEVELS
        .iter()
        .take_while(|(h, _)| *h <= h241_level)
        .last()
        .map_or(10, |(_, idc)| *idc)
}

/// The H.241 level value of a level_idc; unknown levels count as the
/// highest known one below them.
pub fn h241_level_of(level_idc: u8) -> u16 {
    // level 1b (9) sorts before 1.1 in H.241's scale but not in level_idc's
    if level_idc == 9 {
        return 19;
    }
    LEVELS
        .iter()
        .filter(|(_, idc)| *idc != 9 && *idc <= level_idc)
        .map(|(h, _)| *h)
        .max()
        .unwrap_or(15)
}

/// The profile_idc an H.241 profile bit set stands for. A receiver naming
/// several decodes the simplest of them, so that one is kept: it is what a
/// sender on the other side of the gateway can always produce.
pub fn profile_idc_of(bits: u8) -> u8 {
    PROFILES
        .iter()
        .find(|(bit, _, _)| bits & bit != 0)
        .map_or(0x42, |(_, idc, _)| *idc)
}

/// The H.241 profile bit of a profile_idc (baseline for unknown ones).
pub fn profile_bit_of(profile_idc: u8) -> u8 {
    PROFILES
        .iter()
        .find(|(_, idc, _)| *idc == profile_idc)
        .map_or(64, |(bit, _, _)| *bit)
}

impl H264Params {
    /// From an H.264 genericVideoCapability and the channel's
    /// mediaPacketization (None for anything that is not H.264).
    pub fn from_capability(
        cap: &GenericCapability,
        packetization: Option<&MediaPacketization>,
    ) -> Option<H264Params> {
        if !cap.is(&H264_CAPABILITY_OID) {
            return None;
        }
        let profile = match cap.collapsing_param(H264_PARAM_PROFILE) {
            Some(ParameterValue::BooleanArray(b)) => *b,
            _ => 64,
        };
        let level = match cap.collapsing_param(H264_PARAM_LEVEL) {
            Some(ParameterValue::UnsignedMin(l) | ParameterValue::UnsignedMax(l)) => *l,
            _ => 15,
        };
        Some(H264Params {
            profile_idc: profile_idc_of(profile),
            level_idc: level_idc_of(level),
            packetization_mode: packetization_mode_of(packetization),
            max_bit_rate: cap.max_bit_rate,
        })
    }

    /// The genericVideoCapability announcing these parameters.
    pub fn capability(&self) -> GenericCapability {
        GenericCapability::h264(
            profile_bit_of(self.profile_idc),
            h241_level_of(self.level_idc),
            self.max_bit_rate.unwrap_or(19200),
        )
    }

    /// The mediaPacketization naming the packetization mode: H.241 wants
    /// it in every H.264 logical channel.
    pub fn packetization(&self, payload_type: Option<u8>) -> MediaPacketization {
        let oid = if self.packetization_mode == 1 {
            H264_NON_INTERLEAVED_OID
        } else {
            H264_SINGLE_NAL_OID
        };
        MediaPacketization::RtpPayloadType(RtpPayloadType {
            descriptor: PayloadDescriptor::Oid(oid.to_vec()),
            payload_type,
        })
    }

    /// SDP's `profile-level-id` and `packetization-mode`.
    pub fn fmtp(&self) -> String {
        let flags = PROFILES
            .iter()
            .find(|(_, idc, _)| *idc == self.profile_idc)
            .map_or(0, |(_, _, f)| *f);
        format!(
            "profile-level-id={:02x}{:02x}{:02x};packetization-mode={}",
            self.profile_idc, flags, self.level_idc, self.packetization_mode
        )
    }

    /// From an SDP fmtp (RFC 6184 defaults for what it leaves out:
    /// baseline, level 1, mode 0). None for interleaved mode, which no
    /// H.323 channel here carries.
    pub fn from_fmtp(fmtp: Option<&str>, max_bit_rate: Option<u32>) -> Option<H264Params> {
        let mut p = H264Params {
            profile_idc: 0x42,
            level_idc: 10,
            packetization_mode: 0,
            max_bit_rate,
        };
        for param in fmtp.unwrap_or("").split(';') {
            let Some((k, v)) = param.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("packetization-mode") {
                p.packetization_mode = v.parse().ok()?;
            } else if k.eq_ignore_ascii_case("profile-level-id") && v.len() == 6 && v.is_ascii() {
                p.profile_idc = u8::from_str_radix(&v[..2], 16).ok()?;
                p.level_idc = u8::from_str_radix(&v[4..], 16).ok()?;
            }
        }
        (p.packetization_mode <= 1).then_some(p)
    }
}

/// The RFC 6184 packetization mode a channel's mediaPacketization names
/// (single NAL unit mode, H.241's default, when it names none).
pub fn packetization_mode_of(p: Option<&MediaPacketization>) -> u8 {
    match p {
        Some(MediaPacketization::RtpPayloadType(RtpPayloadType {
            descriptor: PayloadDescriptor::Oid(o),
            ..
        })) if o[..] == H264_NON_INTERLEAVED_OID[..] => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_profiles_map_both_ways() {
        for (h241, idc) in LEVELS {
            assert_eq!(level_idc_of(h241), idc);
            assert_eq!(h241_level_of(idc), h241);
        }
        // between two levels: the lower one
        assert_eq!(level_idc_of(70), 30);
        assert_eq!(level_idc_of(0), 10);
        assert_eq!(h241_level_of(33), 78);
        assert_eq!(h241_level_of(200), 120);
        assert_eq!(profile_idc_of(64 | 8), 0x42, "baseline is kept");
        assert_eq!(profile_idc_of(8), 0x64);
        assert_eq!(profile_idc_of(0), 0x42);
        assert_eq!(profile_bit_of(0x4d), 32);
        assert_eq!(profile_bit_of(0x99), 64);
    }

    #[test]
    fn sdp_fmtp_round_trips_through_the_capability() {
        let p = H264Params::from_fmtp(
            Some("profile-level-id=42e01f; packetization-mode=1"),
            Some(5120),
        )
        .unwrap();
        assert_eq!(
            (p.profile_idc, p.level_idc, p.packetization_mode),
            (0x42, 31, 1)
        );
        let cap = p.capability();
        assert_eq!(
            cap.collapsing_param(H264_PARAM_LEVEL),
            Some(&ParameterValue::UnsignedMin(71))
        );
        assert_eq!(cap.max_bit_rate, Some(5120));
        let pk = p.packetization(Some(97));
        let back = H264Params::from_capability(&cap, Some(&pk)).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.fmtp(), "profile-level-id=42e01f;packetization-mode=1");
        // no mediaPacketization: single NAL unit mode
        assert_eq!(
            H264Params::from_capability(&cap, None).map(|p| p.packetization_mode),
            Some(0)
        );
        assert_eq!(
            H264Params::from_fmtp(Some("packetization-mode=2"), None),
            None
        );
        assert_eq!(
            H264Params::from_fmtp(Some("profile-level-id=zz"), None).map(|p| p.level_idc),
            Some(10)
        );
        assert_eq!(
            H264Params::from_fmtp(Some("profile-level-id=4é001"), None).map(|p| p.profile_idc),
            Some(0x42)
        );
    }
}

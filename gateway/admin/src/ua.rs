//! What a User-Agent header says about the device behind it: vendor, model,
//! firmware and, where the device tells, a serial number (or MAC address).
//!
//! The header comes from the network: the parser never panics, looks at a
//! bounded prefix only, and falls back to the first product token for
//! devices it does not know.

use serde::Serialize;

/// Longer headers are cut here (no real device sends more).
pub const MAX_USER_AGENT: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    pub vendor: String,
    pub model: String,
    pub firmware: Option<String>,
    pub serial: Option<String>,
}

impl DeviceInfo {
    /// What distinguishes one device from another for vetting: a change of
    /// any of these sends an approved endpoint back to review.
    pub fn differences(&self, other: &DeviceInfo) -> Vec<&'static str> {
        let mut d = Vec::new();
        if self.vendor != other.vendor || self.model != other.model {
            d.push("product");
        }
        if self.firmware != other.firmware {
            d.push("firmware");
        }
        if self.serial != other.serial {
            d.push("serial");
        }
        d
    }
}

/// The header cut to [`MAX_USER_AGENT`] bytes on a character boundary,
/// without control characters.
pub fn bounded(user_agent: &str) -> String {
    let mut end = user_agent.len().min(MAX_USER_AGENT);
    while !user_agent.is_char_boundary(end) {
        end -= 1;
    }
    user_agent[..end]
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

fn is_version(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
}

/// A MAC address (12 hex digits, bare or with `:`/`-` separators), as
/// Yealink and Grandstream append when configured to: it identifies the unit.
fn as_mac(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| *c != ':' && *c != '-').collect();
    let seps = s.len() - hex.len();
    (hex.len() == 12 && (seps == 0 || seps == 5) && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// `SN:xxx`, `SN=xxx`, `sn/xxx` or `serial=xxx` anywhere, else a trailing MAC.
fn find_serial(tokens: &[&str]) -> Option<String> {
    for (i, t) in tokens.iter().enumerate() {
        let lower = t.to_ascii_lowercase();
        for prefix in ["sn:", "sn=", "sn/", "serial=", "serial:", "s/n:"] {
            if let Some(rest) = lower.strip_prefix(prefix) {
                let start = t.len() - rest.len();
                let v = t[start..].trim_matches(|c: char| !c.is_ascii_alphanumeric());
                if !v.is_empty() {
                    return Some(v.to_string());
                }
            }
        }
        if (lower == "sn" || lower == "serial") && i + 1 < tokens.len() {
            return Some(
                tokens[i + 1]
                    .trim_matches(|c: char| !c.is_ascii_alphanumeric())
                    .to_string(),
            );
        }
    }
    tokens
        .last()
        .and_then(|t| as_mac(t.trim_matches(|c| c == '(' || c == ')')))
}

/// The text between the first `(` and its `)`, if any.
fn parenthesised(s: &str) -> Option<&str> {
    let open = s.find('(')?;
    let close = s[open..].find(')')? + open;
    Some(s[open + 1..close].trim())
}

fn info(vendor: &str, model: &str, firmware: Option<&str>, serial: Option<String>) -> DeviceInfo {
    DeviceInfo {
        vendor: vendor.to_string(),
        model: model.trim().to_string(),
        firmware: firmware
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty()),
        serial,
    }
}

/// Parses a User-Agent (or H.323 product/version string). Never fails:
/// an unknown or empty header yields vendor `unknown`.
pub fn parse_user_agent(user_agent: &str) -> DeviceInfo {
    let ua = bounded(user_agent);
    let tokens: Vec<&str> = ua.split_whitespace().collect();
    let serial = find_serial(&tokens);
    let lower = ua.to_ascii_lowercase();
    let first = tokens.first().copied().unwrap_or("");

    // Polycom: "PolycomVVX-VVX_410-UA/5.9.5.0614",
    // "PolycomRealPresenceGroup-Group_500-UA/6.2.2.1 SN:...",
    // "Polycom HDX 8000 HD (Release - 3.1.14-5256)", "Polycom/6.4.0 PolycomRealPresenceTrio-Trio_8800-UA/...".
    if lower.starts_with("polycom") {
        let token = tokens
            .iter()
            .find(|t| t.to_ascii_lowercase().starts_with("polycom") && t.contains('-'))
            .or(tokens.first())
            .copied()
            .unwrap_or("");
        if let Some((product, version)) = token.split_once('/') {
            if product.contains('-') {
                let mut parts = product.split('-');
                let family = parts.next().unwrap_or("");
                let model = parts.next().unwrap_or(family).replace('_', " ");
                return info("Polycom", &model, Some(version), serial);
            }
            if tokens.len() == 1 || version.chars().all(|c| c.is_ascii_digit() || c == '.') {
                let model = product.strip_prefix("Polycom").unwrap_or(product);
                let model = if model.is_empty() { "Polycom" } else { model };
                return info("Polycom", model, Some(version), serial);
            }
        }
        // "Polycom HDX 8000 HD (Release - 3.1.14-5256)"
        let head = ua.split('(').next().unwrap_or("");
        let model = head.trim().strip_prefix("Polycom").unwrap_or(head).trim();
        let firmware = parenthesised(&ua).map(|p| {
            p.trim_start_matches("Release")
                .trim_start_matches([' ', '-'])
                .to_string()
        });
        let firmware = firmware.or_else(|| {
            tokens
                .iter()
                .rev()
                .find(|t| is_version(t))
                .map(|t| t.to_string())
        });
        return info(
            "Polycom",
            if model.is_empty() { "Polycom" } else { model },
            firmware.as_deref(),
            serial,
        );
    }

    // Cisco TelePresence endpoints still say "TANDBERG/<product id> (<software>)".
    if lower.starts_with("tandberg/") {
        let pid = first.split_once('/').map(|(_, p)| p).unwrap_or("");
        return info(
            "Cisco",
            &format!("TelePresence {pid}"),
            parenthesised(&ua),
            serial,
        );
    }
    // "Cisco-CP8845/12.8.1", "Cisco/SPA504G-7.6.2e", "Cisco-SIPGateway/IOS-15.x".
    if lower.starts_with("cisco") {
        if let Some((product, rest)) = first.split_once('/') {
            if let Some(model) = product.strip_prefix("Cisco-") {
                return info("Cisco", model, Some(rest), serial);
            }
            // "Cisco/SPA504G-7.6.2e": model and firmware joined by '-'.
            if let Some((model, fw)) = rest.split_once('-') {
                if fw.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                    return info("Cisco", model, Some(fw), serial);
                }
            }
            let fw = parenthesised(&ua).or_else(|| tokens.get(1).copied());
            return info("Cisco", rest, fw, serial);
        }
        let model = tokens
            .get(1..)
            .map(|t| {
                t.iter()
                    .take_while(|t| !t.starts_with('('))
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        return info(
            "Cisco",
            if model.is_empty() { "Cisco" } else { &model },
            parenthesised(&ua),
            serial,
        );
    }

    // "Yealink SIP-T46S 66.86.0.15 80:5e:c0:12:34:56", "Grandstream GXP2170 1.0.9.135".
    for vendor in ["Yealink", "Grandstream"] {
        if lower.starts_with(&vendor.to_ascii_lowercase()) {
            let rest: Vec<&str> = tokens[1..]
                .iter()
                .copied()
                .filter(|t| as_mac(t).is_none())
                .collect();
            let fw_at = rest.iter().position(|t| is_version(t) && t.contains('.'));
            let model = match fw_at {
                Some(i) => rest[..i].join(" "),
                None => rest.join(" "),
            };
            let model = if model.is_empty() {
                // "Yealink/SIP-T46S" style is rare, but keep the product.
                first
                    .split_once('/')
                    .map(|(_, m)| m)
                    .unwrap_or(vendor)
                    .to_string()
            } else {
                model
            };
            return info(vendor, &model, fw_at.map(|i| rest[i]), serial);
        }
    }

    // "baresip v2.0.0 (x86_64/linux)".
    if lower.starts_with("baresip") {
        let fw = tokens
            .get(1)
            .map(|v| v.trim_start_matches('v'))
            .filter(|v| is_version(v))
            .or_else(|| first.split_once('/').map(|(_, v)| v));
        return info("baresip", "baresip", fw, serial);
    }

    // "Linphone Desktop/4.4.0 (...) LinphoneCore/4.5.0", "LinphoneiOS/4.6 (iPhone) LinphoneSDK/5.0",
    // "linphonec/3.12.0 (belle-sip/1.6.3)".
    if lower.starts_with("linphone") {
        let slash_tok = tokens.iter().position(|t| t.contains('/')).unwrap_or(0);
        let product: Vec<&str> = tokens[..=slash_tok.min(tokens.len().saturating_sub(1))].to_vec();
        let joined = product.join(" ");
        let (model, fw) = joined.split_once('/').unwrap_or((&joined, ""));
        return info("Linphone", model, Some(fw), serial);
    }

    // Anything else: "Product/Version ...".
    match first.split_once('/') {
        Some((product, version)) if !product.is_empty() => {
            info(product, product, Some(version), serial)
        }
        _ if !first.is_empty() => {
            let fw = tokens.get(1).filter(|t| is_version(t)).copied();
            info(first, first, fw, serial)
        }
        _ => info("unknown", "unknown", None, serial),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ua: &str) -> (String, String, Option<String>, Option<String>) {
        let d = parse_user_agent(ua);
        (d.vendor, d.model, d.firmware, d.serial)
    }

    fn t(
        v: &str,
        m: &str,
        f: Option<&str>,
        s: Option<&str>,
    ) -> (String, String, Option<String>, Option<String>) {
        (v.into(), m.into(), f.map(Into::into), s.map(Into::into))
    }

    #[test]
    fn polycom() {
        assert_eq!(
            p("PolycomVVX-VVX_410-UA/5.9.5.0614"),
            t("Polycom", "VVX 410", Some("5.9.5.0614"), None)
        );
        assert_eq!(
            p("PolycomRealPresenceGroup-Group_500-UA/6.2.2.1-600012 SN:8G1234ABCD"),
            t(
                "Polycom",
                "Group 500",
                Some("6.2.2.1-600012"),
                Some("8G1234ABCD")
            )
        );
        assert_eq!(
            p("Polycom HDX 8000 HD (Release - 3.1.14-5256)"),
            t("Polycom", "HDX 8000 HD", Some("3.1.14-5256"), None)
        );
        assert_eq!(
            p("PolycomSoundPointIP-SPIP_550-UA/3.3.1.0933"),
            t("Polycom", "SPIP 550", Some("3.3.1.0933"), None)
        );
    }

    #[test]
    fn cisco() {
        assert_eq!(
            p("Cisco-CP8845/12.8.1"),
            t("Cisco", "CP8845", Some("12.8.1"), None)
        );
        assert_eq!(
            p("Cisco/SPA504G-7.6.2e"),
            t("Cisco", "SPA504G", Some("7.6.2e"), None)
        );
        assert_eq!(
            p("TANDBERG/529 (TC7.3.6.01e5c7c)"),
            t("Cisco", "TelePresence 529", Some("TC7.3.6.01e5c7c"), None)
        );
        assert_eq!(
            p("TANDBERG/529 (ce9.15.3.17) SN:FTT2219011A"),
            t(
                "Cisco",
                "TelePresence 529",
                Some("ce9.15.3.17"),
                Some("FTT2219011A")
            )
        );
    }

    #[test]
    fn yealink_and_grandstream() {
        assert_eq!(
            p("Yealink SIP-T46S 66.86.0.15"),
            t("Yealink", "SIP-T46S", Some("66.86.0.15"), None)
        );
        assert_eq!(
            p("Yealink SIP-T54W 96.86.0.70 80:5e:c0:12:34:56"),
            t(
                "Yealink",
                "SIP-T54W",
                Some("96.86.0.70"),
                Some("805ec0123456")
            )
        );
        assert_eq!(
            p("Yealink VC800 63.345.0.40"),
            t("Yealink", "VC800", Some("63.345.0.40"), None)
        );
        assert_eq!(
            p("Grandstream GXP2170 1.0.9.135"),
            t("Grandstream", "GXP2170", Some("1.0.9.135"), None)
        );
        assert_eq!(
            p("Grandstream GXV3370 1.0.3.60 000b8265a1b2"),
            t(
                "Grandstream",
                "GXV3370",
                Some("1.0.3.60"),
                Some("000b8265a1b2")
            )
        );
        assert_eq!(
            p("Grandstream HT-502 V1.1A 1.0.4.2"),
            t("Grandstream", "HT-502 V1.1A", Some("1.0.4.2"), None)
        );
    }

    #[test]
    fn soft_clients() {
        assert_eq!(
            p("baresip v2.0.0 (x86_64/linux)"),
            t("baresip", "baresip", Some("2.0.0"), None)
        );
        assert_eq!(
            p("baresip v3.10.1 (arm64/darwin)"),
            t("baresip", "baresip", Some("3.10.1"), None)
        );
        assert_eq!(
            p("Linphone Desktop/4.4.0 (Ubuntu 20.04, Qt 5.12) LinphoneCore/4.5.0"),
            t("Linphone", "Linphone Desktop", Some("4.4.0"), None)
        );
        assert_eq!(
            p("linphonec/3.12.0 (belle-sip/1.6.3)"),
            t("Linphone", "linphonec", Some("3.12.0"), None)
        );
        assert_eq!(
            p("LinphoneiOS/4.6 (iPhone) LinphoneSDK/5.0"),
            t("Linphone", "LinphoneiOS", Some("4.6"), None)
        );
    }

    #[test]
    fn unknown_and_hostile() {
        assert_eq!(p("SIPp/3.7.2"), t("SIPp", "SIPp", Some("3.7.2"), None));
        assert_eq!(p(""), t("unknown", "unknown", None, None));
        assert_eq!(p("   \r\n "), t("unknown", "unknown", None, None));
        // Long, multi-byte and control-laden input: bounded, never a panic.
        let long = "Ж".repeat(5000);
        let d = parse_user_agent(&long);
        assert!(d.model.len() <= MAX_USER_AGENT);
        for ua in [
            "Polycom",
            "Polycom/",
            "PolycomVVX-/",
            "Cisco",
            "Cisco/",
            "Cisco-/",
            "TANDBERG/",
            "Yealink",
            "linphone",
            "Linphone/",
            "baresip",
            "(",
            ")(",
            "/",
            "SN:",
            "sn",
            "Polycom (",
            "Polycom )(",
        ] {
            let _ = parse_user_agent(ua);
        }
        assert!(bounded("a\u{0}b\nc").chars().all(|c| !c.is_control()));
    }

    #[test]
    fn differences_name_what_changed() {
        let a = parse_user_agent("Yealink SIP-T46S 66.86.0.15 805ec0123456");
        assert!(a.differences(&a).is_empty());
        assert_eq!(
            a.differences(&parse_user_agent(
                "Yealink SIP-T46S 66.86.0.20 805ec0123456"
            )),
            ["firmware"]
        );
        assert_eq!(
            a.differences(&parse_user_agent(
                "Yealink SIP-T46S 66.86.0.15 805ec0999999"
            )),
            ["serial"]
        );
        assert_eq!(
            a.differences(&parse_user_agent(
                "Yealink SIP-T54W 96.86.0.70 805ec0999999"
            )),
            ["product", "firmware", "serial"]
        );
    }
}

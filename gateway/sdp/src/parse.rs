use crate::attributes::SecretKeyParams;
use crate::error::SdpError;
use crate::limits::{MAX_ATTRIBUTES, MAX_LINES, MAX_MEDIA};
use crate::model::{
    Attribute, Bandwidth, Connection, MediaDescription, Origin, SessionDescription, Timing,
};

impl SessionDescription {
    /// Parses a session description.
    ///
    /// Accepts CRLF or bare LF line ends, trailing whitespace on lines, blank
    /// lines, and session-level lines in a non-standard order (room systems
    /// in the field do all of these). Rejects unknown line types, lines
    /// without `type=`, a missing `v=`/`o=`/`s=`, unparsable numbers, and
    /// inputs beyond [`crate::limits`]. Errors name the 1-based line number.
    pub fn parse(input: &str) -> Result<SessionDescription, SdpError> {
        let mut p = Parser::default();
        let mut seen_any = false;
        for (idx, raw) in input.split('\n').enumerate() {
            let line_no = idx + 1;
            if line_no > MAX_LINES {
                return Err(SdpError::TooMany {
                    what: "lines",
                    limit: MAX_LINES,
                });
            }
            let line = raw.trim_end_matches(['\r', ' ', '\t']);
            if line.is_empty() {
                continue;
            }
            let bytes = line.as_bytes();
            // Checking that byte 0 is ASCII makes index 2 a char boundary.
            if bytes.len() < 2 || !bytes[0].is_ascii_alphabetic() || bytes[1] != b'=' {
                return Err(SdpError::invalid(
                    line_no,
                    "syntax",
                    format!("expected '<type>=<value>', got '{}'", clip(line)),
                ));
            }
            let kind = bytes[0];
            let value = &line[2..];
            if !seen_any {
                if kind != b'v' {
                    return Err(SdpError::invalid(line_no, "v= line", "must come first"));
                }
                seen_any = true;
            }
            p.line(line_no, kind, value)?;
        }
        if !seen_any {
            return Err(SdpError::Empty);
        }
        p.finish()
    }
}

impl std::str::FromStr for SessionDescription {
    type Err = SdpError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionDescription::parse(s)
    }
}

/// Keeps error messages short when a peer sends a huge line.
fn clip(s: &str) -> String {
    const MAX: usize = 40;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[derive(Default)]
struct Parser {
    version: Option<u32>,
    origin: Option<Origin>,
    session_name: Option<String>,
    information: Option<String>,
    uri: Option<String>,
    emails: Vec<String>,
    phones: Vec<String>,
    connection: Option<Connection>,
    bandwidths: Vec<Bandwidth>,
    timings: Vec<Timing>,
    time_zones: Option<String>,
    key: Option<SecretKeyParams>,
    attributes: Vec<Attribute>,
    media: Vec<MediaDescription>,
    attribute_count: usize,
}

impl Parser {
    fn line(&mut self, n: usize, kind: u8, value: &str) -> Result<(), SdpError> {
        if kind == b'a' {
            self.attribute_count += 1;
            if self.attribute_count > MAX_ATTRIBUTES {
                return Err(SdpError::TooMany {
                    what: "attributes",
                    limit: MAX_ATTRIBUTES,
                });
            }
            let attr = parse_attribute(n, value)?;
            match self.media.last_mut() {
                Some(m) => m.attributes.push(attr),
                None => self.attributes.push(attr),
            }
            return Ok(());
        }
        if kind == b'm' {
            if self.media.len() >= MAX_MEDIA {
                return Err(SdpError::TooMany {
                    what: "media sections",
                    limit: MAX_MEDIA,
                });
            }
            self.media.push(parse_media(n, value)?);
            return Ok(());
        }
        if let Some(m) = self.media.last_mut() {
            return media_line(m, n, kind, value);
        }
        match kind {
            b'v' => {
                if self.version.is_some() {
                    return Err(SdpError::invalid(n, "v= line", "duplicate"));
                }
                let v = value.trim().parse().map_err(|_| {
                    SdpError::invalid(n, "v= line", format!("bad version '{}'", clip(value)))
                })?;
                self.version = Some(v);
            }
            b'o' => {
                if self.origin.is_some() {
                    return Err(SdpError::invalid(n, "o= line", "duplicate"));
                }
                self.origin = Some(parse_origin(n, value)?);
            }
            b's' => {
                if self.session_name.is_some() {
                    return Err(SdpError::invalid(n, "s= line", "duplicate"));
                }
                self.session_name = Some(value.to_string());
            }
            b'i' => set_once(&mut self.information, n, "i= line", value)?,
            b'u' => set_once(&mut self.uri, n, "u= line", value)?,
            b'e' => self.emails.push(value.to_string()),
            b'p' => self.phones.push(value.to_string()),
            b'c' => {
                if self.connection.is_some() {
                    return Err(SdpError::invalid(
                        n,
                        "c= line",
                        "duplicate at session level",
                    ));
                }
                self.connection = Some(parse_connection(n, value)?);
            }
            b'b' => self.bandwidths.push(parse_bandwidth(n, value)?),
            b't' => self.timings.push(parse_timing(n, value)?),
            b'r' => match self.timings.last_mut() {
                Some(t) => t.repeats.push(value.to_string()),
                None => return Err(SdpError::invalid(n, "r= line", "not after a t= line")),
            },
            b'z' => set_once(&mut self.time_zones, n, "z= line", value)?,
            b'k' => set_key(&mut self.key, n, value)?,
            _ => {
                return Err(SdpError::invalid(
                    n,
                    "line type",
                    format!("unknown '{}='", kind as char),
                ))
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<SessionDescription, SdpError> {
        // Some endpoints omit t=; "t=0 0" (unbounded) is what they mean, and
        // filling it in keeps parse(serialize(x)) == x.
        if self.timings.is_empty() {
            self.timings.push(Timing {
                start: 0,
                stop: 0,
                repeats: Vec::new(),
            });
        }
        Ok(SessionDescription {
            version: self.version.ok_or(SdpError::Missing("v="))?,
            origin: self.origin.ok_or(SdpError::Missing("o="))?,
            session_name: self.session_name.ok_or(SdpError::Missing("s="))?,
            information: self.information,
            uri: self.uri,
            emails: self.emails,
            phones: self.phones,
            connection: self.connection,
            bandwidths: self.bandwidths,
            timings: self.timings,
            time_zones: self.time_zones,
            key: self.key,
            attributes: self.attributes,
            media: self.media,
        })
    }
}

fn set_once(
    slot: &mut Option<String>,
    n: usize,
    field: &'static str,
    value: &str,
) -> Result<(), SdpError> {
    if slot.is_some() {
        return Err(SdpError::invalid(n, field, "duplicate"));
    }
    *slot = Some(value.to_string());
    Ok(())
}

fn set_key(slot: &mut Option<SecretKeyParams>, n: usize, value: &str) -> Result<(), SdpError> {
    if slot.is_some() {
        return Err(SdpError::invalid(n, "k= line", "duplicate"));
    }
    *slot = Some(SecretKeyParams::new(value));
    Ok(())
}

fn media_line(m: &mut MediaDescription, n: usize, kind: u8, value: &str) -> Result<(), SdpError> {
    match kind {
        b'i' => set_once(&mut m.information, n, "i= line", value),
        b'c' => {
            m.connections.push(parse_connection(n, value)?);
            Ok(())
        }
        b'b' => {
            m.bandwidths.push(parse_bandwidth(n, value)?);
            Ok(())
        }
        b'k' => set_key(&mut m.key, n, value),
        b'v' | b'o' | b's' | b'u' | b'e' | b'p' | b't' | b'r' | b'z' => Err(SdpError::invalid(
            n,
            field_name(kind),
            "not allowed in a media section",
        )),
        _ => Err(SdpError::invalid(
            n,
            "line type",
            format!("unknown '{}='", kind as char),
        )),
    }
}

fn field_name(kind: u8) -> &'static str {
    match kind {
        b'v' => "v= line",
        b'o' => "o= line",
        b's' => "s= line",
        b'u' => "u= line",
        b'e' => "e= line",
        b'p' => "p= line",
        b't' => "t= line",
        b'r' => "r= line",
        b'z' => "z= line",
        _ => "line",
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic())
}

fn parse_origin(n: usize, value: &str) -> Result<Origin, SdpError> {
    const F: &str = "o= line";
    let mut it = value.split_whitespace();
    let mut next = |what: &str| {
        it.next()
            .ok_or_else(|| SdpError::invalid(n, F, format!("missing {what}")))
    };
    let username = next("username")?.to_string();
    let session_id = next("sess-id")?;
    let version = next("sess-version")?;
    let nettype = next("nettype")?.to_string();
    let addrtype = next("addrtype")?.to_string();
    let address = next("unicast-address")?.to_string();
    if it.next().is_some() {
        return Err(SdpError::invalid(n, F, "more than 6 fields"));
    }
    if !session_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SdpError::invalid(
            n,
            F,
            format!("bad sess-id '{}'", clip(session_id)),
        ));
    }
    let session_version = version
        .parse()
        .map_err(|_| SdpError::invalid(n, F, format!("bad sess-version '{}'", clip(version))))?;
    Ok(Origin {
        username,
        session_id: session_id.to_string(),
        session_version,
        nettype,
        addrtype,
        address,
    })
}

fn parse_connection(n: usize, value: &str) -> Result<Connection, SdpError> {
    const F: &str = "c= line";
    let mut it = value.split_whitespace();
    let (Some(nettype), Some(addrtype), Some(address), None) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(SdpError::invalid(
            n,
            F,
            format!(
                "expected '<nettype> <addrtype> <address>', got '{}'",
                clip(value)
            ),
        ));
    };
    if nettype == "IN" {
        // Host names are legal, so only a value that looks like an address
        // of the wrong family or is plainly unusable is refused.
        let base = address.split('/').next().unwrap_or("");
        let ok = !base.is_empty()
            && match addrtype {
                "IP4" if base.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
                    base.parse::<std::net::Ipv4Addr>().is_ok()
                }
                "IP4" => !base.contains(':'),
                "IP6" if base.contains(':') => base.parse::<std::net::Ipv6Addr>().is_ok(),
                _ => true,
            };
        if !ok {
            return Err(SdpError::invalid(
                n,
                F,
                format!("bad {addrtype} address '{}'", clip(address)),
            ));
        }
    }
    Ok(Connection {
        nettype: nettype.to_string(),
        addrtype: addrtype.to_string(),
        address: address.to_string(),
    })
}

fn parse_bandwidth(n: usize, value: &str) -> Result<Bandwidth, SdpError> {
    const F: &str = "b= line";
    let Some((bwtype, v)) = value.split_once(':') else {
        return Err(SdpError::invalid(
            n,
            F,
            format!("expected '<type>:<value>', got '{}'", clip(value)),
        ));
    };
    if !is_token(bwtype) {
        return Err(SdpError::invalid(
            n,
            F,
            format!("bad type '{}'", clip(bwtype)),
        ));
    }
    let value = v
        .trim()
        .parse()
        .map_err(|_| SdpError::invalid(n, F, format!("bad value '{}'", clip(v))))?;
    Ok(Bandwidth {
        bwtype: bwtype.to_string(),
        value,
    })
}

fn parse_timing(n: usize, value: &str) -> Result<Timing, SdpError> {
    const F: &str = "t= line";
    let mut it = value.split_whitespace();
    let (Some(start), Some(stop), None) = (it.next(), it.next(), it.next()) else {
        return Err(SdpError::invalid(
            n,
            F,
            format!("expected '<start> <stop>', got '{}'", clip(value)),
        ));
    };
    let num = |s: &str, what: &str| {
        s.parse::<u64>()
            .map_err(|_| SdpError::invalid(n, F, format!("bad {what} time '{}'", clip(s))))
    };
    Ok(Timing {
        start: num(start, "start")?,
        stop: num(stop, "stop")?,
        repeats: Vec::new(),
    })
}

fn parse_attribute(n: usize, value: &str) -> Result<Attribute, SdpError> {
    let (name, val) = match value.split_once(':') {
        Some((name, v)) => (name, Some(v.to_string())),
        None => (value, None),
    };
    if !is_token(name) {
        return Err(SdpError::invalid(
            n,
            "a= line",
            format!("bad attribute name '{}'", clip(name)),
        ));
    }
    Ok(Attribute {
        name: name.to_string(),
        value: val,
    })
}

fn parse_media(n: usize, value: &str) -> Result<MediaDescription, SdpError> {
    const F: &str = "m= line";
    let mut it = value.split_whitespace();
    let media = it
        .next()
        .ok_or_else(|| SdpError::invalid(n, F, "missing media type"))?;
    let port_field = it
        .next()
        .ok_or_else(|| SdpError::invalid(n, F, "missing port"))?;
    let proto = it
        .next()
        .ok_or_else(|| SdpError::invalid(n, F, "missing proto"))?;
    let (port, count) = match port_field.split_once('/') {
        Some((p, c)) => (p, Some(c)),
        None => (port_field, None),
    };
    let port = port
        .parse::<u16>()
        .map_err(|_| SdpError::invalid(n, F, format!("bad port '{}'", clip(port_field))))?;
    let port_count = match count {
        Some(c) => Some(
            c.parse::<u16>()
                .map_err(|_| SdpError::invalid(n, F, format!("bad port count '{}'", clip(c))))?,
        ),
        None => None,
    };
    Ok(MediaDescription {
        media: media.to_string(),
        port,
        port_count,
        proto: proto.to_string(),
        formats: it.map(str::to_string).collect(),
        information: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
    })
}

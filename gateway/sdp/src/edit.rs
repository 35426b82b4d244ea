//! Editing helpers for a B2BUA that anchors media: rewrite where RTP goes,
//! drop codecs, mark streams rejected, and keep `o=` versioning correct.

use std::net::IpAddr;

use crate::attributes::{pt_value, Direction, RtcpAttr};
use crate::model::{addrtype_of, Attribute, Connection, MediaDescription, SessionDescription};

fn remove_named(attrs: &mut Vec<Attribute>, name: &str) -> usize {
    let before = attrs.len();
    attrs.retain(|a| a.name != name);
    before - attrs.len()
}

/// Replaces the first attribute matching `is_target` in place (so the line
/// order peers see stays stable), drops the other matches, and appends when
/// there was none.
fn replace_in_place(
    attrs: &mut Vec<Attribute>,
    is_target: impl Fn(&Attribute) -> bool,
    new: Option<Attribute>,
) {
    let first = attrs.iter().position(&is_target);
    let mut new = new;
    let mut idx = 0;
    attrs.retain_mut(|a| {
        let here = idx;
        idx += 1;
        if !is_target(a) {
            return true;
        }
        if Some(here) == first {
            if let Some(n) = new.take() {
                *a = n;
                return true;
            }
        }
        false
    });
    if let Some(n) = new {
        attrs.push(n);
    }
}

impl MediaDescription {
    /// Points this section's RTP at `ip`: one media-level `c=` line.
    pub fn set_connection_addr(&mut self, ip: IpAddr) {
        self.connections = vec![Connection::new(ip)];
    }

    pub fn set_port(&mut self, port: u16) {
        self.port = port;
    }

    /// Marks the stream rejected (RFC 3264 §6: port 0, formats kept).
    pub fn reject(&mut self) {
        self.port = 0;
        self.port_count = None;
    }

    /// Removes every attribute with this name; returns how many went.
    pub fn remove_attributes(&mut self, name: &str) -> usize {
        remove_named(&mut self.attributes, name)
    }

    /// Replaces `a=rtcp` with `rtcp`, or removes it when `None`.
    pub fn set_rtcp(&mut self, rtcp: Option<RtcpAttr>) {
        let new = rtcp.map(|r| Attribute::value("rtcp", r.to_value()));
        replace_in_place(&mut self.attributes, |a| a.name == "rtcp", new);
    }

    /// Sets the direction attribute, replacing any existing one.
    pub fn set_direction(&mut self, direction: Direction) {
        replace_in_place(
            &mut self.attributes,
            |a| a.value.is_none() && Direction::from_name(&a.name).is_some(),
            Some(Attribute::flag(direction.as_str())),
        );
    }

    /// Keeps only the listed payload types in the `m=` line and drops the
    /// `a=rtpmap`, `a=fmtp` and `a=rtcp-fb` lines of the others (wildcard
    /// `rtcp-fb:*` lines stay). Non-numeric formats are left alone. Returns
    /// the number of formats removed. An `m=` line needs at least one
    /// format, so when none of the offered ones is kept, answer with
    /// [`MediaDescription::reject`] on the unmodified section instead.
    pub fn retain_payload_types(&mut self, keep: &[u8]) -> usize {
        let mut dropped: Vec<String> = Vec::new();
        self.formats.retain(|f| match f.parse::<u8>() {
            Ok(pt) if !keep.contains(&pt) => {
                dropped.push(f.clone());
                false
            }
            _ => true,
        });
        if !dropped.is_empty() {
            self.attributes.retain(|a| {
                !["rtpmap", "fmtp", "rtcp-fb"]
                    .iter()
                    .any(|n| dropped.iter().any(|pt| pt_value(a, n, pt).is_some()))
            });
        }
        dropped.len()
    }
}

impl SessionDescription {
    /// Points all media at `ip`: rewrites the session-level `c=` if there is
    /// one and every media-level `c=`, and adds a session-level `c=` when
    /// some section would otherwise have no connection address.
    pub fn set_connection_addr(&mut self, ip: IpAddr) {
        let needs_session =
            self.connection.is_some() || self.media.iter().any(|m| m.connections.is_empty());
        if needs_session {
            self.connection = Some(Connection::new(ip));
        }
        for m in &mut self.media {
            if !m.connections.is_empty() {
                m.set_connection_addr(ip);
            }
        }
    }

    /// Rewrites the `o=` address (the B2BUA's own, not the peer's).
    pub fn set_origin_addr(&mut self, ip: IpAddr) {
        self.origin.addrtype = addrtype_of(ip).to_string();
        self.origin.address = ip.to_string();
    }

    /// Increments `o=` sess-version, as every changed re-offer must.
    pub fn bump_version(&mut self) {
        self.origin.session_version = self.origin.session_version.wrapping_add(1);
    }

    /// Removes every session-level attribute with this name.
    pub fn remove_attributes(&mut self, name: &str) -> usize {
        remove_named(&mut self.attributes, name)
    }

    /// Removes attributes with this name at session level and in every
    /// media section.
    pub fn remove_attributes_everywhere(&mut self, name: &str) -> usize {
        let mut n = self.remove_attributes(name);
        for m in &mut self.media {
            n += m.remove_attributes(name);
        }
        n
    }
}

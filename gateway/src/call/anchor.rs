//! Media anchoring: rewrite a leg's SDP so that the other leg sends its media
//! to the gateway, and tell the relay where the first leg's media really is.
//!
//! Streams are matched to relay streams by m-line index, which offer/answer
//! keeps stable (RFC 3264 §6). Only RTP m-lines are anchored; others (BFCP
//! over TCP, for example) pass through pointing at their original address.

use gateway_media::{Leg, MediaSession};
use gateway_sdp::{Attribute, Connection, RtcpAttr, SessionDescription};
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("SDP is not UTF-8")]
    NotUtf8,
    #[error("malformed SDP: {0}")]
    Sdp(String),
    #[error("m-line {0}: no connection address")]
    NoConnection(usize),
    #[error("media relay: {0}")]
    Media(#[from] gateway_media::MediaError),
    /// The call requires encrypted media and this side's is plain.
    #[error("{0}")]
    NotEncrypted(String),
}

/// Number of relay streams a description needs: one per m-line.
pub fn stream_count(body: &[u8]) -> Result<usize, AnchorError> {
    Ok(parse(body)?.media.len().max(1))
}

fn parse(body: &[u8]) -> Result<SessionDescription, AnchorError> {
    let text = std::str::from_utf8(body).map_err(|_| AnchorError::NotUtf8)?;
    SessionDescription::parse(text).map_err(|e| AnchorError::Sdp(e.to_string()))
}

fn is_rtp(proto: &str) -> bool {
    proto.contains("RTP")
}

/// Rewrite `body`, received from `from`, for sending to the other leg, and
/// point the relay at `from`'s media addresses.
pub fn anchor(
    body: &[u8],
    media: &MediaSession,
    from: Leg,
    advertised: IpAddr,
) -> Result<Vec<u8>, AnchorError> {
    let mut sdp = parse(body)?;
    let session_conn = sdp.connection.clone();
    let towards = from.other();

    for (i, m) in sdp.media.iter_mut().enumerate() {
        let original_conn = m
            .connections
            .first()
            .cloned()
            .or_else(|| session_conn.clone());
        if !is_rtp(&m.proto) || i >= media.streams() {
            // Not ours to relay: make sure it keeps pointing where it did
            // once the session-level c= is rewritten below.
            if m.connections.is_empty() {
                if let Some(c) = &original_conn {
                    m.connections.push(c.clone());
                }
            }
            continue;
        }
        let (local_rtp, local_rtcp) = media.local_addr(i, towards)?;
        if m.port != 0 {
            let ip = original_conn
                .as_ref()
                .and_then(Connection::ip)
                .ok_or(AnchorError::NoConnection(i))?;
            let rtp = SocketAddr::new(ip, m.port);
            let mux = m.rtcp_mux();
            let rtcp = match m.rtcp() {
                Some(RtcpAttr {
                    port,
                    connection: Some(c),
                }) => Some(SocketAddr::new(c.ip().unwrap_or(ip), port)),
                Some(RtcpAttr { port, .. }) => Some(SocketAddr::new(ip, port)),
                None if mux => None,
                None => Some(SocketAddr::new(ip, m.port.wrapping_add(1))),
            };
            media.set_remote(i, from, rtp, rtcp, mux)?;
            m.port = local_rtp.port();
        }
        m.connections = vec![Connection::new(advertised)];
        for a in m.attributes.iter_mut().filter(|a| a.name == "rtcp") {
            *a = Attribute::value("rtcp", local_rtcp.port().to_string());
        }
    }
    if sdp.connection.is_some() {
        sdp.connection = Some(Connection::new(advertised));
    }
    // The other leg learns nothing of this leg's addresses (topology hiding);
    // session id and version pass through so re-offers stay recognisable.
    sdp.set_origin_addr(advertised);
    Ok(sdp.to_string().into_bytes())
}

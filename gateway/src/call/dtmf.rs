//! Digits a leg signals by SIP INFO (`application/dtmf-relay`,
//! `application/dtmf`) toward a leg that negotiated telephone-event: the
//! relay plays them as RFC 4733 events into the audio going to that leg
//! (see `gateway_media::dtmf_inject`), and the INFO is answered here.
//! Where the far leg has no telephone-event either, INFOs pass end to end
//! as before; the reverse way (in-band events → INFO) is in
//! [`super::media_path`].

use super::*;
use gateway_media::dtmf::{parse_application_dtmf, parse_dtmf_relay, DtmfEvent};
use gateway_media::dtmf_inject::DEFAULT_DURATION_MS;
use gateway_media::Direction;

/// What an INFO the gateway terminates asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InfoRequest {
    /// A digit and how long to play it.
    Digit(DtmfEvent, u32),
    /// Meant for the far end's media (a keyframe request, or an empty
    /// keepalive INFO): passed on.
    PassOn,
    /// A DTMF body that does not parse: 400 with the reason.
    Malformed(String),
    /// A body the gateway does not read: 415.
    Unsupported,
}

/// The content types an INFO answered here may carry.
pub(crate) const INFO_ACCEPT: &str =
    "application/dtmf-relay, application/dtmf, application/media_control+xml";

/// Reads an INFO's body by its Content-Type (parameters and case ignored).
pub(crate) fn read_info(content_type: Option<&str>, body: &[u8]) -> InfoRequest {
    if body.is_empty() {
        return InfoRequest::PassOn;
    }
    let mime = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Ok(text) = std::str::from_utf8(body) else {
        return match mime.as_str() {
            "application/dtmf-relay" | "application/dtmf" => {
                InfoRequest::Malformed("body is not UTF-8".into())
            }
            _ => InfoRequest::Unsupported,
        };
    };
    match mime.as_str() {
        "application/dtmf-relay" => match parse_dtmf_relay(text) {
            Ok(d) => InfoRequest::Digit(d.event, d.duration_ms.unwrap_or(DEFAULT_DURATION_MS)),
            Err(e) => InfoRequest::Malformed(e.to_string()),
        },
        "application/dtmf" => match parse_application_dtmf(text) {
            Ok(e) => InfoRequest::Digit(e, DEFAULT_DURATION_MS),
            Err(e) => InfoRequest::Malformed(e.to_string()),
        },
        "application/media_control+xml" => InfoRequest::PassOn,
        _ => InfoRequest::Unsupported,
    }
}

impl Engine {
    /// An in-dialog INFO from `r.side`. True when it was answered here
    /// (its digit played toward the other leg, or refused); false when it
    /// should go end to end as any other in-dialog request.
    pub(crate) fn on_info_dtmf(
        &mut self,
        now: Instant,
        r: CallRef,
        id: ServerTxId,
        req: &Request,
    ) -> bool {
        let Some(call) = self.calls.get(&r.call) else {
            return false;
        };
        let Some(media) = call.media.as_ref() else {
            return false;
        };
        let stream = call.audio_index();
        let direction = match r.side {
            Side::A => Direction::AtoB,
            Side::B => Direction::BtoA,
        };
        if !media.can_inject_dtmf(stream, direction) {
            return false;
        }
        let label = call.label.clone();
        match read_info(req.headers.get(&HeaderName::ContentType), &req.body) {
            InfoRequest::PassOn => false,
            InfoRequest::Digit(event, ms) => {
                match media.inject_dtmf(stream, direction, event, ms) {
                    Ok(()) => {
                        info!(call_id = %label, side = ?r.side, digit = %event, duration_ms = ms, "INFO DTMF played as RFC 4733");
                        self.reply(now, id, req, 200, "OK", None);
                    }
                    Err(e) => {
                        warn!(call_id = %label, error = %e, "INFO DTMF not played");
                        self.reply(now, id, req, 503, "DTMF Not Playable Now", None);
                    }
                }
                true
            }
            InfoRequest::Malformed(why) => {
                self.reply(now, id, req, 400, &format!("Bad DTMF Body ({why})"), None);
                true
            }
            InfoRequest::Unsupported => {
                let mut resp = make_response(req, 415, None);
                resp.reason = "Unsupported Media Type".into();
                resp.headers.push(HeaderName::Accept, INFO_ACCEPT);
                resp.headers.push(HeaderName::Server, USER_AGENT);
                self.respond(now, id, resp);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digit(c: char, ms: u32) -> InfoRequest {
        InfoRequest::Digit(DtmfEvent::from_char(c).unwrap(), ms)
    }

    #[test]
    fn info_bodies_are_read_by_content_type() {
        assert_eq!(
            read_info(
                Some("application/dtmf-relay"),
                b"Signal=5\r\nDuration=160\r\n"
            ),
            digit('5', 160)
        );
        assert_eq!(
            read_info(Some("Application/DTMF-Relay; charset=utf-8"), b"Signal=#\n"),
            digit('#', DEFAULT_DURATION_MS),
            "no Duration: the default"
        );
        assert_eq!(
            read_info(Some("application/dtmf"), b"5"),
            digit('5', DEFAULT_DURATION_MS)
        );
        assert_eq!(
            read_info(Some("application/dtmf"), b"11\r\n"),
            digit('#', 100)
        );
        assert!(matches!(
            read_info(Some("application/dtmf-relay"), b"Duration=160"),
            InfoRequest::Malformed(_)
        ));
        assert!(matches!(
            read_info(Some("application/dtmf"), b"x"),
            InfoRequest::Malformed(_)
        ));
        assert!(matches!(
            read_info(Some("application/dtmf"), &[0xff, 0xfe]),
            InfoRequest::Malformed(_)
        ));
        assert_eq!(
            read_info(Some("application/media_control+xml"), b"<x/>"),
            InfoRequest::PassOn
        );
        assert_eq!(
            read_info(Some("application/dtmf"), b""),
            InfoRequest::PassOn
        );
        assert_eq!(
            read_info(Some("text/plain"), b"5"),
            InfoRequest::Unsupported
        );
        assert_eq!(read_info(None, b"5"), InfoRequest::Unsupported);
        assert!(INFO_ACCEPT.contains("application/dtmf-relay"));
    }
}

//! Reading an INFO a SIP leg answers itself: a digit (`application/
//! dtmf-relay`, `application/dtmf`) becomes the leg's neutral DTMF event,
//! a keyframe request (`application/media_control+xml`) or an empty body
//! goes on, and other bodies are refused (see `sip_leg::info`). The
//! reverse way, digits taken out of the media, is in [`super::media_path`].

use gateway_media::dtmf::{parse_application_dtmf, parse_dtmf_relay, DtmfEvent};
use gateway_media::dtmf_inject::DEFAULT_DURATION_MS;

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

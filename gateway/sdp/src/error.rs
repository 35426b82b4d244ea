use thiserror::Error;

/// Why a session description was rejected. A peer that sends one of these
/// deserves a `488 Not Acceptable Here` (or `400` when the SDP is unreadable).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SdpError {
    /// A line is structurally wrong. `field` names the line type
    /// (`"m= line"`), `reason` what was wrong with it.
    #[error("line {line}: {field}: {reason}")]
    Invalid {
        line: usize,
        field: &'static str,
        reason: String,
    },
    /// A mandatory line is absent.
    #[error("missing {0} line")]
    Missing(&'static str),
    /// A bound from [`crate::limits`] was exceeded.
    #[error("too many {what} (limit {limit})")]
    TooMany { what: &'static str, limit: usize },
    /// The input holds no SDP lines at all.
    #[error("empty session description")]
    Empty,
}

impl SdpError {
    pub(crate) fn invalid(line: usize, field: &'static str, reason: impl Into<String>) -> Self {
        SdpError::Invalid {
            line,
            field,
            reason: reason.into(),
        }
    }
}

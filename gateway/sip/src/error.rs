//! Errors of the SIP syntax layer.

/// Why a message (or one header of it) could not be parsed. The `Display`
/// text is used as the reason phrase of the 400 response, so it names the
/// fault precisely ("Bad Request - malformed CSeq" style).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("incomplete message")]
    Incomplete,
    #[error("message too large")]
    TooLarge,
    #[error("malformed start line")]
    StartLine,
    #[error("unsupported SIP version {0}")]
    Version(String),
    #[error("malformed Request-URI")]
    RequestUri,
    #[error("malformed {0} header")]
    Header(String),
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("Content-Length mismatch")]
    ContentLength,
    #[error("malformed URI")]
    Uri,
    #[error("more than one {0} header")]
    Duplicate(&'static str),
    #[error("CSeq method does not match the request method")]
    CSeqMismatch,
    #[error("Contact is *")]
    WildcardContact,
    #[error("malformed multipart body")]
    Multipart,
    #[error("{0}")]
    Other(String),
}

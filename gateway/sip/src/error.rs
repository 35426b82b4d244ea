//! Errors of the SIP syntax layer.

/// Why a message (or one header of it) could not be parsed. The `Display`
/// text is used as the reason phrase of the 400 response, so it names the
/// fault precisely ("Bad Request - malformed CSeq" style). No variant
/// carries peer-supplied text other than a header name (a token) or a
/// version (digits), so the reason phrase is always safe to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No empty line ends the headers (or the input is empty).
    #[error("incomplete message")]
    Incomplete,
    /// Over `parse::MAX_MESSAGE_SIZE`.
    #[error("message too large")]
    TooLarge,
    #[error("malformed start line")]
    StartLine,
    /// A well-formed version other than SIP/2.0: answer 505.
    #[error("unsupported SIP version {0}")]
    Version(String),
    #[error("malformed Request-URI")]
    RequestUri,
    /// The named header's value breaks its grammar.
    #[error("malformed {0} header")]
    Header(String),
    #[error("missing {0} header")]
    Missing(&'static str),
    /// Content-Length promises more octets than the datagram holds.
    #[error("Content-Length mismatch")]
    ContentLength,
    #[error("malformed URI")]
    Uri,
    /// A single-valued header (From, To, Call-ID, CSeq, Max-Forwards, or
    /// Content-Length with differing values) appears more than once.
    #[error("more than one {0} header")]
    Duplicate(&'static str),
    #[error("CSeq method does not match the request method")]
    CSeqMismatch,
    /// `contacts()` on a `Contact: *`; see `contact_is_wildcard()`.
    #[error("Contact is *")]
    WildcardContact,
    #[error("malformed multipart body")]
    Multipart,
    #[error("{0}")]
    Other(String),
}

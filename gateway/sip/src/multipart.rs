//! multipart/* bodies (RFC 2046 5.1).

//! SRTP and SRTCP (RFC 3711, RFC 7714) per-leg crypto contexts for the media
//! bridge. Keys never reach logs.

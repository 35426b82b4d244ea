//! SDES (RFC 4568) a=crypto attributes.

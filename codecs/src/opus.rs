//! opus

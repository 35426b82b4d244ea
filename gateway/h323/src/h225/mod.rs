//! H.225.0: RAS and call signalling messages (module H323-MESSAGES).

pub mod common;
pub mod ras;

pub use common::*;
pub use ras::*;

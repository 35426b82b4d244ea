//! H.225.0: RAS and call signalling messages (module H323-MESSAGES).

pub mod common;
pub mod ras;
pub mod uu;

pub use common::*;
pub use ras::*;
pub use uu::*;

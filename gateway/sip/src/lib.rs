//! The SIP core of the gateway: message model, parser and serializer, typed
//! headers, digest authentication, transactions and dialogs.
//!
//! Nothing in this crate performs I/O, reads a clock, spawns a task or takes
//! a lock: state machines take `Instant`s and bytes as input and return bytes
//! to send, events and their next deadline.

pub mod auth;
pub mod dialog;
pub mod error;
pub mod headers;
pub mod message;
pub mod multipart;
pub mod parse;
pub mod serialize;
pub mod session_timer;
pub mod transaction;
pub mod uri;

pub use error::ParseError;
pub use headers::{CSeq, NameAddr, Params, Via};
pub use message::{Header, HeaderName, Headers, Message, Method, Request, Response};
pub use parse::{frame_len, parse_message, ParseFailure, PartialRequest, MAX_MESSAGE_SIZE};
pub use uri::{Scheme, Uri};

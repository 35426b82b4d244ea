//! The dialplan: administrative units, endpoints, trunks and routing rules,
//! read from TOML (format: `dialplans/README.md`), validated into an
//! immutable snapshot, and the pure routing function over it.
//!
//! No I/O except [`Dialplan::load`], which reads the one file it is given.

mod error;
mod meeting;
mod model;
mod net;
mod overlay;
mod parse;
mod route;
mod rule_index;
mod template;
mod window;

pub use error::DialplanError;
pub use meeting::{Classification, Meeting, DEFAULT_MAX_PARTICIPANTS, MAX_PARTICIPANTS_LIMIT};
pub use model::{number_in, CallerIdPolicy, NumberPattern, TrunkKind};
pub use model::{
    Action, Credentials, Dialplan, Encryption, Endpoint, GatewaySettings, Match, Protocol, Rewrite,
    Rule, Transport, Trunk, Unit, UnitKind,
};
pub use net::{escape_user, Cidr, SipUri};
pub use overlay::{Ha1Algorithm, OverlayIssue, RegistryEndpoint};
pub use parse::default_reason;
pub use route::{Caller, Policy, RouteDecision, RouteOutcome, RouteRequest};
pub use template::Template;
pub use window::{parse_rfc3339, LocalTime, TimeWindow, TimeZone};

/// The loopback test dialplan (`dialplans/loopback.toml`), used when the
/// gateway runs without a configured dialplan.
pub const SAMPLE_DIALPLAN: &str = include_str!("../../../dialplans/loopback.toml");

impl Dialplan {
    /// Parses and validates a dialplan. `file` names the source in errors.
    /// All problems found are returned, sorted by position.
    pub fn parse(src: &str, file: &str) -> Result<Dialplan, Vec<DialplanError>> {
        parse::parse(src, file)
    }

    /// Every problem in a dialplan source; empty when it is valid.
    pub fn check(src: &str, file: &str) -> Vec<DialplanError> {
        Self::parse(src, file).err().unwrap_or_default()
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Dialplan, Vec<DialplanError>> {
        let path = path.as_ref();
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(src) => Self::parse(&src, &name),
            Err(e) => Err(vec![DialplanError {
                file: name,
                line: 0,
                column: 0,
                field: String::new(),
                message: format!("cannot read: {e}"),
            }]),
        }
    }
}

#[cfg(test)]
mod tests;

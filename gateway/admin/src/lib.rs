//! Administration of the city's network: units, endpoints, vetting, users
//! with roles scoped to a unit subtree, audit, and the REST API.
//!
//! [`Admin`] holds the operations (plain async methods, each taking the
//! acting [`Actor`]); [`router`] serves them under `/api/v1/`. The registry
//! lives in the store's `adm_*` tables (see `gateway_store::units`).

mod adopt;
mod api;
mod dialplan;
mod diff;
mod error;
mod model;
mod objects;
mod ops;
mod recordings;
pub mod reorganize;
mod snapshot;
pub mod ua;
mod ui;

pub use adopt::DialplanAdoption;
pub use api::{router, Problem, OPENAPI_JSON};
pub use dialplan::{
    DialplanIssue, MeetingView, RewriteView, RouteAnswer, RouteQuery, RuleMatchView, RuleView,
    TrunkView, VersionChange, VersionCheck, VersionList, VersionSource, MAX_DIALPLAN_BYTES,
};
pub use error::AdminError;
pub use gateway_store::{AdminUnit, Structure, UnitImport, UnitRef};
pub use model::*;
pub use objects::{Field, MeetingFields, ObjectChange, RuleFields, RuleMatch, TrunkFields};
pub use ops::{
    Admin, AdminConfig, Clock, DeviceObservation, UnitDetail, VettingChange, SYSTEM_ACTOR,
};
pub use recordings::{
    NewGrant, RecordingError, RecordingFile, RecordingFiles, RecordingGrantView, RecordingQuery,
    RecordingStream, RecordingView,
};
pub use snapshot::{RoutingRegistry, VettingEntry};

/// The city's official unit files, shipped with the gateway (facts; see
/// `data/README.md`).
pub mod data {
    pub const UNITS_2024: &str = include_str!("../data/hanoi-admin-units-3tier-2024.json");
    pub const UNITS_2025: &str = include_str!("../data/hanoi-admin-units-2tier-2025.json");
    pub const REORGANISATION_2025: &str = include_str!("../data/hanoi-reorganisation-2025.json");
}

impl Admin {
    /// Imports both of the city's unit structures shipped in [`data`]
    /// (idempotent: nothing is written when they are already there).
    pub async fn import_city_units(&self) -> Result<[UnitImport; 2], AdminError> {
        Ok([
            self.store()
                .import_units(Structure::Y2024, data::UNITS_2024)
                .await?,
            self.store()
                .import_units(Structure::Y2025, data::UNITS_2025)
                .await?,
        ])
    }
}

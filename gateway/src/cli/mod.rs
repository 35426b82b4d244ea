//! The command line: `gateway run` and the administration commands.
//!
//! Administration commands work on the database directly (`--db`,
//! `--data-dir`, the default) or, with `--api URL --user NAME`, through the
//! REST API of a running gateway; both run the same `gateway_admin`
//! operations, so validation, audit rows and refusals are the same.
//! Exit codes: 0 done, 1 refused or failed, 2 bad usage.

mod conn;
mod dialplan;
mod endpoints;
mod http;
mod meetings;
mod output;
mod recordings;
mod run;
mod units;
mod users;
mod vetting;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

pub(crate) use conn::Conn;

/// A refusal or failure: the exit code (1 refused, 2 bad usage) and the
/// message for stderr.
pub(crate) type Fail = (u8, String);

#[derive(Parser)]
#[command(
    name = "gateway",
    version,
    about = "SIP / H.323 / WebRTC interoperability gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the gateway. Works with no configuration file at all.
    Run(run::RunArgs),
    /// Check, import and try out dialplans.
    #[command(subcommand)]
    Dialplan(dialplan::DialplanCmd),
    /// Administration users (on the database, or --api on a running gateway).
    #[command(subcommand)]
    Users(users::UsersCmd),
    /// The city's administrative units: import, reorganise (database),
    /// list and show (database or --api).
    #[command(subcommand)]
    Units(units::UnitsCmd),
    /// The endpoint registry: list, show, create, update, delete (on the
    /// database, or --api on a running gateway).
    #[command(subcommand)]
    Endpoints(endpoints::EndpointsCmd),
    /// Meetings of the current dialplan (on the database, or --api).
    #[command(subcommand)]
    Meetings(meetings::MeetingsCmd),
    /// Security vetting of endpoints (on the database, where a running
    /// gateway takes the change on its next SIGHUP, or --api, where it
    /// takes it at once).
    #[command(subcommand)]
    Vetting(vetting::VettingCmd),
    /// Meeting recordings: list them (database), decrypt a sealed one.
    #[command(subcommand)]
    Recordings(recordings::RecordingsCmd),
}

/// Where the database is, as for `gateway run`.
#[derive(Args)]
pub(crate) struct DbArgs {
    #[arg(long, env = "GATEWAY_DB")]
    pub(crate) db: Option<String>,
    #[arg(long, default_value = "data")]
    pub(crate) data_dir: PathBuf,
}

/// Where an administration command runs, and how it prints.
#[derive(Args)]
pub(crate) struct ConnArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// Run through the REST API of a running gateway (its admin listener,
    /// e.g. http://127.0.0.1:8080) instead of on the database.
    #[arg(long, value_name = "URL")]
    pub(crate) api: Option<String>,
    /// The administration user for --api. Its password comes from
    /// GATEWAY_PASSWORD, else from the first line of stdin.
    #[arg(long, value_name = "NAME")]
    pub(crate) user: Option<String>,
    /// Print one JSON document (the API's representation) instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Dialplan(cmd) => dialplan::dialplan(cmd),
        Command::Users(cmd) => finish(users::users(cmd)),
        Command::Units(cmd) => finish(units::units(cmd)),
        Command::Endpoints(cmd) => finish(endpoints::endpoints(cmd)),
        Command::Meetings(cmd) => finish(meetings::meetings(cmd)),
        Command::Vetting(cmd) => finish(vetting::vetting(cmd)),
        Command::Recordings(cmd) => finish(recordings::recordings(cmd)),
    }
}

pub(crate) fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime")
}

pub(crate) fn db_url(db: Option<String>, data_dir: &std::path::Path) -> String {
    db.unwrap_or_else(|| format!("sqlite://{}", data_dir.join("gateway.db").display()))
}

/// The administration service on the database named by `db`, with the
/// city's units in place (imported when missing).
pub(crate) async fn open_admin(db: &DbArgs) -> Result<gateway_admin::Admin, String> {
    let url = db_url(db.db.clone(), &db.data_dir);
    if url.starts_with("sqlite://") {
        std::fs::create_dir_all(&db.data_dir)
            .map_err(|e| format!("cannot create {}: {e}", db.data_dir.display()))?;
    }
    let store = gateway_store::Store::connect(&url)
        .await
        .map_err(|e| format!("database {url}: {e}"))?;
    let admin = gateway_admin::Admin::new(store, gateway_admin::AdminConfig::default());
    admin
        .import_city_units()
        .await
        .map_err(|e| format!("cannot import the city's units: {e}"))?;
    Ok(admin)
}

/// Runs an administration command on the connection `args` names, closing
/// it (the API session) whatever the outcome.
pub(crate) fn with_conn<F>(args: &ConnArgs, body: F) -> Result<String, Fail>
where
    F: for<'c> AsyncFnOnce(&'c Conn) -> Result<String, Fail>,
{
    tokio_runtime().block_on(async {
        let conn = Conn::open(args).await?;
        let res = body(&conn).await;
        conn.close().await;
        res
    })
}

/// One line of stdin (several secrets come one a line, in the order the
/// command's help gives).
pub(crate) fn read_line(what: &str) -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read {what} from stdin: {e}"))?;
    let v = line.trim_end_matches(['\r', '\n']).to_string();
    if v.is_empty() {
        return Err(format!(
            "no {what} on stdin: give it as one line, e.g. `echo \"$PW\" | gateway ...`"
        ));
    }
    Ok(v)
}

pub(crate) fn finish(res: Result<String, Fail>) -> ExitCode {
    match res {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err((code, e)) => {
            eprintln!("gateway: {e}");
            ExitCode::from(code)
        }
    }
}

/// A unit given as STRUCTURE/CODE or CODE (in `default`, else 2025).
pub(crate) fn parse_unit(
    flag: &str,
    s: &str,
    default: Option<gateway_admin::Structure>,
) -> Result<gateway_admin::UnitRef, Fail> {
    let default = default.unwrap_or(gateway_admin::AdminConfig::default().default_structure);
    gateway_admin::UnitRef::parse(s, default)
        .ok_or_else(|| (2, format!("{flag}: {s:?} is not STRUCTURE/CODE or CODE")))
}

pub(crate) fn parse_structure(s: &str) -> Result<gateway_admin::Structure, String> {
    gateway_admin::Structure::parse(s).ok_or_else(|| format!("{s:?}: use 2024 or 2025"))
}

pub(crate) fn parse_state(s: &str) -> Result<gateway_admin::VettingState, String> {
    gateway_admin::VettingState::parse(s)
        .ok_or_else(|| format!("{s:?}: use pending, approved or suspended"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }
}

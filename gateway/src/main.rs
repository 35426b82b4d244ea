//! `gateway`: the SIP / H.323 / WebRTC interoperability gateway.

mod admin;
mod call;
mod config;
mod engine;
mod h323;
#[cfg(test)]
pub(crate) mod engine_tests;
mod meeting;
mod metrics;
mod persist;
mod registrar;
mod runtime;
mod store_writer;
mod vetting;
#[cfg(test)]
mod vetting_engine_tests;

use clap::{Args, Parser, Subcommand};
use config::Config;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

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

#[derive(Subcommand)]
enum Command {
    /// Run the gateway. Works with no configuration file at all.
    Run(RunArgs),
    /// Check, import and try out dialplans.
    #[command(subcommand)]
    Dialplan(DialplanCmd),
    /// Administration users (on the database directly).
    #[command(subcommand)]
    Users(UsersCmd),
    /// The city's administrative units (on the database directly).
    #[command(subcommand)]
    Units(UnitsCmd),
    /// Security vetting of endpoints (on the database directly; a running
    /// gateway takes the change on its next SIGHUP).
    #[command(subcommand)]
    Vetting(VettingCmd),
    /// Meeting recordings: list them (database), decrypt a sealed one.
    #[command(subcommand)]
    Recordings(RecordingsCmd),
}

/// Where the database is, as for `gateway run`.
#[derive(Args)]
struct DbArgs {
    #[arg(long, env = "GATEWAY_DB")]
    db: Option<String>,
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
}

#[derive(Subcommand)]
enum UsersCmd {
    /// Add a user; the password is read from stdin (one line).
    Add {
        name: String,
        /// city-admin, unit-admin, operator, security-reviewer or auditor.
        #[arg(long)]
        role: String,
        /// The unit subtree the user administers: CODE (2025 structure) or
        /// STRUCTURE/CODE; none: the whole network.
        #[arg(long)]
        unit: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum UnitsCmd {
    /// Import both of the city's unit structures (idempotent).
    Import {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Move endpoints, numbers, meetings and rules from the 2024 units to
    /// the 2025 units, following the official map.
    #[command(long_about = REORGANIZE_ABOUT)]
    Reorganize {
        /// The map: JSON `{"rows": [{old_district, old_ward, new_ward}]}`,
        /// e.g. hanoi-reorganisation-2025.json.
        #[arg(long, value_name = "FILE")]
        map: PathBuf,
        /// Print every change, the decisions still to make and the counts;
        /// change nothing.
        #[arg(long)]
        dry_run: bool,
        /// A decision for a split unit's object, KEY=CODE (repeatable); see
        /// above for the keys.
        #[arg(long = "assign", value_name = "KEY=CODE")]
        assign: Vec<String>,
        /// Decisions, one KEY=CODE a line (`#` comments, blank lines
        /// ignored): the lines --dry-run prints, with the codes filled in.
        #[arg(long, value_name = "FILE")]
        decisions: Option<PathBuf>,
        #[command(flatten)]
        db: DbArgs,
    },
}

const REORGANIZE_ABOUT: &str = "\
Move endpoints, numbers, meetings and rules from the 2024 units to the 2025 units, following the
official map (issue 10).

What moves: the registry's endpoints in 2024 units, and, when the current dialplan is in the 2024
structure, its endpoints, meetings, rules (from_unit) and trunks (unit). A unit that became part of
exactly one new unit moves there (the city stays the city). A unit split between several new
units, and every district (the level was abolished), is never guessed: its objects are listed for
a human decision. Ids, numbers, aliases and meeting numbers do not change.

Decisions: --assign KEY=CODE (repeatable) or --decisions FILE (one KEY=CODE a line). KEY is
endpoint:ID, meeting:NUMBER, rule:NAME, trunk:NAME, unit:OLDCODE (everything in that 2024 unit), or
a bare endpoint id or 2024 unit code. CODE is one of the new units the old one became part of (the
dry run lists them) or the city, 01. An object's own decision wins over its unit's.

--dry-run prints every change, the objects awaiting a decision (as lines of a decisions file) and
the counts of endpoints, numbers, aliases, meetings, rules and trunks per structure, before and
after; nothing changes. Without it, the reorganisation is applied in one transaction, refused as a
whole while any object awaits a decision: the registry's endpoints change unit (an audit row
each), the dialplan is stored as a new version with the 2025 units (the previous version stays and
can be restored), and the counts must be equal before the commit. On any error nothing changes and
the error names what failed.";

#[derive(Subcommand)]
enum RecordingsCmd {
    /// Recordings in the database, newest first, one JSON object a line.
    List {
        /// Only the recordings this unit owns.
        #[arg(long)]
        unit: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Decrypt a recording of a classified meeting (`.ogg.enc`) to Ogg/Opus,
    /// verifying every chunk. The output is the meeting in clear: for
    /// authorised operators only.
    Decrypt {
        file: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// The recording key (default: `recordings.key_file` of the
        /// configuration, or DATA_DIR/recordings.key).
        #[arg(long)]
        key_file: Option<PathBuf>,
        #[arg(long, env = "GATEWAY_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum VettingCmd {
    /// The review queue: endpoints pending vetting, with what changed.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Approve an endpoint (as a security reviewer).
    Approve {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Suspend an endpoint; a reason is required.
    Suspend {
        id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Configuration file (TOML); every flag below overrides it.
    #[arg(long, env = "GATEWAY_CONFIG")]
    config: Option<PathBuf>,
    /// SIP listen address for UDP and TCP.
    #[arg(long)]
    sip_listen: Option<SocketAddr>,
    /// SIP over TLS listen address (needs tls_cert and tls_key in the config).
    #[arg(long)]
    tls_listen: Option<SocketAddr>,
    /// Admin HTTP listen address (/metrics, /healthz).
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
    /// RTP port range, LOW-HIGH.
    #[arg(long)]
    rtp_ports: Option<String>,
    /// Database URL: sqlite://PATH or postgres://...
    #[arg(long, env = "GATEWAY_DB")]
    db: Option<String>,
    /// Dialplan file to import at start.
    #[arg(long)]
    dialplan: Option<PathBuf>,
    /// Data directory (SQLite file, state).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long)]
    log_format: Option<String>,
    /// H.323 address (RAS on UDP --h323-ras-port, call signalling on TCP
    /// --h323-cs-port of this IP), or "off". Default: the SIP listen IP.
    #[arg(long, value_name = "IP|off")]
    h323_listen: Option<String>,
    /// H.323 RAS port (UDP, default 1719).
    #[arg(long)]
    h323_ras_port: Option<u16>,
    /// H.323 call-signalling port (TCP, default 1720).
    #[arg(long)]
    h323_cs_port: Option<u16>,
}

#[derive(Subcommand)]
enum DialplanCmd {
    /// Validate a dialplan file; every error names file:line:column and field.
    Check { file: PathBuf },
    /// Validate a dialplan file and store it as the current dialplan.
    Import {
        file: PathBuf,
        #[arg(long, env = "GATEWAY_DB")]
        db: Option<String>,
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
    },
    /// Show the routing decision for a call, as JSON.
    Route {
        /// Caller URI, e.g. sip:1001@127.0.0.1
        #[arg(long)]
        from: String,
        /// Dialled number, alias or URI.
        #[arg(long)]
        to: String,
        /// Dialplan file (default: the one stored in the database).
        #[arg(long)]
        dialplan: Option<PathBuf>,
        /// Source address of the call (for trunk ACLs); default 127.0.0.1.
        #[arg(long, default_value = "127.0.0.1")]
        source_ip: std::net::IpAddr,
        /// The call arrives over TLS.
        #[arg(long)]
        secure: bool,
        #[arg(long, env = "GATEWAY_DB")]
        db: Option<String>,
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
    },
}

fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("GATEWAY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(args),
        Command::Dialplan(cmd) => dialplan(cmd),
        Command::Users(cmd) => users(cmd),
        Command::Units(cmd) => units(cmd),
        Command::Vetting(cmd) => vetting(cmd),
        Command::Recordings(cmd) => recordings(cmd),
    }
}

/// The administration service on the database named by `db`, with the
/// city's units in place (imported when missing).
async fn open_admin(db: &DbArgs) -> Result<gateway_admin::Admin, String> {
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

/// Who the CLI acts as: a reviewer of the whole network, named after the
/// operating-system user (whoever may open the database may do anything).
fn cli_actor(role: gateway_admin::Role) -> gateway_admin::Actor {
    let os_user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    gateway_admin::Actor {
        user: format!("cli:{os_user}"),
        role,
        unit_scope: None,
    }
}

fn read_password() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.is_empty() {
        return Err("no password on stdin: give it as one line, e.g. `echo \"$PW\" | gateway users add ...`".into());
    }
    Ok(pw)
}

fn finish(res: Result<String, (u8, String)>) -> ExitCode {
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

fn users(cmd: UsersCmd) -> ExitCode {
    let UsersCmd::Add {
        name,
        role,
        unit,
        db,
    } = cmd;
    let Some(role) = gateway_admin::Role::parse(&role) else {
        let known: Vec<&str> = gateway_admin::Role::ALL
            .iter()
            .map(|r| r.as_str())
            .collect();
        return finish(Err((
            2,
            format!(
                "--role {role:?} is not a role; use one of {}",
                known.join(", ")
            ),
        )));
    };
    let password = match read_password() {
        Ok(p) => p,
        Err(e) => return finish(Err((2, e))),
    };
    finish(tokio_runtime().block_on(async {
        let admin = open_admin(&db).await.map_err(|e| (1, e))?;
        let unit = match &unit {
            Some(u) => Some(
                admin
                    .parse_unit(u)
                    .map_err(|e| (2, format!("--unit: {e}")))?,
            ),
            None => None,
        };
        let new = gateway_admin::NewUser {
            name: name.clone(),
            password,
            role,
            unit,
        };
        let by = cli_actor(role).user;
        let v = admin
            .add_user(new, &by)
            .await
            .map_err(|e| (1, format!("user {name:?} not added: {e}")))?;
        Ok(format!(
            "user {} added: role {}, {}",
            v.name,
            v.role,
            match &v.unit {
                Some(u) => format!("unit {u} and below"),
                None => "the whole network".into(),
            }
        ))
    }))
}

fn units(cmd: UnitsCmd) -> ExitCode {
    let db = match cmd {
        UnitsCmd::Import { db } => db,
        UnitsCmd::Reorganize {
            map,
            dry_run,
            assign,
            decisions,
            db,
        } => return units_reorganize(map, dry_run, assign, decisions, db),
    };
    finish(tokio_runtime().block_on(async {
        let url = db_url(db.db.clone(), &db.data_dir);
        let admin = open_admin(&db).await.map_err(|e| (1, e))?;
        let mut out = Vec::new();
        for s in [
            gateway_admin::Structure::Y2024,
            gateway_admin::Structure::Y2025,
        ] {
            let n = admin
                .list_units(&cli_actor(gateway_admin::Role::Auditor), Some(s))
                .await
                .map_err(|e| (1, e.to_string()))?
                .len();
            out.push(format!("{n} units of the {} structure", s.as_str()));
        }
        Ok(format!("{url}: {}", out.join(", ")))
    }))
}

fn units_reorganize(
    map: PathBuf,
    dry_run: bool,
    assign: Vec<String>,
    decisions: Option<PathBuf>,
    db: DbArgs,
) -> ExitCode {
    use gateway_admin::reorganize::{Assignment, ReorgMap, ReorgRequest};
    let request = (|| -> Result<ReorgRequest, String> {
        let name = map.display().to_string();
        let json =
            std::fs::read_to_string(&map).map_err(|e| format!("--map {name}: cannot read: {e}"))?;
        let map = ReorgMap::parse(&json, &name).map_err(|e| e.to_string())?;
        let mut assignments = Vec::new();
        if let Some(f) = &decisions {
            let name = f.display().to_string();
            let text = std::fs::read_to_string(f)
                .map_err(|e| format!("--decisions {name}: cannot read: {e}"))?;
            assignments.extend(Assignment::parse_file(&text, &name).map_err(|e| e.to_string())?);
        }
        for a in &assign {
            assignments.push(Assignment::parse(a, "--assign").map_err(|e| e.to_string())?);
        }
        Ok(ReorgRequest {
            map,
            assignments,
            dry_run,
        })
    })();
    let request = match request {
        Ok(r) => r,
        Err(e) => return finish(Err((2, e))),
    };
    finish(tokio_runtime().block_on(async {
        let admin = open_admin(&db).await.map_err(|e| (1, e))?;
        let report = admin
            .reorganize(&cli_actor(gateway_admin::Role::CityAdmin), &request)
            .await
            .map_err(|e| (1, format!("units reorganize: {e}")))?;
        Ok(report.render())
    }))
}

fn recordings(cmd: RecordingsCmd) -> ExitCode {
    match cmd {
        RecordingsCmd::List { unit, limit, db } => finish(tokio_runtime().block_on(async {
            let url = db_url(db.db.clone(), &db.data_dir);
            let store = gateway_store::Store::connect(&url)
                .await
                .map_err(|e| (1, format!("database {url}: {e}")))?;
            let rows = match &unit {
                Some(u) => store.list_recordings_by_unit(u, limit).await,
                None => store.list_recordings(limit).await,
            }
            .map_err(|e| (1, e.to_string()))?;
            let lines: Vec<String> = rows
                .iter()
                .map(|r| serde_json::to_string(r).expect("plain data serializes"))
                .collect();
            Ok(lines.join("\n"))
        })),
        RecordingsCmd::Decrypt {
            file,
            out,
            key_file,
            config,
            data_dir,
        } => finish(decrypt_recording(&file, &out, key_file, config, data_dir)),
    }
}

/// The key file of `recordings decrypt`: the flag, else the configuration's
/// (`recordings.key_file`, or `<data_dir>/recordings.key`).
fn recording_key_path(
    key_file: Option<PathBuf>,
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
) -> Result<PathBuf, (u8, String)> {
    if let Some(k) = key_file {
        return Ok(k);
    }
    let mut cfg = match &config {
        Some(p) => Config::load(p).map_err(|e| (2, e.to_string()))?,
        None => Config::default(),
    };
    if let Some(d) = data_dir {
        cfg.data_dir = d;
    }
    Ok(cfg.recording_key_file())
}

/// Decrypts to `OUT.partial` (mode 0600: it is the meeting in clear) and
/// renames it to `out` only when every chunk verified; on any error nothing
/// is left behind.
fn decrypt_recording(
    file: &std::path::Path,
    out: &std::path::Path,
    key_file: Option<PathBuf>,
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
) -> Result<String, (u8, String)> {
    use gateway_media::meeting::seal;
    let key_path = recording_key_path(key_file, config, data_dir)?;
    let key = meeting::recording::load_key(&key_path).map_err(|e| (1, e.to_string()))?;
    let mut input = std::io::BufReader::new(
        std::fs::File::open(file).map_err(|e| (1, format!("{}: {e}", file.display())))?,
    );
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let result = opts
        .open(&partial)
        .map_err(|e| format!("{}: {e}", partial.display()))
        .and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            let n = seal::open_stream(&mut input, &mut w, &key)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            let f = w
                .into_inner()
                .map_err(|e| format!("{}: {}", partial.display(), e.error()))?;
            f.sync_all()
                .map_err(|e| format!("{}: {e}", partial.display()))?;
            std::fs::rename(&partial, out).map_err(|e| format!("{}: {e}", out.display()))?;
            Ok(n)
        });
    match result {
        Ok(n) => Ok(format!(
            "{} decrypted with key {} to {} ({n} bytes, every chunk verified)",
            file.display(),
            key.id_hex(),
            out.display()
        )),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err((1, e))
        }
    }
}

fn vetting(cmd: VettingCmd) -> ExitCode {
    use gateway_admin::Role;
    finish(tokio_runtime().block_on(async {
        let reviewer = cli_actor(Role::SecurityReviewer);
        let hint = "a running gateway applies it after SIGHUP";
        match cmd {
            VettingCmd::List { db } => {
                let admin = open_admin(&db).await.map_err(|e| (1, e))?;
                let q = admin
                    .vetting_queue(&reviewer)
                    .await
                    .map_err(|e| (1, e.to_string()))?;
                let mut lines = vec![format!("{} endpoint(s) pending vetting", q.len())];
                for e in q {
                    lines.push(format!(
                        "{}\tunit {}\t{}",
                        e.id,
                        e.unit,
                        e.vetting.reason.as_deref().unwrap_or("")
                    ));
                }
                Ok(lines.join("\n"))
            }
            VettingCmd::Approve { id, reason, db } => {
                let admin = open_admin(&db).await.map_err(|e| (1, e))?;
                admin
                    .approve(&reviewer, &id, reason.as_deref())
                    .await
                    .map_err(|e| (1, format!("endpoint {id} not approved: {e}")))?;
                Ok(format!(
                    "endpoint {id} approved by {} ({hint})",
                    reviewer.user
                ))
            }
            VettingCmd::Suspend { id, reason, db } => {
                let admin = open_admin(&db).await.map_err(|e| (1, e))?;
                admin
                    .suspend(&reviewer, &id, &reason)
                    .await
                    .map_err(|e| (1, format!("endpoint {id} not suspended: {e}")))?;
                Ok(format!(
                    "endpoint {id} suspended by {} ({hint})",
                    reviewer.user
                ))
            }
        }
    }))
}

fn build_config(args: RunArgs) -> Result<Config, String> {
    let mut cfg = match &args.config {
        Some(p) => Config::load(p).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(v) = args.sip_listen {
        cfg.sip_listen = v;
    }
    if let Some(v) = args.tls_listen {
        cfg.tls_listen = Some(v);
    }
    if let Some(v) = args.admin_listen {
        cfg.admin_listen = v;
    }
    if let Some(v) = args.rtp_ports {
        cfg.rtp_ports = v;
    }
    if let Some(v) = args.db {
        cfg.db = Some(v);
    }
    if let Some(v) = args.dialplan {
        cfg.dialplan = Some(v);
    }
    if let Some(v) = args.data_dir {
        cfg.data_dir = v;
    }
    if let Some(v) = args.log_format {
        cfg.log_format = v;
    }
    if let Some(v) = args.h323_listen {
        cfg.h323_listen = Some(v);
    }
    if let Some(v) = args.h323_ras_port {
        cfg.h323_ras_port = v;
    }
    if let Some(v) = args.h323_cs_port {
        cfg.h323_cs_port = v;
    }
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(cfg)
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime")
}

fn run(args: RunArgs) -> ExitCode {
    let cfg = match build_config(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gateway: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(cfg.log_format == "json");
    match tokio_runtime().block_on(runtime::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("gateway: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_dialplan(path: &PathBuf) -> Result<(String, gateway_dialplan::Dialplan), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let name = path.display().to_string();
    match gateway_dialplan::Dialplan::parse(&text, &name) {
        Ok(dp) => Ok((text, dp)),
        Err(errs) => Err(errs
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

fn db_url(db: Option<String>, data_dir: &std::path::Path) -> String {
    db.unwrap_or_else(|| format!("sqlite://{}", data_dir.join("gateway.db").display()))
}

fn dialplan(cmd: DialplanCmd) -> ExitCode {
    match cmd {
        DialplanCmd::Check { file } => match read_dialplan(&file) {
            Ok((_, dp)) => {
                println!(
                    "{}: ok ({} units, {} endpoints, {} trunks, {} rules)",
                    file.display(),
                    dp.units().len(),
                    dp.endpoints().len(),
                    dp.trunks().len(),
                    dp.rules().len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        DialplanCmd::Import { file, db, data_dir } => {
            let (text, dp) = match read_dialplan(&file) {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            let url = db_url(db, &data_dir);
            let res = tokio_runtime().block_on(async {
                if url.starts_with("sqlite://") {
                    std::fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
                }
                let store = gateway_store::Store::connect(&url)
                    .await
                    .map_err(|e| e.to_string())?;
                store
                    .import_dialplan(&dp, &text, &file.display().to_string())
                    .await
                    .map_err(|e| e.to_string())
            });
            match res {
                Ok(v) => {
                    println!("{}: imported as version {v}", file.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("import failed, nothing was changed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        DialplanCmd::Route {
            from,
            to,
            dialplan,
            source_ip,
            secure,
            db,
            data_dir,
        } => {
            let dp = match dialplan {
                Some(path) => match read_dialplan(&path) {
                    Ok((_, dp)) => dp,
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::FAILURE;
                    }
                },
                None => {
                    let url = db_url(db, &data_dir);
                    let loaded = tokio_runtime().block_on(async {
                        let store = gateway_store::Store::connect(&url)
                            .await
                            .map_err(|e| e.to_string())?;
                        store.load_dialplan().await.map_err(|e| e.to_string())
                    });
                    match loaded {
                        Ok(Some(dp)) => dp,
                        Ok(None) => {
                            eprintln!("no dialplan stored in {url}; pass --dialplan FILE");
                            return ExitCode::FAILURE;
                        }
                        Err(e) => {
                            eprintln!("{e}");
                            return ExitCode::FAILURE;
                        }
                    }
                }
            };
            let req = match call::route_request_for_cli(&dp, &from, &to, source_ip, secure) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            let decision = dp.route(&req);
            let out = serde_json::json!({ "request": req, "decision": decision });
            println!(
                "{}",
                serde_json::to_string_pretty(&out).unwrap_or_else(|e| e.to_string())
            );
            ExitCode::SUCCESS
        }
    }
}

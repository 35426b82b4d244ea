//! `gateway`: the SIP / H.323 / WebRTC interoperability gateway.

mod admin;
mod call;
mod config;
mod engine;
#[cfg(test)]
mod engine_tests;
mod meeting;
mod metrics;
mod persist;
mod registrar;
mod runtime;
mod store_writer;
mod vetting;

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
    }
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

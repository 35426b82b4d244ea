//! `gateway dialplan check|import|export|route`.

use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{db_url, tokio_runtime};

#[derive(Subcommand)]
pub(crate) enum DialplanCmd {
    /// Validate a dialplan file; every error names file:line:column and field.
    Check { file: PathBuf },
    /// Validate a dialplan file and store it as the current dialplan
    /// (audited as `dialplan.import` by cli:$USER; a running gateway takes
    /// it on SIGHUP).
    Import {
        file: PathBuf,
        #[arg(long, env = "GATEWAY_DB")]
        db: Option<String>,
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
    },
    /// Write a stored dialplan version as TOML, exactly as it was imported:
    /// the current one, or --version N.
    Export {
        #[arg(long, value_name = "N")]
        version: Option<i64>,
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
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
        /// When the call is placed (RFC 3339, e.g. 2025-07-07T18:30:00+07:00),
        /// for rules with time windows; default now.
        #[arg(long)]
        at: Option<String>,
        #[arg(long, env = "GATEWAY_DB")]
        db: Option<String>,
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
    },
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

pub(crate) fn dialplan(cmd: DialplanCmd) -> ExitCode {
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
                // Whoever can open the database may replace the dialplan;
                // the audit row says it was done from the CLI, and by whom.
                let audit = gateway_store::DialplanAudit {
                    at_ms: now_ms(),
                    actor: format!(
                        "cli:{}",
                        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
                    ),
                    actor_role: gateway_admin::Role::CityAdmin.as_str().to_string(),
                    action: "dialplan.import".to_string(),
                    detail: serde_json::json!({}),
                    unit: None,
                };
                store
                    .import_dialplan_audited(&dp, &text, &file.display().to_string(), &audit)
                    .await
                    .map_err(|e| e.to_string())
            });
            match res {
                Ok(done) if done.created => {
                    println!("{}: imported as version {}", file.display(), done.version);
                    ExitCode::SUCCESS
                }
                Ok(done) => {
                    println!(
                        "{}: already the current version {}; nothing written",
                        file.display(),
                        done.version
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("import failed, nothing was changed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        DialplanCmd::Export {
            version,
            out,
            db,
            data_dir,
        } => {
            let url = db_url(db, &data_dir);
            let res = tokio_runtime().block_on(async {
                let store = gateway_store::Store::connect(&url)
                    .await
                    .map_err(|e| format!("database {url}: {e}"))?;
                let n = match version {
                    Some(n) => n,
                    None => match store.dialplan_version().await.map_err(|e| e.to_string())? {
                        Some(v) => v.version,
                        None => return Err("no dialplan has been imported yet".to_string()),
                    },
                };
                match store.dialplan_source(n).await.map_err(|e| e.to_string())? {
                    Some((file_name, source)) => Ok((n, file_name, source)),
                    None => Err(format!("dialplan version {n} not found")),
                }
            });
            let (n, file_name, source) = match res {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("gateway: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match out {
                Some(path) => match std::fs::write(&path, &source) {
                    Ok(()) => {
                        println!(
                            "{}: version {n} (imported as {file_name}), {} bytes",
                            path.display(),
                            source.len()
                        );
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("gateway: cannot write {}: {e}", path.display());
                        ExitCode::FAILURE
                    }
                },
                None => {
                    use std::io::Write;
                    let mut stdout = std::io::stdout().lock();
                    match stdout
                        .write_all(source.as_bytes())
                        .and_then(|_| stdout.flush())
                    {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(e) => {
                            eprintln!("gateway: cannot write the dialplan: {e}");
                            ExitCode::FAILURE
                        }
                    }
                }
            }
        }
        DialplanCmd::Route {
            from,
            to,
            dialplan,
            source_ip,
            secure,
            at,
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
            let mut req =
                match crate::call::route_request_for_cli(&dp, &from, &to, source_ip, secure) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::from(2);
                    }
                };
            if let Some(at) = at {
                match gateway_dialplan::parse_rfc3339(&at) {
                    Ok(secs) => req.at_unix_secs = secs,
                    Err(e) => {
                        eprintln!("--at: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

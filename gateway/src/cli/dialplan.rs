//! `gateway dialplan check|import|route`.

use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{db_url, tokio_runtime};

#[derive(Subcommand)]
pub(crate) enum DialplanCmd {
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
            let req = match crate::call::route_request_for_cli(&dp, &from, &to, source_ip, secure) {
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

//! `gateway run`: the configuration file, overridden by flags.

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use super::tokio_runtime;
use crate::config::Config;

#[derive(Args)]
pub(crate) struct RunArgs {
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
    /// Web listener for WHIP/WHEP (HTTPS unless web_plain_http), ADDR:PORT
    /// or "off". Default 0.0.0.0:8443.
    #[arg(long, value_name = "ADDR:PORT|off")]
    web_listen: Option<String>,
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
    if let Some(v) = args.web_listen {
        cfg.web_listen = Some(v);
    }
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(cfg)
}

pub(crate) fn run(args: RunArgs) -> ExitCode {
    let cfg = match build_config(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gateway: {e}");
            return ExitCode::from(2);
        }
    };
    crate::init_logging(cfg.log_format == "json");
    match tokio_runtime().block_on(crate::runtime::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("gateway: {e}");
            ExitCode::FAILURE
        }
    }
}

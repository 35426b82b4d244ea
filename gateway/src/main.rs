//! `gateway`: the SIP / H.323 / WebRTC interoperability gateway.

mod admin;
mod call;
mod cli;
mod config;
mod engine;
#[cfg(test)]
mod engine_reinvite_tests;
#[cfg(test)]
pub(crate) mod engine_tests;
mod h323;
mod meeting;
mod metrics;
mod persist;
mod registrar;
mod runtime;
mod store_writer;
mod vetting;
#[cfg(test)]
mod vetting_engine_tests;
mod webrtc;

use std::process::ExitCode;

/// Logs go to stderr so that command output on stdout stays parseable.
pub(crate) fn init_logging(json: bool) {
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
    cli::main()
}

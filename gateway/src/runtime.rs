//! The runtime: the only place that owns tokio, sockets, timers and the
//! configuration. It wires the transports, the media relay, the store and
//! the admin listener to the SIP engine and drives the engine's loop.

use crate::admin::{self, AdminState};
use crate::config::Config;
use crate::engine::{transport_of, Engine, EngineConfig};
use crate::metrics::{Metrics, SourcesCollector};
use crate::registrar::RegistrarLimits;
use gateway_admin::{Admin, AdminConfig, DeviceObservation, Structure};
use gateway_dialplan::Dialplan;
use gateway_media::MediaRelay;
use gateway_sip::transaction::{PeerAddr, Transport, TxId};
use gateway_store::Store;
use gateway_transport::{Outbound, TransportConfig, TransportKind, Transports};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Store(String),
    #[error("{0}")]
    RecordingKey(String),
    #[error("dialplan: {0}")]
    Dialplan(String),
    #[error("SIP transports: {0}")]
    Transport(#[from] gateway_transport::TransportError),
    #[error("media relay: {0}")]
    Media(#[from] gateway_media::MediaError),
    #[error("{0}")]
    H323(String),
    #[error("{0}")]
    Web(String),
    #[error("admin listener {addr}: {source}")]
    Admin {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Load the dialplan to run with: the file given (imported into the store
/// when it differs from the stored version), else the stored one, else the
/// embedded sample (imported on first start).
pub async fn load_dialplan(cfg: &Config, store: &Store) -> Result<Dialplan, RunError> {
    if let Some(path) = &cfg.dialplan {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RunError::Dialplan(format!("cannot read {}: {e}", path.display())))?;
        let name = path.display().to_string();
        let dp = Dialplan::parse(&text, &name).map_err(|errs| {
            RunError::Dialplan(
                errs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        // A changed file becomes a new version like any other change: in
        // the audit log, by the gateway on behalf of whoever edited it.
        let done = store
            .import_dialplan_audited(&dp, &text, &name, &file_import_audit(&name))
            .await
            .map_err(|e| RunError::Store(e.to_string()))?;
        if done.created {
            info!(file = %name, version = done.version, "dialplan file imported as a new version (audited)");
        } else {
            info!(file = %name, version = done.version, "dialplan file unchanged since the stored version");
        }
        return Ok(dp);
    }
    if let Some(dp) = store
        .load_dialplan()
        .await
        .map_err(|e| RunError::Store(e.to_string()))?
    {
        info!("dialplan loaded from the database");
        return Ok(dp);
    }
    let text = gateway_dialplan::SAMPLE_DIALPLAN;
    let dp = Dialplan::parse(text, "<embedded sample dialplan>")
        .map_err(|_| RunError::Dialplan("the embedded sample dialplan does not parse".into()))?;
    store
        .import_dialplan(&dp, text, "<embedded sample dialplan>")
        .await
        .map_err(|e| RunError::Store(e.to_string()))?;
    info!("first start: embedded sample dialplan imported");
    Ok(dp)
}

/// The audit row of a dialplan file imported at start or on SIGHUP: the
/// actor names the file (and the node's process), since whoever edited the
/// file is not known to the gateway.
fn file_import_audit(file: &str) -> gateway_store::DialplanAudit {
    gateway_store::DialplanAudit {
        at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
        actor: format!("file:{file}"),
        actor_role: gateway_admin::Role::CityAdmin.as_str().to_string(),
        action: "dialplan.import".to_string(),
        detail: serde_json::json!({"by": "gateway", "pid": std::process::id()}),
        unit: None,
    }
}

/// The unit structure the dialplan's codes refer to: the configured one,
/// else the one its units match best, else 2025 (the structure in force).
pub async fn dialplan_structure(
    cfg: &Config,
    admin: &Admin,
    dialplan: &Dialplan,
) -> Result<Structure, RunError> {
    if let Some(s) = cfg.unit_structure.as_deref().and_then(Structure::parse) {
        return Ok(s);
    }
    // Collected first: an iterator adapter held across the await would
    // keep the future from being `Send` for every lifetime (a reload runs
    // on a spawned task).
    let units: Vec<(&str, &str)> = dialplan
        .units()
        .iter()
        .map(|u| (u.code.as_str(), u.name.as_str()))
        .collect();
    let found = admin
        .matching_structure(units)
        .await
        .map_err(|e| RunError::Store(e.to_string()))?;
    Ok(found.unwrap_or(Structure::Y2025))
}

/// The administration service over the store: the city's units imported
/// (idempotent), its default structure the dialplan's.
pub async fn start_admin(
    cfg: &Config,
    store: &Store,
    dialplan: &Dialplan,
) -> Result<Admin, RunError> {
    let store_err = |e: gateway_admin::AdminError| RunError::Store(e.to_string());
    let mut config = AdminConfig {
        realm: cfg
            .realm
            .clone()
            .unwrap_or_else(|| dialplan.gateway().realm.clone()),
        token_ttl_secs: cfg.admin_token_ttl_secs,
        ..AdminConfig::default()
    };
    let admin = Admin::new(store.clone(), config.clone());
    let imported = admin.import_city_units().await.map_err(store_err)?;
    for i in &imported {
        if i.inserted + i.updated > 0 {
            info!(
                inserted = i.inserted,
                updated = i.updated,
                "the city's administrative units imported"
            );
        }
    }
    config.default_structure = dialplan_structure(cfg, &admin, dialplan).await?;
    Ok(Admin::new(store.clone(), config))
}

/// Brings the dialplan's endpoints into the admin registry (new ones only)
/// and returns the registry's vetting snapshot for the engine.
async fn adopt_dialplan(
    cfg: &Config,
    admin: &Admin,
    dialplan: &Dialplan,
) -> Result<std::collections::HashMap<String, gateway_admin::VettingEntry>, RunError> {
    // A city's dialplan may skip thousands (a unit file not imported, the
    // wrong structure): name the first few, count the rest.
    const NAMED_SKIPS: usize = 20;
    let store_err = |e: gateway_admin::AdminError| RunError::Store(e.to_string());
    let started = Instant::now();
    let structure = dialplan_structure(cfg, admin, dialplan).await?;
    let report = admin
        .adopt_dialplan_endpoints(structure)
        .await
        .map_err(store_err)?;
    info!(
        structure = structure.as_str(),
        added = report.added.len(),
        already = report.already,
        skipped = report.skipped.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "dialplan endpoints adopted into the admin registry"
    );
    for (id, why) in report.skipped.iter().take(NAMED_SKIPS) {
        warn!(endpoint = %id, reason = %why, "endpoint not in the admin registry: vetting follows the dialplan");
    }
    if report.skipped.len() > NAMED_SKIPS {
        warn!(
            more = report.skipped.len() - NAMED_SKIPS,
            "more endpoints not in the admin registry: vetting follows the dialplan"
        );
    }
    admin.vetting_snapshot().await.map_err(store_err)
}

/// The dialplan the engine routes and authenticates with: `base` (the
/// stored version's units, trunks, rules and meetings, and its endpoints the
/// registry does not hold) with the admin registry's endpoints laid over it,
/// and the registry's fixed addresses. Built off the engine loop.
struct Routing {
    dialplan: Dialplan,
    fixed: Vec<(String, String)>,
}

async fn routing_dialplan(
    cfg: &Config,
    admin: &Admin,
    base: &Dialplan,
) -> Result<Routing, RunError> {
    const NAMED: usize = 20;
    let started = Instant::now();
    // The realm the engine challenges with (fixed when it starts).
    let realm = cfg
        .realm
        .clone()
        .unwrap_or_else(|| base.gateway().realm.clone());
    let registry = admin
        .routing_registry(&realm)
        .await
        .map_err(|e| RunError::Store(e.to_string()))?;
    let read_ms = started.elapsed().as_millis() as u64;
    let from_registry = registry.endpoints.len();
    let removed = registry.removed.len();
    for note in &registry.notes {
        warn!("{note}");
    }
    let (dialplan, issues) = base
        .clone()
        .overlay_endpoints(registry.endpoints, &registry.removed);
    for i in issues.iter().take(NAMED) {
        warn!(endpoint = %i.endpoint, "registry endpoint: {}", i.message);
    }
    if issues.len() > NAMED {
        warn!(
            more = issues.len() - NAMED,
            "more registry endpoint names left out"
        );
    }
    info!(
        registry_endpoints = from_registry,
        deleted_in_registry = removed,
        endpoints = dialplan.endpoints().len(),
        fixed_addresses = registry.fixed.len(),
        read_ms,
        took_ms = started.elapsed().as_millis() as u64,
        "routing dialplan built from the admin registry"
    );
    Ok(Routing {
        dialplan,
        fixed: registry.fixed,
    })
}

/// Records devices the engine saw on REGISTERs (one at a time, in order).
fn spawn_device_observer(admin: Admin) -> mpsc::Sender<crate::vetting::DeviceSeen> {
    let (tx, mut rx) = mpsc::channel::<crate::vetting::DeviceSeen>(1024);
    tokio::spawn(async move {
        while let Some(seen) = rx.recv().await {
            match admin
                .observe_device(&seen.endpoint_id, &seen.user_agent)
                .await
            {
                Ok(DeviceObservation::Changed {
                    what,
                    back_to_review: true,
                }) => warn!(
                    endpoint = %seen.endpoint_id,
                    changed = %what.join(", "),
                    user_agent = %seen.user_agent,
                    "device changed: endpoint back in the vetting queue"
                ),
                Ok(DeviceObservation::FirstSeen { adopted }) => info!(
                    endpoint = %seen.endpoint_id,
                    adopted,
                    user_agent = %seen.user_agent,
                    "first device of the endpoint recorded"
                ),
                Ok(_) => {}
                Err(e) => {
                    warn!(endpoint = %seen.endpoint_id, error = %e, "device observation not recorded")
                }
            }
        }
    });
    tx
}

pub async fn run(cfg: Config) -> Result<(), RunError> {
    cfg.validate()?;
    for w in &cfg.warnings {
        warn!("{w}");
    }
    std::fs::create_dir_all(&cfg.data_dir).map_err(|source| RunError::DataDir {
        path: cfg.data_dir.display().to_string(),
        source,
    })?;
    // The key classified meetings' recordings are sealed with: loaded (or
    // created, 0600) now, so a bad key file stops the start, not a meeting.
    crate::meeting::recording::configure(&cfg)
        .map_err(|e| RunError::RecordingKey(e.to_string()))?;
    let store = Store::connect(&cfg.db_url())
        .await
        .map_err(|e| RunError::Store(e.to_string()))?;
    // Before any meeting is recorded: end the files a stop cut short.
    crate::meeting::repair::repair_interrupted(&store, &cfg.data_dir, &cfg.recording_key_file())
        .await;
    let base = Arc::new(load_dialplan(&cfg, &store).await?);
    let admin = start_admin(&cfg, &store, &base).await?;
    // Subscribed before the snapshot is read: a change committed in between
    // arrives as an event too, and applying it again is harmless.
    let mut vetting_changes = admin.subscribe_vetting();
    let mut dialplan_changes = admin.subscribe_dialplan();
    let mut endpoint_changes = admin.subscribe_endpoints();
    let mut dialplan_open = true;
    let mut endpoints_open = true;
    let vetting_snapshot = adopt_dialplan(&cfg, &admin, &base).await?;
    let routing = routing_dialplan(&cfg, &admin, &base).await?;
    let dialplan = Arc::new(routing.dialplan);

    let (tls_cert, tls_key) = match (&cfg.tls_listen, &cfg.tls_cert, &cfg.tls_key) {
        (Some(_), None, None) => {
            let (c, k) = self_signed_identity(&cfg)?;
            (Some(c), Some(k))
        }
        _ => (cfg.tls_cert.clone(), cfg.tls_key.clone()),
    };
    let tcfg = TransportConfig {
        udp: vec![cfg.sip_listen],
        tcp: vec![cfg.sip_listen],
        tls: cfg.tls_listen.into_iter().collect(),
        tls_cert_pem: tls_cert,
        tls_key_pem: tls_key,
        max_message_size: cfg.max_message_bytes,
        ..TransportConfig::default()
    };
    let (transports, mut inbound) = Transports::start(tcfg).await?;
    let media_ip = if cfg.sip_listen.ip().is_unspecified() {
        cfg.sip_listen.ip()
    } else {
        cfg.advertised_ip()
    };
    let media = MediaRelay::new(media_ip, cfg.rtp_port_range()?)?;

    let metrics = Metrics::new();
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(
        &mut registry,
        SourcesCollector {
            engine: metrics.engine.clone(),
            relay: media.clone(),
            transport: transports.clone(),
        },
    );
    let admin_state = Arc::new(AdminState {
        registry,
        ready: Default::default(),
    });
    let admin_listener = admin::bind(cfg.admin_listen)
        .await
        .map_err(|source| RunError::Admin {
            addr: cfg.admin_listen,
            source,
        })?;
    let admin_addr = admin_listener.local_addr().ok();
    tokio::spawn({
        let state = admin_state.clone();
        // Recording files are served (and sealed ones opened) from this
        // node's data directory with the key the recorder seals with.
        let files = gateway_admin::RecordingFiles::with_key_file(
            cfg.data_dir.clone(),
            &cfg.recording_key_file(),
        )
        .unwrap_or_else(|e| {
            warn!(error = %e, "recording key not readable: recordings can be listed, not fetched");
            gateway_admin::RecordingFiles::new(cfg.data_dir.clone(), None)
        });
        let api = gateway_admin::router(admin.clone()).layer(axum::Extension(files));
        async move {
            if let Err(e) = admin::serve(admin_listener, state, api).await {
                error!(error = %e, "admin listener stopped");
            }
        }
    });

    let (store_tx, store_rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(crate::store_writer::run(store.clone(), store_rx));

    let port = |k| transports.local_addr(k).map(|a: SocketAddr| a.port());
    let ecfg = EngineConfig {
        advertised_ip: cfg.advertised_ip(),
        udp_port: port(TransportKind::Udp),
        tcp_port: port(TransportKind::Tcp),
        tls_port: port(TransportKind::Tls),
        realm: cfg.realm.clone(),
        limits: RegistrarLimits {
            min_expires: cfg.min_expires,
            max_expires: cfg.max_expires,
            default_expires: cfg.default_expires,
        },
        qualify_interval: Duration::from_secs(cfg.qualify_interval_secs),
        ring_timeout: Duration::from_secs(cfg.ring_timeout_secs),
        nonce_lifetime_secs: cfg.nonce_lifetime_secs,
        digest_algorithms: cfg
            .digest_algorithms
            .iter()
            .filter_map(|a| gateway_sip::auth::Algorithm::parse(a))
            .collect(),
    };
    let now = Instant::now();
    let mut engine = Engine::new(
        ecfg,
        dialplan,
        media.clone(),
        store_tx,
        metrics.clone(),
        now,
    );
    engine.sdes_without_tls = cfg.sdes_without_tls;
    engine.set_recordings_dir(cfg.data_dir.join("recordings"));
    let mut dtmf = engine.take_dtmf_events().expect("taken once, here");
    engine.vetting_mut().replace(vetting_snapshot);
    for e in engine.registrar_mut().set_fixed(&routing.fixed, now) {
        warn!("{e}: the room is not reachable at it");
    }
    engine
        .vetting_mut()
        .set_observer(spawn_device_observer(admin.clone()));
    let restored = crate::persist::restore_bindings(&store, engine.registrar_mut(), now).await;
    match restored {
        Ok(n) => info!(bindings = n, "registrations restored from the database"),
        Err(e) => warn!(error = %e, "could not restore registrations"),
    }

    engine.set_h323_options(crate::h323::H323Options::from_config(&cfg));
    let (mut h323_net, mut h323_rx) = match crate::h323::net::start_configured(&cfg, &mut engine)
        .await
        .map_err(RunError::H323)?
    {
        Some((net, rx)) => (Some(net), Some(rx)),
        None => (None, None),
    };

    // WHIP/WHEP web listener (issue 7): None when web_listen is off.
    let mut webrtc_rx = match crate::webrtc::start(&cfg).await.map_err(RunError::Web)? {
        Some((addr, rx)) => {
            info!(web = %addr, "web listener bound");
            Some(rx)
        }
        None => None,
    };
    let udp_local = transports.local_addr(TransportKind::Udp);
    info!(
        sip_udp = ?udp_local,
        sip_tcp = ?transports.local_addr(TransportKind::Tcp),
        sip_tls = ?transports.local_addr(TransportKind::Tls),
        admin = ?admin_addr,
        rtp_ports = %cfg.rtp_ports,
        db = %redact_url(&cfg.db_url()),
        "gateway running"
    );
    admin_state.ready.store(true, Ordering::Release);

    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut reload = reload_signal();
    let (reload_tx, mut reloaded) = spawn_reloader(cfg.clone(), store.clone(), admin.clone(), base);
    let mut vetting_open = true;
    let far = Duration::from_secs(3600);
    loop {
        let deadline = engine
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + far);
        tokio::select! {
            biased;
            _ = &mut shutdown => {
                info!("shutting down");
                // URQ to an outside gatekeeper we are registered with
                engine.h323_shutdown();
                crate::h323::net::flush(&mut engine, h323_net.as_mut());
                break;
            }
            Some(()) = reload.recv() => {
                // SIGHUP: re-read the dialplan (the --dialplan file if one was
                // given, else the stored version, e.g. after `dialplan import`).
                let _ = reload_tx.try_send(ReloadRequest::Signal);
            }
            change = dialplan_changes.recv(), if dialplan_open => {
                if matches!(change, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    dialplan_open = false;
                } else {
                    // A version applied or restored through the API: run the
                    // stored one (not the --dialplan file, which would undo it
                    // until the next SIGHUP).
                    let _ = reload_tx.try_send(ReloadRequest::StoredVersion(change.ok()));
                }
            }
            change = endpoint_changes.recv(), if endpoints_open => {
                match change {
                    // An endpoint created, changed or deleted through the
                    // API (or a burst of them, when lagging): rebuild the
                    // routing dialplan from the registry.
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let _ = reload_tx.try_send(ReloadRequest::Registry);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => endpoints_open = false,
                }
            }
            Some(done) = reloaded.recv() => {
                // Parsed, imported, adopted and overlaid off this loop: only
                // the swap happens here, between two messages. Calls in
                // progress keep the dialplan they were routed with.
                match done.vetting {
                    Some(VettingUpdate::Replace(snapshot)) => engine.vetting_mut().replace(snapshot),
                    Some(VettingUpdate::AddMissing(snapshot)) => engine.vetting_mut().add_missing(snapshot),
                    None => {}
                }
                for e in engine.registrar_mut().set_fixed(&done.fixed, Instant::now()) {
                    warn!("{e}: the room is not reachable at it");
                }
                engine.set_dialplan(done.dialplan);
            }
            change = vetting_changes.recv(), if vetting_open => match change {
                Ok(c) => {
                    info!(endpoint = %c.endpoint_id, state = c.state.as_str(), "vetting changed");
                    engine.vetting_mut().apply(c);
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    warn!(missed = n, "vetting changes came too fast: reloading the snapshot");
                    match admin.vetting_snapshot().await {
                        Ok(s) => engine.vetting_mut().replace(s),
                        Err(e) => error!(error = %e, "vetting snapshot not reloaded"),
                    }
                }
                // Cannot happen while the runtime holds `admin`; never spin on it.
                Err(tokio::sync::broadcast::error::RecvError::Closed) => vetting_open = false,
            },
            Some(d) = dtmf.recv() => engine.on_in_band_dtmf(Instant::now(), d),
            Some(m) = async { webrtc_rx.as_mut()?.recv().await }, if webrtc_rx.is_some() => {
                engine.webrtc_input(Instant::now(), m);
            }
            Some(ev) = crate::h323::net::next_event(&mut h323_rx) => {
                if let Some(input) = h323_net.as_mut().and_then(|n| n.on_event(ev)) {
                    engine.h323_input(Instant::now(), input);
                }
            }
            msg = inbound.recv() => {
                let Some(first) = msg else { break };
                let now = Instant::now();
                engine.handle_inbound(now, &first.data, peer_of(&first));
                // Take what else is queued before flushing, bounded so timers
                // are never starved.
                for _ in 0..64 {
                    match inbound.try_recv() {
                        Ok(m) => engine.handle_inbound(now, &m.data, peer_of(&m)),
                        Err(_) => break,
                    }
                }
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                engine.handle_timeout(Instant::now());
            }
        }
        flush(&mut engine, &transports, udp_local);
        crate::h323::net::flush(&mut engine, h323_net.as_mut());
    }
    admin_state.ready.store(false, Ordering::Release);
    transports.shutdown();
    drop(engine);
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
    Ok(())
}

/// A TLS listener without a configured certificate gets a self-signed one,
/// made once and kept in the data directory, so `--tls-listen` works out of
/// the box. Peers that verify certificates need a real one (tls_cert/tls_key).
fn self_signed_identity(
    cfg: &Config,
) -> Result<(std::path::PathBuf, std::path::PathBuf), RunError> {
    let dir = cfg.data_dir.join("tls");
    let cert = dir.join("self-signed-cert.pem");
    let key = dir.join("self-signed-key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let io = |source| RunError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let mut names = vec!["localhost".to_string()];
    names.push(cfg.advertised_ip().to_string());
    let made = rcgen::generate_simple_self_signed(names).map_err(|e| {
        RunError::Config(crate::config::ConfigError::Invalid(format!(
            "cannot make a TLS certificate: {e}"
        )))
    })?;
    std::fs::write(&cert, made.cert.pem()).map_err(io)?;
    write_private(&key, made.key_pair.serialize_pem().as_bytes()).map_err(io)?;
    warn!(cert = %cert.display(), "no tls_cert configured: using a self-signed certificate");
    Ok((cert, key))
}

fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(data)
}

fn peer_of(m: &gateway_transport::Inbound) -> PeerAddr {
    PeerAddr {
        transport: transport_of(m.kind),
        addr: m.source,
        conn: m.conn,
    }
}

fn kind_of(t: Transport) -> TransportKind {
    match t {
        Transport::Udp => TransportKind::Udp,
        Transport::Tcp => TransportKind::Tcp,
        Transport::Tls => TransportKind::Tls,
    }
}

/// Put everything the engine wants sent on the wire.
fn flush(engine: &mut Engine, transports: &Transports, udp_local: Option<SocketAddr>) {
    while let Some(t) = engine.transmit() {
        let mut out = Outbound::new(kind_of(t.to.transport), t.to.addr, t.bytes);
        if let Some(c) = t.to.conn {
            out = out.on_conn(c);
        }
        if let (Transport::Udp, Some(l)) = (t.to.transport, udp_local) {
            out = out.from_local(l);
        }
        match transports.send(out) {
            Ok(_) => {}
            // A datagram that finds the send queue full is as good as lost
            // on the wire: the transaction's retransmissions recover it.
            Err(
                e @ gateway_transport::TransportError::QueueFull {
                    kind: TransportKind::Udp,
                    ..
                },
            ) => {
                debug!(target: "transport", dest = %t.to.addr, error = %e, "datagram dropped");
            }
            Err(e) => {
                warn!(target: "transport", dest = %t.to.addr, error = %e, "send failed");
                if let Some(id) = t.tx {
                    engine.transport_failed(Instant::now(), id as TxId);
                }
            }
        }
    }
}

fn redact_url(url: &str) -> String {
    // postgres://user:password@host/db → postgres://user:***@host/db
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Why the dialplan is read again.
#[derive(Debug)]
enum ReloadRequest {
    /// SIGHUP: the `--dialplan` file, else the stored version.
    Signal,
    /// A version applied or restored through the API (its number).
    StoredVersion(Option<i64>),
    /// Endpoints changed in the admin registry: the same version, the
    /// registry's endpoints read again.
    Registry,
}

/// How the engine's vetting gate takes the snapshot read with a reload.
enum VettingUpdate {
    /// After adoption (SIGHUP, a new version): the whole snapshot.
    Replace(std::collections::HashMap<String, gateway_admin::VettingEntry>),
    /// After a registry change: only endpoints the gate does not know, so
    /// changes announced while the rebuild ran are not undone.
    AddMissing(std::collections::HashMap<String, gateway_admin::VettingEntry>),
}

/// A dialplan ready to swap in, with the vetting snapshot read with it
/// (`None` when the admin registry could not be read) and the registry's
/// fixed addresses.
struct Reloaded {
    dialplan: Arc<Dialplan>,
    vetting: Option<VettingUpdate>,
    fixed: Vec<(String, String)>,
}

/// Reloads run on their own task, one at a time: parsing, importing and
/// adopting a city-sized dialplan takes seconds (the routing bench's
/// 10,000 endpoints and 100,000 rules held the loop 12-21 s), and the
/// engine loop must keep serving SIP and H.323 meanwhile (calls in progress
/// keep the snapshot they started with either way). Requests that arrive
/// while one runs are coalesced into one more run. The parsed version is
/// kept here, so a registry change only overlays the registry again.
fn spawn_reloader(
    cfg: Config,
    store: Store,
    admin: Admin,
    base: Arc<Dialplan>,
) -> (mpsc::Sender<ReloadRequest>, mpsc::Receiver<Reloaded>) {
    let (req_tx, mut req_rx) = mpsc::channel::<ReloadRequest>(4);
    let (done_tx, done_rx) = mpsc::channel::<Reloaded>(1);
    tokio::spawn(async move {
        let mut base = base;
        while let Some(first) = req_rx.recv().await {
            // The last request that reads the dialplan decides what to read;
            // a registry change is covered by any of them.
            let mut req = first;
            while let Ok(next) = req_rx.try_recv() {
                if !matches!(next, ReloadRequest::Registry)
                    || matches!(req, ReloadRequest::Registry)
                {
                    req = next;
                }
            }
            let Some((done, new_base)) = reload_once(&cfg, &store, &admin, &base, req).await else {
                continue;
            };
            base = new_base;
            if done_tx.send(done).await.is_err() {
                break;
            }
        }
    });
    (req_tx, done_rx)
}

async fn reload_once(
    cfg: &Config,
    store: &Store,
    admin: &Admin,
    base: &Arc<Dialplan>,
    req: ReloadRequest,
) -> Option<(Reloaded, Arc<Dialplan>)> {
    let started = std::time::Instant::now();
    let loaded = match &req {
        ReloadRequest::Signal => load_dialplan(cfg, store).await,
        ReloadRequest::StoredVersion(_) => match store.load_dialplan().await {
            Ok(Some(dp)) => Ok(dp),
            Ok(None) => {
                warn!("dialplan change announced but no version stored");
                return None;
            }
            Err(e) => Err(RunError::Store(e.to_string())),
        },
        ReloadRequest::Registry => {
            return registry_reload(cfg, admin, base, started).await;
        }
    };
    let dp = match loaded {
        Ok(dp) => dp,
        Err(e) => {
            error!(error = %e, "dialplan reload failed; the running dialplan stays in force");
            return None;
        }
    };
    // Also picks up vetting changes made on the database by another
    // process (the CLI).
    let vetting = match adopt_dialplan(cfg, admin, &dp).await {
        Ok(snapshot) => Some(VettingUpdate::Replace(snapshot)),
        Err(e) => {
            error!(error = %e, "admin registry not refreshed; the vetting snapshot stays as it was");
            None
        }
    };
    if let ReloadRequest::StoredVersion(Some(v)) = &req {
        info!(version = v, "dialplan version applied through the API");
    }
    let base = Arc::new(dp);
    let routing = match routing_dialplan(cfg, admin, &base).await {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "admin registry not read; the running dialplan stays in force");
            return None;
        }
    };
    info!(
        reason = ?req,
        endpoints = routing.dialplan.endpoints().len(),
        trunks = routing.dialplan.trunks().len(),
        rules = routing.dialplan.rules().len(),
        took_ms = started.elapsed().as_millis() as u64,
        "dialplan reloaded"
    );
    Some((
        Reloaded {
            dialplan: Arc::new(routing.dialplan),
            vetting,
            fixed: routing.fixed,
        },
        base,
    ))
}

/// A registry change: the running version again, with the registry's
/// endpoints read anew.
async fn registry_reload(
    cfg: &Config,
    admin: &Admin,
    base: &Arc<Dialplan>,
    started: std::time::Instant,
) -> Option<(Reloaded, Arc<Dialplan>)> {
    let vetting = match admin.vetting_snapshot().await {
        Ok(s) => Some(VettingUpdate::AddMissing(s)),
        Err(e) => {
            error!(error = %e, "vetting snapshot not read");
            None
        }
    };
    let routing = match routing_dialplan(cfg, admin, base).await {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "admin registry not read; the running dialplan stays in force");
            return None;
        }
    };
    info!(
        endpoints = routing.dialplan.endpoints().len(),
        took_ms = started.elapsed().as_millis() as u64,
        "registry endpoints changed: routing dialplan swapped"
    );
    Some((
        Reloaded {
            dialplan: Arc::new(routing.dialplan),
            vetting,
            fixed: routing.fixed,
        },
        base.clone(),
    ))
}

/// SIGHUP deliveries (never fires where there are no Unix signals).
fn reload_signal() -> tokio::sync::mpsc::Receiver<()> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let _ = tx.try_send(());
            }
        });
    }
    #[cfg(not(unix))]
    drop(tx);
    rx
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_passwords_are_not_logged() {
        assert_eq!(
            super::redact_url("postgres://gw:secret@127.0.0.1:5432/gw"),
            "postgres://gw:***@127.0.0.1:5432/gw"
        );
        assert_eq!(
            super::redact_url("sqlite://data/gateway.db"),
            "sqlite://data/gateway.db"
        );
    }
}

#[cfg(test)]
#[path = "registry_engine_tests.rs"]
mod registry_engine_tests;

//! The web listener: WHIP (RFC 9725) `POST /whip/{number}` and WHEP
//! `POST /whep/{number}`, `DELETE` and `PATCH` (trickle ICE, RFC 8840) on
//! the session URL the 201 names. HTTPS with the configured certificate or
//! a self-signed one; plain HTTP when `web_plain_http` (behind a proxy).
//!
//! Refusals carry an RFC 9457 problem body that says why.

use super::leg::{self, LegTask};
use super::{LegControl, WebrtcJoin, WebrtcToEngine};
use axum::body::Bytes;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use axum::serve::IncomingStream;
use axum::Router;
use gateway_webrtc::whip::{parse_trickle_fragment, problem_json};
use gateway_webrtc::{LegMode, WebrtcLeg, MAX_OFFER_BYTES};
use rand::RngCore;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

/// A live session as the HTTP side knows it (DELETE and PATCH find it
/// here; packets never do).
pub(crate) struct SessionEntry {
    pub number: String,
    pub mode: LegMode,
    pub etag: String,
    /// The offer's `a=ice-ufrag`: a PATCH with another asks for an ICE
    /// restart, which this leg does not do yet.
    pub remote_ufrag: Option<String>,
    pub control: mpsc::UnboundedSender<LegControl>,
}

pub(crate) struct WebState {
    engine: mpsc::Sender<WebrtcToEngine>,
    /// The IP the ICE sockets bind to.
    bind_ip: IpAddr,
    /// The IP in our host candidates.
    candidate_ip: IpAddr,
    pub(crate) sessions: Mutex<HashMap<String, SessionEntry>>,
}

/// The HTTP client's address, on plain and TLS connections alike.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WebPeer(pub SocketAddr);

impl Connected<IncomingStream<'_, TcpListener>> for WebPeer {
    fn connect_info(s: IncomingStream<'_, TcpListener>) -> Self {
        WebPeer(*s.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for WebPeer {
    fn connect_info(s: IncomingStream<'_, TlsListener>) -> Self {
        WebPeer(*s.remote_addr())
    }
}

/// Sessions at once per listener: each holds two sockets and a task.
const MAX_SESSIONS: usize = 1024;
/// How long the engine may take to admit a leg before the client is told
/// to come back (it is one loop shared with SIP and H.323).
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);

fn problem(status: u16, detail: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let title = code.canonical_reason().unwrap_or("Error");
    (
        code,
        [(header::CONTENT_TYPE, "application/problem+json")],
        problem_json(code.as_u16(), title, detail),
    )
        .into_response()
}

fn content_type_is(headers: &HeaderMap, want: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(want))
}

pub(crate) fn router(state: Arc<WebState>) -> Router {
    Router::new()
        .route("/whip/{number}", post(whip_post))
        .route("/whep/{number}", post(whep_post))
        .route(
            "/whip/{number}/{session}",
            patch(session_patch).delete(session_delete),
        )
        .route(
            "/whep/{number}/{session}",
            patch(session_patch).delete(session_delete),
        )
        .layer(DefaultBodyLimit::max(MAX_OFFER_BYTES))
        .with_state(state)
}

async fn whip_post(
    State(st): State<Arc<WebState>>,
    ConnectInfo(WebPeer(remote)): ConnectInfo<WebPeer>,
    Path(number): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create_session(st, remote, number, LegMode::Publish, headers, body).await
}

async fn whep_post(
    State(st): State<Arc<WebState>>,
    ConnectInfo(WebPeer(remote)): ConnectInfo<WebPeer>,
    Path(number): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create_session(st, remote, number, LegMode::Subscribe, headers, body).await
}

fn offer_ufrag(offer: &str) -> Option<String> {
    offer
        .lines()
        .find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:"))
        .map(str::to_string)
}

async fn create_session(
    st: Arc<WebState>,
    remote: SocketAddr,
    number: String,
    mode: LegMode,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let kind = mode.as_str();
    if !content_type_is(&headers, "application/sdp") {
        return problem(
            415,
            "The offer must be sent as Content-Type: application/sdp",
        );
    }
    let Ok(offer) = std::str::from_utf8(&body) else {
        return problem(400, "The offer is not UTF-8 text");
    };
    if st.sessions.lock().map(|s| s.len()).unwrap_or(0) >= MAX_SESSIONS {
        return problem(503, "Too many WebRTC sessions on this gateway");
    }
    let ice = match UdpSocket::bind(SocketAddr::new(st.bind_ip, 0)).await {
        Ok(s) => s,
        Err(e) => {
            warn!(%remote, error = %e, "no UDP socket for a WebRTC leg");
            return problem(503, "No media port available");
        }
    };
    let Ok(ice_port) = ice.local_addr().map(|a| a.port()) else {
        return problem(503, "No media port available");
    };
    let candidate = SocketAddr::new(st.candidate_ip, ice_port);
    let (webrtc, answer) = match WebrtcLeg::accept(Instant::now(), mode, offer, candidate) {
        Ok(x) => x,
        Err(e) => {
            info!(kind, meeting = %number, %remote, error = %e, "WebRTC offer refused");
            return problem(e.http_status(), &e.to_string());
        }
    };
    let media = match UdpSocket::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).await {
        Ok(s) => s,
        Err(e) => {
            warn!(%remote, error = %e, "no loopback socket for a WebRTC leg");
            return problem(503, "No media port available");
        }
    };
    let Ok(media_addr) = media.local_addr() else {
        return problem(503, "No media port available");
    };
    let session = {
        let mut b = [0u8; 12];
        rand::rng().fill_bytes(&mut b);
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    };
    let (control, control_rx) = mpsc::unbounded_channel();
    let (reply, answer_rx) = oneshot::channel();
    let join = WebrtcJoin {
        number: number.clone(),
        mode,
        session: session.clone(),
        remote,
        media: media_addr,
        control: control.clone(),
    };
    if st
        .engine
        .send(WebrtcToEngine::Join { join, reply })
        .await
        .is_err()
    {
        return problem(503, "The gateway is shutting down");
    }
    let joined = match tokio::time::timeout(JOIN_TIMEOUT, answer_rx).await {
        Ok(Ok(Ok(j))) => j,
        Ok(Ok(Err(refused))) => {
            info!(kind, session = %session, meeting = %number, %remote, status = refused.status, reason = %refused.detail, "WebRTC leg refused");
            return problem(refused.status, &refused.detail);
        }
        // The engine dropped the request (shutting down) or is too busy;
        // a join that lands later is ended when the leg task never starts.
        _ => {
            let _ = control.send(LegControl::Delete);
            return problem(503, "The gateway did not answer in time; try again");
        }
    };
    let etag = format!("\"{session}\"");
    let location = format!("/{kind}/{number}/{session}");
    if let Ok(mut s) = st.sessions.lock() {
        s.insert(
            session.clone(),
            SessionEntry {
                number: number.clone(),
                mode,
                etag: etag.clone(),
                remote_ufrag: offer_ufrag(offer),
                control,
            },
        );
    }
    info!(kind, session = %session, meeting = %number, %remote, candidate = %candidate, "WebRTC session created");
    tokio::spawn(leg::run(LegTask {
        session,
        number,
        remote,
        webrtc,
        ice,
        media,
        meeting_rtp: joined.meeting_rtp,
        leg: joined.leg,
        control: control_rx,
        engine: st.engine.clone(),
        web: st.clone(),
    }));
    let mut resp = (StatusCode::CREATED, answer).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/sdp"),
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

/// The session named by the URL, if it belongs to that meeting and kind.
fn find<'a>(
    sessions: &'a HashMap<String, SessionEntry>,
    number: &str,
    session: &str,
) -> Option<&'a SessionEntry> {
    sessions.get(session).filter(|e| e.number == number)
}

async fn session_delete(
    State(st): State<Arc<WebState>>,
    Path((number, session)): Path<(String, String)>,
) -> Response {
    let entry = st.sessions.lock().ok().and_then(|mut s| {
        if find(&s, &number, &session).is_some() {
            s.remove(&session)
        } else {
            None
        }
    });
    match entry {
        Some(e) => {
            info!(kind = e.mode.as_str(), session = %session, meeting = %number, "WebRTC session DELETE");
            let _ = e.control.send(LegControl::Delete);
            StatusCode::OK.into_response()
        }
        None => problem(404, "No such session"),
    }
}

async fn session_patch(
    State(st): State<Arc<WebState>>,
    Path((number, session)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !content_type_is(&headers, "application/trickle-ice-sdpfrag") {
        return problem(
            415,
            "Trickle ICE needs Content-Type: application/trickle-ice-sdpfrag",
        );
    }
    let (control, etag, ufrag) = {
        let Ok(s) = st.sessions.lock() else {
            return problem(503, "Session table unavailable");
        };
        match find(&s, &number, &session) {
            Some(e) => (e.control.clone(), e.etag.clone(), e.remote_ufrag.clone()),
            None => return problem(404, "No such session"),
        }
    };
    if let Some(m) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        if m.trim() != "*" && m.trim() != etag {
            return problem(412, "If-Match does not name this session's ETag");
        }
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return problem(400, "The fragment is not UTF-8 text");
    };
    let frag = match parse_trickle_fragment(text) {
        Ok(f) => f,
        Err(e) => return problem(400, &e.to_string()),
    };
    if let (Some(new), Some(old)) = (&frag.ufrag, &ufrag) {
        if new != old {
            return problem(
                422,
                "ICE restarts are not supported yet: DELETE the session and POST a new offer",
            );
        }
    }
    debug!(session = %session, candidates = frag.candidates.len(), "trickled ICE candidates");
    if !frag.candidates.is_empty()
        && control
            .send(LegControl::Candidates(frag.candidates))
            .is_err()
    {
        return problem(404, "The session has ended");
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SpawnError {
    #[error("web listener: {0}")]
    Bind(std::io::Error),
    #[error("web listener: {0}")]
    Tls(String),
}

/// Binds the listener and serves it on its own task. Returns the bound
/// address (a port 0 in the configuration becomes the real one).
pub(crate) async fn spawn(
    cfg: &crate::config::Config,
    addr: SocketAddr,
    engine: mpsc::Sender<WebrtcToEngine>,
) -> Result<SocketAddr, SpawnError> {
    let candidate_ip = match cfg.webrtc_public_ip {
        Some(ip) => ip,
        None if addr.ip().is_unspecified() => cfg.advertised_ip(),
        None => addr.ip(),
    };
    if candidate_ip.is_loopback() && !addr.ip().is_loopback() {
        // Every browser not on this host would be told to send media to itself.
        warn!(web = %addr, candidate_ip = %candidate_ip, "WebRTC host candidates name a loopback address: set webrtc_public_ip (or advertised_ip)");
    }
    let state = Arc::new(WebState {
        engine,
        bind_ip: addr.ip(),
        candidate_ip,
        sessions: Mutex::new(HashMap::new()),
    });
    let tcp = TcpListener::bind(addr).await.map_err(SpawnError::Bind)?;
    let bound = tcp.local_addr().map_err(SpawnError::Bind)?;
    let app = router(state).into_make_service_with_connect_info::<WebPeer>();
    if cfg.web_plain_http {
        info!(web = %bound, candidate_ip = %candidate_ip, "web listener (plain HTTP: behind a TLS proxy only) serves WHIP and WHEP");
        tokio::spawn(async move {
            if let Err(e) = axum::serve(tcp, app).await {
                warn!(error = %e, "web listener stopped");
            }
        });
    } else {
        let acceptor = tls_acceptor(cfg).await.map_err(SpawnError::Tls)?;
        info!(web = %bound, candidate_ip = %candidate_ip, "web listener (HTTPS) serves WHIP and WHEP");
        let listener = TlsListener::start(tcp, acceptor);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                warn!(error = %e, "web listener stopped");
            }
        });
    }
    Ok(bound)
}

/// The certificate: `tls_cert`/`tls_key`, else a self-signed one kept in
/// the data directory (the same files the SIP TLS listener makes).
async fn tls_acceptor(cfg: &crate::config::Config) -> Result<tokio_rustls::TlsAcceptor, String> {
    let (cert, key) = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => self_signed(cfg)?,
    };
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let cert_pem = read(&cert)?;
    let key_pem = read(&key)?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: invalid PEM: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no CERTIFICATE block found", cert.display()));
    }
    let key_der = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| format!("{}: invalid PEM: {e}", key.display()))?
        .ok_or_else(|| format!("{}: no PRIVATE KEY block found", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| format!("web listener certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

fn self_signed(cfg: &crate::config::Config) -> Result<(PathBuf, PathBuf), String> {
    let dir = cfg.data_dir.join("tls");
    let cert = dir.join("self-signed-cert.pem");
    let key = dir.join("self-signed-key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let names = vec!["localhost".to_string(), cfg.advertised_ip().to_string()];
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot make a TLS certificate: {e}"))?;
    std::fs::write(&cert, made.cert.pem()).map_err(|e| format!("{}: {e}", cert.display()))?;
    write_private(&key, made.key_pair.serialize_pem().as_bytes())
        .map_err(|e| format!("{}: {e}", key.display()))?;
    warn!(cert = %cert.display(), "no tls_cert configured: the web listener uses a self-signed certificate");
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

/// Accepted TLS connections for axum: handshakes run on their own tasks
/// (a slow or silent client must not hold up the next accept) and finished
/// ones queue here.
struct TlsListener {
    rx: mpsc::Receiver<(
        tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
        SocketAddr,
    )>,
    local: SocketAddr,
}

/// A TLS handshake that takes longer is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TlsListener {
    fn start(tcp: TcpListener, acceptor: tokio_rustls::TlsAcceptor) -> TlsListener {
        let local = tcp
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        debug!(error = %e, "web accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let out = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = out.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => debug!(%peer, error = %e, "web TLS handshake failed"),
                        Err(_) => debug!(%peer, "web TLS handshake timed out"),
                    }
                });
                if tx.is_closed() {
                    break;
                }
            }
        });
        TlsListener { rx, local }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task only ends when this listener is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
pub(crate) fn test_state(engine: mpsc::Sender<WebrtcToEngine>, ip: IpAddr) -> Arc<WebState> {
    Arc::new(WebState {
        engine,
        bind_ip: ip,
        candidate_ip: ip,
        sessions: Mutex::new(HashMap::new()),
    })
}

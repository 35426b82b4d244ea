//! SIP transport layer: UDP, TCP and TLS sockets on tokio.
//!
//! [`Transports::start`] binds every configured listener and returns a handle
//! plus one channel on which every received message arrives as an
//! [`Inbound`]. Streams are framed into single SIP messages here (see
//! [`framer`]); RFC 5626 keep-alives are answered or dropped here and never
//! reach the caller. [`Transports::send`] never blocks: it queues onto a
//! bounded per-socket or per-connection queue and drops (counted) when full,
//! so one slow peer cannot hold up the others.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

pub mod framer;
mod metrics;
mod runtime;
mod tls;

pub use framer::{Frame, FramingError, StreamFramer};
pub use metrics::{KindMetrics, TransportMetrics};

/// Identifies one stream connection for as long as the process runs; ids
/// are never reused.
pub type ConnId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    Udp,
    Tcp,
    Tls,
}

impl TransportKind {
    /// The token used in Via headers and `transport=` URI parameters.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
        }
    }

    /// Stream transports frame messages and keep connections.
    pub fn is_stream(self) -> bool {
        !matches!(self, TransportKind::Udp)
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct TransportConfig {
    pub udp: Vec<SocketAddr>,
    pub tcp: Vec<SocketAddr>,
    pub tls: Vec<SocketAddr>,
    /// Server certificate chain (PEM); required when `tls` is not empty. When
    /// set it is also offered as client certificate on outbound TLS.
    pub tls_cert_pem: Option<PathBuf>,
    pub tls_key_pem: Option<PathBuf>,
    /// CA certificates (PEM) that outbound TLS trusts. Without it, outbound
    /// TLS verification fails unless `tls_accept_invalid_certs` is set.
    pub tls_ca_pem: Option<PathBuf>,
    /// Accept any server certificate on outbound TLS. Tests and labs only.
    pub tls_accept_invalid_certs: bool,
    /// A stream connection with no traffic in either direction for this long
    /// is closed. Clients' RFC 5626 pings count as traffic.
    pub tcp_idle_timeout: Duration,
    pub connect_timeout: Duration,
    /// A write stalled this long (peer not reading) closes the connection.
    pub write_timeout: Duration,
    /// Stream connections, inbound and outbound together.
    pub max_connections: usize,
    pub max_message_size: usize,
    /// Capacity of each connection's and each UDP socket's send queue.
    pub send_queue: usize,
    /// Capacity of the channel returned by [`Transports::start`].
    pub inbound_queue: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            udp: Vec::new(),
            tcp: Vec::new(),
            tls: Vec::new(),
            tls_cert_pem: None,
            tls_key_pem: None,
            tls_ca_pem: None,
            tls_accept_invalid_certs: false,
            tcp_idle_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            max_message_size: 64 * 1024,
            send_queue: 256,
            inbound_queue: 4096,
        }
    }
}

/// One received SIP message (streams) or datagram (UDP).
#[derive(Debug, Clone)]
pub struct Inbound {
    pub data: Bytes,
    pub source: SocketAddr,
    pub local: SocketAddr,
    pub kind: TransportKind,
    /// The stream connection it came on; `None` for UDP.
    pub conn: Option<ConnId>,
}

impl Inbound {
    /// An [`Outbound`] that answers on the same socket or connection.
    pub fn reply(&self, data: Bytes) -> Outbound {
        Outbound {
            kind: self.kind,
            dest: self.source,
            conn: self.conn,
            local: Some(self.local),
            server_name: None,
            data,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Outbound {
    pub kind: TransportKind,
    pub dest: SocketAddr,
    /// Preferred stream connection. If it is gone, a connection to `dest` is
    /// reused or opened.
    pub conn: Option<ConnId>,
    /// UDP: the local socket to send from (replies must leave from the
    /// socket the request arrived on). Ignored for streams.
    pub local: Option<SocketAddr>,
    /// TLS: the name the server certificate must match (RFC 5922: the SIP
    /// domain). Without it the certificate must carry `dest`'s IP address.
    pub server_name: Option<String>,
    pub data: Bytes,
}

impl Outbound {
    pub fn new(kind: TransportKind, dest: SocketAddr, data: impl Into<Bytes>) -> Self {
        Outbound {
            kind,
            dest,
            conn: None,
            local: None,
            server_name: None,
            data: data.into(),
        }
    }

    pub fn on_conn(mut self, conn: ConnId) -> Self {
        self.conn = Some(conn);
        self
    }

    pub fn from_local(mut self, local: SocketAddr) -> Self {
        self.local = Some(local);
        self
    }

    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot bind {kind} {addr}: {source}")]
    Bind {
        kind: TransportKind,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS file {}: {reason}", path.display())]
    TlsFile { path: PathBuf, reason: String },
    #[error("TLS configuration: {0}")]
    TlsConfig(String),
    #[error("TLS listeners configured but tls_cert_pem/tls_key_pem are not set")]
    TlsIdentityMissing,
    #[error("no {kind} socket to send to {dest} from")]
    NoSocket {
        kind: TransportKind,
        dest: SocketAddr,
    },
    #[error("message of {len} bytes exceeds the limit of {max}")]
    MessageTooLarge { len: usize, max: usize },
    #[error("send queue for {kind} {dest} is full; message dropped")]
    QueueFull {
        kind: TransportKind,
        dest: SocketAddr,
    },
    #[error("no open connection {0}")]
    NoConnection(ConnId),
    #[error("connection limit of {0} reached")]
    TooManyConnections(usize),
    #[error("transports are shut down")]
    Shutdown,
}

/// Cheap, cloneable handle to the running transports. When the last clone
/// is dropped the transports shut down, as with [`Transports::shutdown`].
#[derive(Clone)]
pub struct Transports {
    inner: Arc<runtime::Shared>,
    _owner: Arc<ShutdownOnDrop>,
}

/// The socket tasks hold `Shared` themselves, so dropping the handles alone
/// would leave them running; this guard stops them with the last handle.
struct ShutdownOnDrop(Arc<runtime::Shared>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

impl fmt::Debug for Transports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transports")
            .field("udp", &self.local_addrs(TransportKind::Udp))
            .field("tcp", &self.local_addrs(TransportKind::Tcp))
            .field("tls", &self.local_addrs(TransportKind::Tls))
            .finish()
    }
}

impl Transports {
    /// Binds every listener in `cfg` (port 0 picks a free port) and starts
    /// their tasks on the current tokio runtime.
    pub async fn start(
        cfg: TransportConfig,
    ) -> Result<(Transports, mpsc::Receiver<Inbound>), TransportError> {
        let (shared, rx) = runtime::Shared::start(cfg).await?;
        let owner = Arc::new(ShutdownOnDrop(shared.clone()));
        Ok((
            Transports {
                inner: shared,
                _owner: owner,
            },
            rx,
        ))
    }

    /// Queues `out` without waiting. Stream messages go to `out.conn`, else
    /// to an existing connection to `out.dest` (TLS: whatever name it was
    /// opened for), else to a new connection, whose failure to connect is
    /// only logged and counted. Returns the stream connection used (`None`
    /// for UDP), so that callers can pin a flow (RFC 5626) or ping it.
    pub fn send(&self, out: Outbound) -> Result<Option<ConnId>, TransportError> {
        self.inner.send(out)
    }

    /// Sends an RFC 5626 §4.4.1 CRLFCRLF ping on a stream connection. The
    /// receiver completes when a CRLF pong arrives and is dropped unanswered
    /// when the connection closes; the caller applies its own deadline
    /// (RFC 5626 suggests 10 s) and may then [`close`](Self::close) the flow.
    pub fn ping(&self, conn: ConnId) -> Result<oneshot::Receiver<()>, TransportError> {
        self.inner.ping(conn)
    }

    /// Closes a stream connection now, dropping anything still queued.
    /// Returns false if it was already gone.
    pub fn close(&self, conn: ConnId) -> bool {
        self.inner.close(conn)
    }

    /// The first bound address of `kind` (with the real port when 0 was
    /// configured).
    pub fn local_addr(&self, kind: TransportKind) -> Option<SocketAddr> {
        self.inner.local_addrs(kind).first().copied()
    }

    pub fn local_addrs(&self, kind: TransportKind) -> Vec<SocketAddr> {
        self.inner.local_addrs(kind)
    }

    /// The remote address of a live stream connection.
    pub fn connection_peer(&self, conn: ConnId) -> Option<SocketAddr> {
        self.inner.connection_peer(conn)
    }

    pub fn metrics(&self) -> TransportMetrics {
        self.inner.metrics.snapshot()
    }

    /// Stops the listeners and closes every connection. Sends fail afterwards;
    /// the inbound channel ends once the last connection task has finished.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }
}

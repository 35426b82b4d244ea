//! Sockets, tasks and the connection table behind [`crate::Transports`].
//!
//! Every stream connection has a read task (framing, keep-alive answers,
//! idle timeout) and a write task fed by a bounded queue. Either task can
//! close the connection through a watch flag; the connection leaves the
//! table as soon as its reader stops, so no new message is queued to it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;
use tokio::time::timeout;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tracing::{debug, warn};

use crate::framer::{Frame, StreamFramer};
use crate::metrics::Counters;
use crate::{tls, ConnId, Inbound, Outbound, TransportConfig, TransportError, TransportKind};

const READ_CHUNK: usize = 8 * 1024;
/// Largest UDP payload over IPv4/IPv6 without jumbograms.
const MAX_DATAGRAM: usize = 65_535;
/// Queued messages written before one flush, so that a burst becomes few
/// TLS records and TCP segments without starving the close signal.
const WRITE_BATCH: usize = 64;
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

type CloseFlag = Arc<watch::Sender<bool>>;

fn raise(flag: &CloseFlag) {
    flag.send_replace(true);
}

/// IPv4 peers reaching a dual-stack socket appear as `::ffff:a.b.c.d`;
/// keying and reporting them as plain IPv4 keeps reuse lookups consistent.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

async fn closed(rx: &mut watch::Receiver<bool>) {
    // An error means the flag's sender is gone, which also means "closed".
    let _ = rx.wait_for(|c| *c).await;
}

struct ConnEntry {
    kind: TransportKind,
    remote: SocketAddr,
    queue: mpsc::Sender<Bytes>,
    close: CloseFlag,
    keepalive: Arc<KeepAlive>,
}

/// Our own RFC 5626 pings on a connection, awaiting their pongs.
#[derive(Default)]
struct KeepAlive {
    outstanding: AtomicU32,
    waiters: Mutex<Vec<oneshot::Sender<()>>>,
}

impl KeepAlive {
    fn pong_received(&self) {
        // Answers are not matched to pings: one pong proves the flow alive
        // for everyone waiting.
        self.outstanding.store(0, Ordering::Relaxed);
        for w in lock(&self.waiters).drain(..) {
            let _ = w.send(());
        }
    }
}

#[derive(Default)]
struct ConnTable {
    by_id: HashMap<ConnId, ConnEntry>,
    /// The connection to reuse for a destination: the latest one registered.
    by_addr: HashMap<(TransportKind, SocketAddr), ConnId>,
}

/// What a new connection's tasks need, handed out by `register`.
struct NewConn {
    id: ConnId,
    queue_tx: mpsc::Sender<Bytes>,
    queue_rx: mpsc::Receiver<Bytes>,
    close: CloseFlag,
    keepalive: Arc<KeepAlive>,
}

struct UdpEndpoint {
    local: SocketAddr,
    sock: Arc<UdpSocket>,
    /// Used only when the socket buffer is full, and while it has anything
    /// queued (to keep order): most datagrams go out directly.
    queue: mpsc::Sender<(Bytes, SocketAddr)>,
}

pub(crate) struct Shared {
    pub(crate) metrics: Counters,
    cfg: TransportConfig,
    inbound: mpsc::Sender<Inbound>,
    conns: Mutex<ConnTable>,
    next_id: AtomicU64,
    udp: Vec<UdpEndpoint>,
    tcp_local: Vec<SocketAddr>,
    tls_local: Vec<SocketAddr>,
    tls_client: Arc<rustls::ClientConfig>,
    tasks: Mutex<Vec<AbortHandle>>,
    runtime: tokio::runtime::Handle,
    is_shut_down: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The table stays consistent even if a holder panicked mid-way: every
    // mutation is a single insert or remove.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// Peer finished sending: flush what is queued, then close.
    Graceful,
    /// Error, idle, or shutdown: drop everything now.
    Hard,
}

impl Shared {
    pub(crate) async fn start(
        mut cfg: TransportConfig,
    ) -> Result<(Arc<Shared>, mpsc::Receiver<Inbound>), TransportError> {
        cfg.send_queue = cfg.send_queue.max(1);
        cfg.inbound_queue = cfg.inbound_queue.max(1);
        cfg.max_message_size = cfg.max_message_size.max(1);

        let identity = tls::load_identity(&cfg).await?;
        let acceptor = match (&identity, cfg.tls.is_empty()) {
            (_, true) => None,
            (None, false) => return Err(TransportError::TlsIdentityMissing),
            (Some(id), false) => Some(TlsAcceptor::from(tls::server_config(id, &cfg)?)),
        };
        let tls_client = tls::client_config(identity.as_ref(), &cfg).await?;

        let bind_err = |kind, addr| move |source| TransportError::Bind { kind, addr, source };
        let mut udp_sockets = Vec::new();
        for &addr in &cfg.udp {
            let sock = UdpSocket::bind(addr)
                .await
                .map_err(bind_err(TransportKind::Udp, addr))?;
            let local = sock
                .local_addr()
                .map_err(bind_err(TransportKind::Udp, addr))?;
            udp_sockets.push((Arc::new(sock), local));
        }
        let mut listeners = Vec::new();
        for (kind, addrs) in [
            (TransportKind::Tcp, &cfg.tcp),
            (TransportKind::Tls, &cfg.tls),
        ] {
            for &addr in addrs {
                let l = TcpListener::bind(addr)
                    .await
                    .map_err(bind_err(kind, addr))?;
                let local = l.local_addr().map_err(bind_err(kind, addr))?;
                listeners.push((kind, l, local));
            }
        }

        let (inbound, inbound_rx) = mpsc::channel(cfg.inbound_queue);
        let mut udp = Vec::new();
        let mut udp_queues = Vec::new();
        for (sock, local) in &udp_sockets {
            let (tx, rx) = mpsc::channel(cfg.send_queue);
            udp.push(UdpEndpoint {
                local: *local,
                sock: sock.clone(),
                queue: tx,
            });
            udp_queues.push(rx);
        }
        let local_of = |k| {
            listeners
                .iter()
                .filter(|(kind, _, _)| *kind == k)
                .map(|(_, _, local)| *local)
                .collect()
        };
        let shared = Arc::new(Shared {
            metrics: Counters::default(),
            tcp_local: local_of(TransportKind::Tcp),
            tls_local: local_of(TransportKind::Tls),
            cfg,
            inbound,
            conns: Mutex::new(ConnTable::default()),
            next_id: AtomicU64::new(1),
            udp,
            tls_client,
            tasks: Mutex::new(Vec::new()),
            runtime: tokio::runtime::Handle::current(),
            is_shut_down: AtomicBool::new(false),
        });

        let mut tasks = Vec::new();
        for ((sock, local), queue) in udp_sockets.into_iter().zip(udp_queues) {
            tasks.push(
                tokio::spawn(udp_recv_loop(shared.clone(), sock.clone(), local)).abort_handle(),
            );
            tasks.push(tokio::spawn(udp_send_loop(shared.clone(), sock, queue)).abort_handle());
        }
        for (kind, listener, local) in listeners {
            let acc = if kind == TransportKind::Tls {
                acceptor.clone()
            } else {
                None
            };
            tasks.push(
                tokio::spawn(accept_loop(shared.clone(), listener, kind, local, acc))
                    .abort_handle(),
            );
        }
        *lock(&shared.tasks) = tasks;
        Ok((shared, inbound_rx))
    }

    pub(crate) fn local_addrs(&self, kind: TransportKind) -> Vec<SocketAddr> {
        match kind {
            TransportKind::Udp => self.udp.iter().map(|u| u.local).collect(),
            TransportKind::Tcp => self.tcp_local.clone(),
            TransportKind::Tls => self.tls_local.clone(),
        }
    }

    pub(crate) fn connection_peer(&self, id: ConnId) -> Option<SocketAddr> {
        lock(&self.conns).by_id.get(&id).map(|e| e.remote)
    }

    pub(crate) fn shutdown(&self) {
        self.is_shut_down.store(true, Ordering::SeqCst);
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
        for entry in lock(&self.conns).by_id.values() {
            raise(&entry.close);
        }
    }

    pub(crate) fn send(
        self: &Arc<Self>,
        mut out: Outbound,
    ) -> Result<Option<ConnId>, TransportError> {
        out.dest = canonical(out.dest);
        if self.is_shut_down.load(Ordering::SeqCst) {
            return Err(TransportError::Shutdown);
        }
        if out.data.len() > self.cfg.max_message_size {
            return Err(TransportError::MessageTooLarge {
                len: out.data.len(),
                max: self.cfg.max_message_size,
            });
        }
        match out.kind {
            TransportKind::Udp => self.send_udp(out).map(|()| None),
            TransportKind::Tcp | TransportKind::Tls => self.send_stream(out).map(Some),
        }
    }

    fn count_out(&self, kind: TransportKind, len: usize) {
        let c = self.metrics.kind(kind);
        Counters::inc(&c.messages_out);
        Counters::add(&c.bytes_out, len);
    }

    fn send_udp(&self, out: Outbound) -> Result<(), TransportError> {
        let same_family = |u: &&UdpEndpoint| u.local.is_ipv4() == out.dest.is_ipv4();
        let endpoint = out
            .local
            .and_then(|l| self.udp.iter().find(|u| u.local == l))
            .or_else(|| self.udp.iter().find(same_family))
            // A dual-stack [::] socket can still reach an IPv4 peer.
            .or_else(|| self.udp.first())
            .ok_or(TransportError::NoSocket {
                kind: TransportKind::Udp,
                dest: out.dest,
            })?;
        let len = out.data.len();
        // Fast path: straight onto the socket, without a task hop, unless
        // earlier datagrams are still queued behind a full socket buffer.
        if endpoint.queue.capacity() == endpoint.queue.max_capacity() {
            match endpoint.sock.try_send_to(&out.data, out.dest) {
                Ok(_) => {
                    self.count_out(TransportKind::Udp, len);
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    // Like a datagram lost on the way (ICMP errors included):
                    // retransmission timers recover, nothing is fatal here.
                    Counters::inc(&self.metrics.send_errors);
                    debug!(target: "transport", peer = %out.dest, error = %e, "UDP send failed");
                    return Ok(());
                }
            }
        }
        match endpoint.queue.try_send((out.data, out.dest)) {
            Ok(()) => {
                self.count_out(TransportKind::Udp, len);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                Counters::inc(&self.metrics.queue_full_drops);
                debug!(target: "transport", peer = %out.dest, "UDP send queue full, message dropped");
                Err(TransportError::QueueFull {
                    kind: TransportKind::Udp,
                    dest: out.dest,
                })
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(TransportError::Shutdown),
        }
    }

    fn send_stream(self: &Arc<Self>, out: Outbound) -> Result<ConnId, TransportError> {
        let kind = out.kind;
        let len = out.data.len();
        let mut table = lock(&self.conns);
        let existing = out
            .conn
            .filter(|id| table.by_id.get(id).is_some_and(|e| e.kind == kind))
            .or_else(|| table.by_addr.get(&(kind, out.dest)).copied());
        if let Some(id) = existing {
            if let Some(entry) = table.by_id.get(&id) {
                match entry.queue.try_send(out.data.clone()) {
                    Ok(()) => {
                        drop(table);
                        self.count_out(kind, len);
                        return Ok(id);
                    }
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        let remote = entry.remote;
                        drop(table);
                        Counters::inc(&self.metrics.queue_full_drops);
                        debug!(target: "transport", peer = %remote, %kind, conn = id, "send queue full, message dropped");
                        return Err(TransportError::QueueFull { kind, dest: remote });
                    }
                    // Its writer has stopped: forget it and connect afresh.
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        Self::remove_locked(&mut table, &self.metrics, id);
                    }
                }
            }
        }

        let new = self.register_locked(&mut table, kind, out.dest)?;
        let id = new.id;
        // A fresh queue has room for at least one message.
        let _ = new.queue_tx.try_send(out.data);
        drop(table);
        self.count_out(kind, len);
        self.runtime.spawn(connect_outbound(
            self.clone(),
            new,
            kind,
            out.dest,
            out.server_name,
        ));
        Ok(id)
    }

    pub(crate) fn ping(&self, id: ConnId) -> Result<oneshot::Receiver<()>, TransportError> {
        let table = lock(&self.conns);
        let entry = table
            .by_id
            .get(&id)
            .ok_or(TransportError::NoConnection(id))?;
        let (tx, rx) = oneshot::channel();
        // Register before sending so that a fast pong cannot be missed.
        lock(&entry.keepalive.waiters).push(tx);
        entry.keepalive.outstanding.fetch_add(1, Ordering::Relaxed);
        match entry.queue.try_send(Bytes::from_static(b"\r\n\r\n")) {
            Ok(()) => {
                Counters::inc(&self.metrics.keepalives_sent);
                Counters::add(&self.metrics.kind(entry.kind).bytes_out, 4);
                Ok(rx)
            }
            Err(_) => {
                Counters::inc(&self.metrics.queue_full_drops);
                Err(TransportError::QueueFull {
                    kind: entry.kind,
                    dest: entry.remote,
                })
            }
        }
    }

    pub(crate) fn close(&self, id: ConnId) -> bool {
        match lock(&self.conns).by_id.get(&id) {
            Some(entry) => {
                raise(&entry.close);
                true
            }
            None => false,
        }
    }

    fn register(&self, kind: TransportKind, remote: SocketAddr) -> Result<NewConn, TransportError> {
        let mut table = lock(&self.conns);
        self.register_locked(&mut table, kind, remote)
    }

    fn register_locked(
        &self,
        table: &mut ConnTable,
        kind: TransportKind,
        remote: SocketAddr,
    ) -> Result<NewConn, TransportError> {
        if table.by_id.len() >= self.cfg.max_connections {
            Counters::inc(&self.metrics.connections_refused);
            return Err(TransportError::TooManyConnections(self.cfg.max_connections));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (queue_tx, queue_rx) = mpsc::channel(self.cfg.send_queue);
        let (close, _) = watch::channel(false);
        let close = Arc::new(close);
        let keepalive = Arc::new(KeepAlive::default());
        table.by_id.insert(
            id,
            ConnEntry {
                kind,
                remote,
                queue: queue_tx.clone(),
                close: close.clone(),
                keepalive: keepalive.clone(),
            },
        );
        table.by_addr.insert((kind, remote), id);
        Counters::inc(&self.metrics.connections_open);
        Ok(NewConn {
            id,
            queue_tx,
            queue_rx,
            close,
            keepalive,
        })
    }

    fn remove_conn(&self, id: ConnId) {
        Self::remove_locked(&mut lock(&self.conns), &self.metrics, id);
    }

    fn remove_locked(table: &mut ConnTable, metrics: &Counters, id: ConnId) {
        if let Some(entry) = table.by_id.remove(&id) {
            let key = (entry.kind, entry.remote);
            if table.by_addr.get(&key) == Some(&id) {
                table.by_addr.remove(&key);
            }
            Counters::dec(&metrics.connections_open);
        }
    }
}

async fn udp_recv_loop(shared: Arc<Shared>, sock: Arc<UdpSocket>, local: SocketAddr) {
    let max = shared.cfg.max_message_size.min(MAX_DATAGRAM);
    // One byte more than allowed, so that an oversize datagram shows as a
    // full buffer instead of being silently truncated to a valid size.
    let mut buf = vec![0u8; max + 1];
    let counters = &shared.metrics.udp;
    loop {
        let (n, source) = match sock.recv_from(&mut buf).await {
            Ok((n, source)) => (n, canonical(source)),
            Err(e) => {
                // E.g. ICMP port unreachable reported on some platforms; the
                // socket itself is fine.
                debug!(target: "transport", %local, error = %e, "UDP receive error");
                tokio::task::yield_now().await;
                continue;
            }
        };
        Counters::add(&counters.bytes_in, n);
        if n > max {
            Counters::inc(&shared.metrics.oversize_drops);
            debug!(target: "transport", peer = %source, %local, "UDP datagram over {max} bytes dropped");
            continue;
        }
        let data = &buf[..n];
        if data == b"\r\n\r\n" || data == b"\r\n" {
            Counters::inc(&shared.metrics.udp_keepalives_dropped);
            continue;
        }
        Counters::inc(&counters.messages_in);
        let msg = Inbound {
            data: Bytes::copy_from_slice(data),
            source,
            local,
            kind: TransportKind::Udp,
            conn: None,
        };
        if shared.inbound.send(msg).await.is_err() {
            return;
        }
    }
}

async fn udp_send_loop(
    shared: Arc<Shared>,
    sock: Arc<UdpSocket>,
    mut queue: mpsc::Receiver<(Bytes, SocketAddr)>,
) {
    while let Some((data, dest)) = queue.recv().await {
        if let Err(e) = sock.send_to(&data, dest).await {
            Counters::inc(&shared.metrics.send_errors);
            debug!(target: "transport", peer = %dest, error = %e, "UDP send failed");
        }
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    kind: TransportKind,
    local: SocketAddr,
    acceptor: Option<TlsAcceptor>,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok((tcp, peer)) => (tcp, canonical(peer)),
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                warn!(target: "transport", %kind, %local, error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        let new = match shared.register(kind, peer) {
            Ok(n) => n,
            Err(e) => {
                // Counted; debug only, so that a connection flood cannot
                // also flood the log.
                debug!(target: "transport", peer = %peer, %kind, error = %e, "connection refused");
                continue;
            }
        };
        Counters::inc(&shared.metrics.connections_accepted);
        debug!(target: "transport", peer = %peer, %kind, conn = new.id, "accepted");
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().unwrap_or(local);
        let shared = shared.clone();
        match &acceptor {
            None => {
                tokio::spawn(run_connection(shared, new, kind, peer, local, tcp));
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let mut close_rx = new.close.subscribe();
                    let handshake = timeout(shared.cfg.connect_timeout, acceptor.accept(tcp));
                    let res = tokio::select! {
                        r = handshake => r,
                        _ = closed(&mut close_rx) => {
                            shared.remove_conn(new.id);
                            return;
                        }
                    };
                    match res {
                        Ok(Ok(stream)) => {
                            run_connection(shared, new, kind, peer, local, stream).await
                        }
                        Ok(Err(e)) => {
                            Counters::inc(&shared.metrics.tls_handshake_failures);
                            warn!(target: "transport", peer = %peer, error = %e, "TLS handshake failed");
                            shared.remove_conn(new.id);
                        }
                        Err(_) => {
                            Counters::inc(&shared.metrics.tls_handshake_failures);
                            warn!(target: "transport", peer = %peer, "TLS handshake timed out");
                            shared.remove_conn(new.id);
                        }
                    }
                });
            }
        }
    }
}

async fn connect_outbound(
    shared: Arc<Shared>,
    new: NewConn,
    kind: TransportKind,
    dest: SocketAddr,
    server_name: Option<String>,
) {
    let mut close_rx = new.close.subscribe();
    let attempt = async {
        let tcp = timeout(shared.cfg.connect_timeout, TcpStream::connect(dest))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| format!("connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let local = tcp
            .local_addr()
            .map_err(|e| format!("local address: {e}"))?;
        if kind != TransportKind::Tls {
            return Ok((local, MaybeTls::Plain(tcp)));
        }
        let name = match &server_name {
            Some(n) => ServerName::try_from(n.clone())
                .map_err(|e| format!("invalid TLS server name {n:?}: {e}"))?,
            None => ServerName::IpAddress(dest.ip().into()),
        };
        let connector = TlsConnector::from(shared.tls_client.clone());
        let stream = timeout(shared.cfg.connect_timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| "TLS handshake timed out".to_string())?
            .map_err(|e| {
                Counters::inc(&shared.metrics.tls_handshake_failures);
                format!("TLS handshake: {e}")
            })?;
        Ok::<_, String>((local, MaybeTls::Tls(Box::new(stream))))
    };
    let res = tokio::select! {
        r = attempt => r,
        _ = closed(&mut close_rx) => {
            shared.remove_conn(new.id);
            return;
        }
    };
    match res {
        Ok((local, stream)) => {
            Counters::inc(&shared.metrics.connections_opened_outbound);
            debug!(target: "transport", peer = %dest, %kind, conn = new.id, "connected");
            match stream {
                MaybeTls::Plain(s) => run_connection(shared, new, kind, dest, local, s).await,
                MaybeTls::Tls(s) => run_connection(shared, new, kind, dest, local, *s).await,
            }
        }
        Err(e) => {
            Counters::inc(&shared.metrics.connect_failures);
            warn!(target: "transport", peer = %dest, %kind, error = %e, "outbound connection failed; queued messages dropped");
            shared.remove_conn(new.id);
        }
    }
}

enum MaybeTls {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

async fn run_connection<S>(
    shared: Arc<Shared>,
    new: NewConn,
    kind: TransportKind,
    remote: SocketAddr,
    local: SocketAddr,
    stream: S,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let NewConn {
        id,
        queue_tx,
        queue_rx,
        close,
        keepalive,
    } = new;
    let (rd, wr) = tokio::io::split(stream);
    let activity = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(write_loop(
        shared.clone(),
        kind,
        remote,
        wr,
        queue_rx,
        close.clone(),
        activity.clone(),
    ));
    let ctx = ReadCtx {
        shared: &shared,
        id,
        kind,
        remote,
        local,
        keepalive: &keepalive,
    };
    let how = read_loop(ctx, rd, queue_tx, close.subscribe(), &activity).await;
    shared.remove_conn(id);
    if how == Close::Hard {
        raise(&close);
    }
    let _ = writer.await;
    debug!(target: "transport", peer = %remote, %kind, conn = id, "closed");
}

struct ReadCtx<'a> {
    shared: &'a Shared,
    id: ConnId,
    kind: TransportKind,
    remote: SocketAddr,
    local: SocketAddr,
    keepalive: &'a KeepAlive,
}

async fn read_loop<R: AsyncRead + Unpin>(
    ctx: ReadCtx<'_>,
    mut rd: R,
    pong: mpsc::Sender<Bytes>,
    mut close_rx: watch::Receiver<bool>,
    activity: &AtomicU64,
) -> Close {
    let shared = ctx.shared;
    let metrics = &shared.metrics;
    let counters = metrics.kind(ctx.kind);
    let mut framer = StreamFramer::new(shared.cfg.max_message_size);
    let mut writes_seen = activity.load(Ordering::Relaxed);
    loop {
        loop {
            framer.set_expect_pong(ctx.keepalive.outstanding.load(Ordering::Relaxed) > 0);
            match framer.next_frame() {
                Ok(Some(Frame::Message(data))) => {
                    Counters::inc(&counters.messages_in);
                    let msg = Inbound {
                        data,
                        source: ctx.remote,
                        local: ctx.local,
                        kind: ctx.kind,
                        conn: Some(ctx.id),
                    };
                    tokio::select! {
                        r = shared.inbound.send(msg) => if r.is_err() { return Close::Hard },
                        _ = closed(&mut close_rx) => return Close::Hard,
                    }
                }
                Ok(Some(Frame::Ping)) => match pong.try_send(Bytes::from_static(b"\r\n")) {
                    Ok(()) => {
                        Counters::inc(&metrics.keepalives_answered);
                        Counters::add(&counters.bytes_out, 2);
                    }
                    Err(_) => Counters::inc(&metrics.queue_full_drops),
                },
                Ok(Some(Frame::Pong)) => ctx.keepalive.pong_received(),
                Ok(None) => break,
                Err(e) => {
                    Counters::inc(&metrics.framing_errors);
                    if e.is_oversize() {
                        Counters::inc(&metrics.oversize_drops);
                    }
                    warn!(target: "transport", peer = %ctx.remote, kind = %ctx.kind, conn = ctx.id, error = %e, "closing connection: stream cannot be framed");
                    return Close::Hard;
                }
            }
        }
        framer.buffer_mut().reserve(READ_CHUNK);
        let read = tokio::select! {
            r = timeout(shared.cfg.tcp_idle_timeout, rd.read_buf(framer.buffer_mut())) => r,
            _ = closed(&mut close_rx) => return Close::Hard,
        };
        match read {
            Ok(Ok(0)) => {
                debug!(target: "transport", peer = %ctx.remote, kind = %ctx.kind, conn = ctx.id, "peer closed");
                return Close::Graceful;
            }
            Ok(Ok(n)) => Counters::add(&counters.bytes_in, n),
            Ok(Err(e)) => {
                debug!(target: "transport", peer = %ctx.remote, kind = %ctx.kind, conn = ctx.id, error = %e, "read failed");
                return Close::Hard;
            }
            Err(_) => {
                let writes = activity.load(Ordering::Relaxed);
                if writes != writes_seen {
                    writes_seen = writes;
                    continue;
                }
                Counters::inc(&metrics.idle_closes);
                debug!(target: "transport", peer = %ctx.remote, kind = %ctx.kind, conn = ctx.id, "idle, closing");
                return Close::Hard;
            }
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    shared: Arc<Shared>,
    kind: TransportKind,
    remote: SocketAddr,
    mut wr: W,
    mut queue: mpsc::Receiver<Bytes>,
    close: CloseFlag,
    activity: Arc<AtomicU64>,
) {
    let mut close_rx = close.subscribe();
    let write_timeout = shared.cfg.write_timeout;
    loop {
        let first = tokio::select! {
            m = queue.recv() => match m {
                Some(m) => m,
                None => break,
            },
            _ = closed(&mut close_rx) => return,
        };
        let batch = async {
            wr.write_all(&first).await?;
            for _ in 1..WRITE_BATCH {
                match queue.try_recv() {
                    Ok(m) => wr.write_all(&m).await?,
                    Err(_) => break,
                }
            }
            wr.flush().await
        };
        let res = tokio::select! {
            r = timeout(write_timeout, batch) => r,
            _ = closed(&mut close_rx) => return,
        };
        match res {
            Ok(Ok(())) => {
                activity.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(e)) => {
                Counters::inc(&shared.metrics.send_errors);
                debug!(target: "transport", peer = %remote, %kind, error = %e, "write failed, closing");
                raise(&close);
                return;
            }
            Err(_) => {
                Counters::inc(&shared.metrics.send_errors);
                warn!(target: "transport", peer = %remote, %kind, "write stalled (peer not reading), closing");
                raise(&close);
                return;
            }
        }
    }
    // Every sender is gone (reader finished, entry removed): end politely,
    // with a TLS close_notify where applicable.
    let _ = timeout(write_timeout, wr.shutdown()).await;
}

//! The runtime's H.323 sockets: the RAS UDP socket and the call-signalling
//! TCP listener. Part of the runtime (the only place with tokio sockets):
//! it turns socket activity into [`H323Input`] for the engine and carries
//! out the engine's [`H323Output`].
//!
//! Each connection has a reader task (bytes → the engine's channel, whose
//! bound slows a fast sender down) and a writer task fed by a bounded
//! queue; a connection whose queue overflows is closed rather than allowed
//! to buffer without limit. A call that runs H.245 on a connection of its
//! own has one more, made to the peer's address or accepted on a port
//! opened for that call alone (from the call-signalling peer's host only).

use super::{ConnId, H323Input, H323Output};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

/// Largest RAS datagram read (RAS messages are a few hundred bytes).
const MAX_DATAGRAM: usize = 4096;
/// Frames queued for one connection before it is given up on.
const WRITE_QUEUE: usize = 256;
/// How long a connection to a callee may take before it counts as
/// unreachable (Q.850 27 to the call).
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a port opened for a call's H.245 connection waits for it.
const H245_ACCEPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Connections from other hosts a call's H.245 port turns away before it
/// gives up (someone scanning ports is not the call's peer).
const H245_STRANGERS: usize = 8;

/// Socket activity, before the runtime hands it to the engine.
pub enum NetEvent {
    Input(H323Input),
    /// What the tasks of a connection we opened report: `generation`
    /// tells a redirected call's new connection from the one it replaced
    /// under the same number (the old one's last bytes or close may still
    /// be queued when the new one opens).
    Outgoing {
        generation: u64,
        input: H323Input,
    },
    /// A new connection's writer, kept by [`H323Net`].
    Writer {
        conn: ConnId,
        writer: mpsc::Sender<Vec<u8>>,
        reader: JoinHandle<()>,
    },
}

struct ConnHandle {
    writer: mpsc::Sender<Vec<u8>>,
    reader: JoinHandle<()>,
    /// Connections we opened: which one under this number (0: accepted).
    generation: u64,
}

pub struct H323Net {
    ras: Arc<UdpSocket>,
    pub ras_addr: SocketAddr,
    pub cs_addr: SocketAddr,
    conns: HashMap<ConnId, ConnHandle>,
    /// H.245 connections, by the call-signalling connection of their call.
    h245: HashMap<ConnId, ConnHandle>,
    /// Where the tasks of connections we open report, as accepted ones do.
    events: mpsc::Sender<NetEvent>,
    /// The last generation given to a connection we opened.
    generation: u64,
}

/// Bind both sockets and start their tasks.
pub async fn start(
    ras: SocketAddr,
    call_signalling: SocketAddr,
) -> std::io::Result<(H323Net, mpsc::Receiver<NetEvent>)> {
    let udp = Arc::new(UdpSocket::bind(ras).await?);
    let listener = TcpListener::bind(call_signalling).await?;
    let ras_addr = udp.local_addr()?;
    let cs_addr = listener.local_addr()?;
    let (tx, rx) = mpsc::channel::<NetEvent>(1024);
    let events = tx.clone();

    tokio::spawn({
        let udp = udp.clone();
        let tx = tx.clone();
        async move {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            loop {
                match udp.recv_from(&mut buf).await {
                    Ok((n, from)) => {
                        let ev = NetEvent::Input(H323Input::Ras {
                            from,
                            data: buf[..n].to_vec(),
                        });
                        // A datagram that finds the queue full is lost, as on
                        // the wire; the endpoint retransmits.
                        match tx.try_send(ev) {
                            Err(mpsc::error::TrySendError::Closed(_)) => break,
                            Err(mpsc::error::TrySendError::Full(_)) => {
                                debug!(peer = %from, "RAS datagram dropped (queue full)")
                            }
                            Ok(()) => {}
                        }
                    }
                    Err(e) => debug!(error = %e, "RAS receive failed"),
                }
            }
        }
    });

    tokio::spawn(async move {
        let mut next: ConnId = 1;
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    warn!(error = %e, "H.323 accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let conn = next;
            next += 1;
            let (mut rd, mut wr) = stream.into_split();
            let (wtx, mut wrx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
            tokio::spawn(async move {
                while let Some(frame) = wrx.recv().await {
                    if wr.write_all(&frame).await.is_err() {
                        break;
                    }
                }
                let _ = wr.shutdown().await;
            });
            // The reader starts only once the writer and Accepted are
            // queued: a caller's Setup, sent at once, must not overtake
            // them when the engine's queue is full (it would reach a
            // connection the engine does not know yet and be lost).
            let (go, ready) = oneshot::channel::<()>();
            let reader = tokio::spawn({
                let tx = tx.clone();
                async move {
                    if ready.await.is_err() {
                        return;
                    }
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        match rd.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                let ev = NetEvent::Input(H323Input::Bytes {
                                    conn,
                                    data: buf[..n].to_vec(),
                                });
                                if tx.send(ev).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                    let _ = tx.send(NetEvent::Input(H323Input::Closed { conn })).await;
                }
            });
            let registered = tx
                .send(NetEvent::Writer {
                    conn,
                    writer: wtx,
                    reader,
                })
                .await
                .is_ok()
                && tx
                    .send(NetEvent::Input(H323Input::Accepted { conn, peer }))
                    .await
                    .is_ok();
            if !registered {
                break;
            }
            let _ = go.send(());
        }
    });

    Ok((
        H323Net {
            ras: udp,
            ras_addr,
            cs_addr,
            conns: HashMap::new(),
            h245: HashMap::new(),
            events,
            generation: 0,
        },
        rx,
    ))
}

impl H323Net {
    /// Keeps what the runtime needs for itself; returns the engine's part.
    pub fn on_event(&mut self, ev: NetEvent) -> Option<H323Input> {
        match ev {
            NetEvent::Writer {
                conn,
                writer,
                reader,
            } => {
                self.conns.insert(
                    conn,
                    ConnHandle {
                        writer,
                        reader,
                        generation: 0,
                    },
                );
                None
            }
            NetEvent::Outgoing { generation, input } => {
                let conn = match &input {
                    H323Input::Connected { conn }
                    | H323Input::Bytes { conn, .. }
                    | H323Input::Closed { conn } => *conn,
                    _ => return Some(input),
                };
                if self.conns.get(&conn).map(|h| h.generation) != Some(generation) {
                    // a connection this number no longer means
                    return None;
                }
                if matches!(input, H323Input::Closed { .. }) {
                    self.conns.remove(&conn);
                }
                Some(input)
            }
            NetEvent::Input(H323Input::Closed { conn }) => {
                self.conns.remove(&conn);
                Some(H323Input::Closed { conn })
            }
            NetEvent::Input(H323Input::H245Closed { conn }) => {
                self.h245.remove(&conn);
                Some(H323Input::H245Closed { conn })
            }
            NetEvent::Input(i) => Some(i),
        }
    }

    /// Carry out one of the engine's outputs.
    pub fn send(&mut self, out: H323Output) -> Option<H323Input> {
        match out {
            H323Output::Ras { to, data } => {
                if let Err(e) = self.ras.try_send_to(&data, to) {
                    debug!(dest = %to, error = %e, "RAS datagram not sent");
                }
                None
            }
            H323Output::Send { conn, data } => {
                let full = match self.conns.get(&conn) {
                    Some(h) => h.writer.try_send(data).is_err(),
                    None => false,
                };
                if full {
                    warn!(conn, "H.323 connection not reading: closed");
                    self.close(conn);
                    return Some(H323Input::Closed { conn });
                }
                None
            }
            H323Output::Close { conn } => {
                self.close(conn);
                None
            }
            H323Output::Connect { conn, addr } => {
                self.connect(conn, addr);
                None
            }
            H323Output::H245Connect { conn, addr } => {
                self.h245_task(conn, async move {
                    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
                        Ok(Ok(s)) => Some(s),
                        Ok(Err(e)) => {
                            debug!(conn, peer = %addr, error = %e, "H.245 connection failed");
                            None
                        }
                        Err(_) => {
                            debug!(conn, peer = %addr, "H.245 connection timed out");
                            None
                        }
                    }
                });
                None
            }
            H323Output::H245Listen { conn, peer } => Some(self.h245_listen(conn, peer)),
            H323Output::H245Send { conn, data } => {
                let full = match self.h245.get(&conn) {
                    Some(h) => h.writer.try_send(data).is_err(),
                    None => false,
                };
                if full {
                    warn!(conn, "H.245 connection not reading: closed");
                    self.close_h245(conn);
                    return Some(H323Input::H245Closed { conn });
                }
                None
            }
            H323Output::H245Close { conn } => {
                self.close_h245(conn);
                None
            }
        }
    }

    /// A port of the call-signalling address for one call's H.245
    /// connection; the first connection from `peer`'s host is the one.
    fn h245_listen(&mut self, conn: ConnId, peer: std::net::IpAddr) -> H323Input {
        let bound =
            std::net::TcpListener::bind(SocketAddr::new(self.cs_addr.ip(), 0)).and_then(|l| {
                l.set_nonblocking(true)?;
                let addr = l.local_addr()?;
                Ok((TcpListener::from_std(l)?, addr))
            });
        let (listener, addr) = match bound {
            Ok(x) => x,
            Err(e) => {
                warn!(conn, error = %e, "no port for an H.245 connection");
                return H323Input::H245Closed { conn };
            }
        };
        let peer = peer.to_canonical();
        self.h245_task(conn, async move {
            let accept = async {
                for _ in 0..H245_STRANGERS {
                    let (stream, from) = listener.accept().await.ok()?;
                    if from.ip().to_canonical() == peer {
                        return Some(stream);
                    }
                    debug!(conn, %from, "H.245 connection from another host refused");
                }
                None
            };
            tokio::time::timeout(H245_ACCEPT_TIMEOUT, accept)
                .await
                .ok()
                .flatten()
        });
        H323Input::H245Listening { conn, addr }
    }

    /// The tasks of one H.245 connection: `establish` makes or accepts it;
    /// frames sent before it is up wait in the writer's queue.
    fn h245_task(
        &mut self,
        conn: ConnId,
        establish: impl std::future::Future<Output = Option<TcpStream>> + Send + 'static,
    ) {
        self.close_h245(conn);
        let (wtx, mut wrx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
        let (half_tx, half_rx) = oneshot::channel::<tokio::net::tcp::OwnedWriteHalf>();
        tokio::spawn(async move {
            let Ok(mut wr) = half_rx.await else {
                return;
            };
            while let Some(frame) = wrx.recv().await {
                if wr.write_all(&frame).await.is_err() {
                    break;
                }
            }
            let _ = wr.shutdown().await;
        });
        let tx = self.events.clone();
        let reader = tokio::spawn(async move {
            let Some(stream) = establish.await else {
                let _ = tx
                    .send(NetEvent::Input(H323Input::H245Closed { conn }))
                    .await;
                return;
            };
            let _ = stream.set_nodelay(true);
            let (mut rd, wr) = stream.into_split();
            if half_tx.send(wr).is_err()
                || tx
                    .send(NetEvent::Input(H323Input::H245Connected { conn }))
                    .await
                    .is_err()
            {
                return;
            }
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let ev = NetEvent::Input(H323Input::H245Bytes {
                            conn,
                            data: buf[..n].to_vec(),
                        });
                        if tx.send(ev).await.is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = tx
                .send(NetEvent::Input(H323Input::H245Closed { conn }))
                .await;
        });
        self.h245.insert(
            conn,
            ConnHandle {
                writer: wtx,
                reader,
                generation: 0,
            },
        );
    }

    fn close_h245(&mut self, conn: ConnId) {
        if let Some(h) = self.h245.remove(&conn) {
            h.reader.abort();
        }
    }

    /// Opens a connection to a callee. Its writer exists at once, so the
    /// Setup the engine sends next waits in the queue until the socket is
    /// up; a connection that cannot be made is reported as Closed.
    fn connect(&mut self, conn: ConnId, addr: SocketAddr) {
        // a redirected call opens its next connection under the same
        // number: the one it replaces is gone
        self.close(conn);
        self.generation += 1;
        let generation = self.generation;
        let report = move |input: H323Input| NetEvent::Outgoing { generation, input };
        let (wtx, mut wrx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
        let (half_tx, half_rx) = oneshot::channel::<tokio::net::tcp::OwnedWriteHalf>();
        tokio::spawn(async move {
            // no write half: the connection was never made or given up
            let Ok(mut wr) = half_rx.await else {
                return;
            };
            while let Some(frame) = wrx.recv().await {
                if wr.write_all(&frame).await.is_err() {
                    break;
                }
            }
            let _ = wr.shutdown().await;
        });
        let tx = self.events.clone();
        let reader = tokio::spawn(async move {
            let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    debug!(conn, peer = %addr, error = %e, "H.323 connection to the callee failed");
                    let _ = tx.send(report(H323Input::Closed { conn })).await;
                    return;
                }
                Err(_) => {
                    debug!(conn, peer = %addr, "H.323 connection to the callee timed out");
                    let _ = tx.send(report(H323Input::Closed { conn })).await;
                    return;
                }
            };
            let _ = stream.set_nodelay(true);
            let (mut rd, wr) = stream.into_split();
            if half_tx.send(wr).is_err()
                || tx
                    .send(report(H323Input::Connected { conn }))
                    .await
                    .is_err()
            {
                return;
            }
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let ev = report(H323Input::Bytes {
                            conn,
                            data: buf[..n].to_vec(),
                        });
                        if tx.send(ev).await.is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = tx.send(report(H323Input::Closed { conn })).await;
        });
        self.conns.insert(
            conn,
            ConnHandle {
                writer: wtx,
                reader,
                generation,
            },
        );
    }

    fn close(&mut self, conn: ConnId) {
        // Dropping the writer's sender lets it write what is queued and
        // shut down; the reader stops now so the socket is released.
        if let Some(h) = self.conns.remove(&conn) {
            h.reader.abort();
        }
    }
}

/// The H.323 sockets the configuration asks for, bound, with the engine's
/// gatekeeper enabled on them. `Ok(None)`: H.323 is off, or its default
/// ports are taken (only a warning unless the address was configured).
pub async fn start_configured(
    cfg: &crate::config::Config,
    engine: &mut crate::engine::Engine,
) -> Result<Option<(H323Net, mpsc::Receiver<NetEvent>)>, String> {
    let Some(listen) = cfg.h323().map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let (net, rx) = match start(listen.ras, listen.call_signalling).await {
        Ok(x) => x,
        Err(e) if !listen.explicit => {
            warn!(ras = %listen.ras, call_signalling = %listen.call_signalling, error = %e, "H.323 not started: its default ports are not free (set h323_listen/--h323-listen to insist, or \"off\")");
            return Ok(None);
        }
        Err(e) => {
            return Err(format!(
                "H.323 listeners {} (RAS) / {} (call signalling): {e}",
                listen.ras, listen.call_signalling
            ))
        }
    };
    let advertise = |a: SocketAddr| {
        if a.ip().is_unspecified() {
            SocketAddr::new(cfg.advertised_ip(), a.port())
        } else {
            a
        }
    };
    engine.enable_h323(super::H323Config {
        gatekeeper_id: cfg.h323_gatekeeper_id.clone(),
        ras_address: advertise(net.ras_addr),
        call_signal_address: advertise(net.cs_addr),
    });
    tracing::info!(ras = %net.ras_addr, call_signalling = %net.cs_addr, gatekeeper = %cfg.h323_gatekeeper_id, "H.323 gatekeeper and call signalling listening");
    Ok(Some((net, rx)))
}

/// The next socket event, or never when H.323 is off.
pub async fn next_event(rx: &mut Option<mpsc::Receiver<NetEvent>>) -> Option<NetEvent> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

/// Puts what the engine wants sent on the H.323 sockets.
pub fn flush(engine: &mut crate::engine::Engine, net: Option<&mut H323Net>) {
    let Some(net) = net else {
        return;
    };
    let now = std::time::Instant::now();
    // Bounded: a write queue that overflows feeds a Closed back in, which
    // may produce more output, but never more than once per connection.
    for _ in 0..100_000 {
        let Some(out) = engine.h323_transmit() else {
            return;
        };
        if let Some(back) = net.send(out) {
            engine.h323_input(now, back);
        }
    }
}

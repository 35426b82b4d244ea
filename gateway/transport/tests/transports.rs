//! Real sockets on 127.0.0.1. Waits are bounded by a generous safety
//! timeout so a bug fails the test instead of hanging it; nothing asserts on
//! how long anything took.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gateway_transport::{
    Inbound, Outbound, TransportConfig, TransportError, TransportKind, TransportMetrics, Transports,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

const SAFETY: Duration = Duration::from_secs(10);

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn cfg() -> TransportConfig {
    TransportConfig {
        udp: vec![localhost()],
        tcp: vec![localhost()],
        ..TransportConfig::default()
    }
}

fn sip(method: &str, body: &str) -> String {
    format!(
        "{method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK{}\r\nCall-ID: c1\r\nContent-Length: {}\r\n\r\n{body}",
        method.len(),
        body.len()
    )
}

async fn next(rx: &mut mpsc::Receiver<Inbound>) -> Inbound {
    tokio::time::timeout(SAFETY, rx.recv())
        .await
        .expect("no inbound message within the safety timeout")
        .expect("inbound channel closed")
}

async fn read_exact_n<R: AsyncRead + Unpin>(r: &mut R, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(SAFETY, r.read_exact(&mut buf))
        .await
        .expect("read timed out")
        .expect("read failed");
    buf
}

/// True once the peer has closed (EOF or reset), reading and discarding.
async fn wait_closed<R: AsyncRead + Unpin>(r: &mut R) -> bool {
    let mut buf = [0u8; 4096];
    let fut = async {
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(SAFETY, fut).await.unwrap_or(false)
}

async fn eventually(t: &Transports, what: &str, cond: impl Fn(&TransportMetrics) -> bool) {
    let deadline = tokio::time::Instant::now() + SAFETY;
    loop {
        let m = t.metrics();
        if cond(&m) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("{what} never became true: {m:#?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn tcp_client(t: &Transports) -> TcpStream {
    let s = TcpStream::connect(t.local_addr(TransportKind::Tcp).unwrap())
        .await
        .unwrap();
    s.set_nodelay(true).unwrap();
    s
}

#[tokio::test]
async fn udp_round_trip() {
    let (t, mut rx) = Transports::start(cfg()).await.unwrap();
    let server = t.local_addr(TransportKind::Udp).unwrap();
    let client = UdpSocket::bind(localhost()).await.unwrap();
    let req = sip("OPTIONS", "");
    client.send_to(req.as_bytes(), server).await.unwrap();

    let inb = next(&mut rx).await;
    assert_eq!(inb.kind, TransportKind::Udp);
    assert_eq!(inb.data, req.as_bytes());
    assert_eq!(inb.source, client.local_addr().unwrap());
    assert_eq!(inb.local, server);
    assert_eq!(inb.conn, None);

    t.send(inb.reply(Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n")))
        .unwrap();
    let mut buf = [0u8; 1500];
    let (n, from) = tokio::time::timeout(SAFETY, client.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"SIP/2.0 200 OK\r\n\r\n");
    assert_eq!(from, server);
    let m = t.metrics();
    assert_eq!((m.udp.messages_in, m.udp.messages_out), (1, 1));
}

#[tokio::test]
async fn udp_reply_leaves_from_the_receiving_socket() {
    let (t, mut rx) = Transports::start(TransportConfig {
        udp: vec![localhost(), localhost()],
        ..TransportConfig::default()
    })
    .await
    .unwrap();
    let socks = t.local_addrs(TransportKind::Udp);
    assert_eq!(socks.len(), 2);
    let client = UdpSocket::bind(localhost()).await.unwrap();
    let mut buf = [0u8; 1500];
    for &server in socks.iter().rev() {
        client
            .send_to(b"OPTIONS sip:x SIP/2.0\r\n\r\n", server)
            .await
            .unwrap();
        let inb = next(&mut rx).await;
        assert_eq!(inb.local, server);
        t.send(inb.reply(Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n")))
            .unwrap();
        let (_, from) = tokio::time::timeout(SAFETY, client.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(from, server);
    }
}

#[tokio::test]
async fn udp_keepalives_oversize_and_garbage() {
    let (t, mut rx) = Transports::start(TransportConfig {
        max_message_size: 1000,
        ..cfg()
    })
    .await
    .unwrap();
    let server = t.local_addr(TransportKind::Udp).unwrap();
    let client = UdpSocket::bind(localhost()).await.unwrap();
    for d in [
        &b"\r\n\r\n"[..],
        b"\r\n",
        &[b'x'; 1001],
        b"",
        b"\x00garbage",
    ] {
        client.send_to(d, server).await.unwrap();
    }
    let req = sip("MESSAGE", "hi");
    client.send_to(req.as_bytes(), server).await.unwrap();

    // Empty and garbage datagrams are the parser's business; keep-alives and
    // oversize ones never come up.
    assert_eq!(next(&mut rx).await.data, &b""[..]);
    assert_eq!(next(&mut rx).await.data, &b"\x00garbage"[..]);
    assert_eq!(next(&mut rx).await.data, req.as_bytes());
    let m = t.metrics();
    assert_eq!(m.udp_keepalives_dropped, 2);
    assert_eq!(m.oversize_drops, 1);
    assert_eq!(m.udp.messages_in, 3);
    // A message over the limit is refused on the way out too.
    let err = t
        .send(Outbound::new(TransportKind::Udp, server, vec![0u8; 1001]))
        .unwrap_err();
    assert!(
        matches!(err, TransportError::MessageTooLarge { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn tcp_framing_split_coalesced_byte_by_byte() {
    let (t, mut rx) = Transports::start(cfg()).await.unwrap();
    let mut c = tcp_client(&t).await;

    // Split in the middle of the header block and of the body.
    let a = sip("INVITE", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n");
    let (x, y) = a.split_at(40);
    c.write_all(x.as_bytes()).await.unwrap();
    c.flush().await.unwrap();
    c.write_all(y.as_bytes()).await.unwrap();
    assert_eq!(next(&mut rx).await.data, a.as_bytes());

    // Three messages in one write, with CRLF padding between them.
    let b1 = sip("ACK", "");
    let b2 = sip("INFO", "Signal=5\r\nDuration=160\r\n");
    let b3 = sip("BYE", "");
    c.write_all(format!("\r\n{b1}{b2}\r\n{b3}").as_bytes())
        .await
        .unwrap();
    for want in [&b1, &b2, &b3] {
        let got = next(&mut rx).await;
        assert_eq!(got.data, want.as_bytes());
        assert_eq!(got.kind, TransportKind::Tcp);
        assert_eq!(got.source, c.local_addr().unwrap());
        assert!(got.conn.is_some());
    }

    // Byte by byte.
    let d = sip("MESSAGE", "byte by byte body");
    for byte in d.as_bytes() {
        c.write_all(std::slice::from_ref(byte)).await.unwrap();
        c.flush().await.unwrap();
    }
    assert_eq!(next(&mut rx).await.data, d.as_bytes());
    assert_eq!(t.metrics().tcp.messages_in, 5);
}

#[tokio::test]
async fn tcp_compact_length_and_missing_length() {
    let (t, mut rx) = Transports::start(cfg()).await.unwrap();
    let mut c = tcp_client(&t).await;
    let compact = "MESSAGE sip:x SIP/2.0\r\nl:  5\r\ncall-id: z\r\n\r\nhello";
    let no_len = "OPTIONS sip:x SIP/2.0\r\nCall-ID: y\r\n\r\n";
    let lower = "INFO sip:x SIP/2.0\r\ncontent-length: 3\r\n\r\nabc";
    c.write_all(format!("{compact}{no_len}{lower}").as_bytes())
        .await
        .unwrap();
    assert_eq!(next(&mut rx).await.data, compact.as_bytes());
    assert_eq!(next(&mut rx).await.data, no_len.as_bytes());
    assert_eq!(next(&mut rx).await.data, lower.as_bytes());
}

#[tokio::test]
async fn tcp_keepalive_ping_gets_pong() {
    let (t, mut rx) = Transports::start(cfg()).await.unwrap();
    let mut c = tcp_client(&t).await;
    c.write_all(b"\r\n\r\n").await.unwrap();
    assert_eq!(read_exact_n(&mut c, 2).await, b"\r\n");
    // A ping split over two writes is still one ping.
    c.write_all(b"\r\n\r").await.unwrap();
    c.flush().await.unwrap();
    c.write_all(b"\n").await.unwrap();
    assert_eq!(read_exact_n(&mut c, 2).await, b"\r\n");

    let m = sip("REGISTER", "");
    c.write_all(m.as_bytes()).await.unwrap();
    // The pings never surfaced: the first thing up is the REGISTER.
    assert_eq!(next(&mut rx).await.data, m.as_bytes());
    assert_eq!(t.metrics().keepalives_answered, 2);
}

#[tokio::test]
async fn oversize_closes_only_that_connection() {
    let (t, mut rx) = Transports::start(TransportConfig {
        max_message_size: 1024,
        ..cfg()
    })
    .await
    .unwrap();
    let mut good = tcp_client(&t).await;
    let mut endless_header = tcp_client(&t).await;
    let mut huge_body = tcp_client(&t).await;

    let mut junk = b"INVITE sip:x SIP/2.0\r\nSubject: ".to_vec();
    junk.extend(std::iter::repeat_n(b'a', 2000));
    endless_header.write_all(&junk).await.unwrap();
    assert!(
        wait_closed(&mut endless_header).await,
        "oversize header kept open"
    );

    huge_body
        .write_all(b"INVITE sip:x SIP/2.0\r\nContent-Length: 5000\r\n\r\n")
        .await
        .unwrap();
    assert!(wait_closed(&mut huge_body).await, "oversize body kept open");

    let m = sip("OPTIONS", "");
    good.write_all(m.as_bytes()).await.unwrap();
    let inb = next(&mut rx).await;
    assert_eq!(inb.data, m.as_bytes());
    let ok = "SIP/2.0 200 OK\r\nl: 0\r\n\r\n";
    t.send(inb.reply(Bytes::from_static(ok.as_bytes())))
        .unwrap();
    assert_eq!(read_exact_n(&mut good, ok.len()).await, ok.as_bytes());
    let metrics = t.metrics();
    assert_eq!(metrics.framing_errors, 2);
    assert_eq!(metrics.oversize_drops, 2);
    eventually(&t, "closed connections leave the table", |m| {
        m.connections_open == 1
    })
    .await;
}

#[tokio::test]
async fn replies_reuse_the_inbound_connection() {
    let (t, mut rx) = Transports::start(cfg()).await.unwrap();
    let mut c = tcp_client(&t).await;
    c.write_all(sip("INVITE", "").as_bytes()).await.unwrap();
    let inb = next(&mut rx).await;
    let conn = inb.conn.expect("stream messages carry their connection");
    assert_eq!(t.connection_peer(conn), Some(c.local_addr().unwrap()));

    let r1 = "SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n";
    t.send(inb.reply(Bytes::from_static(r1.as_bytes())))
        .unwrap();
    assert_eq!(read_exact_n(&mut c, r1.len()).await, r1.as_bytes());

    // No ConnId, only the address: still the same socket.
    let r2 = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
    t.send(Outbound::new(TransportKind::Tcp, inb.source, r2))
        .unwrap();
    assert_eq!(read_exact_n(&mut c, r2.len()).await, r2.as_bytes());

    // A stale ConnId falls back to the address.
    let r3 = "BYE sip:a SIP/2.0\r\nContent-Length: 0\r\n\r\n";
    t.send(Outbound::new(TransportKind::Tcp, inb.source, r3).on_conn(conn + 1000))
        .unwrap();
    assert_eq!(read_exact_n(&mut c, r3.len()).await, r3.as_bytes());

    let m = t.metrics();
    assert_eq!(m.connections_opened_outbound, 0);
    assert_eq!(m.connections_accepted, 1);
    assert_eq!(m.connections_open, 1);
    assert_eq!(m.tcp.messages_out, 3);
}

#[tokio::test]
async fn outbound_tcp_connects_once_and_receives_replies() {
    let (t, mut rx) = Transports::start(cfg()).await.unwrap();
    let peer = TcpListener::bind(localhost()).await.unwrap();
    let peer_addr = peer.local_addr().unwrap();

    let m1 = sip("OPTIONS", "");
    let m2 = sip("MESSAGE", "second");
    // Both queued before the connection exists: one connection carries both.
    let c1 = t
        .send(Outbound::new(TransportKind::Tcp, peer_addr, m1.clone()))
        .unwrap();
    let c2 = t
        .send(Outbound::new(TransportKind::Tcp, peer_addr, m2.clone()))
        .unwrap();
    assert!(c1.is_some());
    assert_eq!(c1, c2);
    let (mut s, _) = tokio::time::timeout(SAFETY, peer.accept())
        .await
        .unwrap()
        .unwrap();
    let got = read_exact_n(&mut s, m1.len() + m2.len()).await;
    assert_eq!(got, format!("{m1}{m2}").as_bytes());

    let reply = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
    s.write_all(reply.as_bytes()).await.unwrap();
    let inb = next(&mut rx).await;
    assert_eq!(inb.data, reply.as_bytes());
    assert_eq!(inb.source, peer_addr);
    assert_eq!(inb.kind, TransportKind::Tcp);
    assert_eq!(inb.conn, c1);

    // A later request reuses it as well.
    let m3 = sip("INFO", "");
    t.send(Outbound::new(TransportKind::Tcp, peer_addr, m3.clone()))
        .unwrap();
    assert_eq!(read_exact_n(&mut s, m3.len()).await, m3.as_bytes());
    let m = t.metrics();
    assert_eq!(m.connections_opened_outbound, 1);
    assert_eq!(m.connections_open, 1);
}

#[tokio::test]
async fn outbound_connect_failure_is_counted() {
    let (t, _rx) = Transports::start(cfg()).await.unwrap();
    // Bind then drop to find a port nobody listens on.
    let dead = TcpListener::bind(localhost())
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    t.send(Outbound::new(TransportKind::Tcp, dead, sip("OPTIONS", "")))
        .unwrap();
    eventually(&t, "connect failure counted", |m| {
        m.connect_failures == 1 && m.connections_open == 0
    })
    .await;
}

#[tokio::test]
async fn bind_error_names_address() {
    let taken = TcpListener::bind(localhost()).await.unwrap();
    let addr = taken.local_addr().unwrap();
    let err = Transports::start(TransportConfig {
        tcp: vec![addr],
        ..TransportConfig::default()
    })
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("cannot bind TCP {addr}: ")),
        "{text}"
    );
}

#[tokio::test]
async fn max_connections_refuses_extra() {
    let (t, mut rx) = Transports::start(TransportConfig {
        max_connections: 1,
        ..cfg()
    })
    .await
    .unwrap();
    let mut first = tcp_client(&t).await;
    first
        .write_all(sip("OPTIONS", "").as_bytes())
        .await
        .unwrap();
    next(&mut rx).await;
    let mut second = tcp_client(&t).await;
    assert!(wait_closed(&mut second).await);
    assert_eq!(t.metrics().connections_refused, 1);
    // Outbound connections count against the same limit.
    let err = t
        .send(Outbound::new(TransportKind::Tcp, localhost(), "x"))
        .unwrap_err();
    assert!(
        matches!(err, TransportError::TooManyConnections(1)),
        "{err}"
    );
    // The admitted one still works.
    let m = sip("INFO", "");
    first.write_all(m.as_bytes()).await.unwrap();
    assert_eq!(next(&mut rx).await.data, m.as_bytes());
}

#[tokio::test]
async fn idle_connection_is_closed() {
    let (t, _rx) = Transports::start(TransportConfig {
        tcp_idle_timeout: Duration::from_millis(100),
        ..cfg()
    })
    .await
    .unwrap();
    let mut c = tcp_client(&t).await;
    assert!(wait_closed(&mut c).await);
    eventually(&t, "idle close counted", |m| {
        m.idle_closes == 1 && m.connections_open == 0
    })
    .await;
}

#[tokio::test]
async fn slow_peer_fills_its_queue_without_blocking_others() {
    let (t, mut rx) = Transports::start(TransportConfig {
        send_queue: 4,
        ..cfg()
    })
    .await
    .unwrap();
    // This peer never reads.
    let mut stuck = tcp_client(&t).await;
    stuck
        .write_all(sip("SUBSCRIBE", "").as_bytes())
        .await
        .unwrap();
    let stuck_in = next(&mut rx).await;

    let big = Bytes::from(vec![b'N'; 60_000]);
    let mut full = false;
    for _ in 0..100_000 {
        match t.send(stuck_in.reply(big.clone())) {
            Ok(_) => tokio::task::yield_now().await,
            Err(TransportError::QueueFull { .. }) => {
                full = true;
                break;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert!(full, "queue to a non-reading peer never filled");
    assert!(t.metrics().queue_full_drops >= 1);

    let mut other = tcp_client(&t).await;
    other
        .write_all(sip("OPTIONS", "").as_bytes())
        .await
        .unwrap();
    let inb = next(&mut rx).await;
    let ok = "SIP/2.0 200 OK\r\nl: 0\r\n\r\n";
    t.send(inb.reply(Bytes::from_static(ok.as_bytes())))
        .unwrap();
    assert_eq!(read_exact_n(&mut other, ok.len()).await, ok.as_bytes());
}

#[tokio::test]
async fn shutdown_stops_sending() {
    let (t, _rx) = Transports::start(cfg()).await.unwrap();
    let mut c = tcp_client(&t).await;
    eventually(&t, "connection registered", |m| m.connections_open == 1).await;
    t.shutdown();
    assert!(wait_closed(&mut c).await);
    let err = t
        .send(Outbound::new(
            TransportKind::Udp,
            localhost(),
            "OPTIONS sip:x SIP/2.0\r\n\r\n",
        ))
        .unwrap_err();
    assert!(matches!(err, TransportError::Shutdown), "{err}");
}

// ---------------------------------------------------------------- TLS

static FILE_SEQ: AtomicUsize = AtomicUsize::new(0);

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let n = FILE_SEQ.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("gw-transport-{}-{n}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

struct TestCert {
    cert_pem: PathBuf,
    key_pem: PathBuf,
    der: rustls::pki_types::CertificateDer<'static>,
}

fn self_signed() -> TestCert {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    TestCert {
        cert_pem: temp_file("cert.pem", &ck.cert.pem()),
        key_pem: temp_file("key.pem", &ck.key_pair.serialize_pem()),
        der: ck.cert.der().clone(),
    }
}

fn tls_server_cfg(cert: &TestCert) -> TransportConfig {
    TransportConfig {
        tls: vec![localhost()],
        tls_cert_pem: Some(cert.cert_pem.clone()),
        tls_key_pem: Some(cert.key_pem.clone()),
        ..TransportConfig::default()
    }
}

fn rustls_client(trust: &rustls::pki_types::CertificateDer<'static>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trust.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn tls_server_frames_and_replies() {
    let cert = self_signed();
    let (t, mut rx) = Transports::start(tls_server_cfg(&cert)).await.unwrap();
    let addr = t.local_addr(TransportKind::Tls).unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut c = tokio::time::timeout(SAFETY, rustls_client(&cert.der).connect(name, tcp))
        .await
        .unwrap()
        .unwrap();

    let a = sip("INVITE", "v=0\r\n");
    let b = sip("ACK", "");
    c.write_all(format!("{a}\r\n\r\n{b}").as_bytes())
        .await
        .unwrap();
    c.flush().await.unwrap();
    let first = next(&mut rx).await;
    assert_eq!(first.kind, TransportKind::Tls);
    assert_eq!(first.data, a.as_bytes());
    assert_eq!(next(&mut rx).await.data, b.as_bytes());
    // The ping between them was answered on the TLS stream.
    assert_eq!(read_exact_n(&mut c, 2).await, b"\r\n");

    let ok = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
    t.send(first.reply(Bytes::from_static(ok.as_bytes())))
        .unwrap();
    assert_eq!(read_exact_n(&mut c, ok.len()).await, ok.as_bytes());
    assert_eq!(t.metrics().tls.messages_in, 2);
}

#[tokio::test]
async fn outbound_tls_verifies_against_configured_ca() {
    let cert = self_signed();
    let (server, mut server_rx) = Transports::start(tls_server_cfg(&cert)).await.unwrap();
    let server_addr = server.local_addr(TransportKind::Tls).unwrap();

    let ca = temp_file("ca.pem", &std::fs::read_to_string(&cert.cert_pem).unwrap());
    let (client, mut client_rx) = Transports::start(TransportConfig {
        tls_ca_pem: Some(ca),
        ..TransportConfig::default()
    })
    .await
    .unwrap();
    let req = sip("OPTIONS", "");
    client
        .send(
            Outbound::new(TransportKind::Tls, server_addr, req.clone())
                .with_server_name("localhost"),
        )
        .unwrap();
    let inb = next(&mut server_rx).await;
    assert_eq!(inb.data, req.as_bytes());
    let ok = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
    server
        .send(inb.reply(Bytes::from_static(ok.as_bytes())))
        .unwrap();
    let back = next(&mut client_rx).await;
    assert_eq!(back.data, ok.as_bytes());
    assert_eq!(back.kind, TransportKind::Tls);
    assert_eq!(back.source, server_addr);

    // Without a server name, the certificate's IP address entry is checked.
    let (by_ip, mut by_ip_rx) = Transports::start(TransportConfig {
        tls_ca_pem: Some(temp_file(
            "ca2.pem",
            &std::fs::read_to_string(&cert.cert_pem).unwrap(),
        )),
        ..TransportConfig::default()
    })
    .await
    .unwrap();
    by_ip
        .send(Outbound::new(TransportKind::Tls, server_addr, req.clone()))
        .unwrap();
    let inb = next(&mut server_rx).await;
    server
        .send(inb.reply(Bytes::from_static(ok.as_bytes())))
        .unwrap();
    assert_eq!(next(&mut by_ip_rx).await.data, ok.as_bytes());
}

#[tokio::test]
async fn outbound_tls_rejects_untrusted_unless_allowed() {
    let cert = self_signed();
    let (server, mut server_rx) = Transports::start(tls_server_cfg(&cert)).await.unwrap();
    let server_addr = server.local_addr(TransportKind::Tls).unwrap();

    let (strict, _rx) = Transports::start(TransportConfig::default()).await.unwrap();
    strict
        .send(
            Outbound::new(TransportKind::Tls, server_addr, sip("OPTIONS", ""))
                .with_server_name("localhost"),
        )
        .unwrap();
    eventually(&strict, "untrusted certificate refused", |m| {
        m.connect_failures == 1 && m.tls_handshake_failures == 1 && m.connections_open == 0
    })
    .await;

    let (lax, _rx) = Transports::start(TransportConfig {
        tls_accept_invalid_certs: true,
        ..TransportConfig::default()
    })
    .await
    .unwrap();
    let req = sip("MESSAGE", "lab");
    lax.send(
        Outbound::new(TransportKind::Tls, server_addr, req.clone())
            .with_server_name("wrong.example"),
    )
    .unwrap();
    assert_eq!(next(&mut server_rx).await.data, req.as_bytes());
}

#[tokio::test]
async fn tls_file_errors_name_the_file() {
    let missing = std::env::temp_dir().join("gw-transport-does-not-exist.pem");
    let err = Transports::start(TransportConfig {
        tls: vec![localhost()],
        tls_cert_pem: Some(missing.clone()),
        tls_key_pem: Some(missing.clone()),
        ..TransportConfig::default()
    })
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );

    let not_pem = temp_file("junk.pem", "hello\n");
    let err = Transports::start(TransportConfig {
        tls: vec![localhost()],
        tls_cert_pem: Some(not_pem.clone()),
        tls_key_pem: Some(not_pem.clone()),
        ..TransportConfig::default()
    })
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains(&not_pem.display().to_string()),
        "{err}"
    );

    let err = Transports::start(TransportConfig {
        tls: vec![localhost()],
        ..TransportConfig::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(err, TransportError::TlsIdentityMissing), "{err}");
}

#[tokio::test]
async fn ping_completes_on_pong_and_close_ends_the_flow() {
    let (server, mut server_rx) = Transports::start(cfg()).await.unwrap();
    let (client, _client_rx) = Transports::start(TransportConfig::default()).await.unwrap();
    let server_addr = server.local_addr(TransportKind::Tcp).unwrap();
    let flow = client
        .send(Outbound::new(
            TransportKind::Tcp,
            server_addr,
            sip("REGISTER", ""),
        ))
        .unwrap()
        .expect("stream sends report their connection");
    next(&mut server_rx).await;

    for _ in 0..2 {
        let pong = client.ping(flow).unwrap();
        tokio::time::timeout(SAFETY, pong)
            .await
            .expect("no pong within the safety timeout")
            .expect("connection closed before the pong");
    }
    assert_eq!(client.metrics().keepalives_sent, 2);
    assert_eq!(server.metrics().keepalives_answered, 2);

    // A pong waiter is always released: answered, or dropped with the flow.
    let orphan = client.ping(flow).unwrap();
    assert!(client.close(flow));
    let _ = tokio::time::timeout(SAFETY, orphan)
        .await
        .expect("waiter never released");
    eventually(&server, "server saw the close", |m| m.connections_open == 0).await;
    eventually(&client, "client dropped the flow", |m| {
        m.connections_open == 0
    })
    .await;
    assert!(!client.close(flow));
    assert!(matches!(
        client.ping(flow),
        Err(TransportError::NoConnection(id)) if id == flow
    ));
}

#[tokio::test]
async fn dropping_the_last_handle_releases_everything() {
    let (t, mut rx) = Transports::start(cfg()).await.unwrap();
    let udp = t.local_addr(TransportKind::Udp).unwrap();
    let mut c = tcp_client(&t).await;
    eventually(&t, "connection registered", |m| m.connections_open == 1).await;
    let clone = t.clone();
    drop(t);
    // A clone keeps everything running.
    let probe = UdpSocket::bind(localhost()).await.unwrap();
    probe
        .send_to(b"OPTIONS sip:x SIP/2.0\r\n\r\n", udp)
        .await
        .unwrap();
    assert_eq!(next(&mut rx).await.source, probe.local_addr().unwrap());
    drop(clone);
    assert!(wait_closed(&mut c).await);
    // With every task gone the inbound channel reports its end.
    let end = tokio::time::timeout(SAFETY, rx.recv())
        .await
        .expect("channel never ended");
    assert!(end.is_none());
}

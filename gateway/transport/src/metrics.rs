//! Lock-free counters, read as a plain snapshot for the metrics exporter.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::TransportKind;

#[derive(Debug, Default)]
pub(crate) struct KindCounters {
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub udp: KindCounters,
    pub tcp: KindCounters,
    pub tls: KindCounters,
    pub connections_open: AtomicU64,
    pub connections_accepted: AtomicU64,
    pub connections_opened_outbound: AtomicU64,
    pub connections_refused: AtomicU64,
    pub connect_failures: AtomicU64,
    pub tls_handshake_failures: AtomicU64,
    pub idle_closes: AtomicU64,
    pub framing_errors: AtomicU64,
    pub oversize_drops: AtomicU64,
    pub keepalives_answered: AtomicU64,
    pub keepalives_sent: AtomicU64,
    pub udp_keepalives_dropped: AtomicU64,
    pub queue_full_drops: AtomicU64,
    pub send_errors: AtomicU64,
}

impl Counters {
    pub fn kind(&self, kind: TransportKind) -> &KindCounters {
        match kind {
            TransportKind::Udp => &self.udp,
            TransportKind::Tcp => &self.tcp,
            TransportKind::Tls => &self.tls,
        }
    }

    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    pub fn add(c: &AtomicU64, n: usize) {
        c.fetch_add(n as u64, Relaxed);
    }

    pub fn dec(c: &AtomicU64) {
        c.fetch_sub(1, Relaxed);
    }

    pub fn snapshot(&self) -> TransportMetrics {
        let kind = |k: &KindCounters| KindMetrics {
            messages_in: k.messages_in.load(Relaxed),
            messages_out: k.messages_out.load(Relaxed),
            bytes_in: k.bytes_in.load(Relaxed),
            bytes_out: k.bytes_out.load(Relaxed),
        };
        TransportMetrics {
            udp: kind(&self.udp),
            tcp: kind(&self.tcp),
            tls: kind(&self.tls),
            connections_open: self.connections_open.load(Relaxed),
            connections_accepted: self.connections_accepted.load(Relaxed),
            connections_opened_outbound: self.connections_opened_outbound.load(Relaxed),
            connections_refused: self.connections_refused.load(Relaxed),
            connect_failures: self.connect_failures.load(Relaxed),
            tls_handshake_failures: self.tls_handshake_failures.load(Relaxed),
            idle_closes: self.idle_closes.load(Relaxed),
            framing_errors: self.framing_errors.load(Relaxed),
            oversize_drops: self.oversize_drops.load(Relaxed),
            keepalives_answered: self.keepalives_answered.load(Relaxed),
            keepalives_sent: self.keepalives_sent.load(Relaxed),
            udp_keepalives_dropped: self.udp_keepalives_dropped.load(Relaxed),
            queue_full_drops: self.queue_full_drops.load(Relaxed),
            send_errors: self.send_errors.load(Relaxed),
        }
    }
}

/// Per-transport traffic. Stream bytes count everything read or queued
/// (keep-alives included); messages count SIP messages only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindMetrics {
    pub messages_in: u64,
    /// Messages accepted by [`Transports::send`](crate::Transports::send).
    pub messages_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// A point-in-time copy of the transport counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportMetrics {
    pub udp: KindMetrics,
    pub tcp: KindMetrics,
    pub tls: KindMetrics,
    /// Stream connections in the table, including ones still connecting or
    /// in their TLS handshake (a gauge).
    pub connections_open: u64,
    pub connections_accepted: u64,
    pub connections_opened_outbound: u64,
    /// Connections not admitted because `max_connections` was reached.
    pub connections_refused: u64,
    pub connect_failures: u64,
    pub tls_handshake_failures: u64,
    pub idle_closes: u64,
    /// Streams closed because they could not be framed (oversize included).
    pub framing_errors: u64,
    /// Messages or datagrams dropped for exceeding `max_message_size`.
    pub oversize_drops: u64,
    /// CRLFCRLF pings on streams answered with a CRLF pong.
    pub keepalives_answered: u64,
    /// Our own pings sent with [`Transports::ping`](crate::Transports::ping).
    pub keepalives_sent: u64,
    /// Bare CRLF / CRLFCRLF datagrams dropped on UDP.
    pub udp_keepalives_dropped: u64,
    /// Outbound messages dropped because a send queue was full.
    pub queue_full_drops: u64,
    /// Writes that failed at the socket.
    pub send_errors: u64,
}

impl TransportMetrics {
    pub fn kind(&self, kind: TransportKind) -> &KindMetrics {
        match kind {
            TransportKind::Udp => &self.udp,
            TransportKind::Tcp => &self.tcp,
            TransportKind::Tls => &self.tls,
        }
    }
}

//! Prometheus metrics of the gateway.
//!
//! Counters the engine owns are prometheus-client metrics updated in place
//! (atomics, no lock). Counters that live in other crates (transport, media
//! relay) are read from their atomics at scrape time by `SourcesCollector`,
//! so no layer below the runtime depends on Prometheus.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    /// A standard method name, or "other": method names come from the
    /// network, and one series per invented name would grow without bound.
    pub method: &'static str,
}

impl MethodLabel {
    pub fn of(m: &gateway_sip::message::Method) -> MethodLabel {
        use gateway_sip::message::Method as M;
        let method = match m {
            M::Invite => "INVITE",
            M::Ack => "ACK",
            M::Bye => "BYE",
            M::Cancel => "CANCEL",
            M::Options => "OPTIONS",
            M::Register => "REGISTER",
            M::Prack => "PRACK",
            M::Update => "UPDATE",
            M::Info => "INFO",
            M::Subscribe => "SUBSCRIBE",
            M::Notify => "NOTIFY",
            M::Refer => "REFER",
            M::Message => "MESSAGE",
            M::Publish => "PUBLISH",
            M::Other(_) => "other",
        };
        MethodLabel { method }
    }
}

/// Values that the SIP engine publishes after each turn of its loop, read by
/// the collector at scrape time.
#[derive(Debug, Default)]
pub struct EngineGauges {
    pub transactions_active: AtomicI64,
    pub retransmissions: AtomicU64,
    pub registrations_active: AtomicI64,
}

#[derive(Clone)]
pub struct Metrics {
    pub calls_active: Gauge,
    pub calls_completed: Family<OutcomeLabel, Counter>,
    pub call_attempts: Counter,
    pub parse_errors: Counter,
    pub requests_received: Family<MethodLabel, Counter>,
    pub auth_failures: Counter,
    pub engine: Arc<EngineGauges>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            calls_active: Gauge::default(),
            calls_completed: Family::default(),
            call_attempts: Counter::default(),
            parse_errors: Counter::default(),
            requests_received: Family::default(),
            auth_failures: Counter::default(),
            engine: Arc::new(EngineGauges::default()),
        }
    }

    pub fn register(&self, reg: &mut Registry, sources: SourcesCollector) {
        reg.register(
            "gateway_calls_active",
            "Calls in progress (from INVITE to the end of the last leg)",
            self.calls_active.clone(),
        );
        reg.register(
            "gateway_calls_completed",
            "Calls ended, by outcome",
            self.calls_completed.clone(),
        );
        reg.register(
            "gateway_call_attempts",
            "INVITEs that started a new call",
            self.call_attempts.clone(),
        );
        reg.register(
            "gateway_sip_parse_errors",
            "SIP messages that could not be parsed",
            self.parse_errors.clone(),
        );
        reg.register(
            "gateway_sip_requests",
            "SIP requests received, by method",
            self.requests_received.clone(),
        );
        reg.register(
            "gateway_auth_failures",
            "Digest authentication failures (wrong password, stale or replayed nonce, unknown user)",
            self.auth_failures.clone(),
        );
        reg.register_collector(Box::new(sources));
    }

    pub fn encode(reg: &Registry) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail except on a formatter error,
        // which a String never raises.
        let _ = prometheus_client::encoding::text::encode(&mut out, reg);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Reads counters owned by the transport, media and engine layers.
pub struct SourcesCollector {
    pub engine: Arc<EngineGauges>,
    pub relay: gateway_media::MediaRelay,
    pub transport: gateway_transport::Transports,
}

impl std::fmt::Debug for SourcesCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SourcesCollector")
    }
}

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let c = ConstCounter::new(v);
    let m = enc.encode_descriptor(name, help, None, c.metric_type())?;
    c.encode(m)
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: i64) -> std::fmt::Result {
    let g = ConstGauge::new(v);
    let m = enc.encode_descriptor(name, help, None, g.metric_type())?;
    g.encode(m)
}

impl Collector for SourcesCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let e = &self.engine;
        gauge(
            &mut enc,
            "gateway_sip_transactions_active",
            "SIP transactions alive",
            e.transactions_active.load(Ordering::Relaxed),
        )?;
        counter(
            &mut enc,
            "gateway_sip_retransmissions",
            "SIP retransmissions sent by the transaction layer",
            e.retransmissions.load(Ordering::Relaxed),
        )?;
        gauge(
            &mut enc,
            "gateway_registrations_active",
            "Registered contacts (bindings) not yet expired",
            e.registrations_active.load(Ordering::Relaxed),
        )?;
        let r = self.relay.metrics();
        counter(
            &mut enc,
            "gateway_rtp_packets_relayed",
            "RTP and RTCP packets relayed between call legs",
            r.rtp_packets + r.rtcp_packets,
        )?;
        counter(
            &mut enc,
            "gateway_rtp_bytes_relayed",
            "RTP and RTCP bytes relayed between call legs",
            r.rtp_bytes + r.rtcp_bytes,
        )?;
        counter(
            &mut enc,
            "gateway_rtp_packets_dropped",
            "Media packets dropped (foreign source, malformed, no destination yet)",
            r.dropped_foreign
                + r.dropped_malformed
                + r.dropped_no_destination
                + r.dropped_transform,
        )?;
        counter(
            &mut enc,
            "gateway_rtp_packets_expected",
            "RTP packets the peers sent the gateway (by sequence number), counted at call end",
            r.rtp_expected,
        )?;
        counter(
            &mut enc,
            "gateway_rtp_packets_lost",
            "RTP packets lost on the way to the gateway, counted at call end",
            r.rtp_lost,
        )?;
        {
            let mut m = enc.encode_descriptor(
                "gateway_call_mos",
                "E-model MOS estimate of each call leg's received audio, at call end",
                None,
                prometheus_client::metrics::MetricType::Histogram,
            )?;
            m.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                r.mos.sum(),
                r.mos.count,
                &r.mos.cumulative(),
                None,
            )?;
        }
        gauge(
            &mut enc,
            "gateway_media_sessions_active",
            "Media relay sessions open",
            r.sessions_active as i64,
        )?;
        let t = self.transport.metrics();
        counter(
            &mut enc,
            "gateway_sip_messages_received",
            "SIP messages received on all transports",
            t.udp.messages_in + t.tcp.messages_in + t.tls.messages_in,
        )?;
        counter(
            &mut enc,
            "gateway_sip_messages_sent",
            "SIP messages sent on all transports",
            t.udp.messages_out + t.tcp.messages_out + t.tls.messages_out,
        )?;
        gauge(
            &mut enc,
            "gateway_sip_connections_open",
            "TCP and TLS connections open",
            t.connections_open as i64,
        )?;
        Ok(())
    }
}

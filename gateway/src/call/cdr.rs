//! The call detail record of a two-leg call, whichever protocols its legs
//! speak: who, when, how it ended, and the media quality of both legs.

use gateway_media::quality::StreamQuality;
use gateway_media::relay::SessionStats;
use gateway_store::Cdr;

/// What the call owner knows of a call when it ends.
pub(crate) struct CdrFacts<'a> {
    pub label: &'a str,
    pub from_uri: &'a str,
    pub to_uri: &'a str,
    pub caller: &'a str,
    pub callee: &'a str,
    pub unit: Option<&'a str>,
    pub started_ms: i64,
    pub answered_ms: Option<i64>,
    pub ended_ms: i64,
    pub outcome: &'a str,
    pub status: u16,
    pub reason: &'a str,
}

pub(crate) fn record(
    f: CdrFacts<'_>,
    stats: Option<SessionStats>,
    q: Option<StreamQuality>,
) -> Cdr {
    let (pin, pout) = stats
        .map(|s| (s.a_to_b.packets as i64, s.b_to_a.packets as i64))
        .unwrap_or((0, 0));
    let q = q.as_ref();
    Cdr {
        call_id: f.label.to_string(),
        from_uri: f.from_uri.to_string(),
        to_uri: f.to_uri.to_string(),
        caller: f.caller.to_string(),
        callee: f.callee.to_string(),
        unit: f.unit.map(str::to_string),
        started_at_ms: f.started_ms,
        answered_at_ms: f.answered_ms,
        ended_at_ms: f.ended_ms,
        duration_ms: f.answered_ms.map(|a| (f.ended_ms - a).max(0)).unwrap_or(0),
        outcome: f.outcome.to_string(),
        sip_status: f.status,
        reason: f.reason.to_string(),
        rtp_packets_in: pin,
        rtp_packets_out: pout,
        mos_a: q.and_then(|q| q.a.mos),
        mos_b: q.and_then(|q| q.b.mos),
        loss_pct_a: q.filter(|q| q.a.expected > 0).map(|q| q.a.loss_percent),
        loss_pct_b: q.filter(|q| q.b.expected > 0).map(|q| q.b.loss_percent),
        jitter_ms_a: q.filter(|q| q.a.received > 0).map(|q| q.a.jitter_ms),
        jitter_ms_b: q.filter(|q| q.b.received > 0).map(|q| q.b.jitter_ms),
        rtt_ms: q
            .and_then(|q| q.round_trip_ms())
            .map(|v| v.round().clamp(0.0, u32::MAX as f64) as u32),
    }
}

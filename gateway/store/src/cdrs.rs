//! Call detail records.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::batch::{insert_rows, Val};

use crate::{Store, StoreError};

/// Allowed values of [`Cdr::outcome`].
pub const CDR_OUTCOMES: [&str; 6] = [
    "answered",
    "busy",
    "no_answer",
    "rejected",
    "failed",
    "cancelled",
];

/// One call, written when it ends. Keyed by (call_id, started_at_ms).
///
/// Leg A is the caller's side, leg B the callee's. The quality fields are
/// `None` when not measured (no media, no RTCP from the peers); records
/// serialized before they existed deserialize with `None`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Cdr {
    pub call_id: String,
    pub from_uri: String,
    pub to_uri: String,
    /// Who called: `endpoint:1001`, `trunk:carrier` or `anonymous:203.0.113.5`.
    pub caller: String,
    /// The dialled target.
    pub callee: String,
    /// Unit the call is accounted to.
    pub unit: Option<String>,
    /// Unix time in milliseconds.
    pub started_at_ms: i64,
    pub answered_at_ms: Option<i64>,
    pub ended_at_ms: i64,
    /// One of [`CDR_OUTCOMES`].
    pub outcome: String,
    pub sip_status: u16,
    pub reason: String,
    pub duration_ms: i64,
    pub rtp_packets_in: i64,
    pub rtp_packets_out: i64,
    /// E-model MOS estimate (1–4.5) of the audio received from leg A / B.
    #[serde(default)]
    pub mos_a: Option<f64>,
    #[serde(default)]
    pub mos_b: Option<f64>,
    /// RTP packets lost on the way from leg A / B to the gateway, percent.
    #[serde(default)]
    pub loss_pct_a: Option<f64>,
    #[serde(default)]
    pub loss_pct_b: Option<f64>,
    /// Interarrival jitter (RFC 3550) of the RTP from leg A / B, ms.
    #[serde(default)]
    pub jitter_ms_a: Option<f64>,
    #[serde(default)]
    pub jitter_ms_b: Option<f64>,
    /// Round trip between the two endpoints through the gateway, ms.
    #[serde(default)]
    pub rtt_ms: Option<u32>,
}

const COLUMNS: &str = "call_id, started_at_ms, answered_at_ms, ended_at_ms, from_uri, to_uri, caller, callee, \
                       unit_code, outcome, sip_status, reason, duration_ms, rtp_packets_in, rtp_packets_out, \
                       mos_a, mos_b, loss_pct_a, loss_pct_b, jitter_ms_a, jitter_ms_b, rtt_ms";

/// NaN and infinities have no portable SQL spelling (PostgreSQL accepts
/// them in float8, SQLite turns NaN into NULL); a measurement that is not a
/// number is stored as "not measured".
fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

impl Store {
    pub async fn insert_cdr(&self, c: &Cdr) -> Result<(), StoreError> {
        self.insert_cdrs(std::slice::from_ref(c)).await
    }

    /// Several records in one transaction (multi-row INSERTs): the gateway
    /// writes the CDRs of a burst of calls together, not one commit each.
    /// All or nothing: one invalid record refuses the batch.
    pub async fn insert_cdrs(&self, cdrs: &[Cdr]) -> Result<(), StoreError> {
        if let Some(bad) = cdrs
            .iter()
            .find(|c| !CDR_OUTCOMES.contains(&c.outcome.as_str()))
        {
            return Err(StoreError::Invalid {
                field: "cdr.outcome",
                detail: format!(
                    "{:?} is not one of {}",
                    bad.outcome,
                    CDR_OUTCOMES.join(", ")
                ),
            });
        }
        if cdrs.is_empty() {
            return Ok(());
        }
        let rows: Vec<Vec<Val>> = cdrs
            .iter()
            .map(|c| {
                vec![
                    c.call_id.clone().into(),
                    c.started_at_ms.into(),
                    c.answered_at_ms.into(),
                    c.ended_at_ms.into(),
                    c.from_uri.clone().into(),
                    c.to_uri.clone().into(),
                    c.caller.clone().into(),
                    c.callee.clone().into(),
                    c.unit.clone().into(),
                    c.outcome.clone().into(),
                    i64::from(c.sip_status).into(),
                    c.reason.clone().into(),
                    c.duration_ms.into(),
                    c.rtp_packets_in.into(),
                    c.rtp_packets_out.into(),
                    finite(c.mos_a).into(),
                    finite(c.mos_b).into(),
                    finite(c.loss_pct_a).into(),
                    finite(c.loss_pct_b).into(),
                    finite(c.jitter_ms_a).into(),
                    finite(c.jitter_ms_b).into(),
                    c.rtt_ms.map(i64::from).into(),
                ]
            })
            .collect();
        let columns: Vec<&str> = COLUMNS.split(',').map(str::trim).collect();
        let mut tx = self.pool.begin().await?;
        insert_rows(&mut tx, "cdrs", &columns, &rows).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest `limit` records, newest first.
    pub async fn list_cdrs(&self, limit: i64) -> Result<Vec<Cdr>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM cdrs ORDER BY started_at_ms DESC, call_id DESC LIMIT $1"
        ))
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let status: i64 = r.try_get("sip_status")?;
                Ok(Cdr {
                    call_id: r.try_get("call_id")?,
                    from_uri: r.try_get("from_uri")?,
                    to_uri: r.try_get("to_uri")?,
                    caller: r.try_get("caller")?,
                    callee: r.try_get("callee")?,
                    unit: r.try_get("unit_code")?,
                    started_at_ms: r.try_get("started_at_ms")?,
                    answered_at_ms: r.try_get("answered_at_ms")?,
                    ended_at_ms: r.try_get("ended_at_ms")?,
                    outcome: r.try_get("outcome")?,
                    sip_status: u16::try_from(status).map_err(|_| StoreError::Invalid {
                        field: "cdrs.sip_status",
                        detail: status.to_string(),
                    })?,
                    reason: r.try_get("reason")?,
                    duration_ms: r.try_get("duration_ms")?,
                    rtp_packets_in: r.try_get("rtp_packets_in")?,
                    rtp_packets_out: r.try_get("rtp_packets_out")?,
                    mos_a: r.try_get("mos_a")?,
                    mos_b: r.try_get("mos_b")?,
                    loss_pct_a: r.try_get("loss_pct_a")?,
                    loss_pct_b: r.try_get("loss_pct_b")?,
                    jitter_ms_a: r.try_get("jitter_ms_a")?,
                    jitter_ms_b: r.try_get("jitter_ms_b")?,
                    rtt_ms: r
                        .try_get::<Option<i64>, _>("rtt_ms")?
                        .map(|v| {
                            u32::try_from(v).map_err(|_| StoreError::Invalid {
                                field: "cdrs.rtt_ms",
                                detail: v.to_string(),
                            })
                        })
                        .transpose()?,
                })
            })
            .collect()
    }
}

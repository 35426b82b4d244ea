//! Call detail records.

use serde::{Deserialize, Serialize};
use sqlx::Row;

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

const COLUMNS: &str = "call_id, started_at_ms, answered_at_ms, ended_at_ms, from_uri, to_uri, caller, callee, \
                       unit_code, outcome, sip_status, reason, duration_ms, rtp_packets_in, rtp_packets_out";

impl Store {
    pub async fn insert_cdr(&self, c: &Cdr) -> Result<(), StoreError> {
        if !CDR_OUTCOMES.contains(&c.outcome.as_str()) {
            return Err(StoreError::Invalid {
                field: "cdr.outcome",
                detail: format!("{:?} is not one of {}", c.outcome, CDR_OUTCOMES.join(", ")),
            });
        }
        sqlx::query(&format!(
            "INSERT INTO cdrs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(c.call_id.clone())
        .bind(c.started_at_ms)
        .bind(c.answered_at_ms)
        .bind(c.ended_at_ms)
        .bind(c.from_uri.clone())
        .bind(c.to_uri.clone())
        .bind(c.caller.clone())
        .bind(c.callee.clone())
        .bind(c.unit.clone())
        .bind(c.outcome.clone())
        .bind(i64::from(c.sip_status))
        .bind(c.reason.clone())
        .bind(c.duration_ms)
        .bind(c.rtp_packets_in)
        .bind(c.rtp_packets_out)
        .execute(&self.pool)
        .await?;
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
                })
            })
            .collect()
    }
}

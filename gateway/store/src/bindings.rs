//! Registrations (RFC 3261 §10 bindings), shared by all gateway nodes.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Store, StoreError};

/// One contact registered for an endpoint. Keyed by (endpoint, contact URI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub endpoint_id: String,
    pub contact_uri: String,
    /// Source `ip:port` the REGISTER came from (where to send requests when
    /// the contact is behind NAT).
    pub received: Option<String>,
    /// Transport the REGISTER arrived over (`udp`, `tcp`, `tls`, `ws`, `wss`).
    pub transport: String,
    /// Path header URIs (RFC 3327), in order.
    pub path: Vec<String>,
    /// `+sip.instance` (RFC 5626).
    pub instance_id: Option<String>,
    /// `reg-id` (RFC 5626).
    pub reg_id: Option<u32>,
    pub expires_at_unix: i64,
    pub call_id: String,
    pub cseq: u32,
    pub user_agent: Option<String>,
}

const COLUMNS: &str =
    "endpoint_id, contact_uri, received, transport, path_json, instance_id, reg_id, \
                       expires_at_unix, call_id, cseq, user_agent";

fn from_row(r: &AnyRow) -> Result<Binding, StoreError> {
    let path_json: String = r.try_get("path_json")?;
    let path = serde_json::from_str(&path_json).map_err(|e| StoreError::Invalid {
        field: "bindings.path_json",
        detail: e.to_string(),
    })?;
    let reg_id: Option<i64> = r.try_get("reg_id")?;
    let cseq: i64 = r.try_get("cseq")?;
    Ok(Binding {
        endpoint_id: r.try_get("endpoint_id")?,
        contact_uri: r.try_get("contact_uri")?,
        received: r.try_get("received")?,
        transport: r.try_get("transport")?,
        path,
        instance_id: r.try_get("instance_id")?,
        reg_id: reg_id.and_then(|v| u32::try_from(v).ok()),
        expires_at_unix: r.try_get("expires_at_unix")?,
        call_id: r.try_get("call_id")?,
        cseq: u32::try_from(cseq).unwrap_or(0),
        user_agent: r.try_get("user_agent")?,
    })
}

impl Store {
    /// Inserts the binding, or replaces the one with the same endpoint and
    /// contact URI (a refresh).
    pub async fn upsert_binding(&self, b: &Binding) -> Result<(), StoreError> {
        let path_json = serde_json::to_string(&b.path).map_err(|e| StoreError::Invalid {
            field: "binding.path",
            detail: e.to_string(),
        })?;
        sqlx::query(&format!(
            "INSERT INTO bindings ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (endpoint_id, contact_uri) DO UPDATE SET \
             received = excluded.received, transport = excluded.transport, path_json = excluded.path_json, \
             instance_id = excluded.instance_id, reg_id = excluded.reg_id, \
             expires_at_unix = excluded.expires_at_unix, call_id = excluded.call_id, \
             cseq = excluded.cseq, user_agent = excluded.user_agent"
        ))
        .bind(b.endpoint_id.clone())
        .bind(b.contact_uri.clone())
        .bind(b.received.clone())
        .bind(b.transport.clone())
        .bind(path_json)
        .bind(b.instance_id.clone())
        .bind(b.reg_id.map(i64::from))
        .bind(b.expires_at_unix)
        .bind(b.call_id.clone())
        .bind(i64::from(b.cseq))
        .bind(b.user_agent.clone())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes one binding; `true` if it existed.
    pub async fn delete_binding(
        &self,
        endpoint_id: &str,
        contact_uri: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM bindings WHERE endpoint_id = $1 AND contact_uri = $2")
            .bind(endpoint_id)
            .bind(contact_uri)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Removes every binding of an endpoint (`Contact: *`); how many there were.
    pub async fn delete_bindings_of(&self, endpoint_id: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM bindings WHERE endpoint_id = $1")
            .bind(endpoint_id)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// All bindings still valid at `now_unix` (expiring strictly later),
    /// ordered by endpoint, then contact.
    pub async fn load_bindings(&self, now_unix: i64) -> Result<Vec<Binding>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM bindings WHERE expires_at_unix > $1 ORDER BY endpoint_id, contact_uri"
        ))
        .bind(now_unix)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The valid bindings of one endpoint.
    pub async fn bindings_of(
        &self,
        endpoint_id: &str,
        now_unix: i64,
    ) -> Result<Vec<Binding>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM bindings WHERE endpoint_id = $1 AND expires_at_unix > $2 ORDER BY contact_uri"
        ))
        .bind(endpoint_id)
        .bind(now_unix)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Deletes bindings expired at `now_unix`; how many.
    pub async fn purge_expired(&self, now_unix: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM bindings WHERE expires_at_unix <= $1")
                .bind(now_unix)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}

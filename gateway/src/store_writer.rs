//! The store writer: a task that applies registrations and CDRs to the
//! database in order, off the SIP engine's loop, so a slow disk never delays
//! signalling.

use crate::registrar::BindingChange;
use gateway_store::Store;
use tokio::sync::mpsc;
use tracing::warn;

/// One finished call, as the engine reports it.
#[derive(Debug, Clone)]
pub struct CdrRecord {
    pub call_id: String,
    pub from_uri: String,
    pub to_uri: String,
    pub caller: String,
    pub target: String,
    pub unit: Option<String>,
    pub started_at_ms: i64,
    pub answered_at_ms: Option<i64>,
    pub ended_at_ms: i64,
    pub outcome: String,
    pub sip_status: u16,
    pub reason: String,
    pub rtp_packets_in: i64,
    pub rtp_packets_out: i64,
}

#[derive(Debug)]
pub enum StoreOp {
    Binding(BindingChange),
    Cdr(CdrRecord),
}

pub async fn run(store: Store, mut rx: mpsc::UnboundedReceiver<StoreOp>) {
    while let Some(op) = rx.recv().await {
        let result = match op {
            StoreOp::Binding(BindingChange::Upsert(b)) => store
                .upsert_binding(&crate::persist::binding_to_row(&b))
                .await
                .map(|_| ()),
            StoreOp::Binding(BindingChange::Remove {
                endpoint_id,
                contact,
            }) => store
                .delete_binding(&endpoint_id, &contact)
                .await
                .map(|_| ()),
            StoreOp::Cdr(c) => store
                .insert_cdr(&crate::persist::cdr_to_row(&c))
                .await
                .map(|_| ()),
        };
        if let Err(e) = result {
            warn!(target: "store", error = %e, "database write failed");
        }
    }
}

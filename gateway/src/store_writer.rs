//! The store writer: a task that applies registrations and CDRs to the
//! database in order, off the SIP engine's loop, so a slow disk never delays
//! signalling.

use crate::registrar::BindingChange;
use gateway_store::Store;
use tokio::sync::mpsc;
use tracing::warn;

#[derive(Debug)]
pub enum StoreOp {
    Binding(BindingChange),
    Cdr(gateway_store::Cdr),
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
            StoreOp::Cdr(c) => store.insert_cdr(&c).await.map(|_| ()),
        };
        if let Err(e) = result {
            warn!(target: "store", error = %e, "database write failed");
        }
    }
}

//! The store writer: a task that applies registrations, CDRs and recording
//! rows to the database in order, off the SIP engine's loop, so a slow disk
//! never delays signalling.

use crate::registrar::BindingChange;
use gateway_store::Store;
use tokio::sync::mpsc;
use tracing::warn;

#[derive(Debug)]
pub enum StoreOp {
    Binding(BindingChange),
    Cdr(gateway_store::Cdr),
    /// A meeting's recording started (its file exists).
    RecordingStarted(gateway_store::Recording),
    /// Its file was closed (sent from the recording's writer thread; the
    /// channel keeps it after the start).
    RecordingFinished {
        id: String,
        finish: gateway_store::RecordingFinish,
    },
}

/// Most operations taken in one turn: a burst of calls ending together
/// becomes one transaction of CDRs instead of one commit each.
const BATCH: usize = 512;

pub async fn run(store: Store, mut rx: mpsc::UnboundedReceiver<StoreOp>) {
    let mut cdrs = Vec::with_capacity(BATCH);
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(op) = next.take() {
            taken += 1;
            match op {
                // Bindings are applied in order: an unregister must follow
                // the register it undoes.
                StoreOp::Binding(BindingChange::Upsert(b)) => report(
                    store
                        .upsert_binding(&crate::persist::binding_to_row(&b))
                        .await,
                ),
                StoreOp::Binding(BindingChange::Remove {
                    endpoint_id,
                    contact,
                }) => report(
                    store
                        .delete_binding(&endpoint_id, &contact)
                        .await
                        .map(|_| ()),
                ),
                StoreOp::Cdr(c) => cdrs.push(c),
                StoreOp::RecordingStarted(r) => report(store.insert_recording(&r).await),
                StoreOp::RecordingFinished { id, finish } => {
                    match store.finish_recording(&id, &finish).await {
                        Ok(true) => {}
                        Ok(false) => {
                            warn!(target: "store", recording = %id, "recording finished but its start was never stored")
                        }
                        Err(e) => {
                            warn!(target: "store", recording = %id, error = %e, "recording row not finished")
                        }
                    }
                }
            }
            if taken < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !cdrs.is_empty() {
            if let Err(e) = store.insert_cdrs(&cdrs).await {
                // One bad record must not cost the others theirs: retry singly.
                warn!(target: "store", error = %e, records = cdrs.len(), "CDR batch refused; writing one by one");
                for c in &cdrs {
                    report(store.insert_cdr(c).await);
                }
            }
            cdrs.clear();
        }
    }
}

fn report(result: Result<(), gateway_store::StoreError>) {
    if let Err(e) = result {
        warn!(target: "store", error = %e, "database write failed");
    }
}

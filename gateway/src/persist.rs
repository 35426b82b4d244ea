//! Mapping between the engine's records and the store's rows.

use crate::registrar::{Binding, Registrar};
use gateway_sip::transaction::{PeerAddr, Transport};
use gateway_store::Store;
use std::time::{Duration, Instant};

fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "udp",
        Transport::Tcp => "tcp",
        Transport::Tls => "tls",
    }
}

fn transport_from(s: &str) -> Transport {
    match s {
        "tcp" => Transport::Tcp,
        "tls" => Transport::Tls,
        _ => Transport::Udp,
    }
}

pub fn binding_to_row(b: &Binding) -> gateway_store::Binding {
    gateway_store::Binding {
        endpoint_id: b.endpoint_id.clone(),
        contact_uri: b.contact.clone(),
        received: Some(b.source.addr.to_string()),
        transport: transport_name(b.source.transport).to_string(),
        expires_at_unix: b.expires_at_unix,
        call_id: b.call_id.clone(),
        cseq: b.cseq,
        user_agent: b.user_agent.clone(),
        path: Vec::new(),
        instance_id: None,
        reg_id: None,
    }
}

/// Load unexpired bindings into the registrar. Stream bindings come back
/// without their connection: the next request opens a new one.
pub async fn restore_bindings(
    store: &Store,
    registrar: &mut Registrar,
    now: Instant,
) -> Result<usize, String> {
    let now_unix = crate::engine::unix_now();
    let rows = store
        .load_bindings(now_unix)
        .await
        .map_err(|e| e.to_string())?;
    let mut n = 0;
    for row in rows {
        let Some(addr) = row.received.as_deref().and_then(|r| r.parse().ok()) else {
            continue;
        };
        let left = (row.expires_at_unix - now_unix).max(0) as u64;
        registrar.restore(Binding {
            endpoint_id: row.endpoint_id.clone(),
            contact: row.contact_uri.clone(),
            source: PeerAddr {
                transport: transport_from(&row.transport),
                addr,
                conn: None,
            },
            expires_at: now + Duration::from_secs(left),
            expires_at_unix: row.expires_at_unix,
            call_id: row.call_id.clone(),
            cseq: row.cseq,
            user_agent: row.user_agent.clone(),
            registered_at_unix: now_unix - 1,
        });
        n += 1;
    }
    Ok(n)
}

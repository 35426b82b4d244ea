//! Recordings a stop of the gateway interrupted: found at the next start
//! (status still `recording`) and marked `interrupted` with what the
//! repaired file holds. Each test runs on a fresh SQLite file and, when
//! `GATEWAY_TEST_POSTGRES_URL` is set (see `pg.sh`), on a fresh PostgreSQL
//! database too.

use gateway_store::{Recording, RecordingFinish, Store, StoreError, RECORDING_STATUSES};

mod common;
use common::{postgres, sqlite};

on_both!(
    unfinished_rows_are_found_and_marked_interrupted,
    a_finished_row_is_never_marked,
    an_unreadable_file_keeps_the_unknown_columns,
);

fn started(id: &str, at: i64) -> Recording {
    Recording {
        id: id.into(),
        meeting_number: "8003".into(),
        unit_code: "01".into(),
        classification: "normal".into(),
        status: "recording".into(),
        started_at_ms: at,
        ended_at_ms: None,
        duration_ms: None,
        file_path: format!("recordings/01/8003-{}.ogg", at / 1000),
        size_bytes: None,
        codec: "opus".into(),
        encrypted: false,
        key_id: None,
        sha256: None,
        participants: 3,
        packets_dropped: 0,
    }
}

fn finish() -> RecordingFinish {
    RecordingFinish {
        status: "complete".into(),
        ended_at_ms: 5_000,
        duration_ms: 4_000,
        size_bytes: 100,
        sha256: "cd".repeat(32),
        participants: 2,
        packets_dropped: 0,
    }
}

async fn unfinished_rows_are_found_and_marked_interrupted(url: &str) {
    assert!(RECORDING_STATUSES.contains(&"interrupted"));
    let store = Store::connect(url).await.unwrap();
    for (id, at) in [("late", 3_000), ("done", 1_000), ("early", 2_000)] {
        store.insert_recording(&started(id, at)).await.unwrap();
    }
    assert!(store.finish_recording("done", &finish()).await.unwrap());
    let ids: Vec<String> = store
        .unfinished_recordings()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["early", "late"], "oldest first, finished ones not");

    let hash = "0f".repeat(32);
    assert!(store
        .mark_recording_interrupted("early", Some(9_480), Some(7_480), Some(31_337), Some(&hash))
        .await
        .unwrap());
    let got = store.get_recording("early").await.unwrap().unwrap();
    assert_eq!(got.status, "interrupted");
    assert_eq!(got.ended_at_ms, Some(9_480));
    assert_eq!(got.duration_ms, Some(7_480));
    assert_eq!(got.size_bytes, Some(31_337));
    assert_eq!(got.sha256.as_deref(), Some(hash.as_str()));
    assert_eq!(got.participants, 3, "what the repair does not know stays");
    assert_eq!(got.file_path, "recordings/01/8003-2.ogg");
    // Done once: a second start does not find it again, nor mark it twice.
    let left: Vec<String> = store
        .unfinished_recordings()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, ["late"]);
    assert!(!store
        .mark_recording_interrupted("early", Some(1), Some(1), Some(1), None)
        .await
        .unwrap());
    assert_eq!(
        store
            .get_recording("early")
            .await
            .unwrap()
            .unwrap()
            .duration_ms,
        Some(7_480)
    );
    assert!(!store
        .mark_recording_interrupted("nope", None, None, None, None)
        .await
        .unwrap());
    // A malformed hash is refused before anything is written.
    let err = store
        .mark_recording_interrupted("late", None, None, None, Some("xyz"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "recording.sha256",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        store.get_recording("late").await.unwrap().unwrap().status,
        "recording"
    );
    store.close().await;
}

async fn a_finished_row_is_never_marked(url: &str) {
    // The recorder's own finish came first (a late store write, or another
    // node's live recording finished meanwhile): the repair leaves it.
    let store = Store::connect(url).await.unwrap();
    store.insert_recording(&started("r", 1_000)).await.unwrap();
    assert!(store.finish_recording("r", &finish()).await.unwrap());
    assert!(!store
        .mark_recording_interrupted("r", Some(1), Some(1), Some(1), None)
        .await
        .unwrap());
    let got = store.get_recording("r").await.unwrap().unwrap();
    assert_eq!(got.status, "complete");
    assert_eq!(got.duration_ms, Some(4_000));
    store.close().await;
}

async fn an_unreadable_file_keeps_the_unknown_columns(url: &str) {
    let store = Store::connect(url).await.unwrap();
    store.insert_recording(&started("r", 1_000)).await.unwrap();
    assert!(store
        .mark_recording_interrupted("r", None, None, None, None)
        .await
        .unwrap());
    let got = store.get_recording("r").await.unwrap().unwrap();
    assert_eq!(got.status, "interrupted");
    assert_eq!(
        (got.ended_at_ms, got.duration_ms, got.size_bytes, got.sha256),
        (None, None, None, None)
    );
    store.close().await;
}

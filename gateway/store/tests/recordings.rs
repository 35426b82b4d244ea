//! Recording rows: inserted at start, finished at close, listed by unit and
//! read by id. Each test runs on a fresh SQLite file and, when
//! `GATEWAY_TEST_POSTGRES_URL` is set (see `pg.sh`), on a fresh PostgreSQL
//! database too.

use gateway_store::{Recording, RecordingFinish, Store, StoreError};

mod common;
use common::{postgres, sqlite};

on_both!(
    start_then_finish,
    list_by_unit_newest_first,
    invalid_rows_are_refused,
    finishing_an_unknown_recording_says_so,
);

fn started(id: &str, unit: &str, at: i64, encrypted: bool) -> Recording {
    Recording {
        id: id.into(),
        meeting_number: "8003".into(),
        unit_code: unit.into(),
        classification: if encrypted { "confidential" } else { "normal" }.into(),
        status: "recording".into(),
        started_at_ms: at,
        ended_at_ms: None,
        duration_ms: None,
        file_path: format!(
            "recordings/{unit}/8003-{}.ogg{}",
            at / 1000,
            if encrypted { ".enc" } else { "" }
        ),
        size_bytes: None,
        codec: "opus".into(),
        encrypted,
        key_id: encrypted.then(|| "0123456789abcdef".into()),
        sha256: None,
        participants: 0,
        packets_dropped: 0,
    }
}

async fn start_then_finish(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let r = started("r1", "01", 1_800_000_000_000, true);
    store.insert_recording(&r).await.unwrap();
    assert_eq!(store.get_recording("r1").await.unwrap(), Some(r.clone()));
    // The same id twice is refused: each recording is one row.
    assert!(store.insert_recording(&r).await.is_err());

    let fin = RecordingFinish {
        status: "complete".into(),
        ended_at_ms: 1_800_000_007_500,
        duration_ms: 7_480,
        size_bytes: 31_337,
        sha256: "ab".repeat(32),
        participants: 2,
        packets_dropped: 1,
    };
    assert!(store.finish_recording("r1", &fin).await.unwrap());
    let got = store.get_recording("r1").await.unwrap().unwrap();
    assert_eq!(got.status, "complete");
    assert_eq!(got.ended_at_ms, Some(1_800_000_007_500));
    assert_eq!(got.duration_ms, Some(7_480));
    assert_eq!(got.size_bytes, Some(31_337));
    assert_eq!(got.sha256.as_deref(), Some("ab".repeat(32).as_str()));
    assert_eq!((got.participants, got.packets_dropped), (2, 1));
    assert!(got.encrypted);
    assert_eq!(got.key_id.as_deref(), Some("0123456789abcdef"));
    assert_eq!(got.file_path, "recordings/01/8003-1800000000.ogg.enc");
    assert!(store.get_recording("nope").await.unwrap().is_none());
    store.close().await;
}

async fn list_by_unit_newest_first(url: &str) {
    let store = Store::connect(url).await.unwrap();
    for (id, unit, at) in [
        ("a", "01", 1_000),
        ("b", "02", 2_000),
        ("c", "01", 3_000),
        ("d", "01", 2_500),
    ] {
        store
            .insert_recording(&started(id, unit, at, false))
            .await
            .unwrap();
    }
    let ids = |v: Vec<Recording>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_recordings_by_unit("01", 10).await.unwrap()),
        ["c", "d", "a"]
    );
    assert_eq!(
        ids(store.list_recordings_by_unit("01", 2).await.unwrap()),
        ["c", "d"]
    );
    assert_eq!(
        ids(store.list_recordings_by_unit("02", 10).await.unwrap()),
        ["b"]
    );
    assert!(store
        .list_recordings_by_unit("03", 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(store.list_recordings(10).await.unwrap()),
        ["c", "d", "b", "a"]
    );
    store.close().await;
}

async fn invalid_rows_are_refused(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let bad_path = |p: &str| Recording {
        file_path: p.into(),
        ..started("x", "01", 1, false)
    };
    for p in ["/etc/passwd", "recordings/../../x", "a//b", "", "a\\b"] {
        let err = store.insert_recording(&bad_path(p)).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Invalid {
                    field: "recording.file_path",
                    ..
                }
            ),
            "{p:?}: {err}"
        );
    }
    let no_key = Recording {
        key_id: None,
        ..started("y", "01", 1, true)
    };
    assert!(store
        .insert_recording(&no_key)
        .await
        .unwrap_err()
        .to_string()
        .contains("key_id"));
    let bad_status = Recording {
        status: "done".into(),
        ..started("z", "01", 1, false)
    };
    assert!(store.insert_recording(&bad_status).await.is_err());
    assert!(store.list_recordings(10).await.unwrap().is_empty());
    store.close().await;
}

async fn finishing_an_unknown_recording_says_so(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let fin = RecordingFinish {
        status: "failed".into(),
        ended_at_ms: 2,
        duration_ms: 0,
        size_bytes: 0,
        sha256: String::new(),
        participants: 0,
        packets_dropped: 0,
    };
    assert!(!store.finish_recording("ghost", &fin).await.unwrap());
    let bad = RecordingFinish {
        status: "recording?".into(),
        ..fin
    };
    assert!(store.finish_recording("ghost", &bad).await.is_err());
    store.close().await;
}

//! Grants of access to recordings between units, and which recordings a
//! unit subtree sees through them. Each test runs on a fresh SQLite file and,
//! when `GATEWAY_TEST_POSTGRES_URL` is set (see `pg.sh`), on a fresh
//! PostgreSQL database too.

use gateway_store::recording_grants;
use gateway_store::{
    NewRecordingGrant, Recording, RecordingAccess, RecordingFilter, RecordingGrant, Store,
    StoreError, Structure, UnitRef,
};

mod common;
use common::{postgres, sqlite};

on_both!(
    grant_lifecycle,
    invalid_grants_are_refused,
    visibility_follows_subtree_and_grants,
);

const UNITS: &str = r#"{"city": {"code": 1, "name": "Thành phố", "codename": "city", "kind": "city",
  "children": [
    {"code": 1, "name": "Quận A", "codename": "a", "kind": "urban_district", "children": [
      {"code": 1, "name": "Phường A1", "codename": "a1", "kind": "ward"},
      {"code": 4, "name": "Phường A4", "codename": "a4", "kind": "ward"}]},
    {"code": 2, "name": "Quận B", "codename": "b", "kind": "urban_district", "children": [
      {"code": 37, "name": "Phường B37", "codename": "b37", "kind": "ward"}]}]}}"#;

fn u(code: &str) -> UnitRef {
    UnitRef::new(Structure::Y2024, code)
}

async fn open(url: &str) -> Store {
    let store = Store::connect(url).await.unwrap();
    store.import_units(Structure::Y2024, UNITS).await.unwrap();
    store
}

fn grant(
    owner: &str,
    grantee: &str,
    recording: Option<&str>,
    expires: Option<i64>,
) -> NewRecordingGrant {
    NewRecordingGrant {
        owner: u(owner),
        grantee: u(grantee),
        recording_id: recording.map(str::to_string),
        reason: Some("written request 12/CV".into()),
        expires_at_unix: expires,
    }
}

fn recording(id: &str, unit: &str, at: i64) -> Recording {
    Recording {
        id: id.into(),
        meeting_number: "8003".into(),
        unit_code: unit.into(),
        classification: "normal".into(),
        status: "complete".into(),
        started_at_ms: at,
        ended_at_ms: Some(at + 1000),
        duration_ms: Some(1000),
        file_path: format!("recordings/{unit}/{id}.ogg"),
        size_bytes: Some(10),
        codec: "opus".into(),
        encrypted: false,
        key_id: None,
        sha256: None,
        participants: 1,
        packets_dropped: 0,
    }
}

async fn grant_lifecycle(url: &str) {
    let store = open(url).await;
    let mut tx = store.begin_admin().await.unwrap();
    let g1 = recording_grants::insert(&mut tx, &grant("00001", "002", None, None), "admin-a", 100)
        .await
        .unwrap();
    let g2 = recording_grants::insert(
        &mut tx,
        &grant("00001", "00037", Some("r1"), Some(200)),
        "admin-a",
        110,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(g2.id, g1.id + 1);

    let mut c = store.pool().acquire().await.unwrap();
    let got = recording_grants::get(&mut c, g1.id).await.unwrap().unwrap();
    assert_eq!(got, g1);
    assert_eq!(got.grantee, u("002"));
    assert_eq!(got.reason.as_deref(), Some("written request 12/CV"));
    assert!(recording_grants::get(&mut c, 999).await.unwrap().is_none());

    let ids = |v: Vec<RecordingGrant>| v.into_iter().map(|g| g.id).collect::<Vec<_>>();
    assert_eq!(
        ids(recording_grants::list_by_owner(&mut c, &u("00001"))
            .await
            .unwrap()),
        [g2.id, g1.id]
    );
    assert!(recording_grants::list_by_owner(&mut c, &u("002"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(recording_grants::list_by_grantee(&mut c, &u("00037"))
            .await
            .unwrap()),
        [g2.id]
    );

    // The whole-unit grant and the one-recording grant are different shapes.
    for (rec, grantee, now, want) in [
        (None, "002", 150, Some(g1.id)),
        (Some("r1"), "002", 150, None),
        (Some("r1"), "00037", 150, Some(g2.id)),
        // Expiry is exclusive.
        (Some("r1"), "00037", 200, None),
    ] {
        let found = recording_grants::find_active(&mut c, &u("00001"), &u(grantee), rec, now)
            .await
            .unwrap()
            .map(|g| g.id);
        assert_eq!(found, want, "{rec:?} {grantee} at {now}");
    }
    assert!(g2.active_at(199) && !g2.active_at(200));

    assert!(recording_grants::revoke(&mut c, g1.id, "admin-b", 300)
        .await
        .unwrap());
    // A second revocation changes nothing: the first one's who and when stay.
    assert!(!recording_grants::revoke(&mut c, g1.id, "admin-c", 400)
        .await
        .unwrap());
    assert!(!recording_grants::revoke(&mut c, 999, "admin-c", 400)
        .await
        .unwrap());
    let revoked = recording_grants::get(&mut c, g1.id).await.unwrap().unwrap();
    assert_eq!(
        (revoked.revoked_at_unix, revoked.revoked_by.as_deref()),
        (Some(300), Some("admin-b"))
    );
    assert!(!revoked.active_at(301));
    assert!(
        recording_grants::find_active(&mut c, &u("00001"), &u("002"), None, 301)
            .await
            .unwrap()
            .is_none()
    );
    drop(c);
    store.close().await;
}

async fn invalid_grants_are_refused(url: &str) {
    let store = open(url).await;
    let mut tx = store.begin_admin().await.unwrap();
    let same = recording_grants::insert(&mut tx, &grant("001", "001", None, None), "a", 100).await;
    assert!(
        matches!(
            same,
            Err(StoreError::Invalid {
                field: "recording_grant.grantee",
                ..
            })
        ),
        "{same:?}"
    );
    let past =
        recording_grants::insert(&mut tx, &grant("001", "002", None, Some(100)), "a", 100).await;
    assert!(
        matches!(
            past,
            Err(StoreError::Invalid {
                field: "recording_grant.expires_at_unix",
                ..
            })
        ),
        "{past:?}"
    );
    let nobody = recording_grants::insert(&mut tx, &grant("001", "002", None, None), "", 100).await;
    assert!(nobody.is_err());
    tx.rollback().await.unwrap();
    // A unit the registry does not know cannot be granted anything.
    let mut tx = store.begin_admin().await.unwrap();
    let unknown =
        recording_grants::insert(&mut tx, &grant("001", "99999", None, None), "a", 100).await;
    assert!(
        matches!(unknown, Err(StoreError::Database(_))),
        "{unknown:?}"
    );
    tx.rollback().await.unwrap();
    let mut c = store.pool().acquire().await.unwrap();
    assert!(recording_grants::list_by_owner(&mut c, &u("001"))
        .await
        .unwrap()
        .is_empty());
    drop(c);
    store.close().await;
}

async fn visibility_follows_subtree_and_grants(url: &str) {
    let store = open(url).await;
    for (id, unit, at) in [
        ("a1-old", "00001", 1_000),
        ("a1-new", "00001", 3_000),
        ("a4", "00004", 2_000),
        ("b37", "00037", 4_000),
    ] {
        store
            .insert_recording(&recording(id, unit, at))
            .await
            .unwrap();
    }
    let mut c = store.pool().acquire().await.unwrap();
    let all = RecordingFilter {
        id: None,
        owner_code: None,
        limit: 100,
    };
    macro_rules! seen {
        ($root:expr, $now:expr, $filter:expr) => {
            recording_grants::visible_recordings(&mut c, $root, Structure::Y2024, $now, $filter)
                .await
                .unwrap()
                .into_iter()
                .map(|(id, a)| {
                    format!(
                        "{id}:{}",
                        if a == RecordingAccess::Owner {
                            "own"
                        } else {
                            "granted"
                        }
                    )
                })
                .collect::<Vec<_>>()
        };
    }
    assert_eq!(
        seen!(None, 0, all),
        ["b37:own", "a1-new:own", "a4:own", "a1-old:own"]
    );
    assert_eq!(
        seen!(Some(&u("001")), 0, all),
        ["a1-new:own", "a4:own", "a1-old:own"]
    );
    assert_eq!(
        seen!(Some(&u("00001")), 0, all),
        ["a1-new:own", "a1-old:own"]
    );
    assert_eq!(seen!(Some(&u("002")), 0, all), ["b37:own"]);
    // Recordings of another structure's unit with the same code are not ours.
    assert!(seen!(Some(&UnitRef::new(Structure::Y2025, "00001")), 0, all).is_empty());

    let mut tx = store.begin_admin().await.unwrap();
    let whole = recording_grants::insert(&mut tx, &grant("00001", "002", None, Some(500)), "a", 10)
        .await
        .unwrap();
    let one =
        recording_grants::insert(&mut tx, &grant("00004", "00037", Some("a4"), None), "a", 10)
            .await
            .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(
        seen!(Some(&u("002")), 100, all),
        ["b37:own", "a1-new:granted", "a4:granted", "a1-old:granted"]
    );
    // A grant to the district does not reach its wards' users; one to the
    // ward reaches the district above it.
    assert_eq!(
        seen!(Some(&u("00037")), 100, all),
        ["b37:own", "a4:granted"]
    );
    // The owner's view is not changed by its grants.
    assert_eq!(
        seen!(Some(&u("001")), 100, all),
        ["a1-new:own", "a4:own", "a1-old:own"]
    );
    // Filters and limit.
    let by_id = RecordingFilter {
        id: Some("a1-old"),
        ..all
    };
    assert_eq!(seen!(Some(&u("002")), 100, by_id), ["a1-old:granted"]);
    assert!(seen!(Some(&u("00037")), 100, by_id).is_empty());
    let by_owner = RecordingFilter {
        owner_code: Some("00001"),
        limit: 1,
        ..all
    };
    assert_eq!(seen!(Some(&u("002")), 100, by_owner), ["a1-new:granted"]);
    // Expired (exclusive) and revoked grants show nothing.
    assert_eq!(seen!(Some(&u("002")), 500, all), ["b37:own", "a4:granted"]);
    assert!(recording_grants::revoke(&mut c, one.id, "a", 120)
        .await
        .unwrap());
    assert_eq!(
        seen!(Some(&u("002")), 130, all),
        ["b37:own", "a1-new:granted", "a1-old:granted"]
    );
    assert!(recording_grants::revoke(&mut c, whole.id, "a", 130)
        .await
        .unwrap());
    assert_eq!(seen!(Some(&u("002")), 131, all), ["b37:own"]);
    drop(c);
    store.close().await;
}

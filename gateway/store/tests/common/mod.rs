//! Test databases for integration tests: a fresh SQLite file, and a fresh
//! PostgreSQL database when `GATEWAY_TEST_POSTGRES_URL` is set (see
//! `pg.sh`); `on_both!` runs a test on each.
//!
//! The one copy: the store's tests use it as `mod common;`, the
//! administration's (`gateway/admin/tests/common`) include this file by
//! path, so both run on databases made the same way.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Unique in this machine for the life of the process: the process id and
/// a counter.
pub fn unique() -> String {
    format!(
        "{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A test database; a SQLite one's directory is removed on drop.
pub struct Db {
    pub url: String,
    dir: Option<std::path::PathBuf>,
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

pub fn sqlite() -> Db {
    let dir = std::env::temp_dir().join(format!("gateway-test-db-{}", unique()));
    Db {
        url: format!("sqlite://{}", dir.join("gw.db").display()),
        dir: Some(dir),
    }
}

/// A new database on the server `GATEWAY_TEST_POSTGRES_URL` names, or
/// `None` when it is not set.
pub async fn postgres() -> Option<Db> {
    let base = std::env::var("GATEWAY_TEST_POSTGRES_URL").ok()?;
    sqlx::any::install_default_drivers();
    let name = format!("gw_test_{}", unique());
    let mut admin = sqlx::AnyConnection::connect(&base)
        .await
        .expect("connect to GATEWAY_TEST_POSTGRES_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create test database");
    admin.close().await.ok();
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (base.as_str(), String::new()),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let host = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    Some(Db {
        url: format!("{host}/{name}{query}"),
        dir: None,
    })
}

/// `on_both!(a, b)`: tests `async fn a(url: &str)` on SQLite and on
/// PostgreSQL (`a::sqlite`, `a::postgres`). `on_both!(with World::new; a)`:
/// `async fn a(w: World)`, with `World::new(&Db)` run first on each.
/// `sqlite` and `postgres` must be in scope where it is used.
#[macro_export]
macro_rules! on_both {
    (with $ty:ident :: $new:ident; $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = super::sqlite();
                super::$name(super::$ty::$new(&db).await).await;
            }

            #[tokio::test]
            async fn postgres() {
                match super::postgres().await {
                    Some(db) => super::$name(super::$ty::$new(&db).await).await,
                    None => eprintln!("skipped: GATEWAY_TEST_POSTGRES_URL is not set"),
                }
            }
        }
    )*};
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = super::sqlite();
                super::$name(&db.url).await;
            }

            #[tokio::test]
            async fn postgres() {
                match super::postgres().await {
                    Some(db) => super::$name(&db.url).await,
                    None => eprintln!("skipped: GATEWAY_TEST_POSTGRES_URL is not set"),
                }
            }
        }
    )*};
}

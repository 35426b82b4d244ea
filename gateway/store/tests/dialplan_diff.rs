//! A new dialplan version is written as the difference to the stored read
//! model: the tables after importing A then B must equal those of a fresh
//! import of B (and back to A), whatever moved, appeared or went away.
//! Each test runs on a fresh SQLite file and, when
//! `GATEWAY_TEST_POSTGRES_URL` is set (see `pg.sh`), on a fresh PostgreSQL
//! database too; the reference import is a fresh SQLite file.

use std::fmt::Write;

use gateway_dialplan::Dialplan;
use gateway_store::batch::{select_rows, select_text_rows, Kind, Val};
use gateway_store::{Backend, Store};

mod common;
use common::{postgres, sqlite};

on_both!(
    changed_version_equals_fresh_import,
    same_text_is_recognised_without_writing,
    aggregated_reads_match_plain_ones,
);

const ENDPOINTS: usize = 1500;

/// A dialplan of a few districts and wards, `ENDPOINTS` endpoints and a few
/// hundred rules; `variant` 1 differs from 0 in every way a new version can
/// (units added, removed, renamed and moved; endpoints added, removed,
/// changed and moved; numbers passed between endpoints; a trunk removed and
/// another's ACL changed; rules renamed, swapped, changed and appended).
fn plan(variant: u32) -> String {
    let b = variant == 1;
    let mut t = String::from(
        "[gateway]\nrealm = \"diff.test\"\nmax_duration_secs = 3600\n\n\
         [[unit]]\ncode = \"01\"\nname = \"City\"\nkind = \"city\"\n",
    );
    let districts: &[u32] = if b {
        &[1, 2, 3, 4, 6]
    } else {
        &[1, 2, 3, 4, 5]
    };
    for d in districts {
        let _ = write!(
            t,
            "\n[[unit]]\ncode = \"{d:03}\"\nname = \"District {d}\"\nkind = \"urban_district\"\nparent = \"01\"\n"
        );
    }
    let wards: Vec<u32> = if b {
        (0..20).chain([99]).collect()
    } else {
        (0..20).collect()
    };
    for w in &wards {
        let parent = match (b, *w) {
            (_, 99) => 6,
            // District 5 goes away in B: its wards move to district 4.
            (true, w) if w % 5 == 4 => 4,
            (_, w) => w % 5 + 1,
        };
        let name = if b && *w == 1 {
            "Ward one, renamed".to_string()
        } else {
            format!("Phường {w}")
        };
        let _ = write!(
            t,
            "\n[[unit]]\ncode = \"{:05}\"\nname = \"{name}\"\nkind = \"ward\"\nparent = \"{parent:03}\"\n",
            10_000 + w
        );
    }
    for i in 0..ENDPOINTS {
        if b && i == 1 {
            continue;
        }
        let unit = if b && i == 6 {
            10_099
        } else {
            10_000 + (i % 20) as u32
        };
        let display = if b && i == 2 {
            "Changed display".to_string()
        } else {
            format!("Phòng họp {i}")
        };
        // B: endpoint 4 takes endpoint 3's number, 3 gets a new one.
        let numbers = match (b, i) {
            (true, 3) => "[\"599999\"]".to_string(),
            (true, 4) => "[\"500004\", \"500003\"]".to_string(),
            _ => format!("[\"{}\"]", 500_000 + i),
        };
        let aliases = if b && i == 5 {
            "[]".to_string()
        } else {
            format!("[\"room-{i}\"]")
        };
        let _ = write!(
            t,
            "\n[[endpoint]]\nid = \"e-{i}\"\nunit = \"{unit:05}\"\npassword = \"pw-{i}\"\ndisplay = \"{display}\"\n\
             numbers = {numbers}\naliases = {aliases}\nmax_contacts = {}\nvetted = {}\n",
            1 + i % 3,
            i % 2 == 0
        );
    }
    if b {
        t.push_str("\n[[endpoint]]\nid = \"e-new\"\nunit = \"10099\"\nha1_md5 = \"0123456789abcdef0123456789abcdef\"\nnumbers = [\"600000\"]\n");
    }
    t.push_str(if b {
        "\n[[trunk]]\nname = \"carrier\"\nuri = \"sip:192.0.2.1:5060\"\nacl = [\"192.0.2.0/25\", \"198.51.100.7/32\"]\n"
    } else {
        "\n[[trunk]]\nname = \"carrier\"\nuri = \"sip:192.0.2.1:5060\"\nacl = [\"192.0.2.0/24\"]\n\
         \n[[trunk]]\nname = \"other\"\nuri = \"sip:other.example\"\nacl = [\"203.0.113.0/24\"]\nunit = \"005\"\n"
    });
    for r in 0..300u32 {
        let name = match (b, r) {
            (true, 10) => "rule-11".to_string(),
            (true, 11) => "rule-10".to_string(),
            (true, 12) => "rule-12-renamed".to_string(),
            _ => format!("rule-{r}"),
        };
        let body = match r % 3 {
            0 => format!("match = {{ prefix = \"7{r:03}\" }}\naction = \"reject\"\nstatus = 403\n"),
            1 => format!(
                "match = {{ exact = \"8{r:05}\" }}\naction = \"endpoint\"\ntarget = \"e-{}\"\n",
                if b && r == 1 {
                    0
                } else {
                    r as usize % ENDPOINTS
                }
            ),
            _ => {
                let trunk = if !b && r % 6 == 5 { "other" } else { "carrier" };
                let caller = if b && r == 20 {
                    "caller_id = \"842400000000\"\n"
                } else {
                    ""
                };
                format!(
                    "match = {{ regex = '9{r:03}(\\d+)' }}\naction = \"trunk\"\ntrunk = \"{trunk}\"\nrewrite = \"84$1\"\n{caller}"
                )
            }
        };
        let _ = write!(t, "\n[[rule]]\nname = \"{name}\"\n{body}");
    }
    if b {
        t.push_str("\n[[rule]]\nname = \"appended\"\nmatch = { prefix = \"\" }\naction = \"reject\"\nstatus = 404\n");
    }
    t
}

fn parse(text: &str) -> Dialplan {
    Dialplan::parse(text, "diff.toml").unwrap_or_else(|e| panic!("{:?}", &e[..e.len().min(3)]))
}

/// Every row of every read-model table: tables with a file order in that
/// order and without its value (which only has to sort right: a new
/// version keeps the stored values of rows that did not move), the others
/// in key order.
async fn dump(store: &Store) -> Vec<(String, Vec<Vec<Val>>)> {
    use Kind::{Int as I, Text as T};
    let tables: [(&str, &str, &str, &[Kind]); 7] = [
        ("units", "code, name, kind, parent_code", "position", &[T, T, T, T]),
        (
            "endpoints",
            "id, unit_code, display, transport, max_contacts, vetted, credential_kind, credential",
            "position",
            &[T, T, T, T, I, I, T, T],
        ),
        ("endpoint_numbers", "number, endpoint_id, position", "number", &[T, T, I]),
        ("endpoint_aliases", "alias, endpoint_id, position", "alias", &[T, T, I]),
        (
            "trunks",
            "name, uri, username, password, unit_code",
            "position",
            &[T, T, T, T, T],
        ),
        ("trunk_acl", "trunk_name, position, cidr", "trunk_name, position", &[T, I, T]),
        (
            "rules",
            "name, match_kind, match_pattern, from_unit, from_trunk, action, target_endpoint, \
             target_trunk, uri_template, rewrite, strip, prepend, reject_status, reject_reason, caller_id, \
             encryption, record, max_duration_secs",
            "position",
            &[T, T, T, T, T, T, T, T, T, T, I, T, I, T, T, T, I, I],
        ),
    ];
    let mut conn = store.pool().acquire().await.unwrap();
    let mut out = Vec::new();
    for (table, cols, order, kinds) in tables {
        let sql = format!("SELECT {cols} FROM {table} ORDER BY {order}");
        out.push((
            table.to_string(),
            select_rows(&mut conn, &sql, kinds).await.unwrap(),
        ));
    }
    out
}

async fn fresh_dump(text: &str) -> Vec<(String, Vec<Vec<Val>>)> {
    let db = sqlite();
    let store = Store::connect(&db.url).await.unwrap();
    store
        .import_dialplan(&parse(text), text, "diff.toml")
        .await
        .unwrap();
    let d = dump(&store).await;
    store.close().await;
    d
}

fn assert_same(got: &[(String, Vec<Vec<Val>>)], want: &[(String, Vec<Vec<Val>>)], what: &str) {
    for ((table, g), (_, w)) in got.iter().zip(want) {
        assert_eq!(g.len(), w.len(), "{what}: row count of {table}");
        for (a, b) in g.iter().zip(w) {
            assert_eq!(a, b, "{what}: a row of {table}");
        }
    }
}

async fn rowid(store: &Store, id: &str) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT rowid FROM endpoints WHERE id = $1")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn changed_version_equals_fresh_import(url: &str) {
    let (a, b) = (plan(0), plan(1));
    let (want_a, want_b) = (fresh_dump(&a).await, fresh_dump(&b).await);
    // The fixture is meant to change every table.
    for ((table, x), (_, y)) in want_a.iter().zip(&want_b) {
        assert_ne!(x, y, "variant 1 leaves {table} unchanged");
    }
    assert_eq!(want_a[1].1.len(), ENDPOINTS);

    let store = Store::connect(url).await.unwrap();
    assert_eq!(
        store
            .import_dialplan(&parse(&a), &a, "diff.toml")
            .await
            .unwrap(),
        1
    );
    assert_same(&dump(&store).await, &want_a, "A into an empty database");
    let untouched = match store.backend() {
        Backend::Sqlite => Some(rowid(&store, "e-100").await),
        Backend::Postgres => None,
    };

    let done = store
        .import_dialplan_report(&parse(&b), &b, "diff.toml")
        .await
        .unwrap();
    assert_eq!((done.version, done.created), (2, true));
    // Some 70 rows differ (50 rules that named the removed trunk among
    // them), of some 5 000.
    assert!(
        (50..100).contains(&done.rows_written),
        "{} rows written",
        done.rows_written
    );
    assert_same(&dump(&store).await, &want_b, "A then B");
    // Rows that did not change were left where they were, not rewritten.
    if let Some(before) = untouched {
        assert_eq!(rowid(&store, "e-100").await, before);
    }
    let loaded = store.load_dialplan().await.unwrap().unwrap();
    assert_eq!(loaded.endpoints(), parse(&b).endpoints());

    assert_eq!(
        store
            .import_dialplan(&parse(&a), &a, "diff.toml")
            .await
            .unwrap(),
        3
    );
    assert_same(&dump(&store).await, &want_a, "A, B, then A again");
    store.close().await;
}

async fn same_text_is_recognised_without_writing(url: &str) {
    let a = plan(0);
    let dp = parse(&a);
    let store = Store::connect(url).await.unwrap();
    assert_eq!(
        store.import_dialplan(&dp, &a, "diff.toml").await.unwrap(),
        1
    );
    // A row changed behind the store's back stays changed: an import of the
    // same text recognises the version by its hash and writes nothing.
    sqlx::query("UPDATE endpoints SET display = 'marker' WHERE id = 'e-7'")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(
        store.import_dialplan(&dp, &a, "diff.toml").await.unwrap(),
        1
    );
    let display: String = sqlx::query_scalar("SELECT display FROM endpoints WHERE id = 'e-7'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(display, "marker");
    assert_eq!(store.dialplan_versions(10).await.unwrap().len(), 1);
    // Under another file name the same text is a new version, and its
    // import repairs the read model.
    let done = store
        .import_dialplan_report(&dp, &a, "renamed.toml")
        .await
        .unwrap();
    assert_eq!((done.version, done.created), (2, true));
    // Every other row compared equal, Vietnamese text included (the
    // database's digest of a stored row spells it as the store does).
    assert_eq!(done.rows_written, 1);
    let display: String = sqlx::query_scalar("SELECT display FROM endpoints WHERE id = 'e-7'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(display, "Phòng họp 7");
    store.close().await;
}

async fn aggregated_reads_match_plain_ones(url: &str) {
    let b = plan(1);
    let store = Store::connect(url).await.unwrap();
    store
        .import_dialplan(&parse(&b), &b, "diff.toml")
        .await
        .unwrap();
    let mut conn = store.pool().acquire().await.unwrap();
    let got = select_text_rows(
        &mut conn,
        &["id", "display", "max_contacts"],
        "endpoints WHERE id <> 'e-3'",
        "position DESC",
    )
    .await
    .unwrap();
    let want: Vec<Vec<Option<String>>> = select_rows(
        &mut conn,
        "SELECT id, display, max_contacts FROM endpoints WHERE id <> 'e-3' ORDER BY position DESC",
        &[Kind::Text, Kind::Text, Kind::Int],
    )
    .await
    .unwrap()
    .into_iter()
    .map(|r| {
        r.into_iter()
            .map(|v| match v {
                Val::Text(t) => t,
                Val::Int(i) => i.map(|i| i.to_string()),
                Val::Float(f) => f.map(|f| f.to_string()),
            })
            .collect()
    })
    .collect();
    // One removed, one added, one filtered out.
    assert_eq!(got.len(), ENDPOINTS - 1);
    assert_eq!(got, want);
    // e-new has no display: NULL, not an empty text.
    assert_eq!(got[0], [Some("e-new".into()), None, Some("1".into())]);
    assert_eq!(got[1][1].as_deref(), Some("Phòng họp 1499"));
    let none = select_text_rows(&mut conn, &["id"], "endpoints WHERE 1 = 0", "id")
        .await
        .unwrap();
    assert!(none.is_empty());
}

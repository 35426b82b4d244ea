//! Import time of a city-scale dialplan (issue 10) into SQLite: the same
//! generated dialplan as `gateway/dialplan/benches/route.rs` (100 000
//! endpoints, 100 000 rules over the 2025 units), parsed, then
//! - imported into a fresh database file (a new version and the normalized
//!   tables written in one transaction);
//! - imported again unchanged (recognised by its hash as the latest version:
//!   neither parsed nor written);
//! - a variant imported over it (a second version: the rows that differ
//!   written; the variant changes a few rules' caller-IDs);
//! - every tenth endpoint no rule names removed (a third version: those
//!   endpoints, their numbers and aliases deleted, nothing else written);
//! - loaded back from the database (parse of the stored text).
//!
//! Not run in CI; timings never fail it, a wrong count does.
//!
//!   cargo run --release -p gateway-store --example import_bench
//!   cargo run --release -p gateway-store --example import_bench -- --endpoints 20000 --rules 20000 --db sqlite:///tmp/x.db

#[path = "../../dialplan/benches/citygen/mod.rs"]
mod citygen;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use gateway_dialplan::{Action, Dialplan};
use gateway_store::Store;

const SEED: u64 = 0x4841_4E4F_4932_3032; // same as the route bench

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn parse(text: &str) -> Dialplan {
    Dialplan::parse(text, "city.toml").unwrap_or_else(|errs| {
        for e in errs.iter().take(20) {
            eprintln!("{e}");
        }
        eprintln!("FAIL: the generated dialplan does not parse");
        std::process::exit(1);
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut endpoints = 100_000;
    let mut rules = 100_000;
    let mut db: Option<String> = None;
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--endpoints" => endpoints = it.next().and_then(|v| v.parse().ok()).expect("number"),
            "--rules" => rules = it.next().and_then(|v| v.parse().ok()).expect("number"),
            "--db" => db = it.next(),
            _ => {}
        }
    }
    let dir = std::env::temp_dir().join(format!("import-bench-{}", std::process::id()));
    let url = db.unwrap_or_else(|| format!("sqlite://{}/gw.db", dir.display()));

    let plan = citygen::generate(SEED, endpoints, rules, 0, 0);
    let next = citygen::generate(SEED, endpoints, rules, 0, 1);
    println!(
        "store import benchmark: {} endpoints, {} rules, {:.1} MB of TOML, {url}",
        plan.endpoints,
        plan.rules,
        plan.toml.len() as f64 / 1e6
    );
    let t = Instant::now();
    let d = parse(&plan.toml);
    println!("{:<44} {:>9}", "parse + validate", ms(t.elapsed()));
    let d2 = parse(&next.toml);

    let store = Store::connect(&url).await.expect("connect");
    let mut bad = Vec::new();
    let t = Instant::now();
    let v1 = store
        .import_dialplan(&d, &plan.toml, "city.toml")
        .await
        .expect("import");
    println!(
        "{:<44} {:>9}",
        "import into an empty database",
        ms(t.elapsed())
    );

    let t = Instant::now();
    let again = store
        .import_dialplan(&d, &plan.toml, "city.toml")
        .await
        .expect("re-import");
    println!(
        "{:<44} {:>9}",
        "import of the same text (no new version)",
        ms(t.elapsed())
    );

    let t = Instant::now();
    let changed = store
        .import_dialplan_report(&d2, &next.toml, "city.toml")
        .await
        .expect("import variant");
    let v2 = changed.version;
    println!(
        "{:<44} {:>9}  ({} rows written)",
        "import of a changed version (difference)",
        ms(t.elapsed()),
        changed.rows_written
    );

    // Every tenth endpoint that no rule names, removed from the text: the
    // rows after each keep their file order, so only the removed ones (and
    // their numbers and aliases) are written.
    let named: HashSet<&str> = d2
        .rules()
        .iter()
        .filter_map(|r| match &r.action {
            Action::Endpoint { target } => Some(target.as_str()),
            _ => None,
        })
        .collect();
    let mut fewer = next.toml.clone();
    let mut removed = 0;
    for e in d2.endpoints().iter().step_by(10) {
        let names = [e.id.as_str(), &e.numbers[0], &e.aliases[0]];
        if names.iter().any(|n| named.contains(n)) {
            continue;
        }
        let block = format!(
            "\n[[endpoint]]\nid = \"{}\"\nunit = \"{}\"\npassword = \"changeme-{}\"\nnumbers = [\"{}\"]\naliases = [\"{}\"]\nvetted = true\n",
            e.id, e.unit, e.id, e.numbers[0], e.aliases[0]
        );
        if let Some(at) = fewer.find(&block) {
            fewer.replace_range(at..at + block.len(), "");
            removed += 1;
        }
    }
    let d3 = parse(&fewer);
    let t = Instant::now();
    let thinned = store
        .import_dialplan_report(&d3, &fewer, "city.toml")
        .await
        .expect("import without some endpoints");
    println!(
        "{:<44} {:>9}  ({} rows written)",
        format!("import without {removed} endpoints"),
        ms(t.elapsed()),
        thinned.rows_written
    );
    if thinned.rows_written != 3 * removed as u64 {
        bad.push(format!(
            "removing {removed} endpoints wrote {} rows, not {}",
            thinned.rows_written,
            3 * removed
        ));
    }

    let t = Instant::now();
    let loaded = store.load_dialplan().await.expect("load").expect("stored");
    println!("{:<44} {:>9}", "load back (read + parse)", ms(t.elapsed()));
    store.close().await;

    if again != v1 {
        bad.push(format!("same text gave version {again}, not {v1}"));
    }
    if v2 == v1 {
        bad.push("a changed text kept the version".to_string());
    }
    if loaded.endpoints().len() != d3.endpoints().len() || loaded.rules().len() != d3.rules().len()
    {
        bad.push(format!(
            "loaded {} endpoints / {} rules, imported {} / {}",
            loaded.endpoints().len(),
            loaded.rules().len(),
            d3.endpoints().len(),
            d3.rules().len()
        ));
    }
    if dir.exists() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if !bad.is_empty() {
        for b in &bad {
            eprintln!("FAIL: {b}");
        }
        std::process::exit(1);
    }
    println!("versions {v1} then {v2}; counts read back match (2 shared cores: noisy)");
}

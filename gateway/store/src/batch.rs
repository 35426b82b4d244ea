//! Set-based writes and reads: one statement per chunk of rows instead of
//! one per row, so importing a city's 100 000 endpoints or adopting them
//! into the registry is a few hundred round trips, not a few hundred
//! thousand.
//!
//! Placeholders are `?` on SQLite and `$N` on PostgreSQL: sqlx's SQLite
//! driver asks SQLite for the name of every numbered parameter, which SQLite
//! finds by a linear search, so a statement with thousands of `$N` costs
//! time quadratic in its size; anonymous `?` have no name to search.

use sqlx::{AnyConnection, Row};

/// One column value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Text(Option<String>),
    Int(Option<i64>),
    Float(Option<f64>),
}

/// The type of a column read back with [`select_rows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Float,
}

impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(Some(v))
    }
}

impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(Some(v.to_string()))
    }
}

impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Val {
        Val::Text(v)
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(Some(v))
    }
}

impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Val {
        Val::Int(v)
    }
}

impl From<Option<f64>> for Val {
    fn from(v: Option<f64>) -> Val {
        Val::Float(v)
    }
}

/// Parameters per statement: below SQLite's limit (32 766) and
/// PostgreSQL's (65 535). Larger statements gained nothing measurable.
const MAX_PARAMS: usize = 8_000;

/// Writes placeholders in the connection's dialect.
struct Params {
    sqlite: bool,
    n: usize,
}

impl Params {
    fn new(conn: &AnyConnection) -> Params {
        Params {
            sqlite: conn.backend_name().eq_ignore_ascii_case("sqlite"),
            n: 0,
        }
    }

    fn push(&mut self, sql: &mut String) {
        self.n += 1;
        if self.sqlite {
            sql.push('?');
        } else {
            sql.push('$');
            sql.push_str(&self.n.to_string());
        }
    }

    /// `(p, p, …)` with `width` placeholders.
    fn tuple(&mut self, sql: &mut String, width: usize) {
        sql.push('(');
        for j in 0..width {
            if j > 0 {
                sql.push_str(", ");
            }
            self.push(sql);
        }
        sql.push(')');
    }
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    rows: impl IntoIterator<Item = &'q [Val]>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for row in rows {
        for v in row {
            q = match v {
                Val::Text(t) => q.bind(t.as_deref()),
                Val::Int(i) => q.bind(*i),
                Val::Float(f) => q.bind(*f),
            };
        }
    }
    q
}

fn rows_per_chunk(width: usize) -> usize {
    (MAX_PARAMS / width.max(1)).max(1)
}

/// `INSERT INTO table (columns) VALUES (…), (…), …`, in chunks.
pub async fn insert_rows(
    conn: &mut AnyConnection,
    table: &str,
    columns: &[&str],
    rows: &[Vec<Val>],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(rows_per_chunk(columns.len())) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut p = Params::new(conn);
        for (i, row) in chunk.iter().enumerate() {
            debug_assert_eq!(row.len(), columns.len());
            if i > 0 {
                sql.push_str(", ");
            }
            p.tuple(&mut sql, row.len());
        }
        bind_all(sqlx::query(&sql), chunk.iter().map(Vec::as_slice))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Sets the columns after the first `key` of each row where the first `key`
/// columns match, in chunks: `UPDATE … FROM (VALUES …)`, which SQLite (3.33
/// and later) and PostgreSQL both evaluate, naming the columns of `VALUES`
/// `column1`, `column2`, ….
pub async fn update_rows(
    conn: &mut AnyConnection,
    table: &str,
    columns: &[&str],
    key: usize,
    rows: &[Vec<Val>],
) -> Result<(), sqlx::Error> {
    debug_assert!(key > 0 && key < columns.len());
    let set = columns
        .iter()
        .enumerate()
        .skip(key)
        .map(|(i, c)| format!("{c} = v.column{}", i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    let matches = columns[..key]
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{table}.{c} = v.column{}", i + 1))
        .collect::<Vec<_>>()
        .join(" AND ");
    for chunk in rows.chunks(rows_per_chunk(columns.len())) {
        let mut sql = format!("UPDATE {table} SET {set} FROM (VALUES ");
        let mut p = Params::new(conn);
        for (i, row) in chunk.iter().enumerate() {
            debug_assert_eq!(row.len(), columns.len());
            if i > 0 {
                sql.push_str(", ");
            }
            p.tuple(&mut sql, row.len());
        }
        sql.push_str(&format!(") AS v WHERE {matches}"));
        bind_all(sqlx::query(&sql), chunk.iter().map(Vec::as_slice))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Deletes the rows whose `key_columns` equal one of `keys`, in chunks.
pub async fn delete_keys(
    conn: &mut AnyConnection,
    table: &str,
    key_columns: &[&str],
    keys: &[Vec<Val>],
) -> Result<(), sqlx::Error> {
    for chunk in keys.chunks(rows_per_chunk(key_columns.len())) {
        let mut sql = format!("DELETE FROM {table} WHERE ");
        let mut p = Params::new(conn);
        if let [column] = key_columns {
            sql.push_str(column);
            sql.push_str(" IN ");
            p.tuple(&mut sql, chunk.len());
        } else {
            for (i, k) in chunk.iter().enumerate() {
                debug_assert_eq!(k.len(), key_columns.len());
                sql.push_str(if i == 0 { "(" } else { " OR (" });
                for (j, c) in key_columns.iter().enumerate() {
                    if j > 0 {
                        sql.push_str(" AND ");
                    }
                    sql.push_str(c);
                    sql.push_str(" = ");
                    p.push(&mut sql);
                }
                sql.push(')');
            }
        }
        bind_all(sqlx::query(&sql), chunk.iter().map(Vec::as_slice))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Runs `sql` (no parameters) and reads each row's columns as `kinds`.
pub async fn select_rows(
    conn: &mut AnyConnection,
    sql: &str,
    kinds: &[Kind],
) -> Result<Vec<Vec<Val>>, sqlx::Error> {
    let rows = sqlx::query(sql).fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut row = Vec::with_capacity(kinds.len());
        for (i, k) in kinds.iter().enumerate() {
            row.push(match k {
                Kind::Text => Val::Text(r.try_get(i)?),
                Kind::Int => Val::Int(r.try_get(i)?),
                Kind::Float => Val::Float(r.try_get(i)?),
            });
        }
        out.push(row);
    }
    Ok(out)
}

/// One column as SQL in a self-delimiting text form: `n` for NULL, else
/// `v<bytes>:<text>` (the byte length, so that any text, NUL included,
/// reads back unambiguously).
pub(crate) fn encoded_sql(column: &str, sqlite: bool) -> String {
    let bytes = if sqlite {
        format!("LENGTH(CAST({column} AS BLOB))")
    } else {
        format!("OCTET_LENGTH(CAST({column} AS TEXT))")
    };
    format!(
        "CASE WHEN {column} IS NULL THEN 'n' ELSE 'v' || {bytes} || ':' || CAST({column} AS TEXT) END"
    )
}

/// The value of [`encoded_sql`]'s form at `*at` (`Some(None)` for NULL),
/// moving `at` past it; `None` when the text has another form there.
pub(crate) fn next_encoded<'t>(text: &'t str, at: &mut usize) -> Option<Option<&'t str>> {
    let rest = text.get(*at..)?;
    if rest.starts_with('n') {
        *at += 1;
        return Some(None);
    }
    let rest = rest.strip_prefix('v')?;
    let colon = rest.find(':')?;
    let len: usize = rest[..colon].parse().ok()?;
    let start = *at + 1 + colon + 1;
    let value = text.get(start..start.checked_add(len)?)?;
    *at = start + len;
    Some(Some(value))
}

/// `SELECT columns FROM from_where ORDER BY order_by`, every value as text
/// (integers in decimal), read as one aggregated value rather than row by
/// row: sqlx hands rows over one at a time (from SQLite's worker thread,
/// through the `Any` driver's conversions), which for 100 000 rows costs
/// seconds, and one value costs nothing. `from_where` is everything after
/// `FROM` but the order; it takes no parameters.
pub async fn select_text_rows(
    conn: &mut AnyConnection,
    columns: &[&str],
    from_where: &str,
    order_by: &str,
) -> Result<Vec<Vec<Option<String>>>, sqlx::Error> {
    let sqlite = conn.backend_name().eq_ignore_ascii_case("sqlite");
    let row = columns
        .iter()
        .map(|c| encoded_sql(c, sqlite))
        .collect::<Vec<_>>()
        .join(" || ");
    // Both accept an ORDER BY inside the aggregate (SQLite since 3.44).
    let aggregate = if sqlite { "group_concat" } else { "string_agg" };
    let sql = format!("SELECT {aggregate}({row}, '' ORDER BY {order_by}) FROM {from_where}");
    let text: Option<String> = sqlx::query_scalar(&sql).fetch_one(&mut *conn).await?;
    let text = text.unwrap_or_default();
    let mut out = Vec::new();
    let mut at = 0;
    'rows: while at < text.len() {
        let mut row = Vec::with_capacity(columns.len());
        for _ in columns {
            match next_encoded(&text, &mut at) {
                Some(v) => row.push(v.map(str::to_string)),
                None => break 'rows,
            }
        }
        out.push(row);
    }
    if at == text.len() {
        return Ok(out);
    }
    // Never seen; should a database spell a value otherwise, read it the
    // slow way rather than misread it.
    tracing::warn!("an aggregated read did not parse; reading row by row");
    let casts = columns
        .iter()
        .map(|c| format!("CAST({c} AS TEXT)"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT {casts} FROM {from_where} ORDER BY {order_by}");
    let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| (0..columns.len()).map(|i| r.try_get(i)).collect())
        .collect()
}

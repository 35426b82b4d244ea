//! Text rendering of the API's JSON: aligned tables for lists, `key: value`
//! lines for single objects.

use serde_json::Value;

/// `value` as one pretty JSON document, or as `text` renders it.
pub(crate) fn emit(json: bool, value: &Value, text: impl FnOnce(&Value) -> String) -> String {
    if json {
        serde_json::to_string_pretty(value).unwrap_or_else(|e| e.to_string())
    } else {
        text(value)
    }
}

/// A scalar as text: strings bare, null empty, arrays comma-joined, a unit
/// reference as STRUCTURE/CODE.
pub(crate) fn s(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(x) => x.clone(),
        Value::Array(a) => a.iter().map(s).collect::<Vec<_>>().join(","),
        Value::Object(o) => match (o.get("structure"), o.get("code")) {
            (Some(st), Some(code)) if o.len() == 2 => format!("{}/{}", s(st), s(code)),
            _ => v.to_string(),
        },
        other => other.to_string(),
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn time(v: &Value) -> String {
    let Some(t) = v.as_i64() else {
        return s(v);
    };
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Columns padded to their widest cell (in characters: names are
/// Vietnamese).
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(c);
                out.extend(std::iter::repeat_n(' ', w - c.chars().count() + 2));
            }
        }
        out.trim_end().to_string()
    };
    let mut lines = vec![line(headers.to_vec())];
    for r in rows {
        lines.push(line(r.iter().map(String::as_str).collect()));
    }
    lines.join("\n")
}

/// `key: value` lines, the keys aligned; empty values are left out.
pub(crate) fn fields(pairs: &[(&str, String)]) -> String {
    let shown: Vec<&(&str, String)> = pairs.iter().filter(|(_, v)| !v.is_empty()).collect();
    let w = shown
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    shown
        .into_iter()
        .map(|(k, v)| format!("{k}:{} {v}", " ".repeat(w - k.chars().count())))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Rows of a JSON array (an empty table for anything else).
pub(crate) fn items(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_times_and_units() {
        assert_eq!(time(&json!(0)), "1970-01-01 00:00:00 UTC");
        assert_eq!(time(&json!(1_751_328_000)), "2025-07-01 00:00:00 UTC");
        assert_eq!(time(&json!(951_825_599)), "2000-02-29 11:59:59 UTC");
        assert_eq!(s(&json!({"structure": "2025", "code": "01"})), "2025/01");
        assert_eq!(s(&json!(["1001", "1002"])), "1001,1002");
        assert_eq!(s(&Value::Null), "");
    }

    #[test]
    fn aligns_columns_by_characters() {
        let t = table(
            &["CODE", "NAME"],
            &[
                vec!["00097".into(), "Ba Đình".into()],
                vec!["1".into(), "x".into()],
            ],
        );
        assert_eq!(t, "CODE   NAME\n00097  Ba Đình\n1      x");
        assert_eq!(
            fields(&[
                ("id", "1".into()),
                ("display", String::new()),
                ("unit", "2025/01".into())
            ]),
            "id:   1\nunit: 2025/01"
        );
    }
}

//! "Try a call" at a given time: `POST /api/v1/route` with `at` (RFC 3339)
//! against a dialplan whose rules have time windows.

mod common;
use common::*;

on_both!(
    with World::new;
    route_tries_a_call_at_a_given_time,
);

/// The loopback sample with, before its catch-all, a rule for `55…` that
/// holds in office hours only (Hà Nội time, the default zone).
fn windowed() -> String {
    const LOOPBACK: &str = include_str!("../../../dialplans/loopback.toml");
    let rule = "[[rule]]\nname = \"office-hours\"\nmatch = { prefix = \"55\" }\n\
                action = \"reject\"\nstatus = 480\nreason = \"Office hours only\"\n\
                time = [\"mon-fri 07:30-17:00\"]\n\n";
    let at = LOOPBACK.find("[[rule]]").expect("a rule in the sample");
    format!("{}{rule}{}", &LOOPBACK[..at], &LOOPBACK[at..])
}

async fn route_tries_a_call_at_a_given_time(w: World) {
    let (st, _, body) = w
        .raw(
            Method::POST,
            "/api/v1/versions?file_name=windowed.toml",
            Some(w.tokens["city"].as_str()),
            Some(windowed()),
            "application/toml",
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let route = |at: &str| {
        let w = &w;
        let body = json!({"caller": "1001", "target": "551234", "at": at});
        async move {
            w.call(Method::POST, "/api/v1/route", Some("city"), Some(body))
                .await
        }
    };
    // Monday 09:00 in Hà Nội: the windowed rule decides.
    let (st, _, d) = route("2025-07-07T09:00:00+07:00").await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["outcome"]["status"], 480, "{d}");
    assert!(d["trace"].to_string().contains("holds at Mon 09:00"), "{d}");
    // The same instant written in UTC.
    let (_, _, d) = route("2025-07-07T02:00:00Z").await;
    assert_eq!(d["outcome"]["status"], 480, "{d}");
    // Monday 18:00: outside, so the call falls through to the sample's rule.
    let (st, _, d) = route("2025-07-07T18:00:00+07:00").await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["outcome"]["kind"], "trunk", "{d}");
    assert!(
        d["trace"]
            .to_string()
            .contains("Mon 18:00 (Asia/Ho_Chi_Minh) is outside its time windows"),
        "{d}"
    );
    // A malformed time is a problem naming the field.
    for bad in ["2025-07-07 18:00", "tomorrow", "2025-02-30T10:00:00Z"] {
        let (st, h, body) = route(bad).await;
        assert_problem(st, &h, &body, StatusCode::UNPROCESSABLE_ENTITY, "at");
        assert_eq!(body["field"], "at", "{body}");
    }
    // Strict bodies: `at` is a string, not a number of seconds.
    let (st, h, body) = w
        .call(
            Method::POST,
            "/api/v1/route",
            Some("city"),
            Some(json!({"caller": "1001", "target": "551234", "at": 1751853600})),
        )
        .await;
    assert_problem(st, &h, &body, StatusCode::UNPROCESSABLE_ENTITY, "at");
}

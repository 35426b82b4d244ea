//! The administration Web UI under `/ui/`: static HTML, CSS and JavaScript
//! compiled into the binary, a client of the REST API under `/api/v1/`.
//!
//! Nothing is fetched from elsewhere at run time (the gateway runs on a
//! closed network), so every asset is embedded here and the content
//! security policy only admits the gateway's own origin.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION,
    REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

/// One embedded file, served at `/ui/<name>`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $ct:literal) => {
        Asset {
            name: $name,
            content_type: $ct,
            body: include_bytes!(concat!("../ui/", $name)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("i18n.js", "text/javascript; charset=utf-8"),
    asset!("dialplan.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("endpoint_form.js", "text/javascript; charset=utf-8"),
    asset!("users.js", "text/javascript; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// The page loads only what the gateway serves, and talks only to it.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'none'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Strong validators of the embedded files, computed once: the names are
/// not fingerprinted, so browsers revalidate every load (`no-cache`) and an
/// upgraded gateway never serves new HTML with old JavaScript.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = Sha256::digest(a.body);
                format!("\"{}\"", hex::encode(&digest[..16]))
            })
            .collect()
    })
}

/// The UI's routes, without state; merge them into the admin router.
pub fn router() -> Router {
    Router::new()
        .route("/ui", get(to_index))
        .route("/ui/", get(index))
        .route("/ui/{*name}", get(asset))
}

async fn to_index() -> Response {
    (
        StatusCode::PERMANENT_REDIRECT,
        [(LOCATION, HeaderValue::from_static("/ui/"))],
    )
        .into_response()
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.name == name) else {
        let mut resp = (
            StatusCode::NOT_FOUND,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such file in the administration UI; it starts at /ui/\n",
        )
            .into_response();
        resp.headers_mut()
            .insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        return resp;
    };
    let a = &ASSETS[i];
    let tag = &etags()[i];
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = a.body.into_response();
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(a.content_type));
        r
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(ETAG, v);
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str, if_none_match: Option<&str>) -> Response {
        let mut req = Request::get(path);
        if let Some(t) = if_none_match {
            req = req.header(IF_NONE_MATCH, t);
        }
        router()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn header(resp: &Response, name: axum::http::HeaderName) -> String {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    #[tokio::test]
    async fn index_and_assets_are_served_with_their_types() {
        let resp = get("/ui/", None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(&resp, CONTENT_TYPE), "text/html; charset=utf-8");
        assert_eq!(header(&resp, CACHE_CONTROL), "no-cache");
        assert!(header(&resp, CONTENT_SECURITY_POLICY).contains("default-src 'none'"));
        let body = to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        assert!(std::str::from_utf8(&body).unwrap().contains("<html"));

        for (path, ct) in [
            ("/ui/app.js", "text/javascript; charset=utf-8"),
            ("/ui/style.css", "text/css; charset=utf-8"),
            ("/ui/favicon.svg", "image/svg+xml"),
            ("/ui/index.html", "text/html; charset=utf-8"),
        ] {
            let resp = get(path, None).await;
            assert_eq!(resp.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&resp, CONTENT_TYPE), ct, "{path}");
        }
    }

    #[tokio::test]
    async fn unknown_files_are_404_and_bare_ui_redirects() {
        for path in [
            "/ui/nope.js",
            "/ui/../Cargo.toml",
            "/ui/app.js/x",
            "/ui/%2e%2e/x",
        ] {
            let resp = get(path, None).await;
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        }
        let resp = get("/ui", None).await;
        assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(header(&resp, LOCATION), "/ui/");
    }

    #[tokio::test]
    async fn a_matching_etag_answers_not_modified() {
        let first = get("/ui/app.js", None).await;
        let tag = header(&first, ETAG);
        assert!(tag.starts_with('"') && tag.len() > 10, "{tag}");
        let again = get("/ui/app.js", Some(&tag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let body = to_bytes(again.into_body(), 1 << 20).await.unwrap();
        assert!(body.is_empty());
        let other = get("/ui/app.js", Some("\"something-else\"")).await;
        assert_eq!(other.status(), StatusCode::OK);
    }

    /// Every file the page refers to is embedded, so nothing is looked up
    /// elsewhere (and a renamed file fails here, not in the browser).
    #[test]
    fn every_referenced_asset_is_embedded() {
        let names: Vec<&str> = ASSETS.iter().map(|a| a.name).collect();
        for a in ASSETS
            .iter()
            .filter(|a| a.name.ends_with(".html") || a.name.ends_with(".js"))
        {
            let text = std::str::from_utf8(a.body).unwrap();
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "{} refers to another origin",
                a.name
            );
            for quote in ['"', '\''] {
                for part in text.split(quote).skip(1).step_by(2) {
                    let file = part.strip_prefix("./").unwrap_or(part);
                    let file = file.strip_prefix("/ui/").unwrap_or(file);
                    let is_ref = [".js", ".css", ".svg"].iter().any(|e| file.ends_with(e))
                        && !file.contains(['/', ' ', '$', '{']);
                    if is_ref {
                        assert!(
                            names.contains(&file),
                            "{} refers to {file}, not embedded",
                            a.name
                        );
                    }
                }
            }
        }
    }

    /// The dictionaries: Vietnamese in NFC, and the same keys in both
    /// languages (a key missing in one would show the other's text).
    #[test]
    fn dictionaries_are_nfc_and_complete() {
        use unicode_normalization::{is_nfc, UnicodeNormalization};
        let text = std::str::from_utf8(include_bytes!("../ui/i18n.js")).unwrap();
        assert!(is_nfc(text), "i18n.js is not NFC");
        for a in ASSETS {
            if let Ok(t) = std::str::from_utf8(a.body) {
                assert_eq!(t.nfc().collect::<String>(), t, "{} is not NFC", a.name);
            }
        }
        let section = |start: &str| -> Vec<String> {
            let from = text.find(start).unwrap_or_else(|| panic!("no {start}"));
            let body = &text[from + start.len()..];
            let body = &body[..body.find("\n};").expect("dictionary end")];
            let mut keys: Vec<String> = body
                .lines()
                .filter_map(|l| {
                    let l = l.trim();
                    let (k, _) = l.split_once(':')?;
                    let k = k.trim();
                    (!k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                        .then(|| k.to_string())
                })
                .collect();
            keys.sort();
            keys
        };
        let vi = section("const vi = {");
        let en = section("const en = {");
        assert!(vi.len() > 50, "only {} Vietnamese strings", vi.len());
        assert_eq!(vi, en);
        // Every literal key the screens ask for is in the dictionaries (a
        // missing one would show the key itself).
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let js = std::str::from_utf8(a.body).unwrap();
            for (at, _) in js.match_indices("t(\"") {
                let before = js[..at].chars().next_back().unwrap_or(' ');
                if before.is_ascii_alphanumeric() || before == '_' || before == '.' {
                    continue;
                }
                let call = &js[at + 3..];
                let key = &call[..call.find('"').unwrap()];
                if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    assert!(
                        vi.binary_search(&key.to_string()).is_ok(),
                        "{} asks for {key:?}, not in the dictionaries",
                        a.name
                    );
                }
            }
        }
        // Proper diacritics, not ASCII-folded Vietnamese.
        assert!(text.contains("Đăng nhập"), "the Vietnamese login label");
    }
}

//! The `--api` mode's client: one HTTP/1.1 request per connection to a
//! running gateway's admin listener, JSON in and out.
//!
//! hyper is already in the tree (axum serves on it), so its client half
//! costs no new crate; the admin listener is plain HTTP on loopback or a
//! management network, hence no TLS here.

use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use axum::http::{Method, Request};
use serde_json::Value;
use std::time::Duration;

use super::Fail;

/// Answers larger than this are refused rather than buffered: the biggest
/// legitimate one (every endpoint of the city with its history) is far
/// below it.
const MAX_ANSWER: usize = 64 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) struct Api {
    host: String,
    port: u16,
    /// Path prefix of the gateway's URL (normally empty).
    prefix: String,
    token: Option<String>,
    pub(crate) user: String,
}

impl Api {
    /// `url` is `http://HOST[:PORT][/PREFIX]`.
    pub(crate) fn new(url: &str, user: &str) -> Result<Api, Fail> {
        let bad = |why: &str| (2, format!("--api {url:?}: {why}"));
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("must start with http:// (the admin listener is plain HTTP)"))?;
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, p) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed [ in the host"))?;
            (h.to_string(), p.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad("the port is not a number"))?,
            None => 80,
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(Api {
            host,
            port,
            prefix: prefix.to_string(),
            token: None,
            user: user.to_string(),
        })
    }

    /// POST /api/v1/session: the token every later request carries.
    pub(crate) async fn login(&mut self, password: &str) -> Result<(), Fail> {
        let body = serde_json::json!({ "user": self.user, "password": password });
        let answer = self
            .call(Method::POST, "/session", Some(&body))
            .await
            .map_err(|(c, e)| (c, format!("login as {:?} refused: {e}", self.user)))?;
        let token = answer.get("token").and_then(Value::as_str).ok_or_else(|| {
            (
                1,
                format!("the gateway's login answer has no token: {answer}"),
            )
        })?;
        self.token = Some(token.to_string());
        Ok(())
    }

    /// DELETE /api/v1/session, so that no token outlives the command.
    pub(crate) async fn logout(&mut self) {
        if self.token.is_some() {
            let _ = self.call(Method::DELETE, "/session", None).await;
            self.token = None;
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Value, Fail> {
        self.call(Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Result<Value, Fail> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub(crate) async fn patch(&self, path: &str, body: &Value) -> Result<Value, Fail> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Result<Value, Fail> {
        self.call(Method::DELETE, path, None).await
    }

    /// One request under /api/v1; a problem answer becomes its `detail`
    /// (the same text the operation's error prints on the database path).
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, Fail> {
        let target = format!("{}/api/v1{path}", self.prefix);
        let what = format!("{method} {target}");
        let (status, bytes) = tokio::time::timeout(TIMEOUT, self.exchange(method, &target, body))
            .await
            .map_err(|_| {
                (
                    1,
                    format!("{what}: no answer within {}s", TIMEOUT.as_secs()),
                )
            })?
            .map_err(|e| (1, format!("{what}: {e}")))?;
        let parsed: Option<Value> = if bytes.is_empty() {
            Some(Value::Null)
        } else {
            serde_json::from_slice(&bytes).ok()
        };
        if (200..300).contains(&status) {
            return parsed.ok_or_else(|| (1, format!("{what}: the answer is not JSON")));
        }
        let detail = parsed
            .as_ref()
            .and_then(|p| p.get("detail"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes).trim())
            });
        Err((1, detail))
    }

    async fn exchange(
        &self,
        method: Method,
        target: &str,
        body: Option<&Value>,
    ) -> Result<(u16, axum::body::Bytes), String> {
        let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("cannot connect to {}:{}: {e}", self.host, self.port))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
        let driver = tokio::spawn(conn);
        let host = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let mut req = Request::builder()
            .method(method)
            .uri(target)
            .header(HOST, host);
        if let Some(t) = &self.token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header(CONTENT_TYPE, "application/json")
                .body(Body::from(
                    serde_json::to_vec(b).map_err(|e| e.to_string())?,
                )),
            None => req.body(Body::empty()),
        }
        .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(Body::new(resp.into_body()), MAX_ANSWER)
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        driver.abort();
        Ok((status, bytes))
    }
}

/// Percent-encodes one path segment or query value.
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_api_urls() {
        let a = Api::new("http://127.0.0.1:8080", "u").unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.prefix.as_str()),
            ("127.0.0.1", 8080, "")
        );
        let a = Api::new("http://[::1]:9/gw/", "u").unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.prefix.as_str()),
            ("::1", 9, "/gw")
        );
        assert_eq!(Api::new("http://example", "u").unwrap().port, 80);
        assert_eq!(Api::new("https://x:1", "u").err().unwrap().0, 2);
        assert_eq!(Api::new("http://x:port", "u").err().unwrap().0, 2);
    }

    #[test]
    fn encodes_segments() {
        assert_eq!(enc("bp-001"), "bp-001");
        assert_eq!(enc("a/b c"), "a%2Fb%20c");
        assert_eq!(enc("Đ"), "%C4%90");
    }
}

//! Session timers (RFC 4028): header parsing, negotiation helpers and a
//! per-leg deadline tracker.
//!
//! # How the B2BUA uses this
//!
//! The gateway keeps one [`SessionTimer`] per leg, negotiated with that leg
//! alone: the two legs of a call are separate dialogs, and a session timer
//! is a property of a dialog. Refreshes are never forwarded from one leg to
//! the other.
//!
//! - When the peer of a leg does not support timers (no `Supported: timer`,
//!   no Session-Expires in its answer), we become the refresher of that leg
//!   (`refresher=uas` when we are the UAS, `uac` when we are the UAC) and
//!   refresh it ourselves with a session-refresh UPDATE (or re-INVITE if the
//!   peer does not allow UPDATE) carrying the current SDP unchanged. A room
//!   system that never refreshes therefore cannot make the call expire.
//! - When the peer is the refresher, we only watch: if no refresh arrives
//!   before [`SessionTimerAction::Expired`], the TU sends BYE on that leg
//!   and tears the call down (the other leg gets BYE as well).
//! - Every 2xx to a refresh, in either direction, restarts the timer with
//!   [`SessionTimer::refreshed`], using the interval and refresher of that
//!   2xx.
//! - A 422 to our request carries the peer's Min-SE: retry once with
//!   [`interval_after_422`].

use crate::message::{HeaderName, Headers, Request, Response};
use std::fmt;
use std::time::{Duration, Instant};

/// RFC 4028 4: Min-SE may not be below 90 seconds.
pub const MIN_SE_FLOOR: u32 = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    Uac,
    Uas,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionTimerError {
    #[error("malformed {0} header")]
    Malformed(&'static str),
    /// Answer 422 with `Min-SE: {min_se}`.
    #[error("session interval too small, Min-SE is {min_se}")]
    TooSmall { min_se: u32 },
}

/// `Session-Expires: 1800;refresher=uac`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires {
    /// Seconds.
    pub interval: u32,
    pub refresher: Option<Refresher>,
}

impl SessionExpires {
    pub fn parse(value: &str) -> Result<SessionExpires, SessionTimerError> {
        let mut parts = value.split(';');
        let interval = parse_delta(parts.next().unwrap_or(""))
            .ok_or(SessionTimerError::Malformed("Session-Expires"))?;
        let mut refresher = None;
        for p in parts {
            let (n, v) = match p.find('=') {
                Some(i) => (p[..i].trim(), p[i + 1..].trim()),
                None => (p.trim(), ""),
            };
            if n.eq_ignore_ascii_case("refresher") {
                refresher = if v.eq_ignore_ascii_case("uac") {
                    Some(Refresher::Uac)
                } else if v.eq_ignore_ascii_case("uas") {
                    Some(Refresher::Uas)
                } else {
                    return Err(SessionTimerError::Malformed("Session-Expires"));
                };
            }
        }
        Ok(SessionExpires {
            interval,
            refresher,
        })
    }

    pub fn from_headers(h: &Headers) -> Result<Option<SessionExpires>, SessionTimerError> {
        h.get(&HeaderName::SessionExpires)
            .map(SessionExpires::parse)
            .transpose()
    }
}

impl fmt::Display for SessionExpires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.interval)?;
        match self.refresher {
            Some(Refresher::Uac) => f.write_str(";refresher=uac"),
            Some(Refresher::Uas) => f.write_str(";refresher=uas"),
            None => Ok(()),
        }
    }
}

/// Delta-seconds are at most 2^32-1 per RFC 3261 25.1; longer digit runs
/// are malformed rather than silently saturated.
fn parse_delta(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `Min-SE: 90` (parameters are allowed and ignored).
pub fn parse_min_se(value: &str) -> Result<u32, SessionTimerError> {
    parse_delta(value.split(';').next().unwrap_or("")).ok_or(SessionTimerError::Malformed("Min-SE"))
}

fn min_se_of(h: &Headers) -> Result<Option<u32>, SessionTimerError> {
    h.get(&HeaderName::MinSE).map(parse_min_se).transpose()
}

fn option_tag_listed(h: &Headers, name: &HeaderName, tag: &str) -> bool {
    h.get_all(name)
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(tag))
}

/// Our session timer preferences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimerConfig {
    /// Interval we ask for and grant, seconds (RFC 4028 recommends 1800).
    pub interval: u32,
    /// The smallest interval we accept, seconds (at least 90).
    pub min_se: u32,
}

impl Default for SessionTimerConfig {
    fn default() -> Self {
        SessionTimerConfig {
            interval: 1800,
            min_se: MIN_SE_FLOOR,
        }
    }
}

/// The outcome of negotiation for one leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub interval: u32,
    pub refresher: Refresher,
    /// The response must carry `Require: timer` (only when the UAC
    /// supports timers, RFC 4028 9).
    pub require_timer: bool,
}

impl Negotiated {
    /// Whether this side refreshes, given our role in the dialog.
    pub fn we_refresh(&self, we_are_uac: bool) -> bool {
        (self.refresher == Refresher::Uac) == we_are_uac
    }

    /// Put Session-Expires (and Require: timer when needed) on our 2xx.
    pub fn apply_to_response(&self, resp: &mut Response) {
        resp.headers.set(
            HeaderName::SessionExpires,
            SessionExpires {
                interval: self.interval,
                refresher: Some(self.refresher),
            }
            .to_string(),
        );
        if self.require_timer {
            resp.headers.push(HeaderName::Require, "timer");
        }
    }
}

/// Add our session-timer headers to an outgoing INVITE or UPDATE.
pub fn apply_to_request(req: &mut Request, cfg: &SessionTimerConfig, refresher: Option<Refresher>) {
    req.headers.set(
        HeaderName::SessionExpires,
        SessionExpires {
            interval: cfg.interval.max(cfg.min_se),
            refresher,
        }
        .to_string(),
    );
    req.headers
        .set(HeaderName::MinSE, cfg.min_se.max(MIN_SE_FLOOR).to_string());
    if !option_tag_listed(&req.headers, &HeaderName::Supported, "timer") {
        req.headers.push(HeaderName::Supported, "timer");
    }
}

/// UAS negotiation (RFC 4028 9) for an INVITE or UPDATE we are answering
/// with 2xx. `Err(TooSmall)` means answer 422 with our Min-SE. A peer
/// without timer support still gets a session timer, with us as refresher.
pub fn negotiate_uas(
    req: &Request,
    cfg: &SessionTimerConfig,
) -> Result<Negotiated, SessionTimerError> {
    let ours = cfg.min_se.max(MIN_SE_FLOOR);
    let uac_supports = option_tag_listed(&req.headers, &HeaderName::Supported, "timer")
        || option_tag_listed(&req.headers, &HeaderName::Require, "timer");
    let se = SessionExpires::from_headers(&req.headers)?;
    let peer_min = min_se_of(&req.headers)?.unwrap_or(MIN_SE_FLOOR);
    let Some(se) = se else {
        return Ok(Negotiated {
            interval: cfg.interval.max(ours).max(peer_min),
            refresher: Refresher::Uas,
            require_timer: false,
        });
    };
    if se.interval < ours {
        return Err(SessionTimerError::TooSmall { min_se: ours });
    }
    // We may shorten the interval but never below either side's Min-SE.
    let interval = se.interval.min(cfg.interval.max(ours).max(peer_min));
    let refresher = match (se.refresher, uac_supports) {
        (Some(r), true) => r,
        (_, false) => Refresher::Uas,
        // The UAC left the choice to us: let it refresh, it offered to.
        (None, true) => Refresher::Uac,
    };
    Ok(Negotiated {
        interval,
        refresher,
        require_timer: uac_supports && refresher == Refresher::Uac,
    })
}

/// UAC view of the 2xx to our INVITE/UPDATE (RFC 4028 7.2). Without a
/// Session-Expires in the answer the UAS does not do timers, and we refresh
/// with the interval we asked for.
pub fn negotiate_uac(
    resp: &Response,
    cfg: &SessionTimerConfig,
) -> Result<Negotiated, SessionTimerError> {
    match SessionExpires::from_headers(&resp.headers)? {
        Some(se) => Ok(Negotiated {
            interval: se.interval,
            refresher: se.refresher.unwrap_or(Refresher::Uac),
            require_timer: false,
        }),
        None => Ok(Negotiated {
            interval: cfg.interval.max(cfg.min_se).max(MIN_SE_FLOOR),
            refresher: Refresher::Uac,
            require_timer: false,
        }),
    }
}

/// After a 422 to our request: the interval to retry with (the peer's
/// Min-SE, never less than what we asked), and the Min-SE to send. `None`
/// when the 422 has no usable Min-SE.
pub fn interval_after_422(resp: &Response, asked: u32) -> Option<u32> {
    if resp.status != 422 {
        return None;
    }
    let min = min_se_of(&resp.headers).ok()??;
    Some(min.max(asked).max(MIN_SE_FLOOR))
}

/// A 422 response's Min-SE header value for `TooSmall`.
pub fn reject_422(req: &Request, min_se: u32) -> Response {
    let mut r = crate::transaction::make_response(req, 422, None);
    r.headers.push(HeaderName::MinSE, min_se.to_string());
    r
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTimerAction {
    /// We are the refresher: send a session refresh (UPDATE or re-INVITE).
    SendRefresh,
    /// No successful refresh in time: send BYE (RFC 4028 10).
    Expired,
}

/// The session timer of one leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimer {
    interval: Duration,
    we_refresh: bool,
    refresh_at: Option<Instant>,
    expire_at: Instant,
    expired: bool,
}

impl SessionTimer {
    /// Start after a 2xx that negotiated `interval` seconds.
    pub fn new(now: Instant, interval: u32, we_refresh: bool) -> Self {
        let mut t = SessionTimer {
            interval: Duration::ZERO,
            we_refresh,
            refresh_at: None,
            expire_at: now,
            expired: false,
        };
        t.refreshed(now, interval, we_refresh);
        t
    }

    /// A refresh succeeded (2xx to a refresh in either direction).
    pub fn refreshed(&mut self, now: Instant, interval: u32, we_refresh: bool) {
        let interval = interval.max(1);
        self.interval = Duration::from_secs(u64::from(interval));
        self.we_refresh = we_refresh;
        self.refresh_at = we_refresh.then(|| now + self.interval / 2);
        // RFC 4028 10: BYE at interval - min(32 s, interval/3).
        let margin = Duration::from_secs(32).min(self.interval / 3);
        self.expire_at = now + self.interval - margin;
        self.expired = false;
    }

    pub fn we_refresh(&self) -> bool {
        self.we_refresh
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    pub fn expires_at(&self) -> Instant {
        self.expire_at
    }

    /// `None` once the session has expired.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.expired {
            return None;
        }
        Some(match self.refresh_at {
            Some(r) => r.min(self.expire_at),
            None => self.expire_at,
        })
    }

    /// At most one action per call. After `SendRefresh` the timer waits
    /// for [`SessionTimer::refreshed`] or expiry.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<SessionTimerAction> {
        if self.expired {
            return None;
        }
        if now >= self.expire_at {
            self.refresh_at = None;
            self.expired = true;
            return Some(SessionTimerAction::Expired);
        }
        if self.refresh_at.is_some_and(|r| now >= r) {
            self.refresh_at = None;
            return Some(SessionTimerAction::SendRefresh);
        }
        None
    }
}

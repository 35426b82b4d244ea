//! The front end of a new SIP INVITE, whatever becomes of the call: hop
//! count, session-timer minimum, who is calling (a registered endpoint
//! proves itself with digest, a trunk by its address or its digest
//! credentials), option tags we do not support, routing, and the callee
//! the dialplan chose. A meeting number joins the meeting
//! ([`Engine::join_meeting`]); any other callee, SIP or H.323, is placed
//! by the neutral call owner ([`Engine::bridge_sip_invite`]).

use super::{caller_label, outcome_of};
use crate::engine::{Engine, USER_AGENT};
use gateway_dialplan::{Caller, Credentials, RouteOutcome, RouteRequest};
use gateway_sip::message::{HeaderName, Request};
use gateway_sip::session_timer::{negotiate_uas, SessionTimerConfig, SessionTimerError};
use gateway_sip::transaction::{make_response, PeerAddr, ServerTxId, Transport};
use std::time::Instant;
use tracing::{debug, info, info_span};

impl Engine {
    /// A new INVITE (no To tag): check it, identify and authenticate the
    /// caller, route it, then hand it to a meeting or to the neutral call
    /// owner, which places the callee's leg.
    pub(crate) fn on_invite(&mut self, now: Instant, id: ServerTxId, req: Request, from: PeerAddr) {
        let label = req
            .headers
            .get(&HeaderName::CallId)
            .unwrap_or("")
            .to_string();
        let span = info_span!("call", call_id = %label);
        let _g = span.enter();
        if req.max_forwards().unwrap_or(70) == 0 {
            return self.reply(now, id, &req, 483, "Too Many Hops", None);
        }
        match negotiate_uas(&req, &SessionTimerConfig::default()) {
            Err(SessionTimerError::TooSmall { min_se }) => {
                let mut resp = gateway_sip::session_timer::reject_422(&req, min_se);
                resp.headers.push(HeaderName::Server, USER_AGENT);
                return self.respond(now, id, resp);
            }
            Err(e) => return self.reply(now, id, &req, 400, &e.to_string(), None),
            Ok(_) => {}
        }
        let from_na = match req.from() {
            Ok(f) => f,
            Err(_) => return self.reply(now, id, &req, 400, "Malformed From header", None),
        };
        let from_user = from_na.uri.user.clone();

        // Who is calling: a room at its fixed address is that room (it does
        // not register, so it has no digest secret to prove); any other
        // known endpoint must prove it with digest; any other caller must
        // come from a trunk's address.
        let fixed = self
            .registrar
            .fixed_endpoint_at(from.addr)
            .filter(|ep| self.dialplan.endpoint(ep).is_some())
            .map(str::to_string);
        let named = from_user
            .as_deref()
            .and_then(|u| self.dialplan.endpoint_by_user(u))
            .map(|e| e.id.clone());
        let caller = match named.or_else(|| fixed.clone()) {
            Some(ep) if fixed.as_deref() == Some(ep.as_str()) => {
                if let Err(refusal) = self.vetting.check(&ep) {
                    info!(endpoint = %ep, state = refusal.state.as_str(), "refused: fixed-address room not approved");
                    let cause = gateway_callmodel::Cause::from_sip_status(403, &refusal.text);
                    return self.refuse_with_cause(now, id, &req, &cause);
                }
                Caller::Endpoint(ep)
            }
            Some(ep) => {
                if !self.check_digest(now, id, &req, &ep, true) {
                    return;
                }
                Caller::Endpoint(ep)
            }
            None => match self.dialplan.trunk_for_source(from.addr.ip()) {
                Some(t) => Caller::Trunk(t.name.clone()),
                None => match self.trunk_by_digest(now, id, &req) {
                    TrunkAuth::Trunk(name) => Caller::Trunk(name),
                    TrunkAuth::Answered => return,
                    TrunkAuth::Unknown => {
                        info!(source = %from.addr, "call refused: unknown caller and no trunk for its address");
                        return self.reply(
                            now,
                            id,
                            &req,
                            403,
                            "Caller not recognised (not a registered endpoint nor a trunk address)",
                            None,
                        );
                    }
                },
            },
        };
        let unsupported = unsupported_requirements(&req);
        if !unsupported.is_empty() {
            let mut resp = make_response(&req, 420, None);
            resp.headers
                .push(HeaderName::Unsupported, unsupported.join(", "));
            resp.headers.push(HeaderName::Server, USER_AGENT);
            return self.respond(now, id, resp);
        }
        self.metrics.call_attempts.inc();
        let target = req
            .uri
            .user
            .clone()
            .or_else(|| req.to().ok().and_then(|t| t.uri.user))
            .unwrap_or_default();
        let route_req = RouteRequest {
            caller: caller.clone(),
            from_user: from_user.clone(),
            target: target.clone(),
            transport_secure: from.transport == Transport::Tls,
            at_unix_secs: crate::engine::unix_now(),
        };
        let mut decision = self.dialplan.route(&route_req);
        if self.sdes_without_tls
            && !route_req.transport_secure
            && decision.policy.encryption_required
            && matches!(decision.outcome, RouteOutcome::Reject { status: 488, .. })
        {
            // Allowed explicitly: SDES over plain signalling counts as
            // encrypted; the media must still be SRTP.
            let secure = RouteRequest {
                transport_secure: true,
                ..route_req.clone()
            };
            decision = self.dialplan.route(&secure);
        }
        debug!(caller = ?caller, target = %target, outcome = ?decision.outcome, trace = ?decision.trace, "routed");

        match &decision.outcome {
            RouteOutcome::Reject { status, reason } => {
                let (s, r) = (*status, reason.clone());
                self.count_outcome(outcome_of(s));
                // The dialplan's reason goes to the caller as the reason
                // phrase, a Warning and a Reason header (RFC 3326), so a
                // room's log says why (e.g. a classified meeting).
                let cause = gateway_callmodel::Cause::from_sip_status(s, &r);
                self.refuse_with_cause(now, id, &req, &cause)
            }
            RouteOutcome::Meeting { number } => {
                let number = number.clone();
                let caller = caller_label(&caller);
                self.join_meeting(now, id, req, from, &decision, &number, caller)
            }
            _ => match self.resolve_callee(now, &decision) {
                Ok(callee) => {
                    let caller = caller_label(&caller);
                    self.bridge_sip_invite(now, id, req, from, &decision, callee, caller, target)
                }
                Err(cause) => {
                    let status = cause.to_sip_status();
                    self.count_outcome(outcome_of(status));
                    let phrase = cause.sip_reason_phrase().to_string();
                    self.reply(now, id, &req, status, &phrase, None)
                }
            },
        }
    }
}

/// How a caller outside every trunk ACL fared with trunk digest credentials.
enum TrunkAuth {
    Trunk(String),
    /// A challenge or refusal was sent.
    Answered,
    /// No trunk takes digest credentials: the caller is unknown.
    Unknown,
}

/// Option tags of `Require` that we do not implement (RFC 3261 8.2.2.3).
fn unsupported_requirements(req: &Request) -> Vec<String> {
    req.headers
        .get_all(&HeaderName::Require)
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .filter(|t| !SUPPORTED_TAGS.iter().any(|s| s.eq_ignore_ascii_case(t)))
        .map(str::to_string)
        .collect()
}

/// Option tags the gateway honours.
const SUPPORTED_TAGS: &[&str] = &["100rel", "timer"];

/// The `username` parameter of a digest credentials value.
fn digest_username(value: &str) -> Option<String> {
    let at = value.find("username")?;
    let rest = value[at + "username".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

impl Engine {
    /// A trunk that calls from outside its ACL proves itself with digest.
    fn trunk_by_digest(&mut self, now: Instant, id: ServerTxId, req: &Request) -> TrunkAuth {
        let with_credentials: Vec<(String, String, String)> = self
            .dialplan
            .trunks()
            .iter()
            .filter_map(|t| Some((t.name.clone(), t.username.clone()?, t.password.clone()?)))
            .collect();
        if with_credentials.is_empty() {
            return TrunkAuth::Unknown;
        }
        let user = req
            .headers
            .get(&HeaderName::ProxyAuthorization)
            .and_then(digest_username);
        let Some(user) = user else {
            // Challenge: any trunk's credentials may answer.
            let first = with_credentials[0].clone();
            self.check_digest_for(now, id, req, &first.1, Credentials::Password(first.2), true);
            return TrunkAuth::Answered;
        };
        match with_credentials.into_iter().find(|(_, u, _)| *u == user) {
            Some((name, u, p)) => {
                if self.check_digest_for(now, id, req, &u, Credentials::Password(p), true) {
                    TrunkAuth::Trunk(name)
                } else {
                    TrunkAuth::Answered
                }
            }
            None => {
                self.metrics.auth_failures.inc();
                self.reply(now, id, req, 403, "Unknown trunk credentials", None);
                TrunkAuth::Answered
            }
        }
    }
}

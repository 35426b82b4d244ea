//! SIP calls: the front end of a new INVITE ([`front`]) and the neutral
//! call model it hands calls to. A call ([`bridged`]) owns two legs, each
//! speaking its own protocol (a SIP leg in [`sip_leg`], an H.323 leg in
//! `crate::h323::leg`), and one media bridge through the relay. The
//! dialplan decides where the callee's leg goes; this module obeys. The
//! helpers here are shared by the call model, meetings and H.323.

pub mod bridged;
mod bridged_media;
mod bridged_reoffer;
#[cfg(test)]
mod bridged_tests;
pub mod caps;
mod cdr;
pub(crate) mod dtmf;
#[cfg(test)]
mod encryption_tests;
mod front;
mod media_path;
pub mod sdes;
pub(crate) mod sip_leg;

use crate::engine::{Engine, ALLOW, SUPPORTED, USER_AGENT};
use gateway_dialplan::{Caller, Credentials, RouteRequest};
use gateway_media::Leg;
use gateway_sip::message::{HeaderName, Method, Request, Response};
use gateway_sip::transaction::{add_via, PeerAddr, Transport};
use gateway_sip::uri::{Scheme, Uri};
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
    fn leg(self) -> Leg {
        match self {
            Side::A => Leg::A,
            Side::B => Leg::B,
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The secret the digest verifier needs, in the form the dialplan holds.
pub fn auth_secret(
    c: &Credentials,
    algorithm: gateway_sip::auth::Algorithm,
) -> Option<gateway_sip::auth::UserSecret> {
    use gateway_dialplan::Ha1Algorithm;
    use gateway_sip::auth::{Algorithm, UserSecret};
    let form = match (c, algorithm) {
        (Credentials::Password(p), _) => return Some(UserSecret::Password(p.clone())),
        (_, Algorithm::Md5) => Ha1Algorithm::Md5,
        (_, Algorithm::Sha256) => Ha1Algorithm::Sha256,
        // A -sess HA1 depends on the nonce: only a password answers it.
        _ => return None,
    };
    // An HA1 only answers for the algorithm it was computed with; the
    // registry's endpoints may hold both forms.
    c.ha1(form).map(|h| UserSecret::Ha1(h.to_string()))
}

fn outcome_of(status: u16) -> &'static str {
    match status {
        200..=299 => "answered",
        486 | 600 => "busy",
        408 | 480 => "no_answer",
        487 => "cancelled",
        401..=404 | 488 | 603 | 606 => "rejected",
        _ => "failed",
    }
}

/// The socket address of a URI whose host is an IP literal.
fn uri_peer(uri: &Uri) -> Result<PeerAddr, String> {
    let host = uri.host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = host
        .parse()
        .map_err(|_| format!("host {host} is not an IP address (DNS is not supported yet)"))?;
    let transport = match (uri.scheme.clone(), uri.transport().as_deref()) {
        (Scheme::Sips, _) | (_, Some("tls")) => Transport::Tls,
        (_, Some("tcp")) => Transport::Tcp,
        _ => Transport::Udp,
    };
    let default_port = if transport == Transport::Tls {
        5061
    } else {
        5060
    };
    Ok(PeerAddr {
        transport,
        addr: SocketAddr::new(ip, uri.port.unwrap_or(default_port)),
        conn: None,
    })
}

impl Engine {
    pub(crate) fn count_outcome(&self, outcome: &'static str) {
        self.metrics
            .calls_completed
            .get_or_create(&crate::metrics::OutcomeLabel { outcome })
            .inc();
    }

    /// A new INVITE towards a callee, outside any dialog: our From tag and
    /// Contact, a fresh Call-ID, the caller's number and display name.
    pub(crate) fn callee_invite(
        &mut self,
        uri: &Uri,
        peer: PeerAddr,
        caller_user: &str,
        display: Option<&str>,
        tag: &str,
        max_forwards: u32,
    ) -> Request {
        let hp = self.sent_by(peer.transport);
        let mut req = Request::new(Method::Invite, uri.clone());
        let branch = self.new_branch();
        add_via(&mut req, peer.transport, &hp, &branch);
        req.headers
            .push(HeaderName::MaxForwards, max_forwards.to_string());
        let display = display
            .map(|d| format!("{} ", quote_display(d)))
            .unwrap_or_default();
        let from_host =
            crate::engine::host_port(self.cfg.advertised_ip, self.cfg.udp_port.unwrap_or(5060));
        req.headers.push(
            HeaderName::From,
            format!(
                "{display}<sip:{caller_user}@{}>;tag={tag}",
                from_host.split(':').next().unwrap_or(&from_host)
            ),
        );
        let mut to_uri = uri.clone();
        to_uri.params.clear();
        to_uri.headers.clear();
        req.headers.push(HeaderName::To, format!("<{to_uri}>"));
        let call_id = format!("{}@{}", self.random_hex(12), self.cfg.advertised_ip);
        req.headers.push(HeaderName::CallId, call_id);
        req.headers.push(HeaderName::CSeq, "1 INVITE");
        req.headers
            .push(HeaderName::Contact, self.contact(peer.transport));
        req.headers.push(HeaderName::Allow, ALLOW);
        req.headers.push(HeaderName::Supported, SUPPORTED);
        req.headers.push(HeaderName::UserAgent, USER_AGENT);
        req
    }
}

/// The caller as CDRs and logs name it: `endpoint:1001`, `trunk:carrier`.
pub(crate) fn caller_label(caller: &Caller) -> String {
    match caller {
        Caller::Endpoint(e) => format!("endpoint:{e}"),
        Caller::Trunk(t) => format!("trunk:{t}"),
        Caller::Anonymous { source } => format!("anonymous:{source}"),
    }
}

/// The INVITE again, answering the callee's 401/407 digest challenge with
/// `user`/`pass` (a trunk's): next CSeq, no Via (the caller adds one).
/// `None` when the response carries no challenge we can answer.
pub(crate) fn authorized_retry(
    invite: &Request,
    resp: &Response,
    user: &str,
    pass: &str,
    cnonce: &str,
) -> Option<Request> {
    let (challenge_header, answer_header) = if resp.status == 407 {
        (
            HeaderName::ProxyAuthenticate,
            HeaderName::ProxyAuthorization,
        )
    } else {
        (HeaderName::WwwAuthenticate, HeaderName::Authorization)
    };
    let challenge =
        gateway_sip::auth::select_challenge(resp.headers.get_all(&challenge_header)).ok()?;
    let mut req = invite.clone();
    let seq = req.cseq().map(|c| c.seq).unwrap_or(1) + 1;
    req.headers.set(HeaderName::CSeq, format!("{seq} INVITE"));
    req.headers.remove(&HeaderName::Via);
    let uri = req.uri.to_string();
    let answer = challenge.respond(user, pass, "INVITE", &uri, cnonce, 1);
    req.headers.set(answer_header, answer);
    Some(req)
}

fn is_sdp_type(content_type: &str) -> bool {
    content_type
        .trim()
        .to_ascii_lowercase()
        .starts_with("application/sdp")
}

/// The session description a message carries: its body when that is SDP,
/// or the SDP part of a multipart body (SIP-I carriers send SDP + ISUP).
/// Other bodies (pidf, ISUP alone …) are not offers.
pub(crate) fn sdp_body(headers: &gateway_sip::message::Headers, body: &[u8]) -> Option<Vec<u8>> {
    if body.is_empty() {
        return None;
    }
    let ct = headers.get(&HeaderName::ContentType)?;
    if is_sdp_type(ct) {
        return Some(body.to_vec());
    }
    if ct.trim().to_ascii_lowercase().starts_with("multipart/") {
        return gateway_sip::multipart::split(ct, body)
            .ok()?
            .into_iter()
            .find(|p| p.content_type().is_some_and(is_sdp_type))
            .map(|p| p.body);
    }
    None
}

/// A display name as one quoted-string, whatever form it arrived in.
fn quote_display(d: &str) -> String {
    let inner = d
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .filter(|x| !x.replace("\\\\", "").replace("\\\"", "").contains('"'))
        .map(|x| x.replace("\\\"", "\"").replace("\\\\", "\\"))
        .unwrap_or_else(|| d.to_string());
    format!("\"{}\"", inner.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The route request `gateway dialplan route` explains: the caller is the
/// endpoint named by the From user if there is one, else the trunk whose
/// ACL holds the source address, else anonymous.
pub fn route_request_for_cli(
    dp: &gateway_dialplan::Dialplan,
    from: &str,
    to: &str,
    source: IpAddr,
    secure: bool,
) -> Result<RouteRequest, String> {
    let from_uri = Uri::parse(from).map_err(|e| format!("--from {from}: {e}"))?;
    let target = match Uri::parse(to) {
        Ok(u) => u.user.unwrap_or_default(),
        Err(_) => to.to_string(),
    };
    let caller = match from_uri
        .user
        .as_deref()
        .and_then(|u| dp.endpoint_by_user(u))
    {
        Some(e) => Caller::Endpoint(e.id.clone()),
        None => match dp.trunk_for_source(source) {
            Some(t) => Caller::Trunk(t.name.clone()),
            None => Caller::Anonymous { source },
        },
    };
    Ok(RouteRequest {
        caller,
        from_user: from_uri.user,
        target,
        transport_secure: secure,
        at_unix_secs: crate::engine::unix_now(),
    })
}

//! SIP dialogs (RFC 3261 section 12), the INVITE-session glare rules
//! (RFC 3261 14, RFC 3311 5.2), reliable provisional responses (RFC 3262)
//! and the UAS 2xx retransmission of RFC 3261 13.3.1.4.
//!
//! Like the transaction layer, nothing here performs I/O or reads a clock:
//! the retransmission helpers hand out deadlines and take `Instant`s.
//!
//! The dialog builds requests without a Via: the sender adds the top Via with
//! a fresh branch ([`crate::transaction::add_via`]) because only the
//! transport side knows the sent-by address.

use crate::message::{HeaderName, Headers, Message, Method, Request, Response};
use crate::transaction::wire;
use crate::uri::{Scheme, Uri};
use std::time::{Duration, Instant};

/// Identifies a dialog from this side's point of view.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    /// Empty when the peer sent no tag (RFC 2543 peers).
    pub remote_tag: String,
}

impl DialogId {
    /// The dialog a received request belongs to: our tag is in To, theirs
    /// in From. `None` if the request is outside a dialog (no To tag).
    pub fn of_received_request(req: &Request) -> Option<DialogId> {
        Some(DialogId {
            call_id: wire::call_id(&req.headers)?.to_string(),
            local_tag: wire::header_tag(&req.headers, &HeaderName::To)?,
            remote_tag: wire::header_tag(&req.headers, &HeaderName::From).unwrap_or_default(),
        })
    }

    /// The dialog a received response belongs to: our tag is in From,
    /// theirs in To. `None` without a To tag.
    pub fn of_received_response(resp: &Response) -> Option<DialogId> {
        Some(DialogId {
            call_id: wire::call_id(&resp.headers)?.to_string(),
            local_tag: wire::header_tag(&resp.headers, &HeaderName::From)?,
            remote_tag: wire::header_tag(&resp.headers, &HeaderName::To)?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
    Terminated,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    #[error("missing or malformed {0} header")]
    BadHeader(&'static str),
    #[error("the response carries no To tag")]
    NoRemoteTag,
    #[error("the response does not create a dialog")]
    NotDialogCreating,
    #[error("CSeq {got} is lower than the last remote CSeq {last}")]
    CSeqOutOfOrder { got: u32, last: u32 },
    #[error("the dialog is terminated")]
    Terminated,
    #[error("the provisional response is not reliable (no RSeq or 100rel)")]
    NotReliable,
    #[error("a reliable provisional response is still unacknowledged")]
    ProvisionalPending,
    #[error("no reliable provisional response matches this RAck")]
    NoMatchingProvisional,
}

impl DialogError {
    /// The status a UAS answers when a received request causes this error.
    pub fn status(&self) -> u16 {
        match self {
            DialogError::BadHeader(_) => 400,
            // RFC 3261 12.2.2: out-of-order requests get a 500.
            DialogError::CSeqOutOfOrder { .. } => 500,
            DialogError::Terminated | DialogError::NoMatchingProvisional => 481,
            DialogError::ProvisionalPending => 500,
            _ => 400,
        }
    }
}

/// Methods whose request and 2xx may change the remote target (RFC 3261
/// 12.2; UPDATE per RFC 3311; SUBSCRIBE/NOTIFY per RFC 6665; REFER).
pub fn is_target_refresh(m: &Method) -> bool {
    matches!(
        m,
        Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
    )
}

/// One dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub id: DialogId,
    pub state: DialogState,
    /// Our From/To header value, including our tag.
    pub local_party: String,
    /// The peer's From/To header value, including its tag when it has one.
    pub remote_party: String,
    pub local_uri: Uri,
    pub remote_uri: Uri,
    /// The CSeq of the last request we sent in this dialog.
    pub local_cseq: u32,
    /// The CSeq of the last request the peer sent; `None` until it sends one.
    pub remote_cseq: Option<u32>,
    /// Where requests go: the peer's Contact.
    pub remote_target: Uri,
    /// Route header values in the order they are sent.
    pub route_set: Vec<String>,
    /// Our Contact, sent in target-refresh requests.
    pub local_contact: String,
    /// The dialog was created by a SIPS request over TLS.
    pub secure: bool,
    /// We sent the dialog-creating INVITE (and so own the Call-ID, which
    /// sets the glare retry range).
    pub is_uac: bool,
    /// Offer/answer and pending-INVITE bookkeeping for glare detection.
    pub session: InviteSession,
    /// The RSeq of the last reliable provisional we acknowledged (UAC).
    last_remote_rseq: Option<u32>,
}

fn uri_of(h: &Headers, name: &HeaderName, what: &'static str) -> Result<Uri, DialogError> {
    h.get(name)
        .and_then(wire::name_addr_uri)
        .ok_or(DialogError::BadHeader(what))
}

impl Dialog {
    /// The UAS side of a dialog created by an INVITE we are about to answer
    /// with a 1xx/2xx carrying `local_tag`. The dialog starts Early; call
    /// [`Dialog::confirm`] when the 2xx is sent.
    pub fn uas_from_invite(
        req: &Request,
        local_tag: &str,
        local_contact: &str,
    ) -> Result<Dialog, DialogError> {
        let call_id = wire::call_id(&req.headers)
            .ok_or(DialogError::BadHeader("Call-ID"))?
            .to_string();
        let (seq, _) = wire::cseq(&req.headers).ok_or(DialogError::BadHeader("CSeq"))?;
        let from = req
            .headers
            .get(&HeaderName::From)
            .ok_or(DialogError::BadHeader("From"))?;
        let to = req
            .headers
            .get(&HeaderName::To)
            .ok_or(DialogError::BadHeader("To"))?;
        let remote_target = uri_of(&req.headers, &HeaderName::Contact, "Contact")?;
        Ok(Dialog {
            id: DialogId {
                call_id,
                local_tag: local_tag.to_string(),
                remote_tag: wire::tag(from).unwrap_or_default(),
            },
            state: DialogState::Early,
            local_party: wire::with_tag(to, local_tag),
            remote_party: from.trim().to_string(),
            local_uri: uri_of(&req.headers, &HeaderName::To, "To")?,
            remote_uri: uri_of(&req.headers, &HeaderName::From, "From")?,
            local_cseq: 0,
            remote_cseq: Some(seq),
            remote_target,
            route_set: req
                .headers
                .get_all(&HeaderName::RecordRoute)
                .map(str::to_string)
                .collect(),
            local_contact: local_contact.to_string(),
            secure: req.uri.scheme == Scheme::Sips,
            is_uac: false,
            session: InviteSession {
                remote_invite: true,
                remote_offer: !req.body.is_empty(),
                ..InviteSession::default()
            },
            last_remote_rseq: None,
        })
    }

    /// The UAC side of a dialog created by a 101-199 (Early) or 2xx
    /// (Confirmed) response with a To tag to our INVITE.
    pub fn uac_from_response(req: &Request, resp: &Response) -> Result<Dialog, DialogError> {
        let state = match resp.status {
            101..=199 => DialogState::Early,
            200..=299 => DialogState::Confirmed,
            _ => return Err(DialogError::NotDialogCreating),
        };
        let call_id = wire::call_id(&req.headers)
            .ok_or(DialogError::BadHeader("Call-ID"))?
            .to_string();
        let (seq, _) = wire::cseq(&req.headers).ok_or(DialogError::BadHeader("CSeq"))?;
        let from = req
            .headers
            .get(&HeaderName::From)
            .ok_or(DialogError::BadHeader("From"))?;
        let local_tag = wire::tag(from).ok_or(DialogError::BadHeader("From"))?;
        let to = resp
            .headers
            .get(&HeaderName::To)
            .ok_or(DialogError::BadHeader("To"))?;
        let remote_tag = wire::tag(to).ok_or(DialogError::NoRemoteTag)?;
        // A 2xx must carry a Contact; an early dialog without one keeps
        // sending to the Request-URI until a later response supplies it.
        let remote_target = match uri_of(&resp.headers, &HeaderName::Contact, "Contact") {
            Ok(u) => u,
            Err(e) if state == DialogState::Confirmed => return Err(e),
            Err(_) => req.uri.clone(),
        };
        let mut route_set: Vec<String> = resp
            .headers
            .get_all(&HeaderName::RecordRoute)
            .map(str::to_string)
            .collect();
        route_set.reverse();
        let local_contact = req
            .headers
            .get(&HeaderName::Contact)
            .unwrap_or_default()
            .to_string();
        let mut session = InviteSession {
            local_invite: state == DialogState::Early,
            local_offer: !req.body.is_empty(),
            ..InviteSession::default()
        };
        if !resp.body.is_empty() {
            session.local_offer = false;
        }
        Ok(Dialog {
            id: DialogId {
                call_id,
                local_tag,
                remote_tag,
            },
            state,
            local_party: from.trim().to_string(),
            remote_party: to.trim().to_string(),
            local_uri: uri_of(&req.headers, &HeaderName::From, "From")?,
            remote_uri: uri_of(&resp.headers, &HeaderName::To, "To")?,
            local_cseq: seq,
            remote_cseq: None,
            remote_target,
            route_set,
            local_contact,
            secure: req.uri.scheme == Scheme::Sips,
            is_uac: true,
            session,
            last_remote_rseq: None,
        })
    }

    pub fn confirm(&mut self) {
        if self.state == DialogState::Early {
            self.state = DialogState::Confirmed;
        }
    }

    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
    }

    /// Request-URI and Route headers per RFC 3261 12.2.1.1: with a loose
    /// first route the Request-URI is the remote target; with a strict one
    /// the first route becomes the Request-URI and the remote target goes
    /// last in Route.
    fn target_and_routes(&self) -> (Uri, Vec<String>) {
        match self.route_set.first() {
            None => (self.remote_target.clone(), Vec::new()),
            Some(first) if wire::route_is_loose(first) => {
                (self.remote_target.clone(), self.route_set.clone())
            }
            Some(first) => match wire::name_addr_uri(first) {
                Some(mut uri) => {
                    // Parameters not allowed in a Request-URI are stripped
                    // (RFC 3261 19.1.1 table 1: method, maddr stays).
                    uri.headers.clear();
                    let mut routes: Vec<String> = self.route_set[1..].to_vec();
                    routes.push(format!("<{}>", wire::fmt_uri(&self.remote_target)));
                    (uri, routes)
                }
                None => (self.remote_target.clone(), self.route_set.clone()),
            },
        }
    }

    fn build(&self, method: Method, seq: u32) -> Request {
        let (uri, routes) = self.target_and_routes();
        let mut headers = Headers::new();
        headers.push(HeaderName::From, self.local_party.clone());
        headers.push(HeaderName::To, self.remote_party.clone());
        headers.push(HeaderName::CallId, self.id.call_id.clone());
        headers.push(HeaderName::CSeq, format!("{seq} {method}"));
        headers.push(HeaderName::MaxForwards, "70");
        for r in routes {
            headers.push(HeaderName::Route, r);
        }
        if is_target_refresh(&method) && !self.local_contact.is_empty() {
            headers.push(HeaderName::Contact, self.local_contact.clone());
        }
        Request {
            method,
            uri,
            headers,
            body: Vec::new(),
        }
    }

    /// A new request inside the dialog. The local CSeq goes up by one,
    /// except for ACK and CANCEL, which reuse the CSeq of the request they
    /// belong to (use [`Dialog::create_ack`] for ACK and
    /// [`crate::transaction::build_cancel`] for CANCEL when possible).
    pub fn create_request(&mut self, method: Method) -> Result<Request, DialogError> {
        if self.state == DialogState::Terminated && method != Method::Ack {
            return Err(DialogError::Terminated);
        }
        let seq = if matches!(method, Method::Ack | Method::Cancel) {
            self.local_cseq
        } else {
            // CSeq must stay below 2^31 (RFC 3261 8.1.1.5).
            self.local_cseq = (self.local_cseq + 1) % (1 << 31);
            self.local_cseq
        };
        Ok(self.build(method, seq))
    }

    /// The ACK for a 2xx to the INVITE with CSeq number `invite_cseq`
    /// (RFC 3261 13.2.2.4). The sender adds a Via with a new branch.
    pub fn create_ack(&self, invite_cseq: u32) -> Request {
        self.build(Method::Ack, invite_cseq)
    }

    /// Check and absorb a request received in this dialog (RFC 3261
    /// 12.2.2). On error, answer with [`DialogError::status`].
    pub fn on_request(&mut self, req: &Request) -> Result<(), DialogError> {
        let (seq, _) = wire::cseq(&req.headers).ok_or(DialogError::BadHeader("CSeq"))?;
        if self.state == DialogState::Terminated && req.method != Method::Ack {
            return Err(DialogError::Terminated);
        }
        // ACK and CANCEL carry the CSeq of the INVITE they belong to.
        if !matches!(req.method, Method::Ack | Method::Cancel) {
            if let Some(last) = self.remote_cseq {
                if seq < last {
                    return Err(DialogError::CSeqOutOfOrder { got: seq, last });
                }
            }
            self.remote_cseq = Some(seq);
        }
        if is_target_refresh(&req.method) {
            if let Some(uri) = req
                .headers
                .get(&HeaderName::Contact)
                .and_then(wire::name_addr_uri)
            {
                self.remote_target = uri;
            }
        }
        match req.method {
            Method::Bye => self.state = DialogState::Terminated,
            Method::Ack => self.confirm(),
            _ => {}
        }
        Ok(())
    }

    /// Absorb a response to a request we sent in this dialog: 2xx to a
    /// target refresh updates the remote target, a 2xx to INVITE confirms
    /// an early dialog, and 481/408 end the dialog (RFC 3261 12.2.1.2).
    pub fn on_response(&mut self, method: &Method, resp: &Response) {
        if (200..300).contains(&resp.status) || (101..200).contains(&resp.status) {
            if is_target_refresh(method) {
                if let Some(uri) = resp
                    .headers
                    .get(&HeaderName::Contact)
                    .and_then(wire::name_addr_uri)
                {
                    self.remote_target = uri;
                }
            }
            if *method == Method::Invite && resp.status >= 200 {
                self.confirm();
            }
        } else if matches!(resp.status, 408 | 481) {
            self.state = DialogState::Terminated;
        }
    }

    /// The PRACK for a reliable provisional response (RFC 3262 7.2), or
    /// `Ok(None)` if this RSeq was already acknowledged (a retransmission).
    pub fn create_prack(&mut self, resp: &Response) -> Result<Option<Request>, DialogError> {
        let rseq = reliable_rseq(resp).ok_or(DialogError::NotReliable)?;
        let (cseq, method) = wire::cseq(&resp.headers).ok_or(DialogError::BadHeader("CSeq"))?;
        if let Some(last) = self.last_remote_rseq {
            // Retransmissions carry an RSeq we have seen, and RFC 3262 4
            // says a response after a gap must not be acknowledged either.
            if rseq != last.wrapping_add(1) {
                return Ok(None);
            }
        }
        self.last_remote_rseq = Some(rseq);
        let mut req = self.create_request(Method::Prack)?;
        req.headers
            .push(HeaderName::RAck, format!("{rseq} {cseq} {method}"));
        Ok(Some(req))
    }
}

/// The RSeq of a reliable provisional response (101-199 with `Require:
/// 100rel` and an RSeq).
pub fn reliable_rseq(resp: &Response) -> Option<u32> {
    if !(101..=199).contains(&resp.status) {
        return None;
    }
    let requires_100rel = resp
        .headers
        .get_all(&HeaderName::Require)
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("100rel"));
    if !requires_100rel {
        return None;
    }
    resp.headers.get(&HeaderName::RSeq)?.trim().parse().ok()
}

/// Whether a request or response body carries a session description
/// offer/answer (used by the glare tracker).
pub fn has_sdp(msg: &Message) -> bool {
    !msg.body().is_empty()
        && msg
            .headers()
            .get(&HeaderName::ContentType)
            .is_some_and(|ct| {
                ct.trim()
                    .to_ascii_lowercase()
                    .starts_with("application/sdp")
            })
}

/// How to answer a request that may collide with one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlareVerdict {
    Proceed,
    /// Both sides sent an INVITE (or offer) at once: answer 491 Request
    /// Pending (RFC 3261 14.2, RFC 3311 5.2); the sender retries after
    /// [`glare_retry_delay`].
    RequestPending,
    /// The peer sent a second INVITE/offer while its first is unanswered:
    /// answer 500 with a Retry-After of 0-10 s (RFC 3261 14.2).
    ServerError,
}

/// Which INVITE/UPDATE transactions and offers are outstanding in each
/// direction on one dialog. The TU reports what it sends and receives; the
/// tracker says when an incoming request must be refused because of glare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InviteSession {
    /// We sent an INVITE that has no final response yet.
    pub local_invite: bool,
    /// We received an INVITE that we have not finally answered.
    pub remote_invite: bool,
    /// We made an offer that has not been answered.
    pub local_offer: bool,
    /// The peer made an offer we have not answered.
    pub remote_offer: bool,
}

impl InviteSession {
    /// Whether we may send an INVITE or an UPDATE with an offer now.
    pub fn can_send_offer(&self) -> bool {
        !self.local_invite && !self.remote_invite && !self.local_offer && !self.remote_offer
    }

    /// We are sending `method` (with an offer if `offer`).
    pub fn on_send(&mut self, method: &Method, offer: bool) {
        if *method == Method::Invite {
            self.local_invite = true;
        }
        if offer && matches!(method, Method::Invite | Method::Update) {
            self.local_offer = true;
        }
    }

    /// The final response to our `method` arrived; `answer` if it carried
    /// the answer (any final ends our offer: a failure voids it).
    pub fn on_final_received(&mut self, method: &Method) {
        if *method == Method::Invite {
            self.local_invite = false;
        }
        if matches!(method, Method::Invite | Method::Update) {
            self.local_offer = false;
        }
    }

    /// An answer to our offer arrived before the final (reliable 1xx, PRACK).
    pub fn on_answer_received(&mut self) {
        self.local_offer = false;
    }

    /// A request arrived; decide before passing it on.
    pub fn on_receive(&mut self, method: &Method, offer: bool) -> GlareVerdict {
        let carries_offer = *method == Method::Invite || (offer && *method == Method::Update);
        if !carries_offer {
            return GlareVerdict::Proceed;
        }
        if self.remote_invite && *method == Method::Invite || self.remote_offer && offer {
            return GlareVerdict::ServerError;
        }
        if self.local_invite && *method == Method::Invite || self.local_offer && offer {
            return GlareVerdict::RequestPending;
        }
        if *method == Method::Invite {
            self.remote_invite = true;
        }
        if offer {
            self.remote_offer = true;
        }
        GlareVerdict::Proceed
    }

    /// We sent the final response to the peer's `method`.
    pub fn on_final_sent(&mut self, method: &Method) {
        if *method == Method::Invite {
            self.remote_invite = false;
        }
        if matches!(method, Method::Invite | Method::Update) {
            self.remote_offer = false;
        }
    }

    /// We answered the peer's offer before the final (reliable 1xx).
    pub fn on_answer_sent(&mut self) {
        self.remote_offer = false;
    }
}

/// How long to wait before retrying after a 491 (RFC 3261 14.1): the owner
/// of the Call-ID (the dialog's original UAC) waits 2.1-4 s, the other side
/// 0-2 s, in 10 ms units. `random` is any uniformly random value.
pub fn glare_retry_delay(owns_call_id: bool, random: u32) -> Duration {
    let ticks = if owns_call_id {
        210 + random % 191 // 2100..=4000 ms
    } else {
        random % 201 // 0..=2000 ms
    };
    Duration::from_millis(u64::from(ticks) * 10)
}

/// Exponential retransmission from T1 with an optional cap, giving up after
/// a fixed span.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Backoff {
    next: Instant,
    interval: Duration,
    cap: Option<Duration>,
    give_up: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetransmitAction {
    /// Send this response again (through
    /// [`crate::transaction::TransactionLayer::respond`]).
    Resend(Response),
    /// 64*T1 passed without acknowledgement. For a reliable provisional the
    /// TU rejects the INVITE with a 5xx (RFC 3262 3); for a 2xx it sends
    /// BYE (RFC 3261 13.3.1.4).
    GiveUp,
}

impl Backoff {
    fn new(now: Instant, t1: Duration, cap: Option<Duration>) -> Backoff {
        let t1 = t1.max(Duration::from_millis(1));
        Backoff {
            next: now + t1,
            interval: t1,
            cap,
            give_up: now + t1 * 64,
        }
    }
    fn deadline(&self) -> Instant {
        self.next.min(self.give_up)
    }
    /// true = resend now, false = give up.
    fn fire(&mut self, now: Instant) -> Option<bool> {
        if now >= self.give_up {
            return Some(false);
        }
        if now < self.next {
            return None;
        }
        self.interval *= 2;
        if let Some(cap) = self.cap {
            self.interval = self.interval.min(cap);
        }
        self.next = now + self.interval;
        Some(true)
    }
}

/// UAS side of RFC 3262: sends provisional responses reliably.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReliableProvisionals {
    t1: Duration,
    next_rseq: u32,
    pending: Option<(Response, u32, Backoff)>,
    invite_cseq: u32,
}

impl ReliableProvisionals {
    /// `initial_rseq` is random in 1..2^31 (RFC 3262 3); `invite_cseq` is
    /// the CSeq number of the INVITE being answered.
    pub fn new(t1: Duration, initial_rseq: u32, invite_cseq: u32) -> Self {
        ReliableProvisionals {
            t1,
            next_rseq: initial_rseq.clamp(1, (1 << 31) - 1),
            pending: None,
            invite_cseq,
        }
    }

    /// Make `resp` (101-199) reliable: adds `Require: 100rel` and RSeq and
    /// starts retransmitting it. Only one may be unacknowledged at a time.
    pub fn send(&mut self, now: Instant, resp: &mut Response) -> Result<u32, DialogError> {
        if !(101..=199).contains(&resp.status) {
            return Err(DialogError::NotReliable);
        }
        if self.pending.is_some() {
            return Err(DialogError::ProvisionalPending);
        }
        let rseq = self.next_rseq;
        self.next_rseq = self.next_rseq.wrapping_add(1);
        resp.headers.push(HeaderName::Require, "100rel");
        resp.headers.set(HeaderName::RSeq, rseq.to_string());
        self.pending = Some((resp.clone(), rseq, Backoff::new(now, self.t1, None)));
        Ok(rseq)
    }

    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.as_ref().map(|(_, _, b)| b.deadline())
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Option<RetransmitAction> {
        let (resp, _, b) = self.pending.as_mut()?;
        match b.fire(now)? {
            true => Some(RetransmitAction::Resend(resp.clone())),
            false => {
                self.pending = None;
                Some(RetransmitAction::GiveUp)
            }
        }
    }

    /// A PRACK arrived: Ok if its RAck acknowledges the pending response
    /// (answer 200), else the TU answers 481 (RFC 3262 3).
    pub fn on_prack(&mut self, prack: &Request) -> Result<u32, DialogError> {
        let rack = prack
            .headers
            .get(&HeaderName::RAck)
            .ok_or(DialogError::BadHeader("RAck"))?;
        let mut it = rack.split_whitespace();
        let rseq: u32 = it
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or(DialogError::BadHeader("RAck"))?;
        let cseq: u32 = it
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or(DialogError::BadHeader("RAck"))?;
        let method = it.next().ok_or(DialogError::BadHeader("RAck"))?;
        match &self.pending {
            Some((_, pending, _))
                if *pending == rseq && cseq == self.invite_cseq && method == "INVITE" =>
            {
                self.pending = None;
                Ok(rseq)
            }
            _ => Err(DialogError::NoMatchingProvisional),
        }
    }
}

/// UAS core retransmission of a 2xx to INVITE until the ACK arrives (RFC
/// 3261 13.3.1.4): T1 doubling up to T2, giving up after 64*T1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckWait {
    resp: Response,
    backoff: Backoff,
    gave_up: bool,
}

impl AckWait {
    pub fn new(now: Instant, t1: Duration, t2: Duration, resp: Response) -> Self {
        AckWait {
            resp,
            backoff: Backoff::new(now, t1, Some(t2)),
            gave_up: false,
        }
    }

    /// `None` once it gave up.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.gave_up).then(|| self.backoff.deadline())
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Option<RetransmitAction> {
        if self.gave_up {
            return None;
        }
        match self.backoff.fire(now)? {
            true => Some(RetransmitAction::Resend(self.resp.clone())),
            false => {
                self.gave_up = true;
                Some(RetransmitAction::GiveUp)
            }
        }
    }
}

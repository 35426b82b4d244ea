//! Two in-memory SIP stacks (a UAC and a UAS) wired through a lossy link,
//! completing INVITE / 200 / ACK / BYE with nothing but virtual time.

use gateway_sip::dialog::{AckWait, Dialog, DialogState, RetransmitAction};
use gateway_sip::parse::parse_message;
use gateway_sip::transaction::{
    add_via, make_response, new_branch, ClientTxId, PeerAddr, ServerTxId, TimerConfig,
    TransactionLayer, Transport, TxEvent,
};
use gateway_sip::{HeaderName, Message, Method, Request};
use std::time::{Duration, Instant};

const UAC_CONTACT: &str = "<sip:alice@127.0.0.1:5060>";
const UAS_CONTACT: &str = "<sip:bob@127.0.0.1:5070>";

/// Drops the packets whose sequence numbers (from 1, both directions
/// counted together) are listed.
struct Link {
    drop: Vec<usize>,
    seen: usize,
    dropped: usize,
}

impl Link {
    fn pass(&mut self) -> bool {
        self.seen += 1;
        if self.drop.contains(&self.seen) {
            self.dropped += 1;
            false
        } else {
            true
        }
    }
}

struct Uac {
    layer: TransactionLayer,
    me: PeerAddr,
    invite: Request,
    invite_id: ClientTxId,
    dialog: Option<Dialog>,
    bye_id: Option<ClientTxId>,
    bye_answered: Option<u16>,
    acks_sent: usize,
    branches: u64,
}

struct Uas {
    layer: TransactionLayer,
    me: PeerAddr,
    dialog: Option<Dialog>,
    invite_tx: Option<ServerTxId>,
    ack_wait: Option<AckWait>,
    invites_seen: usize,
    acked: bool,
    bye_seen: bool,
}

fn invite(transport: Transport) -> Request {
    let text = format!(
        "INVITE sip:bob@127.0.0.1:5070 SIP/2.0\r\n\
         Via: SIP/2.0/UDP placeholder.invalid\r\n\
         From: \"Alice\" <sip:alice@127.0.0.1>;tag=alice-1\r\n\
         To: <sip:bob@127.0.0.1>\r\n\
         Call-ID: peers-1@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: {UAC_CONTACT}\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let Ok(Message::Request(mut r)) = parse_message(text.as_bytes()) else {
        panic!("test INVITE parses")
    };
    r.headers.remove(&HeaderName::Via);
    add_via(
        &mut r,
        transport,
        "127.0.0.1:5060",
        &new_branch(b"invite-1"),
    );
    r
}

impl Uac {
    fn next_branch(&mut self) -> String {
        self.branches += 1;
        new_branch(&self.branches.to_be_bytes())
    }

    fn on_events(&mut self, now: Instant, to: PeerAddr) {
        while let Some(ev) = self.layer.poll_event() {
            let TxEvent::Response { id, resp } = ev else {
                continue;
            };
            if id == self.invite_id && resp.status == 200 {
                // Every 2xx (the first and retransmissions passed up in the
                // Accepted state) gets an ACK from the TU.
                if self.dialog.is_none() {
                    self.dialog = Some(Dialog::uac_from_response(&self.invite, &resp).unwrap());
                }
                let dialog = self.dialog.as_mut().unwrap();
                dialog.on_response(&Method::Invite, &resp);
                let mut ack = dialog.create_ack(1);
                let b = self.next_branch();
                add_via(&mut ack, self.me.transport, "127.0.0.1:5060", &b);
                self.layer.send_stateless(Message::Request(ack), to);
                self.acks_sent += 1;
                if self.bye_id.is_none() {
                    let mut bye = self
                        .dialog
                        .as_mut()
                        .unwrap()
                        .create_request(Method::Bye)
                        .unwrap();
                    let b = self.next_branch();
                    add_via(&mut bye, self.me.transport, "127.0.0.1:5060", &b);
                    self.bye_id = Some(self.layer.send_request(now, bye, to).unwrap());
                }
            } else if Some(id) == self.bye_id && resp.status >= 200 {
                self.bye_answered = Some(resp.status);
                self.dialog.as_mut().unwrap().terminate();
            }
        }
    }
}

impl Uas {
    fn on_events(&mut self, now: Instant, cfg: &TimerConfig) {
        while let Some(ev) = self.layer.poll_event() {
            match ev {
                TxEvent::Request { id, req, .. } if req.method == Method::Invite => {
                    self.invites_seen += 1;
                    let mut dialog = Dialog::uas_from_invite(&req, "bob-1", UAS_CONTACT).unwrap();
                    let mut ok = make_response(&req, 200, Some("bob-1"));
                    ok.headers.push(HeaderName::Contact, UAS_CONTACT);
                    self.layer.respond(now, &id, ok.clone()).unwrap();
                    dialog.confirm();
                    self.dialog = Some(dialog);
                    self.invite_tx = Some(id);
                    self.ack_wait = Some(AckWait::new(now, cfg.t1, cfg.t2, ok));
                }
                TxEvent::Ack { req, .. } => {
                    self.dialog.as_mut().unwrap().on_request(&req).unwrap();
                    self.ack_wait = None;
                    self.acked = true;
                }
                TxEvent::Request { id, req, .. } if req.method == Method::Bye => {
                    let dialog = self.dialog.as_mut().unwrap();
                    let status = match dialog.on_request(&req) {
                        Ok(()) => 200,
                        Err(e) => e.status(),
                    };
                    // A BYE ends the wait for the ACK as well.
                    self.ack_wait = None;
                    self.bye_seen = true;
                    self.layer
                        .respond(now, &id, make_response(&req, status, None))
                        .unwrap();
                }
                _ => {}
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        if let Some(w) = self.ack_wait.as_mut() {
            match w.handle_timeout(now) {
                Some(RetransmitAction::Resend(resp)) => {
                    let id = self.invite_tx.unwrap();
                    self.layer.respond(now, &id, resp).unwrap();
                }
                Some(RetransmitAction::GiveUp) => panic!("ACK never arrived"),
                None => {}
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let w = self.ack_wait.as_ref().and_then(|w| w.poll_timeout());
        [self.layer.poll_timeout(), w].into_iter().flatten().min()
    }
}

struct Outcome {
    uac: Uac,
    uas: Uas,
    link: Link,
    elapsed: Duration,
}

fn run_call(transport: Transport, drop: &[usize]) -> Outcome {
    let cfg = TimerConfig::default();
    let base = Instant::now();
    let mut now = base;
    let uac_addr = PeerAddr {
        transport,
        addr: "127.0.0.1:5060".parse().unwrap(),
        conn: None,
    };
    let uas_addr = PeerAddr {
        addr: "127.0.0.1:5070".parse().unwrap(),
        ..uac_addr
    };
    let mut link = Link {
        drop: drop.to_vec(),
        seen: 0,
        dropped: 0,
    };
    let mut uac_layer = TransactionLayer::new(cfg);
    let invite = invite(transport);
    let invite_id = uac_layer
        .send_request(now, invite.clone(), uas_addr)
        .unwrap();
    let mut uac = Uac {
        layer: uac_layer,
        me: uac_addr,
        invite,
        invite_id,
        dialog: None,
        bye_id: None,
        bye_answered: None,
        acks_sent: 0,
        branches: 0,
    };
    let mut uas = Uas {
        layer: TransactionLayer::new(cfg),
        me: uas_addr,
        dialog: None,
        invite_tx: None,
        ack_wait: None,
        invites_seen: 0,
        acked: false,
        bye_seen: false,
    };
    for _ in 0..10_000 {
        let mut moved = false;
        while let Some(t) = uac.layer.poll_transmit() {
            moved = true;
            assert_eq!(t.to, uas_addr);
            if link.pass() {
                uas.layer
                    .receive(now, parse_message(&t.bytes).unwrap(), uac.me);
            }
        }
        while let Some(t) = uas.layer.poll_transmit() {
            moved = true;
            assert_eq!(
                t.to, uac_addr,
                "responses go back where the request came from"
            );
            if link.pass() {
                uac.layer
                    .receive(now, parse_message(&t.bytes).unwrap(), uas.me);
            }
        }
        uas.on_events(now, &cfg);
        uac.on_events(now, uas_addr);
        if moved {
            continue;
        }
        let next = [uac.layer.poll_timeout(), uas.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { break };
        assert!(next >= now, "deadlines never go back in time");
        now = next;
        uac.layer.handle_timeout(now);
        uas.handle_timeout(now);
    }
    Outcome {
        uac,
        uas,
        link,
        elapsed: now - base,
    }
}

#[test]
fn invite_ok_ack_bye_over_a_clean_link() {
    let o = run_call(Transport::Udp, &[]);
    assert_eq!(o.uac.bye_answered, Some(200));
    assert!(o.uas.acked && o.uas.bye_seen);
    assert_eq!(o.uas.invites_seen, 1);
    assert_eq!(o.uac.layer.stats().retransmissions_sent, 0);
    assert_eq!(
        o.uas.dialog.as_ref().unwrap().state,
        DialogState::Terminated
    );
    assert_eq!(
        o.uac.dialog.as_ref().unwrap().state,
        DialogState::Terminated
    );
    // Both stacks wind down to nothing once Timers K, J, L and M ran out.
    assert_eq!(o.uac.layer.len(), 0);
    assert_eq!(o.uas.layer.len(), 0);
    assert!(o.elapsed >= Duration::from_secs(32), "Timer L/M ran");
}

#[test]
fn invite_ok_ack_bye_survives_losing_the_first_packets() {
    for drop_first in 1..=5 {
        let drop: Vec<usize> = (1..=drop_first).collect();
        let o = run_call(Transport::Udp, &drop);
        assert_eq!(o.link.dropped, drop_first);
        assert_eq!(o.uac.bye_answered, Some(200), "drop_first={drop_first}");
        assert!(o.uas.acked || o.uas.bye_seen, "drop_first={drop_first}");
        assert_eq!(
            o.uas.invites_seen, 1,
            "retransmitted INVITEs are absorbed (drop_first={drop_first})"
        );
        assert!(
            o.uac.layer.stats().retransmissions_sent + o.uas.layer.stats().retransmissions_sent > 0,
            "losses were repaired by retransmission (drop_first={drop_first})"
        );
        assert_eq!(o.uac.layer.len() + o.uas.layer.len(), 0);
        assert_eq!(
            o.uas.dialog.as_ref().unwrap().state,
            DialogState::Terminated
        );
    }
}

#[test]
fn lost_ack_is_repaired_by_2xx_retransmission_through_accepted_states() {
    // Clean order: 1 INVITE, 2 100, 3 200, 4 ACK, 5 BYE. Losing the ACK
    // and the BYE leaves the UAS retransmitting its 2xx through the INVITE
    // server transaction (Accepted); the UAC's INVITE client transaction
    // (Accepted) passes it up and the TU ACKs again.
    let o = run_call(Transport::Udp, &[4, 5]);
    assert_eq!(o.link.dropped, 2);
    assert_eq!(o.uac.acks_sent, 2);
    assert!(o.uas.acked, "the second ACK arrived");
    assert_eq!(o.uac.bye_answered, Some(200), "the BYE was retransmitted");
    assert!(o.uas.layer.stats().retransmissions_sent >= 1, "2xx resent");
}

#[test]
fn lost_2xx_is_retransmitted_by_the_uas_core() {
    let o = run_call(Transport::Udp, &[3]);
    assert_eq!(o.uac.acks_sent, 1);
    assert!(o.uas.acked);
    assert_eq!(o.uac.bye_answered, Some(200));
}

#[test]
fn tcp_call_needs_no_retransmissions() {
    let o = run_call(Transport::Tcp, &[]);
    assert_eq!(o.uac.bye_answered, Some(200));
    assert_eq!(o.uac.layer.stats().retransmissions_sent, 0);
    assert_eq!(o.uac.layer.len() + o.uas.layer.len(), 0);
}

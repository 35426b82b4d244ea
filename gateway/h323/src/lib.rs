//! H.323 protocol cores (sans-IO): ASN.1 aligned PER, H.225.0 RAS and call
//! signalling (Q.931 in TPKT), H.245 control, and the state machines on
//! top: [`gatekeeper::RasGatekeeper`] (RAS on UDP 1719) and
//! [`call::H323CallLeg`] (one call-signalling connection on TCP 1720 as a
//! leg of the neutral call model).

pub mod call;
pub mod gatekeeper;
pub mod h225;
pub mod h235;
pub mod h245;
pub mod neighbour;
pub mod per;
pub mod q931;
pub mod registration;
pub mod tpkt;

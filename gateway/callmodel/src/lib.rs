//! The protocol-neutral call model: legs emit and accept neutral events,
//! causes convert between SIP, Q.850 and H.225, media capabilities describe
//! what a leg can send and receive.

pub mod cause;

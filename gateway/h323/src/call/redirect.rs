//! A callee that answers our Setup with Facility `callForwarded` or
//! `routeCallToGatekeeper` (H.225.0 7.4, H.450-free forwarding) names where
//! the call should go instead: `alternativeAddress` and/or
//! `alternativeAliasAddress`. The leg releases this connection and hands
//! the target to its owner ([`H323CallLeg::take_redirect`]), which opens a
//! connection there and places the same call again with
//! [`H323CallLeg::redirected`]. One redirect per call is followed: a leg
//! made by `redirected` releases a second one, so two endpoints that point
//! at each other cannot keep a call bouncing.

use super::*;

/// How many redirects one call follows.
const MAX_REDIRECTS: u8 = 1;
/// Aliases of an alternativeAliasAddress kept (a peer may send any number).
const MAX_REDIRECT_ALIASES: usize = 16;

/// Where a callee sent the call we placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// `CallForwarded` or `RouteCallToGatekeeper`.
    pub reason: FacilityReason,
    /// alternativeAddress, when it is a usable IP address and port.
    pub address: Option<SocketAddr>,
    /// alternativeAliasAddress (empty when none was given).
    pub aliases: Vec<AliasAddress>,
}

impl H323CallLeg {
    pub(super) fn redirects_default() -> u8 {
        MAX_REDIRECTS
    }

    /// A Facility that sends our call elsewhere; false when `f` is not one
    /// (other reasons are handled as before).
    pub(super) fn on_redirect_facility(&mut self, f: &FacilityUuie) -> bool {
        if !self.outgoing
            || !matches!(
                f.reason,
                FacilityReason::CallForwarded | FacilityReason::RouteCallToGatekeeper
            )
            || matches!(self.state, CallState::Active | CallState::Released)
        {
            return false;
        }
        let address = f
            .alternative_address
            .as_ref()
            .and_then(h245_link::socket_of);
        let aliases: Vec<AliasAddress> = f
            .alternative_alias_address
            .iter()
            .flatten()
            .take(MAX_REDIRECT_ALIASES)
            .cloned()
            .collect();
        let why = match f.reason {
            FacilityReason::CallForwarded => "forwarded the call",
            _ => "routed the call to its gatekeeper",
        };
        if address.is_none() && aliases.is_empty() {
            let cause = Cause::new(Q850::NO_ROUTE_TO_DESTINATION).with_text(&format!(
                "The callee {why} without a usable address or alias"
            ));
            self.release(&cause);
            self.events.push_back(LegEvent::Ended(cause));
            return true;
        }
        if self.redirects_left == 0 {
            let cause = Cause::new(Q850::EXCHANGE_ROUTING_ERROR).with_text(&format!(
                "The callee {why} again; a call follows one redirect at most"
            ));
            self.release(&cause);
            self.events.push_back(LegEvent::Ended(cause));
            return true;
        }
        // H.225.0 8.1.3.1: the caller leaves the first callee with
        // facilityCallDeflection; the owner is not told of an end, the
        // call goes on to the new target
        self.release(&Cause::from_h225(H225ReleaseReason::FacilityCallDeflection));
        self.redirect = Some(Redirect {
            reason: f.reason.clone(),
            address,
            aliases,
        });
        true
    }

    /// The redirect the callee asked for, once: the leg is released and
    /// its connection may be closed; the owner places the call again with
    /// [`H323CallLeg::redirected`] or ends it.
    pub fn take_redirect(&mut self) -> Option<Redirect> {
        self.redirect.take()
    }

    /// The same call placed again to `to` (a fresh call reference; the
    /// call and conference identifiers stay, as the call is the same), to
    /// `aliases` if the redirect named some. The new leg follows no
    /// further redirect.
    pub fn redirected(
        &self,
        to: SocketAddr,
        aliases: &[AliasAddress],
    ) -> Result<H323CallLeg, OutgoingError> {
        let Some(call) = self.outgoing_call.as_deref() else {
            return Err(OutgoingError::NotOutgoing);
        };
        let mut call = call.clone();
        call.destination = Some(to);
        if !aliases.is_empty() {
            call.called_aliases = aliases.to_vec();
            call.called_number = aliases.iter().find_map(|a| match a {
                AliasAddress::DialedDigits(d) => Some(d.clone()),
                _ => None,
            });
        }
        call.call_reference = match (self.crv + 1) & 0x7FFF {
            0 => 1,
            v => v,
        };
        let mut leg = H323CallLeg::new_outgoing(self.config.clone(), call)?;
        leg.redirects_left = self.redirects_left.saturating_sub(1);
        Ok(leg)
    }
}

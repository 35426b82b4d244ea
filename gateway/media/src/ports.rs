//! Allocation of RTP/RTCP port pairs from a configured range (sans-IO).
//!
//! RTP gets the even port and RTCP the odd port above it (RFC 3550 §11).
//! Allocation walks the range round-robin from where the last allocation
//! stopped instead of taking the lowest free pair: a pair freed a moment ago
//! is then reused as late as possible, so stray packets still in flight for
//! the previous call do not land in a new one.

use std::ops::RangeInclusive;

/// One RTP/RTCP port pair; `rtp` is even, RTCP is `rtp + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortPair {
    pub rtp: u16,
}

impl PortPair {
    pub fn rtcp(self) -> u16 {
        // The allocator never hands out 65535 as an RTP port, so no overflow.
        self.rtp + 1
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortRangeError {
    #[error("port range {low}-{high} holds no even/odd RTP/RTCP pair")]
    NoPair { low: u16, high: u16 },
}

/// Every pair of the range is in use; the B2BUA answers 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("all RTP port pairs are in use")]
pub struct PortsExhausted;

#[derive(Debug, Clone)]
pub struct PortAllocator {
    first_rtp: u16,
    in_use: Vec<bool>,
    used: usize,
    next: usize,
}

impl PortAllocator {
    /// Pairs are taken from `range`, rounded inwards to whole even/odd pairs.
    pub fn new(range: RangeInclusive<u16>) -> Result<Self, PortRangeError> {
        let (low, high) = (*range.start(), *range.end());
        // Port 0 means "any" to the OS; start at 2 at the lowest.
        let first = u32::from(low.max(2)).next_multiple_of(2);
        let pairs = if u32::from(high) > first {
            (u32::from(high) - first).div_ceil(2)
        } else {
            0
        };
        if pairs == 0 {
            return Err(PortRangeError::NoPair { low, high });
        }
        Ok(Self {
            first_rtp: first as u16,
            in_use: vec![false; pairs as usize],
            used: 0,
            next: 0,
        })
    }

    /// Like [`PortAllocator::new`], starting the round-robin walk at pair
    /// `start % capacity` (the runtime passes a random value so that port
    /// numbers are not predictable across restarts).
    pub fn with_start(range: RangeInclusive<u16>, start: usize) -> Result<Self, PortRangeError> {
        let mut a = Self::new(range)?;
        a.next = start % a.in_use.len();
        Ok(a)
    }

    /// Take the next free pair after the previously allocated one.
    pub fn allocate(&mut self) -> Result<PortPair, PortsExhausted> {
        let n = self.in_use.len();
        if self.used == n {
            return Err(PortsExhausted);
        }
        for step in 0..n {
            let idx = (self.next + step) % n;
            if !self.in_use[idx] {
                self.in_use[idx] = true;
                self.used += 1;
                self.next = (idx + 1) % n;
                return Ok(self.pair_at(idx));
            }
        }
        Err(PortsExhausted)
    }

    /// Return a pair. Returns false (and changes nothing) for a pair that is
    /// not from this range or not currently allocated, so a double release
    /// cannot corrupt the count.
    pub fn release(&mut self, pair: PortPair) -> bool {
        let Some(idx) = self.index_of(pair) else {
            return false;
        };
        if !self.in_use[idx] {
            return false;
        }
        self.in_use[idx] = false;
        self.used -= 1;
        true
    }

    pub fn is_allocated(&self, pair: PortPair) -> bool {
        self.index_of(pair).is_some_and(|i| self.in_use[i])
    }

    /// Number of pairs in use.
    pub fn pairs_in_use(&self) -> usize {
        self.used
    }

    /// Number of pairs in the range.
    pub fn capacity(&self) -> usize {
        self.in_use.len()
    }

    fn pair_at(&self, idx: usize) -> PortPair {
        PortPair {
            rtp: self.first_rtp + 2 * idx as u16,
        }
    }

    fn index_of(&self, pair: PortPair) -> Option<usize> {
        if pair.rtp < self.first_rtp || pair.rtp % 2 != 0 {
            return None;
        }
        let idx = usize::from((pair.rtp - self.first_rtp) / 2);
        (idx < self.in_use.len()).then_some(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_and_inside_range() {
        let mut a = PortAllocator::new(10001..=10010).unwrap();
        // 10002..=10009 are whole pairs; 10010 alone has no RTCP partner.
        assert_eq!(a.capacity(), 4);
        let got: Vec<u16> = (0..4).map(|_| a.allocate().unwrap().rtp).collect();
        assert_eq!(got, vec![10002, 10004, 10006, 10008]);
        assert_eq!(a.allocate(), Err(PortsExhausted));
        assert!(got.iter().all(|p| p % 2 == 0 && *p < 10010));
    }

    #[test]
    fn empty_or_odd_ranges_are_rejected() {
        assert!(PortAllocator::new(10001..=10001).is_err());
        assert!(PortAllocator::new(10001..=10002).is_err());
        assert!(PortAllocator::new(0..=1).is_err());
        assert!(PortAllocator::new(65534..=65535).is_ok());
        assert_eq!(
            PortAllocator::new(0..=3).unwrap().allocate().unwrap(),
            PortPair { rtp: 2 }
        );
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = PortAllocator::new(20000..=10000);
        assert!(reversed.is_err());
    }

    #[test]
    fn round_robin_avoids_immediate_reuse() {
        let mut a = PortAllocator::new(20000..=20007).unwrap();
        let p1 = a.allocate().unwrap();
        assert!(a.release(p1));
        let p2 = a.allocate().unwrap();
        assert_ne!(
            p1, p2,
            "a just-freed pair must not be handed out again at once"
        );
        let p3 = a.allocate().unwrap();
        let p4 = a.allocate().unwrap();
        // Walk wraps around to the freed pair only after the rest of the range.
        assert_eq!(a.allocate().unwrap(), p1);
        assert_eq!(a.pairs_in_use(), 4);
        assert!(a.release(p3) && a.release(p4));
        assert_eq!(a.pairs_in_use(), 2);
    }

    #[test]
    fn double_and_foreign_release_are_ignored() {
        let mut a = PortAllocator::new(20000..=20003).unwrap();
        let p = a.allocate().unwrap();
        assert!(a.release(p));
        assert!(!a.release(p));
        assert!(!a.release(PortPair { rtp: 30000 }));
        assert!(!a.release(PortPair { rtp: 20001 }));
        assert_eq!(a.pairs_in_use(), 0);
    }

    #[test]
    fn exhaustion_then_release_allows_allocation() {
        let mut a = PortAllocator::with_start(20000..=20005, 7).unwrap();
        let ps: Vec<_> = (0..3).map(|_| a.allocate().unwrap()).collect();
        assert_eq!(a.allocate(), Err(PortsExhausted));
        assert!(a.release(ps[1]));
        assert_eq!(a.allocate().unwrap(), ps[1]);
    }
}

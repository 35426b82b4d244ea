//! Sliding replay window over packet indices (RFC 3711 §3.3.2).

/// Largest window we track: one `u128` bitmap.
pub const MAX_REPLAY_WINDOW: u16 = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Newer than anything seen, or inside the window and not seen yet.
    Fresh,
    Replayed,
    TooOld,
}

/// `bits` bit i set means `highest - i` has been accepted.
#[derive(Debug, Clone)]
pub(crate) struct ReplayWindow {
    highest: u64,
    bits: u128,
    size: u16,
}

impl ReplayWindow {
    /// Starts as if `first` had been seen, without marking it, so that the
    /// first packet is judged like any other.
    pub(crate) fn new(first: u64, size: u16) -> ReplayWindow {
        ReplayWindow {
            highest: first,
            bits: 0,
            size,
        }
    }

    pub(crate) fn check(&self, index: u64) -> Verdict {
        if index > self.highest {
            return Verdict::Fresh;
        }
        let delta = self.highest - index;
        if delta >= u64::from(self.size) {
            Verdict::TooOld
        } else if self.bits & (1u128 << delta) != 0 {
            Verdict::Replayed
        } else {
            Verdict::Fresh
        }
    }

    /// Call only after the packet authenticated and `check` said Fresh.
    pub(crate) fn accept(&mut self, index: u64) {
        if index > self.highest {
            let shift = index - self.highest;
            self.bits = if shift >= 128 { 0 } else { self.bits << shift };
            self.highest = index;
            self.bits |= 1;
        } else {
            self.bits |= 1u128 << (self.highest - index);
        }
    }

    pub(crate) fn highest(&self) -> u64 {
        self.highest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_accepts_reordered_and_refuses_duplicates_and_stale() {
        let mut w = ReplayWindow::new(100, 64);
        for i in [100, 102, 101] {
            assert_eq!(w.check(i), Verdict::Fresh, "{i}");
            w.accept(i);
        }
        assert_eq!(w.check(101), Verdict::Replayed);
        assert_eq!(w.check(99), Verdict::Fresh);
        w.accept(200);
        assert_eq!(w.check(136), Verdict::TooOld);
        assert_eq!(w.check(137), Verdict::Fresh);
        assert_eq!(w.check(200), Verdict::Replayed);
        w.accept(10_000);
        assert_eq!(w.check(200), Verdict::TooOld);
        assert_eq!(w.highest(), 10_000);
    }

    #[test]
    fn full_width_window_tracks_its_last_bit() {
        let mut w = ReplayWindow::new(0, 128);
        w.accept(0);
        w.accept(127);
        assert_eq!(w.check(0), Verdict::Replayed);
        assert_eq!(w.check(1), Verdict::Fresh);
        w.accept(128);
        assert_eq!(w.check(0), Verdict::TooOld);
    }
}

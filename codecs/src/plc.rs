//! Packet-loss concealment for decoded PCM at any sample rate.
//!
//! On a lost frame the last pitch period of the recorded history (found by
//! normalised autocorrelation) is repeated. The repeated period is
//! cross-faded into the period before it at its end, so that wrapping
//! around it is smooth even when the true period is not a whole number of
//! samples. The output keeps full level for the first 10 ms of a loss, then
//! fades linearly to silence at 60 ms: repeating one period for longer
//! sounds buzzy and drifts from what the talker really said. When real audio
//! resumes, its first few milliseconds are overlap-added with the
//! continuation of the concealment, so neither the start nor the end of a
//! gap produces a step.
//!
//! Works on frames of any length; no allocation after [`Plc::new`].

/// Shortest pitch lag searched (400 Hz fundamental).
const MIN_LAG_MS: u32 = 25; // tenths of a millisecond
/// Longest pitch lag searched (about 66 Hz fundamental).
const MAX_LAG_MS: u32 = 150; // tenths of a millisecond
/// Correlation window: the most recent audio matched against the past.
const WINDOW_MS: u32 = 100; // tenths of a millisecond
/// Concealment plays at full level this long...
const FADE_START_MS: u32 = 10;
/// ...and reaches silence here.
const FADE_END_MS: u32 = 60;
/// Overlap-add length when real audio resumes.
const RESUME_OLA_MS: u32 = 5;

/// Pitch-repetition concealer for one audio stream.
#[derive(Clone, Debug)]
pub struct Plc {
    rate: u32,
    /// Most recent output, oldest first; always `2 * max_lag` long.
    hist: Vec<i16>,
    /// Number of real samples recorded so far (saturating at `hist.len()`).
    filled: usize,
    /// The period being repeated during a loss; `pitch` valid entries.
    template: Vec<i16>,
    pitch: usize,
    /// Read position in `template`.
    pos: usize,
    /// Samples concealed in the current run of losses (0 = not in a loss).
    lost: usize,
    min_lag: usize,
    max_lag: usize,
    window: usize,
    fade_start: usize,
    fade_end: usize,
    resume_ola: usize,
}

impl Plc {
    /// A concealer for audio at `sample_rate` Hz (8000..=48000 typical;
    /// values outside 1 kHz..=192 kHz are clamped, which bounds the memory).
    pub fn new(sample_rate: u32) -> Self {
        let rate = sample_rate.clamp(1000, 192_000);
        let samples = |tenth_ms: u32| ((u64::from(rate) * u64::from(tenth_ms)) / 10_000) as usize;
        let min_lag = samples(MIN_LAG_MS).max(2);
        let max_lag = samples(MAX_LAG_MS).max(min_lag + 1);
        let window = samples(WINDOW_MS).max(min_lag);
        let hist_len = (2 * max_lag).max(window + max_lag);
        Plc {
            rate,
            hist: vec![0; hist_len],
            filled: 0,
            template: vec![0; max_lag],
            pitch: 0,
            pos: 0,
            lost: 0,
            min_lag,
            max_lag,
            window,
            fade_start: samples(FADE_START_MS * 10),
            fade_end: samples(FADE_END_MS * 10).max(1),
            resume_ola: samples(RESUME_OLA_MS * 10).max(1),
        }
    }

    /// The sample rate this concealer was built for.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// True while concealing (at least one lost frame since the last good
    /// frame).
    pub fn in_loss(&self) -> bool {
        self.lost > 0
    }

    /// Forgets all history (e.g. on a stream change).
    pub fn reset(&mut self) {
        self.hist.fill(0);
        self.filled = 0;
        self.pitch = 0;
        self.pos = 0;
        self.lost = 0;
    }

    /// Records a correctly received frame. If it follows concealed frames,
    /// its start is cross-faded with the concealment's continuation in place
    /// so that the join has no step.
    pub fn good_frame(&mut self, pcm: &mut [i16]) {
        if self.lost > 0 {
            let n = self.resume_ola.min(pcm.len());
            for (i, sample) in pcm.iter_mut().take(n).enumerate() {
                let synth = f32::from(self.next_concealed());
                let w = (i + 1) as f32 / (n + 1) as f32;
                *sample = (w * f32::from(*sample) + (1.0 - w) * synth).round() as i16;
            }
            self.lost = 0;
            self.pitch = 0;
        }
        self.record(pcm);
    }

    /// Fills `out` with concealment audio for a lost frame.
    pub fn conceal(&mut self, out: &mut [i16]) {
        if self.lost == 0 {
            self.start_loss();
        }
        for sample in out.iter_mut() {
            *sample = self.next_concealed();
        }
        // The concealment becomes history too, so a following good frame's
        // pitch search and a later loss start from what was played.
        self.record(out);
    }

    /// Appends `pcm` to the history window.
    fn record(&mut self, pcm: &[i16]) {
        let len = self.hist.len();
        if pcm.len() >= len {
            self.hist.copy_from_slice(&pcm[pcm.len() - len..]);
        } else {
            self.hist.copy_within(pcm.len().., 0);
            self.hist[len - pcm.len()..].copy_from_slice(pcm);
        }
        self.filled = (self.filled + pcm.len()).min(len);
    }

    /// Picks the pitch period and builds the repetition template.
    fn start_loss(&mut self) {
        self.pos = 0;
        self.pitch = 0;
        // Without enough real history there is nothing sensible to repeat;
        // silence is the safe concealment.
        if self.filled < self.window + self.min_lag {
            return;
        }
        let Some(lag) = self.find_pitch() else {
            return;
        };
        let n = self.hist.len();
        let h = &self.hist;
        let overlap = (lag / 4).max(1);
        for k in 0..lag {
            let cur = f32::from(h[n - lag + k]);
            self.template[k] = if k + overlap >= lag && self.filled >= 2 * lag {
                // Blend towards the previous period, whose end flows
                // naturally into the template's first sample.
                let w = (k + overlap + 1 - lag) as f32 / (overlap + 1) as f32;
                let prev = f32::from(h[n - 2 * lag + k]);
                ((1.0 - w) * cur + w * prev).round() as i16
            } else {
                cur as i16
            };
        }
        self.pitch = lag;
    }

    /// The lag (in samples) that best predicts the latest window from the
    /// past, by normalised cross-correlation. None for silent history.
    fn find_pitch(&self) -> Option<usize> {
        let n = self.hist.len();
        let recent = &self.hist[n - self.window..];
        let energy_recent: i64 = recent.iter().map(|&x| i64::from(x) * i64::from(x)).sum();
        if energy_recent == 0 {
            return None;
        }
        let max_lag = self
            .max_lag
            .min(n - self.window)
            .min(self.filled - self.window);
        let mut best: Option<(usize, f64)> = None;
        for lag in self.min_lag..=max_lag {
            let past = &self.hist[n - self.window - lag..n - lag];
            let (mut cross, mut energy_past) = (0i64, 0i64);
            for (&a, &b) in recent.iter().zip(past) {
                cross += i64::from(a) * i64::from(b);
                energy_past += i64::from(b) * i64::from(b);
            }
            if energy_past == 0 {
                continue;
            }
            let score = cross as f64 / ((energy_recent as f64) * (energy_past as f64)).sqrt();
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((lag, score));
            }
        }
        // A lag with negative correlation would repeat audio out of phase;
        // fall back to the longest lag, which at least keeps the spectrum.
        Some(match best {
            Some((lag, score)) if score > 0.0 => lag,
            _ => max_lag,
        })
    }

    /// One sample of faded repetition; advances the loss position.
    fn next_concealed(&mut self) -> i16 {
        let gain = if self.lost < self.fade_start {
            1.0
        } else if self.lost >= self.fade_end {
            0.0
        } else {
            1.0 - (self.lost - self.fade_start) as f32
                / (self.fade_end - self.fade_start).max(1) as f32
        };
        self.lost = self.lost.saturating_add(1);
        if self.pitch == 0 || gain == 0.0 {
            return 0;
        }
        let s = self.template[self.pos];
        self.pos = (self.pos + 1) % self.pitch;
        (gain * f32::from(s)).round() as i16
    }
}

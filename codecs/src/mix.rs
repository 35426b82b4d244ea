//! Conference mixing: mix-minus per leg, levels, active speaker.
//!
//! Every leg of a meeting hears everyone but itself. Summing all frames
//! once and subtracting each leg's own frame costs O(N) per frame rather
//! than O(N²) for N separate sums. Sums run in `i32` (room for 65 536
//! full-scale legs) and are clipped to `i16` only at the end, so a leg's
//! own contribution is removed exactly even when the total overflowed.
//!
//! Time advances in frames: nothing here reads a clock. Durations such as
//! the speaker hold-off are given in frames by the caller (75 frames of
//! 20 ms = 1.5 s).

use crate::CodecError;

/// Level reported for digital silence (RFC 6464 caps audio levels at
/// -127 dBov).
pub const SILENCE_DBOV: f32 = -127.0;

/// How a sum beyond the `i16` range is brought back into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clip {
    /// Saturate at ±32767: cheapest, audible as harsh distortion when
    /// several loud legs talk at once.
    Hard,
    /// Linear up to a knee at 3/4 of full scale, then a tanh curve that
    /// approaches full scale smoothly: loud overlaps sound compressed
    /// rather than distorted, quiet speech is untouched.
    #[default]
    Soft,
}

const KNEE: f32 = 24576.0;
const HEADROOM: f32 = 32767.0 - KNEE;

#[inline]
fn clip(sum: i32, mode: Clip) -> i16 {
    match mode {
        Clip::Hard => sum.clamp(-32767, 32767) as i16,
        Clip::Soft => {
            let mag = sum.unsigned_abs() as f32;
            if mag <= KNEE {
                sum as i16
            } else {
                let shaped = KNEE + HEADROOM * ((mag - KNEE) / HEADROOM).tanh();
                let v = shaped.min(32767.0) as i16;
                if sum < 0 {
                    -v
                } else {
                    v
                }
            }
        }
    }
}

/// Mix-minus for the legs of one meeting at one sample rate and frame
/// length.
#[derive(Debug, Clone)]
pub struct MixMinus {
    frame_len: usize,
    clip: Clip,
    sum: Vec<i32>,
}

impl MixMinus {
    /// A mixer for frames of `frame_len` samples (160 for 20 ms at 8 kHz,
    /// 320 at 16 kHz, 960 at 48 kHz), clipping softly.
    pub fn new(frame_len: usize) -> Self {
        MixMinus {
            frame_len,
            clip: Clip::default(),
            sum: vec![0; frame_len],
        }
    }

    /// Chooses how overflowing sums are clipped.
    pub fn with_clip(mut self, clip: Clip) -> Self {
        self.clip = clip;
        self
    }

    /// Samples per frame.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Mixes one frame period. `frames[i]` is leg i's frame, or `None` when
    /// it sent nothing (silence, DTX, lost). On return `outputs` has one
    /// frame per leg: `outputs[i]` is the sum of every other leg's frame.
    /// `outputs` keeps its allocations from call to call.
    ///
    /// Returns how many legs contributed audio. A frame of the wrong length
    /// is an error and nothing is mixed.
    pub fn mix(
        &mut self,
        frames: &[Option<&[i16]>],
        outputs: &mut Vec<Vec<i16>>,
    ) -> Result<usize, CodecError> {
        let n = self.frame_len;
        if let Some(bad) = frames.iter().flatten().find(|f| f.len() != n) {
            return Err(CodecError::FrameLength {
                expected: n,
                got: bad.len(),
            });
        }
        self.sum.iter_mut().for_each(|s| *s = 0);
        let mut active = 0;
        for frame in frames.iter().flatten() {
            active += 1;
            for (s, &x) in self.sum.iter_mut().zip(frame.iter()) {
                *s += i32::from(x);
            }
        }
        outputs.resize_with(frames.len(), Vec::new);
        let mode = self.clip;
        for (frame, out) in frames.iter().zip(outputs.iter_mut()) {
            out.clear();
            match frame {
                Some(own) => out.extend(
                    self.sum
                        .iter()
                        .zip(own.iter())
                        .map(|(&s, &x)| clip(s - i32::from(x), mode)),
                ),
                None => out.extend(self.sum.iter().map(|&s| clip(s, mode))),
            }
        }
        Ok(active)
    }
}

/// RMS level of a frame in dBov (0 dBov is the RMS of a full-scale square
/// wave; a full-scale sine is about -3 dBov). Silence gives
/// [`SILENCE_DBOV`].
pub fn frame_level_dbov(frame: &[i16]) -> f32 {
    if frame.is_empty() {
        return SILENCE_DBOV;
    }
    let energy: f64 = frame.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    let mean = energy / frame.len() as f64;
    if mean <= 0.0 {
        return SILENCE_DBOV;
    }
    let db = 10.0 * (mean / (32768.0 * 32768.0)).log10();
    (db as f32).max(SILENCE_DBOV)
}

/// Voice activity for one leg from its frame levels: active while the
/// level is above a threshold and for a hangover after it drops, so the
/// gaps between words do not count as silence.
#[derive(Debug, Clone)]
pub struct LevelMeter {
    threshold_dbov: f32,
    hangover_frames: u32,
    remaining: u32,
    level: f32,
}

/// What a [`LevelMeter`] says about the latest frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelReading {
    /// RMS level of this frame in dBov.
    pub level_dbov: f32,
    /// Whether the leg counts as talking.
    pub active: bool,
}

impl LevelMeter {
    /// Speech above `threshold_dbov` (-50 dBov is a usual choice for
    /// telephone audio) is active, and stays so for `hangover_frames`
    /// frames after the level drops (e.g. 10 frames = 200 ms).
    pub fn new(threshold_dbov: f32, hangover_frames: u32) -> Self {
        LevelMeter {
            threshold_dbov,
            hangover_frames,
            remaining: 0,
            level: SILENCE_DBOV,
        }
    }

    /// Takes the next frame (`None` when the leg sent nothing).
    pub fn update(&mut self, frame: Option<&[i16]>) -> LevelReading {
        let level = frame.map_or(SILENCE_DBOV, frame_level_dbov);
        self.level = level;
        if level > self.threshold_dbov {
            self.remaining = self.hangover_frames + 1;
        }
        let active = self.remaining > 0;
        self.remaining = self.remaining.saturating_sub(1);
        LevelReading {
            level_dbov: level,
            active,
        }
    }

    /// Level of the latest frame, in dBov.
    pub fn level_dbov(&self) -> f32 {
        self.level
    }
}

/// Picks the leg to show (video switching, "who is talking") with a
/// hold-off, so that a cough or a short interjection does not switch.
///
/// Each leg's level is smoothed over a few hundred milliseconds; a
/// challenger must be louder than the current speaker by a margin in every
/// frame of the hold-off before it takes over. The first leg to speak when
/// nobody holds the floor takes it at once.
#[derive(Debug, Clone)]
pub struct ActiveSpeaker {
    hold_frames: u32,
    margin_db: f32,
    threshold_dbov: f32,
    /// Smoothed power per leg (linear, relative to full scale).
    smoothed: Vec<f64>,
    current: Option<usize>,
    challenger: Option<(usize, u32)>,
}

/// Weight of the newest frame in the smoothed power: a time constant of
/// about 8 frames (160 ms at 20 ms frames).
const SMOOTHING: f64 = 0.12;

fn to_power(dbov: f32) -> f64 {
    if dbov <= SILENCE_DBOV {
        0.0
    } else {
        10f64.powf(f64::from(dbov) / 10.0)
    }
}

fn to_dbov(power: f64) -> f32 {
    if power <= 0.0 {
        SILENCE_DBOV
    } else {
        ((10.0 * power.log10()) as f32).max(SILENCE_DBOV)
    }
}

impl ActiveSpeaker {
    /// A detector that switches after a challenger dominated for
    /// `hold_frames` consecutive frames (75 frames of 20 ms = 1.5 s), with
    /// a 3 dB margin and a -50 dBov floor below which nobody is talking.
    pub fn new(hold_frames: u32) -> Self {
        ActiveSpeaker {
            hold_frames,
            margin_db: 3.0,
            threshold_dbov: -50.0,
            smoothed: Vec::new(),
            current: None,
            challenger: None,
        }
    }

    /// How much louder (dB, smoothed) a challenger must be.
    pub fn with_margin_db(mut self, margin_db: f32) -> Self {
        self.margin_db = margin_db;
        self
    }

    /// Smoothed level below which a leg is not a candidate.
    pub fn with_threshold_dbov(mut self, threshold_dbov: f32) -> Self {
        self.threshold_dbov = threshold_dbov;
        self
    }

    /// The leg that currently holds the floor.
    pub fn current(&self) -> Option<usize> {
        self.current
    }

    /// Smoothed level of `leg`, in dBov.
    pub fn smoothed_dbov(&self, leg: usize) -> f32 {
        self.smoothed.get(leg).map_or(SILENCE_DBOV, |&p| to_dbov(p))
    }

    /// Takes one frame period's levels, one per leg (use [`SILENCE_DBOV`]
    /// for a leg that sent nothing). Leg indices must stay stable; when
    /// the number of legs changes, state for vanished indices is dropped.
    /// Returns `Some(leg)` in the frame the floor passes to `leg`.
    pub fn update(&mut self, levels_dbov: &[f32]) -> Option<usize> {
        self.smoothed.resize(levels_dbov.len(), 0.0);
        for (s, &l) in self.smoothed.iter_mut().zip(levels_dbov) {
            *s += SMOOTHING * (to_power(l) - *s);
        }
        if self.current.is_some_and(|c| c >= levels_dbov.len()) {
            self.current = None;
        }

        let floor = to_power(self.threshold_dbov);
        let loudest = self
            .smoothed
            .iter()
            .enumerate()
            .filter(|(_, &p)| p > floor)
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, &p)| (i, p));

        let Some((leader, leader_power)) = loudest else {
            self.challenger = None;
            return None;
        };
        let Some(current) = self.current else {
            self.current = Some(leader);
            self.challenger = None;
            return Some(leader);
        };
        if leader == current {
            self.challenger = None;
            return None;
        }
        let margin = 10f64.powf(f64::from(self.margin_db) / 10.0);
        if leader_power < self.smoothed[current] * margin {
            self.challenger = None;
            return None;
        }
        let count = match self.challenger {
            Some((leg, n)) if leg == leader => n + 1,
            _ => 1,
        };
        if count >= self.hold_frames {
            self.current = Some(leader);
            self.challenger = None;
            Some(leader)
        } else {
            self.challenger = Some((leader, count));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_clip_is_monotonic_and_bounded() {
        let mut prev = i16::MIN;
        for s in (-200_000..200_000).step_by(97) {
            let v = clip(s, Clip::Soft);
            assert!(v >= prev, "not monotonic at {s}");
            assert!(v > -32768);
            prev = v;
        }
        assert_eq!(clip(1000, Clip::Soft), 1000);
        assert_eq!(clip(-24000, Clip::Soft), -24000);
        assert_eq!(clip(100_000, Clip::Hard), 32767);
        assert_eq!(clip(-100_000, Clip::Hard), -32767);
    }

    #[test]
    fn levels() {
        assert_eq!(frame_level_dbov(&[0; 160]), SILENCE_DBOV);
        assert_eq!(frame_level_dbov(&[]), SILENCE_DBOV);
        let square: Vec<i16> = (0..160)
            .map(|i| if i % 2 == 0 { 32767 } else { -32767 })
            .collect();
        assert!(frame_level_dbov(&square).abs() < 0.01);
        let half: Vec<i16> = square.iter().map(|&x| x / 2).collect();
        assert!((frame_level_dbov(&half) + 6.02).abs() < 0.05);
    }
}

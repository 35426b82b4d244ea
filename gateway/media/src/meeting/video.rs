//! Switched video for meetings (sans-IO): every leg sees the active
//! speaker, the speaker sees the previous one. Packets are forwarded
//! without decoding: only the RTP header is rewritten so each receiver sees
//! one continuous stream (its own stable SSRC, gap-free sequence numbers
//! and a 90 kHz timestamp that keeps running across a switch).
//!
//! The bridge feeds [`VideoSwitch`] with each 20 ms frame's audio levels
//! ([`VideoSwitch::on_frame`]), each video packet that arrives
//! ([`VideoSwitch::on_rtp`]) and each keyframe request a receiver sends
//! ([`VideoSwitch::on_keyframe_request`]); it sends what comes out
//! ([`Rewrite`]s, and the keyframe asks of [`VideoSwitch::poll_ask`]).
//! Time is an argument; nothing here reads a clock or touches a socket.
//!
//! Switching rules:
//! - a challenger must be louder (3 dB, smoothed) than the current speaker
//!   for [`SwitchTiming::lead_frames`] frames in a row, and
//! - two switches are at least [`SwitchTiming::min_switch_frames`] apart,
//!   so a cough or a quick "yes" does not make every screen flicker;
//! - a receiver moves to a new source only at the start of a keyframe of
//!   that source (and keeps the old picture until then), so no decoder is
//!   fed a predicted frame whose reference it never saw; the new source is
//!   asked for a keyframe at once, again every [`SwitchTiming::keyframe_retry`]
//!   while someone still waits.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use codecs::{ActiveSpeaker, SILENCE_DBOV};

/// RTP clock of every video payload format we forward.
pub const VIDEO_CLOCK: u32 = 90_000;

/// The hold-offs of the switch, in 20 ms mix frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchTiming {
    /// A challenger leads this long before it takes the floor (15 = 300 ms).
    pub lead_frames: u32,
    /// Two switches are at least this far apart (75 = 1.5 s).
    pub min_switch_frames: u32,
    /// A receiver still waiting for a keyframe asks again after this.
    pub keyframe_retry: Duration,
    /// One source is asked at most this often, however many receivers
    /// (or their PLIs) want a keyframe from it.
    pub ask_spacing: Duration,
}

impl Default for SwitchTiming {
    fn default() -> Self {
        SwitchTiming {
            lead_frames: 15,
            min_switch_frames: 75,
            keyframe_retry: Duration::from_secs(1),
            ask_spacing: Duration::from_millis(300),
        }
    }
}

/// How a leg negotiated to be asked for a keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyframeFeedback {
    /// `a=rtcp-fb:<pt> nack pli` (RFC 4585).
    pub pli: bool,
    /// `a=rtcp-fb:<pt> ccm fir` (RFC 5104).
    pub fir: bool,
}

impl KeyframeFeedback {
    /// Without either, the request goes through signalling (SIP INFO
    /// `picture_fast_update`, H.245 videoFastUpdatePicture).
    pub fn over_rtcp(self) -> bool {
        self.pli || self.fir
    }
}

/// The H.264 packetization (RFC 6184) of a stream: what must match for a
/// packet to be forwarded to another leg without depacketizing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H264Format {
    /// `packetization-mode` (0: single NAL unit, 1: non-interleaved).
    pub packetization_mode: u8,
    /// `profile_idc` of `profile-level-id` (0x42 baseline, 0x4d main,
    /// 0x64 high): a decoder of one profile cannot decode a higher one.
    pub profile_idc: u8,
}

impl H264Format {
    /// From an `a=fmtp` value. Absent parameters take their RFC 6184
    /// defaults (mode 0, baseline 42000a). `None` for interleaved mode 2,
    /// which we do not forward.
    pub fn from_fmtp(fmtp: Option<&str>) -> Option<H264Format> {
        let mut f = H264Format {
            packetization_mode: 0,
            profile_idc: 0x42,
        };
        for param in fmtp.unwrap_or("").split(';') {
            let Some((k, v)) = param.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("packetization-mode") {
                f.packetization_mode = v.parse().ok()?;
            } else if k.eq_ignore_ascii_case("profile-level-id") && v.len() == 6 {
                f.profile_idc = u8::from_str_radix(&v[..2], 16).ok()?;
            }
        }
        (f.packetization_mode <= 1).then_some(f)
    }
}

/// NAL unit types that start a decodable picture: IDR slice, SPS, PPS.
fn starts_picture(nal_type: u8) -> bool {
    matches!(nal_type, 5 | 7 | 8)
}

/// Whether an H.264 RTP payload (RFC 6184) begins a keyframe: an IDR
/// slice, SPS or PPS as a single NAL unit, inside a STAP-A, or the first
/// fragment of an FU-A carrying an IDR slice. A receiver switched to a new
/// source starts with such a packet.
pub fn is_h264_keyframe_start(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    match first & 0x1f {
        t @ 1..=23 => starts_picture(t),
        24 => {
            let mut rest = &payload[1..];
            while rest.len() >= 3 {
                let size = u16::from_be_bytes([rest[0], rest[1]]) as usize;
                if size == 0 || size > rest.len() - 2 {
                    return false;
                }
                if starts_picture(rest[2] & 0x1f) {
                    return true;
                }
                rest = &rest[2 + size..];
            }
            false
        }
        28 => payload
            .get(1)
            .is_some_and(|&fu| fu & 0x80 != 0 && starts_picture(fu & 0x1f)),
        _ => false,
    }
}

/// The header fields of one arriving video packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoPacket {
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
}

/// How to send one arriving packet on to one receiver: the header it gets
/// there (the payload and marker bit stay as they came).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrite {
    pub receiver: u64,
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
    pub payload_type: u8,
}

/// A source the bridge must ask for a keyframe (RTCP PLI/FIR, or through
/// its signalling), with the SSRC it sends with if any was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyframeAsk {
    pub source: u64,
    pub media_ssrc: Option<u32>,
}

/// What one [`VideoSwitch::on_rtp`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Forwarded {
    /// Receivers the packet goes to.
    pub receivers: usize,
    /// Receivers that wait for a keyframe of this source and skipped it.
    pub held_for_keyframe: usize,
}

/// Which source a receiver is on and how its header is mapped.
#[derive(Debug, Clone, Copy)]
struct Mapping {
    source: u64,
    ssrc: u32,
    first_seq: u16,
    seq_delta: u16,
    ts_delta: u32,
}

#[derive(Debug)]
struct SwitchLeg {
    id: u64,
    /// The leg sends video we may show others.
    sends: bool,
    /// The leg wants video.
    receives: bool,
    payload_type: u8,
    out_ssrc: u32,
    slot: usize,
    // As a source.
    last_ssrc: Option<u32>,
    last_ask: Option<Instant>,
    // As a receiver.
    mapping: Option<Mapping>,
    /// Source it is to move to, and when that source was last asked.
    pending: Option<(u64, Instant)>,
    next_seq: u16,
    last_ts: u32,
    last_sent: Option<Instant>,
}

impl SwitchLeg {
    /// The source this receiver shows or is moving to.
    fn heading_for(&self) -> Option<u64> {
        self.pending
            .map(|(s, _)| s)
            .or(self.mapping.map(|m| m.source))
    }
}

/// The active-speaker video switch of one meeting.
#[derive(Debug)]
pub struct VideoSwitch {
    timing: SwitchTiming,
    detector: ActiveSpeaker,
    /// Detector index → leg; indices stay stable while legs come and go.
    slots: Vec<Option<u64>>,
    levels: Vec<f32>,
    legs: Vec<SwitchLeg>,
    speaker: Option<u64>,
    previous: Option<u64>,
    frames_since_switch: u32,
    asks: VecDeque<KeyframeAsk>,
    switches: u64,
}

impl Default for VideoSwitch {
    fn default() -> Self {
        VideoSwitch::new(SwitchTiming::default())
    }
}

impl VideoSwitch {
    pub fn new(timing: SwitchTiming) -> VideoSwitch {
        VideoSwitch {
            timing,
            detector: ActiveSpeaker::new(timing.lead_frames.max(1)),
            slots: Vec::new(),
            levels: Vec::new(),
            legs: Vec::new(),
            speaker: None,
            previous: None,
            frames_since_switch: 0,
            asks: VecDeque::new(),
            switches: 0,
        }
    }

    /// The leg everyone (but itself) sees.
    pub fn speaker(&self) -> Option<u64> {
        self.speaker
    }

    /// How many times the floor changed.
    pub fn switches(&self) -> u64 {
        self.switches
    }

    /// The source `receiver` currently shows (not the one it waits for).
    pub fn showing(&self, receiver: u64) -> Option<u64> {
        self.leg(receiver).and_then(|l| l.mapping.map(|m| m.source))
    }

    /// The SSRC `receiver` gets its video with, stable for the whole call.
    pub fn out_ssrc(&self, receiver: u64) -> Option<u32> {
        self.leg(receiver).map(|l| l.out_ssrc)
    }

    fn leg(&self, id: u64) -> Option<&SwitchLeg> {
        self.legs.iter().find(|l| l.id == id)
    }

    fn leg_mut(&mut self, id: u64) -> Option<&mut SwitchLeg> {
        self.legs.iter_mut().find(|l| l.id == id)
    }

    /// A video leg joins. `out_ssrc`, `first_seq` and `first_ts` are the
    /// random starting points of what it will receive (RFC 3550 §5.1).
    #[allow(clippy::too_many_arguments)]
    pub fn add_leg(
        &mut self,
        id: u64,
        sends: bool,
        receives: bool,
        payload_type: u8,
        out_ssrc: u32,
        first_seq: u16,
        first_ts: u32,
        now: Instant,
    ) {
        if self.leg(id).is_some() {
            self.remove_leg(id, now);
        }
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(i) => {
                self.slots[i] = Some(id);
                i
            }
            None => {
                self.slots.push(Some(id));
                self.slots.len() - 1
            }
        };
        self.legs.push(SwitchLeg {
            id,
            sends,
            receives,
            payload_type,
            out_ssrc,
            slot,
            last_ssrc: None,
            last_ask: None,
            mapping: None,
            pending: None,
            next_seq: first_seq,
            last_ts: first_ts,
            last_sent: None,
        });
        if self.speaker.is_none() && sends {
            // Nobody has spoken yet: show the first camera rather than none.
            self.speaker = Some(id);
            self.frames_since_switch = 0;
        }
        self.retarget(now);
    }

    /// A leg leaves. Receivers that showed it freeze on its last picture
    /// until the next speaker's keyframe; if it held the floor, the
    /// loudest remaining camera takes it at once.
    pub fn remove_leg(&mut self, id: u64, now: Instant) {
        let Some(i) = self.legs.iter().position(|l| l.id == id) else {
            return;
        };
        let gone = self.legs.swap_remove(i);
        self.slots[gone.slot] = None;
        let held_detector = self.detector.current() == Some(gone.slot);
        for l in &mut self.legs {
            if l.mapping.is_some_and(|m| m.source == id) {
                l.mapping = None;
            }
            if l.pending.is_some_and(|(s, _)| s == id) {
                l.pending = None;
            }
        }
        if self.previous == Some(id) {
            self.previous = None;
        }
        if self.speaker == Some(id) {
            let next = self
                .legs
                .iter()
                .filter(|l| l.sends)
                .max_by(|a, b| {
                    let la = self.detector.smoothed_dbov(a.slot);
                    let lb = self.detector.smoothed_dbov(b.slot);
                    // On a tie (nobody talking) the previous speaker returns.
                    la.total_cmp(&lb).then_with(|| {
                        (Some(a.id) == self.previous).cmp(&(Some(b.id) == self.previous))
                    })
                })
                .map(|l| l.id);
            if next.is_some() {
                self.switches += 1;
            }
            if next == self.previous {
                self.previous = None;
            }
            self.speaker = next;
            self.frames_since_switch = 0;
        }
        if held_detector {
            // The detector would otherwise keep the floor on an empty slot
            // until a challenger out-talks its fading level.
            self.detector = ActiveSpeaker::new(self.timing.lead_frames.max(1));
        }
        self.retarget(now);
    }

    /// One 20 ms frame of the mix: `level_of(leg)` is the dBov level of
    /// what the leg sent this frame (see `codecs::frame_level_dbov`).
    pub fn on_frame(&mut self, level_of: impl Fn(u64) -> f32, now: Instant) {
        self.levels.clear();
        for slot in &self.slots {
            let level = slot
                .and_then(|id| self.legs.iter().find(|l| l.id == id))
                .filter(|l| l.sends)
                .map_or(SILENCE_DBOV, |l| level_of(l.id));
            self.levels.push(level);
        }
        self.detector.update(&self.levels);
        self.frames_since_switch = self.frames_since_switch.saturating_add(1);
        let loudest = self
            .detector
            .current()
            .and_then(|s| self.slots.get(s).copied().flatten());
        if let Some(next) = loudest {
            if Some(next) != self.speaker
                && (self.speaker.is_none()
                    || self.frames_since_switch >= self.timing.min_switch_frames)
            {
                self.previous = self.speaker;
                self.speaker = Some(next);
                self.frames_since_switch = 0;
                self.switches += 1;
                self.retarget(now);
            }
        }
        // Ask again for receivers whose keyframe never came (lost, or the
        // source ignored the first request).
        let retry = self.timing.keyframe_retry;
        let mut due: [Option<u64>; 4] = [None; 4];
        let mut n = 0;
        for l in &mut self.legs {
            if let Some((s, at)) = l.pending {
                if now.saturating_duration_since(at) >= retry {
                    l.pending = Some((s, now));
                    if n < due.len() && !due[..n].contains(&Some(s)) {
                        due[n] = Some(s);
                        n += 1;
                    }
                }
            }
        }
        for s in due.into_iter().flatten() {
            self.ask(s, now);
        }
    }

    /// A video packet from leg `from` arrived; `payload` is its RTP
    /// payload. `emit` is called once per receiver it goes to.
    pub fn on_rtp(
        &mut self,
        from: u64,
        pkt: VideoPacket,
        payload: &[u8],
        now: Instant,
        mut emit: impl FnMut(Rewrite),
    ) -> Forwarded {
        let mut done = Forwarded::default();
        let Some(src) = self.leg_mut(from) else {
            return done;
        };
        src.last_ssrc = Some(pkt.ssrc);
        let mut keyframe: Option<bool> = None;
        let mut is_key = || *keyframe.get_or_insert_with(|| is_h264_keyframe_start(payload));
        let mut wants_ask = false;
        for r in &mut self.legs {
            if r.id == from || !r.receives {
                continue;
            }
            let pending_here = r.pending.is_some_and(|(s, _)| s == from);
            let on_here = r.mapping.is_some_and(|m| m.source == from);
            if !pending_here && !on_here {
                continue;
            }
            // A source that restarted its stream (new SSRC) is a new stream:
            // the receiver waits for its keyframe as after a switch.
            let same_stream = r
                .mapping
                .is_some_and(|m| m.source == from && m.ssrc == pkt.ssrc);
            if pending_here || !same_stream {
                if !is_key() {
                    done.held_for_keyframe += 1;
                    if !pending_here {
                        r.pending = Some((from, now));
                        wants_ask = true;
                    }
                    continue;
                }
                let elapsed = r.last_sent.map_or(0, |t| {
                    let d = now.saturating_duration_since(t);
                    (d.as_micros().min(u32::MAX as u128) as u64 * VIDEO_CLOCK as u64 / 1_000_000)
                        as u32
                });
                // At least one tick forward so the new picture never shares
                // a timestamp with the last one of the old source.
                let first_ts = r.last_ts.wrapping_add(elapsed.max(1));
                r.mapping = Some(Mapping {
                    source: from,
                    ssrc: pkt.ssrc,
                    first_seq: pkt.seq,
                    seq_delta: r.next_seq.wrapping_sub(pkt.seq),
                    ts_delta: first_ts.wrapping_sub(pkt.timestamp),
                });
                r.pending = None;
            }
            let Some(m) = r.mapping else { continue };
            // Late packets from before the keyframe we started at would
            // land on sequence numbers the old source already used.
            if (pkt.seq.wrapping_sub(m.first_seq) as i16) < 0 {
                continue;
            }
            let seq = pkt.seq.wrapping_add(m.seq_delta);
            let timestamp = pkt.timestamp.wrapping_add(m.ts_delta);
            if seq.wrapping_sub(r.next_seq) as i16 >= 0 {
                r.next_seq = seq.wrapping_add(1);
            }
            if timestamp.wrapping_sub(r.last_ts) as i32 >= 0 {
                r.last_ts = timestamp;
            }
            r.last_sent = Some(now);
            done.receivers += 1;
            emit(Rewrite {
                receiver: r.id,
                ssrc: r.out_ssrc,
                seq,
                timestamp,
                payload_type: r.payload_type,
            });
        }
        if wants_ask {
            self.ask(from, now);
        }
        done
    }

    /// `receiver` asked for a keyframe (RTCP PLI/FIR, SIP INFO): ask the
    /// source it shows or waits for.
    pub fn on_keyframe_request(&mut self, receiver: u64, now: Instant) {
        if let Some(s) = self.leg(receiver).and_then(SwitchLeg::heading_for) {
            self.ask(s, now);
        }
    }

    /// The next source to ask for a keyframe.
    pub fn poll_ask(&mut self) -> Option<KeyframeAsk> {
        self.asks.pop_front()
    }

    fn ask(&mut self, source: u64, now: Instant) {
        let spacing = self.timing.ask_spacing;
        let Some(l) = self.leg_mut(source) else {
            return;
        };
        if l.last_ask
            .is_some_and(|t| now.saturating_duration_since(t) < spacing)
        {
            return;
        }
        l.last_ask = Some(now);
        let ask = KeyframeAsk {
            source,
            media_ssrc: l.last_ssrc,
        };
        if self.asks.len() < 64 {
            self.asks.push_back(ask);
        }
    }

    /// Who `receiver` should see: the speaker; the speaker itself sees the
    /// previous speaker, or else any other camera.
    fn target(&self, receiver: u64) -> Option<u64> {
        let sender =
            |id: Option<u64>| id.filter(|&i| i != receiver && self.leg(i).is_some_and(|l| l.sends));
        sender(self.speaker)
            .or_else(|| sender(self.previous))
            .or_else(|| {
                self.legs
                    .iter()
                    .find(|l| l.sends && l.id != receiver)
                    .map(|l| l.id)
            })
    }

    fn retarget(&mut self, now: Instant) {
        let mut to_ask: [Option<u64>; 2] = [None; 2];
        for i in 0..self.legs.len() {
            if !self.legs[i].receives {
                continue;
            }
            let want = self.target(self.legs[i].id);
            let l = &mut self.legs[i];
            if want == l.heading_for() {
                continue;
            }
            match want {
                Some(s) if l.mapping.is_some_and(|m| m.source == s) => l.pending = None,
                Some(s) => {
                    l.pending = Some((s, now));
                    // Targets are the speaker or, for the speaker, one
                    // other leg: at most two distinct sources.
                    if !to_ask.contains(&Some(s)) {
                        if let Some(slot) = to_ask.iter_mut().find(|x| x.is_none()) {
                            *slot = Some(s);
                        }
                    }
                }
                None => l.pending = None,
            }
        }
        for s in to_ask.into_iter().flatten() {
            self.ask(s, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDR_FU_START: [u8; 4] = [0x7c, 0x85, 0xaa, 0xbb];
    const FU_MIDDLE: [u8; 4] = [0x7c, 0x05, 0xaa, 0xbb];
    const P_SLICE: [u8; 3] = [0x41, 0x9a, 0x00];
    const SPS: [u8; 4] = [0x67, 0x42, 0xc0, 0x1f];

    fn timing() -> SwitchTiming {
        SwitchTiming {
            lead_frames: 15,
            min_switch_frames: 75,
            keyframe_retry: Duration::from_secs(1),
            ask_spacing: Duration::from_millis(300),
        }
    }

    struct Rig {
        sw: VideoSwitch,
        now: Instant,
    }

    impl Rig {
        fn new(legs: &[u64]) -> Rig {
            let now = Instant::now();
            let mut sw = VideoSwitch::new(timing());
            for &id in legs {
                sw.add_leg(
                    id,
                    true,
                    true,
                    96 + id as u8,
                    0x1000 * id as u32,
                    100,
                    5000,
                    now,
                );
            }
            Rig { sw, now }
        }

        /// `frames` frames with only `talker` loud (or nobody).
        fn talk(&mut self, talker: Option<u64>, frames: u32) {
            for _ in 0..frames {
                self.now += Duration::from_millis(20);
                self.sw.on_frame(
                    |id| {
                        if Some(id) == talker {
                            -20.0
                        } else {
                            SILENCE_DBOV
                        }
                    },
                    self.now,
                );
            }
        }

        fn send(&mut self, from: u64, seq: u16, ts: u32, payload: &[u8]) -> Vec<Rewrite> {
            let mut out = Vec::new();
            let pkt = VideoPacket {
                ssrc: 0xa000 + from as u32,
                seq,
                timestamp: ts,
            };
            self.sw
                .on_rtp(from, pkt, payload, self.now, |r| out.push(r));
            out
        }

        fn asks(&mut self) -> Vec<u64> {
            std::iter::from_fn(|| self.sw.poll_ask())
                .map(|a| a.source)
                .collect()
        }
    }

    #[test]
    fn keyframe_starts_are_recognised_in_every_packetization() {
        assert!(is_h264_keyframe_start(&IDR_FU_START));
        assert!(!is_h264_keyframe_start(&FU_MIDDLE), "FU-A without S bit");
        assert!(is_h264_keyframe_start(&SPS));
        assert!(is_h264_keyframe_start(&[0x65, 0x88]), "single IDR NAL");
        assert!(!is_h264_keyframe_start(&P_SLICE));
        // STAP-A: an SEI (6) then an SPS.
        let stap = [0x78, 0, 2, 0x06, 0x01, 0, 2, 0x67, 0x42];
        assert!(is_h264_keyframe_start(&stap));
        // STAP-A whose size field runs past the end: not trusted.
        assert!(!is_h264_keyframe_start(&[0x78, 0, 9, 0x67]));
        assert!(!is_h264_keyframe_start(&[0x7c]), "FU-A without header");
        assert!(!is_h264_keyframe_start(&[]));
    }

    #[test]
    fn fmtp_gives_the_forwarding_format_with_rfc_defaults() {
        let f = H264Format::from_fmtp(Some("profile-level-id=42e01f; packetization-mode=1"));
        assert_eq!(
            f,
            Some(H264Format {
                packetization_mode: 1,
                profile_idc: 0x42
            })
        );
        assert_eq!(
            H264Format::from_fmtp(None),
            Some(H264Format {
                packetization_mode: 0,
                profile_idc: 0x42
            })
        );
        assert_eq!(
            H264Format::from_fmtp(Some("packetization-mode=2")),
            None,
            "interleaved mode is not forwarded"
        );
        assert_eq!(
            H264Format::from_fmtp(Some("profile-level-id=640028")).map(|f| f.profile_idc),
            Some(0x64)
        );
    }

    #[test]
    fn the_first_camera_is_shown_and_forwarding_waits_for_its_keyframe() {
        let mut r = Rig::new(&[1, 2, 3]);
        assert_eq!(r.sw.speaker(), Some(1));
        let mut asked = r.asks();
        asked.sort();
        assert_eq!(
            asked,
            [1, 2],
            "the speaker and the speaker's own view are asked"
        );
        assert!(r.send(1, 10, 1000, &P_SLICE).is_empty(), "no P frame first");
        let out = r.send(1, 11, 1000, &IDR_FU_START);
        let receivers: Vec<u64> = out.iter().map(|w| w.receiver).collect();
        assert_eq!(receivers, [2, 3]);
        for w in &out {
            assert_eq!(
                w.seq, 100,
                "the first packet continues the receiver's own sequence"
            );
            assert_eq!(w.ssrc, 0x1000 * w.receiver as u32, "SSRC of the receiver");
            assert_eq!(w.payload_type, 96 + w.receiver as u8, "PT of the receiver");
        }
        let next = r.send(1, 12, 1000, &FU_MIDDLE);
        assert_eq!(next.iter().map(|w| w.seq).collect::<Vec<_>>(), [101, 101]);
        // Speaker 1 sees the other camera.
        assert!(r
            .send(2, 50, 7, &IDR_FU_START)
            .iter()
            .any(|w| w.receiver == 1));
    }

    #[test]
    fn a_challenger_needs_the_lead_and_the_hold_off() {
        let mut r = Rig::new(&[1, 2]);
        r.talk(Some(1), 100);
        assert_eq!(r.sw.speaker(), Some(1));
        // A short interjection (200 ms) does not switch.
        r.talk(Some(2), 10);
        r.talk(Some(1), 30);
        assert_eq!(r.sw.speaker(), Some(1));
        // A sustained one does, after leading for the lead time.
        let mut frames = 0;
        while r.sw.speaker() != Some(2) && frames < 100 {
            r.talk(Some(2), 1);
            frames += 1;
        }
        assert_eq!(r.sw.speaker(), Some(2));
        assert!(frames >= 15, "switched after {frames} frames");
        let switches = r.sw.switches();
        // Leg 1 answers at once: the 1.5 s hold-off keeps 2 on screen.
        r.talk(Some(1), 74);
        assert_eq!(r.sw.speaker(), Some(2), "within the hold-off");
        r.talk(Some(1), 1);
        assert_eq!(r.sw.speaker(), Some(1), "after the hold-off");
        assert_eq!(r.sw.switches(), switches + 1);
    }

    #[test]
    fn a_switch_asks_the_new_source_and_keeps_seq_and_timestamps_running() {
        let mut r = Rig::new(&[1, 2, 3]);
        r.asks();
        assert_eq!(
            r.send(2, 6990, 500, &IDR_FU_START).len(),
            1,
            "to the speaker"
        );
        assert_eq!(r.send(1, 500, 90_000, &IDR_FU_START).len(), 2);
        r.send(1, 501, 93_000, &P_SLICE);
        let before: Vec<Rewrite> = r.send(1, 502, 96_000, &P_SLICE);
        let to3 = before.iter().find(|w| w.receiver == 3).copied().unwrap();
        r.talk(Some(2), 80);
        assert_eq!(r.sw.speaker(), Some(2));
        assert_eq!(r.asks(), [2], "the new speaker is asked for a keyframe");
        // Until 2's keyframe, 3 keeps the old picture running.
        r.now += Duration::from_millis(40);
        let still = r.send(1, 503, 99_000, &P_SLICE);
        let still3 = still.iter().find(|w| w.receiver == 3).unwrap();
        assert_eq!(still3.seq, to3.seq.wrapping_add(1));
        assert!(r
            .send(2, 7000, 1_234_567, &P_SLICE)
            .iter()
            .all(|w| w.receiver != 3));
        r.now += Duration::from_millis(100);
        let switched = r.send(2, 7001, 1_237_567, &SPS);
        let w = switched.iter().find(|w| w.receiver == 3).copied().unwrap();
        assert_eq!(
            w.seq,
            to3.seq.wrapping_add(2),
            "no gap, no repeat across the switch"
        );
        assert_eq!(w.ssrc, to3.ssrc, "same SSRC across the switch");
        assert_eq!(
            w.timestamp,
            to3.timestamp.wrapping_add(3000 + 9000),
            "the timestamp advances by the 100 ms since the last packet"
        );
        let w2 = r.send(2, 7002, 1_240_567, &P_SLICE);
        let w2 = w2.iter().find(|w| w.receiver == 3).unwrap();
        assert_eq!(
            (w2.seq, w2.timestamp),
            (w.seq.wrapping_add(1), w.timestamp.wrapping_add(3000))
        );
        // The old source's packets no longer reach 3 ...
        let old = r.send(1, 504, 102_000, &P_SLICE);
        assert!(old.iter().all(|w| w.receiver != 3));
        // ... but the new speaker keeps seeing the previous one.
        assert_eq!(r.sw.showing(2), Some(1));
        assert!(old.iter().any(|w| w.receiver == 2));
    }

    #[test]
    fn a_receivers_pli_is_passed_to_its_source_at_a_bounded_rate() {
        let mut r = Rig::new(&[1, 2]);
        r.asks();
        r.send(1, 1, 0, &IDR_FU_START);
        r.now += Duration::from_secs(1);
        r.sw.on_keyframe_request(2, r.now);
        r.sw.on_keyframe_request(2, r.now);
        assert_eq!(r.asks(), [1], "two PLIs at once make one request");
        r.now += Duration::from_millis(400);
        r.sw.on_keyframe_request(2, r.now);
        assert_eq!(r.asks(), [1]);
    }

    #[test]
    fn a_missing_keyframe_is_asked_for_again() {
        let mut r = Rig::new(&[1, 2]);
        assert_eq!(r.asks().len(), 2);
        r.talk(None, 10);
        assert!(r.asks().is_empty());
        r.talk(None, 45);
        let mut asked = r.asks();
        asked.sort();
        assert_eq!(asked, [1, 2], "both still wait after a second");
    }

    #[test]
    fn when_the_speaker_leaves_the_next_loudest_camera_takes_over() {
        let mut r = Rig::new(&[1, 2, 3]);
        r.send(2, 1, 0, &IDR_FU_START);
        r.talk(Some(1), 100);
        r.talk(Some(3), 5);
        r.send(1, 1, 0, &IDR_FU_START);
        r.asks();
        r.sw.remove_leg(1, r.now);
        assert_eq!(r.sw.speaker(), Some(3), "3 spoke last");
        let mut asked = r.asks();
        asked.sort();
        assert_eq!(
            asked,
            [2, 3],
            "3 for 2, and 2 for the new speaker's own view"
        );
        let out = r.send(3, 9, 9, &IDR_FU_START);
        assert_eq!(out.iter().map(|w| w.receiver).collect::<Vec<_>>(), [2]);
        assert_eq!(
            out[0].seq, 101,
            "2's sequence continues after leg 1's packet"
        );
        // A newcomer right after the switch shares the request in flight
        // (one keyframe serves every receiver) and sees the speaker.
        r.sw.add_leg(4, true, true, 100, 0x4000, 0, 0, r.now);
        assert!(r.asks().is_empty());
        assert!(r.send(3, 10, 3009, &SPS).iter().any(|w| w.receiver == 4));
    }

    #[test]
    fn a_source_that_restarts_its_stream_is_shown_again_from_a_keyframe() {
        let mut r = Rig::new(&[1, 2]);
        r.send(1, 1, 0, &IDR_FU_START);
        r.asks();
        r.now += Duration::from_secs(1);
        let pkt = VideoPacket {
            ssrc: 0xbeef,
            seq: 40000,
            timestamp: 1,
        };
        let mut out = Vec::new();
        let f = r.sw.on_rtp(1, pkt, &P_SLICE, r.now, |w| out.push(w));
        assert_eq!((f.receivers, f.held_for_keyframe), (0, 1));
        assert_eq!(r.asks(), [1]);
        let f = r.sw.on_rtp(
            1,
            VideoPacket { seq: 40001, ..pkt },
            &IDR_FU_START,
            r.now,
            |w| out.push(w),
        );
        assert_eq!(f.receivers, 1);
        assert_eq!(out[0].seq, 101);
    }

    #[test]
    fn a_receive_only_leg_is_never_shown() {
        let now = Instant::now();
        let mut sw = VideoSwitch::new(timing());
        sw.add_leg(1, false, true, 96, 1, 0, 0, now);
        sw.add_leg(2, true, true, 96, 2, 0, 0, now);
        assert_eq!(sw.speaker(), Some(2));
        for _ in 0..200 {
            sw.on_frame(|id| if id == 1 { -10.0 } else { SILENCE_DBOV }, now);
        }
        assert_eq!(sw.speaker(), Some(2), "a loud leg without a camera");
    }
}

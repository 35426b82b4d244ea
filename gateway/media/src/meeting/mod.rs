//! The meeting bridge: one task owns every leg of a meeting — its sockets,
//! latching state, codec and packet clock — and every 20 ms decodes what
//! each leg sent, mixes, and sends each leg the sum of everyone else
//! (mix-minus) in its own codec.
//!
//! Signalling (SIP today, H.323 and WebRTC later) binds a leg's ports with
//! [`crate::MediaRelay::bind_leg`], puts them in its answer, and hands them
//! to [`MeetingBridge::add_leg`] with what the negotiation chose
//! ([`MeetingLegSpec`]). Legs join and leave without disturbing the others:
//! a leg's arrival or departure only changes which inputs the next frame
//! sums.
//!
//! Timing: each leg's decoded audio goes into its own FIFO, primed with
//! [`PRIME_SAMPLES`] before it plays (absorbs arrival jitter and a leg's own
//! packet time); a FIFO that runs dry plays silence and primes again. The
//! added latency is therefore one tick plus the priming depth (≈ 60 ms).

pub(crate) mod codec;
mod record;
pub mod seal;
pub mod video;

pub use record::{OnClosed, RecordingClosed, RecordingSpec, RecordingStats};

pub use codec::{UnsupportedCodec, FRAME, MIXABLE, MIX_RATE};
pub use video::{H264Format, KeyframeFeedback};

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway_callmodel::AudioCodec;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::leg::{Inbound, LegState, SocketKind, DEFAULT_LATCH_WINDOW};
use crate::packet::PacketClass;
use crate::relay::{MediaError, PortLease};
use crate::transform::PacketTransform;
use codec::LegCodec;

/// Decoded audio a leg must have queued before it is mixed in (40 ms).
pub const PRIME_SAMPLES: usize = 2 * FRAME;
/// A leg's FIFO never holds more than this (200 ms); beyond, the oldest
/// audio is dropped so a leg whose clock runs fast cannot add delay.
const MAX_QUEUED: usize = 10 * FRAME;
/// Ticks over which a leg's smallest queue depth is watched (1 s).
const TRIM_WINDOW_TICKS: u32 = 50;
/// Packets read per socket per tick, so one flooding peer cannot starve the
/// others' mix.
const MAX_READS_PER_TICK: usize = 64;
const TICK: Duration = Duration::from_millis(20);
const BUF: usize = 4096;
/// Video packets read per socket per tick: a keyframe arrives as a burst
/// of dozens of packets within a few milliseconds.
const MAX_VIDEO_READS_PER_TICK: usize = 256;
/// Events waiting for the signalling side; beyond, the oldest matter less
/// than the bridge's progress (a keyframe request is asked again).
const VIDEO_EVENTS: usize = 256;

/// Whether the bridge can decode and encode `codec` (the rest are refused
/// at negotiation with 488).
pub fn can_mix(codec: AudioCodec) -> bool {
    LegCodec::new(codec).is_ok()
}

/// A leg's bound ports, not yet in a meeting.
pub struct BoundLeg {
    sockets: [UdpSocket; 2],
    local: (SocketAddr, SocketAddr),
    lease: PortLease,
}

impl BoundLeg {
    pub(crate) fn new(
        sockets: [UdpSocket; 2],
        local: (SocketAddr, SocketAddr),
        lease: PortLease,
    ) -> BoundLeg {
        BoundLeg {
            sockets,
            local,
            lease,
        }
    }

    /// (RTP, RTCP) address to put in the leg's answer.
    pub fn local_addr(&self) -> (SocketAddr, SocketAddr) {
        self.local
    }
}

impl std::fmt::Debug for BoundLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundLeg")
            .field("local", &self.local)
            .finish()
    }
}

/// What the negotiation chose for one leg.
pub struct MeetingLegSpec {
    pub id: u64,
    /// For logs: who the leg is (endpoint id, Call-ID).
    pub label: String,
    pub remote_rtp: SocketAddr,
    pub remote_rtcp: Option<SocketAddr>,
    pub rtcp_mux: bool,
    pub codec: AudioCodec,
    pub payload_type: u8,
    pub telephone_event: Option<u8>,
    /// Packet time the leg sends and wants, 10..=60 ms (20 if unsure).
    pub ptime_ms: u32,
    /// Applied to every packet received (SRTP unprotect) and sent (protect).
    pub inbound: Option<Box<dyn PacketTransform>>,
    pub outbound: Option<Box<dyn PacketTransform>>,
}

/// Live counters of one leg, readable while the meeting runs.
#[derive(Debug, Default)]
pub struct MeetingLegCounters {
    pub packets_in: AtomicU64,
    pub packets_out: AtomicU64,
    pub dtmf_packets: AtomicU64,
    pub rtcp_in: AtomicU64,
    /// Dropped: foreign source, malformed, transform refused, unknown PT.
    pub dropped: AtomicU64,
    /// Ticks on which a primed leg had no audio (it then plays silence).
    pub underruns: AtomicU64,
    /// Audio dropped because the leg's FIFO was over its bound, in samples.
    pub overflow_samples: AtomicU64,
}

/// What the negotiation chose for one leg's video stream (switched, not
/// mixed: see [`video`]). Its RTP is forwarded to the other legs
/// unchanged but for the header, so every video leg of a meeting uses the
/// same payload format (H.264 with the same packetization-mode).
pub struct MeetingVideoSpec {
    pub remote_rtp: SocketAddr,
    pub remote_rtcp: Option<SocketAddr>,
    pub rtcp_mux: bool,
    pub payload_type: u8,
    /// The leg sends video (sendrecv/sendonly): it may be shown.
    pub sends: bool,
    /// The leg wants video (sendrecv/recvonly).
    pub receives: bool,
    /// How the leg is asked for a keyframe; without RTCP feedback the
    /// bridge emits [`MeetingVideoEvent::KeyframeRequest`] instead.
    pub feedback: KeyframeFeedback,
    pub inbound: Option<Box<dyn PacketTransform>>,
    pub outbound: Option<Box<dyn PacketTransform>>,
}

/// Live counters of one leg's video.
#[derive(Debug, Default)]
pub struct MeetingVideoCounters {
    pub packets_in: AtomicU64,
    /// Packets sent to this leg (the speaker's video, rewritten).
    pub packets_out: AtomicU64,
    pub rtcp_in: AtomicU64,
    /// Foreign source, malformed, transform refused, unknown PT.
    pub dropped: AtomicU64,
    /// PLI/FIR received from this leg (and INFO picture_fast_update).
    pub keyframe_requests_in: AtomicU64,
    /// PLI, FIR, or signalled requests sent to this leg.
    pub plis_sent: AtomicU64,
    pub firs_sent: AtomicU64,
    pub signalled_requests: AtomicU64,
}

/// What the bridge needs the signalling side to do or know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeetingVideoEvent {
    /// Ask `leg` for a keyframe through its signalling (SIP INFO
    /// `picture_fast_update`): it negotiated no RTCP feedback.
    KeyframeRequest { leg: u64 },
    /// The floor passed to `leg`.
    Speaker { leg: Option<u64> },
}

enum Command {
    Add(Box<(BoundLeg, MeetingLegSpec)>, Arc<MeetingLegCounters>),
    AddVideo(
        u64,
        Box<(BoundLeg, MeetingVideoSpec)>,
        Arc<MeetingVideoCounters>,
    ),
    VideoRemote {
        id: u64,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
        rtcp_mux: bool,
    },
    /// A receiver asked for a keyframe through its signalling.
    KeyframeRequest(u64),
    Remote {
        id: u64,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
        rtcp_mux: bool,
    },
    Remove(u64),
}

/// Handle to a running meeting's media. Dropping it (or [`close`]) ends the
/// task and returns every leg's ports.
///
/// [`close`]: MeetingBridge::close
pub struct MeetingBridge {
    label: Arc<str>,
    control: mpsc::Sender<Command>,
    task: Option<JoinHandle<()>>,
    recording_stats: Arc<RecordingStats>,
    video_events: mpsc::Receiver<MeetingVideoEvent>,
}

impl std::fmt::Debug for MeetingBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeetingBridge")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl MeetingBridge {
    /// Start the mixing task of a meeting. Needs a tokio runtime.
    ///
    /// With `recording`, the full mix goes to that Ogg/Opus file for as long
    /// as the bridge runs; a file that cannot be created fails the start
    /// (a meeting that must be recorded does not run unrecorded).
    pub fn start(
        relay: &crate::MediaRelay,
        label: &str,
        recording: Option<&RecordingSpec>,
    ) -> Result<MeetingBridge, MediaError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| MediaError::NoRuntime)?;
        let label: Arc<str> = Arc::from(label);
        let recording_stats = Arc::new(RecordingStats::default());
        let recorder = match recording {
            Some(spec) => Some(
                record::Recorder::start(spec, recording_stats.clone())
                    .map_err(MediaError::Recording)?,
            ),
            None => None,
        };
        let (control, rx) = mpsc::channel(64);
        let (video_tx, video_events) = mpsc::channel(VIDEO_EVENTS);
        let metrics = relay.inner().clone();
        metrics.metrics.sessions_active.fetch_add(1, Relaxed);
        let task = MixTask {
            label: label.clone(),
            legs: Vec::new(),
            control: rx,
            buf: vec![0u8; BUF].into_boxed_slice(),
            out: Vec::with_capacity(BUF),
            total: vec![0i32; FRAME],
            relay: metrics,
            recorder,
            video: video::VideoSwitch::default(),
            video_ports: Vec::new(),
            levels: Vec::new(),
            vbuf: vec![0u8; BUF].into_boxed_slice(),
            video_events: video_tx,
            shown_speaker: None,
        };
        tracing::debug!(meeting = %label, "meeting bridge started");
        Ok(MeetingBridge {
            label,
            control,
            task: Some(runtime.spawn(task.run())),
            recording_stats,
            video_events,
        })
    }

    /// Add a leg. Fails without side effects if its codec cannot be mixed.
    pub fn add_leg(
        &self,
        bound: BoundLeg,
        spec: MeetingLegSpec,
    ) -> Result<Arc<MeetingLegCounters>, MediaError> {
        if let Err(e) = LegCodec::new(spec.codec) {
            return Err(MediaError::Unsupported(e.to_string()));
        }
        let counters = Arc::new(MeetingLegCounters::default());
        self.send(Command::Add(Box::new((bound, spec)), counters.clone()))?;
        Ok(counters)
    }

    /// The leg's peer moved (re-INVITE with another address).
    pub fn set_remote(
        &self,
        id: u64,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
        rtcp_mux: bool,
    ) -> Result<(), MediaError> {
        self.send(Command::Remote {
            id,
            rtp,
            rtcp,
            rtcp_mux,
        })
    }

    /// Give leg `id` (already added with [`add_leg`]) its video stream.
    /// The leg's ports return to the pool when the leg is removed.
    ///
    /// [`add_leg`]: MeetingBridge::add_leg
    pub fn add_video(
        &self,
        id: u64,
        bound: BoundLeg,
        spec: MeetingVideoSpec,
    ) -> Result<Arc<MeetingVideoCounters>, MediaError> {
        let counters = Arc::new(MeetingVideoCounters::default());
        self.send(Command::AddVideo(
            id,
            Box::new((bound, spec)),
            counters.clone(),
        ))?;
        Ok(counters)
    }

    /// The leg's video moved (re-INVITE with another address).
    pub fn set_video_remote(
        &self,
        id: u64,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
        rtcp_mux: bool,
    ) -> Result<(), MediaError> {
        self.send(Command::VideoRemote {
            id,
            rtp,
            rtcp,
            rtcp_mux,
        })
    }

    /// Leg `id` asked for a keyframe through its signalling (SIP INFO
    /// `picture_fast_update`); the source it shows is asked.
    pub fn keyframe_requested(&self, id: u64) -> Result<(), MediaError> {
        self.send(Command::KeyframeRequest(id))
    }

    /// The next thing the bridge needs the signalling side to do, if any.
    pub fn poll_video_event(&mut self) -> Option<MeetingVideoEvent> {
        self.video_events.try_recv().ok()
    }

    /// Packets written to (or dropped from) the recording, if any.
    pub fn recording_stats(&self) -> &RecordingStats {
        &self.recording_stats
    }

    /// Remove a leg; its ports go back to the pool.
    pub fn remove_leg(&self, id: u64) -> Result<(), MediaError> {
        self.send(Command::Remove(id))
    }

    /// Stop mixing and wait until every socket is closed.
    pub async fn close(mut self) {
        let task = self.task.take();
        drop(self);
        if let Some(t) = task {
            let _ = t.await;
        }
    }

    fn send(&self, cmd: Command) -> Result<(), MediaError> {
        self.control.try_send(cmd).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => MediaError::ControlBusy,
            mpsc::error::TrySendError::Closed(_) => MediaError::SessionClosed,
        })
    }
}

struct MixLeg {
    id: u64,
    label: String,
    sockets: [UdpSocket; 2],
    state: LegState,
    codec: LegCodec,
    payload_type: u8,
    telephone_event: Option<u8>,
    /// 16 kHz samples per outgoing packet.
    packet_samples: usize,
    inbox: VecDeque<i16>,
    trim: StandingQueue,
    primed: bool,
    outbox: Vec<i16>,
    input: Vec<i16>,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
    first_packet: bool,
    inbound: Option<Box<dyn PacketTransform>>,
    outbound: Option<Box<dyn PacketTransform>>,
    counters: Arc<MeetingLegCounters>,
    // Drops after the sockets: the ports return once they are closed.
    _lease: PortLease,
}

struct MixTask {
    label: Arc<str>,
    legs: Vec<MixLeg>,
    control: mpsc::Receiver<Command>,
    buf: Box<[u8]>,
    out: Vec<u8>,
    total: Vec<i32>,
    relay: Arc<crate::relay::RelayInner>,
    recorder: Option<record::Recorder>,
    video: video::VideoSwitch,
    video_ports: Vec<VideoPort>,
    /// This frame's level per audio leg, for the active-speaker detector.
    levels: Vec<(u64, f32)>,
    /// Where an outgoing video packet is assembled while `buf` still holds
    /// the incoming one.
    vbuf: Box<[u8]>,
    video_events: mpsc::Sender<MeetingVideoEvent>,
    shown_speaker: Option<u64>,
}

/// One leg's video stream in the bridge.
struct VideoPort {
    id: u64,
    sockets: [UdpSocket; 2],
    state: LegState,
    payload_type: u8,
    feedback: KeyframeFeedback,
    /// Our SSRC toward this leg: of the video we send it and of our RTCP.
    out_ssrc: u32,
    fir_seq: u8,
    inbound: Option<Box<dyn PacketTransform>>,
    outbound: Option<Box<dyn PacketTransform>>,
    counters: Arc<MeetingVideoCounters>,
    _lease: PortLease,
}

impl MixTask {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = self.control.recv() => match cmd {
                    Some(cmd) => self.apply(cmd),
                    None => break,
                },
                _ = tick.tick() => self.tick(Instant::now()),
            }
        }
        self.relay.metrics.sessions_active.fetch_sub(1, Relaxed);
        tracing::debug!(meeting = %self.label, "meeting bridge closed");
    }

    fn apply(&mut self, cmd: Command) {
        match cmd {
            Command::Add(boxed, counters) => {
                let (bound, spec) = *boxed;
                let Ok(codec) = LegCodec::new(spec.codec) else {
                    return;
                };
                let mut state = LegState::new(DEFAULT_LATCH_WINDOW);
                state.set_remote(
                    spec.remote_rtp,
                    spec.remote_rtcp,
                    spec.rtcp_mux,
                    Instant::now(),
                );
                let ptime = codec.ptime_ms(spec.ptime_ms.clamp(10, 60)) as usize;
                tracing::info!(meeting = %self.label, leg = %spec.label, codec = ?spec.codec, ptime, "leg joined the mix");
                self.legs.push(MixLeg {
                    id: spec.id,
                    label: spec.label,
                    sockets: bound.sockets,
                    state,
                    codec,
                    payload_type: spec.payload_type,
                    telephone_event: spec.telephone_event,
                    packet_samples: ptime * MIX_RATE as usize / 1000,
                    inbox: VecDeque::with_capacity(MAX_QUEUED + FRAME),
                    trim: StandingQueue::default(),
                    primed: false,
                    outbox: Vec::with_capacity(4 * FRAME),
                    input: vec![0; FRAME],
                    seq: rand::random(),
                    timestamp: rand::random(),
                    ssrc: rand::random(),
                    first_packet: true,
                    inbound: spec.inbound,
                    outbound: spec.outbound,
                    counters,
                    _lease: bound.lease,
                });
            }
            Command::Remote {
                id,
                rtp,
                rtcp,
                rtcp_mux,
            } => {
                if let Some(l) = self.legs.iter_mut().find(|l| l.id == id) {
                    l.state.set_remote(rtp, rtcp, rtcp_mux, Instant::now());
                }
            }
            Command::Remove(id) => {
                if let Some(i) = self.legs.iter().position(|l| l.id == id) {
                    let l = self.legs.swap_remove(i);
                    tracing::info!(meeting = %self.label, leg = %l.label, "leg left the mix");
                }
                if let Some(i) = self.video_ports.iter().position(|p| p.id == id) {
                    self.video_ports.swap_remove(i);
                    self.video.remove_leg(id, Instant::now());
                    self.after_video_change();
                }
            }
            Command::AddVideo(id, boxed, counters) => {
                let (bound, spec) = *boxed;
                let now = Instant::now();
                let mut state = LegState::new(DEFAULT_LATCH_WINDOW);
                state.set_remote(spec.remote_rtp, spec.remote_rtcp, spec.rtcp_mux, now);
                let out_ssrc: u32 = rand::random();
                if let Some(i) = self.video_ports.iter().position(|p| p.id == id) {
                    self.video_ports.swap_remove(i);
                }
                self.video.add_leg(
                    id,
                    spec.sends,
                    spec.receives,
                    spec.payload_type,
                    out_ssrc,
                    rand::random(),
                    rand::random(),
                    now,
                );
                let label = self
                    .legs
                    .iter()
                    .find(|l| l.id == id)
                    .map_or("", |l| l.label.as_str());
                tracing::info!(meeting = %self.label, leg = %label, pt = spec.payload_type, sends = spec.sends, receives = spec.receives, pli = spec.feedback.pli, fir = spec.feedback.fir, "leg joined the video switch");
                self.video_ports.push(VideoPort {
                    id,
                    sockets: bound.sockets,
                    state,
                    payload_type: spec.payload_type,
                    feedback: spec.feedback,
                    out_ssrc,
                    fir_seq: 0,
                    inbound: spec.inbound,
                    outbound: spec.outbound,
                    counters,
                    _lease: bound.lease,
                });
                self.after_video_change();
            }
            Command::VideoRemote {
                id,
                rtp,
                rtcp,
                rtcp_mux,
            } => {
                if let Some(p) = self.video_ports.iter_mut().find(|p| p.id == id) {
                    p.state.set_remote(rtp, rtcp, rtcp_mux, Instant::now());
                }
            }
            Command::KeyframeRequest(id) => {
                if let Some(p) = self.video_ports.iter().find(|p| p.id == id) {
                    p.counters.keyframe_requests_in.fetch_add(1, Relaxed);
                    self.video.on_keyframe_request(id, Instant::now());
                    self.send_keyframe_asks();
                }
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        for leg in &mut self.legs {
            leg.receive(&mut self.buf, now);
        }
        // Each leg's input for this frame, then the sum of all.
        self.total.iter_mut().for_each(|t| *t = 0);
        for leg in &mut self.legs {
            leg.take_input();
            for (t, &s) in self.total.iter_mut().zip(&leg.input) {
                *t += s as i32;
            }
        }
        if !self.video_ports.is_empty() {
            self.levels.clear();
            for leg in &self.legs {
                self.levels
                    .push((leg.id, codecs::frame_level_dbov(&leg.input)));
            }
            let levels = &self.levels;
            self.video.on_frame(
                |id| {
                    levels
                        .iter()
                        .find(|(l, _)| *l == id)
                        .map_or(codecs::SILENCE_DBOV, |&(_, v)| v)
                },
                now,
            );
            self.after_video_change();
            self.video_receive(now);
            self.send_keyframe_asks();
        }
        if let Some(r) = &mut self.recorder {
            r.push(&self.total);
        }
        for leg in &mut self.legs {
            let minus =
                self.total.iter().zip(&leg.input).map(|(&t, &own)| {
                    (t - own as i32).clamp(i16::MIN as i32, i16::MAX as i32) as i16
                });
            leg.outbox.extend(minus);
            leg.send_ready(&mut self.out, &mut self.buf);
        }
    }
}

impl MixTask {
    /// Reads every video leg and forwards what it sent to the legs that
    /// show it. Packets are read once per tick, like the audio: at most
    /// 20 ms of added delay, and no task or lock per stream.
    fn video_receive(&mut self, now: Instant) {
        for i in 0..self.video_ports.len() {
            for kind in [SocketKind::Rtp, SocketKind::Rtcp] {
                for _ in 0..MAX_VIDEO_READS_PER_TICK {
                    let port = &mut self.video_ports[i];
                    let (len, src) = match port.sockets[kind as usize].try_recv_from(&mut self.buf)
                    {
                        Ok(x) => x,
                        Err(_) => break,
                    };
                    let Some((class, len)) = port.accept(kind, src, &mut self.buf, len, now) else {
                        continue;
                    };
                    let id = port.id;
                    if class == PacketClass::Rtcp {
                        port.counters.rtcp_in.fetch_add(1, Relaxed);
                        if asks_for_keyframe(&self.buf[..len]) {
                            port.counters.keyframe_requests_in.fetch_add(1, Relaxed);
                            self.video.on_keyframe_request(id, now);
                        }
                        continue;
                    }
                    let Some(v) = crate::rtp_header::parse(&self.buf[..len]) else {
                        port.counters.dropped.fetch_add(1, Relaxed);
                        continue;
                    };
                    if v.payload_type != port.payload_type {
                        port.counters.dropped.fetch_add(1, Relaxed);
                        continue;
                    }
                    port.counters.packets_in.fetch_add(1, Relaxed);
                    let payload = &self.buf[v.payload.0..v.payload.1];
                    let ports = &mut self.video_ports;
                    let (out, scratch) = (&mut self.out, &mut self.vbuf);
                    let pkt = video::VideoPacket {
                        ssrc: v.ssrc,
                        seq: v.seq,
                        timestamp: v.timestamp,
                    };
                    self.video.on_rtp(id, pkt, payload, now, |w| {
                        if let Some(p) = ports.iter_mut().find(|p| p.id == w.receiver) {
                            out.clear();
                            crate::rtp_header::write_header(
                                out,
                                w.payload_type,
                                v.marker,
                                w.seq,
                                w.timestamp,
                                w.ssrc,
                            );
                            out.extend_from_slice(payload);
                            if p.send(PacketClass::Rtp, out, scratch) {
                                p.counters.packets_out.fetch_add(1, Relaxed);
                            }
                        }
                    });
                }
            }
        }
    }

    /// Asks each source the switch wants a keyframe from: RTCP PLI/FIR
    /// when it negotiated them, else its signalling through an event.
    fn send_keyframe_asks(&mut self) {
        while let Some(ask) = self.video.poll_ask() {
            let Some(p) = self.video_ports.iter_mut().find(|p| p.id == ask.source) else {
                continue;
            };
            if !p.feedback.over_rtcp() {
                p.counters.signalled_requests.fetch_add(1, Relaxed);
                let _ = self
                    .video_events
                    .try_send(MeetingVideoEvent::KeyframeRequest { leg: p.id });
                continue;
            }
            // Without its SSRC there is nothing to name; the switch asks
            // again while someone waits, by then the source has sent.
            let Some(media_ssrc) = ask.media_ssrc else {
                continue;
            };
            if p.feedback.pli {
                self.out.clear();
                let _ = crate::rtcp::RtcpPacket::Pli {
                    sender_ssrc: p.out_ssrc,
                    media_ssrc,
                }
                .write(&mut self.out);
                if p.send(PacketClass::Rtcp, &self.out, &mut self.vbuf) {
                    p.counters.plis_sent.fetch_add(1, Relaxed);
                }
            }
            if p.feedback.fir {
                p.fir_seq = p.fir_seq.wrapping_add(1);
                let fir = crate::rtcp::build_fir(p.out_ssrc, media_ssrc, p.fir_seq);
                if p.send(PacketClass::Rtcp, &fir, &mut self.vbuf) {
                    p.counters.firs_sent.fetch_add(1, Relaxed);
                }
            }
        }
    }

    /// Tells the signalling side when the floor moved.
    fn after_video_change(&mut self) {
        let now_speaker = self.video.speaker();
        if now_speaker != self.shown_speaker {
            self.shown_speaker = now_speaker;
            tracing::debug!(meeting = %self.label, speaker = ?now_speaker, "video switched");
            let _ = self
                .video_events
                .try_send(MeetingVideoEvent::Speaker { leg: now_speaker });
        }
    }
}

/// Whether an RTCP compound packet holds a PLI or FIR.
fn asks_for_keyframe(pkt: &[u8]) -> bool {
    crate::rtcp::parse_compound(pkt).is_ok_and(|ps| {
        ps.iter().any(|p| {
            matches!(
                p,
                crate::rtcp::RtcpPacket::Pli { .. } | crate::rtcp::RtcpPacket::Fir { .. }
            )
        })
    })
}

impl VideoPort {
    /// Latching and SRTP for one received datagram; the class and plain
    /// length if it is the leg's.
    fn accept(
        &mut self,
        kind: SocketKind,
        src: SocketAddr,
        buf: &mut [u8],
        len: usize,
        now: Instant,
    ) -> Option<(PacketClass, usize)> {
        let class = match self.state.inbound(kind, src, &buf[..len], now) {
            Inbound::Forward { info, .. } => info.class,
            Inbound::Drop(_) => {
                self.counters.dropped.fetch_add(1, Relaxed);
                return None;
            }
        };
        let len = match &mut self.inbound {
            Some(t) => t.transform(class, buf, len),
            None => Some(len),
        };
        if len.is_none() {
            self.counters.dropped.fetch_add(1, Relaxed);
        }
        Some((class, len?))
    }

    /// Protects (if SRTP) and sends one packet to the leg.
    fn send(&mut self, class: PacketClass, pkt: &[u8], scratch: &mut [u8]) -> bool {
        let Some((kind, dst)) = self.state.destination(class) else {
            return false;
        };
        let wire: &[u8] = match &mut self.outbound {
            Some(t) => {
                let n = pkt.len();
                if n > scratch.len() {
                    return false;
                }
                scratch[..n].copy_from_slice(pkt);
                match t.transform(class, scratch, n) {
                    Some(m) if m <= scratch.len() => &scratch[..m],
                    _ => return false,
                }
            }
            None => pkt,
        };
        self.sockets[kind as usize].try_send_to(wire, dst).is_ok()
    }
}

impl MixLeg {
    fn receive(&mut self, buf: &mut [u8], now: Instant) {
        for kind in [SocketKind::Rtp, SocketKind::Rtcp] {
            for _ in 0..MAX_READS_PER_TICK {
                let (len, src) = match self.sockets[kind as usize].try_recv_from(buf) {
                    Ok(x) => x,
                    Err(_) => break,
                };
                let class = match self.state.inbound(kind, src, &buf[..len], now) {
                    Inbound::Forward { info, latched } => {
                        if let Some(reason) = latched {
                            tracing::debug!(leg = %self.label, %src, ?reason, "meeting leg media latched");
                        }
                        info.class
                    }
                    Inbound::Drop(_) => {
                        self.counters.dropped.fetch_add(1, Relaxed);
                        continue;
                    }
                };
                let len = match &mut self.inbound {
                    Some(t) => match t.transform(class, buf, len) {
                        Some(n) => n,
                        None => {
                            self.counters.dropped.fetch_add(1, Relaxed);
                            continue;
                        }
                    },
                    None => len,
                };
                if class == PacketClass::Rtcp {
                    self.counters.rtcp_in.fetch_add(1, Relaxed);
                    continue;
                }
                let Some(v) = crate::rtp_header::parse(&buf[..len]) else {
                    self.counters.dropped.fetch_add(1, Relaxed);
                    continue;
                };
                if v.payload_type == self.payload_type {
                    self.counters.packets_in.fetch_add(1, Relaxed);
                    if !self
                        .codec
                        .decode(&buf[v.payload.0..v.payload.1], &mut self.inbox)
                    {
                        self.counters.dropped.fetch_add(1, Relaxed);
                    }
                    if self.inbox.len() > MAX_QUEUED {
                        let excess = self.inbox.len() - MAX_QUEUED + PRIME_SAMPLES;
                        let excess = excess.min(self.inbox.len());
                        self.inbox.drain(..excess);
                        self.counters
                            .overflow_samples
                            .fetch_add(excess as u64, Relaxed);
                    }
                } else if Some(v.payload_type) == self.telephone_event {
                    self.counters.dtmf_packets.fetch_add(1, Relaxed);
                } else {
                    self.counters.dropped.fetch_add(1, Relaxed);
                }
            }
        }
    }

    fn take_input(&mut self) {
        let excess = self.trim.observe(self.inbox.len()).min(self.inbox.len());
        if excess > 0 {
            self.inbox.drain(..excess);
            self.counters
                .overflow_samples
                .fetch_add(excess as u64, Relaxed);
        }
        if !self.primed && self.inbox.len() >= PRIME_SAMPLES {
            self.primed = true;
        }
        if self.primed && self.inbox.len() >= FRAME {
            for (d, s) in self.input.iter_mut().zip(self.inbox.drain(..FRAME)) {
                *d = s;
            }
        } else {
            if self.primed {
                self.primed = false;
                self.counters.underruns.fetch_add(1, Relaxed);
            }
            self.input.iter_mut().for_each(|s| *s = 0);
        }
    }

    fn send_ready(&mut self, out: &mut Vec<u8>, scratch: &mut [u8]) {
        while self.outbox.len() >= self.packet_samples {
            out.clear();
            crate::rtp_header::write_header(
                out,
                self.payload_type,
                self.first_packet,
                self.seq,
                self.timestamp,
                self.ssrc,
            );
            let encoded = self.codec.encode(&self.outbox[..self.packet_samples], out);
            self.outbox.drain(..self.packet_samples);
            if !encoded {
                self.counters.dropped.fetch_add(1, Relaxed);
                continue;
            }
            self.first_packet = false;
            self.seq = self.seq.wrapping_add(1);
            self.timestamp = self
                .timestamp
                .wrapping_add(self.codec.rtp_ticks_per_mix_samples(self.packet_samples));
            let Some((kind, dst)) = self.state.destination(PacketClass::Rtp) else {
                continue;
            };
            let pkt: &[u8] = match &mut self.outbound {
                Some(t) => {
                    let n = out.len();
                    if n > scratch.len() {
                        continue;
                    }
                    scratch[..n].copy_from_slice(out);
                    match t.transform(PacketClass::Rtp, scratch, n) {
                        Some(m) if m <= scratch.len() => &scratch[..m],
                        _ => continue,
                    }
                }
                None => out,
            };
            if self.sockets[kind as usize].try_send_to(pkt, dst).is_ok() {
                self.counters.packets_out.fetch_add(1, Relaxed);
            }
        }
    }
}

/// Delay a leg's queue keeps even at its emptiest: after ticks the bridge
/// missed (a busy host), each leg plays one frame per tick and would carry
/// the backlog for the rest of the meeting. Once a window's smallest depth
/// stayed above the priming margin plus a frame, the surplus is dropped.
#[derive(Debug, Clone, Copy)]
struct StandingQueue {
    min_depth: usize,
    ticks: u32,
}

impl Default for StandingQueue {
    fn default() -> Self {
        StandingQueue {
            min_depth: usize::MAX,
            ticks: 0,
        }
    }
}

impl StandingQueue {
    /// The depth before this tick's frame is taken; returns how many
    /// samples to drop now.
    fn observe(&mut self, depth: usize) -> usize {
        self.min_depth = self.min_depth.min(depth);
        self.ticks += 1;
        if self.ticks < TRIM_WINDOW_TICKS {
            return 0;
        }
        let min = std::mem::take(self).min_depth;
        if min > PRIME_SAMPLES + FRAME {
            min - PRIME_SAMPLES
        } else {
            0
        }
    }
}

#[cfg(test)]
mod standing_queue_tests {
    use super::*;

    #[test]
    fn a_backlog_that_never_drains_is_cut_to_the_priming_margin() {
        let mut q = StandingQueue::default();
        let mut dropped = 0;
        for _ in 0..TRIM_WINDOW_TICKS {
            dropped += q.observe(8 * FRAME);
        }
        assert_eq!(dropped, 8 * FRAME - PRIME_SAMPLES);
    }

    #[test]
    fn jitter_that_drains_the_queue_now_and_then_keeps_everything() {
        let mut q = StandingQueue::default();
        let mut dropped = 0;
        for t in 0..3 * TRIM_WINDOW_TICKS {
            let depth = if t % 25 == 0 { FRAME } else { 6 * FRAME };
            dropped += q.observe(depth);
        }
        assert_eq!(dropped, 0);
    }
}

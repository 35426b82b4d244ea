//! The tokio side of media anchoring: sockets and one forwarding task per
//! session.
//!
//! Each [`MediaSession`] is owned by one task that holds every socket of the
//! session and the [`LegState`]s of its streams. Packets are received,
//! checked by the sans-IO [`LegState`] and sent on the other leg's socket
//! without any shared map lookup or lock. Control (new SDP, transforms)
//! reaches the task over a small channel; counters are relaxed atomics.
//!
//! Sessions run thread-per-core (see [`RelayConfig::threads`]): each
//! relay thread drives its own single-threaded tokio runtime, a session
//! lives on one of them for its whole life and its sockets are registered
//! with that runtime's I/O driver, so a packet's wakeup is handled on the
//! thread that waited for it. On a multi-threaded runtime the thread that
//! polled epoll hands woken tasks to sleeping workers (a futex wake and a
//! context switch each time), which cost more than the forwarding itself.
//!
//! Performance notes: a readable socket is drained in batches (one
//! `recvmmsg`, one `sendmmsg` for the RTP forwarded, see [`crate::relay_io`]);
//! sends never wait — if the kernel buffer is full the packet is dropped
//! and counted, which is what a media path wants rather than stalling every
//! other stream of the session.

use std::cell::Cell;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::dtmf::DtmfEvent;
use crate::dtmf_inject::DtmfInjector;
use crate::leg::{DropReason, Inbound, LegState, SocketKind, DEFAULT_LATCH_WINDOW};
use crate::metrics::{RelayMetrics, RelayMetricsSnapshot, Tally};
use crate::packet::PacketClass;
use crate::ports::{PortAllocator, PortPair, PortRangeError};
use crate::quality::{
    CodecImpairment, ForwardedStreamMonitor, LegMeasurement, PeerReport, StreamQuality,
};
use crate::rtcp::{parse_compound, RtcpPacket};
use crate::rtcp_term::RtcpTerminator;
use crate::transform::{IdentityTransform, PacketTransform, Verdict};

/// Default upper bound of streams (m-lines) per session.
pub const DEFAULT_MAX_STREAMS: usize = 16;

/// One side of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leg {
    A = 0,
    B = 1,
}

impl Leg {
    pub fn other(self) -> Leg {
        match self {
            Leg::A => Leg::B,
            Leg::B => Leg::A,
        }
    }
}

/// Direction of media, named by the leg it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    AtoB = 0,
    BtoA = 1,
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// No free port pair: the B2BUA answers 503.
    #[error("all media ports are in use")]
    PortsExhausted,
    #[error(transparent)]
    PortRange(#[from] PortRangeError),
    #[error("a media session holds 1 to {max} streams, {requested} requested")]
    InvalidStreamCount { requested: usize, max: usize },
    #[error("no stream {0} in this media session")]
    NoSuchStream(usize),
    #[error("media session is closed")]
    SessionClosed,
    #[error("media session control queue is full")]
    ControlBusy,
    #[error("media relay used outside a tokio runtime")]
    NoRuntime,
    #[error("{0}")]
    Unsupported(String),
    #[error("recording: {0}")]
    Recording(String),
    #[error("cannot bind UDP {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
}

impl MediaError {
    /// The SIP status the B2BUA should answer an INVITE with when media
    /// cannot be set up for this reason.
    pub fn sip_status(&self) -> u16 {
        match self {
            MediaError::PortsExhausted
            | MediaError::Bind { .. }
            | MediaError::ControlBusy
            | MediaError::Recording(_) => 503,
            MediaError::Unsupported(_) => 488,
            _ => 500,
        }
    }
}

/// Relay settings.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Address the media sockets bind to (and that goes into rewritten SDP).
    pub bind_ip: IpAddr,
    pub ports: RangeInclusive<u16>,
    /// See [`LegState`]: how long after offer/answer a source that does not
    /// match the SDP may latch.
    pub latch_window: Duration,
    pub max_streams: usize,
    /// Start the round-robin port walk at a random pair.
    pub random_start: bool,
    /// Threads that relay sessions, each running a single-threaded tokio
    /// runtime; a session is placed on the least loaded one when it is
    /// allocated and stays there. `Some(0)`: sessions are tasks of the
    /// runtime [`MediaRelay::allocate`] is called in. `None` (default): one
    /// thread per two cores (at least one), except when `allocate` is
    /// called on a current-thread runtime (tests, single-threaded tools),
    /// where the sessions stay on it: a single thread has no cross-thread
    /// wakeups to avoid, and its callers may expect a session to have run
    /// before they look at its counters. Half the cores, not all: the
    /// gateway's own runtime (signalling, meeting mixes) runs beside them,
    /// and a busier relay thread gathers more datagrams per wakeup (with
    /// [`coalesce`](Self::coalesce), one thread on two cores relayed at
    /// about 2/3 of the CPU per packet of two). The threads start with the
    /// first session and stop once the relay and all its sessions are
    /// gone.
    pub threads: Option<usize>,
    /// How long a relay thread with traffic lets datagrams gather before it
    /// handles them (zero: at once). The first datagram after a quiet spell
    /// is handled at once; while datagrams keep coming, the thread sleeps
    /// out the rest of this interval between rounds instead of waking for
    /// each one, and each wakeup then handles many: at tens of thousands
    /// of packets per second the wakeups cost more than the relaying. The
    /// price is up to this much added delay (and jitter) per packet.
    /// Applies to relay threads only, not to sessions on the caller's
    /// runtime.
    pub coalesce: Duration,
}

/// Default [`RelayConfig::coalesce`]: far below a packet time (10–60 ms)
/// and what jitter buffers absorb.
pub const DEFAULT_COALESCE: Duration = Duration::from_micros(500);

impl RelayConfig {
    pub fn new(bind_ip: IpAddr, ports: RangeInclusive<u16>) -> Self {
        RelayConfig {
            bind_ip,
            ports,
            latch_window: DEFAULT_LATCH_WINDOW,
            max_streams: DEFAULT_MAX_STREAMS,
            random_start: true,
            threads: None,
            coalesce: DEFAULT_COALESCE,
        }
    }
}

/// Cheap-to-clone handle to the relay shared by all calls.
#[derive(Clone)]
pub struct MediaRelay {
    inner: Arc<RelayInner>,
}

pub(crate) struct RelayInner {
    bind_ip: IpAddr,
    latch_window: Duration,
    max_streams: usize,
    allocator: Mutex<PortAllocator>,
    pub(crate) metrics: RelayMetrics,
    threads: Option<usize>,
    coalesce: Duration,
    /// Started by the first session that needs them; empty if they could
    /// not be started.
    workers: OnceLock<Box<[RelayWorker]>>,
    /// Where the search for the least loaded worker starts, so that equal
    /// loads are taken in turn.
    next_worker: AtomicUsize,
}

/// One relay thread: the handle of its runtime and how many sessions it
/// holds. Dropping it (with the relay) lets the thread finish once its
/// last session has.
struct RelayWorker {
    handle: Handle,
    sessions: Arc<AtomicUsize>,
    _stop: oneshot::Sender<()>,
}

impl RelayWorker {
    fn start(index: usize, coalesce: Duration) -> io::Result<RelayWorker> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("media-relay-{index}"))
            .spawn(move || {
                if !coalesce.is_zero() {
                    runtime.spawn(pace(coalesce));
                }
                // The sender goes with the relay; sessions keep the relay
                // alive, so none is still running when this returns.
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        Ok(RelayWorker {
            handle,
            sessions: Arc::default(),
            _stop: stop,
        })
    }
}

thread_local! {
    /// Datagrams the session tasks of this thread handled since the pacer
    /// last looked, and the pacer's waker while it waits for traffic.
    static HANDLED: Cell<usize> = const { Cell::new(0) };
    static PACER: Cell<Option<Waker>> = const { Cell::new(None) };
}

/// Called by a session task after each poll: wakes this thread's pacer
/// if it was waiting for traffic.
pub(crate) fn note_handled(datagrams: usize) {
    if datagrams == 0 {
        return;
    }
    let _ = HANDLED.try_with(|h| h.set(h.get().saturating_add(datagrams)));
    if let Some(w) = PACER.try_with(Cell::take).ok().flatten() {
        w.wake();
    }
}

/// The task that makes a relay thread with dense traffic wake once per
/// `tick` rather than once per datagram (see [`RelayConfig::coalesce`]).
/// It waits for a session to handle a datagram. If the thread had been
/// idle for a tick or more, traffic is sparse and each datagram keeps
/// being handled as it comes. Otherwise, for as long as each round handles
/// some, it sleeps the thread for the rest of the tick — blocking on
/// purpose: the runtime has nothing else to do on this thread but wait for
/// what the sleep lets gather — and yields, which makes the runtime poll
/// its I/O driver without waiting and run the sessions that became ready
/// before this task looks again.
async fn pace(tick: Duration) {
    let mut idle_since = Instant::now();
    loop {
        poll_fn(|cx| {
            if HANDLED.with(Cell::take) > 0 {
                return Poll::Ready(());
            }
            PACER.with(|p| p.set(Some(cx.waker().clone())));
            Poll::Pending
        })
        .await;
        let mut round = Instant::now();
        if round.duration_since(idle_since) >= tick {
            idle_since = round;
            continue;
        }
        loop {
            let spent = round.elapsed();
            if spent < tick {
                std::thread::sleep(tick - spent);
            }
            round = Instant::now();
            tokio::task::yield_now().await;
            if HANDLED.with(Cell::take) == 0 {
                break;
            }
        }
        idle_since = Instant::now();
    }
}

/// A session's place on a relay thread, given back when the session task
/// ends.
pub(crate) struct WorkerLoad(Arc<AtomicUsize>);

impl Drop for WorkerLoad {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl RelayInner {
    fn allocator(&self) -> MutexGuard<'_, PortAllocator> {
        // The allocator cannot be left half-updated by a panic; keep going.
        self.allocator.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl MediaRelay {
    pub fn new(bind_ip: IpAddr, ports: RangeInclusive<u16>) -> Result<MediaRelay, MediaError> {
        Self::with_config(RelayConfig::new(bind_ip, ports))
    }

    pub fn with_config(config: RelayConfig) -> Result<MediaRelay, MediaError> {
        let allocator = if config.random_start {
            PortAllocator::with_start(config.ports.clone(), rand::random::<u32>() as usize)?
        } else {
            PortAllocator::new(config.ports.clone())?
        };
        Ok(MediaRelay {
            inner: Arc::new(RelayInner {
                bind_ip: config.bind_ip,
                latch_window: config.latch_window,
                max_streams: config.max_streams,
                allocator: Mutex::new(allocator),
                metrics: RelayMetrics::default(),
                threads: config.threads,
                coalesce: config.coalesce,
                workers: OnceLock::new(),
                next_worker: AtomicUsize::new(0),
            }),
        })
    }

    pub fn bind_ip(&self) -> IpAddr {
        self.inner.bind_ip
    }

    pub fn metrics(&self) -> RelayMetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// Bind sockets for `streams` streams (one per SDP m-line), each with an
    /// RTP/RTCP port pair on leg A and on leg B, and start relaying on a
    /// relay thread (or the caller's runtime, see [`RelayConfig::threads`];
    /// `NoRuntime` if that is needed and there is none). A pair whose ports
    /// something else holds is skipped.
    pub fn allocate(&self, call_label: &str, streams: usize) -> Result<MediaSession, MediaError> {
        if streams == 0 || streams > self.inner.max_streams {
            return Err(MediaError::InvalidStreamCount {
                requested: streams,
                max: self.inner.max_streams,
            });
        }
        let (runtime, load) = self.place()?;
        let mut lease = PortLease::new(self.inner.clone());
        let mut relays = Vec::with_capacity(streams);
        let mut locals = Vec::with_capacity(streams);
        for _ in 0..streams {
            let (a, a_addr) = self.bind_pair(&mut lease, &runtime)?;
            let (b, b_addr) = self.bind_pair(&mut lease, &runtime)?;
            locals.push([a_addr, b_addr]);
            relays.push(StreamRelay {
                legs: [
                    LegState::new(self.inner.latch_window),
                    LegState::new(self.inner.latch_window),
                ],
                sockets: [a, b],
                transforms: [Box::new(IdentityTransform), Box::new(IdentityTransform)],
                inject: [None, None],
                outbound: [Box::new(IdentityTransform), Box::new(IdentityTransform)],
                quality: ForwardedStreamMonitor::default(),
                rtcp_term: [None, None],
                rtcp_encrypted: [false; 2],
                quality_dirty: false,
            });
        }
        let label: Arc<str> = Arc::from(call_label);
        let counters: Arc<[StreamCounters]> =
            (0..streams).map(|_| StreamCounters::default()).collect();
        // Room for two full offer/answer exchanges (the first and a re-INVITE)
        // before the task runs: each sets remotes, clocks, codecs, pipelines.
        let (control_tx, control_rx) = mpsc::channel(16 * streams + 16);
        let task = SessionTask {
            streams: relays,
            control: control_rx,
            timer: None,
            counters: counters.clone(),
            tally: Tally::default(),
            quality_dirty: false,
            label: label.clone(),
            lease,
            _load: load,
        };
        tracing::debug!(call = %label, streams, "media session allocated");
        let join = runtime.spawn(task.run());
        Ok(MediaSession {
            label,
            injectable: (0..streams).map(|_| Default::default()).collect(),
            locals,
            control: control_tx,
            counters,
            task: Some(join),
        })
    }

    /// Bind one RTP/RTCP port pair for a leg the caller will hand to a
    /// meeting bridge (see [`crate::meeting`]). The ports return to the
    /// pool when the returned value (or the bridge that took it) drops.
    pub fn bind_leg(&self) -> Result<crate::meeting::BoundLeg, MediaError> {
        // The meeting bridge runs on the caller's runtime.
        let runtime = Handle::try_current().map_err(|_| MediaError::NoRuntime)?;
        let mut lease = PortLease::uncounted(self.inner.clone());
        let (sockets, local) = self.bind_pair(&mut lease, &runtime)?;
        Ok(crate::meeting::BoundLeg::new(sockets, local, lease))
    }

    pub(crate) fn inner(&self) -> &Arc<RelayInner> {
        &self.inner
    }

    /// The runtime a new session runs on, and its count on a relay thread.
    fn place(&self) -> Result<(Handle, Option<WorkerLoad>), MediaError> {
        let caller = Handle::try_current().ok();
        let dedicated = match self.inner.threads {
            Some(0) => None,
            Some(n) => Some(n),
            None => match &caller {
                Some(h) if h.runtime_flavor() == RuntimeFlavor::CurrentThread => None,
                _ => Some(std::thread::available_parallelism().map_or(1, |n| n.get().div_ceil(2))),
            },
        };
        let workers: &[RelayWorker] = match dedicated {
            Some(n) => self
                .inner
                .workers
                .get_or_init(|| start_workers(n, self.inner.coalesce)),
            None => &[],
        };
        if workers.is_empty() {
            return caller.map(|h| (h, None)).ok_or(MediaError::NoRuntime);
        }
        let start = self.inner.next_worker.fetch_add(1, Relaxed);
        let worker = (0..workers.len())
            .map(|i| &workers[(start + i) % workers.len()])
            .min_by_key(|w| w.sessions.load(Relaxed))
            .expect("at least one worker");
        worker.sessions.fetch_add(1, Relaxed);
        Ok((
            worker.handle.clone(),
            Some(WorkerLoad(worker.sessions.clone())),
        ))
    }

    /// Bind a port pair; its sockets are registered with `runtime`'s I/O
    /// driver, whose thread then handles their wakeups.
    fn bind_pair(
        &self,
        lease: &mut PortLease,
        runtime: &Handle,
    ) -> Result<([UdpSocket; 2], (SocketAddr, SocketAddr)), MediaError> {
        let attempts = self.inner.allocator().capacity();
        for _ in 0..attempts {
            let pair = {
                let mut alloc = self.inner.allocator();
                let pair = alloc.allocate().map_err(|_| MediaError::PortsExhausted)?;
                self.inner
                    .metrics
                    .ports_in_use
                    .store(2 * alloc.pairs_in_use() as u64, Relaxed);
                pair
            };
            match bind_udp_pair(self.inner.bind_ip, pair, runtime) {
                Ok(sockets) => {
                    lease.pairs.push(pair);
                    let addrs = (
                        SocketAddr::new(self.inner.bind_ip, pair.rtp),
                        SocketAddr::new(self.inner.bind_ip, pair.rtcp()),
                    );
                    return Ok((sockets, addrs));
                }
                Err((addr, e)) => {
                    lease.release_one(pair);
                    if !matches!(
                        e.kind(),
                        io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
                    ) {
                        return Err(MediaError::Bind { addr, source: e });
                    }
                    tracing::debug!(%addr, error = %e, "media port busy, trying next pair");
                }
            }
        }
        Err(MediaError::PortsExhausted)
    }
}

/// Relay threads, or none (logged) if the system refuses them: sessions
/// then run on the caller's runtime.
fn start_workers(n: usize, coalesce: Duration) -> Box<[RelayWorker]> {
    let workers: io::Result<Box<[RelayWorker]>> =
        (0..n).map(|i| RelayWorker::start(i, coalesce)).collect();
    workers.unwrap_or_else(|e| {
        tracing::error!(threads = n, error = %e, "cannot start media relay threads; relaying on the caller's runtime");
        Box::new([])
    })
}

fn bind_udp_pair(
    ip: IpAddr,
    pair: PortPair,
    runtime: &Handle,
) -> Result<[UdpSocket; 2], (SocketAddr, io::Error)> {
    let _driver = runtime.enter();
    let bind = |port| {
        let addr = SocketAddr::new(ip, port);
        let s = std::net::UdpSocket::bind(addr).map_err(|e| (addr, e))?;
        s.set_nonblocking(true).map_err(|e| (addr, e))?;
        UdpSocket::from_std(s).map_err(|e| (addr, e))
    };
    Ok([bind(pair.rtp)?, bind(pair.rtcp())?])
}

/// Ports held by one session, returned to the allocator when dropped — after
/// the sockets, which the session task drops first.
pub(crate) struct PortLease {
    pub(crate) inner: Arc<RelayInner>,
    pairs: Vec<PortPair>,
    /// A call's session counts in `sessions_active`; a meeting leg's ports
    /// do not (the meeting counts once).
    counted: bool,
}

impl PortLease {
    fn new(inner: Arc<RelayInner>) -> Self {
        inner.metrics.sessions_active.fetch_add(1, Relaxed);
        PortLease {
            inner,
            pairs: Vec::new(),
            counted: true,
        }
    }

    fn uncounted(inner: Arc<RelayInner>) -> Self {
        PortLease {
            inner,
            pairs: Vec::new(),
            counted: false,
        }
    }

    fn release_one(&self, pair: PortPair) {
        let mut alloc = self.inner.allocator();
        alloc.release(pair);
        self.inner
            .metrics
            .ports_in_use
            .store(2 * alloc.pairs_in_use() as u64, Relaxed);
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        let mut alloc = self.inner.allocator();
        for pair in self.pairs.drain(..) {
            alloc.release(pair);
        }
        self.inner
            .metrics
            .ports_in_use
            .store(2 * alloc.pairs_in_use() as u64, Relaxed);
        if self.counted {
            self.inner.metrics.sessions_active.fetch_sub(1, Relaxed);
        }
    }
}

/// The last published [`LegMeasurement`] of one leg, written by the session
/// task after each wakeup that changed it, and the leg's codec, written by
/// the handle. Fields are separate relaxed atomics: a reader racing a
/// publication may combine two consecutive measurements, which only
/// matters for a packet or two, and [`LegMeasurement::lost`] saturates.
#[derive(Debug)]
struct QualityCells {
    clock_rate: AtomicU64,
    received: AtomicU64,
    expected: AtomicU64,
    jitter_ms: AtomicU64,
    /// Nanoseconds; `u64::MAX` while unknown.
    rtt_ns: AtomicU64,
    /// Bit 63: a report was received; bits 32–39 fraction lost; bits 0–31
    /// cumulative lost (i32).
    report: AtomicU64,
    report_jitter_ms: AtomicU64,
    codec_ie: AtomicU64,
    codec_bpl: AtomicU64,
}

const NO_RTT: u64 = u64::MAX;
const REPORT_VALID: u64 = 1 << 63;

impl Default for QualityCells {
    fn default() -> Self {
        let cells = QualityCells {
            clock_rate: AtomicU64::new(8000),
            received: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            jitter_ms: AtomicU64::new(0f64.to_bits()),
            rtt_ns: AtomicU64::new(NO_RTT),
            report: AtomicU64::new(0),
            report_jitter_ms: AtomicU64::new(0f64.to_bits()),
            codec_ie: AtomicU64::new(0),
            codec_bpl: AtomicU64::new(0),
        };
        cells.set_codec(CodecImpairment::G711);
        cells
    }
}

impl QualityCells {
    fn set_codec(&self, codec: CodecImpairment) {
        self.codec_ie.store(codec.ie.to_bits(), Relaxed);
        self.codec_bpl.store(codec.bpl.to_bits(), Relaxed);
    }

    fn codec(&self) -> CodecImpairment {
        CodecImpairment {
            ie: f64::from_bits(self.codec_ie.load(Relaxed)),
            bpl: f64::from_bits(self.codec_bpl.load(Relaxed)),
        }
    }

    fn publish(&self, m: &LegMeasurement) {
        self.clock_rate.store(u64::from(m.clock_rate), Relaxed);
        self.received.store(m.received, Relaxed);
        self.expected.store(m.expected, Relaxed);
        self.jitter_ms.store(m.jitter_ms.to_bits(), Relaxed);
        let rtt = m.rtt.map_or(NO_RTT, |d| {
            u64::try_from(d.as_nanos()).unwrap_or(NO_RTT - 1)
        });
        self.rtt_ns.store(rtt, Relaxed);
        if let Some(r) = m.reported {
            let fraction = (r.fraction_lost_percent * 256.0 / 100.0).round() as u64 & 0xff;
            self.report.store(
                REPORT_VALID | fraction << 32 | u64::from(r.cumulative_lost as u32),
                Relaxed,
            );
            self.report_jitter_ms.store(r.jitter_ms.to_bits(), Relaxed);
        }
    }

    fn measurement(&self) -> LegMeasurement {
        let rtt = self.rtt_ns.load(Relaxed);
        let report = self.report.load(Relaxed);
        LegMeasurement {
            clock_rate: u32::try_from(self.clock_rate.load(Relaxed)).unwrap_or(u32::MAX),
            received: self.received.load(Relaxed),
            expected: self.expected.load(Relaxed),
            jitter_ms: f64::from_bits(self.jitter_ms.load(Relaxed)),
            rtt: (rtt != NO_RTT).then(|| Duration::from_nanos(rtt)),
            reported: (report & REPORT_VALID != 0).then(|| PeerReport {
                fraction_lost_percent: ((report >> 32) & 0xff) as f64 * 100.0 / 256.0,
                cumulative_lost: report as u32 as i32,
                jitter_ms: f64::from_bits(self.report_jitter_ms.load(Relaxed)),
            }),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct StreamCounters {
    /// `quality[leg]`: the RTP and reports that come from that leg.
    quality: [QualityCells; 2],
    pub(crate) packets: [AtomicU64; 2],
    pub(crate) bytes: [AtomicU64; 2],
    rtcp_packets: [AtomicU64; 2],
    foreign: AtomicU64,
    malformed: AtomicU64,
    no_destination: AtomicU64,
    pub(crate) other: AtomicU64,
}

/// Traffic forwarded in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// RTP and RTCP packets forwarded.
    pub packets: u64,
    pub bytes: u64,
    /// Of `packets`, how many were RTCP.
    pub rtcp_packets: u64,
}

/// Counters of one session (or one stream of it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    pub a_to_b: DirectionStats,
    pub b_to_a: DirectionStats,
    pub dropped_foreign: u64,
    pub dropped_malformed: u64,
    /// Arrived before the other leg had a usable address.
    pub dropped_no_destination: u64,
    /// Refused by a transform or failed to send.
    pub dropped_other: u64,
}

impl SessionStats {
    pub fn dropped(&self) -> u64 {
        self.dropped_foreign
            + self.dropped_malformed
            + self.dropped_no_destination
            + self.dropped_other
    }

    fn add(&mut self, c: &StreamCounters) {
        for (dir, d) in [&mut self.a_to_b, &mut self.b_to_a].into_iter().enumerate() {
            d.packets += c.packets[dir].load(Relaxed);
            d.bytes += c.bytes[dir].load(Relaxed);
            d.rtcp_packets += c.rtcp_packets[dir].load(Relaxed);
        }
        self.dropped_foreign += c.foreign.load(Relaxed);
        self.dropped_malformed += c.malformed.load(Relaxed);
        self.dropped_no_destination += c.no_destination.load(Relaxed);
        self.dropped_other += c.other.load(Relaxed);
    }
}

// Every command sets part of the session's configuration.
#[allow(clippy::enum_variant_names)]
pub(crate) enum Command {
    SetRemote {
        stream: usize,
        leg: Leg,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
        rtcp_mux: bool,
    },
    SetTransform {
        stream: usize,
        direction: Direction,
        transform: Box<dyn PacketTransform>,
    },
    SetPipeline {
        stream: usize,
        direction: Direction,
        pipeline: Pipeline,
    },
    InjectDtmf {
        stream: usize,
        direction: Direction,
        event: DtmfEvent,
        duration_ms: u32,
    },
    SetClockRate {
        stream: usize,
        leg: Leg,
        rate: u32,
    },
    SetRtcpEncrypted {
        stream: usize,
        leg: Leg,
        encrypted: bool,
    },
}

/// Handle to one call's media. Dropping it (or [`MediaSession::close`]) stops
/// the relay task and returns the ports.
pub struct MediaSession {
    label: Arc<str>,
    /// `injectable[stream][direction]`: a [`DtmfInjector`] is installed.
    injectable: Box<[[AtomicBool; 2]]>,
    locals: Vec<[(SocketAddr, SocketAddr); 2]>,
    control: mpsc::Sender<Command>,
    counters: Arc<[StreamCounters]>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MediaSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSession")
            .field("label", &self.label)
            .field("locals", &self.locals)
            .finish_non_exhaustive()
    }
}

impl MediaSession {
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn streams(&self) -> usize {
        self.locals.len()
    }

    /// Our (RTP, RTCP) address for `leg` of `stream`, to put in that leg's SDP.
    pub fn local_addr(
        &self,
        stream: usize,
        leg: Leg,
    ) -> Result<(SocketAddr, SocketAddr), MediaError> {
        self.locals
            .get(stream)
            .map(|l| l[leg as usize])
            .ok_or(MediaError::NoSuchStream(stream))
    }

    /// The peer address from `leg`'s SDP for `stream`; call again on re-INVITE.
    pub fn set_remote(
        &self,
        stream: usize,
        leg: Leg,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
        rtcp_mux: bool,
    ) -> Result<(), MediaError> {
        self.check_stream(stream)?;
        self.send(Command::SetRemote {
            stream,
            leg,
            rtp,
            rtcp,
            rtcp_mux,
        })
    }

    /// Install a transform for packets of `stream` flowing in `direction`.
    pub fn set_transform(
        &self,
        stream: usize,
        direction: Direction,
        transform: Box<dyn PacketTransform>,
    ) -> Result<(), MediaError> {
        self.check_stream(stream)?;
        self.send(Command::SetTransform {
            stream,
            direction,
            transform,
        })?;
        self.injectable[stream][direction as usize].store(false, Relaxed);
        Ok(())
    }

    /// Install the whole path of one direction: `inbound` transforms
    /// (SRTP unprotect, DTMF tap, transcode …), then optionally a
    /// [`DtmfInjector`] that owns the direction's outgoing sequence numbers
    /// and plays digits from [`inject_dtmf`](Self::inject_dtmf), then
    /// `outbound` (SRTP protect), which also sees the injected packets.
    pub fn set_pipeline(
        &self,
        stream: usize,
        direction: Direction,
        pipeline: Pipeline,
    ) -> Result<(), MediaError> {
        self.check_stream(stream)?;
        let injectable = pipeline.inject.is_some();
        self.send(Command::SetPipeline {
            stream,
            direction,
            pipeline,
        })?;
        self.injectable[stream][direction as usize].store(injectable, Relaxed);
        Ok(())
    }

    /// Whether digits can be played into `direction` of `stream` (the
    /// receiving leg negotiated telephone-event and an injector is set).
    pub fn can_inject_dtmf(&self, stream: usize, direction: Direction) -> bool {
        self.injectable
            .get(stream)
            .is_some_and(|d| d[direction as usize].load(Relaxed))
    }

    /// Play a digit as RFC 4733 events into `direction` of `stream`,
    /// after any digit still playing. `Unsupported` when no injector is
    /// installed there.
    pub fn inject_dtmf(
        &self,
        stream: usize,
        direction: Direction,
        event: DtmfEvent,
        duration_ms: u32,
    ) -> Result<(), MediaError> {
        self.check_stream(stream)?;
        if !self.can_inject_dtmf(stream, direction) {
            return Err(MediaError::Unsupported(
                "the receiving leg has no telephone-event".into(),
            ));
        }
        self.send(Command::InjectDtmf {
            stream,
            direction,
            event,
            duration_ms,
        })
    }

    /// The RTP clock rate of `leg`'s payload format on `stream` (the codec
    /// both directions of that leg use), for the jitter of the RTP that leg
    /// sends and of its reports. Default 8000; 90000 marks video (no MOS).
    pub fn set_clock_rate(&self, stream: usize, leg: Leg, rate: u32) -> Result<(), MediaError> {
        self.check_stream(stream)?;
        self.counters[stream].quality[leg as usize]
            .clock_rate
            .store(u64::from(rate.max(1)), Relaxed);
        self.send(Command::SetClockRate { stream, leg, rate })
    }

    /// The codec `leg` sends on `stream`, for the E-model. Default G.711.
    /// Takes effect at once (no message to the relay task).
    pub fn set_codec(
        &self,
        stream: usize,
        leg: Leg,
        codec: CodecImpairment,
    ) -> Result<(), MediaError> {
        self.check_stream(stream)?;
        self.counters[stream].quality[leg as usize].set_codec(codec);
        Ok(())
    }

    /// Whether `leg`'s RTCP on `stream` arrives encrypted (SRTCP; also with
    /// `UNENCRYPTED_SRTCP`, whose trailer the parser does not expect). The
    /// relay reads RTCP where it is plain: as received from a plain leg, or
    /// after the transform (which decrypts) when it comes from an SRTCP leg
    /// and goes to a plain one. Between two SRTCP legs it reads none: no
    /// RTT and no peer reports then, the RTP statistics still work (the RTP
    /// header is never encrypted). Default: plain.
    pub fn set_rtcp_encrypted(
        &self,
        stream: usize,
        leg: Leg,
        encrypted: bool,
    ) -> Result<(), MediaError> {
        self.check_stream(stream)?;
        self.send(Command::SetRtcpEncrypted {
            stream,
            leg,
            encrypted,
        })
    }

    /// Receive quality of both legs of `stream`, as of the relay task's
    /// last wakeup. Call it before closing to put it in the CDR.
    pub fn quality(&self, stream: usize) -> Result<StreamQuality, MediaError> {
        let c = self
            .counters
            .get(stream)
            .ok_or(MediaError::NoSuchStream(stream))?;
        Ok(stream_quality(c))
    }

    /// Totals over all streams.
    pub fn stats(&self) -> SessionStats {
        let mut s = SessionStats::default();
        self.counters.iter().for_each(|c| s.add(c));
        s
    }

    pub fn stream_stats(&self, stream: usize) -> Result<SessionStats, MediaError> {
        let c = self
            .counters
            .get(stream)
            .ok_or(MediaError::NoSuchStream(stream))?;
        let mut s = SessionStats::default();
        s.add(c);
        Ok(s)
    }

    /// Stop relaying and wait until the sockets are closed and the ports
    /// are back in the pool.
    pub async fn close(self) {
        let MediaSession { control, task, .. } = self;
        drop(control);
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    fn check_stream(&self, stream: usize) -> Result<(), MediaError> {
        if stream < self.locals.len() {
            Ok(())
        } else {
            Err(MediaError::NoSuchStream(stream))
        }
    }

    fn send(&self, cmd: Command) -> Result<(), MediaError> {
        self.control.try_send(cmd).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => MediaError::ControlBusy,
            mpsc::error::TrySendError::Closed(_) => MediaError::SessionClosed,
        })
    }
}

/// The path of one direction, see [`MediaSession::set_pipeline`].
pub struct Pipeline {
    pub inbound: Box<dyn PacketTransform>,
    pub inject: Option<DtmfInjector>,
    pub outbound: Box<dyn PacketTransform>,
}

impl Pipeline {
    /// Only `inbound`: what [`MediaSession::set_transform`] installs.
    pub fn new(inbound: Box<dyn PacketTransform>) -> Pipeline {
        Pipeline {
            inbound,
            inject: None,
            outbound: Box::new(IdentityTransform),
        }
    }
}

pub(crate) struct StreamRelay {
    pub(crate) legs: [LegState; 2],
    /// `sockets[leg][SocketKind]`.
    pub(crate) sockets: [[UdpSocket; 2]; 2],
    /// `transforms[Direction]`, i.e. indexed by the leg a packet comes from.
    transforms: [Box<dyn PacketTransform>; 2],
    /// `inject[Direction]`: digits signalled for the leg the direction
    /// goes to; sits between `transforms` and `outbound`.
    pub(crate) inject: [Option<DtmfInjector>; 2],
    pub(crate) outbound: [Box<dyn PacketTransform>; 2],
    quality: ForwardedStreamMonitor,
    /// `rtcp_term[leg]`: the gateway's own reports to that leg, once a
    /// transform decodes (see [`PacketTransform::terminates_rtcp`]).
    rtcp_term: [Option<RtcpTerminator>; 2],
    /// `rtcp_encrypted[leg]`: that leg sends and expects SRTCP.
    rtcp_encrypted: [bool; 2],
    /// `quality` changed since it was last published.
    pub(crate) quality_dirty: bool,
}

fn stream_quality(c: &StreamCounters) -> StreamQuality {
    StreamQuality::new(
        [c.quality[0].measurement(), c.quality[1].measurement()],
        [c.quality[0].codec(), c.quality[1].codec()],
    )
}

/// The single owner of a session's sockets and state. Field order matters:
/// `streams` (the sockets) drop before `lease` gives the ports back.
pub(crate) struct SessionTask {
    pub(crate) streams: Vec<StreamRelay>,
    pub(crate) control: mpsc::Receiver<Command>,
    /// Wakes the task for the next injected DTMF packet.
    pub(crate) timer: Option<Pin<Box<tokio::time::Sleep>>>,
    pub(crate) counters: Arc<[StreamCounters]>,
    pub(crate) tally: Tally,
    /// Some stream's quality changed since the last publication.
    pub(crate) quality_dirty: bool,
    pub(crate) label: Arc<str>,
    pub(crate) lease: PortLease,
    /// Counts this session on its relay thread, if it has one.
    pub(crate) _load: Option<WorkerLoad>,
}

impl SessionTask {
    async fn run(mut self) {
        poll_fn(|cx| self.poll(cx)).await;
        self.publish_quality();
        let metrics = &self.lease.inner.metrics;
        for c in self.counters.iter() {
            let q = stream_quality(c);
            for leg in [&q.a, &q.b] {
                metrics.record_leg(leg.expected, leg.lost, leg.mos);
            }
        }
        self.tally.flush(metrics);
        tracing::debug!(call = %self.label, "media session closed");
    }

    /// Publish what changed, once per wakeup rather than per packet.
    pub(crate) fn publish_quality(&mut self) {
        if !std::mem::take(&mut self.quality_dirty) {
            return;
        }
        for (stream, c) in self.streams.iter_mut().zip(self.counters.iter()) {
            if std::mem::take(&mut stream.quality_dirty) {
                for (leg, cells) in stream.quality.legs.iter().zip(&c.quality) {
                    cells.publish(&leg.measurement());
                }
            }
        }
    }

    pub(crate) fn apply(&mut self, cmd: Command) {
        match cmd {
            Command::SetRemote {
                stream,
                leg,
                rtp,
                rtcp,
                rtcp_mux,
            } => {
                if let Some(s) = self.streams.get_mut(stream) {
                    s.legs[leg as usize].set_remote(rtp, rtcp, rtcp_mux, Instant::now());
                }
            }
            Command::SetTransform {
                stream,
                direction,
                transform,
            } => {
                if let Some(s) = self.streams.get_mut(stream) {
                    s.transforms[direction as usize] = transform;
                    s.inject[direction as usize] = None;
                    s.outbound[direction as usize] = Box::new(IdentityTransform);
                }
            }
            Command::SetPipeline {
                stream,
                direction,
                pipeline,
            } => {
                if let Some(s) = self.streams.get_mut(stream) {
                    let d = direction as usize;
                    s.transforms[d] = pipeline.inbound;
                    s.inject[d] = pipeline.inject;
                    s.outbound[d] = pipeline.outbound;
                }
            }
            Command::InjectDtmf {
                stream,
                direction,
                event,
                duration_ms,
            } => {
                let inj = self
                    .streams
                    .get_mut(stream)
                    .and_then(|s| s.inject[direction as usize].as_mut());
                if let Some(inj) = inj {
                    if let Err(e) = inj.push(Instant::now(), event, duration_ms) {
                        tracing::debug!(call = %self.label, error = %e, "DTMF digit not played");
                    }
                }
            }
            Command::SetClockRate { stream, leg, rate } => {
                if let Some(s) = self.streams.get_mut(stream) {
                    s.quality.legs[leg as usize].set_clock_rate(rate);
                    s.quality_dirty = true;
                    self.quality_dirty = true;
                }
            }
            Command::SetRtcpEncrypted {
                stream,
                leg,
                encrypted,
            } => {
                if let Some(s) = self.streams.get_mut(stream) {
                    s.rtcp_encrypted[leg as usize] = encrypted;
                }
            }
        }
    }
}

/// Check, measure and transform one datagram and send it, or return where
/// to send it when it is RTP of a stream whose reports are passed on
/// (what [`relay_batch`] sends in one go; nothing else depends on when).
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn forward(
    stream: &mut StreamRelay,
    buf: &mut [u8],
    from: Leg,
    kind: SocketKind,
    src: SocketAddr,
    len: usize,
    c: &StreamCounters,
    m: &mut Tally,
    label: &str,
) -> Option<(SocketAddr, usize)> {
    let now = Instant::now();
    let info = match stream.legs[from as usize].inbound(kind, src, &buf[..len], now) {
        Inbound::Forward { info, latched } => {
            if let Some(reason) = latched {
                tracing::debug!(call = %label, leg = ?from, socket = ?kind, %src, ?reason, "media source latched");
            }
            info
        }
        Inbound::Drop(reason) => {
            let (sc, mc) = match reason {
                DropReason::Malformed(_) => (&c.malformed, &mut m.dropped_malformed),
                DropReason::ForeignSource => (&c.foreign, &mut m.dropped_foreign),
                DropReason::NoRemote => (&c.no_destination, &mut m.dropped_no_destination),
            };
            sc.fetch_add(1, Relaxed);
            *mc += 1;
            return None;
        }
    };
    let to = from.other();
    // Quality is measured on what arrives, forwarded or not: the RTP
    // header is in clear even on SRTP legs, and a packet the transform
    // drops (a comfort-noise PT a transcoder does not carry) was still
    // not lost by the network.
    let mut rtcp = None;
    match info.class {
        PacketClass::Rtp => {
            stream.quality.legs[from as usize].on_rtp(&buf[..len], now);
            stream.quality_dirty = true;
        }
        PacketClass::Rtcp if !stream.rtcp_encrypted[from as usize] => {
            rtcp = readable_rtcp(&buf[..len]);
        }
        PacketClass::Rtcp => {}
    }
    let terminated = rtcp_terminated(stream);
    if info.class == PacketClass::Rtcp && terminated {
        // A decoded stream: the leg's reports are read here, not passed on.
        observe_rtcp(stream, from, rtcp, now, false);
        return None;
    }
    let Some((out_kind, dst)) = stream.legs[to as usize].destination(info.class) else {
        c.no_destination.fetch_add(1, Relaxed);
        m.dropped_no_destination += 1;
        observe_rtcp(stream, from, rtcp, now, false);
        return None;
    };
    let d = from as usize;
    let mut n = match stream.transforms[d].process(info.class, buf, len) {
        Verdict::Forward(n) => Some(n),
        Verdict::Held => {
            // Kept by a reordering buffer, to leave with a later packet:
            // not a drop.
            observe_rtcp(stream, from, rtcp, now, false);
            return None;
        }
        Verdict::Drop => None,
    };
    if let (Some(k), Some(inj), PacketClass::Rtp) = (n, stream.inject[d].as_mut(), info.class) {
        n = inj.on_forward(now, buf, k);
        if n.is_none() {
            // Audio withheld while an injected digit plays: not a loss.
            observe_rtcp(stream, from, rtcp, now, false);
            return None;
        }
    }
    let out = n
        .and_then(|n| stream.outbound[d].transform(info.class, buf, n))
        .and_then(|n| buf.get(..n));
    let Some(out) = out else {
        c.other.fetch_add(1, Relaxed);
        m.dropped_transform += 1;
        observe_rtcp(stream, from, rtcp, now, false);
        return None;
    };
    if info.class == PacketClass::Rtp && !terminated {
        debug_assert_eq!(out_kind, SocketKind::Rtp);
        return Some((dst, out.len()));
    }
    if info.class == PacketClass::Rtcp
        && stream.rtcp_encrypted[from as usize]
        && !stream.rtcp_encrypted[to as usize]
    {
        // Decrypted by the transform and not encrypted again.
        rtcp = readable_rtcp(out);
    }
    let sent = stream.sockets[to as usize][out_kind as usize].try_send_to(out, dst);
    if terminated && sent.is_ok() && info.class == PacketClass::Rtp {
        terminator(stream, to, label).on_rtp_sent(out, now);
        send_own_reports(stream, now, label, buf);
    }
    observe_rtcp(stream, from, rtcp, now, sent.is_ok());
    match sent {
        Ok(n) => {
            let dir = from as usize;
            c.packets[dir].fetch_add(1, Relaxed);
            c.bytes[dir].fetch_add(n as u64, Relaxed);
            let (mp, mb) = match info.class {
                PacketClass::Rtp => (&mut m.rtp_packets, &mut m.rtp_bytes),
                PacketClass::Rtcp => {
                    c.rtcp_packets[dir].fetch_add(1, Relaxed);
                    (&mut m.rtcp_packets, &mut m.rtcp_bytes)
                }
            };
            *mp += 1;
            *mb += n as u64;
        }
        Err(e) => {
            tracing::trace!(call = %label, %dst, error = %e, "media send failed");
            c.other.fetch_add(1, Relaxed);
            m.send_errors += 1;
        }
    }
    None
}

pub(crate) fn rtcp_terminated(stream: &StreamRelay) -> bool {
    stream.transforms.iter().any(|t| t.terminates_rtcp())
}

pub(crate) fn terminator<'a>(
    stream: &'a mut StreamRelay,
    leg: Leg,
    label: &str,
) -> &'a mut RtcpTerminator {
    let clock = stream.quality.legs[leg as usize].clock_rate();
    stream.rtcp_term[leg as usize].get_or_insert_with(|| {
        RtcpTerminator::new(rand::random(), &format!("gateway@{label}"), clock)
    })
}

/// The gateway's SR/RR to each leg of a decoded stream, when due. Checked
/// as packets are forwarded (a decoded stream flows every packet time), so
/// no timer: a stream on hold sends none. To an SRTCP leg they go as
/// SRTCP, through the outbound transform of the direction toward it (the
/// SRTP protect of what it receives), built in `buf`; if that transform
/// adds no SRTCP trailer there is no context to protect them with, and a
/// plain report would only be dropped by the leg, so none is sent.
pub(crate) fn send_own_reports(
    stream: &mut StreamRelay,
    now: Instant,
    label: &str,
    buf: &mut [u8],
) {
    for leg in [Leg::A, Leg::B] {
        let l = leg as usize;
        if !terminator(stream, leg, label).due(now) {
            continue;
        }
        let Some((kind, dst)) = stream.legs[l].destination(PacketClass::Rtcp) else {
            continue;
        };
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let ntp = crate::rtcp::ntp_from_unix(since_epoch);
        let clock = stream.quality.legs[l].clock_rate();
        let block = stream.quality.legs[l].report_block(now);
        let term = terminator(stream, leg, label);
        term.set_clock_rate(clock);
        let report = term.report(now, ntp, block);
        let len = report.datagram.len();
        let out = match buf.get_mut(..len) {
            Some(room) if len > 0 && stream.rtcp_encrypted[l] => {
                room.copy_from_slice(&report.datagram);
                let outbound = &mut stream.outbound[leg.other() as usize];
                match outbound.transform(PacketClass::Rtcp, buf, len) {
                    Some(n) if n > len => &buf[..n],
                    _ => continue,
                }
            }
            _ if len > 0 && !stream.rtcp_encrypted[l] => &report.datagram[..],
            _ => continue,
        };
        let sent = stream.sockets[l][kind as usize].try_send_to(out, dst);
        match (sent, report.sr_ntp) {
            // Its echo in the leg's next report gives the leg's RTT.
            (Ok(_), Some(ntp)) => stream.quality.legs[l].on_sr_forwarded(ntp, now),
            (Ok(_), None) => {}
            (Err(e), _) => tracing::trace!(call = %label, %dst, error = %e, "RTCP report not sent"),
        }
    }
}

/// A compound RTCP packet the quality monitor can trust: it parses, and
/// every packet type is an RTCP one (RFC 5761 §4 range). The second check
/// turns away SRTCP mistaken for plain RTCP, whose trailer (E flag and
/// index) can look like a tiny packet of type 0 while the index is small.
fn readable_rtcp(datagram: &[u8]) -> Option<Vec<RtcpPacket>> {
    let packets = parse_compound(datagram).ok()?;
    let plausible = packets.iter().all(|p| match p {
        RtcpPacket::Other { packet_type, .. } => crate::packet::is_rtcp_type_byte(*packet_type),
        _ => true,
    });
    plausible.then_some(packets)
}

fn observe_rtcp(
    stream: &mut StreamRelay,
    from: Leg,
    rtcp: Option<Vec<RtcpPacket>>,
    arrival: Instant,
    forwarded: bool,
) {
    if let Some(packets) = rtcp {
        stream
            .quality
            .on_rtcp(from as usize, &packets, arrival, forwarded);
        stream.quality_dirty = true;
    }
}

//! Batched datagram I/O for the relay's session tasks.
//!
//! A session task wakes when one of its sockets turns readable and drains
//! it. One datagram per system call cost, per packet, a `recvfrom` and a
//! `sendto`, and per socket and wakeup one more `recvfrom` that only said
//! "empty". On Linux, [`Datagrams`] takes up to [`BATCH`] datagrams with one
//! `recvmmsg` and sends the RTP forwarded from them with one `sendmmsg`; a
//! batch that comes back short means the queue was empty, so no extra call
//! is made to learn it. Elsewhere it falls back to one datagram per call.
//!
//! The buffers (`BATCH` slots of [`SLOT`] bytes) are per worker thread, not
//! per session: a task uses them only within one poll, and thousands of
//! sessions must not each hold them.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::net::UdpSocket;

use crate::leg::SocketKind;
use crate::metrics::Tally;
use crate::packet::PacketClass;
use crate::relay::{
    forward, rtcp_terminated, send_own_reports, terminator, Leg, SessionTask, StreamCounters,
    StreamRelay,
};

/// Datagrams taken per receive call.
#[cfg(target_os = "linux")]
pub(crate) const BATCH: usize = 32;
#[cfg(not(target_os = "linux"))]
pub(crate) const BATCH: usize = 1;

/// Room per datagram. Larger than any Ethernet-MTU datagram; a bigger one
/// is truncated by the kernel (and then fails validation or is forwarded
/// short), which RTP endpoints avoid by design. The room after a packet
/// lets a transform grow it in place (an SRTP tag).
pub(crate) const SLOT: usize = 4096;

/// The packets of one batch, read and written in place.
pub(crate) struct Datagrams {
    buf: Box<[u8]>,
    len: [usize; BATCH],
    /// `None` for an address family a UDP/IP socket cannot report.
    src: [Option<SocketAddr>; BATCH],
    count: usize,
    /// `(slot, length, destination)` of the datagrams to send, in order.
    out: [(usize, usize, SocketAddr); BATCH],
    queued: usize,
    /// Send runs of equal datagrams to one destination as one GSO
    /// message; off once the kernel refused one on this thread.
    #[cfg(target_os = "linux")]
    gso: bool,
    #[cfg(target_os = "linux")]
    sys: sys::Headers,
}

/// What one [`Datagrams::flush`] sent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sent {
    pub packets: u64,
    pub bytes: u64,
}

thread_local! {
    static SPARE: Cell<Option<Box<Datagrams>>> = const { Cell::new(None) };
}

/// A thread's [`Datagrams`], lent for one poll and returned on drop.
pub(crate) struct Lent(Option<Box<Datagrams>>);

impl Lent {
    pub(crate) fn take() -> Lent {
        let spare = SPARE.try_with(Cell::take).ok().flatten();
        Lent(Some(spare.unwrap_or_else(Datagrams::new)))
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            // During thread teardown the buffers are simply freed.
            let _ = SPARE.try_with(|s| s.set(Some(d)));
        }
    }
}

impl Deref for Lent {
    type Target = Datagrams;
    fn deref(&self) -> &Datagrams {
        self.0.as_deref().expect("lent until dropped")
    }
}

impl DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut Datagrams {
        self.0.as_deref_mut().expect("lent until dropped")
    }
}

const UNSPECIFIED: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::UNSPECIFIED,
    0,
));

impl Datagrams {
    fn new() -> Box<Datagrams> {
        Box::new(Datagrams {
            buf: vec![0u8; BATCH * SLOT].into_boxed_slice(),
            len: [0; BATCH],
            src: [None; BATCH],
            count: 0,
            out: [(0, 0, UNSPECIFIED); BATCH],
            queued: 0,
            #[cfg(target_os = "linux")]
            gso: true,
            #[cfg(target_os = "linux")]
            sys: sys::Headers::new(),
        })
    }

    /// Datagram `i` of the last batch: its slot (the packet is
    /// `slot[..len]`, the rest is room), its length and its source.
    pub(crate) fn datagram(&mut self, i: usize) -> (&mut [u8], usize, Option<SocketAddr>) {
        let slot = &mut self.buf[i * SLOT..(i + 1) * SLOT];
        (slot, self.len[i], self.src[i])
    }

    /// A slot to build a packet in outside a batch (injected DTMF).
    pub(crate) fn scratch(&mut self) -> &mut [u8] {
        &mut self.buf[..SLOT]
    }

    /// Send `slot[..len]` of datagram `slot` to `dst` at the next
    /// [`flush`](Self::flush).
    pub(crate) fn queue(&mut self, slot: usize, len: usize, dst: SocketAddr) {
        if slot < self.count && len <= SLOT && self.queued < BATCH {
            self.out[self.queued] = (slot, len, dst);
            self.queued += 1;
        }
    }

    /// Receive a batch from `sock`: `Ready(Ok(n))` with `n ≥ 1` datagrams,
    /// or `Pending` (the waker is registered) once the socket is empty.
    pub(crate) fn poll_recv(
        &mut self,
        sock: &UdpSocket,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        self.count = 0;
        self.queued = 0;
        #[cfg(target_os = "linux")]
        loop {
            std::task::ready!(sock.poll_recv_ready(cx))?;
            let mut got = 0;
            let r = sock.try_io(tokio::io::Interest::READABLE, || {
                got = sys::recv(sock, self)?;
                if got < BATCH {
                    // Fewer than asked: the queue is empty now. Saying so
                    // clears tokio's readiness without another call. A
                    // datagram that arrives meanwhile raises a new epoll
                    // event, which sets readiness again (tokio only clears
                    // the readiness it saw before the call).
                    Err(io::ErrorKind::WouldBlock.into())
                } else {
                    Ok(())
                }
            });
            match r {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && got > 0 => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
            self.count = got;
            return Poll::Ready(Ok(got));
        }
        #[cfg(not(target_os = "linux"))]
        {
            let mut rb = tokio::io::ReadBuf::new(&mut self.buf[..SLOT]);
            let src = std::task::ready!(sock.poll_recv_from(cx, &mut rb))?;
            self.len[0] = rb.filled().len();
            self.src[0] = Some(src);
            self.count = 1;
            Poll::Ready(Ok(1))
        }
    }

    /// Send what was queued since the last receive, in order, from `sock`.
    /// Never waits: a datagram the kernel refuses (buffer full, network
    /// unreachable) is passed to `failed` and the rest still go.
    pub(crate) fn flush(
        &mut self,
        sock: &UdpSocket,
        mut failed: impl FnMut(SocketAddr, io::Error),
    ) -> Sent {
        let mut sent = Sent::default();
        let queued = std::mem::take(&mut self.queued);
        let mut i = 0;
        while i < queued {
            #[cfg(target_os = "linux")]
            let r = if queued - i > 1 {
                sys::send(sock, self, i, queued)
            } else {
                // One datagram: sendto skips sendmmsg's header copies.
                let (slot, len, dst) = self.out[i];
                let packet = &self.buf[slot * SLOT..slot * SLOT + len];
                sock.try_send_to(packet, dst)
                    .map(|n| (1, n))
                    .map_err(|e| (e, 1))
            };
            #[cfg(not(target_os = "linux"))]
            let r = {
                let (slot, len, dst) = self.out[i];
                let packet = &self.buf[slot * SLOT..slot * SLOT + len];
                sock.try_send_to(packet, dst)
                    .map(|n| (1, n))
                    .map_err(|e| (e, 1))
            };
            match r {
                Ok((n, bytes)) if n > 0 => {
                    sent.packets += n as u64;
                    sent.bytes += bytes as u64;
                    i += n;
                }
                Ok(_) => {
                    failed(self.out[i].2, io::ErrorKind::WriteZero.into());
                    i += 1;
                }
                #[cfg(target_os = "linux")]
                Err((e, n)) if n > 1 && sys::gso_unsupported(&e) => {
                    // A route without checksum offload: send them one by one.
                    tracing::debug!(error = %e, "UDP GSO refused, sending datagrams singly");
                    self.gso = false;
                }
                Err((e, n)) => {
                    // The message the call stopped at (one datagram, or one
                    // GSO run); the next call starts after it, as
                    // per-datagram sends would.
                    for k in i..(i + n).min(queued) {
                        let e = match e.raw_os_error() {
                            Some(code) => io::Error::from_raw_os_error(code),
                            None => e.kind().into(),
                        };
                        failed(self.out[k].2, e);
                    }
                    i += n.max(1);
                }
            }
        }
        sent
    }
}

// The session task's side of it: drain each readable socket, forward,
// send in batches, play injected digits.

/// Datagrams one poll of a session task handles before it yields: tokio's
/// cooperative budget, which allowed as many single-datagram receives.
const POLL_BUDGET: usize = 128;

impl SessionTask {
    /// Ready only when the session handle is gone. Keeps receiving until
    /// every socket is drained, or [`POLL_BUDGET`] datagrams were handled:
    /// then it yields (tokio's own budget counts receive calls, which now
    /// take up to a batch each), so a busy session does not hold its worker
    /// longer than it did one datagram per call.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match self.control.poll_recv(cx) {
                Poll::Ready(Some(cmd)) => self.apply(cmd),
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => break,
            }
        }
        let mut io = Lent::take();
        let mut handled = 0;
        loop {
            let mut progressed = false;
            for (idx, stream) in self.streams.iter_mut().enumerate() {
                for leg in [Leg::A, Leg::B] {
                    let kinds: &[SocketKind] = if stream.legs[leg as usize].rtcp_mux() {
                        &[SocketKind::Rtp]
                    } else {
                        &[SocketKind::Rtp, SocketKind::Rtcp]
                    };
                    for &kind in kinds {
                        let sock = &stream.sockets[leg as usize][kind as usize];
                        match io.poll_recv(sock, cx) {
                            Poll::Ready(Ok(n)) => {
                                let (c, m) = (&self.counters[idx], &mut self.tally);
                                relay_batch(stream, &mut io, n, leg, kind, c, m, &self.label);
                                self.quality_dirty |= stream.quality_dirty;
                                progressed = true;
                                handled += n;
                            }
                            Poll::Ready(Err(e)) => {
                                // ICMP errors surface here on some platforms; the
                                // socket stays usable.
                                tracing::trace!(call = %self.label, error = %e, "media recv error");
                                progressed = true;
                            }
                            Poll::Pending => {}
                        }
                    }
                }
            }
            progressed |= self.play_injected(cx, io.scratch());
            if progressed && handled >= POLL_BUDGET {
                cx.waker().wake_by_ref();
                progressed = false;
            }
            if !progressed {
                crate::relay::note_handled(handled);
                self.tally.flush(&self.lease.inner.metrics);
                self.publish_quality();
                return Poll::Pending;
            }
        }
    }
}

impl SessionTask {
    /// Send the injected DTMF packets that are due and arm the timer for
    /// the next; true if the timer already fired again (poll once more).
    fn play_injected(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> bool {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        for (idx, stream) in self.streams.iter_mut().enumerate() {
            let terminated = rtcp_terminated(stream);
            for from in [Leg::A, Leg::B] {
                let d = from as usize;
                while let Some(inj) = stream.inject[d].as_mut() {
                    if inj.poll_timeout().is_none_or(|t| t > now) {
                        break;
                    }
                    let Some(len) = inj.poll_packet(now, buf) else {
                        break;
                    };
                    let to = from.other();
                    let Some((kind, dst)) = stream.legs[to as usize].destination(PacketClass::Rtp)
                    else {
                        continue;
                    };
                    let Some(n) = stream.outbound[d].transform(PacketClass::Rtp, buf, len) else {
                        continue;
                    };
                    let Some(out) = buf.get(..n) else {
                        continue;
                    };
                    let Ok(n) = stream.sockets[to as usize][kind as usize].try_send_to(out, dst)
                    else {
                        continue;
                    };
                    let c = &self.counters[idx];
                    c.packets[d].fetch_add(1, Relaxed);
                    c.bytes[d].fetch_add(n as u64, Relaxed);
                    self.tally.rtp_packets += 1;
                    self.tally.rtp_bytes += n as u64;
                    if terminated {
                        // The events are part of the stream the leg gets
                        // from us: its SR counts them.
                        terminator(stream, to, &self.label).on_rtp_sent(out, now);
                        send_own_reports(stream, now, &self.label, buf);
                    }
                }
                if let Some(t) = stream.inject[d].as_ref().and_then(|i| i.poll_timeout()) {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
        }
        let Some(deadline) = next else {
            self.timer = None;
            return false;
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        match self.timer.as_mut() {
            Some(t) => t.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
        self.timer
            .as_mut()
            .is_some_and(|t| t.as_mut().poll(cx).is_ready())
    }
}

/// Forward the `n` datagrams `io` received on `from`'s `kind` socket. The
/// RTP among them leaves in one batch from the other leg's RTP socket.
#[allow(clippy::too_many_arguments)]
fn relay_batch(
    stream: &mut StreamRelay,
    io: &mut Datagrams,
    n: usize,
    from: Leg,
    kind: SocketKind,
    c: &StreamCounters,
    m: &mut Tally,
    label: &str,
) {
    for i in 0..n {
        let (buf, len, src) = io.datagram(i);
        let Some(src) = src else { continue };
        if let Some((dst, len)) = forward(stream, buf, from, kind, src, len, c, m, label) {
            io.queue(i, len, dst);
        }
    }
    let rtp_socket = &stream.sockets[from.other() as usize][SocketKind::Rtp as usize];
    let sent = io.flush(rtp_socket, |dst, e| {
        tracing::trace!(call = %label, %dst, error = %e, "media send failed");
        c.other.fetch_add(1, Relaxed);
        m.send_errors += 1;
    });
    if sent.packets > 0 {
        c.packets[from as usize].fetch_add(sent.packets, Relaxed);
        c.bytes[from as usize].fetch_add(sent.bytes, Relaxed);
        m.rtp_packets += sent.packets;
        m.rtp_bytes += sent.bytes;
    }
}

#[cfg(target_os = "linux")]
mod sys {
    use std::io;
    use std::mem::{size_of, zeroed};
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::AsRawFd;

    use tokio::net::UdpSocket;

    use super::{Datagrams, BATCH, SLOT};

    /// The kernel's view of a batch. The pointers inside are set before
    /// each call (to buffers that do not move while it runs) and mean
    /// nothing between calls.
    pub(super) struct Headers {
        msgs: [libc::mmsghdr; BATCH],
        iov: [libc::iovec; BATCH],
        names: [libc::sockaddr_storage; BATCH],
        /// One UDP_SEGMENT control message per outgoing message.
        ctrl: [[u64; 4]; BATCH],
        /// Datagrams in each outgoing message.
        segments: [usize; BATCH],
    }

    /// Payload bytes of one GSO message, under the UDP/IP limit.
    const MAX_GSO_BYTES: usize = 60_000;

    impl Headers {
        pub(super) fn new() -> Headers {
            // SAFETY: plain C structs for which all-zero is a valid value
            // (null pointers, zero lengths, AF_UNSPEC).
            unsafe { zeroed() }
        }
    }

    /// One `recvmmsg` without waiting: how many datagrams it took.
    pub(super) fn recv(sock: &UdpSocket, d: &mut Datagrams) -> io::Result<usize> {
        let base = d.buf.as_mut_ptr();
        let h = &mut d.sys;
        for i in 0..BATCH {
            h.iov[i] = libc::iovec {
                // SAFETY: slot i lies inside `buf` (BATCH * SLOT bytes).
                iov_base: unsafe { base.add(i * SLOT) }.cast(),
                iov_len: SLOT,
            };
            let m = &mut h.msgs[i].msg_hdr;
            m.msg_name = (&mut h.names[i] as *mut libc::sockaddr_storage).cast();
            m.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            m.msg_iov = &mut h.iov[i];
            m.msg_iovlen = 1;
            m.msg_control = std::ptr::null_mut();
            m.msg_controllen = 0;
            m.msg_flags = 0;
            h.msgs[i].msg_len = 0;
        }
        // SAFETY: every header points at this batch's own slot, address
        // and iovec, all alive and unaliased for the call.
        let n = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                h.msgs.as_mut_ptr(),
                BATCH as _,
                libc::MSG_DONTWAIT as _,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = (n as usize).min(BATCH);
        for i in 0..n {
            d.len[i] = (h.msgs[i].msg_len as usize).min(SLOT);
            d.src[i] = from_storage(&h.names[i], h.msgs[i].msg_hdr.msg_namelen);
        }
        Ok(n)
    }

    /// One `sendmmsg` of the queued datagrams `from..to`: how many went
    /// and their bytes. With `d.gso`, a run of datagrams to one destination
    /// with one length (the last may be shorter) is one message the kernel
    /// cuts back into those datagrams (UDP_SEGMENT): one route lookup and
    /// one pass down the stack for the run. An error is about the first
    /// message, and comes with how many datagrams that message held (the
    /// kernel reports one only when nothing went).
    pub(super) fn send(
        sock: &UdpSocket,
        d: &mut Datagrams,
        from: usize,
        to: usize,
    ) -> Result<(usize, usize), (io::Error, usize)> {
        let base = d.buf.as_mut_ptr();
        let h = &mut d.sys;
        let iov = |slot: usize, len: usize| libc::iovec {
            // SAFETY: `queue` only accepts slots and lengths inside `buf`.
            iov_base: unsafe { base.add(slot * SLOT) }.cast(),
            iov_len: len,
        };
        let mut msgs = 0;
        let mut i = from;
        while i < to {
            let (slot, len, dst) = d.out[i];
            h.iov[i] = iov(slot, len);
            let mut j = i + 1;
            if d.gso && len > 0 {
                while j < to && (j - i + 1) * len <= MAX_GSO_BYTES {
                    let (next_slot, next_len, next_dst) = d.out[j];
                    if next_dst != dst || next_len > len || next_len == 0 {
                        break;
                    }
                    h.iov[j] = iov(next_slot, next_len);
                    j += 1;
                    if next_len < len {
                        break;
                    }
                }
            }
            let namelen = to_storage(dst, &mut h.names[msgs]);
            let m = &mut h.msgs[msgs].msg_hdr;
            m.msg_name = (&mut h.names[msgs] as *mut libc::sockaddr_storage).cast();
            m.msg_namelen = namelen;
            m.msg_iov = &mut h.iov[i];
            m.msg_iovlen = (j - i) as _;
            m.msg_flags = 0;
            if j - i > 1 {
                let ctrl = &mut h.ctrl[msgs];
                // SAFETY: `ctrl` is aligned for cmsghdr and CMSG_SPACE(2)
                // fits in it; the header and its u16 are written in bounds.
                unsafe {
                    let c = ctrl.as_mut_ptr().cast::<libc::cmsghdr>();
                    (*c).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
                    (*c).cmsg_level = libc::SOL_UDP;
                    (*c).cmsg_type = libc::UDP_SEGMENT;
                    libc::CMSG_DATA(c).cast::<u16>().write_unaligned(len as u16);
                    m.msg_control = c.cast();
                    m.msg_controllen = libc::CMSG_SPACE(size_of::<u16>() as u32) as _;
                }
            } else {
                m.msg_control = std::ptr::null_mut();
                m.msg_controllen = 0;
            }
            h.msgs[msgs].msg_len = 0;
            h.segments[msgs] = j - i;
            msgs += 1;
            i = j;
        }
        let ptr = h.msgs.as_mut_ptr();
        let fd = sock.as_raw_fd();
        let n = sock
            .try_io(tokio::io::Interest::WRITABLE, || {
                // SAFETY: the first `msgs` headers point at queued slots,
                // addresses, iovecs and control data of this batch, alive
                // and unaliased for the call.
                let n = unsafe { libc::sendmmsg(fd, ptr, msgs as _, libc::MSG_DONTWAIT as _) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            })
            .map_err(|e| (e, h.segments[0]))?;
        let n = n.min(msgs);
        let datagrams = h.segments[..n].iter().sum();
        let bytes = h.msgs[..n].iter().map(|m| m.msg_len as usize).sum();
        Ok((datagrams, bytes))
    }

    /// What the kernel answers a GSO message it cannot send that way (no
    /// checksum offload on the route's device, or no UDP_SEGMENT at all).
    pub(super) fn gso_unsupported(e: &io::Error) -> bool {
        matches!(
            e.raw_os_error(),
            Some(libc::EIO | libc::EINVAL | libc::ENOPROTOOPT)
        )
    }

    fn to_storage(addr: SocketAddr, out: &mut libc::sockaddr_storage) -> libc::socklen_t {
        match addr {
            SocketAddr::V4(a) => {
                // SAFETY: sockaddr_storage is large and aligned enough for
                // any socket address.
                let sin = unsafe {
                    &mut *(out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
                };
                *sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from(*a.ip()).to_be(),
                    },
                    sin_zero: [0; 8],
                };
                size_of::<libc::sockaddr_in>() as libc::socklen_t
            }
            SocketAddr::V6(a) => {
                // SAFETY: as above.
                let sin6 = unsafe {
                    &mut *(out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
                };
                *sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                size_of::<libc::sockaddr_in6>() as libc::socklen_t
            }
        }
    }

    pub(super) fn from_storage(
        s: &libc::sockaddr_storage,
        len: libc::socklen_t,
    ) -> Option<SocketAddr> {
        let len = len as usize;
        match i32::from(s.ss_family) {
            libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
                // SAFETY: the kernel wrote a sockaddr_in here (family and
                // length say so); storage is aligned for it.
                let sin =
                    unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                Some(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
                // SAFETY: as above, a sockaddr_in6.
                let sin6 =
                    unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    #[cfg(test)]
    pub(super) fn round_trip(addr: SocketAddr) -> Option<SocketAddr> {
        // SAFETY: all-zero is a valid sockaddr_storage.
        let mut s: libc::sockaddr_storage = unsafe { zeroed() };
        let len = to_storage(addr, &mut s);
        from_storage(&s, len)
    }
}

#[cfg(test)]
mod tests {
    //! The relay's batches over real sockets on 127.0.0.1, on tokio's
    //! current-thread runtime: datagrams sent before the test task awaits
    //! are all queued when the relay task first runs, so it takes them in
    //! batches (full ones, then a short one).

    use std::net::UdpSocket as StdSocket;
    use std::time::Duration;

    use tokio::net::UdpSocket;

    use super::*;
    use crate::relay::{MediaRelay, RelayConfig};

    const PKT_LEN: usize = 172;

    fn relay(low: u16, high: u16) -> MediaRelay {
        let mut cfg = RelayConfig::new("127.0.0.1".parse().unwrap(), low..=high);
        cfg.random_start = false;
        MediaRelay::with_config(cfg).unwrap()
    }

    fn rtp(ssrc: u32, seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 0];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.resize(PKT_LEN, 0xd5);
        p
    }

    async fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
        let mut buf = vec![0u8; 2048];
        let (n, from) = tokio::time::timeout(Duration::from_secs(5), s.recv_from(&mut buf))
            .await
            .expect("relay did not deliver a packet")
            .unwrap();
        buf.truncate(n);
        (buf, from)
    }

    fn nothing_waiting(s: &UdpSocket) -> bool {
        let mut buf = [0u8; 2048];
        matches!(s.try_recv_from(&mut buf), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    fn seq_of(p: &[u8]) -> u16 {
        u16::from_be_bytes([p[2], p[3]])
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn socket_addresses_survive_the_kernel_structs() {
        for a in [
            "127.0.0.1:5004",
            "203.0.113.9:65535",
            "[2001:db8::1]:40000",
            "[::ffff:192.0.2.1]:1",
        ] {
            let a: SocketAddr = a.parse().unwrap();
            assert_eq!(sys::round_trip(a), Some(a));
        }
        let scoped = SocketAddr::V6(std::net::SocketAddrV6::new(
            "fe80::1".parse().unwrap(),
            5004,
            7,
            3,
        ));
        assert_eq!(sys::round_trip(scoped), Some(scoped));
    }

    #[tokio::test]
    async fn bursts_larger_than_a_batch_and_a_poll_arrive_in_order_and_counted_exactly() {
        let relay = relay(46000, 46009);
        let s = relay.allocate("burst", 1).unwrap();
        let a = StdSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.set_remote(0, Leg::A, a.local_addr().unwrap(), None, false)
            .unwrap();
        s.set_remote(0, Leg::B, b.local_addr().unwrap(), None, false)
            .unwrap();
        let (a_side, b_side) = (
            s.local_addr(0, Leg::A).unwrap().0,
            s.local_addr(0, Leg::B).unwrap().0,
        );
        // More than a poll handles before it yields, too.
        let total = (POLL_BUDGET + 3 * BATCH + 5) as u16;
        // The second burst mixes lengths, so that runs of equal datagrams
        // (sent together where the kernel can) end at every kind of
        // boundary: a shorter one, a longer one, the batch's end.
        let len = |burst: u16, seq: u16| match (burst, seq % 7) {
            (1, 3) => PKT_LEN - 60,
            (1, 5) => PKT_LEN + 40,
            _ => PKT_LEN,
        };
        // Twice: the second burst also checks that the short batch ending
        // the first left the socket able to wake the task again.
        let mut bytes = 0;
        for burst in 0..2u16 {
            for seq in 0..total {
                let mut p = rtp(7, burst * total + seq);
                p.resize(len(burst, seq), 0xd5);
                p[12] = seq as u8;
                a.send_to(&p, a_side).unwrap();
                bytes += p.len() as u64;
            }
            for seq in 0..total {
                let (p, from) = recv(&b).await;
                assert_eq!(seq_of(&p), burst * total + seq);
                assert_eq!((p.len(), p[12]), (len(burst, seq), seq as u8));
                assert_eq!(from, b_side);
            }
        }
        assert!(nothing_waiting(&b));
        let st = s.stats();
        assert_eq!(st.a_to_b.packets, 2 * u64::from(total));
        assert_eq!(st.a_to_b.bytes, bytes);
        assert_eq!(st.dropped(), 0);
        s.close().await;
        assert_eq!(relay.metrics().rtp_packets, 2 * u64::from(total));
    }

    #[tokio::test]
    async fn one_batch_mixes_forwarded_dropped_and_rtcp_datagrams() {
        let relay = relay(46010, 46019);
        let s = relay.allocate("mixed", 1).unwrap();
        let a = StdSocket::bind("127.0.0.1:0").unwrap();
        let stranger = StdSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.set_remote(0, Leg::A, a.local_addr().unwrap(), None, true)
            .unwrap();
        s.set_remote(0, Leg::B, b.local_addr().unwrap(), None, true)
            .unwrap();
        let a_side = s.local_addr(0, Leg::A).unwrap().0;
        let mut sr = vec![0x80, 200, 0, 6];
        sr.extend_from_slice(&7u32.to_be_bytes());
        sr.resize(28, 0);
        // A latches with its first packet; in the same batch the stranger's
        // packets (another SSRC) and garbage are dropped, and A's SR (mux)
        // goes out on its own while A's RTP waits for the batch's send.
        for seq in 0..20u16 {
            a.send_to(&rtp(7, seq), a_side).unwrap();
            if seq % 4 == 1 {
                stranger.send_to(&rtp(99, seq), a_side).unwrap();
            }
            if seq == 5 {
                a.send_to(&[1, 2, 3], a_side).unwrap();
            }
            if seq == 10 {
                a.send_to(&sr, a_side).unwrap();
            }
        }
        let mut rtp_seqs = Vec::new();
        let mut rtcp = 0;
        for _ in 0..21 {
            let (p, _) = recv(&b).await;
            match p[1] {
                200 => {
                    assert_eq!(p, sr);
                    rtcp += 1;
                }
                _ => {
                    assert_eq!(u32::from_be_bytes([p[8], p[9], p[10], p[11]]), 7);
                    rtp_seqs.push(seq_of(&p));
                }
            }
        }
        assert!(nothing_waiting(&b));
        assert_eq!(rtcp, 1);
        assert_eq!(rtp_seqs, (0..20).collect::<Vec<_>>());
        let st = s.stats();
        assert_eq!(st.a_to_b.packets, 21);
        assert_eq!(st.a_to_b.rtcp_packets, 1);
        assert_eq!(st.a_to_b.bytes, 20 * PKT_LEN as u64 + sr.len() as u64);
        assert_eq!((st.dropped_foreign, st.dropped_malformed), (5, 1));
        s.close().await;
    }

    #[tokio::test]
    async fn each_refused_send_of_a_batch_is_counted_once() {
        let relay = relay(46020, 46029);
        let s = relay.allocate("refused", 1).unwrap();
        let a = StdSocket::bind("127.0.0.1:0").unwrap();
        s.set_remote(0, Leg::A, a.local_addr().unwrap(), None, false)
            .unwrap();
        // Broadcast without SO_BROADCAST: the kernel refuses every datagram.
        s.set_remote(
            0,
            Leg::B,
            "255.255.255.255:4000".parse().unwrap(),
            None,
            false,
        )
        .unwrap();
        let a_side = s.local_addr(0, Leg::A).unwrap().0;
        let total = BATCH as u64 + 8;
        for seq in 0..total {
            a.send_to(&rtp(7, seq as u16), a_side).unwrap();
        }
        let mut waited = 0;
        while s.stats().dropped_other < total && waited < 500 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 1;
        }
        let st = s.stats();
        assert_eq!(st.dropped_other, total);
        assert_eq!(st.a_to_b.packets, 0);
        s.close().await;
        assert_eq!(relay.metrics().send_errors, total);
    }

    mod decoded {
        //! The gateway's own reports on a decoded (transcoded) stream: as
        //! SRTCP to an SRTP leg, and counting the DTMF events it plays.

        use gateway_callmodel::AudioCodec;
        use gateway_srtp::{SrtpContext, SrtpKey, SrtpOptions, SrtpSuite};

        use super::*;
        use crate::dtmf::DtmfEvent;
        use crate::dtmf_inject::{DtmfInjector, InjectConfig};
        use crate::rtcp::{parse_compound, RtcpPacket, SenderReport};
        use crate::srtp::{SrtpProtect, SrtpUnprotect};
        use crate::transcode::{CodecEnd, Transcoder};
        use crate::{Chain, Direction, IdentityTransform, Pipeline};

        const PCMU: CodecEnd = CodecEnd {
            codec: AudioCodec::Pcmu,
            payload_type: 0,
            telephone_event: Some(101),
        };
        const PCMA: CodecEnd = CodecEnd {
            codec: AudioCodec::Pcma,
            payload_type: 8,
            telephone_event: None,
        };
        const SUITE: SrtpSuite = SrtpSuite::AesCm128HmacSha1_80;

        fn ctx(byte: u8) -> SrtpContext {
            let key =
                SrtpKey::from_concatenated(SUITE, &vec![byte; SUITE.key_len() + SUITE.salt_len()])
                    .unwrap();
            SrtpContext::new(SUITE, &key, SrtpOptions::default()).unwrap()
        }

        fn audio(pt: u8, seq: u16, ssrc: u32) -> Vec<u8> {
            let mut p = rtp(ssrc, seq);
            p[1] = pt;
            p
        }

        fn is_rtcp(p: &[u8]) -> bool {
            p.len() >= 2 && (200..=206).contains(&p[1])
        }

        fn sender_report(d: &[u8]) -> SenderReport {
            match parse_compound(d).unwrap().into_iter().next() {
                Some(RtcpPacket::SenderReport(sr)) => sr,
                other => panic!("expected an SR, got {other:?}"),
            }
        }

        /// A transcoded call, A on PCMU (rtcp-mux) and B on PCMA; `srtp`
        /// makes A an SRTP leg with key bytes 1 (what A sends) and 2
        /// (what A receives). Returns the session and A's, B's sockets.
        async fn transcoded(
            relay: &MediaRelay,
            srtp: bool,
        ) -> (crate::MediaSession, UdpSocket, UdpSocket) {
            let s = relay.allocate("decoded", 1).unwrap();
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let mut from_a: Vec<Box<dyn crate::PacketTransform>> = Vec::new();
            if srtp {
                from_a.push(Box::new(SrtpUnprotect::new(ctx(1))));
            }
            from_a.push(Box::new(Transcoder::new(PCMU, PCMA).unwrap()));
            s.set_pipeline(0, Direction::AtoB, Pipeline::new(Box::new(Chain(from_a))))
                .unwrap();
            let to_a = Pipeline {
                inbound: Box::new(Chain(vec![Box::new(Transcoder::new(PCMA, PCMU).unwrap())])),
                inject: Some(DtmfInjector::new(InjectConfig::new(101, 8000, 8000)).unwrap()),
                outbound: match srtp {
                    true => Box::new(SrtpProtect::new(ctx(2))),
                    false => Box::new(IdentityTransform),
                },
            };
            s.set_pipeline(0, Direction::BtoA, to_a).unwrap();
            s.set_rtcp_encrypted(0, Leg::A, srtp).unwrap();
            s.set_remote(0, Leg::A, a.local_addr().unwrap(), None, true)
                .unwrap();
            s.set_remote(0, Leg::B, b.local_addr().unwrap(), None, true)
                .unwrap();
            (s, a, b)
        }

        async fn try_recv(s: &UdpSocket) -> Option<Vec<u8>> {
            let mut buf = vec![0u8; 2048];
            let (n, _) = tokio::time::timeout(Duration::from_millis(1), s.recv_from(&mut buf))
                .await
                .ok()?
                .ok()?;
            buf.truncate(n);
            Some(buf)
        }

        #[tokio::test]
        async fn an_srtp_leg_gets_the_gateways_reports_as_srtcp() {
            let relay = relay(46030, 46039);
            let (s, a, b) = transcoded(&relay, true).await;
            let (a_side, b_side) = (
                s.local_addr(0, Leg::A).unwrap().0,
                s.local_addr(0, Leg::B).unwrap().0,
            );
            let (mut a_tx, mut a_rx) = (ctx(1), ctx(2));
            let (mut rtp_at_a, mut report) = (0u32, None);
            // Media both ways until the first report (due a second after
            // the first packet); bounded so a broken relay fails, not hangs.
            for seq in 0..200u16 {
                let mut p = audio(0, seq, 0xA);
                a_tx.protect_rtp(&mut p).unwrap();
                a.send_to(&p, a_side).await.unwrap();
                b.send_to(&audio(8, seq, 0xB), b_side).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
                while let Some(mut d) = try_recv(&a).await {
                    if is_rtcp(&d) {
                        a_rx.unprotect_rtcp(&mut d)
                            .expect("the report is SRTCP of A's key");
                        report = Some(d);
                    } else {
                        a_rx.unprotect_rtp(&mut d).expect("audio to A is SRTP");
                        rtp_at_a += 1;
                    }
                }
                if report.is_some() {
                    break;
                }
            }
            let sr = sender_report(&report.expect("the gateway reports to the SRTP leg"));
            assert!(sr.packet_count > 0 && sr.packet_count <= rtp_at_a);
            let block = sr.reports.first().expect("a block about A's RTP");
            assert_eq!(block.ssrc, 0xA);
            s.close().await;
        }

        #[tokio::test]
        async fn played_digits_count_in_the_senders_report() {
            let relay = relay(46040, 46049);
            let (s, a, b) = transcoded(&relay, false).await;
            let (a_side, b_side) = (
                s.local_addr(0, Leg::A).unwrap().0,
                s.local_addr(0, Leg::B).unwrap().0,
            );
            a.send_to(&audio(0, 0, 0xA), a_side).await.unwrap();
            b.send_to(&audio(8, 0, 0xB), b_side).await.unwrap();
            let digit = DtmfEvent::from_char('7').unwrap();
            let (mut audio_at_a, mut events_at_a, mut report) = (0u32, 0u32, None);
            let mut octets = 0u32;
            for seq in 1..200u16 {
                if seq == 5 {
                    s.inject_dtmf(0, Direction::BtoA, digit, 200).unwrap();
                }
                a.send_to(&audio(0, seq, 0xA), a_side).await.unwrap();
                b.send_to(&audio(8, seq, 0xB), b_side).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
                while let Some(d) = try_recv(&a).await {
                    if is_rtcp(&d) {
                        // Everything A got before it is what the SR counts
                        // (one socket, in order on loopback).
                        report.get_or_insert((d, audio_at_a + events_at_a, octets, events_at_a));
                        continue;
                    }
                    match d[1] & 0x7f {
                        101 => events_at_a += 1,
                        _ => audio_at_a += 1,
                    }
                    octets += d.len() as u32 - 12;
                }
                if report.is_some() && events_at_a > 0 {
                    break;
                }
            }
            let (d, packets_before, octets_before, events_before) =
                report.expect("the gateway reports to A");
            // The digit plays from the 5th packet time, the report falls
            // due after a second.
            assert!(events_before > 0, "the report follows the digit");
            let sr = sender_report(&d);
            assert_eq!(sr.packet_count, packets_before);
            assert_eq!(sr.octet_count, octets_before);
            s.close().await;
        }
    }
}

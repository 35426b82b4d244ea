"""An H.323 endpoint simulator for the interop tests: RAS (GRQ, RRQ, ARQ,
DRQ, URQ) over UDP, a call over TCP (Setup with Fast Start, tunnelled H.245
answered like a room system does, UII digits, ReleaseComplete) and G.711
RTP audio both ways. A room can also take calls (`Listener`): it accepts
the gateway's Setup on the port it registered and answers CallProceeding,
Alerting and Connect with a Fast Start answer. A room may also call with
slow start (no fastStart: `Call.open_audio`, the gateway's channels acked
with the room's RTP port). Everything is encoded and decoded with pycrate, an
encoder independent of the gateway's own.

Used as a library by test_h323_*.py; every wait is bounded in time."""

from __future__ import annotations

import math
import os
import socket
import struct
import threading
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

from pycrate_asn1dir import H225, H245

RAS = H225.H323_MESSAGES.RasMessage
UU = H225.H323_MESSAGES.H323_UserInformation
MSC = H245.MULTIMEDIA_SYSTEM_CONTROL.MultimediaSystemControlMessage
OLC = H245.MULTIMEDIA_SYSTEM_CONTROL.OpenLogicalChannel

V4 = (0, 0, 8, 2250, 0, 4)
H245_V7 = (0, 0, 8, 245, 0, 7)
VENDOR = {'vendor': {'t35CountryCode': 181, 't35Extension': 0, 'manufacturerCode': 4242},
          'productId': b'RoomSim', 'versionId': b'1.0'}
EP_TYPE = {'vendor': VENDOR, 'terminal': {}, 'mc': False, 'undefinedNode': False}

# Q.931 message types (Q.931 Table 4-2)
SETUP, CALL_PROCEEDING, ALERTING, CONNECT = 0x05, 0x02, 0x01, 0x07
PROGRESS, RELEASE_COMPLETE, FACILITY, STATUS = 0x03, 0x5A, 0x62, 0x7D
Q931_NAMES = {SETUP: 'setup', CALL_PROCEEDING: 'callProceeding', ALERTING: 'alerting',
              CONNECT: 'connect', PROGRESS: 'progress', RELEASE_COMPLETE: 'releaseComplete',
              FACILITY: 'facility', STATUS: 'status'}


def ip_of(host: str) -> bytes:
    return socket.inet_aton(host)


def ras_ip(host: str, port: int):
    return ('ipAddress', {'ip': ip_of(host), 'port': port})


def h245_ip(host: str, port: int):
    return ('unicastAddress', ('iPAddress', {'network': ip_of(host), 'tsapIdentifier': port}))


def _reads_back(T, buf, val) -> bool:
    try:
        T.from_aper(buf)
        return T.get_val() == val
    except Exception:
        return False


def encode(T, val) -> bytes:
    """Aligned PER of `val`. pycrate 0.8.1 sometimes writes a spurious zero
    octet before extension additions' open types and cannot read its own
    output; drop such octets (at most two) until its decoder, which agrees
    with X.691 and tshark, reads the value back (see ras_oracle.py)."""
    T.set_val(val)
    buf = T.to_aper()
    if _reads_back(T, buf, val):
        return buf
    zeros = [i for i, b in enumerate(buf) if b == 0]
    for i in zeros:
        one = buf[:i] + buf[i + 1:]
        if _reads_back(T, one, val):
            return one
    for i in zeros:
        for j in zeros:
            if j > i:
                two = buf[:i] + buf[i + 1:j] + buf[j + 1:]
                if _reads_back(T, two, val):
                    return two
    raise AssertionError(f'pycrate cannot encode {val!r} so that it reads back')


def decode(T, buf: bytes):
    T.from_aper(buf)
    return T.get_val()


# ------------------------------------------------------------------ RAS

class Ras:
    """The endpoint's RAS socket; one request in flight at a time."""

    def __init__(self, gk: tuple[str, int], host: str = '127.0.0.1'):
        self.gk = gk
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.seq = 1
        self.sent: list[bytes] = []

    def close(self):
        self.sock.close()

    def request(self, name: str, body: dict, timeout: float = 2.0, tries: int = 3):
        """Send `name` with a fresh requestSeqNum; return (answer name, value)."""
        seq = self.seq
        self.seq += 1
        body = dict(body, requestSeqNum=seq)
        data = encode(RAS, (name, body))
        self.sent.append(data)
        for _ in range(tries):
            self.sock.sendto(data, self.gk)
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.sock.settimeout(left)
                try:
                    buf, _ = self.sock.recvfrom(4096)
                except socket.timeout:
                    break
                kind, val = decode(RAS, buf)
                if val.get('requestSeqNum') == seq:
                    return kind, val
        return None, None

    def send_raw(self, data: bytes):
        self.sock.sendto(data, self.gk)

    def recv_any(self, timeout: float):
        self.sock.settimeout(timeout)
        try:
            buf, _ = self.sock.recvfrom(4096)
        except socket.timeout:
            return None
        return decode(RAS, buf)

    def grq(self, aliases=None, gatekeeper_id=None):
        body = {'protocolIdentifier': V4, 'rasAddress': ras_ip(self.host, self.port),
                'endpointType': EP_TYPE}
        if aliases is not None:
            body['endpointAlias'] = aliases
        if gatekeeper_id is not None:
            body['gatekeeperIdentifier'] = gatekeeper_id
        return self.request('gatekeeperRequest', body)

    def rrq(self, aliases, cs_port: int, ttl: int = 60, keep_alive=False, endpoint_id=None):
        body = {'protocolIdentifier': V4, 'discoveryComplete': True,
                'callSignalAddress': [ras_ip(self.host, cs_port)],
                'rasAddress': [ras_ip(self.host, self.port)],
                'terminalType': EP_TYPE, 'endpointVendor': VENDOR,
                'timeToLive': ttl, 'keepAlive': keep_alive,
                'willSupplyUUIEs': False, 'maintainConnection': False}
        if aliases is not None:
            body['terminalAlias'] = aliases
        if endpoint_id is not None:
            body['endpointIdentifier'] = endpoint_id
        return self.request('registrationRequest', body)

    def arq(self, endpoint_id: str, dest_digits: str, call_id: bytes, conf_id: bytes,
            crv: int, src_aliases, answer_call: bool = False):
        """`answer_call`: the room asks before answering a call offered to it."""
        body = {'callType': ('pointToPoint', 0), 'callModel': ('gatekeeperRouted', 0),
                'endpointIdentifier': endpoint_id,
                'destinationInfo': [('dialledDigits', dest_digits)],
                'srcInfo': src_aliases, 'bandWidth': 1280, 'callReferenceValue': crv,
                'conferenceID': conf_id, 'activeMC': False, 'answerCall': answer_call,
                'canMapAlias': False, 'callIdentifier': {'guid': call_id},
                'willSupplyUUIEs': False}
        return self.request('admissionRequest', body)

    def drq(self, endpoint_id: str, call_id: bytes, conf_id: bytes, crv: int):
        body = {'endpointIdentifier': endpoint_id, 'conferenceID': conf_id,
                'callReferenceValue': crv, 'disengageReason': ('normalDrop', 0),
                'callIdentifier': {'guid': call_id}, 'answeredCall': False}
        return self.request('disengageRequest', body)

    def urq(self, endpoint_id: str, cs_port: int):
        body = {'callSignalAddress': [ras_ip(self.host, cs_port)],
                'endpointIdentifier': endpoint_id}
        return self.request('unregistrationRequest', body)


# ------------------------------------------------------------------ Q.931

def tpkt(payload: bytes) -> bytes:
    return struct.pack('!BBH', 3, 0, len(payload) + 4) + payload


def q931(msg_type: int, crv: int, ies: bytes, from_destination=False) -> bytes:
    flag = 0x80 if from_destination else 0
    return bytes([0x08, 2, flag | ((crv >> 8) & 0x7F), crv & 0xFF, msg_type]) + ies


def ie(ident: int, body: bytes) -> bytes:
    return bytes([ident, len(body)]) + body


def uu_ie(uu: bytes) -> bytes:
    # User-user carries a two-octet length in H.225.0; protocol
    # discriminator 5 = X.208/X.209 coded user information
    return bytes([0x7E]) + struct.pack('!H', len(uu) + 1) + b'\x05' + uu


def parse_q931(buf: bytes) -> dict:
    crl = buf[1] & 0x0F
    cr = buf[2:2 + crl]
    crv = int.from_bytes(cr, 'big') & 0x7FFF if cr else 0
    pos = 2 + crl
    mt = buf[pos]
    pos += 1
    out = {'type': mt, 'name': Q931_NAMES.get(mt, hex(mt)), 'crv': crv, 'cause': None, 'uu': None}
    while pos < len(buf):
        ident = buf[pos]
        pos += 1
        if ident & 0x80:
            continue
        if ident == 0x7E:
            n = int.from_bytes(buf[pos:pos + 2], 'big')
            pos += 2
        else:
            n = buf[pos]
            pos += 1
        body = buf[pos:pos + n]
        pos += n
        if ident == 0x08 and len(body) >= 2:
            # coding/location octet (with ext bit), maybe recommendation, then value
            i = 1 if body[0] & 0x80 else 2
            out['cause'] = body[i] & 0x7F
        elif ident == 0x7E and body:
            out['uu'] = decode(UU, body[1:])
    return out


# --------------------------------------------------------------- H.245

def olc_fast_start(lcn: int, host: str, rtp_port: int, receive: bool, codec='g711Ulaw64k') -> bytes:
    h2250 = {'sessionID': 1, 'mediaControlChannel': h245_ip(host, rtp_port + 1),
             'silenceSuppression': False}
    if receive:
        # a channel the gateway transmits on: we receive at rtp_port
        rev = dict(h2250, mediaChannel=h245_ip(host, rtp_port))
        val = {'forwardLogicalChannelNumber': lcn,
               'forwardLogicalChannelParameters': {'dataType': ('nullData', 0),
                                                   'multiplexParameters': ('none', 0)},
               'reverseLogicalChannelParameters': {
                   'dataType': ('audioData', (codec, 20)),
                   'multiplexParameters': ('h2250LogicalChannelParameters', rev)}}
    else:
        val = {'forwardLogicalChannelNumber': lcn,
               'forwardLogicalChannelParameters': {
                   'dataType': ('audioData', (codec, 20)),
                   'multiplexParameters': ('h2250LogicalChannelParameters', h2250)}}
    return encode(OLC, val)


H264_OID = (0, 0, 8, 241, 0, 0, 1)
# H.241: RFC 6184 non-interleaved packetization (mode 1)
H264_MODE1_OID = (0, 0, 8, 241, 0, 0, 0, 1)


def h264_capability(level: int = 71, max_bit_rate: int = 10240):
    """genericVideoCapability of H.264 baseline at an H.241 level (71: 3.1)."""
    return ('genericVideoCapability', {
        'capabilityIdentifier': ('standard', H264_OID), 'maxBitRate': max_bit_rate,
        'collapsing': [{'parameterIdentifier': ('standard', 41), 'parameterValue': ('booleanArray', 64)},
                       {'parameterIdentifier': ('standard', 42), 'parameterValue': ('unsignedMin', level)}]})


def olc_h264(lcn: int, host: str, rtp_port: int, receive: bool, pt: int = 109) -> bytes:
    """A Fast Start H.264 proposal (session 2, mode 1, payload type `pt`);
    `receive`: a channel the gateway transmits on, we receive at rtp_port."""
    h2250 = {'sessionID': 2, 'mediaControlChannel': h245_ip(host, rtp_port + 1),
             'dynamicRTPPayloadType': pt,
             'mediaPacketization': ('rtpPayloadType', {'payloadDescriptor': ('oid', H264_MODE1_OID),
                                                       'payloadType': pt})}
    video = ('videoData', h264_capability())
    if receive:
        val = {'forwardLogicalChannelNumber': lcn,
               'forwardLogicalChannelParameters': {'dataType': ('nullData', 0),
                                                   'multiplexParameters': ('none', 0)},
               'reverseLogicalChannelParameters': {
                   'dataType': video,
                   'multiplexParameters': ('h2250LogicalChannelParameters',
                                           dict(h2250, mediaChannel=h245_ip(host, rtp_port)))}}
    else:
        val = {'forwardLogicalChannelNumber': lcn,
               'forwardLogicalChannelParameters': {
                   'dataType': video,
                   'multiplexParameters': ('h2250LogicalChannelParameters', h2250)}}
    return encode(OLC, val)


def olc_request(lcn: int, host: str, rtp_port: int, codec='g711Ulaw64k'):
    """Slow start: the room opens its transmit channel over H.245 (the
    gateway's ack names where to send)."""
    h2250 = {'sessionID': 1, 'mediaControlChannel': h245_ip(host, rtp_port + 1),
             'silenceSuppression': False}
    return ('request', ('openLogicalChannel', {
        'forwardLogicalChannelNumber': lcn,
        'forwardLogicalChannelParameters': {
            'dataType': ('audioData', (codec, 20)),
            'multiplexParameters': ('h2250LogicalChannelParameters', h2250)}}))


def olc_ack(lcn: int, host: str, rtp_port: int):
    """The room accepts a channel the gateway opened: it receives at
    rtp_port (RTCP one above)."""
    return ('response', ('openLogicalChannelAck', {
        'forwardLogicalChannelNumber': lcn,
        'forwardMultiplexAckParameters': ('h2250LogicalChannelAckParameters', {
            'sessionID': 1, 'mediaChannel': h245_ip(host, rtp_port),
            'mediaControlChannel': h245_ip(host, rtp_port + 1), 'flowControlToZero': False})}))


def unicast_of(a) -> tuple[str, int] | None:
    """An H245 TransportAddress (unicastAddress iPAddress) as (host, port)."""
    if a and a[0] == 'unicastAddress' and a[1][0] == 'iPAddress':
        ip = a[1][1]
        return socket.inet_ntoa(ip['network']), ip['tsapIdentifier']
    return None


class SlowStart:
    """Slow start seen from the room: the channels the gateway opens
    (acknowledged with where the room receives, when it has an RTP port)
    and the gateway's acks of the room's channels."""

    def __init__(self):
        self.media_port: int | None = None
        self.host = '127.0.0.1'
        # the gateway's channels: (lcn, codec)
        self.gw_channels: list[tuple[int, str]] = []
        # the room's channels the gateway acked: lcn -> where to send
        self.acked: dict[int, tuple[str, int] | None] = {}
        self.rejected: list[int] = []

    def on_pdu(self, kind, sub, body) -> list:
        """Replies to one of the gateway's PDUs."""
        if kind == 'request' and sub == 'openLogicalChannel':
            fwd = body['forwardLogicalChannelParameters']
            dt = fwd['dataType']
            codec = dt[1][0] if dt[0] == 'audioData' and isinstance(dt[1], tuple) else dt[0]
            lcn = body['forwardLogicalChannelNumber']
            self.gw_channels.append((lcn, codec))
            if self.media_port is not None and dt[0] == 'audioData':
                return [olc_ack(lcn, self.host, self.media_port)]
            return [('response', ('openLogicalChannelReject', {
                'forwardLogicalChannelNumber': lcn,
                'cause': ('dataTypeNotSupported', 0)}))]
        if kind == 'response' and sub == 'openLogicalChannelAck':
            ack = body.get('forwardMultiplexAckParameters')
            h = ack[1] if ack else {}
            self.acked[body['forwardLogicalChannelNumber']] = unicast_of(h.get('mediaChannel'))
        if kind == 'response' and sub == 'openLogicalChannelReject':
            self.rejected.append(body['forwardLogicalChannelNumber'])
        return []


def our_tcs(seq: int) -> dict:
    return ('request', ('terminalCapabilitySet', {
        'sequenceNumber': seq, 'protocolIdentifier': H245_V7,
        'capabilityTable': [
            {'capabilityTableEntryNumber': 1, 'capability': ('receiveAudioCapability', ('g711Ulaw64k', 20))},
            {'capabilityTableEntryNumber': 2, 'capability': ('receiveAndTransmitUserInputCapability', ('dtmf', 0))},
        ],
        'capabilityDescriptors': [{'capabilityDescriptorNumber': 0, 'simultaneousCapabilities': [[1], [2]]}],
    }))


# ------------------------------------------------------------------ RTP

def ulaw_encode(sample: int) -> int:
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    if sample < 0:
        sample = -sample
    sample = min(sample, clip) + bias
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not sample & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def ulaw_decode(byte: int) -> int:
    byte = ~byte & 0xFF
    sign, exponent, mantissa = byte & 0x80, (byte >> 4) & 7, byte & 0x0F
    sample = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -sample if sign else sample


class Rtp:
    """PCMU both ways: a tone out every 20 ms, what comes in kept."""

    def __init__(self, host: str = '127.0.0.1'):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # an even port for RTP with the odd one above it free for RTCP
        for _ in range(50):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((host, 0))
            p = s.getsockname()[1]
            s.close()
            p -= p % 2
            try:
                self.sock.bind((host, p))
                self.rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self.rtcp.bind((host, p + 1))
                break
            except OSError:
                self.sock.close()
                self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        else:
            raise AssertionError('no even/odd UDP port pair free')
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.received: list[tuple[float, bytes]] = []
        self.packets_out = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, remote: tuple[str, int], freq: float, seconds: float):
        self.remote = remote
        t1 = threading.Thread(target=self._send, args=(freq, seconds), daemon=True)
        t2 = threading.Thread(target=self._recv, daemon=True)
        self._threads = [t1, t2]
        t1.start()
        t2.start()

    def _send(self, freq: float, seconds: float):
        ssrc = int.from_bytes(os.urandom(4), 'big')
        seq, ts, n = 1, 0, 0
        start = time.monotonic()
        while not self._stop.is_set() and n * 0.02 < seconds:
            payload = bytes(ulaw_encode(int(12000 * math.sin(2 * math.pi * freq * (ts + i) / 8000)))
                            for i in range(160))
            hdr = struct.pack('!BBHII', 0x80, 0, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
            try:
                self.sock.sendto(hdr + payload, self.remote)
                self.packets_out += 1
            except OSError:
                pass
            seq += 1
            ts += 160
            n += 1
            delay = start + n * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def _recv(self):
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                buf, _ = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(buf) > 12 and buf[1] & 0x7F == 0:
                cc = buf[0] & 0x0F
                self.received.append((time.monotonic(), buf[12 + 4 * cc:]))

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        self.sock.close()
        self.rtcp.close()

    def write_wav(self, path: Path) -> Path:
        with wave.open(str(path), 'wb') as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b''.join(struct.pack('<%dh' % len(p), *(ulaw_decode(b) for b in p))
                                   for _, p in self.received))
        return path


# ------------------------------------------------------------------ call

@dataclass
class Call:
    """One call over its own call-signalling connection."""
    gw: tuple[str, int]
    host: str = '127.0.0.1'
    crv: int = 0x1234
    call_id: bytes = field(default_factory=lambda: os.urandom(16))
    conf_id: bytes = field(default_factory=lambda: os.urandom(16))
    messages: list = field(default_factory=list)
    h245_in: list = field(default_factory=list)
    closed: bool = False
    # set on the answering side: the call reference is the caller's
    from_destination: bool = False
    # False: H.245 runs on a connection of its own (H245Link)
    tunnelling: bool = True
    # slow start: channels opened over (tunnelled) H.245
    slow: SlowStart = field(default_factory=SlowStart)

    def connect(self, timeout: float = 5.0):
        self.sock = socket.create_connection(self.gw, timeout=timeout)
        self.buf = b''
        self._tcs_seq = 1

    def send_frame(self, payload: bytes):
        self.sock.sendall(tpkt(payload))

    def uu(self, body, h245=None) -> bytes:
        pdu = {'h323-message-body': body, 'h245Tunnelling': self.tunnelling}
        if h245:
            pdu['h245Control'] = h245
        return encode(UU, {'h323-uu-pdu': pdu})

    def setup(self, dest: str, src_aliases, fast_start: list[bytes] | None, endpoint_id=None,
              called_ie=True, h245_address: tuple[str, int] | None = None):
        body = {'protocolIdentifier': V4, 'sourceAddress': src_aliases,
                'sourceInfo': EP_TYPE, 'destinationAddress': [('dialledDigits', dest)],
                'activeMC': False, 'conferenceID': self.conf_id,
                'conferenceGoal': ('create', 0), 'callType': ('pointToPoint', 0),
                'sourceCallSignalAddress': ras_ip(self.host, self.sock.getsockname()[1]),
                'callIdentifier': {'guid': self.call_id},
                'mediaWaitForConnect': False, 'canOverlapSend': False,
                'multipleCalls': False, 'maintainConnection': False}
        if fast_start:
            body['fastStart'] = fast_start
        if endpoint_id:
            body['endpointIdentifier'] = endpoint_id
        if h245_address:
            body['h245Address'] = ras_ip(*h245_address)
        ies = ie(0x04, b'\x80\x90\xa2')  # bearer: speech, 64 kbit/s, G.711 mu-law
        if called_ie:
            ies += ie(0x70, b'\x81' + dest.encode())
        ies += uu_ie(self.uu(('setup', body)))
        self.send_frame(q931(SETUP, self.crv, ies))

    def facility_h245(self, pdus: list[bytes]):
        body = ('empty', 0)
        self.send_frame(q931(FACILITY, self.crv, uu_ie(self.uu(body, pdus)),
                             from_destination=self.from_destination))

    def uii(self, digit: str, signal: bool = False):
        if signal:
            ui = ('signal', {'signalType': digit, 'duration': 120})
        else:
            ui = ('alphanumeric', digit)
        self.facility_h245([encode(MSC, ('indication', ('userInput', ui)))])

    def release(self, q850: int = 16):
        body = ('releaseComplete', {'protocolIdentifier': V4, 'reason': ('undefinedReason', 0),
                                    'callIdentifier': {'guid': self.call_id}})
        ies = ie(0x08, bytes([0x80, 0x80 | q850])) + uu_ie(self.uu(body))
        self.send_frame(q931(RELEASE_COMPLETE, self.crv, ies,
                             from_destination=self.from_destination))

    def read_message(self, timeout: float):
        """The next Q.931 message (dict), or None on timeout; sets
        `closed` when the gateway closed the connection."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack('!H', self.buf[2:4])[0]
                if len(self.buf) >= n:
                    frame, self.buf = self.buf[4:n], self.buf[n:]
                    if not frame:
                        continue
                    m = parse_q931(frame)
                    self.messages.append(m)
                    self._on_h245(m)
                    return m
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            except OSError:
                data = b''
            if not data:
                self.closed = True
                continue
            self.buf += data

    def wait_for(self, name: str, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.read_message(deadline - time.monotonic())
            if m is None:
                if self.closed:
                    return None
                continue
            if m['name'] == name:
                return m
        return None

    def wait_closed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self.read_message(deadline - time.monotonic())
        return self.closed

    def _on_h245(self, m):
        """Answer tunnelled H.245 as a room system does: our TCS, acks."""
        uu = m.get('uu')
        if not uu:
            return
        pdus = uu['h323-uu-pdu'].get('h245Control') or []
        replies = []
        for p in pdus:
            try:
                kind, val = decode(MSC, p)
            except Exception:
                continue
            self.h245_in.append((kind, val))
            sub, body = val
            if kind == 'request' and sub == 'terminalCapabilitySet':
                replies.append(encode(MSC, our_tcs(self._tcs_seq)))
                self._tcs_seq += 1
                replies.append(encode(MSC, ('response', ('terminalCapabilitySetAck',
                                                         {'sequenceNumber': body['sequenceNumber']}))))
            elif kind == 'request' and sub == 'masterSlaveDetermination':
                # the decision names what the receiver (the gateway) is
                replies.append(encode(MSC, ('response', ('masterSlaveDeterminationAck',
                                                         {'decision': ('master', 0)}))))
            replies.extend(encode(MSC, r) for r in self.slow.on_pdu(kind, sub, body))
        if replies and not self.closed:
            try:
                self.facility_h245(replies)
            except OSError:
                pass

    def open_audio(self, lcn: int, rtp: 'Rtp', codec='g711Ulaw64k'):
        """Slow start: open the room's transmit channel (tunnelled); the
        gateway's own channels are acked with `rtp`'s port from now on."""
        self.slow.media_port = rtp.port
        self.slow.host = self.host
        self.facility_h245([encode(MSC, olc_request(lcn, self.host, rtp.port, codec))])

    def wait_acked(self, lcn: int, timeout: float):
        """Where the gateway receives the room's channel `lcn`, once it
        acked it (tunnelled H.245)."""
        deadline = time.monotonic() + timeout
        while lcn not in self.slow.acked and time.monotonic() < deadline and not self.closed:
            self.read_message(deadline - time.monotonic())
        return self.slow.acked.get(lcn)

    def fast_start_answer(self):
        """(gateway RTP address we send to, codec) from the first message
        that carried fastStart."""
        for m in self.messages:
            uu = m.get('uu')
            if not uu:
                continue
            body = uu['h323-uu-pdu']['h323-message-body'][1]
            for raw in (body.get('fastStart') or []) if isinstance(body, dict) else []:
                olc = decode(OLC, raw)
                fwd = olc['forwardLogicalChannelParameters']
                if fwd['dataType'][0] == 'audioData':
                    h = fwd['multiplexParameters'][1]
                    addr = h['mediaChannel'][1][1]
                    return (socket.inet_ntoa(addr['network']), addr['tsapIdentifier']), fwd['dataType'][1][0]
        return None, None

    def h245_address(self):
        """The first h245Address the gateway named, as (host, port)."""
        for m in self.messages:
            uu = m.get('uu')
            if not uu:
                continue
            body = uu['h323-uu-pdu']['h323-message-body'][1]
            a = body.get('h245Address') if isinstance(body, dict) else None
            if a and a[0] == 'ipAddress':
                return socket.inet_ntoa(a[1]['ip']), a[1]['port']
        return None

    def fast_start_olcs(self) -> list:
        """The OLCs of the first message that carried fastStart, decoded."""
        for m in self.messages:
            uu = m.get('uu')
            body = uu['h323-uu-pdu']['h323-message-body'][1] if uu else None
            if isinstance(body, dict) and body.get('fastStart'):
                return [decode(OLC, raw) for raw in body['fastStart']]
        return []

    def video_answer(self):
        """From the gateway's Fast Start answer: (where we send video, the
        channel we send on, the video channel the gateway sends on)."""
        send_to = our_lcn = gw_lcn = None
        for olc in self.fast_start_olcs():
            fwd = olc['forwardLogicalChannelParameters']
            rev = olc.get('reverseLogicalChannelParameters')
            if rev is None and fwd['dataType'][0] == 'videoData':
                a = fwd['multiplexParameters'][1]['mediaChannel'][1][1]
                send_to = (socket.inet_ntoa(a['network']), a['tsapIdentifier'])
                our_lcn = olc['forwardLogicalChannelNumber']
            elif rev is not None and rev['dataType'][0] == 'videoData':
                gw_lcn = olc['forwardLogicalChannelNumber']
        return send_to, our_lcn, gw_lcn

    def fast_updates(self) -> list[int]:
        """Channels the gateway asked a keyframe for (videoFastUpdatePicture)."""
        return [body['logicalChannelNumber'] for kind, (sub, body) in self.h245_in
                if kind == 'command' and sub == 'miscellaneousCommand'
                and body['type'][0] == 'videoFastUpdatePicture']

    def fast_update(self, lcn: int):
        """Ask the gateway for a keyframe on channel `lcn`."""
        self.facility_h245([encode(MSC, ('command', ('miscellaneousCommand', {
            'logicalChannelNumber': lcn, 'type': ('videoFastUpdatePicture', 0)})))])

    def release_reason(self, m) -> str | None:
        uu = m.get('uu') if m else None
        if not uu:
            return None
        body = uu['h323-uu-pdu']['h323-message-body']
        if body[0] != 'releaseComplete':
            return None
        r = body[1].get('reason')
        return r[0] if r else None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ------------------------------------------------------ H.245 over TCP

class H245Link:
    """A call's H.245 on a TCP connection of its own (TPKT framing),
    answered as a room does: our TCS and an ack for the gateway's, MSD
    acknowledged. Either side may open it: `listen` + `accept`, or
    `connect` to the address the gateway named."""

    def __init__(self):
        self.sock = None
        self.server = None
        self.buf = b''
        self.pdus: list = []
        self.raw: list[bytes] = []
        self.closed = False
        self._tcs_seq = 1
        self.slow = SlowStart()

    @classmethod
    def listen(cls, host: str = '127.0.0.1') -> 'H245Link':
        link = cls()
        link.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        link.server.bind((host, 0))
        link.server.listen(1)
        link.address = link.server.getsockname()
        return link

    def accept(self, timeout: float) -> bool:
        self.server.settimeout(timeout)
        try:
            self.sock, _ = self.server.accept()
        except socket.timeout:
            return False
        return True

    def connect(self, addr: tuple[str, int], timeout: float = 5.0):
        self.sock = socket.create_connection(addr, timeout=timeout)

    def send(self, val):
        self.send_raw(tpkt(encode(MSC, val)))

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def read(self, timeout: float):
        """The next PDU (kind, value), answered as a room does; None on
        timeout or when the gateway closed the connection."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack('!H', self.buf[2:4])[0]
                if len(self.buf) >= n:
                    frame, self.buf = self.buf[4:n], self.buf[n:]
                    if not frame:
                        continue
                    self.raw.append(frame)
                    pdu = decode(MSC, frame)
                    self.pdus.append(pdu)
                    self._answer(pdu)
                    return pdu
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            except OSError:
                data = b''
            if not data:
                self.closed = True
                continue
            self.buf += data

    def wait_for(self, name: str, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pdu = self.read(deadline - time.monotonic())
            if pdu is None:
                if self.closed:
                    return None
                continue
            if pdu[1][0] == name:
                return pdu
        return None

    def wait_closed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self.read(deadline - time.monotonic())
        return self.closed

    def _answer(self, pdu):
        kind, (sub, body) = pdu
        if self.closed:
            return
        try:
            if kind == 'request' and sub == 'terminalCapabilitySet':
                self.send(our_tcs(self._tcs_seq))
                self._tcs_seq += 1
                self.send(('response', ('terminalCapabilitySetAck',
                                        {'sequenceNumber': body['sequenceNumber']})))
            elif kind == 'request' and sub == 'masterSlaveDetermination':
                self.send(('response', ('masterSlaveDeterminationAck', {'decision': ('master', 0)})))
            for r in self.slow.on_pdu(kind, sub, body):
                self.send(r)
        except OSError:
            pass

    def open_audio(self, lcn: int, rtp: 'Rtp', codec='g711Ulaw64k'):
        """Slow start on this connection: see `Call.open_audio`."""
        self.slow.media_port = rtp.port
        self.send(olc_request(lcn, self.slow.host, rtp.port, codec))

    def wait_acked(self, lcn: int, timeout: float):
        deadline = time.monotonic() + timeout
        while lcn not in self.slow.acked and time.monotonic() < deadline and not self.closed:
            self.read(deadline - time.monotonic())
        return self.slow.acked.get(lcn)

    def close(self):
        for s in (self.sock, self.server):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass


# ------------------------------------------------------------ answering

class Listener:
    """The room's call-signalling port: register it as callSignalAddress,
    then `accept` the gateway's call."""

    def __init__(self, host: str = '127.0.0.1'):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(4)
        self.host = host
        self.port = self.sock.getsockname()[1]

    def accept(self, timeout: float) -> 'IncomingCall | None':
        self.sock.settimeout(timeout)
        try:
            conn, peer = self.sock.accept()
        except socket.timeout:
            return None
        call = IncomingCall(gw=peer, host=self.host)
        call.sock = conn
        call.buf = b''
        call._tcs_seq = 1
        call.from_destination = True
        return call

    def close(self):
        self.sock.close()


@dataclass
class IncomingCall(Call):
    """A call the gateway placed to the room."""
    setup_msg: dict | None = None
    # what the gateway proposed, decoded: (raw OLC value) lists
    proposals: list = field(default_factory=list)

    def read_setup(self, timeout: float) -> dict | None:
        m = self.wait_for('setup', timeout)
        if m is None:
            return None
        self.setup_msg = m
        self.crv = m['crv']
        body = m['uu']['h323-uu-pdu']['h323-message-body'][1]
        self.call_id = body['callIdentifier']['guid']
        self.conf_id = body['conferenceID']
        self.proposals = [decode(OLC, raw) for raw in body.get('fastStart') or []]
        return m

    def setup_body(self) -> dict:
        return self.setup_msg['uu']['h323-uu-pdu']['h323-message-body'][1]

    def _answer(self, msg_type: int, name: str, extra: dict):
        body = {'protocolIdentifier': V4, 'destinationInfo': EP_TYPE,
                'callIdentifier': {'guid': self.call_id},
                'multipleCalls': False, 'maintainConnection': False}
        body.update(extra)
        self.send_frame(q931(msg_type, self.crv, uu_ie(self.uu((name, body))),
                             from_destination=True))

    def proceeding(self):
        self._answer(CALL_PROCEEDING, 'callProceeding', {})

    def alerting(self):
        self._answer(ALERTING, 'alerting', {})

    def fast_start_accept(self, rtp: 'Rtp', codec='g711Ulaw64k'):
        """Our Fast Start answer: the gateway's transmit proposal for
        `codec` with where we receive, and its receive proposal (whose
        address is where we send). Returns (answer OLCs, gateway RTP)."""
        tx = rx = None
        for olc in self.proposals:
            fwd = olc['forwardLogicalChannelParameters']
            rev = olc.get('reverseLogicalChannelParameters')
            if rev is None and fwd['dataType'][0] == 'audioData' \
                    and fwd['dataType'][1][0] == codec and tx is None:
                tx = olc
            elif rev is not None and rev['dataType'][0] == 'audioData' \
                    and rev['dataType'][1][0] == codec and rx is None:
                rx = olc
        if tx is None or rx is None:
            return None, None
        h = dict(tx['forwardLogicalChannelParameters']['multiplexParameters'][1])
        h['mediaChannel'] = h245_ip(self.host, rtp.port)
        h['mediaControlChannel'] = h245_ip(self.host, rtp.port + 1)
        tx = dict(tx, forwardLogicalChannelParameters=dict(
            tx['forwardLogicalChannelParameters'],
            multiplexParameters=('h2250LogicalChannelParameters', h)))
        rh = dict(rx['reverseLogicalChannelParameters']['multiplexParameters'][1])
        gw_addr = rh['mediaChannel'][1][1]
        gw_rtp = (socket.inet_ntoa(gw_addr['network']), gw_addr['tsapIdentifier'])
        rh['mediaControlChannel'] = h245_ip(self.host, rtp.port + 1)
        rx = dict(rx, reverseLogicalChannelParameters=dict(
            rx['reverseLogicalChannelParameters'],
            multiplexParameters=('h2250LogicalChannelParameters', rh)))
        return [encode(OLC, tx), encode(OLC, rx)], gw_rtp

    def forward(self, to: tuple[str, int], reason: str = 'callForwarded', aliases=None):
        """Answer the Setup with a Facility sending the call elsewhere
        (alternativeAddress `to`, alternativeAliasAddress `aliases`)."""
        body = {'protocolIdentifier': V4, 'alternativeAddress': ras_ip(*to),
                'reason': (reason, 0), 'callIdentifier': {'guid': self.call_id},
                'multipleCalls': False, 'maintainConnection': False}
        if aliases:
            body['alternativeAliasAddress'] = aliases
        self.send_frame(q931(FACILITY, self.crv, uu_ie(self.uu(('facility', body))),
                             from_destination=True))

    def connect_answer(self, fast_start: list[bytes] | None):
        extra = {'conferenceID': self.conf_id}
        if fast_start:
            extra['fastStart'] = fast_start
        self._answer(CONNECT, 'connect', extra)

    def user_input(self) -> list[str]:
        """Digits the gateway sent as H.245 userInput."""
        out = []
        for kind, (sub, body) in self.h245_in:
            if kind == 'indication' and sub == 'userInput':
                if body[0] == 'signal':
                    out.append(body[1]['signalType'])
                elif body[0] == 'alphanumeric':
                    out.append(body[1])
        return out

"""RAS additions to the endpoint simulator (sim.py) for the gatekeeper's
H.235 password authentication, neighbour gatekeepers and the gateway's own
registration with an outside gatekeeper.

- `AuthRas`: an endpoint whose requests carry H.235 password tokens the way
  room systems send them (cryptoEPPwdHash MD5, H.235.1 HMAC-SHA1-96, CAT),
  made with pycrate and hashlib (h235_vectors.py), never by the gateway.

Every wait is bounded in time."""

from __future__ import annotations

import socket
import time

import h235_vectors as hv
import sim

OID_MD5 = hv.OID_MD5
OID_U = hv.OID_U


class AuthRas(sim.Ras):
    """`method`: "md5", "h2351", "cat" or None (no token). Tokens are made
    fresh for every request, with the wall clock (or `clock_skew` seconds
    off it)."""

    def __init__(self, gk, alias: str, password: str, method: str | None = 'md5',
                 host: str = '127.0.0.1', gatekeeper_id: str = 'gateway'):
        super().__init__(gk, host)
        self.alias = alias
        self.password = password
        self.method = method
        self.gatekeeper_id = gatekeeper_id
        self.endpoint_id: str | None = None
        self.clock_skew = 0
        self.random = 0

    def tokens(self) -> dict:
        ts = int(time.time()) + self.clock_skew
        self.random += 1
        if self.method == 'md5':
            return {'cryptoTokens': [hv.md5_pwd_token(self.alias, self.password, ts)]}
        if self.method == 'h2351':
            return {'cryptoTokens': [hv.h2351_token(ts, self.random, general_id=self.gatekeeper_id,
                                                    senders_id=self.endpoint_id)]}
        if self.method == 'cat':
            return {'tokens': [hv.cat_token(self.alias, self.password, ts, self.random & 0xFF)]}
        return {}

    def request(self, name: str, body: dict, timeout: float = 2.0, tries: int = 3):
        seq = self.seq
        self.seq += 1
        secured = name in ('registrationRequest', 'admissionRequest', 'unregistrationRequest',
                           'disengageRequest', 'bandwidthRequest')
        body = dict(body, requestSeqNum=seq, **(self.tokens() if secured else {}))
        data = hv.encode_signed(name, body, self.password)
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
                kind, val = sim.decode(sim.RAS, buf)
                if val.get('requestSeqNum') == seq:
                    if kind == 'registrationConfirm':
                        self.endpoint_id = val['endpointIdentifier']
                    return kind, val
        return None, None

    def grq_offering(self, aliases, oids):
        """GRQ offering pwdHash with the given algorithm OIDs."""
        body = {'protocolIdentifier': sim.V4, 'rasAddress': sim.ras_ip(self.host, self.port),
                'endpointType': sim.EP_TYPE, 'endpointAlias': aliases,
                'authenticationCapability': [('pwdHash', 0)], 'algorithmOIDs': list(oids)}
        return self.request('gatekeeperRequest', body)


def request_past_progress(ras: sim.Ras, name: str, body: dict, timeout: float = 10.0):
    """Sends `name` once and waits for the final answer, passing over
    RequestInProgress (the gatekeeper asking its neighbours). Returns
    (answer name, value, RequestInProgress values seen)."""
    seq = ras.seq
    ras.seq += 1
    data = sim.encode(sim.RAS, (name, dict(body, requestSeqNum=seq)))
    ras.sock.sendto(data, ras.gk)
    progress = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, None, progress
        ras.sock.settimeout(left)
        try:
            buf, _ = ras.sock.recvfrom(4096)
        except socket.timeout:
            return None, None, progress
        kind, val = sim.decode(sim.RAS, buf)
        if val.get('requestSeqNum') != seq:
            continue
        if kind == 'requestInProgress':
            progress.append(val)
            continue
        return kind, val, progress


def arq_body(endpoint_id: str, alias, crv: int, src_aliases):
    return {'callType': ('pointToPoint', 0), 'callModel': ('gatekeeperRouted', 0),
            'endpointIdentifier': endpoint_id, 'destinationInfo': [alias],
            'srcInfo': src_aliases, 'bandWidth': 1280, 'callReferenceValue': crv,
            'conferenceID': bytes([crv]) * 16, 'activeMC': False, 'answerCall': False,
            'canMapAlias': False, 'callIdentifier': {'guid': bytes([crv]) * 16},
            'willSupplyUUIEs': False}


class NeighbourGk:
    """A neighbour gatekeeper: receives the gateway's LRQs and answers them
    as told; sends LRQs of its own to the gateway."""

    def __init__(self, host: str = '127.0.0.1'):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.seq = 100

    def close(self):
        self.sock.close()

    def next_lrq(self, timeout: float = 5.0):
        """(LRQ value, sender) or (None, None)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, None
            self.sock.settimeout(left)
            try:
                buf, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                return None, None
            kind, val = sim.decode(sim.RAS, buf)
            if kind == 'locationRequest':
                return val, peer

    def lcf(self, lrq, peer, cs_host: str, cs_port: int):
        body = {'requestSeqNum': lrq['requestSeqNum'],
                'callSignalAddress': sim.ras_ip(cs_host, cs_port),
                'rasAddress': sim.ras_ip(self.host, self.port)}
        self.sock.sendto(sim.encode(sim.RAS, ('locationConfirm', body)), peer)

    def lrj(self, lrq, peer):
        body = {'requestSeqNum': lrq['requestSeqNum'], 'rejectReason': ('notRegistered', 0)}
        self.sock.sendto(sim.encode(sim.RAS, ('locationReject', body)), peer)

    def locate(self, gk, alias, timeout: float = 3.0):
        """Our own LRQ to the gateway for `alias`: (answer name, value)."""
        self.seq += 1
        body = {'requestSeqNum': self.seq, 'destinationInfo': [alias],
                'replyAddress': sim.ras_ip(self.host, self.port)}
        self.sock.sendto(sim.encode(sim.RAS, ('locationRequest', body)), gk)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, None
            self.sock.settimeout(left)
            try:
                buf, _ = self.sock.recvfrom(4096)
            except socket.timeout:
                return None, None
            kind, val = sim.decode(sim.RAS, buf)
            if val.get('requestSeqNum') == self.seq:
                return kind, val


def md5_token_valid(token, password: str) -> bool:
    """Checks a cryptoEPPwdHash the gateway sent, recomputed here with
    pycrate and hashlib (both NUL forms, as the gatekeeper accepts)."""
    kind, val = token
    if kind != 'cryptoEPPwdHash' or tuple(val['token']['algorithmOID']) != OID_MD5:
        return False
    alias = val['alias'][1]
    for nul in (True, False):
        _, want = hv.md5_pwd_token(alias, password, val['timeStamp'], nul=nul)
        if want['token']['hash'] == val['token']['hash']:
            return True
    return False


class OutsideGk:
    """An outside gatekeeper the gateway registers with: answers GRQ and
    RRQ (granting `ttl`), records every request, can unregister the
    gateway (URQ)."""

    def __init__(self, gk_id: str = 'CARRIER-GK', ttl: int = 8, host: str = '127.0.0.1',
                 mode_oid=None):
        # mode_oid: the password hash the GCF asks for (authenticationMode
        # pwdHash with this algorithmOID), None for no mode
        self.mode_oid = mode_oid
        self.raw: list[bytes] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.gk_id = gk_id
        self.ttl = ttl
        self.seen: list[tuple[str, dict]] = []
        self.gateway = None
        self.next_eid = 1

    def close(self):
        self.sock.close()

    def serve(self, until, timeout: float = 20.0):
        """Answers requests until `until(kind, value)` is true for one of
        them; returns it, or (None, None) at the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, None
            self.sock.settimeout(left)
            try:
                buf, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                return None, None
            kind, val = sim.decode(sim.RAS, buf)
            self.seen.append((kind, val))
            self.raw.append(buf)
            self.gateway = peer
            seq = val.get('requestSeqNum')
            if kind == 'gatekeeperRequest':
                gcf = {'requestSeqNum': seq, 'protocolIdentifier': sim.V4,
                       'gatekeeperIdentifier': self.gk_id,
                       'rasAddress': sim.ras_ip(self.host, self.port)}
                if self.mode_oid is not None:
                    gcf.update(authenticationMode=('pwdHash', 0), algorithmOID=self.mode_oid)
                self.reply('gatekeeperConfirm', gcf)
            elif kind == 'registrationRequest':
                if val.get('keepAlive'):
                    eid = val['endpointIdentifier']
                else:
                    eid = f'{self.gk_id}-{self.next_eid}'
                    self.next_eid += 1
                self.reply('registrationConfirm', {
                    'requestSeqNum': seq, 'protocolIdentifier': sim.V4,
                    'callSignalAddress': [], 'gatekeeperIdentifier': self.gk_id,
                    'endpointIdentifier': eid, 'timeToLive': self.ttl})
            elif kind == 'unregistrationRequest':
                self.reply('unregistrationConfirm', {'requestSeqNum': seq})
            if until(kind, val):
                return kind, val

    def reply(self, name, body):
        self.sock.sendto(sim.encode(sim.RAS, (name, body)), self.gateway)

    def unregister(self, eid: str):
        self.sock.sendto(sim.encode(sim.RAS, ('unregistrationRequest', {
            'requestSeqNum': 900, 'callSignalAddress': [], 'endpointIdentifier': eid,
            'reason': ('maintenance', 0)})), self.gateway)


def h2351_valid(raw: bytes, token, password: str) -> bool:
    """Checks an H.235.1 token over the whole datagram `raw`: HMAC-SHA1-96
    keyed with SHA-1(password) with the hash zeroed (hashlib/hmac)."""
    kind, val = token
    if kind != 'nestedcryptoToken' or val[0] != 'cryptoHashedToken':
        return False
    hashed = val[1]
    if tuple(hashed['token']['algorithmOID']) != OID_U:
        return False
    value, nbits = hashed['token']['hash']
    if nbits != 96:
        return False
    mac = value.to_bytes(12, 'big')
    at = raw.find(mac)
    if at < 0:
        return False
    zeroed = raw[:at] + bytes(12) + raw[at + 12:]
    key = hv.hashlib.sha1(password.encode()).digest()
    return hv.hmac.compare_digest(hv.hmac.new(key, zeroed, hv.hashlib.sha1).digest()[:12], mac)

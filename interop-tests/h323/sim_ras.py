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

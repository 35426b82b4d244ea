#!/usr/bin/env python3
"""H.235 password tokens made with an implementation independent of the
gateway's: pycrate encodes the ASN.1 (ClearToken, CryptoH323Token and the
RAS messages) and Python's hashlib/hmac computes MD5 and HMAC-SHA1.

  h235_vectors.py <unix-time>   stdout: JSON lines {label, hex, ...} of RAS
                                messages with tokens made at that time

Also a library: sim_ras.py builds its authenticated requests with these
functions. The procedures (see gateway/h323/src/h235.rs for references):
cryptoEPPwdHash = MD5 over the PER ClearToken {0.0, timeStamp, password,
generalID}, Cisco-compatible with NUL-terminated strings; H.235.1 procedure
I = HMAC-SHA1-96 keyed with SHA-1(password) over the whole message with
the hash zeroed; CAT = MD5(random || password || timeStamp big endian)."""
from __future__ import annotations

import hashlib
import hmac
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from pycrate_asn1dir import H235  # noqa: E402

import sim  # noqa: E402

CLEAR = H235.H235_SECURITY_MESSAGES.ClearToken
OID_MD5 = (1, 2, 840, 113549, 2, 5)
OID_CAT = (1, 2, 840, 113548, 10, 1, 2, 1)
OID_A = (0, 0, 8, 235, 0, 2, 1)
OID_T = (0, 0, 8, 235, 0, 2, 5)
OID_U = (0, 0, 8, 235, 0, 2, 6)
PLACEHOLDER = b'pycrate-hash'  # 12 octets, replaced by the HMAC
EMPTY_PARAMS = {}


def bits(b: bytes):
    """A pycrate BIT STRING value."""
    return (int.from_bytes(b, 'big'), 8 * len(b))


def md5_pwd_token(alias: str, password: str, ts: int, nul: bool = True, alias_kind='h323-ID'):
    z = '\x00' if nul else ''
    CLEAR.set_val({'tokenOID': (0, 0), 'timeStamp': ts, 'password': password + z,
                   'generalID': alias + z})
    digest = hashlib.md5(CLEAR.to_aper()).digest()
    return ('cryptoEPPwdHash', {'alias': (alias_kind, alias), 'timeStamp': ts,
                                'token': {'algorithmOID': OID_MD5, 'paramS': EMPTY_PARAMS,
                                          'hash': bits(digest)}})


def h2351_token(ts: int, random: int, general_id=None, senders_id=None):
    clear = {'tokenOID': OID_T, 'timeStamp': ts, 'random': random}
    if general_id is not None:
        clear['generalID'] = general_id
    if senders_id is not None:
        clear['sendersID'] = senders_id
    return ('nestedcryptoToken', ('cryptoHashedToken', {
        'tokenOID': OID_A, 'hashedVals': clear,
        'token': {'algorithmOID': OID_U, 'paramS': EMPTY_PARAMS, 'hash': bits(PLACEHOLDER)}}))


def h2351_sign(data: bytes, password: str) -> bytes:
    at = data.find(PLACEHOLDER)
    assert at >= 0 and data.find(PLACEHOLDER, at + 1) < 0, 'placeholder once'
    zeroed = data[:at] + bytes(12) + data[at + 12:]
    key = hashlib.sha1(password.encode()).digest()
    mac = hmac.new(key, zeroed, hashlib.sha1).digest()[:12]
    return data[:at] + mac + data[at + 12:]


def cat_token(alias: str, password: str, ts: int, random: int):
    challenge = hashlib.md5(bytes([random & 0xFF]) + password.encode()
                            + ts.to_bytes(4, 'big')).digest()
    return {'tokenOID': OID_CAT, 'timeStamp': ts, 'random': random,
            'generalID': alias + '\x00', 'challenge': challenge}


def encode_signed(name: str, body: dict, password: str | None) -> bytes:
    data = sim.encode(sim.RAS, (name, body))
    if password is not None and PLACEHOLDER in data:
        data = h2351_sign(data, password)
    return data


def _pwd_cert_token() -> bytes:
    CLEAR.set_val({'tokenOID': (1, 2, 3), 'timeStamp': 5,
                   'dhkey': {'halfkey': (5, 3), 'modSize': (0, 0), 'generator': (1, 1)},
                   'certificate': {'type': (1, 2, 4), 'certificate': b'cert'},
                   'nonStandard': {'nonStandardIdentifier': (1, 2, 5), 'data': b'x'}})
    return CLEAR.to_aper()


# tokens the gatekeeper must pass over on its way to the one it checks;
# the signed token's open type is given encoded (pycrate reads an open
# type back as such, '_unk_004' being its name for unknown content)
UNSUPPORTED_TOKENS = [
    ('cryptoEPPwdEncr', {'algorithmOID': (2, 16, 840, 1, 101, 3, 4, 1, 2),
                         'paramS': {'iv8': bytes(8)}, 'encryptedData': b'\x01' * 24}),
    ('cryptoEPCert', {'toBeSigned': ('_unk_004', _pwd_cert_token()),
                      'algorithmOID': (1, 2, 840, 113549, 1, 1, 5),
                      'paramS': {'ranInt': -7}, 'signature': (0xABCD, 16)}),
    ('cryptoGKPwdHash', {'gatekeeperId': 'OTHER', 'timeStamp': 9,
                         'token': {'algorithmOID': OID_MD5, 'paramS': {}, 'hash': (1, 128)}}),
]
# a ClearToken that is not CAT, with the root fields CAT does not use
OTHER_CLEAR = {'tokenOID': (1, 2, 3), 'timeStamp': 5, 'password': 'not-this',
               'dhkey': {'halfkey': (5, 3), 'modSize': (0, 0), 'generator': (1, 1)},
               'certificate': {'type': (1, 2, 4), 'certificate': b'cert'},
               'nonStandard': {'nonStandardIdentifier': (1, 2, 5), 'data': b'x'},
               'sendersID': 'someone'}


def rrq_body(aliases, ts_port=1720):
    return {'protocolIdentifier': sim.V4, 'discoveryComplete': True,
            'callSignalAddress': [sim.ras_ip('198.51.100.7', ts_port)],
            'rasAddress': [sim.ras_ip('198.51.100.7', 1719)],
            'terminalType': sim.EP_TYPE, 'terminalAlias': aliases,
            'endpointVendor': sim.VENDOR, 'timeToLive': 60, 'keepAlive': False,
            'willSupplyUUIEs': False, 'maintainConnection': False, 'requestSeqNum': 1}


def vectors(ts: int):
    room = [('h323-ID', 'room-secret')]
    out = []

    def add(label, name, body, password=None, **extra):
        out.append(dict(label=label, hex=encode_signed(name, body, password).hex(), **extra))

    add('md5 cisco form', 'registrationRequest',
        dict(rrq_body(room), cryptoTokens=UNSUPPORTED_TOKENS + [md5_pwd_token('room-secret', 'pw', ts)]),
        expect='ok')
    add('md5 plain form', 'registrationRequest',
        dict(rrq_body(room), cryptoTokens=[md5_pwd_token('room-secret', 'pw', ts, nul=False)]),
        expect='ok')
    add('md5 wrong password', 'registrationRequest',
        dict(rrq_body(room), cryptoTokens=[md5_pwd_token('room-secret', 'guess', ts)]),
        expect='BadHash')
    add('md5 old timestamp', 'registrationRequest',
        dict(rrq_body(room), cryptoTokens=[md5_pwd_token('room-secret', 'pw', ts - 3600)]),
        expect='Timestamp')
    add('h235.1', 'registrationRequest',
        dict(rrq_body(room), cryptoTokens=[h2351_token(ts, 77, general_id='CITY-GK')]),
        password='pw', expect='ok')
    add('h235.1 wrong password', 'registrationRequest',
        dict(rrq_body(room), cryptoTokens=[h2351_token(ts, 78, general_id='CITY-GK')]),
        password='nope', expect='BadHash')
    add('cat', 'registrationRequest',
        dict(rrq_body(room), tokens=[OTHER_CLEAR, cat_token('room-secret', 'pw', ts, 200)]),
        expect='ok')
    add('cat wrong password', 'registrationRequest',
        dict(rrq_body(room), tokens=[cat_token('room-secret', 'pw2', ts, 201)]),
        expect='BadHash')
    add('no token', 'registrationRequest', rrq_body(room), expect='Missing')
    return out


if __name__ == '__main__':
    for v in vectors(int(sys.argv[1])):
        print(json.dumps(v))

#!/usr/bin/env python3
"""pycrate as an independent oracle for the gateway's H.225.0 (RAS and
H323-UserInformation) and H.245 codecs.

  ras_oracle.py uu-check / h245-check / uu-vectors / h245-vectors: the same
  for H323-UserInformation and MultimediaSystemControlMessage (vectors in
  uu_vectors.py and h245_vectors.py).

  ras_oracle.py check   stdin: lines "<label> <hex>" (our encodings)
                        stdout: one JSON object per line: label, value (the
                        pycrate decoding, bytes as hex), reencoded (hex of
                        pycrate's own encoding of that value), or error.
  ras_oracle.py vectors stdout: JSON lines {label, hex} encoded by pycrate,
                        including fields and extension additions the
                        gateway does not model and older-version messages.
"""
import json
import sys

from pycrate_asn1dir import H225

RAS = H225.H323_MESSAGES.RasMessage
UU = H225.H323_MESSAGES.H323_UserInformation
_H245 = None


def h245():
    # compiled lazily: the RAS modes do not need it
    global _H245
    if _H245 is None:
        from pycrate_asn1dir import H245
        _H245 = H245.MULTIMEDIA_SYSTEM_CONTROL.MultimediaSystemControlMessage
    return _H245


def codec(mode):
    return {'check': RAS, 'vectors': RAS, 'uu-check': UU, 'uu-vectors': UU}.get(mode) or h245()

V4 = (0, 0, 8, 2250, 0, 4)
V2 = (0, 0, 8, 2250, 0, 2)
IP = lambda a, p: ('ipAddress', {'ip': bytes(a), 'port': p})
GUID = bytes(range(16))
CID = bytes(range(16, 32))


def js(v):
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, (list, tuple)):
        return [js(x) for x in v]
    if isinstance(v, dict):
        return {k: js(x) for k, x in v.items()}
    return v


def check(T=RAS):
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        label, hx = line.split()
        out = {'label': label}
        try:
            T.from_aper(bytes.fromhex(hx))
            val = T.get_val()
            out['value'] = js(val)
            T.set_val(val)
            re = T.to_aper()
            out['reencoded'] = re.hex()
            # False when pycrate cannot read its own re-encoding back (its
            # encoder's extension-addition padding bug, see repair()).
            out['reencoding_readable'] = reads_back(re, val, T)
        except Exception as e:  # report, the Rust side fails the test
            out['error'] = '%s: %s' % (type(e).__name__, e)
        print(json.dumps(out), flush=True)


GENERIC = [{'id': ('standard', 7), 'parameters': [{'id': ('standard', 1), 'content': ('number32', 99)}]}]
FEATURES = {'replacementFeatureSet': False, 'supportedFeatures': [{'id': ('standard', 2)}]}
NSD = {'nonStandardIdentifier': ('h221NonStandard', {'t35CountryCode': 181, 't35Extension': 0, 'manufacturerCode': 8888}),
       'data': b'\x01\x02\x03'}
VENDOR = {'vendor': {'t35CountryCode': 181, 't35Extension': 0, 'manufacturerCode': 18},
          'productId': b'Cisco IOS', 'versionId': b'15.7', 'enterpriseNumber': (1, 3, 6, 1, 4, 1, 9)}
CLEAR_TOKEN = {'tokenOID': (0, 0, 8, 235, 0, 2, 1), 'timeStamp': 1700000000}


def vectors():
    vs = [
        # A Polycom-like GRQ: callServices in the root, nonStandardData,
        # a gateway with voice prefixes, plus tokens and featureSet additions.
        ('grq_full', ('gatekeeperRequest', {
            'requestSeqNum': 1, 'protocolIdentifier': V4, 'nonStandardData': NSD,
            'rasAddress': IP([10, 0, 0, 5], 1719),
            'endpointType': {'nonStandardData': NSD, 'vendor': VENDOR,
                             'gateway': {'protocol': [('voice', {'supportedPrefixes': [{'prefix': ('dialledDigits', '9#')}]}),
                                                      ('h323', {'dataRatesSupported': [{'channelRate': 640}], 'supportedPrefixes': []})]},
                             'terminal': {}, 'mc': False, 'undefinedNode': False,
                             },
            'gatekeeperIdentifier': 'GK1',
            'callServices': {'q932Full': True, 'q951Full': False, 'q952Full': False, 'q953Full': False,
                             'q955Full': False, 'q956Full': False, 'q957Full': False,
                             'q954Info': {'conferenceCalling': True, 'threePartyService': False}},
            'endpointAlias': [('h323-ID', 'Polycom Room'), ('dialledDigits', '4711')],
            'tokens': [CLEAR_TOKEN],
            'algorithmOIDs': [(1, 2, 840, 113549, 2, 5)],
            'supportsAltGK': 0,
            'featureSet': FEATURES, 'genericData': GENERIC,
            'supportsAssignedGK': True,
        })),
        # H.225 v2 RRQ: no keepAlive or anything after it (older version).
        ('rrq_v2', ('registrationRequest', {
            'requestSeqNum': 2, 'protocolIdentifier': V2, 'discoveryComplete': True,
            'callSignalAddress': [IP([192, 168, 1, 20], 1720)],
            'rasAddress': [IP([192, 168, 1, 20], 1719)],
            'terminalType': {'terminal': {}, 'mc': False, 'undefinedNode': False},
            'terminalAlias': [('h323-ID', 'old')],
            'endpointVendor': {'vendor': {'t35CountryCode': 9, 't35Extension': 0, 'manufacturerCode': 61}},
        })),
        # v7 RRQ with many additions we skip (alternateTransportAddresses,
        # usageReportingCapability, capacity, featureSet, genericData,
        # language ...) around the ones we model.
        ('rrq_v7', ('registrationRequest', {
            'requestSeqNum': 3, 'protocolIdentifier': (0, 0, 8, 2250, 0, 7), 'discoveryComplete': False,
            'callSignalAddress': [IP([10, 1, 1, 1], 1720), ('ip6Address', {'ip': bytes(range(16)), 'port': 1720})],
            'rasAddress': [IP([10, 1, 1, 1], 1719)],
            'terminalType': {'vendor': VENDOR, 'mcu': {}, 'mc': True, 'undefinedNode': False},
            'terminalAlias': [('url-ID', 'h323:room@example.com'), ('email-ID', 'room@example.com'),
                              ('transportID', IP([10, 1, 1, 1], 1720)),
                              ('partyNumber', ('e164Number', {'publicTypeOfNumber': ('internationalNumber', 0), 'publicNumberDigits': '4930123'})),
                              ('dialledDigits', '#*,0123456789')],
            'gatekeeperIdentifier': 'GK-\u00e9\u4e2d',
            'endpointVendor': VENDOR,
            'timeToLive': 300, 'tokens': [CLEAR_TOKEN], 'keepAlive': True,
            'endpointIdentifier': 'EP-1', 'willSupplyUUIEs': True, 'maintainConnection': False,
            'alternateTransportAddresses': {'annexE': [IP([10, 1, 1, 1], 2517)]},
            'supportsAltGK': 0,
            'usageReportingCapability': {'nonStandardUsageTypes': [], 'startTime': 0},
            'multipleCalls': True,
            'capacity': {'currentCallCapacity': {'voiceGwCallsAvailable': [{'calls': 30}]}},
            'featureSet': FEATURES, 'genericData': GENERIC,
            'supportsAssignedGK': False,
            'language': ['en', 'de'],
        })),
        ('rcf_pregranted', ('registrationConfirm', {
            'requestSeqNum': 3, 'protocolIdentifier': V4,
            'callSignalAddress': [IP([10, 0, 0, 1], 1720)],
            'terminalAlias': [('h323-ID', 'Room')], 'gatekeeperIdentifier': 'GK1',
            'endpointIdentifier': 'EP0001',
            'alternateGatekeeper': [{'rasAddress': IP([10, 0, 0, 2], 1719), 'needToRegister': True, 'priority': 1}],
            'timeToLive': 60, 'willRespondToIRR': True,
            'preGrantedARQ': {'makeCall': True, 'useGKCallSignalAddressToMakeCall': False, 'answerCall': True,
                              'useGKCallSignalAddressToAnswer': False},
            'maintainConnection': False, 'supportsAdditiveRegistration': 0,
            'featureSet': FEATURES, 'rehomingModel': ('gatekeeperBased', 0),
        })),
        ('rrj_duplicate', ('registrationReject', {
            'requestSeqNum': 4, 'protocolIdentifier': V4,
            'rejectReason': ('duplicateAlias', [('h323-ID', 'Room'), ('dialledDigits', '100')]),
            'gatekeeperIdentifier': 'GK1', 'genericData': GENERIC,
        })),
        ('rrj_invalid_aliases', ('registrationReject', {
            'requestSeqNum': 5, 'protocolIdentifier': V4,
            'rejectReason': ('invalidTerminalAliases', {'terminalAlias': [('h323-ID', 'x')]}),
        })),
        ('arq_full', ('admissionRequest', {
            'requestSeqNum': 6, 'callType': ('pointToPoint', 0), 'callModel': ('gatekeeperRouted', 0),
            'endpointIdentifier': 'EP0001',
            'destinationInfo': [('dialledDigits', '2002')],
            'srcInfo': [('h323-ID', 'Room'), ('dialledDigits', '1001')],
            'srcCallSignalAddress': IP([10, 0, 0, 5], 1720),
            'bandWidth': 7680, 'callReferenceValue': 77,
            'callServices': {'q932Full': False, 'q951Full': False, 'q952Full': False, 'q953Full': False,
                             'q955Full': False, 'q956Full': False, 'q957Full': False,
                             'q954Info': {'conferenceCalling': False, 'threePartyService': False}},
            'conferenceID': CID, 'activeMC': False, 'answerCall': False,
            'canMapAlias': True, 'callIdentifier': {'guid': GUID},
            'gatekeeperIdentifier': 'GK1',
            'tokens': [CLEAR_TOKEN], 'transportQOS': ('endpointControlled', 0),
            'willSupplyUUIEs': False, 'callLinkage': {'globalCallId': GUID},
            'featureSet': FEATURES, 'genericData': GENERIC, 'canMapSrcAlias': True,
        })),
        ('arj_ext_reason', ('admissionReject', {
            'requestSeqNum': 7, 'rejectReason': ('routeCallToSCN', [('e164Number', {'publicTypeOfNumber': ('unknown', 0), 'publicNumberDigits': '1'})]),
        })),
        ('acf_uuies', ('admissionConfirm', {
            'requestSeqNum': 6, 'bandWidth': 7680, 'callModel': ('direct', 0),
            'destCallSignalAddress': IP([10, 0, 0, 9], 1720), 'irrFrequency': 120,
            'destinationInfo': [('dialledDigits', '2002')],
            'destinationType': {'terminal': {}, 'mc': False, 'undefinedNode': False},
            'willRespondToIRR': False,
            'uuiesRequested': {'setup': True, 'callProceeding': False, 'connect': True, 'alerting': False,
                               'information': False, 'releaseComplete': True, 'facility': False,
                               'progress': False, 'empty': False},
            'language': ['en'], 'multipleCalls': False,
        })),
        ('drq_cause', ('disengageRequest', {
            'requestSeqNum': 8, 'endpointIdentifier': 'EP0001', 'conferenceID': CID,
            'callReferenceValue': 77, 'disengageReason': ('normalDrop', 0),
            'callIdentifier': {'guid': GUID}, 'answeredCall': True,
            'usageInformation': {'nonStandardUsageFields': [], 'connectTime': 1700000000},
            'terminationCause': ('releaseCompleteCauseIE', b'\x80\x90'),
        })),
        ('lrq_hop', ('locationRequest', {
            'requestSeqNum': 9, 'destinationInfo': [('url-ID', 'h323:x@y')],
            'replyAddress': IP([10, 9, 9, 9], 1719),
            'sourceInfo': [('h323-ID', 'GK2')], 'canMapAlias': False, 'gatekeeperIdentifier': 'GK2',
            'hopCount': 3, 'callIdentifier': {'guid': GUID}, 'bandWidth': 1280,
            'canMapSrcAlias': False, 'language': ['fr'],
        })),
        ('lrj_reason', ('locationReject', {
            'requestSeqNum': 10, 'rejectReason': ('hopCountExceeded', 0), 'featureSet': FEATURES,
        })),
        ('urq_reason', ('unregistrationRequest', {
            'requestSeqNum': 11, 'callSignalAddress': [IP([10, 0, 0, 5], 1720)],
            'endpointIdentifier': 'EP0001', 'gatekeeperIdentifier': 'GK1',
            'reason': ('maintenance', 0), 'genericData': GENERIC,
        })),
        ('irr_call', ('infoRequestResponse', {
            'requestSeqNum': 12, 'endpointType': {'terminal': {}, 'mc': False, 'undefinedNode': False},
            'endpointIdentifier': 'EP0001', 'rasAddress': IP([10, 0, 0, 5], 1719),
            'callSignalAddress': [IP([10, 0, 0, 5], 1720)],
            'perCallInfo': [{
                'callReferenceValue': 77, 'conferenceID': CID, 'originator': True,
                'audio': [{'rtpAddress': {'recvAddress': IP([10, 0, 0, 5], 5004)},
                           'rtcpAddress': {'recvAddress': IP([10, 0, 0, 5], 5005)},
                           'cname': 'room 10.0.0.5', 'ssrc': 12345, 'sessionId': 1,
                           'associatedSessionIds': [2]}],
                'data': [{'sendAddress': IP([1, 2, 3, 4], 5)}],
                'h245': {}, 'callSignalling': {'sendAddress': IP([10, 0, 0, 5], 1720)},
                'callType': ('pointToPoint', 0), 'bandWidth': 640, 'callModel': ('direct', 0),
                'callIdentifier': {'guid': GUID}, 'substituteConfIDs': [],
            }],
            'needResponse': True, 'irrStatus': ('complete', 0), 'unsolicited': False,
        })),
        ('rip', ('requestInProgress', {'requestSeqNum': 13, 'delay': 5000})),
        ('rai_unknown', ('resourcesAvailableIndicate', {
            'requestSeqNum': 14, 'protocolIdentifier': V4, 'endpointIdentifier': 'EP0001',
            'protocols': [('voice', {})], 'almostOutOfResources': False,
        })),
    ]
    for label, val in vs:
        RAS.set_val(val)
        hx = repair(RAS.to_aper(), val)
        if hx is None:
            raise SystemExit('vector %s does not survive a pycrate round trip' % label)
        print(json.dumps({'label': label, 'hex': hx}), flush=True)


def reads_back(buf, val, T=RAS):
    try:
        T.from_aper(buf)
        return T.get_val() == val
    except Exception:
        return False


def repair(buf, val, T=RAS):
    """pycrate 0.8.1's aligned-PER encoder sometimes writes a spurious zero
    octet before the open types of extension additions, and then cannot
    decode its own output (its decoder agrees with X.691 and with tshark).
    Drop such octets (at most two) until pycrate's decoder reads the value
    back; the result is what a correct encoder produces."""
    if reads_back(buf, val, T):
        return buf.hex()
    zeros = [i for i, b in enumerate(buf) if b == 0]
    for i in zeros:
        one = buf[:i] + buf[i + 1:]
        if reads_back(one, val, T):
            return one.hex()
    for i in zeros:
        for j in zeros:
            if j > i:
                two = buf[:i] + buf[i + 1:j] + buf[j + 1:]
                if reads_back(two, val, T):
                    return two.hex()
    return None


def emit(T, vs):
    for label, val in vs:
        T.set_val(val)
        hx = repair(T.to_aper(), val, T)
        if hx is None:
            raise SystemExit('vector %s does not survive a pycrate round trip' % label)
        print(json.dumps({'label': label, 'hex': hx}), flush=True)


if __name__ == '__main__':
    mode = sys.argv[1]
    if mode == 'check':
        check()
    elif mode == 'vectors':
        vectors()
    elif mode in ('uu-check', 'h245-check'):
        check(codec(mode))
    elif mode == 'uu-vectors':
        import uu_vectors
        emit(UU, uu_vectors.VECTORS)
    elif mode == 'h245-vectors':
        import h245_vectors
        emit(h245(), h245_vectors.VECTORS)
    else:
        raise SystemExit('unknown mode ' + mode)

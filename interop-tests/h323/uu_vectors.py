"""H323-UserInformation values pycrate encodes for the gateway's decoder:
extension additions the gateway does not model, older versions that lack
later fields, and body alternatives it reports as unknown."""

V4 = (0, 0, 8, 2250, 0, 4)
V2 = (0, 0, 8, 2250, 0, 2)
V7 = (0, 0, 8, 2250, 0, 7)
IP = lambda a, p: ('ipAddress', {'ip': bytes(a), 'port': p})
GUID = bytes(range(16))
CID = bytes(range(16, 32))
VENDOR = {'vendor': {'t35CountryCode': 181, 't35Extension': 0, 'manufacturerCode': 9009},
          'productId': b'HDX 8000 HD', 'versionId': b'Release 3.1.14'}
EP = {'vendor': VENDOR, 'terminal': {}, 'mc': False, 'undefinedNode': False}
CLEAR_TOKEN = {'tokenOID': (0, 0, 8, 235, 0, 2, 1), 'timeStamp': 1700000000}
FEATURES = {'replacementFeatureSet': False, 'supportedFeatures': [{'id': ('standard', 2)}]}
GENERIC = [{'id': ('standard', 7), 'parameters': [{'id': ('standard', 1), 'content': ('number32', 99)}]}]
OLC = bytes.fromhex('00000c6001000080110000010000')


def pdu(body, **kw):
    p = {'h323-message-body': body}
    p.update(kw)
    return {'h323-uu-pdu': p}


VECTORS = [
    # a Polycom-like v7 Setup: tokens, language, features, displayName and
    # more additions around the ones we model; callLinkage and genericData
    # in the UU-PDU.
    ('setup_v7', pdu(('setup', {
        'protocolIdentifier': V7,
        'sourceAddress': [('h323-ID', 'Room 2001'), ('dialledDigits', '2001')],
        'sourceInfo': EP,
        'destinationAddress': [('dialledDigits', '1001')],
        'destCallSignalAddress': IP([10, 0, 0, 1], 1720),
        'destExtraCRV': [5, 6],
        'activeMC': False, 'conferenceID': CID, 'conferenceGoal': ('create', 0),
        'callServices': {'q932Full': True, 'q951Full': False, 'q952Full': False, 'q953Full': False,
                         'q955Full': False, 'q956Full': False, 'q957Full': False,
                         'q954Info': {'conferenceCalling': False, 'threePartyService': False}},
        'callType': ('pointToPoint', 0),
        'sourceCallSignalAddress': IP([10, 0, 0, 5], 1720),
        'callIdentifier': {'guid': GUID},
        'tokens': [CLEAR_TOKEN],
        'fastStart': [OLC, OLC],
        'mediaWaitForConnect': False, 'canOverlapSend': False,
        'endpointIdentifier': 'EP0001', 'multipleCalls': False, 'maintainConnection': False,
        'language': ['en'],
        'symmetricOperationRequired': 0,
        'supportedFeatures': [{'id': ('standard', 9)}],
        'hopCount': 31,
        'displayName': [{'language': 'en', 'name': 'Room 2001'}],
    }), h245Tunnelling=True, callLinkage={'globalCallId': GUID},
        genericData=GENERIC, h4501SupplementaryService=[b'\x01\x02'])),
    # H.225.0 v2 Setup: no callIdentifier, fastStart or later additions.
    ('setup_v2', pdu(('setup', {
        'protocolIdentifier': V2, 'sourceInfo': {'terminal': {}, 'mc': False, 'undefinedNode': False},
        'activeMC': False, 'conferenceID': CID, 'conferenceGoal': ('invite', 0),
        'callType': ('oneToN', 0),
    }))),
    ('call_proceeding_refused', pdu(('callProceeding', {
        'protocolIdentifier': V4, 'destinationInfo': EP, 'callIdentifier': {'guid': GUID},
        'multipleCalls': False, 'maintainConnection': False, 'fastConnectRefused': 0,
        'featureSet': FEATURES,
    }), h245Tunnelling=False)),
    ('alerting_v7', pdu(('alerting', {
        'protocolIdentifier': V7, 'destinationInfo': EP, 'h245Address': IP([10, 0, 0, 9], 40000),
        'callIdentifier': {'guid': GUID}, 'fastStart': [OLC],
        'multipleCalls': False, 'maintainConnection': False,
        'alertingAddress': [('dialledDigits', '1001')],
        'presentationIndicator': ('presentationAllowed', 0),
        'screeningIndicator': 'userProvidedVerifiedAndPassed',
        'displayName': [{'name': 'Phone'}],
    }), h245Tunnelling=True)),
    ('connect_v7', pdu(('connect', {
        'protocolIdentifier': V7, 'h245Address': IP([10, 0, 0, 9], 40001), 'destinationInfo': EP,
        'conferenceID': CID, 'callIdentifier': {'guid': GUID}, 'fastStart': [OLC, OLC],
        'multipleCalls': False, 'maintainConnection': True, 'language': ['de', 'en'],
        'connectedAddress': [('h323-ID', 'x')], 'featureSet': FEATURES,
    }), h245Tunnelling=True, h245Control=[b'\x02\x70\x01\x06\x00\x08\x81\x75\x00\x0d'])),
    ('release_generic', pdu(('releaseComplete', {
        'protocolIdentifier': V4, 'reason': ('genericDataReason', 0), 'callIdentifier': {'guid': GUID},
        'busyAddress': [('dialledDigits', '1001')],
        'destinationInfo': EP, 'displayName': [{'name': 'busy'}],
    }))),
    ('release_no_reason_v2', pdu(('releaseComplete', {'protocolIdentifier': V2}))),
    ('release_nonstandard', pdu(('releaseComplete', {
        'protocolIdentifier': V4,
        'reason': ('nonStandardReason', {'nonStandardIdentifier': ('object', (1, 2, 3)), 'data': b'\x01'}),
    }))),
    ('facility_forwarded', pdu(('facility', {
        'protocolIdentifier': V4, 'alternativeAddress': IP([10, 0, 0, 7], 1720),
        'alternativeAliasAddress': [('dialledDigits', '3001')], 'reason': ('callForwarded', 0),
        'callIdentifier': {'guid': GUID}, 'destExtraCallInfo': [('h323-ID', 'y')],
        'h245Address': IP([10, 0, 0, 7], 40002), 'multipleCalls': False, 'maintainConnection': False,
        'featureSet': FEATURES,
    }))),
    ('facility_transported', pdu(('facility', {
        'protocolIdentifier': V4, 'reason': ('transportedInformation', 0),
        'callIdentifier': {'guid': GUID},
    }), h245Tunnelling=True)),
    ('progress', pdu(('progress', {
        'protocolIdentifier': V4, 'destinationInfo': EP, 'callIdentifier': {'guid': GUID},
        'fastStart': [OLC], 'multipleCalls': False, 'maintainConnection': False,
        'fastConnectRefused': 0,
    }))),
    # Status with H.235 tokens: reported as an unknown body, not an error.
    ('status_tokens', pdu(('status', {
        'protocolIdentifier': V4, 'callIdentifier': {'guid': GUID}, 'tokens': [CLEAR_TOKEN],
    }))),
    ('information', pdu(('information', {
        'protocolIdentifier': V4, 'callIdentifier': {'guid': GUID}, 'fastConnectRefused': 0,
    }))),
    ('notify', pdu(('notify', {
        'protocolIdentifier': V4, 'callIdentifier': {'guid': GUID},
        'displayName': [{'name': 'n'}],
    }))),
    ('empty_tunnel', pdu(('empty', 0), h245Tunnelling=True,
                          h245Control=[b'\x02\x70\x01\x06\x00\x08\x81\x75\x00\x0d'],
                          provisionalRespToH245Tunnelling=0)),
]

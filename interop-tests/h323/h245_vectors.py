"""MultimediaSystemControlMessage values pycrate encodes for the gateway's
decoder: capabilities and additions it does not model (h2250Capability,
T.120/H.224 data, generic control capabilities, H.263
options, separateStack), and messages it reports as unknown."""

V7 = (0, 0, 8, 245, 0, 7)
IP = lambda a, p: ('unicastAddress', ('iPAddress', {'network': bytes(a), 'tsapIdentifier': p}))
H264 = {'capabilityIdentifier': ('standard', (0, 0, 8, 241, 0, 0, 1)), 'maxBitRate': 19200,
        'collapsing': [{'parameterIdentifier': ('standard', 41), 'parameterValue': ('booleanArray', 64)},
                       {'parameterIdentifier': ('standard', 42), 'parameterValue': ('unsignedMin', 71)},
                       {'parameterIdentifier': ('standard', 3), 'parameterValue': ('unsignedMin', 245)}]}
H2250CAP = {'maximumAudioDelayJitter': 60,
            'receiveMultipointCapability': {'multicastCapability': False, 'multiUniCastConference': False,
                                            'mediaDistributionCapability': [{'centralizedControl': False, 'distributedControl': False,
                                                                             'centralizedAudio': False, 'distributedAudio': False,
                                                                             'centralizedVideo': False, 'distributedVideo': False}]},
            'transmitMultipointCapability': {'multicastCapability': False, 'multiUniCastConference': False,
                                             'mediaDistributionCapability': [{'centralizedControl': False, 'distributedControl': False,
                                                                              'centralizedAudio': False, 'distributedAudio': False,
                                                                              'centralizedVideo': False, 'distributedVideo': False}]},
            'receiveAndTransmitMultipointCapability': {'multicastCapability': False, 'multiUniCastConference': False,
                                                       'mediaDistributionCapability': [{'centralizedControl': False, 'distributedControl': False,
                                                                                        'centralizedAudio': False, 'distributedAudio': False,
                                                                                        'centralizedVideo': False, 'distributedVideo': False}]},
            'mcCapability': {'centralizedConferenceMC': False, 'decentralizedConferenceMC': False},
            'rtcpVideoControlCapability': True,
            'mediaPacketizationCapability': {'h261aVideoPacketization': False},
            'logicalChannelSwitchingCapability': False, 't120DynamicPortCapability': False}
H263 = {'sqcifMPI': 1, 'qcifMPI': 1, 'cifMPI': 1, 'maxBitRate': 19200, 'unrestrictedVector': False,
        'arithmeticCoding': False, 'advancedPrediction': True, 'pbFrames': False,
        'temporalSpatialTradeOffCapability': False, 'errorCompensation': False,
        'h263Options': {'advancedIntraCodingMode': True, 'deblockingFilterMode': True, 'improvedPBFramesMode': False,
                        'unlimitedMotionVectors': False, 'fullPictureFreeze': False, 'partialPictureFreezeAndRelease': False,
                        'resizingPartPicFreezeAndRelease': False, 'fullPictureSnapshot': False, 'partialPictureSnapshot': False,
                        'videoSegmentTagging': False, 'progressiveRefinement': False, 'dynamicPictureResizingByFour': False,
                        'dynamicPictureResizingSixteenthPel': False, 'dynamicWarpingHalfPel': False,
                        'dynamicWarpingSixteenthPel': False, 'independentSegmentDecoding': False,
                        'slicesInOrder-NonRect': False, 'slicesInOrder-Rect': False, 'slicesNoOrder-NonRect': False,
                        'slicesNoOrder-Rect': False, 'alternateInterVLCMode': False, 'modifiedQuantizationMode': True,
                        'reducedResolutionUpdate': False, 'separateVideoBackChannel': False}}
DPC_T120 = ('t120', ('separateLANStack', 0))
H224 = ('h224', ('hdlcFrameTunnelling', 0))


def entry(n, cap):
    return {'capabilityTableEntryNumber': n, 'capability': cap}


VECTORS = [
    # a Polycom-like TCS: h2250Capability, G.722.1 generic audio, H.263 with
    # options, H.264, T.120 and H.224 data, conference capability and
    # generic control capability, user input, a table entry without capability.
    ('tcs_full', ('request', ('terminalCapabilitySet', {
        'sequenceNumber': 1, 'protocolIdentifier': V7,
        'multiplexCapability': ('h2250Capability', H2250CAP),
        'capabilityTable': [
            entry(1, ('receiveAudioCapability', ('g711Ulaw64k', 60))),
            entry(2, ('receiveAudioCapability', ('g722-64k', 60))),
            entry(3, ('receiveAudioCapability', ('genericAudioCapability', {
                'capabilityIdentifier': ('standard', (0, 0, 7, 7221, 1, 0)), 'maxBitRate': 320,
                'collapsing': [{'parameterIdentifier': ('standard', 1), 'parameterValue': ('unsignedMin', 16)}]}))),
            entry(4, ('receiveAudioCapability', ('g7231', {'maxAl-sduAudioFrames': 1, 'silenceSuppression': False}))),
            entry(5, ('receiveVideoCapability', ('h263VideoCapability', H263))),
            entry(6, ('receiveVideoCapability', ('genericVideoCapability', H264))),
            entry(7, ('receiveAndTransmitDataApplicationCapability', {'application': DPC_T120, 'maxBitRate': 640})),
            entry(8, ('receiveAndTransmitDataApplicationCapability', {'application': H224, 'maxBitRate': 48})),
            entry(9, ('maxPendingReplacementFor', 3)),
            entry(10, ('genericControlCapability', {'capabilityIdentifier': ('standard', (0, 0, 8, 239, 1, 1))})),
            entry(11, ('receiveAndTransmitUserInputCapability', ('dtmf', 0))),
            entry(12, ('receiveRTPAudioTelephonyEventCapability', {'dynamicRTPPayloadType': 101, 'audioTelephoneEvent': '0-16'})),
            {'capabilityTableEntryNumber': 13},
            entry(14, ('receiveVideoCapability', ('h261VideoCapability', {
                'qcifMPI': 1, 'cifMPI': 1, 'temporalSpatialTradeOffCapability': False, 'maxBitRate': 19200,
                'stillImageTransmission': False, 'videoBadMBsCap': False}))),
        ],
        'capabilityDescriptors': [{'capabilityDescriptorNumber': 0,
                                   'simultaneousCapabilities': [[1, 2, 3, 4], [5, 6, 14], [7], [8], [9, 10], [11, 12]]}],
        'genericInformation': [],
    }))),
    ('olc_fast_start_like', ('request', ('openLogicalChannel', {
        'forwardLogicalChannelNumber': 101,
        'forwardLogicalChannelParameters': {
            'dataType': ('audioData', ('g711Alaw64k', 20)),
            'multiplexParameters': ('h2250LogicalChannelParameters', {
                'sessionID': 1, 'mediaControlChannel': IP([10, 0, 0, 5], 5005),
                'silenceSuppression': False,
                'mediaPacketization': ('rtpPayloadType', {'payloadDescriptor': ('rfc-number', 3551), 'payloadType': 8}),
                'source': {'mcuNumber': 0, 'terminalNumber': 1}}),
            'replacementFor': 3,
        },
        'reverseLogicalChannelParameters': {
            'dataType': ('audioData', ('g711Alaw64k', 20)),
            'multiplexParameters': ('h2250LogicalChannelParameters', {
                'sessionID': 1, 'mediaChannel': IP([10, 0, 0, 5], 5004),
                'mediaControlChannel': IP([10, 0, 0, 5], 5005)}),
        },
        'genericInformation': [],
    }))),
    ('olc_ack_full', ('response', ('openLogicalChannelAck', {
        'forwardLogicalChannelNumber': 101,
        'forwardMultiplexAckParameters': ('h2250LogicalChannelAckParameters', {
            'sessionID': 1, 'mediaChannel': IP([10, 0, 0, 9], 6000),
            'mediaControlChannel': IP([10, 0, 0, 9], 6001), 'dynamicRTPPayloadType': 96,
            'flowControlToZero': True, 'portNumber': 6000}),
        'genericInformation': [],
    }))),
    ('olc_reject_ext', ('response', ('openLogicalChannelReject', {
        'forwardLogicalChannelNumber': 5, 'cause': ('insufficientBandwidth', 0)}))),
    ('clc_ext_reason', ('request', ('closeLogicalChannel', {
        'forwardLogicalChannelNumber': 5, 'source': ('lcse', 0), 'reason': ('reopen', 0)}))),
    ('uii_signal_rtp', ('indication', ('userInput', ('signal', {
        'signalType': '7', 'duration': 100,
        'rtp': {'timestamp': 8000, 'logicalChannelNumber': 101},
        'rtpPayloadIndication': 0})))),
    ('uii_support', ('indication', ('userInput', ('userInputSupportIndication', ('iA5String', 0))))),
    ('vfu', ('command', ('miscellaneousCommand', {
        'logicalChannelNumber': 2, 'type': ('videoFastUpdatePicture', 0),
        'direction': ('masterToSlave', 0)}))),
    ('lost_picture', ('command', ('miscellaneousCommand', {
        'logicalChannelNumber': 2, 'type': ('lostPicture', [('pictureNumber', 3)])}))),
    ('flow_none', ('command', ('flowControlCommand', {'scope': ('wholeMultiplex', 0), 'restriction': ('noRestriction', 0)}))),
    ('end_session_gen', ('command', ('endSessionCommand', ('genericInformation', [])))),
    # root alternatives we do not model: the whole PDU is reported.
    ('request_mode', ('request', ('requestMode', {'sequenceNumber': 3, 'requestedModes': [[{'type': ('audioMode', ('g711Alaw64k', 0))}]]}))),
    ('vendor_id', ('indication', ('vendorIdentification', {
        'vendor': ('h221NonStandard', {'t35CountryCode': 181, 't35Extension': 0, 'manufacturerCode': 1}),
        'productNumber': b'HDX', 'versionNumber': b'3.1'}))),
    ('generic_request', ('request', ('genericRequest', {'messageIdentifier': ('standard', (0, 0, 8, 239, 2)), 'subMessageIdentifier': 1}))),
]

use super::*;

fn nested(depth: u32) -> GenericParameter {
    let mut p = GenericParameter::standard(1, ParameterValue::Logical);
    for _ in 0..depth {
        p = GenericParameter::standard(1, ParameterValue::GenericParameter(vec![p]));
    }
    p
}

fn video_cap(p: GenericParameter) -> Vec<u8> {
    let mut g = GenericCapability::h264(64, 71, 19200);
    g.collapsing = Some(vec![p]);
    let tcs = TerminalCapabilitySet {
        sequence_number: 1,
        protocol_identifier: H245_PROTOCOL_V7.to_vec(),
        multiplex_capability: None,
        capability_table: Some(vec![CapabilityTableEntry {
            number: 1,
            capability: Some(Capability::Video(
                Direction::Receive,
                VideoCapability::Generic(g),
            )),
        }]),
        capability_descriptors: None,
    };
    H245Message::TerminalCapabilitySet(tcs).encode().unwrap()
}

#[test]
fn nested_generic_parameters_are_depth_bounded() {
    let ok = video_cap(nested(MAX_GENERIC_DEPTH));
    assert!(H245Message::decode(&ok).is_ok());
    let deep = video_cap(nested(MAX_GENERIC_DEPTH + 1));
    let err = H245Message::decode(&deep).unwrap_err();
    assert_eq!(
        err.kind,
        PerErrorKind::Invalid("generic parameters nested too deep")
    );
    assert!(err.path.contains("capabilityTable[0].capability"), "{err}");
}

#[test]
fn unknown_root_request_is_reported_whole() {
    // request / multiplexEntrySend (root 6): not modelled, kept verbatim
    let raw = vec![0x06, 0x01, 0x02];
    let m = H245Message::decode(&raw).unwrap();
    assert_eq!(
        m,
        H245Message::Other {
            category: Category::Request,
            index: Index::Root(6),
            raw: raw.clone()
        }
    );
    assert_eq!(m.encode().unwrap(), raw);
}

use super::*;

fn enc(f: impl FnOnce(&mut Encoder) -> Result<()>) -> Vec<u8> {
    let mut e = Encoder::new();
    f(&mut e).unwrap();
    e.finish()
}

#[test]
fn constrained_whole_number_all_range_cases() {
    // range 1: nothing at all
    assert_eq!(enc(|e| e.constrained(5, 5, 5)), vec![0]);
    // range <= 255: minimal bit-field, not aligned
    assert_eq!(enc(|e| e.constrained(3, 0, 7)), vec![0x60]);
    assert_eq!(
        enc(|e| {
            e.bool(true);
            e.constrained(2, 1, 4)
        }),
        vec![0xA0]
    );
    // range 256: one aligned octet
    assert_eq!(
        enc(|e| {
            e.bool(true);
            e.constrained(255, 0, 255)
        }),
        vec![0x80, 0xFF]
    );
    // range 257..64K: two aligned octets
    assert_eq!(enc(|e| e.constrained(256, 0, 65535)), vec![0x01, 0x00]);
    assert_eq!(enc(|e| e.constrained(2, 1, 65535)), vec![0x00, 0x01]);
    // range > 64K: 2-bit octet count (1..4), aligned value octets
    assert_eq!(enc(|e| e.constrained(0, 0, 4294967295)), vec![0x00, 0x00]);
    assert_eq!(
        enc(|e| e.constrained(640, 0, 4294967295)),
        vec![0x40, 0x02, 0x80]
    );
    assert_eq!(
        enc(|e| e.constrained(4294967295, 0, 4294967295)),
        vec![0xC0, 0xFF, 0xFF, 0xFF, 0xFF]
    );
    // and every one of them decodes back
    for (v, lb, ub) in [
        (5i64, 5i64, 5i64),
        (3, 0, 7),
        (255, 0, 255),
        (256, 0, 65535),
        (640, 0, 4294967295),
        (4294967295, 0, 4294967295),
        (-3, -5, 1000),
        (70000, 1, 100000),
    ] {
        let b = enc(|e| e.constrained(v, lb, ub));
        assert_eq!(
            Decoder::new(&b).constrained(lb, ub).unwrap(),
            v,
            "{v} {lb}..{ub}"
        );
    }
}

#[test]
fn constrained_refuses_out_of_range() {
    let mut e = Encoder::new();
    assert!(matches!(
        e.constrained(8, 0, 7).unwrap_err().kind,
        PerErrorKind::OutOfRange { value: 8, .. }
    ));
    // 0..5 in 3 bits: 7 does not exist
    let err = Decoder::new(&[0xE0]).constrained(0, 5).unwrap_err();
    assert!(matches!(
        err.kind,
        PerErrorKind::OutOfRange { value: 7, .. }
    ));
    // octet count 4 for a 3-octet range
    let err = Decoder::new(&[0xC0, 1, 2, 3, 4])
        .constrained(0, 0xFF_FFFF)
        .unwrap_err();
    assert!(matches!(err.kind, PerErrorKind::TooLong { len: 4, max: 3 }));
}

#[test]
fn semi_and_unconstrained_integers() {
    assert_eq!(enc(|e| e.semi_constrained(128, 0)), vec![0x01, 0x80]);
    assert_eq!(enc(|e| e.semi_constrained(5, 5)), vec![0x01, 0x00]);
    assert_eq!(enc(|e| e.unconstrained_int(-1)), vec![0x01, 0xFF]);
    assert_eq!(enc(|e| e.unconstrained_int(128)), vec![0x02, 0x00, 0x80]);
    assert_eq!(enc(|e| e.unconstrained_int(-129)), vec![0x02, 0xFF, 0x7F]);
    for v in [0i64, 1, -1, 127, 128, -128, -129, 65536, i64::MAX, i64::MIN] {
        let b = enc(|e| e.unconstrained_int(v));
        assert_eq!(Decoder::new(&b).unconstrained_int().unwrap(), v);
    }
    // 9 octets cannot be held
    let err = Decoder::new(&[9, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        .unconstrained_int()
        .unwrap_err();
    assert_eq!(err.kind, PerErrorKind::IntegerTooLarge);
    // extensible INTEGER(0..16383, ...)
    assert_eq!(
        enc(|e| e.constrained_ext(5, 0, 16383)),
        vec![0x00, 0x00, 0x05]
    );
    let b = enc(|e| e.constrained_ext(20000, 0, 16383));
    assert_eq!(b, vec![0x80, 0x02, 0x4E, 0x20]);
    assert_eq!(Decoder::new(&b).constrained_ext(0, 16383).unwrap(), 20000);
}

#[test]
fn normally_small_numbers() {
    assert_eq!(enc(|e| e.normally_small(5)), vec![0x0A]);
    assert_eq!(enc(|e| e.normally_small(64)), vec![0x80, 0x01, 0x40]);
    for v in [0u64, 63, 64, 1000] {
        let b = enc(|e| e.normally_small(v));
        assert_eq!(Decoder::new(&b).normally_small().unwrap(), v);
    }
}

#[test]
fn length_determinants() {
    // unconstrained: one octet, two octets, fragmentation refused
    assert_eq!(enc(|e| e.length(5, Size::unbounded())), vec![0x05]);
    assert_eq!(enc(|e| e.length(130, Size::unbounded())), vec![0x80, 0x82]);
    assert_eq!(
        Decoder::new(&[0x81, 0x02])
            .length(Size::unbounded())
            .unwrap(),
        258
    );
    let mut e = Encoder::new();
    assert_eq!(
        e.length(16384, Size::unbounded()).unwrap_err().kind,
        PerErrorKind::Fragmented
    );
    assert_eq!(
        Decoder::new(&[0xC1, 0, 0])
            .length(Size::unbounded())
            .unwrap_err()
            .kind,
        PerErrorKind::Fragmented
    );
    // constrained below 64K: a constrained whole number
    assert_eq!(enc(|e| e.length(3, Size::range(1, 128))), vec![0x04]);
    assert_eq!(
        enc(|e| e.length(300, Size::range(0, 1000))),
        vec![0x01, 0x2C]
    );
    // the bound is checked on decode
    let err = Decoder::new(&[0xFF])
        .length(Size::range(1, 200))
        .unwrap_err();
    assert_eq!(err.kind, PerErrorKind::TooLong { len: 256, max: 200 });
    // ub of 64K or more: unconstrained form, bound still checked
    let err = Decoder::new(&[0x00])
        .length(Size::range(1, 70000))
        .unwrap_err();
    assert_eq!(err.kind, PerErrorKind::TooShort { len: 0, min: 1 });
    let err = Decoder::new(&[0x00]).length(Size::at_least(1)).unwrap_err();
    assert_eq!(err.kind, PerErrorKind::TooShort { len: 0, min: 1 });
}

#[test]
fn boolean_enumerated_and_choice() {
    assert_eq!(
        enc(|e| {
            e.bool(true);
            e.bool(false);
            e.bool(true);
            Ok(())
        }),
        vec![0xA0]
    );
    // ENUMERATED { a, b, c, d, ... } value c: ext bit 0, 2 bits 10
    assert_eq!(enc(|e| e.enumerated(Index::Root(2), 4, true)), vec![0x40]);
    // first extension value: ext bit 1, normally small 0
    let b = enc(|e| e.enumerated(Index::Ext(0), 4, true));
    assert_eq!(b, vec![0x80]);
    assert_eq!(Decoder::new(&b).enumerated(4, true).unwrap(), Index::Ext(0));
    // a single-alternative non-extensible CHOICE takes no bits
    assert_eq!(
        enc(|e| e.choice_index(Index::Root(0), 1, false)),
        vec![0x00]
    );
    // index 5 of 5 root alternatives does not exist
    let err = Decoder::new(&[0xA0]).choice_index(5, false).unwrap_err();
    assert_eq!(err.kind, PerErrorKind::BadChoice(5));
}

#[test]
fn octet_and_bit_strings() {
    // fixed size 2: not aligned
    assert_eq!(
        enc(|e| {
            e.bool(true);
            e.octet_string(&[0xAB, 0xCD], Size::fixed(2))
        }),
        vec![0xD5, 0xE6, 0x80]
    );
    // fixed size 4: aligned
    assert_eq!(
        enc(|e| {
            e.bool(true);
            e.octet_string(&[1, 2, 3, 4], Size::fixed(4))
        }),
        vec![0x80, 1, 2, 3, 4]
    );
    // variable size: length then aligned octets
    let b = enc(|e| {
        e.bool(true);
        e.octet_string(&[9, 8, 7], Size::range(1, 256))
    });
    assert_eq!(b, vec![0x80, 0x02, 9, 8, 7]);
    let mut d = Decoder::new(&b);
    assert!(d.bool().unwrap());
    assert_eq!(d.octet_string(Size::range(1, 256)).unwrap(), vec![9, 8, 7]);
    // BIT STRING (SIZE (32)): aligned, 4 octets
    let b = enc(|e| {
        e.bool(false);
        e.bit_string(&[0xDE, 0xAD, 0xBE, 0xEF], 32, Size::fixed(32))
    });
    assert_eq!(b, vec![0x00, 0xDE, 0xAD, 0xBE, 0xEF]);
    // BIT STRING (SIZE (3)): 3 bits in place
    let b = enc(|e| e.bit_string(&[0xA0], 3, Size::fixed(3)));
    assert_eq!(b, vec![0xA0]);
    assert_eq!(
        Decoder::new(&b).bit_string(Size::fixed(3)).unwrap(),
        (vec![0xA0], 3)
    );
    // truncated content
    let err = Decoder::new(&[0x05, 1, 2])
        .octet_string(Size::unbounded())
        .unwrap_err();
    assert!(matches!(err.kind, PerErrorKind::Truncated { .. }));
}

#[test]
fn character_strings() {
    // dialedDigits "1234": length 1..128 in 7 bits, aligned 4-bit indices
    let b = enc(|e| {
        e.bool(false);
        e.bool(false);
        e.char_string("1234", DIALED_DIGITS, Size::range(1, 128))
    });
    assert_eq!(b, vec![0x01, 0x80, 0x45, 0x67]);
    let mut d = Decoder::new(&b);
    d.read_bits(2).unwrap();
    assert_eq!(
        d.char_string(DIALED_DIGITS, Size::range(1, 128)).unwrap(),
        "1234"
    );
    // '#', '*' and ',' map to 0, 1, 2
    let b = enc(|e| e.char_string("#*,0", DIALED_DIGITS, Size::range(1, 128)));
    assert_eq!(b, vec![0x06, 0x01, 0x23]);
    // a letter is not a dialed digit
    let mut e = Encoder::new();
    assert_eq!(
        e.char_string("12a", DIALED_DIGITS, Size::range(1, 128))
            .unwrap_err()
            .kind,
        PerErrorKind::BadChar('a' as u32)
    );
    // index 13 does not exist in a 13-character alphabet
    let err = Decoder::new(&[0x00, 0xD0])
        .char_string(DIALED_DIGITS, Size::range(1, 128))
        .unwrap_err();
    assert_eq!(err.kind, PerErrorKind::BadChar(13));
    // BMPString (SIZE (1..256)): one aligned length octet, 16-bit units
    let b = enc(|e| {
        e.bool(false);
        e.bool(true);
        e.char_string("ab", Alphabet::Bmp, Size::range(1, 256))
    });
    assert_eq!(b, vec![0x40, 0x01, 0x00, 0x61, 0x00, 0x62]);
    // non-BMP characters travel as surrogate pairs and come back whole
    let b = enc(|e| e.char_string("x\u{1F600}", Alphabet::Bmp, Size::range(1, 128)));
    assert_eq!(b[0], 0x04);
    assert_eq!(
        Decoder::new(&b)
            .char_string(Alphabet::Bmp, Size::range(1, 128))
            .unwrap(),
        "x\u{1F600}"
    );
    // a lone surrogate is refused
    let err = Decoder::new(&[0x00, 0xD8, 0x00])
        .char_string(Alphabet::Bmp, Size::range(1, 128))
        .unwrap_err();
    assert_eq!(err.kind, PerErrorKind::BadChar(0xD800));
    // IA5String unconstrained: length octet, 8-bit characters
    let b = enc(|e| e.char_string("en", Alphabet::Ia5, Size::unbounded()));
    assert_eq!(b, vec![0x02, b'e', b'n']);
    // NumericString: space and digits remapped to 0..10, 4 bits each
    let b = enc(|e| e.char_string("1 9", Alphabet::Numeric, Size::fixed(3)));
    assert_eq!(b, vec![0x20, 0xA0]);
    assert_eq!(
        Decoder::new(&b)
            .char_string(Alphabet::Numeric, Size::fixed(3))
            .unwrap(),
        "1 9"
    );
    assert!(Alphabet::Printable.permits('A' as u32));
    assert!(!Alphabet::Printable.permits('@' as u32));
}

#[test]
fn object_identifiers() {
    // H.225.0 version 4 protocol identifier {0 0 8 2250 0 4}
    let b = enc(|e| e.object_identifier(&[0, 0, 8, 2250, 0, 4]));
    assert_eq!(b, vec![0x06, 0x00, 0x08, 0x91, 0x4A, 0x00, 0x04]);
    assert_eq!(
        Decoder::new(&b).object_identifier().unwrap(),
        vec![0, 0, 8, 2250, 0, 4]
    );
    assert_eq!(
        decode_oid_contents(&[0x2A, 0x86, 0x48]).unwrap(),
        vec![1, 2, 840]
    );
    assert!(decode_oid_contents(&[0x2A, 0x86]).is_err());
    assert!(decode_oid_contents(&[0x80, 0x01]).is_err());
    assert!(decode_oid_contents(&[0xFF; 12]).is_err());
}

#[test]
fn sequence_preamble_and_extension_additions() {
    // SEQUENCE { a BOOLEAN, b INTEGER(0..7) OPTIONAL, ..., c BOOLEAN, d BOOLEAN }
    // with b absent, c absent, d = TRUE
    let mut e = Encoder::new();
    let adds = vec![
        None,
        Some(
            e.sub(|s| {
                s.bool(true);
                Ok(())
            })
            .unwrap(),
        ),
    ];
    e.preamble(true, any_ext(&adds), &[false]);
    e.bool(true);
    e.extensions(&adds).unwrap();
    let b = e.finish();
    // 1 (ext) 0 (b absent) 1 (a) | 0 000001 (2 additions) 01 | align
    // | 01 (open type length) 80
    assert_eq!(b, vec![0xA0, 0x50, 0x01, 0x80]);

    let mut d = Decoder::new(&b);
    let pre = d.preamble(true, 1).unwrap();
    assert!(pre.extended);
    assert!(!pre.has(0));
    assert!(d.bool().unwrap());
    let bits = d.ext_bitmap(pre.extended).unwrap();
    assert_eq!(bits.present().collect::<Vec<_>>(), vec![1]);
    let v = d.open_type(|s| s.bool()).unwrap();
    assert!(v);
    assert_eq!(d.bytes_consumed(), 4);
}

#[test]
fn unknown_additions_are_skipped_through_their_length() {
    // preamble ext=1, then bitmap of 3 additions all present, each an
    // open type of arbitrary bytes the decoder does not understand
    let b = vec![
        0x82, 0xE0, 0x02, 0xFF, 0xFF, 0x01, 0x00, 0x03, 1, 2, 3, 0x77,
    ];
    let mut d = Decoder::new(&b);
    let pre = d.preamble(true, 0).unwrap();
    let bits = d.ext_bitmap(pre.extended).unwrap();
    assert_eq!(bits.len(), 3);
    d.skip_extensions(&bits).unwrap();
    assert_eq!(d.read_bits(8).unwrap(), 0x77);
}

#[test]
fn open_type_is_confined_to_its_length() {
    // an open type of 1 octet whose content tries to read 2 octets
    let b = vec![0x01, 0xAA, 0xBB];
    let mut d = Decoder::new(&b);
    let err = d.open_type(|s| s.read_bits(16)).unwrap_err();
    assert!(matches!(err.kind, PerErrorKind::Truncated { .. }));
}

#[test]
fn errors_name_the_field_path() {
    let b = [0x01, 0xC0];
    let mut d = Decoder::with_root(&b, "Msg");
    let err = d
        .field("items", |d| {
            d.sequence_of(Size::unbounded(), |d| {
                d.field("name", |d| d.octet_string(Size::range(1, 4)))
            })
        })
        .unwrap_err();
    assert_eq!(err.path, "Msg.items[0].name");
    assert!(err.to_string().starts_with("Msg.items[0].name: "));
}

#[test]
fn hostile_counts_do_not_allocate() {
    // SEQUENCE OF NULL with 16383 elements claimed in two octets: each
    // element is zero bits, the loop is bounded by the determinant.
    let b = [0xBF, 0xFF];
    let v = Decoder::new(&b)
        .sequence_of(Size::unbounded(), |_| Ok(()))
        .unwrap();
    assert_eq!(v.len(), 16383);
    // extension bitmap claiming 16383 bits with 1 octet left
    let b = [0xC0, 0xBF, 0xFF, 0x00];
    let mut d = Decoder::new(&b);
    let pre = d.preamble(true, 0).unwrap();
    let err = d.ext_bitmap(pre.extended).unwrap_err();
    assert!(matches!(err.kind, PerErrorKind::Truncated { .. }));
}

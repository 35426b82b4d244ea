//! Opus through the system libopus: round trips keep a tone, bad packets
//! are errors, concealment returns the requested length.

use codecs::{
    dominant_frequency, goertzel_power, Application, CodecError, OpusDecoder, OpusEncoder,
};

fn sine(freq: f32, rate: u32, n: usize, amp: f32) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            (amp * (2.0 * std::f32::consts::PI * freq * t).sin()) as i16
        })
        .collect()
}

/// Encodes `pcm` in 20 ms frames and returns the packets.
fn encode_all(enc: &mut OpusEncoder, pcm: &[i16]) -> Vec<Vec<u8>> {
    let frame = enc.sample_rate() as usize / 50 * usize::from(enc.channels());
    pcm.chunks_exact(frame)
        .map(|f| {
            let mut pkt = Vec::new();
            let n = enc.encode(f, &mut pkt).expect("encode");
            assert_eq!(n, pkt.len());
            assert!(n > 0);
            pkt
        })
        .collect()
}

fn round_trip(rate: u32, app: Application, bitrate: u32, freq: f32) {
    let mut enc = OpusEncoder::new(rate, 1, app, bitrate).unwrap();
    let mut dec = OpusDecoder::new(rate, 1).unwrap();
    let pcm = sine(freq, rate, rate as usize, 10000.0);
    let mut out = Vec::new();
    for pkt in encode_all(&mut enc, &pcm) {
        let n = dec.decode(&pkt, &mut out).unwrap();
        assert_eq!(n, rate as usize / 50);
    }
    assert_eq!(out.len(), pcm.len());
    // Skip the codec's start-up (lookahead and adaptation); 300 ms keep
    // the frequency scan cheap in debug builds.
    let tail = &out[rate as usize / 5..rate as usize / 2];
    let f = dominant_frequency(tail, rate);
    assert!(
        (f - freq).abs() < 10.0,
        "{rate} Hz: {freq} came back as {f}"
    );
    let peak = tail.iter().map(|&x| i32::from(x).abs()).max().unwrap();
    assert!(peak > 5000, "{rate} Hz: level lost, peak {peak}");
}

#[test]
fn tone_survives_48k_audio() {
    round_trip(48000, Application::Audio, 64000, 1000.0);
}

#[test]
fn tone_survives_16k_voip() {
    round_trip(16000, Application::Voip, 24000, 440.0);
}

#[test]
fn tone_survives_8k_voip() {
    round_trip(8000, Application::Voip, 16000, 697.0);
}

#[test]
fn stereo_48k_decodes_to_mono_16k_and_48k() {
    let mut enc = OpusEncoder::new(48000, 2, Application::Audio, 96000).unwrap();
    let mono = sine(700.0, 48000, 48000, 9000.0);
    let stereo: Vec<i16> = mono.iter().flat_map(|&s| [s, s]).collect();
    let packets = encode_all(&mut enc, &stereo);
    assert_eq!(packets.len(), 50);

    for (rate, frame) in [(16000u32, 320usize), (48000, 960)] {
        let mut dec = OpusDecoder::new(rate, 1).unwrap();
        assert_eq!(dec.packet_samples(&packets[0]).unwrap(), frame);
        let mut out = Vec::new();
        for pkt in &packets {
            assert_eq!(dec.decode(pkt, &mut out).unwrap(), frame);
        }
        assert_eq!(out.len(), frame * 50);
        let f = dominant_frequency(&out[frame * 10..frame * 25], rate);
        assert!((f - 700.0).abs() < 10.0, "mono {rate}: got {f}");
    }

    let mut dec = OpusDecoder::new(48000, 2).unwrap();
    let mut out = Vec::new();
    assert_eq!(dec.decode(&packets[0], &mut out).unwrap(), 960);
    assert_eq!(out.len(), 1920, "stereo output is interleaved");
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let mut dec = OpusDecoder::new(48000, 1).unwrap();
    let mut out = Vec::new();

    assert_eq!(dec.decode(&[], &mut out), Err(CodecError::EmptyPacket));
    // Code 3 (arbitrary frame count) without its frame-count byte.
    assert_eq!(
        dec.decode(&[0x03], &mut out),
        Err(CodecError::InvalidPacket)
    );
    // Code 3 claiming 63 frames of 20 ms: far more than 120 ms.
    assert_eq!(
        dec.decode(&[0x1b, 0x3f, 0, 0, 0], &mut out),
        Err(CodecError::InvalidPacket)
    );
    // Code 2 (two frames of different sizes) whose first length runs past
    // the end of the packet.
    assert!(dec.decode(&[0x02, 250, 1, 2, 3], &mut out).is_err());
    assert!(matches!(
        dec.decode(&vec![0u8; 70_000], &mut out),
        Err(CodecError::PacketTooLarge(70_000))
    ));
    assert!(out.is_empty(), "failed decodes must not append samples");

    // Deterministic noise of every length up to 400 bytes: whatever the
    // outcome, no panic, and any success is a sane length.
    let mut x: u32 = 0x1234_5678;
    let mut errors = 0;
    for len in 1..400usize {
        let pkt: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        out.clear();
        match dec.decode(&pkt, &mut out) {
            Ok(n) => {
                assert!(n <= 5760);
                assert_eq!(out.len(), n);
            }
            Err(_) => errors += 1,
        }
    }
    assert!(errors > 0, "random bytes should not all parse");

    // The decoder is still usable for real packets.
    let mut enc = OpusEncoder::new(48000, 1, Application::Voip, 32000).unwrap();
    let mut pkt = Vec::new();
    enc.encode(&sine(500.0, 48000, 960, 5000.0), &mut pkt)
        .unwrap();
    out.clear();
    assert_eq!(dec.decode(&pkt, &mut out).unwrap(), 960);
}

#[test]
fn concealment_returns_requested_length() {
    let rate = 16000;
    let mut enc = OpusEncoder::new(rate, 1, Application::Voip, 24000).unwrap();
    enc.set_fec(true).unwrap();
    enc.set_packet_loss_percent(20).unwrap();
    let pcm = sine(440.0, rate, rate as usize, 10000.0);
    let packets = encode_all(&mut enc, &pcm);

    let mut dec = OpusDecoder::new(rate, 1).unwrap();
    let mut out = Vec::new();
    for pkt in &packets[..20] {
        dec.decode(pkt, &mut out).unwrap();
    }
    // Packet 20 lost: conceal it from packet 21's FEC, then decode 21.
    let before = out.len();
    assert_eq!(dec.decode_fec(&packets[21], 320, &mut out).unwrap(), 320);
    assert_eq!(out.len(), before + 320);
    let recovered = out[before..].to_vec();
    assert_eq!(dec.decode(&packets[21], &mut out).unwrap(), 320);
    // Packets 22 and 23 lost with nothing to recover from: plain PLC.
    let before = out.len();
    assert_eq!(dec.decode_lost(640, &mut out).unwrap(), 640);
    assert_eq!(out.len(), before + 640);

    // The recovered frame still carries the tone.
    let on = goertzel_power(&recovered, rate, 440.0);
    let off = goertzel_power(&recovered, rate, 2500.0);
    assert!(on > 100.0 * off, "FEC frame lost the tone: {on} vs {off}");

    // Concealment lengths must be whole multiples of 2.5 ms, at most 120 ms.
    assert!(matches!(
        dec.decode_lost(100, &mut out),
        Err(CodecError::InvalidFrameSize { samples: 100, .. })
    ));
    assert!(dec.decode_lost(0, &mut out).is_err());
    assert!(dec.decode_lost(1920 + 40, &mut out).is_err());
    assert!(dec.decode_fec(&[], 320, &mut out).is_err());

    // Stereo decoder: PLC appends interleaved samples.
    let mut dec2 = OpusDecoder::new(48000, 2).unwrap();
    let mut out2 = Vec::new();
    assert_eq!(dec2.decode_lost(960, &mut out2).unwrap(), 960);
    assert_eq!(out2.len(), 1920);
}

#[test]
fn configuration_errors() {
    assert_eq!(
        OpusEncoder::new(44100, 1, Application::Voip, 32000).unwrap_err(),
        CodecError::UnsupportedSampleRate(44100)
    );
    assert_eq!(
        OpusEncoder::new(48000, 3, Application::Voip, 32000).unwrap_err(),
        CodecError::UnsupportedChannels(3)
    );
    assert_eq!(
        OpusEncoder::new(48000, 1, Application::Voip, 100).unwrap_err(),
        CodecError::InvalidBitrate(100)
    );
    assert!(OpusDecoder::new(22050, 1).is_err());
    assert!(OpusDecoder::new(48000, 0).is_err());

    let mut enc = OpusEncoder::new(8000, 1, Application::Voip, 12000).unwrap();
    let mut out = Vec::new();
    // 15 ms is not an Opus frame duration.
    assert!(matches!(
        enc.encode(&[0; 120], &mut out),
        Err(CodecError::InvalidFrameSize {
            samples: 120,
            rate: 8000
        })
    ));
    let mut st = OpusEncoder::new(48000, 2, Application::Audio, 64000).unwrap();
    assert!(matches!(
        st.encode(&[0; 961], &mut out),
        Err(CodecError::Misaligned { .. })
    ));
    assert!(out.is_empty());
    // Every legal duration from 2.5 to 60 ms encodes.
    for samples in [20, 40, 80, 160, 320, 480] {
        out.clear();
        assert!(enc.encode(&vec![0; samples], &mut out).is_ok(), "{samples}");
    }
    assert!(enc.lookahead().unwrap() > 0);
}

#[test]
fn dtx_shrinks_silence() {
    let mut enc = OpusEncoder::new(16000, 1, Application::Voip, 24000).unwrap();
    enc.set_dtx(true).unwrap();
    let mut sizes = Vec::new();
    for _ in 0..50 {
        let mut pkt = Vec::new();
        sizes.push(enc.encode(&[0; 320], &mut pkt).unwrap());
    }
    let small = sizes.iter().filter(|&&n| n <= 2).count();
    assert!(small >= 20, "DTX produced {sizes:?}");

    let mut dec = OpusDecoder::new(16000, 1).unwrap();
    let mut out = Vec::new();
    let mut pkt = Vec::new();
    enc.encode(&[0; 320], &mut pkt).unwrap();
    assert_eq!(dec.decode(&pkt, &mut out).unwrap(), 320);
}

#[test]
fn encode_appends_after_existing_bytes() {
    let mut enc = OpusEncoder::new(48000, 1, Application::Voip, 32000).unwrap();
    let mut buf = vec![0xAA; 12]; // e.g. an RTP header already written
    let n = enc
        .encode(&sine(300.0, 48000, 960, 4000.0), &mut buf)
        .unwrap();
    assert_eq!(buf.len(), 12 + n);
    assert!(buf[..12].iter().all(|&b| b == 0xAA));
    let mut dec = OpusDecoder::new(48000, 1).unwrap();
    let mut out = Vec::new();
    assert_eq!(dec.decode(&buf[12..], &mut out).unwrap(), 960);
}

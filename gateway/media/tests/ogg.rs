//! Ogg/Opus recording files: written by our writer, read back by our page
//! reader (CRC checked), and, when ffmpeg is installed, decoded by ffmpeg.

use std::path::{Path, PathBuf};
use std::process::Command;

use gateway_media::ogg::{
    ogg_crc32, opus_packet_samples, packets, read_pages, OggError, OggOpusWriter, OpusHead,
    OpusTags, FLAG_BOS, FLAG_CONTINUED, FLAG_EOS, NO_GRANULE,
};

const SERIAL: u32 = 0x1234_5678;

fn tags() -> OpusTags {
    OpusTags::new("gateway test").with("MEETING", "1234")
}

/// A 20 ms CELT fullband mono packet (TOC 0xfc) of `len` bytes with a
/// recognisable body.
fn opus_like(i: usize, len: usize) -> Vec<u8> {
    let mut p = vec![0xfc];
    p.extend((1..len).map(|k| (i * 31 + k * 7) as u8));
    p
}

fn write(packets_in: &[Vec<u8>], page_samples: Option<u64>) -> Vec<u8> {
    let mut w = OggOpusWriter::new(Vec::new(), SERIAL, &OpusHead::default(), &tags()).unwrap();
    if let Some(s) = page_samples {
        w = w.with_page_samples(s);
    }
    for p in packets_in {
        w.write_packet(p).unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn header_pages() {
    let file = write(&[], None);
    let pages = read_pages(&file).unwrap();
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[0].flags, FLAG_BOS);
    assert_eq!(pages[0].granule, 0);
    assert_eq!(pages[0].segments, &[19]);
    let head = OpusHead::parse(pages[0].body).unwrap();
    assert_eq!(head, OpusHead::default());
    assert_eq!(&pages[0].body[..8], b"OpusHead");
    assert_eq!(pages[0].body[8], 1, "version");
    assert_eq!(pages[0].body[18], 0, "mapping family");
    assert_eq!(pages[1].flags, 0);
    assert_eq!(pages[1].granule, 0);
    let t = OpusTags::parse(pages[1].body).unwrap();
    assert_eq!(t, tags());
    assert_eq!(pages[2].flags, FLAG_EOS);
    assert!(pages[2].segments.is_empty());
    for (i, p) in pages.iter().enumerate() {
        assert_eq!(p.serial, SERIAL);
        assert_eq!(p.sequence, i as u32);
    }
}

#[test]
fn audio_pages_round_trip() {
    // Sizes around the lacing boundaries: 255 needs a 0 terminator, 510
    // two 255s and a 0, 300 a 255 and a 45.
    let sizes = [1usize, 2, 60, 254, 255, 256, 300, 510, 511, 1275];
    let input: Vec<Vec<u8>> = (0..200)
        .map(|i| opus_like(i, sizes[i % sizes.len()]))
        .collect();
    let file = write(&input, None);
    let pages = read_pages(&file).unwrap();
    let out = packets(&pages, SERIAL);
    assert_eq!(out.len(), 202, "2 headers + 200 audio");
    let audio: Vec<Vec<u8>> = out[2..].iter().map(|p| p.data.clone()).collect();
    assert_eq!(audio, input);

    // Granule of each page = samples of all packets ending on or before it.
    for (n, p) in out[2..].iter().enumerate() {
        let page = pages
            .iter()
            .find(|pg| pg.sequence == p.page_sequence)
            .unwrap();
        // The last packet on a page defines its granule.
        let last_on_page = out[2..]
            .iter()
            .rposition(|q| q.page_sequence == p.page_sequence)
            .unwrap();
        assert_eq!(page.granule, 960 * (last_on_page as u64 + 1), "packet {n}");
    }
    let last = pages.last().unwrap();
    assert_eq!(last.flags & FLAG_EOS, FLAG_EOS);
    assert_eq!(last.granule, 200 * 960);
    // Default page length is one second = 50 packets of 20 ms.
    assert_eq!(pages.len(), 2 + 4);
    for (i, p) in pages.iter().enumerate() {
        assert_eq!(p.sequence, i as u32);
        assert!(p.segments.len() <= 255);
        assert_eq!(p.flags & FLAG_BOS != 0, i == 0);
        assert_eq!(p.flags & FLAG_EOS != 0, i == pages.len() - 1);
    }
}

#[test]
fn lacing_values_are_exact() {
    let file = write(&[opus_like(0, 255), opus_like(1, 300)], None);
    let pages = read_pages(&file).unwrap();
    assert_eq!(pages[2].segments, &[255, 0, 255, 45]);
}

#[test]
fn huge_packet_spans_pages() {
    // 70000 bytes need 275 lacing values: more than one page holds.
    let big = opus_like(9, 70_000);
    let small = opus_like(10, 100);
    let file = write(&[small.clone(), big.clone(), small.clone()], None);
    let pages = read_pages(&file).unwrap();
    assert_eq!(pages.len(), 4, "head, tags, 2 audio pages");
    // Page 2 ends mid-packet after the small one: granule of the small one.
    assert_eq!(pages[2].segments.len(), 255);
    assert_eq!(pages[2].granule, 960);
    assert_eq!(pages[3].flags, FLAG_CONTINUED | FLAG_EOS);
    assert_eq!(pages[3].granule, 3 * 960);
    let out = packets(&pages, SERIAL);
    assert_eq!(out[2].data, small);
    assert_eq!(out[3].data, big);
    assert_eq!(out[4].data, small);

    // A page on which no packet ends carries granule −1.
    let file = write(&[opus_like(1, 140_000)], None);
    let pages = read_pages(&file).unwrap();
    assert_eq!(pages[2].granule, NO_GRANULE);
    assert_eq!(pages[2].flags, 0);
    assert_eq!(pages[3].flags & FLAG_CONTINUED, FLAG_CONTINUED);
    assert_eq!(packets(&pages, SERIAL)[2].data.len(), 140_000);
}

#[test]
fn page_length_is_configurable() {
    let input: Vec<Vec<u8>> = (0..30).map(|i| opus_like(i, 80)).collect();
    let file = write(&input, Some(960 * 10));
    let pages = read_pages(&file).unwrap();
    assert_eq!(pages.len(), 2 + 3);
    let granules: Vec<u64> = pages[2..].iter().map(|p| p.granule).collect();
    assert_eq!(granules, [9600, 19200, 28800]);
}

#[test]
fn crc_is_checked() {
    let file = write(&[opus_like(0, 100)], None);
    // Our CRC of a stored page equals the stored value once the field is
    // zeroed.
    let first_len = 27 + 1 + 19;
    let mut page0 = file[..first_len].to_vec();
    let stored = u32::from_le_bytes(page0[22..26].try_into().unwrap());
    page0[22..26].fill(0);
    assert_eq!(ogg_crc32(&page0), stored);
    for pos in [5usize, 30, file.len() - 1] {
        let mut bad = file.clone();
        bad[pos] ^= 0x01;
        assert!(
            matches!(read_pages(&bad), Err(OggError::BadCrc { .. })),
            "flip at {pos}"
        );
    }
    assert!(matches!(
        read_pages(&file[..file.len() - 3]),
        Err(OggError::Truncated(_))
    ));
    let mut junk = file.clone();
    junk[0] = b'X';
    assert_eq!(read_pages(&junk), Err(OggError::NoCapture(0)));
}

#[test]
fn invalid_input_is_refused() {
    let stereo4 = OpusHead {
        channels: 3,
        ..OpusHead::default()
    };
    assert!(OggOpusWriter::new(Vec::new(), 1, &stereo4, &tags()).is_err());
    let bad_tags = OpusTags::new("v").with("A=B", "c");
    assert!(OggOpusWriter::new(Vec::new(), 1, &OpusHead::default(), &bad_tags).is_err());
    let mut w = OggOpusWriter::new(Vec::new(), 1, &OpusHead::default(), &tags()).unwrap();
    assert!(w.write_packet(&[]).is_err());
    assert!(
        w.write_packet(&[0x03]).is_err(),
        "code 3 without count byte"
    );
    w.write_packet_with_samples(&[0xfc, 1, 2], 480).unwrap();
    assert_eq!(w.granule_position(), 480);
    assert_eq!(opus_packet_samples(&[0xfc, 1]), Some(960));
}

#[test]
fn reader_never_panics_on_garbage() {
    let file = write(&[opus_like(0, 600), opus_like(1, 20)], None);
    for cut in 0..file.len() {
        let _ = read_pages(&file[..cut]);
    }
    for i in 0..file.len() {
        let mut m = file.clone();
        m[i] = m[i].wrapping_add(0x55);
        let _ = read_pages(&m);
    }
    assert!(OpusTags::parse(b"OpusTags\xff\xff\xff\xff").is_none());
    assert!(OpusTags::parse(b"OpusTags\x00\x00\x00\x00\xff\xff\xff\xff").is_none());
}

// ------------------------------------------------------------ ffmpeg ---

fn have_ffmpeg() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn tmp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ogg-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Decode with ffmpeg to 48 kHz mono s16le; also returns ffmpeg's stderr at
/// `-v error` (empty for a clean file).
fn ffmpeg_decode(file: &Path) -> (Vec<i16>, String) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "s16le", "-ac", "1", "-ar", "48000", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pcm = out
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    (pcm, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn ffmpeg_decodes_rewritten_libopus_stream() {
    if !have_ffmpeg() {
        eprintln!("SKIP: ffmpeg not installed");
        return;
    }
    let dir = tmp_dir("ref");
    let reference = dir.join("ref.ogg");
    let st = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2:sample_rate=48000",
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            "-ac",
            "1",
            "-f",
            "ogg",
        ])
        .arg(&reference)
        .status()
        .unwrap();
    if !st.success() {
        eprintln!("SKIP: ffmpeg cannot encode libopus here");
        return;
    }
    // ffmpeg's file, read with our reader (its CRCs must check out).
    let ref_bytes = std::fs::read(&reference).unwrap();
    let ref_pages = read_pages(&ref_bytes).unwrap();
    let serial = ref_pages[0].serial;
    let ref_packets = packets(&ref_pages, serial);
    let head = OpusHead::parse(&ref_packets[0].data).expect("OpusHead");
    assert!(OpusTags::parse(&ref_packets[1].data).is_some());
    let audio: Vec<&[u8]> = ref_packets[2..].iter().map(|p| p.data.as_slice()).collect();
    assert!(audio.len() >= 100, "2 s of 20 ms packets");

    // Rewritten by our writer.
    let ours = dir.join("ours.ogg");
    let mut w = OggOpusWriter::new(
        Vec::new(),
        7,
        &head,
        &OpusTags::new("gateway").with("MEETING", "1234"),
    )
    .unwrap();
    let mut total = 0u64;
    for p in &audio {
        total += u64::from(opus_packet_samples(p).unwrap());
        w.write_packet(p).unwrap();
    }
    std::fs::write(&ours, w.finish().unwrap()).unwrap();

    let (pcm, errors) = ffmpeg_decode(&ours);
    assert!(errors.is_empty(), "ffmpeg complained: {errors}");
    // No end trimming in our file: all samples minus the pre-skip.
    assert_eq!(pcm.len() as u64, total - u64::from(head.pre_skip));
    // Same audio as ffmpeg's own file (which trims the end to 2 s).
    let (ref_pcm, _) = ffmpeg_decode(&reference);
    assert_eq!(ref_pcm.len(), 96_000);
    assert_eq!(&pcm[..ref_pcm.len()], &ref_pcm[..]);
    // And it is the tone, not silence.
    let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap();
    assert!(peak > 1000, "peak {peak}");

    // ffprobe sees an Opus stream with our comment.
    if let Ok(out) = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,channels,sample_rate:stream_tags=MEETING",
            "-of",
            "default=noprint_wrappers=1",
        ])
        .arg(&ours)
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("codec_name=opus"), "{text}");
        assert!(text.contains("channels=1"), "{text}");
        assert!(text.contains("MEETING=1234"), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ffmpeg_decodes_packets_from_codecs_encoder() {
    if !have_ffmpeg() {
        eprintln!("SKIP: ffmpeg not installed");
        return;
    }
    let Ok(mut enc) = codecs::OpusEncoder::new(48_000, 1, codecs::Application::Voip, 24_000) else {
        eprintln!("SKIP: Opus encoder unavailable");
        return;
    };
    let dir = tmp_dir("enc");
    let path = dir.join("enc.ogg");
    let head = OpusHead {
        pre_skip: enc.lookahead().map(|l| l as u16).unwrap_or(312),
        ..OpusHead::default()
    };
    let mut w = OggOpusWriter::new(Vec::new(), 99, &head, &tags()).unwrap();
    let frames = 75; // 1.5 s
    for f in 0..frames {
        let pcm: Vec<i16> = (0..960)
            .map(|n| {
                let t = (f * 960 + n) as f64 / 48_000.0;
                ((t * 600.0 * std::f64::consts::TAU).sin() * 8000.0) as i16
            })
            .collect();
        let mut pkt = Vec::new();
        enc.encode(&pcm, &mut pkt).unwrap();
        assert_eq!(opus_packet_samples(&pkt), Some(960));
        w.write_packet(&pkt).unwrap();
    }
    std::fs::write(&path, w.finish().unwrap()).unwrap();
    let (pcm, errors) = ffmpeg_decode(&path);
    assert!(errors.is_empty(), "ffmpeg complained: {errors}");
    assert_eq!(pcm.len(), frames * 960 - usize::from(head.pre_skip));
    let _ = std::fs::remove_dir_all(&dir);
}

//! Recordings encrypted at rest: a streaming AEAD container.
//!
//! A recording of a confidential or secret meeting is written through
//! [`SealWriter`], which cuts the byte stream into fixed-size chunks and
//! seals each with AES-256-GCM, so that an hours-long meeting streams to
//! disk in constant memory and every chunk is checked on its own when read.
//!
//! ## Format, version 1 (`.ogg.enc`)
//!
//! ```text
//! header, 32 bytes:
//!   0..8    magic            "GWRECENC"
//!   8       version          1
//!   9       algorithm        1 = AES-256-GCM
//!   10..14  chunk size       u32 big-endian: plaintext bytes per full chunk
//!                            (1 ..= 1 MiB; the writer uses 64 KiB)
//!   14..22  key id           the first 8 bytes of SHA-256(key)
//!   22..30  nonce prefix     8 random bytes, new for every file
//!   30..32  reserved         zero
//! chunks, until the end of the file:
//!   ciphertext (chunk size bytes; the final chunk fewer, possibly none)
//!   || GCM tag (16 bytes)
//! ```
//!
//! Chunk `i` (from 0) is sealed with nonce = nonce prefix || `i` as u32
//! big-endian, and associated data = the 32 header bytes || `i` as u64
//! big-endian || final flag (1 on the last chunk, else 0). Every full-size
//! chunk is non-final and the last chunk is always shorter than a full one,
//! so a reader knows which chunk claims to be last from lengths alone:
//!
//! - a changed byte anywhere fails that chunk's tag (the header is in every
//!   chunk's associated data, so a changed header fails chunk 0);
//! - a file cut at a chunk boundary lacks its final chunk ([`SealError::Truncated`]);
//! - a file cut inside a chunk makes that chunk short, read as final with
//!   the wrong length, and its tag fails;
//! - chunks swapped or replayed from another file fail (index and the
//!   file's random nonce prefix are in the nonce).
//!
//! The key id lets a reader say "sealed with another key" before trying to
//! decrypt, and tells which of several rotated keys a file needs.

use std::fmt;
use std::io::{self, Read, Write};

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

pub const MAGIC: &[u8; 8] = b"GWRECENC";
pub const VERSION: u8 = 1;
const ALG_AES_256_GCM: u8 = 1;
pub const HEADER_LEN: usize = 32;
const TAG_LEN: usize = 16;
/// What the writer uses: a few seconds of Opus per chunk.
pub const DEFAULT_CHUNK: usize = 64 * 1024;
/// A reader refuses larger chunks rather than allocating what a header says.
pub const MAX_CHUNK: usize = 1024 * 1024;

/// A 256-bit recording key. Its bytes never appear in `Debug` output and are
/// wiped when dropped.
pub struct RecordingKey {
    bytes: [u8; 32],
    id: [u8; 8],
}

impl RecordingKey {
    pub fn from_bytes(bytes: [u8; 32]) -> RecordingKey {
        RecordingKey {
            id: Self::id_of(&bytes),
            bytes,
        }
    }

    /// A new key from the operating system's random source.
    pub fn generate() -> io::Result<RecordingKey> {
        let mut key = RecordingKey::from_bytes([0; 32]);
        rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut key.bytes)
            .map_err(|e| io::Error::other(e.to_string()))?;
        key.id = Self::id_of(&key.bytes);
        Ok(key)
    }

    /// Reads exactly 32 key bytes, straight into the key (no copies left
    /// behind on the stack).
    pub fn read_from(r: &mut impl Read) -> io::Result<RecordingKey> {
        let mut key = RecordingKey::from_bytes([0; 32]);
        r.read_exact(&mut key.bytes)?;
        key.id = Self::id_of(&key.bytes);
        Ok(key)
    }

    /// Writes the 32 key bytes (to a key file).
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(&self.bytes)
    }

    fn id_of(bytes: &[u8; 32]) -> [u8; 8] {
        let digest = Sha256::digest(bytes);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        id
    }

    /// The first 8 bytes of SHA-256 of the key: names the key, reveals nothing.
    pub fn id(&self) -> [u8; 8] {
        self.id
    }

    pub fn id_hex(&self) -> String {
        hex(&self.id)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new_from_slice(&self.bytes).expect("32-byte key")
    }
}

impl Drop for RecordingKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for RecordingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordingKey(id {})", self.id_hex())
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("not an encrypted recording (no GWRECENC header)")]
    NotSealed,
    #[error("encrypted recording version {0} is not supported (this gateway reads version 1)")]
    Version(u8),
    #[error("malformed header: {0}")]
    Header(&'static str),
    #[error("sealed with key {file} but the configured key is {ours}")]
    WrongKey { file: String, ours: String },
    #[error("chunk {chunk} fails authentication: the file was altered, cut inside this chunk, or not sealed with this key")]
    Chunk { chunk: u64 },
    #[error("truncated: the file ends after chunk {chunks_read} without its final chunk")]
    Truncated { chunks_read: u64 },
    #[error("too many chunks for one file")]
    TooLong,
    #[error("{0}")]
    Io(#[from] io::Error),
}

struct Header {
    bytes: [u8; HEADER_LEN],
    chunk: usize,
    key_id: [u8; 8],
    prefix: [u8; 8],
}

impl Header {
    fn new(key: &RecordingKey, chunk: usize, prefix: [u8; 8]) -> Header {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8] = VERSION;
        bytes[9] = ALG_AES_256_GCM;
        bytes[10..14].copy_from_slice(&(chunk as u32).to_be_bytes());
        bytes[14..22].copy_from_slice(&key.id);
        bytes[22..30].copy_from_slice(&prefix);
        Header {
            bytes,
            chunk,
            key_id: key.id,
            prefix,
        }
    }

    fn parse(bytes: [u8; HEADER_LEN]) -> Result<Header, SealError> {
        if &bytes[..8] != MAGIC {
            return Err(SealError::NotSealed);
        }
        if bytes[8] != VERSION {
            return Err(SealError::Version(bytes[8]));
        }
        if bytes[9] != ALG_AES_256_GCM {
            return Err(SealError::Header("unknown algorithm"));
        }
        let chunk = u32::from_be_bytes(bytes[10..14].try_into().expect("4 bytes")) as usize;
        if chunk == 0 || chunk > MAX_CHUNK {
            return Err(SealError::Header("chunk size out of range"));
        }
        if bytes[30..32] != [0, 0] {
            return Err(SealError::Header("reserved bytes are not zero"));
        }
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&bytes[14..22]);
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&bytes[22..30]);
        Ok(Header {
            bytes,
            chunk,
            key_id,
            prefix,
        })
    }

    fn nonce(&self, index: u64) -> Result<[u8; 12], SealError> {
        let counter = u32::try_from(index).map_err(|_| SealError::TooLong)?;
        let mut n = [0u8; 12];
        n[..8].copy_from_slice(&self.prefix);
        n[8..].copy_from_slice(&counter.to_be_bytes());
        Ok(n)
    }

    fn aad(&self, index: u64, last: bool) -> [u8; HEADER_LEN + 9] {
        let mut a = [0u8; HEADER_LEN + 9];
        a[..HEADER_LEN].copy_from_slice(&self.bytes);
        a[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(&index.to_be_bytes());
        a[HEADER_LEN + 8] = u8::from(last);
        a
    }
}

/// Seals what is written to it into `out`. Call [`SealWriter::finish`]:
/// a writer dropped without it leaves a file that reads as truncated.
pub struct SealWriter<W: Write> {
    out: W,
    cipher: Aes256Gcm,
    header: Header,
    buf: Vec<u8>,
    index: u64,
}

impl<W: Write> SealWriter<W> {
    pub fn new(out: W, key: &RecordingKey) -> io::Result<SealWriter<W>> {
        Self::with_chunk_size(out, key, DEFAULT_CHUNK)
    }

    pub fn with_chunk_size(
        mut out: W,
        key: &RecordingKey,
        chunk: usize,
    ) -> io::Result<SealWriter<W>> {
        let chunk = chunk.clamp(1, MAX_CHUNK);
        let header = Header::new(key, chunk, rand::random());
        out.write_all(&header.bytes)?;
        Ok(SealWriter {
            out,
            cipher: key.cipher(),
            header,
            buf: Vec::with_capacity(chunk),
            index: 0,
        })
    }

    fn seal_buffer(&mut self, last: bool) -> io::Result<()> {
        let nonce = self.header.nonce(self.index).map_err(io::Error::other)?;
        let aad = self.header.aad(self.index, last);
        let tag = self
            .cipher
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut self.buf)
            .map_err(|_| io::Error::other("AES-GCM sealing failed"))?;
        self.out.write_all(&self.buf)?;
        self.out.write_all(&tag)?;
        self.buf.clear();
        self.index += 1;
        Ok(())
    }

    /// Seals the final (short, possibly empty) chunk and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.seal_buffer(true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.header.chunk - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        // A full chunk is sealed at once as non-final: the final chunk is
        // then always shorter than a full one (see the module docs).
        if self.buf.len() == self.header.chunk {
            self.seal_buffer(false)?;
        }
        Ok(n)
    }

    /// Flushes what is sealed; the open chunk stays open (sealing it early
    /// would end the stream).
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The key id in a sealed file's header, without decrypting anything.
pub fn key_id_of(input: &mut impl Read) -> Result<[u8; 8], SealError> {
    let mut h = [0u8; HEADER_LEN];
    read_full(input, &mut h)?;
    Ok(Header::parse(h)?.key_id)
}

/// Decrypts a sealed stream from `input` to `output`; returns the plaintext
/// length. Chunks are written out as they are verified, so on an error
/// `output` holds a verified prefix: a caller writing a file removes it.
pub fn open_stream(
    input: &mut impl Read,
    output: &mut impl Write,
    key: &RecordingKey,
) -> Result<u64, SealError> {
    let mut h = [0u8; HEADER_LEN];
    if read_full(input, &mut h)? < HEADER_LEN {
        return Err(SealError::NotSealed);
    }
    let header = Header::parse(h)?;
    if header.key_id != key.id {
        return Err(SealError::WrongKey {
            file: hex(&header.key_id),
            ours: key.id_hex(),
        });
    }
    let cipher = key.cipher();
    let full = header.chunk + TAG_LEN;
    let mut buf = vec![0u8; full];
    let mut index = 0u64;
    let mut total = 0u64;
    loop {
        let n = read_full(input, &mut buf)?;
        let last = n < full;
        if n < TAG_LEN {
            // Nothing, or less than a tag, where a chunk must be: the
            // final chunk is missing (cut at or just after a boundary).
            return Err(if n == 0 {
                SealError::Truncated { chunks_read: index }
            } else {
                SealError::Chunk { chunk: index }
            });
        }
        let (body, tag) = buf[..n].split_at_mut(n - TAG_LEN);
        let nonce = header.nonce(index)?;
        cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                &header.aad(index, last),
                body,
                Tag::from_slice(tag),
            )
            .map_err(|_| SealError::Chunk { chunk: index })?;
        output.write_all(body)?;
        total += body.len() as u64;
        index += 1;
        if last {
            return Ok(total);
        }
    }
}

/// How a sealed file ends, as far as a [`SealedReader`] has read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedEnd {
    /// The end is not reached yet.
    Reading,
    /// The final chunk authenticated: the file is whole.
    Final,
    /// What a crash leaves: `chunks` chunks authenticated, then `tail`
    /// bytes at the end of the file that are no whole chunk (the chunk
    /// being written; zero when the file ends on a chunk boundary).
    Cut { chunks: u64, tail: u64 },
    /// Chunk `chunk` fails authentication and more of the file follows
    /// it: not a cut but an altered file.
    Damaged { chunk: u64 },
}

/// Reads the plaintext of a sealed file, chunk by chunk, giving out only
/// what authenticates: a crashed recording's complete chunks, without its
/// cut tail. Reading ends (`Ok(0)`) at the final chunk or at the first
/// chunk that does not authenticate; [`SealedReader::end`] then says
/// which. Memory: one chunk.
pub struct SealedReader<R: Read> {
    input: R,
    cipher: Aes256Gcm,
    header: Header,
    buf: Vec<u8>,
    /// Plaintext of the current chunk not yet read out: `buf[pos..len]`.
    pos: usize,
    len: usize,
    index: u64,
    end: SealedEnd,
}

impl<R: Read> SealedReader<R> {
    pub fn new(mut input: R, key: &RecordingKey) -> Result<SealedReader<R>, SealError> {
        let mut h = [0u8; HEADER_LEN];
        if read_full(&mut input, &mut h)? < HEADER_LEN {
            return Err(SealError::NotSealed);
        }
        let header = Header::parse(h)?;
        if header.key_id != key.id {
            return Err(SealError::WrongKey {
                file: hex(&header.key_id),
                ours: key.id_hex(),
            });
        }
        Ok(SealedReader {
            input,
            cipher: key.cipher(),
            buf: vec![0u8; header.chunk + TAG_LEN],
            header,
            pos: 0,
            len: 0,
            index: 0,
            end: SealedEnd::Reading,
        })
    }

    pub fn end(&self) -> SealedEnd {
        self.end
    }

    /// Plaintext bytes per full chunk.
    pub fn chunk_size(&self) -> usize {
        self.header.chunk
    }

    /// Reads and authenticates the next chunk into `buf`; false at the end.
    fn next_chunk(&mut self) -> Result<bool, SealError> {
        if self.end != SealedEnd::Reading {
            return Ok(false);
        }
        let full = self.header.chunk + TAG_LEN;
        let n = read_full(&mut self.input, &mut self.buf)?;
        let last = n < full;
        let cut = SealedEnd::Cut {
            chunks: self.index,
            tail: n as u64,
        };
        if n < TAG_LEN {
            self.end = cut;
            return Ok(false);
        }
        let (body, tag) = self.buf[..n].split_at_mut(n - TAG_LEN);
        let nonce = self.header.nonce(self.index)?;
        let ok = self
            .cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                &self.header.aad(self.index, last),
                body,
                Tag::from_slice(tag),
            )
            .is_ok();
        if !ok {
            // A short chunk is at the end of the file by definition; a
            // full one that fails is a cut only if nothing follows it.
            let more = !last && read_full(&mut self.input, &mut [0u8; 1])? > 0;
            self.end = if more {
                SealedEnd::Damaged { chunk: self.index }
            } else {
                cut
            };
            return Ok(false);
        }
        self.pos = 0;
        self.len = n - TAG_LEN;
        self.index += 1;
        if last {
            self.end = SealedEnd::Final;
        }
        Ok(true)
    }
}

impl<R: Read> Read for SealedReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.len {
            match self.next_chunk() {
                Ok(true) => {}
                Ok(false) => return Ok(0),
                Err(SealError::Io(e)) => return Err(e),
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> RecordingKey {
        RecordingKey::from_bytes([b; 32])
    }

    fn seal(data: &[u8], chunk: usize) -> Vec<u8> {
        let mut w = SealWriter::with_chunk_size(Vec::new(), &key(7), chunk).unwrap();
        // Odd write sizes: chunking must not depend on how the caller writes.
        for part in data.chunks(37) {
            w.write_all(part).unwrap();
        }
        w.finish().unwrap()
    }

    fn open(sealed: &[u8], k: &RecordingKey) -> Result<Vec<u8>, SealError> {
        let mut out = Vec::new();
        let n = open_stream(&mut &sealed[..], &mut out, k)?;
        assert_eq!(n, out.len() as u64);
        Ok(out)
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn round_trip_at_every_boundary() {
        for len in [0, 1, 99, 100, 101, 200, 1000, 1050] {
            let data = sample(len);
            let sealed = seal(&data, 100);
            assert_eq!(&sealed[..8], MAGIC);
            // Header + one tag per full chunk + the (short) final chunk.
            assert_eq!(sealed.len(), HEADER_LEN + len + (len / 100 + 1) * TAG_LEN);
            assert_eq!(open(&sealed, &key(7)).unwrap(), data, "len {len}");
        }
    }

    #[test]
    fn ciphertext_hides_the_plaintext_and_differs_per_file() {
        let data = b"OggS".repeat(100);
        let a = seal(&data, 64);
        let b = seal(&data, 64);
        assert!(!a.windows(4).any(|w| w == b"OggS"));
        assert_ne!(
            a[HEADER_LEN..],
            b[HEADER_LEN..],
            "fresh nonce prefix per file"
        );
    }

    #[test]
    fn a_changed_byte_names_its_chunk() {
        let data = sample(1000);
        let sealed = seal(&data, 100);
        let chunk_len = 100 + TAG_LEN;
        for (at, chunk) in [
            (HEADER_LEN + 5, 0),
            (HEADER_LEN + 3 * chunk_len + 50, 3),
            (HEADER_LEN + 3 * chunk_len + 100 + 2, 3), // in the tag
            (sealed.len() - 1, 10),
            (24, 0), // the nonce prefix in the header
        ] {
            let mut bad = sealed.clone();
            bad[at] ^= 0x40;
            match open(&bad, &key(7)) {
                Err(SealError::Chunk { chunk: c }) => assert_eq!(c, chunk, "byte {at}"),
                other => panic!("byte {at}: {other:?}"),
            }
        }
        let err = SealError::Chunk { chunk: 3 }.to_string();
        assert!(err.contains("chunk 3"), "{err}");
    }

    #[test]
    fn truncation_is_detected() {
        let data = sample(1000);
        let sealed = seal(&data, 100);
        let chunk_len = 100 + TAG_LEN;
        // Cut at a chunk boundary: every chunk so far is fine, the final one is missing.
        let cut = &sealed[..HEADER_LEN + 4 * chunk_len];
        assert!(matches!(
            open(cut, &key(7)),
            Err(SealError::Truncated { chunks_read: 4 })
        ));
        // Cut inside a chunk, and just after a boundary.
        for cut_at in [
            HEADER_LEN + 4 * chunk_len + 40,
            HEADER_LEN + 4 * chunk_len + 3,
        ] {
            assert!(matches!(
                open(&sealed[..cut_at], &key(7)),
                Err(SealError::Chunk { chunk: 4 })
            ));
        }
        // The last chunk dropped whole (the file then ends on a full chunk).
        let no_final = &sealed[..sealed.len() - TAG_LEN];
        assert!(matches!(
            open(no_final, &key(7)),
            Err(SealError::Truncated { chunks_read: 10 })
        ));
        // Only the header.
        assert!(matches!(
            open(&sealed[..HEADER_LEN], &key(7)),
            Err(SealError::Truncated { chunks_read: 0 })
        ));
    }

    #[test]
    fn chunks_cannot_be_reordered_or_appended() {
        let sealed = seal(&sample(300), 100);
        let c = 100 + TAG_LEN;
        let mut swapped = sealed[..HEADER_LEN].to_vec();
        swapped.extend_from_slice(&sealed[HEADER_LEN + c..HEADER_LEN + 2 * c]);
        swapped.extend_from_slice(&sealed[HEADER_LEN..HEADER_LEN + c]);
        swapped.extend_from_slice(&sealed[HEADER_LEN + 2 * c..]);
        assert!(matches!(
            open(&swapped, &key(7)),
            Err(SealError::Chunk { chunk: 0 })
        ));
        // Garbage after the final chunk makes the final chunk full-size.
        let mut longer = sealed.clone();
        longer.extend_from_slice(&[0u8; 200]);
        assert!(open(&longer, &key(7)).is_err());
    }

    #[test]
    fn wrong_key_is_named_before_decrypting() {
        let sealed = seal(b"secret minutes", 100);
        match open(&sealed, &key(8)) {
            Err(SealError::WrongKey { file, ours }) => {
                assert_eq!(file, key(7).id_hex());
                assert_eq!(ours, key(8).id_hex());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(key_id_of(&mut &sealed[..]).unwrap(), key(7).id());
    }

    #[test]
    fn plain_files_and_bad_headers_are_refused() {
        assert!(matches!(
            open(
                b"OggS\0\x02 not sealed at all, long enough for a header",
                &key(7)
            ),
            Err(SealError::NotSealed)
        ));
        assert!(matches!(open(b"GWREC", &key(7)), Err(SealError::NotSealed)));
        let mut sealed = seal(b"x", 100);
        sealed[8] = 2;
        assert!(matches!(open(&sealed, &key(7)), Err(SealError::Version(2))));
        let mut huge = seal(b"x", 100);
        huge[10..14].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(open(&huge, &key(7)), Err(SealError::Header(_))));
    }

    #[test]
    fn keys_written_read_back_the_same() {
        let k = RecordingKey::generate().unwrap();
        let mut file = Vec::new();
        k.write_to(&mut file).unwrap();
        assert_eq!(file.len(), 32);
        let back = RecordingKey::read_from(&mut &file[..]).unwrap();
        assert_eq!(back.id(), k.id());
        assert_ne!(RecordingKey::generate().unwrap().id(), k.id());
        assert!(RecordingKey::read_from(&mut &file[..31]).is_err());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let k = key(0xAB);
        let shown = format!("{k:?}");
        assert!(shown.contains(&k.id_hex()));
        assert!(!shown.to_lowercase().contains("abababab"), "{shown}");
    }

    fn read_authenticated(sealed: &[u8]) -> (Vec<u8>, SealedEnd) {
        let mut r = SealedReader::new(sealed, &key(7)).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        (out, r.end())
    }

    #[test]
    fn the_sealed_reader_keeps_what_authenticates_of_a_cut_file() {
        let data = sample(1000);
        let sealed = seal(&data, 100);
        let c = 100 + TAG_LEN;
        // Whole.
        assert_eq!(
            read_authenticated(&sealed),
            (data.clone(), SealedEnd::Final)
        );
        // Cut inside chunk 4: chunks 0..4 and nothing of the fifth.
        let (got, end) = read_authenticated(&sealed[..HEADER_LEN + 4 * c + 40]);
        assert_eq!(got, data[..400]);
        assert_eq!(
            end,
            SealedEnd::Cut {
                chunks: 4,
                tail: 40
            }
        );
        // Cut on a boundary, and just after one (less than a tag).
        let (got, end) = read_authenticated(&sealed[..HEADER_LEN + 4 * c]);
        assert_eq!(
            (got.len(), end),
            (400, SealedEnd::Cut { chunks: 4, tail: 0 })
        );
        let (_, end) = read_authenticated(&sealed[..HEADER_LEN + 4 * c + 3]);
        assert_eq!(end, SealedEnd::Cut { chunks: 4, tail: 3 });
        // A full-size last region that fails (zeros a power cut left).
        let mut zeroed = sealed[..HEADER_LEN + 5 * c].to_vec();
        zeroed[HEADER_LEN + 4 * c..].fill(0);
        let (got, end) = read_authenticated(&zeroed);
        assert_eq!(
            (got.len(), end),
            (
                400,
                SealedEnd::Cut {
                    chunks: 4,
                    tail: c as u64
                }
            )
        );
        // A bad chunk with more after it is damage, not a cut.
        let mut bad = sealed.clone();
        bad[HEADER_LEN + 2 * c + 7] ^= 1;
        let (got, end) = read_authenticated(&bad);
        assert_eq!((got.len(), end), (200, SealedEnd::Damaged { chunk: 2 }));
        // Another key is named before anything is read.
        assert!(matches!(
            SealedReader::new(&sealed[..], &key(8)),
            Err(SealError::WrongKey { .. })
        ));
    }
}

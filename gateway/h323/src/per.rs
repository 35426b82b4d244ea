//! ASN.1 aligned PER (ITU-T X.691, ALIGNED variant) bit reader and writer.
//!
//! This is not a generic ASN.1 compiler: message types call the primitives
//! below in the order their ASN.1 definition dictates. Every read is bounded
//! by the input, lengths are checked against their constraints before
//! anything is allocated, and every error carries the path of the field
//! being decoded (`RasMessage.registrationRequest.terminalAlias[2].h323-ID`).

use std::fmt;

use thiserror::Error;

/// Lengths at or above 16K use X.691 fragmentation. No H.225/H.245 message
/// we handle comes near it, so fragmented lengths are refused rather than
/// reassembled: it keeps every allocation under 16K elements.
pub const MAX_UNFRAGMENTED: usize = 16383;

/// What went wrong, without the where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PerErrorKind {
    #[error("truncated: {needed} more bits needed, {left} left")]
    Truncated { needed: usize, left: usize },
    #[error("value {value} outside {lo}..{hi}")]
    OutOfRange { value: i128, lo: i128, hi: i128 },
    #[error("length {len} over {max}")]
    TooLong { len: usize, max: usize },
    #[error("length {len} under {min}")]
    TooShort { len: usize, min: usize },
    #[error("character {0:#x} not in the permitted alphabet")]
    BadChar(u32),
    #[error("fragmented length (16K or more) refused")]
    Fragmented,
    #[error("choice index {0} not defined")]
    BadChoice(u64),
    #[error("integer does not fit in 64 bits")]
    IntegerTooLarge,
    #[error("open type content runs past its length")]
    OpenTypeOverrun,
    #[error("{0}")]
    Invalid(&'static str),
}

/// A decode or encode failure and the field path where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct PerError {
    pub path: String,
    pub kind: PerErrorKind,
}

impl fmt::Display for PerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.path, self.kind)
        }
    }
}

pub type Result<T> = std::result::Result<T, PerError>;

#[derive(Debug, Clone, Copy)]
enum Seg {
    Name(&'static str),
    Index(usize),
}

/// The field path shared by the decoder and the encoder.
#[derive(Debug, Default, Clone)]
struct Path(Vec<Seg>);

impl Path {
    fn render(&self) -> String {
        let mut s = String::new();
        for seg in &self.0 {
            match seg {
                Seg::Name(n) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(n);
                }
                Seg::Index(i) => {
                    s.push('[');
                    s.push_str(&i.to_string());
                    s.push(']');
                }
            }
        }
        s
    }
}

/// Number of bits needed to hold `v` (0 for 0).
fn bits_for(v: u64) -> u32 {
    64 - v.leading_zeros()
}

/// Number of octets needed to hold `v` (at least 1).
fn octets_for(v: u64) -> usize {
    (bits_for(v).max(1) as usize).div_ceil(8)
}

/// Index of a CHOICE alternative or ENUMERATED value: in the root, or an
/// extension addition (numbered from 0 after the extension marker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Root(u64),
    Ext(u64),
}

/// A SEQUENCE preamble: the extension bit and the OPTIONAL/DEFAULT bitmap.
#[derive(Debug, Clone, Copy, Default)]
pub struct Preamble {
    pub extended: bool,
    bits: u64,
    count: usize,
}

impl Preamble {
    /// Whether the i-th OPTIONAL root component (0-based) is present.
    pub fn has(&self, i: usize) -> bool {
        debug_assert!(i < self.count);
        i < self.count && (self.bits >> (self.count - 1 - i)) & 1 == 1
    }
}

/// The presence bitmap of a SEQUENCE's extension additions.
#[derive(Debug, Clone, Default)]
pub struct ExtBitmap {
    present: Vec<bool>,
}

impl ExtBitmap {
    /// Indices (0-based, in order) of the additions present in the encoding.
    pub fn present(&self) -> impl Iterator<Item = usize> + '_ {
        self.present
            .iter()
            .enumerate()
            .filter(|(_, p)| **p)
            .map(|(i, _)| i)
    }
    /// The present indices, collected (so the decoder can be borrowed).
    pub fn indices(&self) -> Vec<usize> {
        self.present().collect()
    }
    pub fn len(&self) -> usize {
        self.present.len()
    }
    pub fn is_empty(&self) -> bool {
        self.present.is_empty()
    }
}

/// Permitted alphabets of the character string types H.225 and H.245 use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// IA5String: 0..127, 8 bits per character in the aligned variant.
    Ia5,
    /// PrintableString: 74 characters, 8 bits each (no remapping).
    Printable,
    /// NumericString: space and digits, 4 bits each, remapped to indices.
    Numeric,
    /// BMPString: UCS-2 code units, 16 bits each.
    Bmp,
    /// IA5String (FROM ("...")): the permitted characters, sorted ascending.
    Ia5From(&'static str),
}

/// dialedDigits / NumberDigits of H.225.0.
pub const DIALED_DIGITS: Alphabet = Alphabet::Ia5From("#*,0123456789");

const PRINTABLE_EXTRA: &str = " '()+,-./:=?";

impl Alphabet {
    /// (bits per character in the aligned variant, remap to index?)
    fn params(&self) -> (u32, bool) {
        match self {
            Alphabet::Ia5 | Alphabet::Printable => (8, false),
            Alphabet::Numeric => (4, true),
            Alphabet::Bmp => (16, false),
            Alphabet::Ia5From(set) => {
                let n = set.len() as u64;
                let b = bits_for(n.saturating_sub(1)).max(1);
                // X.691 27.5.2: the aligned variant rounds up to a power of two.
                let big_b = b.next_power_of_two();
                let max = set.bytes().max().unwrap_or(0) as u64;
                // 27.5.4: characters keep their own code unless it does not fit.
                (big_b, max >= (1u64 << big_b))
            }
        }
    }

    fn permits(&self, c: u32) -> bool {
        match self {
            Alphabet::Ia5 => c < 128,
            Alphabet::Printable => {
                c < 128
                    && ((c as u8).is_ascii_alphanumeric()
                        || PRINTABLE_EXTRA.as_bytes().contains(&(c as u8)))
            }
            Alphabet::Numeric => c == b' ' as u32 || (b'0' as u32..=b'9' as u32).contains(&c),
            Alphabet::Bmp => c <= 0xFFFF,
            Alphabet::Ia5From(set) => c < 128 && set.as_bytes().contains(&(c as u8)),
        }
    }

    fn code_to_value(&self, code: u32) -> Option<u32> {
        match self {
            Alphabet::Numeric => match code {
                0 => Some(b' ' as u32),
                1..=10 => Some(b'0' as u32 + code - 1),
                _ => None,
            },
            Alphabet::Ia5From(set) => set.as_bytes().get(code as usize).map(|b| *b as u32),
            _ => Some(code),
        }
    }

    fn value_to_code(&self, c: u32) -> Option<u32> {
        match self {
            Alphabet::Numeric => match c {
                0x20 => Some(0),
                0x30..=0x39 => Some(c - 0x30 + 1),
                _ => None,
            },
            Alphabet::Ia5From(set) => set
                .as_bytes()
                .iter()
                .position(|b| *b as u32 == c)
                .map(|p| p as u32),
            _ => Some(c),
        }
    }
}

/// Size constraint of a string or SEQUENCE OF: `lb..=ub`, `ub` None when
/// unbounded (or 64K and over, which X.691 treats the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub lb: usize,
    pub ub: Option<usize>,
}

impl Size {
    pub const fn fixed(n: usize) -> Size {
        Size { lb: n, ub: Some(n) }
    }
    pub const fn range(lb: usize, ub: usize) -> Size {
        Size { lb, ub: Some(ub) }
    }
    pub const fn unbounded() -> Size {
        Size { lb: 0, ub: None }
    }
    pub const fn at_least(lb: usize) -> Size {
        Size { lb, ub: None }
    }
    /// The upper bound if it makes the length "constrained" in X.691 terms.
    fn small_ub(&self) -> Option<usize> {
        self.ub.filter(|u| *u < 65536)
    }
    fn is_fixed(&self) -> bool {
        self.small_ub() == Some(self.lb)
    }
}

// ------------------------------------------------------------------ decoder

/// Reads aligned PER from a byte slice.
pub struct Decoder<'a> {
    data: &'a [u8],
    /// Bit position from the start of `data`.
    pos: usize,
    path: Path,
}

impl<'a> Decoder<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Decoder {
            data,
            pos: 0,
            path: Path::default(),
        }
    }

    /// A decoder whose error paths start with `root` (e.g. "RasMessage").
    pub fn with_root(data: &'a [u8], root: &'static str) -> Self {
        let mut d = Decoder::new(data);
        d.path.0.push(Seg::Name(root));
        d
    }

    pub fn err(&self, kind: PerErrorKind) -> PerError {
        PerError {
            path: self.path.render(),
            kind,
        }
    }

    /// Runs `f` with `name` appended to the error path.
    pub fn field<T>(
        &mut self,
        name: &'static str,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        self.path.0.push(Seg::Name(name));
        let r = f(self);
        self.path.0.pop();
        r
    }

    fn indexed<T>(&mut self, i: usize, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.path.0.push(Seg::Index(i));
        let r = f(self);
        self.path.0.pop();
        r
    }

    pub fn bits_left(&self) -> usize {
        (self.data.len() * 8).saturating_sub(self.pos)
    }

    /// Bytes consumed so far, counting a partial octet as whole.
    pub fn bytes_consumed(&self) -> usize {
        self.pos.div_ceil(8)
    }

    fn need(&self, n: usize) -> Result<()> {
        let left = self.bits_left();
        if n > left {
            Err(self.err(PerErrorKind::Truncated { needed: n, left }))
        } else {
            Ok(())
        }
    }

    pub fn read_bits(&mut self, n: u32) -> Result<u64> {
        debug_assert!(n <= 64);
        self.need(n as usize)?;
        let mut v = 0u64;
        for _ in 0..n {
            let byte = self.data[self.pos / 8];
            let bit = (byte >> (7 - (self.pos % 8))) & 1;
            v = (v << 1) | bit as u64;
            self.pos += 1;
        }
        Ok(v)
    }

    pub fn align(&mut self) {
        self.pos = self.pos.div_ceil(8) * 8;
    }

    /// Reads `n` whole octets (from the current bit position, aligned or not).
    fn read_octets(&mut self, n: usize) -> Result<Vec<u8>> {
        self.need(n.saturating_mul(8))?;
        if self.pos % 8 == 0 {
            let start = self.pos / 8;
            self.pos += n * 8;
            return Ok(self.data[start..start + n].to_vec());
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.read_bits(8)? as u8);
        }
        Ok(out)
    }

    fn read_aligned_slice(&mut self, n: usize) -> Result<&'a [u8]> {
        self.align();
        self.need(n.saturating_mul(8))?;
        let start = self.pos / 8;
        self.pos += n * 8;
        Ok(&self.data[start..start + n])
    }

    pub fn bool(&mut self) -> Result<bool> {
        Ok(self.read_bits(1)? == 1)
    }

    /// X.691 10.5: constrained whole number in `lb..=ub`.
    pub fn constrained(&mut self, lb: i64, ub: i64) -> Result<i64> {
        debug_assert!(lb <= ub);
        let range = (ub as i128 - lb as i128) as u64; // range - 1
        let off = self.constrained_offset(range)?;
        let v = lb as i128 + off as i128;
        if v > ub as i128 {
            return Err(self.err(PerErrorKind::OutOfRange {
                value: v,
                lo: lb as i128,
                hi: ub as i128,
            }));
        }
        Ok(v as i64)
    }

    /// Offset from the lower bound, `span` being range - 1.
    fn constrained_offset(&mut self, span: u64) -> Result<u64> {
        if span == 0 {
            Ok(0)
        } else if span < 255 {
            self.read_bits(bits_for(span))
        } else if span == 255 {
            self.align();
            self.read_bits(8)
        } else if span < 65536 {
            self.align();
            self.read_bits(16)
        } else {
            // 10.5.7.4: a length in octets (itself constrained), then the octets.
            let max_octets = octets_for(span) as u64;
            let len = self.read_bits(bits_for(max_octets - 1))? + 1;
            if len > max_octets {
                return Err(self.err(PerErrorKind::TooLong {
                    len: len as usize,
                    max: max_octets as usize,
                }));
            }
            self.align();
            self.read_bits(8 * len as u32)
        }
    }

    /// INTEGER (lb..ub, ...): an extension bit, then constrained or unconstrained.
    pub fn constrained_ext(&mut self, lb: i64, ub: i64) -> Result<i64> {
        if self.bool()? {
            self.unconstrained_int()
        } else {
            self.constrained(lb, ub)
        }
    }

    /// X.691 10.7: semi-constrained whole number (lb..MAX).
    pub fn semi_constrained(&mut self, lb: i64) -> Result<i64> {
        let n = self.length(Size::unbounded())?;
        if n == 0 || n > 8 {
            return Err(self.err(PerErrorKind::IntegerTooLarge));
        }
        let bytes = self.read_aligned_slice(n)?;
        let off = bytes.iter().fold(0u64, |a, b| (a << 8) | *b as u64);
        let v = lb as i128 + off as i128;
        i64::try_from(v).map_err(|_| self.err(PerErrorKind::IntegerTooLarge))
    }

    /// X.691 10.8: unconstrained whole number (2's complement octets).
    pub fn unconstrained_int(&mut self) -> Result<i64> {
        let n = self.length(Size::unbounded())?;
        if n == 0 || n > 8 {
            return Err(self.err(PerErrorKind::IntegerTooLarge));
        }
        let bytes = self.read_aligned_slice(n)?;
        let mut v: i64 = if bytes[0] & 0x80 != 0 { -1 } else { 0 };
        for b in bytes {
            v = (v << 8) | *b as i64;
        }
        Ok(v)
    }

    /// X.691 10.6: normally small non-negative whole number.
    pub fn normally_small(&mut self) -> Result<u64> {
        if self.bool()? {
            Ok(self.semi_constrained(0)? as u64)
        } else {
            self.read_bits(6)
        }
    }

    /// X.691 10.9: length determinant for `size`, checked against it.
    pub fn length(&mut self, size: Size) -> Result<usize> {
        let n = if let Some(ub) = size.small_ub() {
            if ub < size.lb {
                return Err(self.err(PerErrorKind::Invalid("bad size constraint")));
            }
            size.lb + self.constrained_offset((ub - size.lb) as u64)? as usize
        } else {
            self.align();
            let first = self.read_bits(8)? as usize;
            if first & 0x80 == 0 {
                first
            } else if first & 0xC0 == 0x80 {
                ((first & 0x3F) << 8) | self.read_bits(8)? as usize
            } else {
                return Err(self.err(PerErrorKind::Fragmented));
            }
        };
        self.check_size(n, size)?;
        Ok(n)
    }

    fn check_size(&self, n: usize, size: Size) -> Result<()> {
        if let Some(ub) = size.ub {
            if n > ub {
                return Err(self.err(PerErrorKind::TooLong { len: n, max: ub }));
            }
        }
        if n < size.lb {
            return Err(self.err(PerErrorKind::TooShort {
                len: n,
                min: size.lb,
            }));
        }
        Ok(())
    }

    /// CHOICE index (X.691 23) or ENUMERATED value (14) with `root` root
    /// alternatives; `extensible` when the type has an extension marker.
    pub fn choice_index(&mut self, root: u64, extensible: bool) -> Result<Index> {
        if extensible && self.bool()? {
            return Ok(Index::Ext(self.normally_small()?));
        }
        let i = self.constrained_offset(root.saturating_sub(1))?;
        if i >= root {
            return Err(self.err(PerErrorKind::BadChoice(i)));
        }
        Ok(Index::Root(i))
    }

    /// ENUMERATED: same encoding as a CHOICE index.
    pub fn enumerated(&mut self, root: u64, extensible: bool) -> Result<Index> {
        self.choice_index(root, extensible)
    }

    /// OCTET STRING with a size constraint (X.691 17).
    pub fn octet_string(&mut self, size: Size) -> Result<Vec<u8>> {
        if size.is_fixed() {
            let n = size.lb;
            if n > 2 {
                self.align();
            }
            return self.read_octets(n);
        }
        let n = self.length(size)?;
        if n > 0 {
            self.align();
        }
        self.read_octets(n)
    }

    /// Fixed-size OCTET STRING into an array.
    pub fn octets<const N: usize>(&mut self) -> Result<[u8; N]> {
        let v = self.octet_string(Size::fixed(N))?;
        let mut a = [0u8; N];
        a.copy_from_slice(&v);
        Ok(a)
    }

    /// BIT STRING (X.691 16): returns (bits packed MSB first, bit count).
    pub fn bit_string(&mut self, size: Size) -> Result<(Vec<u8>, usize)> {
        let n = if size.is_fixed() {
            if size.lb > 16 {
                self.align();
            }
            size.lb
        } else {
            let n = self.length(size)?;
            if n > 0 {
                self.align();
            }
            n
        };
        self.need(n)?;
        let mut out = vec![0u8; n.div_ceil(8)];
        for i in 0..n {
            if self.read_bits(1)? == 1 {
                out[i / 8] |= 0x80 >> (i % 8);
            }
        }
        Ok((out, n))
    }

    /// Known-multiplier character string (X.691 30.5).
    pub fn char_string(&mut self, alphabet: Alphabet, size: Size) -> Result<String> {
        let (b, remap) = alphabet.params();
        let fixed = size.is_fixed();
        let n = if fixed { size.lb } else { self.length(size)? };
        let aligned = match size.small_ub() {
            Some(ub) => ub * b as usize > 16,
            None => true,
        };
        if aligned && n > 0 {
            self.align();
        }
        self.need(n.saturating_mul(b as usize))?;
        let mut units = Vec::with_capacity(n);
        for _ in 0..n {
            let code = self.read_bits(b)? as u32;
            let c = if remap {
                alphabet.code_to_value(code)
            } else {
                Some(code)
            };
            match c {
                Some(c) if alphabet.permits(c) => units.push(c),
                _ => return Err(self.err(PerErrorKind::BadChar(code))),
            }
        }
        if alphabet == Alphabet::Bmp {
            let mut s = String::with_capacity(n);
            for c in char::decode_utf16(units.iter().map(|u| *u as u16)) {
                match c {
                    Ok(c) => s.push(c),
                    Err(e) => {
                        return Err(self.err(PerErrorKind::BadChar(e.unpaired_surrogate() as u32)))
                    }
                }
            }
            Ok(s)
        } else {
            // Every permitted alphabet here is a subset of ASCII.
            Ok(units
                .into_iter()
                .map(|c| char::from_u32(c).unwrap_or('\u{FFFD}'))
                .collect())
        }
    }

    /// OBJECT IDENTIFIER (X.691 24): length-prefixed BER contents octets.
    pub fn object_identifier(&mut self) -> Result<Vec<u64>> {
        let n = self.length(Size::unbounded())?;
        let bytes = self.read_aligned_slice(n)?;
        decode_oid_contents(bytes).map_err(|k| self.err(k))
    }

    /// SEQUENCE preamble: extension bit (if `extensible`) and the bitmap of
    /// `optional` OPTIONAL/DEFAULT root components.
    pub fn preamble(&mut self, extensible: bool, optional: usize) -> Result<Preamble> {
        debug_assert!(optional <= 64);
        let extended = extensible && self.bool()?;
        let bits = self.read_bits(optional as u32)?;
        Ok(Preamble {
            extended,
            bits,
            count: optional,
        })
    }

    /// The extension-addition bitmap (X.691 19.7), read when the preamble's
    /// extension bit is set; empty otherwise.
    pub fn ext_bitmap(&mut self, extended: bool) -> Result<ExtBitmap> {
        if !extended {
            return Ok(ExtBitmap::default());
        }
        // Normally small length (10.9.3.4).
        let n = if self.bool()? {
            self.length(Size::unbounded())?
        } else {
            self.read_bits(6)? as usize + 1
        };
        if n == 0 {
            return Err(self.err(PerErrorKind::Invalid("empty extension bitmap")));
        }
        self.need(n)?;
        let mut present = Vec::with_capacity(n);
        for _ in 0..n {
            present.push(self.bool()?);
        }
        Ok(ExtBitmap { present })
    }

    /// Decodes an open type (length + octets) with `f`, confined to its octets.
    pub fn open_type<T>(&mut self, f: impl FnOnce(&mut Decoder<'a>) -> Result<T>) -> Result<T> {
        let n = self.length(Size::unbounded())?;
        let bytes = self.read_aligned_slice(n)?;
        let mut sub = Decoder {
            data: bytes,
            pos: 0,
            path: std::mem::take(&mut self.path),
        };
        let r = f(&mut sub);
        self.path = sub.path;
        r
    }

    /// A decoder over `data` (octets this decoder produced, e.g. a skipped
    /// open type) whose error paths continue this decoder's current path.
    pub fn sub_decoder<'b>(&self, data: &'b [u8]) -> Decoder<'b> {
        Decoder {
            data,
            pos: 0,
            path: self.path.clone(),
        }
    }

    /// Skips an open type, returning its octets (for unknown additions).
    pub fn skip_open_type(&mut self) -> Result<Vec<u8>> {
        let n = self.length(Size::unbounded())?;
        Ok(self.read_aligned_slice(n)?.to_vec())
    }

    /// Skips every present extension addition in `bits`: for types whose
    /// additions we do not model.
    pub fn skip_extensions(&mut self, bits: &ExtBitmap) -> Result<()> {
        for _ in bits.present() {
            self.skip_open_type()?;
        }
        Ok(())
    }

    /// SEQUENCE OF / SET OF with a size constraint; `f` decodes one element.
    pub fn sequence_of<T>(
        &mut self,
        size: Size,
        mut f: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        let n = if size.is_fixed() {
            size.lb
        } else {
            self.length(size)?
        };
        // Elements may encode in zero bits, so cap the reservation: the
        // count itself is already bounded by the length determinant.
        let mut out = Vec::with_capacity(n.min(64));
        for i in 0..n {
            out.push(self.indexed(i, &mut f)?);
        }
        Ok(out)
    }
}

pub(crate) fn decode_oid_contents(bytes: &[u8]) -> std::result::Result<Vec<u64>, PerErrorKind> {
    if bytes.is_empty() {
        return Err(PerErrorKind::Invalid("empty object identifier"));
    }
    let mut arcs = Vec::new();
    let mut v: u64 = 0;
    let mut in_arc = false;
    for b in bytes {
        if !in_arc && *b == 0x80 {
            return Err(PerErrorKind::Invalid(
                "object identifier arc with leading 0x80",
            ));
        }
        if v > (u64::MAX >> 7) {
            return Err(PerErrorKind::IntegerTooLarge);
        }
        v = (v << 7) | (*b & 0x7F) as u64;
        in_arc = true;
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let (a, b2) = match v {
                    0..=39 => (0, v),
                    40..=79 => (1, v - 40),
                    _ => (2, v - 80),
                };
                arcs.push(a);
                arcs.push(b2);
            } else {
                arcs.push(v);
            }
            v = 0;
            in_arc = false;
        }
    }
    if in_arc {
        return Err(PerErrorKind::Invalid(
            "object identifier ends inside an arc",
        ));
    }
    Ok(arcs)
}

// ------------------------------------------------------------------ encoder

/// Writes aligned PER.
#[derive(Default)]
pub struct Encoder {
    buf: Vec<u8>,
    /// Bits written.
    bits: usize,
    path: Path,
}

impl Encoder {
    pub fn new() -> Self {
        Encoder::default()
    }

    pub fn with_root(root: &'static str) -> Self {
        let mut e = Encoder::new();
        e.path.0.push(Seg::Name(root));
        e
    }

    pub fn err(&self, kind: PerErrorKind) -> PerError {
        PerError {
            path: self.path.render(),
            kind,
        }
    }

    pub fn field<T>(
        &mut self,
        name: &'static str,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        self.path.0.push(Seg::Name(name));
        let r = f(self);
        self.path.0.pop();
        r
    }

    fn indexed<T>(&mut self, i: usize, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.path.0.push(Seg::Index(i));
        let r = f(self);
        self.path.0.pop();
        r
    }

    /// The complete encoding: an empty one becomes a single zero octet
    /// (X.691 11.1.3), trailing bits are zero-padded.
    pub fn finish(self) -> Vec<u8> {
        if self.buf.is_empty() {
            vec![0]
        } else {
            self.buf
        }
    }

    pub fn bit_len(&self) -> usize {
        self.bits
    }

    pub fn write_bits(&mut self, v: u64, n: u32) {
        for i in (0..n).rev() {
            let bit = (v >> i) & 1;
            if self.bits % 8 == 0 {
                self.buf.push(0);
            }
            if bit == 1 {
                let last = self.buf.len() - 1;
                self.buf[last] |= 0x80 >> (self.bits % 8);
            }
            self.bits += 1;
        }
    }

    pub fn align(&mut self) {
        self.bits = self.bits.div_ceil(8) * 8;
    }

    fn write_octets(&mut self, bytes: &[u8]) {
        if self.bits % 8 == 0 {
            self.buf.extend_from_slice(bytes);
            self.bits += bytes.len() * 8;
        } else {
            for b in bytes {
                self.write_bits(*b as u64, 8);
            }
        }
    }

    pub fn bool(&mut self, v: bool) {
        self.write_bits(v as u64, 1);
    }

    pub fn constrained(&mut self, v: i64, lb: i64, ub: i64) -> Result<()> {
        if v < lb || v > ub {
            return Err(self.err(PerErrorKind::OutOfRange {
                value: v as i128,
                lo: lb as i128,
                hi: ub as i128,
            }));
        }
        let span = (ub as i128 - lb as i128) as u64;
        let off = (v as i128 - lb as i128) as u64;
        self.constrained_offset(off, span);
        Ok(())
    }

    fn constrained_offset(&mut self, off: u64, span: u64) {
        if span == 0 {
        } else if span < 255 {
            self.write_bits(off, bits_for(span));
        } else if span == 255 {
            self.align();
            self.write_bits(off, 8);
        } else if span < 65536 {
            self.align();
            self.write_bits(off, 16);
        } else {
            let max_octets = octets_for(span) as u64;
            let len = octets_for(off) as u64;
            self.write_bits(len - 1, bits_for(max_octets - 1));
            self.align();
            self.write_bits(off, 8 * len as u32);
        }
    }

    pub fn constrained_ext(&mut self, v: i64, lb: i64, ub: i64) -> Result<()> {
        if v < lb || v > ub {
            self.bool(true);
            self.unconstrained_int(v)
        } else {
            self.bool(false);
            self.constrained(v, lb, ub)
        }
    }

    pub fn semi_constrained(&mut self, v: i64, lb: i64) -> Result<()> {
        if v < lb {
            return Err(self.err(PerErrorKind::OutOfRange {
                value: v as i128,
                lo: lb as i128,
                hi: i64::MAX as i128,
            }));
        }
        let off = (v as i128 - lb as i128) as u64;
        let n = octets_for(off);
        self.length(n, Size::unbounded())?;
        self.align();
        self.write_bits(off, 8 * n as u32);
        Ok(())
    }

    pub fn unconstrained_int(&mut self, v: i64) -> Result<()> {
        let bytes = v.to_be_bytes();
        // Minimal two's complement: drop redundant sign octets.
        let mut start = 0;
        while start < 7 {
            let (b, next) = (bytes[start], bytes[start + 1]);
            if (b == 0 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0) {
                start += 1;
            } else {
                break;
            }
        }
        self.length(8 - start, Size::unbounded())?;
        self.align();
        self.write_octets(&bytes[start..]);
        Ok(())
    }

    pub fn normally_small(&mut self, v: u64) -> Result<()> {
        if v < 64 {
            self.bool(false);
            self.write_bits(v, 6);
            Ok(())
        } else {
            self.bool(true);
            self.semi_constrained(v as i64, 0)
        }
    }

    pub fn length(&mut self, n: usize, size: Size) -> Result<()> {
        if let Some(ub) = size.ub {
            if n > ub {
                return Err(self.err(PerErrorKind::TooLong { len: n, max: ub }));
            }
        }
        if n < size.lb {
            return Err(self.err(PerErrorKind::TooShort {
                len: n,
                min: size.lb,
            }));
        }
        if let Some(ub) = size.small_ub() {
            self.constrained_offset((n - size.lb) as u64, (ub - size.lb) as u64);
        } else {
            self.align();
            if n < 128 {
                self.write_bits(n as u64, 8);
            } else if n <= MAX_UNFRAGMENTED {
                self.write_bits(0x8000 | n as u64, 16);
            } else {
                return Err(self.err(PerErrorKind::Fragmented));
            }
        }
        Ok(())
    }

    pub fn choice_index(&mut self, idx: Index, root: u64, extensible: bool) -> Result<()> {
        match idx {
            Index::Root(i) => {
                if i >= root {
                    return Err(self.err(PerErrorKind::BadChoice(i)));
                }
                if extensible {
                    self.bool(false);
                }
                self.constrained_offset(i, root.saturating_sub(1));
                Ok(())
            }
            Index::Ext(i) => {
                if !extensible {
                    return Err(self.err(PerErrorKind::BadChoice(i)));
                }
                self.bool(true);
                self.normally_small(i)
            }
        }
    }

    pub fn enumerated(&mut self, idx: Index, root: u64, extensible: bool) -> Result<()> {
        self.choice_index(idx, root, extensible)
    }

    pub fn octet_string(&mut self, v: &[u8], size: Size) -> Result<()> {
        if size.is_fixed() {
            if v.len() != size.lb {
                return Err(self.err(PerErrorKind::Invalid("wrong fixed size")));
            }
            if v.len() > 2 {
                self.align();
            }
            self.write_octets(v);
            return Ok(());
        }
        self.length(v.len(), size)?;
        if !v.is_empty() {
            self.align();
        }
        self.write_octets(v);
        Ok(())
    }

    pub fn bit_string(&mut self, bits: &[u8], n: usize, size: Size) -> Result<()> {
        if bits.len() * 8 < n {
            return Err(self.err(PerErrorKind::Invalid(
                "bit string shorter than its bit count",
            )));
        }
        if size.is_fixed() {
            if n != size.lb {
                return Err(self.err(PerErrorKind::Invalid("wrong fixed size")));
            }
            if n > 16 {
                self.align();
            }
        } else {
            self.length(n, size)?;
            if n > 0 {
                self.align();
            }
        }
        for i in 0..n {
            self.write_bits(((bits[i / 8] >> (7 - i % 8)) & 1) as u64, 1);
        }
        Ok(())
    }

    pub fn char_string(&mut self, s: &str, alphabet: Alphabet, size: Size) -> Result<()> {
        let (b, remap) = alphabet.params();
        let units: Vec<u32> = if alphabet == Alphabet::Bmp {
            s.encode_utf16().map(|u| u as u32).collect()
        } else {
            s.chars().map(|c| c as u32).collect()
        };
        let n = units.len();
        if size.is_fixed() {
            if n != size.lb {
                return Err(self.err(PerErrorKind::Invalid("wrong fixed size")));
            }
        } else {
            self.length(n, size)?;
        }
        let aligned = match size.small_ub() {
            Some(ub) => ub * b as usize > 16,
            None => true,
        };
        if aligned && n > 0 {
            self.align();
        }
        for c in units {
            if !alphabet.permits(c) {
                return Err(self.err(PerErrorKind::BadChar(c)));
            }
            let code = if remap {
                alphabet
                    .value_to_code(c)
                    .ok_or_else(|| self.err(PerErrorKind::BadChar(c)))?
            } else {
                c
            };
            self.write_bits(code as u64, b);
        }
        Ok(())
    }

    pub fn object_identifier(&mut self, arcs: &[u64]) -> Result<()> {
        let bytes = encode_oid_contents(arcs).map_err(|k| self.err(k))?;
        self.length(bytes.len(), Size::unbounded())?;
        self.align();
        self.write_octets(&bytes);
        Ok(())
    }

    /// SEQUENCE preamble: `extended` only matters when `extensible`.
    pub fn preamble(&mut self, extensible: bool, extended: bool, optional: &[bool]) {
        if extensible {
            self.bool(extended);
        }
        for p in optional {
            self.bool(*p);
        }
    }

    /// Encodes `f` on its own, as the content of an open type.
    pub fn sub(&self, f: impl FnOnce(&mut Encoder) -> Result<()>) -> Result<Vec<u8>> {
        let mut sub = Encoder {
            buf: Vec::new(),
            bits: 0,
            path: self.path.clone(),
        };
        f(&mut sub)?;
        Ok(sub.finish())
    }

    /// Writes already-encoded content as an open type.
    pub fn open_type_bytes(&mut self, content: &[u8]) -> Result<()> {
        self.length(content.len(), Size::unbounded())?;
        self.align();
        self.write_octets(content);
        Ok(())
    }

    pub fn open_type(&mut self, f: impl FnOnce(&mut Encoder) -> Result<()>) -> Result<()> {
        let content = self.sub(f)?;
        self.open_type_bytes(&content)
    }

    /// Writes the extension-addition bitmap and the present additions as
    /// open types. `adds` has one entry per addition the type defines
    /// (X.691 19.7 counts them all, present or not), None when absent.
    /// Writes nothing when none is present (the preamble said not extended).
    pub fn extensions(&mut self, adds: &[Option<Vec<u8>>]) -> Result<()> {
        let n = adds.len();
        if !any_ext(adds) {
            return Ok(());
        }
        if n <= 64 {
            self.bool(false);
            self.write_bits(n as u64 - 1, 6);
        } else {
            self.bool(true);
            self.length(n, Size::unbounded())?;
        }
        for a in adds {
            self.bool(a.is_some());
        }
        for a in adds.iter().flatten() {
            self.open_type_bytes(a)?;
        }
        Ok(())
    }

    pub fn sequence_of<T>(
        &mut self,
        items: &[T],
        size: Size,
        mut f: impl FnMut(&mut Self, &T) -> Result<()>,
    ) -> Result<()> {
        if size.is_fixed() {
            if items.len() != size.lb {
                return Err(self.err(PerErrorKind::Invalid("wrong fixed size")));
            }
        } else {
            self.length(items.len(), size)?;
        }
        for (i, it) in items.iter().enumerate() {
            self.indexed(i, |e| f(e, it))?;
        }
        Ok(())
    }
}

/// True when any extension addition is present.
pub fn any_ext(adds: &[Option<Vec<u8>>]) -> bool {
    adds.iter().any(|a| a.is_some())
}

pub(crate) fn encode_oid_contents(arcs: &[u64]) -> std::result::Result<Vec<u8>, PerErrorKind> {
    if arcs.len() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39) {
        return Err(PerErrorKind::Invalid("invalid object identifier"));
    }
    let first = arcs[0]
        .checked_mul(40)
        .and_then(|v| v.checked_add(arcs[1]))
        .ok_or(PerErrorKind::IntegerTooLarge)?;
    let mut out = Vec::new();
    for v in std::iter::once(first).chain(arcs[2..].iter().copied()) {
        let mut groups = [0u8; 10];
        let mut n = 0;
        let mut x = v;
        loop {
            groups[n] = (x & 0x7F) as u8;
            n += 1;
            x >>= 7;
            if x == 0 {
                break;
            }
        }
        for i in (0..n).rev() {
            out.push(groups[i] | if i > 0 { 0x80 } else { 0 });
        }
    }
    Ok(out)
}

/// Convenience for encoding one value as a complete PER encoding.
pub fn encode_with(
    root: &'static str,
    f: impl FnOnce(&mut Encoder) -> Result<()>,
) -> Result<Vec<u8>> {
    let mut e = Encoder::with_root(root);
    f(&mut e)?;
    Ok(e.finish())
}

#[cfg(test)]
mod tests;

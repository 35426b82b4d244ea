//! ITU-T G.722 sub-band ADPCM (7 kHz audio in 64 kbit/s).
//!
//! The 16 kHz input is split by a 24-tap quadrature mirror filter pair into a
//! lower (0–4 kHz) and a higher (4–8 kHz) sub-band, each sampled at 8 kHz.
//! The lower band is coded with 6-bit ADPCM, the higher band with 2-bit
//! ADPCM, and one octet per sub-band sample pair is sent: `IH(2) | IL(6)`.
//! Both ADPCM coders are backward adaptive (scale factor and a 2-pole /
//! 6-zero predictor driven only by transmitted information), so the decoder
//! tracks the encoder without side information.
//!
//! The encoder always produces mode 1 (64 kbit/s). The decoder also accepts
//! modes 2 and 3 (56 and 48 kbit/s), where the one or two least significant
//! bits of each octet carry auxiliary data and are ignored for the audio.
//!
//! Samples are 16-bit linear PCM at 16 kHz; the recommendation works on
//! 14-bit samples, which this implementation absorbs into the QMF scaling.
//! Note for RTP users: the G.722 RTP clock rate is 8000 Hz (RFC 3551) even
//! though audio is sampled at 16 kHz.
//!
//! Arithmetic follows the recommendation's fixed-point description (16-bit
//! saturation, arithmetic right shifts), so the bit stream interoperates
//! with other conforming implementations.

/// Transmit/receive QMF coefficients h(0)..h(23), scaled by 2^13. The filter
/// is symmetric; its even and odd taps each sum to 4096.
const QMF: [i32; 24] = [
    3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876, 3876, 951, -805, -210, 362, 32,
    -156, 12, 53, -11, -11, 3,
];

/// Lower-band 6-bit quantiser decision levels Q6(1..=29) (index 0 unused),
/// normalised to a scale factor of 1 (multiplied by 8 when applied).
const Q6: [i32; 30] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
];

/// Lower-band 6-bit inverse quantiser outputs, indexed by the code word IL.
/// Codes 0..=3 are never produced by an encoder; they decode as the smallest
/// negative level, as the recommendation specifies.
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];

/// Lower-band 5-bit inverse quantiser outputs (mode 2), indexed by IL >> 1.
const QM5: [i32; 32] = [
    -280, -280, -23352, -17560, -14120, -11664, -9752, -8184, -6864, -5712, -4696, -3784, -2960,
    -2208, -1520, -880, 23352, 17560, 14120, 11664, 9752, 8184, 6864, 5712, 4696, 3784, 2960, 2208,
    1520, 880, 280, -280,
];

/// Lower-band 4-bit inverse quantiser outputs, indexed by IL >> 2. Used for
/// the predictor in every mode (so that modes 2/3 stay in step with a mode 1
/// encoder) and for the audio in mode 3.
const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];

/// Maps the 4-bit lower-band code IL >> 2 to a magnitude class for the scale
/// factor adaptation.
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
/// Lower-band log scale factor multipliers per magnitude class.
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];

/// Higher-band 2-bit inverse quantiser outputs, indexed by IH.
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];
/// Higher-band decision level (times 8 when applied).
const Q2: i32 = 564;
/// Maps IH to a magnitude class (1 = inner, 2 = outer) for adaptation.
const RH2: [usize; 4] = [2, 1, 2, 1];
/// Higher-band log scale factor multipliers per magnitude class.
const WH: [i32; 3] = [0, -214, 798];

/// Antilog table: 2^(i/32) scaled by 2048, for the scale factor conversion.
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

/// Upper bounds of the log scale factors (lower, higher band).
const NBL_MAX: i32 = 18432;
const NBH_MAX: i32 = 22528;

/// Bytes per 20 ms frame at 64 kbit/s.
pub const G722_FRAME_BYTES: usize = 160;
/// 16 kHz samples per 20 ms frame.
pub const G722_FRAME_SAMPLES: usize = 320;
/// Audio sampling rate of G.722.
pub const G722_SAMPLE_RATE: u32 = 16_000;
/// RTP clock rate of G.722 (RFC 3551 keeps 8000 for historical reasons).
pub const G722_RTP_CLOCK_RATE: u32 = 8_000;

#[inline]
fn sat16(x: i32) -> i32 {
    x.clamp(-32768, 32767)
}

/// Operating mode, which fixes how many lower-band bits carry audio.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum G722Mode {
    /// 64 kbit/s: 6 lower-band bits.
    #[default]
    Mode1,
    /// 56 kbit/s audio + 8 kbit/s data: 5 lower-band bits.
    Mode2,
    /// 48 kbit/s audio + 16 kbit/s data: 4 lower-band bits.
    Mode3,
}

impl G722Mode {
    /// The mode whose audio bit rate is `bps` (64000, 56000 or 48000).
    pub fn from_bitrate(bps: u32) -> Option<Self> {
        match bps {
            64_000 => Some(Self::Mode1),
            56_000 => Some(Self::Mode2),
            48_000 => Some(Self::Mode3),
            _ => None,
        }
    }

    /// Audio bit rate in bit/s.
    pub fn bitrate(self) -> u32 {
        match self {
            Self::Mode1 => 64_000,
            Self::Mode2 => 56_000,
            Self::Mode3 => 48_000,
        }
    }
}

/// Adaptive state of one sub-band ADPCM coder (identical in encoder and
/// decoder, which is what keeps them in step).
#[derive(Clone, Debug)]
struct Band {
    /// Signal estimate SL/SH for the next sample.
    s: i32,
    /// Zero-section part of the estimate.
    sz: i32,
    /// Reconstructed signal history r(n-1), r(n-2) at [1], [2].
    r: [i32; 3],
    /// Partially reconstructed signal history p(n-1), p(n-2).
    p: [i32; 3],
    /// Pole coefficients a1, a2.
    a: [i32; 3],
    /// Quantised difference history d(n-1)..d(n-6).
    d: [i32; 7],
    /// Zero coefficients b1..b6.
    b: [i32; 7],
    /// Log scale factor.
    nb: i32,
    /// Linear scale factor (quantiser step).
    det: i32,
}

impl Band {
    fn new(det: i32) -> Self {
        Band {
            s: 0,
            sz: 0,
            r: [0; 3],
            p: [0; 3],
            a: [0; 3],
            d: [0; 7],
            b: [0; 7],
            nb: 0,
            det,
        }
    }

    /// Log-domain scale factor update followed by the antilog conversion.
    /// `shift` is 8 for the lower band and 10 for the higher band, which is
    /// what gives the two bands their different minimum step sizes.
    fn adapt_scale(&mut self, w: i32, nb_max: i32, shift: i32) {
        // Leakage factor 127/128 pulls the scale back towards its minimum.
        self.nb = (((self.nb * 127) >> 7) + w).clamp(0, nb_max);
        let mantissa = ILB[((self.nb >> 6) & 31) as usize];
        let exp = shift - (self.nb >> 11);
        let lin = if exp >= 0 {
            mantissa >> exp
        } else {
            mantissa << -exp
        };
        self.det = lin << 2;
    }

    /// Updates the pole-zero predictor with the quantised difference `dq`
    /// and computes the estimate for the next sample.
    fn update_predictor(&mut self, dq: i32) {
        let r0 = sat16(self.s + dq);
        let p0 = sat16(self.sz + dq);

        // Pole coefficients adapt on sign agreement of the partially
        // reconstructed signal, with leakage; the limits keep the
        // second-order section stable.
        let neg0 = p0 < 0;
        let same1 = neg0 == (self.p[1] < 0);
        let same2 = neg0 == (self.p[2] < 0);
        let wd1 = sat16(self.a[1] << 2);
        let wd2 = (if same1 { -wd1 } else { wd1 }).min(32767);
        let a2 = ((wd2 >> 7) + (if same2 { 128 } else { -128 }) + ((self.a[2] * 32512) >> 15))
            .clamp(-12288, 12288);
        let a1_lim = 15360 - a2;
        let a1 =
            ((if same1 { 192 } else { -192 }) + ((self.a[1] * 32640) >> 15)).clamp(-a1_lim, a1_lim);

        // Zero coefficients: sign-sign LMS with leakage 255/256; no update
        // step when the difference is exactly zero.
        let step = if dq == 0 { 0 } else { 128 };
        for i in 1..7 {
            let agree = (dq < 0) == (self.d[i] < 0);
            let inc = if agree { step } else { -step };
            self.b[i] = sat16(inc + ((self.b[i] * 32640) >> 15));
        }

        self.d.copy_within(0..6, 1);
        self.d[1] = dq;
        self.p[2] = self.p[1];
        self.p[1] = p0;
        self.r[2] = self.r[1];
        self.r[1] = r0;
        self.a[1] = a1;
        self.a[2] = a2;

        let sp = sat16(
            ((self.a[1] * sat16(self.r[1] << 1)) >> 15)
                + ((self.a[2] * sat16(self.r[2] << 1)) >> 15),
        );
        let mut sz = 0;
        for i in 1..7 {
            sz += (self.b[i] * sat16(self.d[i] << 1)) >> 15;
        }
        self.sz = sat16(sz);
        self.s = sat16(sp + self.sz);
    }
}

/// Lower-band state update shared by encoder and decoder: inverse quantise
/// the 4-bit truncated code, adapt the scale, then the predictor.
fn lower_adapt(band: &mut Band, il6: usize) {
    let ril = il6 >> 2;
    let dlt = (band.det * QM4[ril]) >> 15;
    band.adapt_scale(WL[RL42[ril]], NBL_MAX, 8);
    band.update_predictor(dlt);
}

/// Higher-band state update shared by encoder and decoder; returns the
/// quantised difference.
fn higher_adapt(band: &mut Band, ih: usize) -> i32 {
    let dh = (band.det * QM2[ih]) >> 15;
    band.adapt_scale(WH[RH2[ih]], NBH_MAX, 10);
    band.update_predictor(dh);
    dh
}

/// G.722 encoder (mode 1, 64 kbit/s). Keeps filter and ADPCM state across
/// calls, so a stream may be fed in frames of any size.
#[derive(Clone, Debug)]
pub struct G722Encoder {
    /// Last 24 input samples, oldest first.
    hist: [i32; 24],
    /// An odd sample left over from the previous call.
    pending: Option<i16>,
    low: Band,
    high: Band,
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Encoder {
    /// A fresh encoder in the reset state of the recommendation.
    pub fn new() -> Self {
        G722Encoder {
            hist: [0; 24],
            pending: None,
            low: Band::new(32),
            high: Band::new(8),
        }
    }

    /// Returns the encoder to its initial state.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Encodes 16 kHz PCM, appending one octet per two samples to `out`.
    ///
    /// An odd trailing sample is kept and paired with the first sample of
    /// the next call.
    pub fn encode(&mut self, pcm16k: &[i16], out: &mut Vec<u8>) {
        let mut samples = pcm16k;
        out.reserve((pcm16k.len() + usize::from(self.pending.is_some())) / 2);
        if let Some(first) = self.pending.take() {
            match samples.split_first() {
                Some((&second, rest)) => {
                    out.push(self.encode_pair(first, second));
                    samples = rest;
                }
                None => {
                    self.pending = Some(first);
                    return;
                }
            }
        }
        let mut pairs = samples.chunks_exact(2);
        for pair in &mut pairs {
            out.push(self.encode_pair(pair[0], pair[1]));
        }
        if let [last] = pairs.remainder() {
            self.pending = Some(*last);
        }
    }

    fn encode_pair(&mut self, x0: i16, x1: i16) -> u8 {
        self.hist.copy_within(2.., 0);
        self.hist[22] = i32::from(x0);
        self.hist[23] = i32::from(x1);
        // With a symmetric filter, the low band is the plain convolution and
        // the high band the same with alternating signs (the h(n)(-1)^n
        // mirror filter). Newest sample sits at the odd index 23.
        let (mut even, mut odd) = (0i32, 0i32);
        for i in (0..24).step_by(2) {
            even += QMF[i] * self.hist[i];
            odd += QMF[i + 1] * self.hist[i + 1];
        }
        // >> 14 (not 13) maps 16-bit input onto the 15-bit sub-band range
        // the recommendation expects from 14-bit input.
        let xl = (odd + even) >> 14;
        let xh = (odd - even) >> 14;

        let il = self.encode_low(xl);
        let ih = self.encode_high(xh);
        ((ih << 6) | il) as u8
    }

    fn encode_low(&mut self, xl: i32) -> usize {
        let el = sat16(xl - self.low.s);
        // One's complement magnitude, as the recommendation specifies, so
        // that decision levels are symmetric about -1/2.
        let wd = if el >= 0 { el } else { -(el + 1) };
        let mut mil = 1usize;
        while mil < 30 && wd >= ((Q6[mil] << 3) * self.low.det) >> 15 {
            mil += 1;
        }
        // Interval mil (1 = innermost) to code word.
        let il = if el < 0 {
            if mil <= 2 {
                64 - mil
            } else {
                34 - mil
            }
        } else {
            62 - mil
        };
        lower_adapt(&mut self.low, il);
        il
    }

    fn encode_high(&mut self, xh: i32) -> usize {
        let eh = sat16(xh - self.high.s);
        let wd = if eh >= 0 { eh } else { -(eh + 1) };
        let outer = wd >= ((Q2 << 3) * self.high.det) >> 15;
        let ih = match (eh < 0, outer) {
            (true, true) => 0,
            (true, false) => 1,
            (false, true) => 2,
            (false, false) => 3,
        };
        higher_adapt(&mut self.high, ih);
        ih
    }
}

/// G.722 decoder for modes 1, 2 and 3. Keeps state across calls.
#[derive(Clone, Debug)]
pub struct G722Decoder {
    mode: G722Mode,
    /// Receive QMF inputs rL - rH and rL + rH, oldest first.
    xd: [i32; 12],
    xs: [i32; 12],
    low: Band,
    high: Band,
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Decoder {
    /// A mode 1 (64 kbit/s) decoder.
    pub fn new() -> Self {
        Self::with_mode(G722Mode::Mode1)
    }

    /// A decoder for the given mode (bit rate).
    pub fn with_mode(mode: G722Mode) -> Self {
        G722Decoder {
            mode,
            xd: [0; 12],
            xs: [0; 12],
            low: Band::new(32),
            high: Band::new(8),
        }
    }

    /// The current mode.
    pub fn mode(&self) -> G722Mode {
        self.mode
    }

    /// Switches mode without resetting the adaptive state; the recommendation
    /// allows the mode to change on any octet.
    pub fn set_mode(&mut self, mode: G722Mode) {
        self.mode = mode;
    }

    /// Returns the decoder to its initial state, keeping the mode.
    pub fn reset(&mut self) {
        *self = Self::with_mode(self.mode);
    }

    /// Decodes octets, appending two 16 kHz samples per octet to `out`.
    /// Every octet value is valid, so this cannot fail.
    pub fn decode(&mut self, bytes: &[u8], out: &mut Vec<i16>) {
        out.reserve(bytes.len() * 2);
        for &b in bytes {
            let (s0, s1) = self.decode_octet(b);
            out.push(s0);
            out.push(s1);
        }
    }

    fn decode_octet(&mut self, code: u8) -> (i16, i16) {
        let il = usize::from(code & 0x3F);
        let ih = usize::from(code >> 6);

        let qm = match self.mode {
            G722Mode::Mode1 => QM6[il],
            G722Mode::Mode2 => QM5[il >> 1],
            G722Mode::Mode3 => QM4[il >> 2],
        };
        let dl = (self.low.det * qm) >> 15;
        // The sub-band signals are 15-bit quantities.
        let rl = (self.low.s + dl).clamp(-16384, 16383);
        lower_adapt(&mut self.low, il);

        let sh = self.high.s;
        let dh = higher_adapt(&mut self.high, ih);
        let rh = (sh + dh).clamp(-16384, 16383);

        self.xd.copy_within(1.., 0);
        self.xs.copy_within(1.., 0);
        self.xd[11] = rl - rh;
        self.xs[11] = rl + rh;
        // Interpolation by the same QMF: even taps on the difference signal
        // give the first output sample, odd taps on the sum the second.
        let (mut y0, mut y1) = (0i32, 0i32);
        for i in 0..12 {
            y0 += QMF[2 * i] * self.xd[11 - i];
            y1 += QMF[2 * i + 1] * self.xs[11 - i];
        }
        // >> 11 restores 16-bit scale (x2 interpolation gain, x2 for the
        // 15-bit sub-bands, /2^13 coefficient scale).
        (sat16(y0 >> 11) as i16, sat16(y1 >> 11) as i16)
    }
}

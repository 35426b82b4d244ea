//! Seeded random and mutated inputs to every decoder of network input
//! (RAS, H323-UserInformation, H.245, Fast Start OLCs, Q.931, TPKT): each
//! returns Ok or a typed error, never panics; PER errors name a field.

mod common;

use common::calls::uu_samples;
use common::h245::h245_samples;
use common::samples;
use gateway_h323::h225::{H323UserInformation, RasMessage};
use gateway_h323::h245::{H245Message, OpenLogicalChannel};
use gateway_h323::q931::{Ie, Message, MessageType, UU_PROTOCOL_X208};
use gateway_h323::tpkt::{self, TpktFramer};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic, so a failure reproduces
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 => v.truncate(rng.below(v.len() + 1)),
            3 => {
                let i = rng.below(v.len() + 1);
                v.insert(i, rng.next() as u8);
            }
            _ if !v.is_empty() => {
                // lengths are the interesting octets: make one huge
                let i = rng.below(v.len());
                v[i] = 0xFF;
            }
            _ => {}
        }
    }
    v
}

fn q931_with_uu(mt: MessageType, uu: Vec<u8>) -> Vec<u8> {
    let mut m = Message::new(mt, 77, false);
    m.ies.push(Ie::UserUser {
        protocol_discriminator: UU_PROTOCOL_X208,
        data: uu,
    });
    m.build().unwrap()
}

#[test]
fn decoders_never_panic_on_random_or_mutated_input() {
    let ras: Vec<Vec<u8>> = samples().iter().map(|(_, m)| m.encode().unwrap()).collect();
    let uu: Vec<Vec<u8>> = uu_samples()
        .iter()
        .map(|(_, m)| m.encode().unwrap())
        .collect();
    let h245: Vec<Vec<u8>> = h245_samples()
        .iter()
        .map(|(_, m)| m.encode().unwrap())
        .collect();
    let olc = common::h245::olc_video_reverse()
        .encode_fast_start()
        .unwrap();
    let q931: Vec<Vec<u8>> = uu
        .iter()
        .map(|u| q931_with_uu(MessageType::Setup, u.clone()))
        .collect();
    // the seeds themselves decode
    for b in &ras {
        RasMessage::decode(b).unwrap();
    }
    for b in &uu {
        H323UserInformation::decode(b).unwrap();
    }
    for b in &h245 {
        H245Message::decode(b).unwrap();
    }
    OpenLogicalChannel::decode_fast_start(&olc).unwrap();

    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut per_errors = 0usize;
    let mut unnamed = Vec::new();
    let mut check = |r: Result<(), gateway_h323::per::PerError>, input: &[u8]| {
        if let Err(e) = r {
            per_errors += 1;
            if e.path.is_empty() {
                unnamed.push(format!("{e} for {input:02x?}"));
            }
        }
    };
    for round in 0..3000 {
        let random: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
        let r = mutate(&mut rng, &ras[round % ras.len()]);
        check(RasMessage::decode(&r).map(|_| ()), &r);
        check(RasMessage::decode(&random).map(|_| ()), &random);
        let u = mutate(&mut rng, &uu[round % uu.len()]);
        check(H323UserInformation::decode(&u).map(|_| ()), &u);
        check(H323UserInformation::decode(&random).map(|_| ()), &random);
        let h = mutate(&mut rng, &h245[round % h245.len()]);
        check(H245Message::decode(&h).map(|_| ()), &h);
        check(H245Message::decode(&random).map(|_| ()), &random);
        let o = mutate(&mut rng, &olc);
        check(OpenLogicalChannel::decode_fast_start(&o).map(|_| ()), &o);
        // Q.931 and TPKT: typed errors, any of them
        let q = mutate(&mut rng, &q931[round % q931.len()]);
        if let Ok(m) = Message::parse(&q) {
            if let Some(uu) = m.user_user() {
                let _ = H323UserInformation::decode(uu);
            }
        }
        let _ = Message::parse(&random);
        let mut framer = TpktFramer::new(4096);
        let framed = tpkt::encode(&q).unwrap();
        let t = mutate(&mut rng, &framed);
        for chunk in t.chunks(1 + rng.below(7)) {
            framer.push(chunk);
            let mut n = 0;
            while let Ok(Some(_)) = framer.next_frame() {
                n += 1;
                assert!(n < 10_000);
            }
        }
    }
    assert!(
        per_errors > 1000,
        "mutations should mostly fail: {per_errors}"
    );
    assert!(
        unnamed.is_empty(),
        "errors without a field path: {unnamed:?}"
    );
}

use aes::cipher::{BlockEncrypt, BlockSizeUser};
use aes::Block;

/// Blocks encrypted per batch: enough for the AES-NI pipeline (8 blocks)
/// and the whole of a typical 160-byte voice payload in one call.
const BATCH: usize = 8;

/// XORs AES counter-mode keystream starting at counter block `iv` into
/// `data`. The counter is the whole 128-bit block incremented as an integer,
/// which is what RFC 3711 §4.1.1 specifies.
pub(crate) fn apply_keystream<C>(cipher: &C, iv: [u8; 16], data: &mut [u8])
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = aes::cipher::consts::U16>,
{
    let mut ctr = u128::from_be_bytes(iv);
    let mut blocks = [Block::default(); BATCH];
    for chunk in data.chunks_mut(16 * BATCH) {
        let n = chunk.len().div_ceil(16);
        for b in blocks[..n].iter_mut() {
            *b = ctr.to_be_bytes().into();
            ctr = ctr.wrapping_add(1);
        }
        cipher.encrypt_blocks(&mut blocks[..n]);
        let mut full = chunk.chunks_exact_mut(16);
        let mut i = 0;
        for d in &mut full {
            let ks = u128::from_ne_bytes(blocks[i].into());
            let v = u128::from_ne_bytes((&*d).try_into().expect("16-byte chunk")) ^ ks;
            d.copy_from_slice(&v.to_ne_bytes());
            i += 1;
        }
        let rest = full.into_remainder();
        if !rest.is_empty() {
            for (d, k) in rest.iter_mut().zip(blocks[i].iter()) {
                *d ^= k;
            }
        }
    }
    // The keystream left on the stack is not wiped: it equals plaintext XOR
    // ciphertext, both of which the caller holds anyway.
}

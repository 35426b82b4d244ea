use std::fmt;

use zeroize::Zeroize;

use crate::{SrtpError, SrtpSuite};

const MAX_KEY: usize = 32;
const MAX_SALT: usize = 14;

/// An SRTP master key and master salt for one suite. Held in fixed arrays so
/// nothing is left behind in freed heap memory; wiped on drop and never
/// printed.
#[derive(Clone)]
pub struct SrtpKey {
    suite: SrtpSuite,
    key: [u8; MAX_KEY],
    salt: [u8; MAX_SALT],
}

impl SrtpKey {
    pub fn new(suite: SrtpSuite, key: &[u8], salt: &[u8]) -> Result<SrtpKey, SrtpError> {
        if key.len() != suite.key_len() || salt.len() != suite.salt_len() {
            return Err(SrtpError::BadKeyLength {
                suite,
                expected_key: suite.key_len(),
                expected_salt: suite.salt_len(),
                key: key.len(),
                salt: salt.len(),
            });
        }
        let mut k = SrtpKey {
            suite,
            key: [0; MAX_KEY],
            salt: [0; MAX_SALT],
        };
        k.key[..key.len()].copy_from_slice(key);
        k.salt[..salt.len()].copy_from_slice(salt);
        Ok(k)
    }

    /// From the SDES `inline:` layout, key followed by salt.
    pub fn from_concatenated(suite: SrtpSuite, key_and_salt: &[u8]) -> Result<SrtpKey, SrtpError> {
        let kl = suite.key_len();
        if key_and_salt.len() != kl + suite.salt_len() {
            return Err(SrtpError::BadKeyLength {
                suite,
                expected_key: kl,
                expected_salt: suite.salt_len(),
                key: key_and_salt.len().min(kl),
                salt: key_and_salt.len().saturating_sub(kl),
            });
        }
        SrtpKey::new(suite, &key_and_salt[..kl], &key_and_salt[kl..])
    }

    pub fn suite(&self) -> SrtpSuite {
        self.suite
    }

    pub fn master_key(&self) -> &[u8] {
        &self.key[..self.suite.key_len()]
    }

    pub fn master_salt(&self) -> &[u8] {
        &self.salt[..self.suite.salt_len()]
    }
}

impl Drop for SrtpKey {
    fn drop(&mut self) {
        self.key.zeroize();
        self.salt.zeroize();
    }
}

impl fmt::Debug for SrtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKey")
            .field("suite", &self.suite)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl PartialEq for SrtpKey {
    /// Constant time, so comparing a received key with ours leaks nothing.
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.suite == other.suite
            && bool::from(self.key.ct_eq(&other.key) & self.salt.ct_eq(&other.salt))
    }
}

impl Eq for SrtpKey {}

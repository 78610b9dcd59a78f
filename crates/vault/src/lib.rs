#![doc = include_str!("../README.md")]

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};

/// Why a key ring or a ciphertext was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    /// The key specification is malformed.
    #[error("file keys must be `id:64-hex-chars` separated by commas")]
    BadKeySpec,
    /// No key with this id is configured.
    #[error("no key `{0}` is configured")]
    UnknownKey(String),
    /// The ciphertext or its associated data was altered, or the key is wrong.
    #[error("the file failed authentication")]
    Tampered,
}

/// A sealed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Id of the key it was sealed with.
    pub key_id: String,
    /// 96-bit nonce.
    pub nonce: Vec<u8>,
    /// Ciphertext with its 128-bit tag.
    pub ciphertext: Vec<u8>,
}

/// The prefix of a sealed value kept in a text column.
pub const TEXT_PREFIX: &str = "sealed:v1:";

impl Sealed {
    /// The sealed value as one line of text for a text column:
    /// `sealed:v1:<key id>:<nonce hex>:<ciphertext hex>` (key ids cannot hold `:`).
    pub fn to_text(&self) -> String {
        format!(
            "{TEXT_PREFIX}{}:{}:{}",
            self.key_id,
            hex::encode(&self.nonce),
            hex::encode(&self.ciphertext)
        )
    }

    /// Reads [`Sealed::to_text`]'s form; `None` for anything else (e.g. a value stored before
    /// sealing, which the caller decides how to treat).
    pub fn from_text(text: &str) -> Option<Sealed> {
        let mut parts = text.strip_prefix(TEXT_PREFIX)?.split(':');
        let (key_id, nonce, ciphertext) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || key_id.is_empty() {
            return None;
        }
        Some(Sealed {
            key_id: key_id.to_owned(),
            nonce: hex::decode(nonce).ok()?,
            ciphertext: hex::decode(ciphertext).ok()?,
        })
    }
}

/// The configured keys; the first one encrypts.
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("KeyRing").field("ids", &ids).finish()
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    b
}

impl KeyRing {
    /// Parses `id:hex,id:hex,…`, newest first.
    pub fn parse(spec: &str) -> Result<KeyRing, VaultError> {
        let mut keys = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, hex_key) = part.split_once(':').ok_or(VaultError::BadKeySpec)?;
            let bytes = hex::decode(hex_key.trim()).map_err(|_| VaultError::BadKeySpec)?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| VaultError::BadKeySpec)?;
            if id.is_empty() || keys.iter().any(|(k, _)| k == id) {
                return Err(VaultError::BadKeySpec);
            }
            keys.push((id.to_owned(), key));
        }
        if keys.is_empty() {
            return Err(VaultError::BadKeySpec);
        }
        Ok(KeyRing { keys })
    }

    /// Writes the ring back as a spec.
    pub fn to_spec(&self) -> String {
        self.keys
            .iter()
            .map(|(id, k)| format!("{id}:{}", hex::encode(k)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A ring with one fresh key.
    pub fn generate(id: &str) -> KeyRing {
        KeyRing {
            keys: vec![(id.to_owned(), random::<32>())],
        }
    }

    /// Adds a fresh key in front: it encrypts from now on.
    pub fn rotate(&mut self, id: &str) {
        self.keys.insert(0, (id.to_owned(), random::<32>()));
    }

    /// Id of the key that encrypts.
    pub fn current_id(&self) -> &str {
        &self.keys[0].0
    }

    fn cipher(&self, id: &str) -> Result<Aes256Gcm, VaultError> {
        let (_, key) = self
            .keys
            .iter()
            .find(|(k, _)| k == id)
            .ok_or_else(|| VaultError::UnknownKey(id.to_owned()))?;
        Ok(Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key)))
    }

    /// Encrypts under the current key, binding the ciphertext to `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Sealed {
        let id = self.current_id().to_owned();
        let nonce = random::<12>();
        let ciphertext = self
            .cipher(&id)
            .expect("the current key exists")
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        Sealed {
            key_id: id,
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    /// Decrypts and authenticates.
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Vec<u8>, VaultError> {
        let nonce: [u8; 12] = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Tampered)?;
        self.cipher(&sealed.key_id)?
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad,
                },
            )
            .map_err(|_| VaultError::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let ring = KeyRing::generate("k1");
        let sealed = ring.seal(b"%PDF-1.7 secret", b"file-1");
        assert!(!sealed.ciphertext.windows(6).any(|w| w == b"secret"));
        assert_eq!(ring.open(&sealed, b"file-1").unwrap(), b"%PDF-1.7 secret");
        assert_eq!(
            ring.open(&sealed, b"file-2"),
            Err(VaultError::Tampered),
            "bound to its row"
        );
        let mut bad = sealed.clone();
        bad.ciphertext[0] ^= 1;
        assert_eq!(ring.open(&bad, b"file-1"), Err(VaultError::Tampered));
    }

    #[test]
    fn text_form_round_trips_and_rejects_other_text() {
        let ring = KeyRing::generate("k1");
        let sealed = ring.seal(b"JBSWY3DPEHPK3PXP", b"totp:1");
        let text = sealed.to_text();
        assert!(text.starts_with("sealed:v1:k1:"));
        assert!(!text.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(Sealed::from_text(&text), Some(sealed.clone()));
        assert_eq!(
            ring.open(&Sealed::from_text(&text).unwrap(), b"totp:1")
                .unwrap(),
            b"JBSWY3DPEHPK3PXP"
        );
        assert_eq!(Sealed::from_text("JBSWY3DPEHPK3PXP"), None, "plaintext");
        assert_eq!(Sealed::from_text("sealed:v1:k1:zz:00"), None, "not hex");
        assert_eq!(Sealed::from_text("sealed:v1::00:00"), None, "no key id");
        assert_eq!(Sealed::from_text("sealed:v1:k1:00:00:00"), None);
    }

    #[test]
    fn rotation_keeps_old_files_readable() {
        let mut ring = KeyRing::generate("k1");
        let old = ring.seal(b"old", b"a");
        ring.rotate("k2");
        assert_eq!(ring.current_id(), "k2");
        assert_eq!(ring.open(&old, b"a").unwrap(), b"old");
        let parsed = KeyRing::parse(&ring.to_spec()).unwrap();
        assert_eq!(parsed.open(&old, b"a").unwrap(), b"old");
        assert!(KeyRing::parse("k1:abcd").is_err());
        assert!(KeyRing::parse("").is_err());
    }
}

//! The three hashes Graph reports for a file, computed in one pass as its bytes stream by.

use base64::Engine;
use sha1::Digest;

use super::StoredBlob;

/// The three hashes, fed together as bytes stream by.
pub(super) struct Hashers {
    sha256: sha2::Sha256,
    sha1: sha1::Sha1,
    quickxor: quickxorhash::QuickXorHash,
    size: u64,
}

impl Hashers {
    pub(super) fn new() -> Self {
        Self {
            sha256: sha2::Sha256::new(),
            sha1: sha1::Sha1::new(),
            quickxor: quickxorhash::QuickXorHash::new(),
            size: 0,
        }
    }

    /// Bytes hashed so far.
    pub(super) fn size(&self) -> u64 {
        self.size
    }

    pub(super) fn update(&mut self, chunk: &[u8]) {
        self.sha256.update(chunk);
        self.sha1.update(chunk);
        self.quickxor.update(chunk);
        self.size += chunk.len() as u64;
    }

    pub(super) fn finish(mut self) -> StoredBlob {
        StoredBlob {
            sha256: hex::encode(self.sha256.finalize()),
            sha1: hex::encode_upper(self.sha1.finalize()),
            quickxor: base64::engine::general_purpose::STANDARD.encode(self.quickxor.finalize()),
            size: self.size,
            object: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_of_known_inputs() {
        let empty = Hashers::new().finish();
        assert_eq!(
            empty.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(empty.sha1, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709");
        assert_eq!(empty.quickxor, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        let mut h = Hashers::new();
        h.update(b"hello ");
        h.update(b"world");
        let b = h.finish();
        assert_eq!(b.size, 11);
        assert_eq!(b.sha1, "2AAE6C35C94FCFB415DBE95F408B9CE91EE846ED");
        // As `rclone hashsum quickxor` reports it (hex of the same 20 bytes).
        assert_eq!(b.quickxor, "aCgDG9jwBhDc4Q1yawMZAAAAAAA=");
    }
}

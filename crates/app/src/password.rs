//! Password hashing for local credentials (staff, and citizens where the municipality allows it):
//! argon2id with the crate's default parameters and a random 16-byte salt, stored as a PHC string.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::TryRngCore;
use rand::rngs::OsRng;

use crate::error::AppError;

/// Hashes `password` into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`). Slow on purpose:
/// call it outside transactions, and from async code through `spawn_blocking`.
pub fn hash(password: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|_| AppError::Password)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| AppError::Password)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AppError::Password)
}

/// True when `password` matches the PHC string `phc`; false for a wrong password or a malformed
/// hash. The parameters are read from the PHC string, so older hashes keep verifying.
pub fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_verifies() {
        let h = hash("demo-ufficio").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(verify(&h, "demo-ufficio"));
        assert!(!verify(&h, "demo-ufficio "));
        assert!(!verify(&h, ""));
        assert!(!verify(&h, "x"));
    }

    #[test]
    fn salts_differ() {
        let a = hash("same").unwrap();
        let b = hash("same").unwrap();
        assert_ne!(a, b);
        assert!(verify(&a, "same") && verify(&b, "same"));
    }

    #[test]
    fn empty_and_unicode_passwords() {
        let h = hash("").unwrap();
        assert!(verify(&h, ""));
        assert!(!verify(&h, " "));
        let h = hash("perché-così").unwrap();
        assert!(verify(&h, "perché-così"));
        assert!(!verify(&h, "perche-cosi"));
    }

    #[test]
    fn malformed_hashes_never_verify() {
        for phc in [
            "",
            "x",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$abc$def",
            "plain",
        ] {
            assert!(!verify(phc, "x"), "{phc}");
            assert!(!verify(phc, ""), "{phc}");
        }
    }
}

//! Password hashing with argon2id at OWASP's recommended parameters (19 MiB, 2 passes, 1 lane).
//! Hashing is deliberately slow, so it runs on the blocking pool, never on an async worker.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

/// The shortest password accepted for a new account.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted (bounds the hashing work an attacker can ask for).
pub const MAX_PASSWORD_CHARS: usize = 256;

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1.
    let params = Params::new(19_456, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let hash = argon2()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("could not hash a password: {e}"))?;
    Ok(hash.to_string())
}

pub fn verify_blocking(password: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Hashes on the blocking pool.
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
}

/// Verifies on the blocking pool. With no stored hash (unknown user) it still does the work,
/// so response time does not tell which emails exist.
pub async fn verify(password: String, stored_hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || match stored_hash {
        Some(hash) => verify_blocking(&password, &hash),
        None => {
            let _ = hash_blocking(&password);
            false
        }
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_no_other() {
        let hash = hash_blocking("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_blocking("correct horse battery", &hash));
        assert!(!verify_blocking("correct horse battery!", &hash));
        assert!(!verify_blocking("anything", "not a hash"));
    }
}

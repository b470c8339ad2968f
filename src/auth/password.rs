//! Password hashing with argon2id at OWASP's recommended parameters (19 MiB, 2 passes, 1 lane).
//! Hashing is deliberately slow, so it runs on the blocking pool, never on an async worker, and
//! no more hashes run at once than the machine has cores: each takes 19 MiB, and a crowd of
//! logins would otherwise take gigabytes. A request that cannot get a turn within
//! [`HASHING_WAIT`] is refused ([`Busy`]; the API answers 503 with `Retry-After`).

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

/// The shortest password accepted for a new account.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted (bounds the hashing work an attacker can ask for).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The least zxcvbn score (0–4) a new password must reach: 3 is "safely unguessable" against
/// an offline attack on a slow hash.
pub const MIN_STRENGTH: u8 = 3;

/// Whether `password` may be set for the user with `email`: 12 to 256 characters, not the
/// published demo password, and hard to guess (zxcvbn score of at least [`MIN_STRENGTH`],
/// knowing the email, its name part and this product's name). The refusal says why.
pub fn check_strength(password: &str, email: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(format!(
            "password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        ));
    }
    if password.contains(crate::demo::DEMO_PASSWORD) {
        return Err("the demo's published password cannot be used".into());
    }
    let local = email.split('@').next().unwrap_or(email);
    let estimate = zxcvbn::zxcvbn(password, &[email, local, "holdfast"]);
    if u8::from(estimate.score()) < MIN_STRENGTH {
        let hint = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .unwrap_or_else(|| "add another word or two that are not common".into());
        return Err(format!("this password is too easy to guess: {hint}"));
    }
    Ok(())
}

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

/// How long a request waits for a turn to hash.
pub const HASHING_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// No turn to hash came within [`HASHING_WAIT`].
#[derive(Debug, thiserror::Error)]
#[error("too many passwords are being checked at once; try again shortly")]
pub struct Busy;

/// The turns: as many as the machine has cores.
fn turns() -> &'static tokio::sync::Semaphore {
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        tokio::sync::Semaphore::new(cores)
    })
}

/// Runs `work` on the blocking pool once a turn is free.
async fn in_turn<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
    let _turn = tokio::time::timeout(HASHING_WAIT, turns().acquire())
        .await
        .map_err(|_| Busy)?
        .map_err(|_| Busy)?;
    tokio::task::spawn_blocking(work).await.map_err(|_| Busy)
}

/// Hashes on the blocking pool, in turn.
pub async fn hash(password: String) -> anyhow::Result<String> {
    in_turn(move || hash_blocking(&password)).await?
}

/// Verifies on the blocking pool, in turn. With no stored hash (unknown user) it still does
/// the work, so response time does not tell which emails exist.
pub async fn verify(password: String, stored_hash: Option<String>) -> Result<bool, Busy> {
    in_turn(move || match stored_hash {
        Some(hash) => verify_blocking(&password, &hash),
        None => {
            let _ = hash_blocking(&password);
            false
        }
    })
    .await
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

    #[test]
    fn weak_common_or_personal_passwords_are_refused() {
        for weak in [
            "aaaaaaaaaaaa",
            "password1234",
            "            ",
            "short",
            "owner@yantai.test",
            "holdfast-demo-2026",
        ] {
            assert!(
                check_strength(weak, "owner@yantai.test").is_err(),
                "{weak:?}"
            );
        }
        assert!(check_strength("Yantai-apples-in-cold-store-7", "owner@yantai.test").is_ok());
    }

    #[actix_web::test]
    async fn with_every_turn_taken_a_check_is_refused_after_the_wait_not_queued_forever() {
        let all = turns().available_permits() as u32;
        let held = turns().acquire_many(all).await.expect("turns");
        let started = std::time::Instant::now();
        let refused = verify("whatever".into(), None).await;
        assert!(refused.is_err());
        assert!(started.elapsed() >= HASHING_WAIT);
        drop(held);
        assert_eq!(verify("whatever".into(), None).await.ok(), Some(false));
    }
}

//! Password hashing with argon2id at OWASP's recommended parameters (19 MiB, 2 passes, 1 lane).
//! Hashing is deliberately slow, so it runs on a few threads of its own (one per core), never
//! on an async worker, and no more hashes run at once than there are such threads: each takes
//! 19 MiB, and a crowd of logins on the blocking pool's many threads would leave that much
//! behind in each thread's allocator, gigabytes in all. A request that cannot get a turn within
//! [`HASHING_WAIT`] is refused ([`Busy`]; the API answers 503 with `Retry-After`).

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};

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

thread_local! {
    /// The hashing thread's argon2 memory, allocated once and reused: allocating 19 MiB for
    /// every hash leaves it resident with the system allocator, and the server grew by that
    /// much with every login.
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `work` with `blocks` blocks of this thread's argon2 memory.
fn with_memory<T>(blocks: usize, work: impl FnOnce(&mut [argon2::Block]) -> T) -> T {
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() != blocks {
            *memory = vec![argon2::Block::default(); blocks];
        }
        work(&mut memory)
    })
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) for `password`, with a
/// fresh random salt.
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::phc::{Output, Salt};
    let argon = argon2();
    let params = argon.params().clone();
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness for a salt: {e}"))?;
    let mut out = [0u8; 32];
    with_memory(params.block_count(), |memory| {
        argon.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
    })
    .map_err(|e| anyhow::anyhow!("could not hash a password: {e}"))?;
    let salt = Salt::try_from(&salt[..]).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let out = Output::new(&out).map_err(|e| anyhow::anyhow!("output: {e}"))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${salt}${out}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost()
    ))
}

/// Whether `password` matches the PHC string `stored`, compared in constant time.
pub fn verify_blocking(password: &str, stored_hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored_hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
        None => Version::default(),
    };
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.as_bytes().len()];
    let computed = with_memory(params.block_count(), |memory| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, memory)
    });
    computed.is_ok()
        && out.len() == expected.as_bytes().len()
        && out
            .iter()
            .zip(expected.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// How long a request waits for a turn to hash.
pub const HASHING_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// No turn to hash came within [`HASHING_WAIT`].
#[derive(Debug, thiserror::Error)]
#[error("too many passwords are being checked at once; try again shortly")]
pub struct Busy;

/// How many hashes run at once: as many as the machine has cores.
fn hashers() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// The turns to hash.
fn turns() -> &'static tokio::sync::Semaphore {
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    TURNS.get_or_init(|| tokio::sync::Semaphore::new(hashers()))
}

type Job = Box<dyn FnOnce() + Send>;

/// The threads that hash: a fixed few, so the memory each hash takes is reused by the next
/// instead of staying behind in the allocator of every thread that ever hashed.
fn hashing_threads() -> &'static std::sync::Mutex<std::sync::mpsc::Sender<Job>> {
    static QUEUE: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Job>>> =
        std::sync::OnceLock::new();
    QUEUE.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = std::sync::Arc::new(std::sync::Mutex::new(receiver));
        for n in 0..hashers() {
            let receiver = receiver.clone();
            let _ = std::thread::Builder::new()
                .name(format!("hashing-{n}"))
                .spawn(move || {
                    loop {
                        let job = match receiver.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
        }
        std::sync::Mutex::new(sender)
    })
}

/// Runs `work` on a hashing thread once a turn is free.
async fn in_turn<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
    let _turn = tokio::time::timeout(HASHING_WAIT, turns().acquire())
        .await
        .map_err(|_| Busy)?
        .map_err(|_| Busy)?;
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(work());
    });
    hashing_threads()
        .lock()
        .map_err(|_| Busy)?
        .send(job)
        .map_err(|_| Busy)?;
    result.await.map_err(|_| Busy)
}

/// Hashes on a hashing thread, in turn.
pub async fn hash(password: String) -> anyhow::Result<String> {
    in_turn(move || hash_blocking(&password)).await?
}

/// Verifies on a hashing thread, in turn. With no stored hash (unknown user) it still does
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
    fn hashes_made_by_the_crate_and_by_this_module_both_verify() {
        use argon2::PasswordHasher;
        let theirs = argon2()
            .hash_password(b"correct horse battery")
            .expect("hash")
            .to_string();
        assert!(verify_blocking("correct horse battery", &theirs));
        assert!(!verify_blocking("correct horse batter", &theirs));
        let ours = hash_blocking("correct horse battery").expect("hash");
        let parsed = PasswordHash::new(&ours).expect("a PHC string");
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert!(verify_blocking("correct horse battery", &ours));
        assert!(!verify_blocking("correct horse batter", &ours));
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

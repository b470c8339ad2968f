//! What the database last answered about an access token being honoured, kept for a moment.
//!
//! Every API request asks whether its access token is still honoured (the user's token
//! generation unchanged, the user not disabled, the login not ended): one more checkout of a
//! pool connection and one more round trip, before the request's own transaction, for an
//! answer that changes a few times in a user's life. An answer of "honoured" is kept here for
//! [`KEPT_FOR`]; a refusal is never kept. Every revocation this process makes (logout, a reused
//! refresh token, a changed password, changed permissions, a disabled user) forgets everything
//! kept and keeps nothing new for [`QUIET_FOR`] (longer than a request's transaction may
//! run, so no answer read before the revocation committed is kept after it), so on the
//! instance that made it a revocation holds for the next request; another instance of the
//! service honours the ended token for at most [`KEPT_FOR`] more.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long an answer of "honoured" is trusted without asking the database again.
pub const KEPT_FOR: Duration = Duration::from_secs(1);

/// After a revocation, answers are asked every time for this long: a request's transaction
/// is ended after 60 s (`statement_timeout`, `idle_in_transaction_session_timeout`), so the
/// revocation has committed by then and no answer read before it is kept.
pub const QUIET_FOR: Duration = Duration::from_secs(70);

/// At most this many answers are kept (one per user, login and generation seen in the last
/// second); when full, all are forgotten and asked again.
const MOST: usize = 4096;

/// A token as the check knows it: its user, its login, its generation.
type Key = (Uuid, Option<Uuid>, i32);

/// The answers kept, and when the last revocation was.
struct Kept {
    answers: HashMap<Key, Instant>,
    revoked: Option<Instant>,
}

static KEPT: Mutex<Option<Kept>> = Mutex::new(None);

fn kept() -> std::sync::MutexGuard<'static, Option<Kept>> {
    KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether the database said, less than [`KEPT_FOR`] ago, that this token is honoured.
pub fn recently_honoured(user: Uuid, session: Option<Uuid>, generation: i32) -> bool {
    let now = Instant::now();
    kept()
        .as_ref()
        .and_then(|kept| kept.answers.get(&(user, session, generation)))
        .is_some_and(|asked| now.duration_since(*asked) < KEPT_FOR)
}

/// Keeps the database's answer that this token is honoured, as of `asked` (taken before the
/// question was sent), unless a revocation was made in the last [`QUIET_FOR`].
pub fn keep(user: Uuid, session: Option<Uuid>, generation: i32, asked: Instant) {
    let mut kept = kept();
    let kept = kept.get_or_insert_with(|| Kept {
        answers: HashMap::new(),
        revoked: None,
    });
    if kept
        .revoked
        .is_some_and(|revoked| revoked.elapsed() < QUIET_FOR)
    {
        return;
    }
    let map = &mut kept.answers;
    if map.len() >= MOST {
        map.retain(|_, at| asked.duration_since(*at) < KEPT_FOR);
        if map.len() >= MOST {
            map.clear();
        }
    }
    map.insert((user, session, generation), asked);
}

/// Forgets every kept answer and keeps none for [`QUIET_FOR`]: called by each revocation,
/// inside its transaction.
pub fn forget_all() {
    *kept() = Some(Kept {
        answers: HashMap::new(),
        revoked: Some(Instant::now()),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the answers are the process's, and tests run in parallel.
    #[test]
    fn an_answer_is_kept_for_a_second_and_forgotten_by_a_revocation() {
        let (user, session) = (Uuid::new_v4(), Some(Uuid::new_v4()));
        assert!(!recently_honoured(user, session, 1));
        keep(user, session, 1, Instant::now());
        assert!(recently_honoured(user, session, 1));
        // Another generation (the user's tokens were ended) or another login is not the same.
        assert!(!recently_honoured(user, session, 2));
        assert!(!recently_honoured(user, None, 1));
        // An answer older than a second is asked again.
        let other = Uuid::new_v4();
        keep(other, None, 1, Instant::now() - KEPT_FOR);
        assert!(!recently_honoured(other, None, 1));
        forget_all();
        assert!(!recently_honoured(user, session, 1));
        // Nothing is kept while a revocation may still be committing.
        keep(user, session, 1, Instant::now());
        assert!(!recently_honoured(user, session, 1));
    }
}

//! A bounded number of turns for work that costs the database far more than a request's
//! usual few statements — settling a sale writes some thirty rows and the exposure upkeep of a
//! paid-off loan. Such requests queue here, first come first served, before they take a
//! connection; the rest (scans, reads) go by. With every settlement of a burst in the
//! database at once, each one's CPU was shared sixteen ways and its latency spread wide
//! (p99 about 2.3 × the median at 32 clients); with a few turns the same work finishes at the
//! same rate and the queue, being fair, keeps the slowest close to the median
//! (`docs/benchmarks.md`, 2026-12-02 afternoon).

use crate::error::{ApiError, ApiResult};
use actix_web::http::StatusCode;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// How long a request waits for a turn before it is answered 503 with `Retry-After`.
pub const WAIT: Duration = Duration::from_secs(5);

pub struct Gate {
    turns: Semaphore,
    what: &'static str,
}

impl Gate {
    /// A gate of `turns` turns (at least one) for `what` (named in the busy answer).
    pub fn new(turns: usize, what: &'static str) -> Self {
        Self {
            turns: Semaphore::new(turns.max(1)),
            what,
        }
    }

    /// Waits for a turn, at most [`WAIT`]; the turn is given back when the permit drops.
    pub async fn enter(&self) -> ApiResult<SemaphorePermit<'_>> {
        self.enter_within(WAIT).await
    }

    pub async fn enter_within(&self, wait: Duration) -> ApiResult<SemaphorePermit<'_>> {
        match tokio::time::timeout(wait, self.turns.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!(
                    "too many {} are running at once; try again shortly",
                    self.what
                ),
            )
            .retry_after(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn turns_are_bounded_and_a_request_without_one_is_told_to_come_back() {
        let gate = Gate::new(1, "settlements");
        let held = gate.enter().await.expect("the one turn");
        let refused = gate
            .enter_within(Duration::from_millis(20))
            .await
            .expect_err("no turn left");
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.code, "busy");
        assert_eq!(refused.retry_after, Some(1));
        drop(held);
        assert!(gate.enter_within(Duration::from_millis(20)).await.is_ok());
    }
}

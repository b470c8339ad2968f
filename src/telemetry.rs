//! The tracing subscriber: JSON lines in production, compact text locally.
//!
//! Nothing here logs request headers or bodies, so tokens, passwords and `Authorization`
//! headers never reach the logs; the request middleware records only method, route, status,
//! request id and duration.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG` overrides the default `info` level.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Compact => builder.compact().try_init(),
    };
    // A second init (tests, embedded use) keeps the first subscriber.
    let _ = result;
}

//! Typed settings read from the environment once, at start, and validated there.

use std::net::SocketAddr;
use std::path::PathBuf;

/// The shortest JWT signing secret accepted, in bytes (HS256 wants at least its output size).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Compact,
    Json,
}

#[derive(Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub database_url: Option<String>,
    pub jwt_secret: Vec<u8>,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub pool_size: usize,
    /// How many settling requests (a sale's payment or consent) run at once
    /// (`HOLDFAST_SETTLING_TURNS`; default twice the cores and two more).
    pub settling_turns: usize,
    pub access_token_ttl_seconds: i64,
    pub refresh_token_ttl_days: i64,
    /// On SIGTERM, how long the server keeps answering (each answer closing its connection)
    /// before it stops; longer than the keep-alive, so idle connections end first.
    pub drain_seconds: u64,
    /// Lets `jobs daily --as-of` close days after today (tests and demos play out "40 days
    /// later"); off in production.
    pub allow_future_dates: bool,
}

impl std::fmt::Debug for Config {
    // The secret and the database URL (which may hold a password) are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("data_dir", &self.data_dir)
            .field("log_format", &self.log_format)
            .field("pool_size", &self.pool_size)
            .field("settling_turns", &self.settling_turns)
            .finish_non_exhaustive()
    }
}

/// Why the environment could not be turned into a `Config`; each says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error(
        "HOLDFAST_JWT_SECRET is not set: set it to a random string of at least {MIN_JWT_SECRET_BYTES} bytes (for example `openssl rand -hex 32`), or run with --demo"
    )]
    MissingJwtSecret,
}

/// Where the JWT secret comes from when the environment has none.
pub enum SecretPolicy {
    /// A missing secret is a start-up error.
    Required,
    /// A missing secret is replaced by a random one (demo and tools that sign nothing).
    GenerateIfMissing,
}

impl Config {
    pub fn from_env(secret_policy: SecretPolicy) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok(), secret_policy)
    }

    /// Reads settings through `lookup`, so tests can supply their own environment. Long
    /// because it reads every setting in turn, each with its default and its one check.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        secret_policy: SecretPolicy,
    ) -> Result<Self, ConfigError> {
        let bind = match lookup("HOLDFAST_BIND") {
            Some(value) => value.parse().map_err(|e| ConfigError::Invalid {
                name: "HOLDFAST_BIND",
                reason: format!("expected host:port such as 127.0.0.1:8080 ({e})"),
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let database_url = lookup("DATABASE_URL").filter(|url| !url.trim().is_empty());
        if let Some(url) = &database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                reason: "expected a postgres:// URL".into(),
            });
        }
        let jwt_secret = match lookup("HOLDFAST_JWT_SECRET") {
            Some(secret) if secret.len() >= MIN_JWT_SECRET_BYTES => secret.into_bytes(),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "HOLDFAST_JWT_SECRET",
                    reason: format!("it must be at least {MIN_JWT_SECRET_BYTES} bytes long"),
                });
            }
            None => match secret_policy {
                SecretPolicy::Required => return Err(ConfigError::MissingJwtSecret),
                SecretPolicy::GenerateIfMissing => random_secret(),
            },
        };
        let data_dir = lookup("HOLDFAST_DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("./.holdfast"));
        let log_format = match lookup("HOLDFAST_LOG_FORMAT").as_deref() {
            None | Some("compact") | Some("text") => LogFormat::Compact,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "HOLDFAST_LOG_FORMAT",
                    reason: format!("expected `json` or `compact`, got `{other}`"),
                });
            }
        };
        let pool_size = parse_number(&lookup, "HOLDFAST_POOL_SIZE", 16, 1, 1000)?;
        let settling_turns = parse_number(
            &lookup,
            "HOLDFAST_SETTLING_TURNS",
            default_settling_turns(),
            1,
            1000,
        )?;
        let access_token_ttl_seconds = parse_number(
            &lookup,
            "HOLDFAST_ACCESS_TOKEN_TTL_SECONDS",
            900,
            60,
            86_400,
        )?;
        let refresh_token_ttl_days =
            parse_number(&lookup, "HOLDFAST_REFRESH_TOKEN_TTL_DAYS", 30, 1, 365)?;
        let drain_seconds = parse_number(&lookup, "HOLDFAST_DRAIN_SECONDS", 6, 0, 600)?;
        let allow_future_dates = match lookup("HOLDFAST_ALLOW_FUTURE_DATES").as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "HOLDFAST_ALLOW_FUTURE_DATES",
                    reason: format!("expected `true` or `false`, got `{other}`"),
                });
            }
        };
        Ok(Self {
            allow_future_dates,
            bind,
            database_url,
            jwt_secret,
            data_dir,
            log_format,
            pool_size: pool_size as usize,
            settling_turns: settling_turns as usize,
            access_token_ttl_seconds,
            refresh_token_ttl_days,
            drain_seconds: drain_seconds as u64,
        })
    }
}

/// Twice the cores and two more: the usual size of a PostgreSQL connection pool for work that
/// keeps the CPU busy.
fn default_settling_turns() -> i64 {
    2 * std::thread::available_parallelism().map_or(2, |n| n.get() as i64) + 2
}

fn parse_number(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ConfigError> {
    let Some(raw) = lookup(name) else {
        return Ok(default);
    };
    match raw.trim().parse::<i64>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => Err(ConfigError::Invalid {
            name,
            reason: format!("expected a whole number from {min} to {max}, got `{raw}`"),
        }),
    }
}

/// 32 random bytes, hex-encoded, for a secret nobody configured.
pub fn random_secret() -> Vec<u8> {
    crate::auth::tokens::random_token().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)], policy: SecretPolicy) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| env.get(name).cloned(), policy)
    }

    #[test]
    fn defaults_apply_when_only_the_secret_is_set() {
        let config = config(
            &[("HOLDFAST_JWT_SECRET", &"s".repeat(32))],
            SecretPolicy::Required,
        )
        .expect("valid config");
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.data_dir, PathBuf::from("./.holdfast"));
        assert!(config.database_url.is_none());
        assert_eq!(config.log_format, LogFormat::Compact);
    }

    #[test]
    fn a_missing_secret_is_an_error_unless_generation_is_allowed() {
        assert!(matches!(
            config(&[], SecretPolicy::Required),
            Err(ConfigError::MissingJwtSecret)
        ));
        let generated = config(&[], SecretPolicy::GenerateIfMissing).expect("generated");
        assert!(generated.jwt_secret.len() >= MIN_JWT_SECRET_BYTES);
    }

    #[test]
    fn a_short_secret_and_a_bad_bind_are_refused_with_their_names() {
        let short = config(&[("HOLDFAST_JWT_SECRET", "short")], SecretPolicy::Required);
        assert!(
            short
                .unwrap_err()
                .to_string()
                .contains("HOLDFAST_JWT_SECRET")
        );
        let bind = config(
            &[
                ("HOLDFAST_JWT_SECRET", &"s".repeat(40)),
                ("HOLDFAST_BIND", "nowhere"),
            ],
            SecretPolicy::Required,
        );
        assert!(bind.unwrap_err().to_string().contains("HOLDFAST_BIND"));
        let url = config(
            &[
                ("HOLDFAST_JWT_SECRET", &"s".repeat(40)),
                ("DATABASE_URL", "mysql://x"),
            ],
            SecretPolicy::Required,
        );
        assert!(url.unwrap_err().to_string().contains("DATABASE_URL"));
    }
}

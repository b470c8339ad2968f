//! Access tokens: short-lived HS256 JWTs with `iss`, `aud`, `sub`, `exp` and `iat` required.

use super::principal::{OrgKind, Permission, Principal, Role};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "holdfast";
pub const AUDIENCE: &str = "holdfast-api";
/// Clock skew tolerated when checking `exp` and `iat`.
pub const LEEWAY_SECONDS: u64 = 30;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub exp: i64,
    pub iat: i64,
    pub org: Uuid,
    pub kind: OrgKind,
    pub role: Role,
    pub perms: Vec<Permission>,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub ttl_seconds: i64,
}

impl JwtKeys {
    pub fn new(secret: &[u8], ttl_seconds: i64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["iss", "aud", "sub", "exp", "iat"]);
        validation.validate_exp = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_seconds,
        }
    }

    pub fn issue(&self, principal: &Principal, now: i64) -> anyhow::Result<String> {
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: principal.user_id,
            exp: now + self.ttl_seconds,
            iat: now,
            org: principal.org_id,
            kind: principal.kind,
            role: principal.role,
            perms: principal.permissions.clone(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The caller a token names, or `None` for any token that is expired, forged, issued for
    /// another audience, or signed with another algorithm (including `none`).
    pub fn verify(&self, token: &str) -> Option<Principal> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        let claims = data.claims;
        // `iat` far in the future means a forged or mis-clocked token.
        let now = chrono::Utc::now().timestamp();
        if claims.iat > now + LEEWAY_SECONDS as i64 {
            return None;
        }
        Some(Principal {
            user_id: claims.sub,
            org_id: claims.org,
            kind: claims.kind,
            role: claims.role,
            permissions: claims.perms,
            request_id: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        Principal {
            user_id: Uuid::new_v4(),
            org_id: Uuid::new_v4(),
            kind: OrgKind::Lender,
            role: Role::Staff,
            permissions: vec![Permission::AuditRead],
            request_id: None,
        }
    }

    #[test]
    fn a_token_round_trips_with_its_claims() {
        let keys = JwtKeys::new(&[7u8; 32], 900);
        let who = principal();
        let token = keys
            .issue(&who, chrono::Utc::now().timestamp())
            .expect("encode");
        let back = keys.verify(&token).expect("decode");
        assert_eq!(back.user_id, who.user_id);
        assert_eq!(back.kind, OrgKind::Lender);
        assert_eq!(back.permissions, vec![Permission::AuditRead]);
    }

    #[test]
    fn expired_foreign_and_unsigned_tokens_are_refused() {
        let keys = JwtKeys::new(&[7u8; 32], 900);
        let now = chrono::Utc::now().timestamp();
        let expired = keys.issue(&principal(), now - 900 - 31).expect("encode");
        assert!(keys.verify(&expired).is_none());
        let other = JwtKeys::new(&[8u8; 32], 900)
            .issue(&principal(), now)
            .expect("encode");
        assert!(keys.verify(&other).is_none());
        // alg "none": header {"alg":"none","typ":"JWT"}, the claims, and no signature.
        let valid = keys.issue(&principal(), now).expect("encode");
        let claims_part = valid.split('.').nth(1).expect("claims");
        let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{claims_part}.");
        assert!(keys.verify(&unsigned).is_none());
    }
}

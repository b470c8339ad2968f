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
    /// The login (refresh-token family) the token belongs to; ends with its logout.
    #[serde(default)]
    pub sid: Option<Uuid>,
    /// The user's token generation when it was issued; a raised generation ends it.
    #[serde(default)]
    pub generation: i32,
}

/// A token's caller, and what must still hold for the token to be honoured: its login is not
/// ended and its user's token generation has not moved on.
#[derive(Debug, Clone)]
pub struct Verified {
    pub principal: Principal,
    pub session: Option<Uuid>,
    pub generation: i32,
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
        validation.validate_nbf = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_seconds,
        }
    }

    /// An access token for `principal`, of the login `session`, at the user's token
    /// `generation`.
    pub fn issue(
        &self,
        principal: &Principal,
        session: Uuid,
        generation: i32,
        now: i64,
    ) -> anyhow::Result<String> {
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
            sid: Some(session),
            generation,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The caller a token names; refused when it is expired (signed by us, but past `exp`), or
    /// forged, issued for another audience, signed with another algorithm (including `none`),
    /// not yet valid (`nbf` or `iat` in the future) or made to live longer than we issue.
    pub fn verify(&self, token: &str) -> Result<Verified, TokenRefusal> {
        use jsonwebtoken::errors::ErrorKind;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => TokenRefusal::Expired,
                _ => TokenRefusal::Invalid,
            })?;
        let claims = data.claims;
        let now = chrono::Utc::now().timestamp();
        let leeway = LEEWAY_SECONDS as i64;
        if claims.iat > now + leeway || claims.exp - claims.iat > self.ttl_seconds + leeway {
            return Err(TokenRefusal::Invalid);
        }
        Ok(Verified {
            principal: Principal {
                user_id: claims.sub,
                org_id: claims.org,
                kind: claims.kind,
                role: claims.role,
                permissions: claims.perms,
                request_id: None,
            },
            session: claims.sid,
            generation: claims.generation,
        })
    }
}

/// Why a bearer token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Ours, but past its `exp`: the client should refresh.
    Expired,
    /// Not a token we would accept at all.
    Invalid,
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
            .issue(&who, Uuid::nil(), 3, chrono::Utc::now().timestamp())
            .expect("encode");
        let back = keys.verify(&token).expect("decode");
        assert_eq!((back.session, back.generation), (Some(Uuid::nil()), 3));
        let back = back.principal;
        assert_eq!(back.user_id, who.user_id);
        assert_eq!(back.kind, OrgKind::Lender);
        assert_eq!(back.permissions, vec![Permission::AuditRead]);
    }

    #[test]
    fn expired_foreign_and_unsigned_tokens_are_refused() {
        let keys = JwtKeys::new(&[7u8; 32], 900);
        let now = chrono::Utc::now().timestamp();
        let expired = keys
            .issue(&principal(), Uuid::nil(), 0, now - 900 - 31)
            .expect("encode");
        assert_eq!(keys.verify(&expired).err(), Some(TokenRefusal::Expired));
        let other = JwtKeys::new(&[8u8; 32], 900)
            .issue(&principal(), Uuid::nil(), 0, now)
            .expect("encode");
        assert_eq!(keys.verify(&other).err(), Some(TokenRefusal::Invalid));
        // alg "none": header {"alg":"none","typ":"JWT"}, the claims, and no signature.
        let valid = keys
            .issue(&principal(), Uuid::nil(), 0, now)
            .expect("encode");
        let claims_part = valid.split('.').nth(1).expect("claims");
        let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{claims_part}.");
        assert_eq!(keys.verify(&unsigned).err(), Some(TokenRefusal::Invalid));
    }

    /// Our own signature on claims we would never issue.
    fn signed(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&[7u8; 32]),
        )
        .expect("encode")
    }

    #[test]
    fn tokens_not_yet_valid_or_living_longer_than_issued_are_refused() {
        let keys = JwtKeys::new(&[7u8; 32], 900);
        let now = chrono::Utc::now().timestamp();
        let who = principal();
        let claims = |iat: i64, exp: i64, nbf: Option<i64>| {
            let mut c = serde_json::json!({
                "iss": ISSUER, "aud": AUDIENCE, "sub": who.user_id, "iat": iat, "exp": exp,
                "org": who.org_id, "kind": "lender", "role": "staff", "perms": ["audit:read"],
            });
            if let Some(nbf) = nbf {
                c["nbf"] = nbf.into();
            }
            c
        };
        assert!(keys.verify(&signed(claims(now, now + 900, None))).is_ok());
        assert!(
            keys.verify(&signed(claims(now, now + 900, Some(now))))
                .is_ok()
        );
        for (name, forged) in [
            ("nbf in an hour", claims(now, now + 900, Some(now + 3600))),
            ("a day's lifetime", claims(now, now + 86_400, None)),
            ("iat in an hour", claims(now + 3600, now + 4000, None)),
        ] {
            assert_eq!(
                keys.verify(&signed(forged)).err(),
                Some(TokenRefusal::Invalid),
                "{name}"
            );
        }
    }
}

//! Verifying an ID token (OpenID Connect Core 1.0 §3.1.3.7) against the provider's published
//! keys. No IO: the keys and the expectations are given.
//!
//! The algorithm is taken from an allow-list of asymmetric ones, never from the token alone:
//! `none` and the HMAC family are refused outright (an HMAC "signed" with the provider's public
//! key is the classic forgery), and the key must be of the algorithm's type.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Clock difference tolerated between the provider and this server, in seconds.
pub const LEEWAY_SECS: i64 = 60;
/// The longest ID token read (a provider's tokens are a few kilobytes).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why an ID token was refused. Never carries the token or its claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    #[error("the ID token is malformed")]
    Malformed,
    /// The header names an algorithm outside the allow-list (`none`, HMAC, unknown).
    #[error("the ID token's algorithm {0:?} is not accepted")]
    Algorithm(String),
    /// No published key fits the header.
    #[error("no published key matches the ID token")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the ID token's signature does not verify")]
    Signature,
    /// Issued by another issuer.
    #[error("the ID token was issued by another issuer")]
    Issuer,
    /// Not for this client (audience, or `azp` naming another party).
    #[error("the ID token is for another client")]
    Audience,
    /// Past its `exp`, or not yet valid.
    #[error("the ID token has expired or is not yet valid")]
    Expired,
    /// The nonce is missing or is not the one sent with this login.
    #[error("the ID token's nonce does not match this login")]
    Nonce,
    /// A required claim (`sub`, `iat`, `exp`) is missing or of the wrong type.
    #[error("the ID token lacks the claim {0}")]
    Claim(&'static str),
}

/// One key of a JSON Web Key Set (RFC 7517); only what signature checks read.
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA` or `EC`.
    pub kty: String,
    /// Key id.
    #[serde(default)]
    pub kid: Option<String>,
    /// Intended use; a key for encryption (`enc`) never verifies a signature.
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    /// The one algorithm this key is for, when the provider says.
    #[serde(default)]
    pub alg: Option<String>,
    /// RSA modulus.
    #[serde(default)]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(default)]
    pub e: Option<String>,
    /// EC curve.
    #[serde(default)]
    pub crv: Option<String>,
    /// EC point.
    #[serde(default)]
    pub x: Option<String>,
    /// EC point.
    #[serde(default)]
    pub y: Option<String>,
}

/// A JSON Web Key Set.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// What the token must say.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The issuer exactly as discovered.
    pub issuer: &'a str,
    /// This application's client id.
    pub client_id: &'a str,
    /// The nonce sent with this login.
    pub nonce: &'a str,
    /// Now, in seconds since the epoch.
    pub now: i64,
}

/// The claims of a verified ID token.
#[derive(Debug, Clone, PartialEq)]
pub struct IdClaims {
    /// The subject: the provider's stable id of the person.
    pub sub: String,
    /// Every claim, for the role claim and the profile.
    pub all: Map<String, Value>,
}

impl IdClaims {
    /// A string claim.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.all.get(name).and_then(Value::as_str)
    }

    /// `email_verified`, which some providers send as a string.
    pub fn email_verified(&self) -> bool {
        match self.all.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    Rs(usize),
    Ps(usize),
    Es(usize),
}

impl Alg {
    fn parse(s: &str) -> Option<Alg> {
        Some(match s {
            "RS256" => Alg::Rs(256),
            "RS384" => Alg::Rs(384),
            "RS512" => Alg::Rs(512),
            "PS256" => Alg::Ps(256),
            "PS384" => Alg::Ps(384),
            "PS512" => Alg::Ps(512),
            "ES256" => Alg::Es(256),
            "ES384" => Alg::Es(384),
            _ => return None,
        })
    }

    fn kty(self) -> &'static str {
        match self {
            Alg::Rs(_) | Alg::Ps(_) => "RSA",
            Alg::Es(_) => "EC",
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// Extensions the token says must be understood: none are, so any refuses it.
    #[serde(default)]
    crit: Option<Value>,
}

fn b64(part: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)
}

fn key_fits(key: &Jwk, alg: Alg, alg_name: &str, kid: Option<&str>) -> bool {
    key.kty == alg.kty()
        && key.use_.as_deref().is_none_or(|u| u == "sig")
        && key.alg.as_deref().is_none_or(|a| a == alg_name)
        // A key published without an id may verify any token (a provider with one key often
        // names none); a key with an id only the tokens that name it.
        && kid.is_none_or(|k| key.kid.as_deref().is_none_or(|own| own == k))
        && match alg {
            Alg::Es(256) => key.crv.as_deref() == Some("P-256"),
            Alg::Es(_) => key.crv.as_deref() == Some("P-384"),
            _ => true,
        }
}

fn verify_signature(key: &Jwk, alg: Alg, message: &[u8], sig: &[u8]) -> Result<(), TokenError> {
    let field = |v: &Option<String>| v.as_deref().ok_or(TokenError::UnknownKey).and_then(b64);
    match alg {
        Alg::Rs(bits) | Alg::Ps(bits) => {
            let params: &signature::RsaParameters = match (alg, bits) {
                (Alg::Rs(_), 256) => &signature::RSA_PKCS1_2048_8192_SHA256,
                (Alg::Rs(_), 384) => &signature::RSA_PKCS1_2048_8192_SHA384,
                (Alg::Rs(_), _) => &signature::RSA_PKCS1_2048_8192_SHA512,
                (_, 256) => &signature::RSA_PSS_2048_8192_SHA256,
                (_, 384) => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            let (n, e) = (field(&key.n)?, field(&key.e)?);
            RsaPublicKeyComponents { n: &n, e: &e }
                .verify(params, message, sig)
                .map_err(|_| TokenError::Signature)
        }
        Alg::Es(bits) => {
            let (x, y) = (field(&key.x)?, field(&key.y)?);
            let mut point = Vec::with_capacity(1 + x.len() + y.len());
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let algorithm = if bits == 256 {
                &signature::ECDSA_P256_SHA256_FIXED
            } else {
                &signature::ECDSA_P384_SHA384_FIXED
            };
            UnparsedPublicKey::new(algorithm, &point)
                .verify(message, sig)
                .map_err(|_| TokenError::Signature)
        }
    }
}

fn number(claims: &Map<String, Value>, name: &'static str) -> Result<i64, TokenError> {
    claims
        .get(name)
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
        .ok_or(TokenError::Claim(name))
}

/// Whether the signature of `token` verifies under one of `keys`; the header's `kid` picks the
/// key (with no `kid`, any key of the algorithm's type may). Returns the claims unchecked.
pub fn verify_signed(token: &str, keys: &Jwks) -> Result<Map<String, Value>, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: Header = serde_json::from_slice(&b64(h)?).map_err(|_| TokenError::Malformed)?;
    let alg = Alg::parse(&header.alg).ok_or_else(|| TokenError::Algorithm(header.alg.clone()))?;
    if header.crit.is_some() {
        return Err(TokenError::Malformed);
    }
    let sig = b64(s)?;
    let message = format!("{h}.{p}");
    let mut candidates = keys
        .keys
        .iter()
        .filter(|k| key_fits(k, alg, &header.alg, header.kid.as_deref()))
        .peekable();
    if candidates.peek().is_none() {
        return Err(TokenError::UnknownKey);
    }
    if !candidates.any(|k| verify_signature(k, alg, message.as_bytes(), &sig).is_ok()) {
        return Err(TokenError::Signature);
    }
    serde_json::from_slice::<Map<String, Value>>(&b64(p)?).map_err(|_| TokenError::Malformed)
}

/// Verifies an ID token: signature, issuer, audience (and `azp`), times and nonce.
pub fn verify(token: &str, keys: &Jwks, expected: &Expected<'_>) -> Result<IdClaims, TokenError> {
    let claims = verify_signed(token, keys)?;
    if claims.get("iss").and_then(Value::as_str) != Some(expected.issuer) {
        return Err(TokenError::Issuer);
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => return Err(TokenError::Audience),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(TokenError::Audience);
    }
    // A token for several parties must say it was issued to this one (§3.1.3.7 items 4–5).
    match claims.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != expected.client_id => return Err(TokenError::Audience),
        None if audiences.len() > 1 => return Err(TokenError::Audience),
        _ => {}
    }
    let exp = number(&claims, "exp")?;
    let iat = number(&claims, "iat")?;
    if exp + LEEWAY_SECS <= expected.now || iat - LEEWAY_SECS > expected.now {
        return Err(TokenError::Expired);
    }
    if claims.contains_key("nbf") && number(&claims, "nbf")? - LEEWAY_SECS > expected.now {
        return Err(TokenError::Expired);
    }
    if claims.get("nonce").and_then(Value::as_str) != Some(expected.nonce) {
        return Err(TokenError::Nonce);
    }
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or(TokenError::Claim("sub"))?
        .to_owned();
    Ok(IdClaims { sub, all: claims })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const ISSUER: &str = "https://login.example.jp";

    /// An EC P-256 key made here (ring cannot make RSA keys; the RSA path is exercised by the
    /// end-to-end tests against a real provider, whose keys are RSA).
    struct Signer {
        pair: EcdsaKeyPair,
        kid: &'static str,
    }

    impl Signer {
        fn new(kid: &'static str) -> Signer {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .expect("key generation");
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .expect("key");
            Signer { pair, kid }
        }

        fn jwk(&self) -> Jwk {
            let point = self.pair.public_key().as_ref();
            Jwk {
                kty: "EC".into(),
                kid: Some(self.kid.into()),
                use_: Some("sig".into()),
                alg: None,
                n: None,
                e: None,
                crv: Some("P-256".into()),
                x: Some(URL_SAFE_NO_PAD.encode(&point[1..33])),
                y: Some(URL_SAFE_NO_PAD.encode(&point[33..65])),
            }
        }

        fn sign_with_header(&self, header: Value, claims: Value) -> String {
            let h = URL_SAFE_NO_PAD.encode(header.to_string());
            let p = URL_SAFE_NO_PAD.encode(claims.to_string());
            let sig = self
                .pair
                .sign(&SystemRandom::new(), format!("{h}.{p}").as_bytes())
                .expect("signing");
            format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
        }

        fn sign(&self, claims: Value) -> String {
            self.sign_with_header(json!({"alg": "ES256", "kid": self.kid}), claims)
        }
    }

    fn good_claims() -> Value {
        json!({
            "iss": ISSUER, "aud": "madoguchi", "sub": "u-1", "nonce": "n-1",
            "iat": NOW - 10, "exp": NOW + 300, "email": "a@example.jp"
        })
    }

    fn expected() -> Expected<'static> {
        Expected {
            issuer: ISSUER,
            client_id: "madoguchi",
            nonce: "n-1",
            now: NOW,
        }
    }

    fn with(mut claims: Value, key: &str, value: Value) -> Value {
        claims[key] = value;
        claims
    }

    fn without(mut claims: Value, key: &str) -> Value {
        claims.as_object_mut().unwrap().remove(key);
        claims
    }

    #[test]
    fn a_good_token_verifies_and_yields_its_subject() {
        let s = Signer::new("k1");
        let keys = Jwks {
            keys: vec![s.jwk()],
        };
        let c = verify(&s.sign(good_claims()), &keys, &expected()).unwrap();
        assert_eq!(c.sub, "u-1");
        assert_eq!(c.str("email"), Some("a@example.jp"));
    }

    #[test]
    fn each_broken_claim_is_refused_for_its_own_reason() {
        let s = Signer::new("k1");
        let keys = Jwks {
            keys: vec![s.jwk()],
        };
        let cases: Vec<(Value, TokenError)> = vec![
            (
                with(good_claims(), "iss", json!("https://evil.example")),
                TokenError::Issuer,
            ),
            (without(good_claims(), "iss"), TokenError::Issuer),
            (
                with(good_claims(), "aud", json!("other-app")),
                TokenError::Audience,
            ),
            (
                with(good_claims(), "aud", json!(["other-app", "third"])),
                TokenError::Audience,
            ),
            // Several audiences including this one, but no azp naming it.
            (
                with(good_claims(), "aud", json!(["madoguchi", "other-app"])),
                TokenError::Audience,
            ),
            (
                with(good_claims(), "azp", json!("other-app")),
                TokenError::Audience,
            ),
            (without(good_claims(), "aud"), TokenError::Audience),
            // Expired beyond the leeway; one second inside it still passes (below).
            (
                with(good_claims(), "exp", json!(NOW - LEEWAY_SECS)),
                TokenError::Expired,
            ),
            (
                with(good_claims(), "iat", json!(NOW + LEEWAY_SECS + 1)),
                TokenError::Expired,
            ),
            (
                with(good_claims(), "nbf", json!(NOW + LEEWAY_SECS + 1)),
                TokenError::Expired,
            ),
            (
                with(good_claims(), "nonce", json!("n-2")),
                TokenError::Nonce,
            ),
            (without(good_claims(), "nonce"), TokenError::Nonce),
            (without(good_claims(), "exp"), TokenError::Claim("exp")),
            (without(good_claims(), "iat"), TokenError::Claim("iat")),
            (without(good_claims(), "sub"), TokenError::Claim("sub")),
            (
                with(good_claims(), "sub", json!("")),
                TokenError::Claim("sub"),
            ),
        ];
        for (claims, want) in cases {
            let got = verify(&s.sign(claims.clone()), &keys, &expected());
            assert_eq!(got, Err(want), "claims {claims}");
        }
    }

    #[test]
    fn the_edges_of_the_leeway_and_several_audiences_with_azp_pass() {
        let s = Signer::new("k1");
        let keys = Jwks {
            keys: vec![s.jwk()],
        };
        for claims in [
            with(good_claims(), "exp", json!(NOW - LEEWAY_SECS + 1)),
            with(good_claims(), "iat", json!(NOW + LEEWAY_SECS)),
            with(
                with(good_claims(), "aud", json!(["madoguchi", "other-app"])),
                "azp",
                json!("madoguchi"),
            ),
        ] {
            assert!(
                verify(&s.sign(claims.clone()), &keys, &expected()).is_ok(),
                "{claims}"
            );
        }
    }

    #[test]
    fn a_token_signed_by_another_key_under_the_published_kid_is_forged() {
        let published = Signer::new("k1");
        let forger = Signer::new("k1");
        let keys = Jwks {
            keys: vec![published.jwk()],
        };
        assert_eq!(
            verify(&forger.sign(good_claims()), &keys, &expected()),
            Err(TokenError::Signature)
        );
    }

    #[test]
    fn changed_claims_under_a_real_signature_do_not_verify() {
        let s = Signer::new("k1");
        let keys = Jwks {
            keys: vec![s.jwk()],
        };
        let token = s.sign(good_claims());
        let parts: Vec<&str> = token.split('.').collect();
        let tampered_payload =
            URL_SAFE_NO_PAD.encode(with(good_claims(), "sub", json!("admin")).to_string());
        let tampered = format!("{}.{tampered_payload}.{}", parts[0], parts[2]);
        assert_eq!(
            verify(&tampered, &keys, &expected()),
            Err(TokenError::Signature)
        );
    }

    #[test]
    fn unsigned_and_symmetric_algorithms_are_refused_before_any_key_is_tried() {
        let s = Signer::new("k1");
        let keys = Jwks {
            keys: vec![s.jwk()],
        };
        let payload = URL_SAFE_NO_PAD.encode(good_claims().to_string());
        for alg in ["none", "HS256", "HS512", "EdDSA", ""] {
            let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": "k1"}).to_string());
            let token = format!("{header}.{payload}.");
            assert_eq!(
                verify(&token, &keys, &expected()),
                Err(TokenError::Algorithm(alg.into())),
                "{alg}"
            );
        }
    }

    #[test]
    fn a_key_of_another_type_id_or_use_does_not_verify() {
        let s = Signer::new("k1");
        let mut enc = s.jwk();
        enc.use_ = Some("enc".into());
        let mut other_kid = s.jwk();
        other_kid.kid = Some("k2".into());
        let mut rsa_alg = s.jwk();
        rsa_alg.alg = Some("RS256".into());
        let mut p384 = s.jwk();
        p384.crv = Some("P-384".into());
        for key in [enc, other_kid, rsa_alg, p384] {
            let keys = Jwks { keys: vec![key] };
            assert_eq!(
                verify(&s.sign(good_claims()), &keys, &expected()),
                Err(TokenError::UnknownKey)
            );
        }
        // A header claiming RS256 over an EC key finds no RSA key.
        let keys = Jwks {
            keys: vec![s.jwk()],
        };
        let token = s.sign_with_header(json!({"alg": "RS256", "kid": "k1"}), good_claims());
        assert_eq!(
            verify(&token, &keys, &expected()),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn a_key_published_without_an_id_verifies_a_token_that_names_one() {
        let s = Signer::new("k1");
        let mut anonymous = s.jwk();
        anonymous.kid = None;
        let keys = Jwks {
            keys: vec![anonymous],
        };
        assert!(verify(&s.sign(good_claims()), &keys, &expected()).is_ok());
        // And still only with its own signature.
        let forger = Signer::new("k1");
        assert_eq!(
            verify(&forger.sign(good_claims()), &keys, &expected()),
            Err(TokenError::Signature)
        );
    }

    #[test]
    fn without_a_kid_any_key_of_the_type_may_verify() {
        let a = Signer::new("a");
        let b = Signer::new("b");
        let keys = Jwks {
            keys: vec![a.jwk(), b.jwk()],
        };
        let token = b.sign_with_header(json!({"alg": "ES256"}), good_claims());
        assert!(verify(&token, &keys, &expected()).is_ok());
    }

    #[test]
    fn malformed_tokens_and_critical_extensions_are_refused() {
        let s = Signer::new("k1");
        let keys = Jwks {
            keys: vec![s.jwk()],
        };
        let crit = s.sign_with_header(
            json!({"alg": "ES256", "kid": "k1", "crit": ["exp"]}),
            good_claims(),
        );
        for token in [
            "",
            "a.b",
            "a.b.c.d",
            "!!!.e30.",
            &"A".repeat(MAX_TOKEN_BYTES + 1),
            &crit,
        ] {
            assert_eq!(
                verify(token, &keys, &expected()),
                Err(TokenError::Malformed),
                "{}",
                &token[..token.len().min(40)]
            );
        }
    }

    #[test]
    fn email_verified_is_read_as_a_boolean_or_its_string() {
        let claims = |v: Value| IdClaims {
            sub: "s".into(),
            all: json!({ "email_verified": v }).as_object().unwrap().clone(),
        };
        assert!(claims(json!(true)).email_verified());
        assert!(claims(json!("true")).email_verified());
        assert!(!claims(json!(false)).email_verified());
        assert!(!claims(json!("yes")).email_verified());
        assert!(!claims(json!(1)).email_verified());
    }
}

//! Token signing keys: made as PKCS#8 PEM (stored sealed, see `sealing`), held parsed in memory.
//!
//! Tokens are signed here with aws-lc-rs key pairs parsed once at start: `jsonwebtoken::encode`
//! parses the private key from DER on every call, which for RSA costs more than the signature.
//! The compact form signed is the standard one (`base64url(header).base64url(claims)`), and every
//! token is verified by `jsonwebtoken` against the key's published JWK.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;
use zeroize::Zeroizing;

/// The algorithms tokens can be signed with. RS256 is the default, as the documents' tokens are;
/// ES256 and EdDSA sign many times faster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum SigningAlgorithm {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
    #[value(name = "EdDSA")]
    EdDsa,
}

impl SigningAlgorithm {
    /// The JOSE name, as stored and as `alg` says.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::Rs256 => "RS256",
            SigningAlgorithm::Es256 => "ES256",
            SigningAlgorithm::EdDsa => "EdDSA",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [SigningAlgorithm::Rs256, SigningAlgorithm::Es256, SigningAlgorithm::EdDsa]
            .into_iter()
            .find(|algorithm| algorithm.as_str() == name)
    }

    pub(super) fn jwt(self) -> Algorithm {
        match self {
            SigningAlgorithm::Rs256 => Algorithm::RS256,
            SigningAlgorithm::Es256 => Algorithm::ES256,
            SigningAlgorithm::EdDsa => Algorithm::EdDSA,
        }
    }

    fn key_algorithm(self) -> KeyAlgorithm {
        match self {
            SigningAlgorithm::Rs256 => KeyAlgorithm::RS256,
            SigningAlgorithm::Es256 => KeyAlgorithm::ES256,
            SigningAlgorithm::EdDsa => KeyAlgorithm::EdDSA,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error("could not generate a signing key")]
    Generate,
    #[error("the stored signing key {kid} is unusable: {reason}")]
    Unusable { kid: String, reason: String },
}

enum Pair {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A signing key, parsed, with what verifies its tokens.
pub struct SigningKey {
    pub(super) kid: String,
    pub(super) algorithm: SigningAlgorithm,
    pair: Pair,
    /// `base64url(header)`, the same for every token this key signs.
    encoded_header: String,
    pub(super) decoding: DecodingKey,
    pub(super) jwk: Jwk,
}

impl SigningKey {
    /// A new key pair for `algorithm`: a fresh `kid` and the private key's PKCS#8 PEM.
    pub fn generate(algorithm: SigningAlgorithm) -> Result<(String, Zeroizing<String>), SigningKeyError> {
        let rng = SystemRandom::new();
        let der = Zeroizing::new(match algorithm {
            SigningAlgorithm::Rs256 => {
                let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| SigningKeyError::Generate)?;
                AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
                    .map_err(|_| SigningKeyError::Generate)?
                    .as_ref()
                    .to_vec()
            }
            SigningAlgorithm::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| SigningKeyError::Generate)?
                .as_ref()
                .to_vec(),
            SigningAlgorithm::EdDsa => Ed25519KeyPair::generate_pkcs8v1(&rng)
                .map_err(|_| SigningKeyError::Generate)?
                .as_ref()
                .to_vec(),
        });
        let pem = Zeroizing::new(pem::encode(&pem::Pem::new("PRIVATE KEY", der.to_vec())));
        Ok((crate::secrets::random_base62(16), pem))
    }

    /// Parses the key `kid` of `algorithm` from its private key's PKCS#8 PEM.
    pub fn from_pem(
        kid: &str,
        algorithm: SigningAlgorithm,
        private_pem: &str,
    ) -> Result<Self, SigningKeyError> {
        let unusable = |reason: String| SigningKeyError::Unusable { kid: kid.to_owned(), reason };
        let pem = pem::parse(private_pem).map_err(|error| unusable(error.to_string()))?;
        let der = pem.contents();
        let pem_bytes = private_pem.as_bytes();
        let (pair, encoding) = match algorithm {
            SigningAlgorithm::Rs256 => (
                RsaKeyPair::from_pkcs8(der).map(Pair::Rsa).map_err(|error| unusable(error.to_string()))?,
                EncodingKey::from_rsa_pem(pem_bytes),
            ),
            SigningAlgorithm::Es256 => (
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map(Pair::Ecdsa)
                    .map_err(|error| unusable(error.to_string()))?,
                EncodingKey::from_ec_pem(pem_bytes),
            ),
            SigningAlgorithm::EdDsa => (
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map(Pair::Ed25519)
                    .map_err(|error| unusable(error.to_string()))?,
                EncodingKey::from_ed_pem(pem_bytes),
            ),
        };
        let encoding = encoding.map_err(|error| unusable(error.to_string()))?;
        let mut jwk = Jwk::from_encoding_key(&encoding, algorithm.jwt())
            .map_err(|error| unusable(error.to_string()))?;
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(algorithm.key_algorithm());
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|error| unusable(error.to_string()))?;
        let mut header = Header::new(algorithm.jwt());
        header.kid = Some(kid.to_owned());
        let header = serde_json::to_vec(&header).map_err(|error| unusable(error.to_string()))?;
        Ok(Self {
            kid: kid.to_owned(),
            algorithm,
            pair,
            encoded_header: URL_SAFE_NO_PAD.encode(header),
            decoding,
            jwk,
        })
    }

    /// A compact JWS of `claims` signed with this key.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, SigningError> {
        let claims = serde_json::to_vec(claims).map_err(|_| SigningError)?;
        let mut token = String::with_capacity(self.encoded_header.len() + claims.len() * 4 / 3 + 400);
        token.push_str(&self.encoded_header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let signature = match &self.pair {
            Pair::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    token.as_bytes(),
                    &mut signature,
                )
                .map_err(|_| SigningError)?;
                signature
            }
            Pair::Ecdsa(pair) => {
                pair.sign(&SystemRandom::new(), token.as_bytes()).map_err(|_| SigningError)?.as_ref().to_vec()
            }
            Pair::Ed25519(pair) => pair.sign(token.as_bytes()).as_ref().to_vec(),
        };
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

/// A token could not be signed.
#[derive(Debug, thiserror::Error)]
#[error("could not sign the token")]
pub struct SigningError;

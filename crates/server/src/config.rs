//! Settings, read from flags or `KEYWARD_*` environment variables.

use crate::api::client_address::ForwardedHeader;
use crate::tokens::{
    PREVIOUS_SECRET_KEY_SETTINGS, SECRET_KEY_SETTINGS, Sealing, SealingError, SealingKey, SecretSettings,
    SigningAlgorithm,
};
use clap::Args;
use ipnet::IpNet;
use keyward_model::Secret;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// Database URL. `sqlite://PATH` opens (and creates if missing) an SQLite file;
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` connects to PostgreSQL, which any number of
    /// instances may share.
    #[arg(long, env = "KEYWARD_DATABASE_URL", default_value = "sqlite://keyward.db")]
    pub database_url: String,

    /// Most connections this instance opens to the database (on SQLite: for reads, and one more
    /// for writes, which SQLite takes one at a time).
    #[arg(long, env = "KEYWARD_DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: u32,

    /// How long a request waits for a database connection before it is answered 503, in
    /// milliseconds.
    #[arg(long, env = "KEYWARD_DATABASE_ACQUIRE_TIMEOUT_MS", default_value_t = 2000)]
    pub database_acquire_timeout_ms: u64,

    /// The longest one statement may run on PostgreSQL before it is cancelled, in milliseconds.
    #[arg(long, env = "KEYWARD_DATABASE_STATEMENT_TIMEOUT_MS", default_value_t = 5000)]
    pub database_statement_timeout_ms: u64,
}

impl DatabaseSettings {
    /// These settings for the database at `url`.
    pub fn at(url: impl Into<String>) -> Self {
        Self {
            database_url: url.into(),
            database_max_connections: 16,
            database_acquire_timeout_ms: 2000,
            database_statement_timeout_ms: 5000,
        }
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.database_acquire_timeout_ms)
    }

    pub fn statement_timeout(&self) -> Duration {
        Duration::from_millis(self.database_statement_timeout_ms)
    }
}

/// How keys are made and limited.
#[derive(Debug, Clone, Args)]
pub struct KeySettings {
    /// Most created keys one profile may hold.
    #[arg(long, env = "KEYWARD_MAX_KEYS_PER_PROFILE", default_value_t = 50)]
    pub max_keys_per_profile: u32,

    /// Prefix of full keys (`<prefix>_...`) and of their identifiers (`<prefix>.<public id>`):
    /// 1 to 16 lowercase letters or digits.
    #[arg(long, env = "KEYWARD_KEY_PREFIX", default_value = "keyward")]
    pub key_prefix: String,

    /// argon2id memory cost in KiB for hashing new secrets.
    #[arg(long, env = "KEYWARD_ARGON2_MEMORY_KIB", default_value_t = crate::hashing::DEFAULT_MEMORY_KIB)]
    pub argon2_memory_kib: u32,

    /// argon2id iterations (time cost) for hashing new secrets.
    #[arg(long, env = "KEYWARD_ARGON2_ITERATIONS", default_value_t = crate::hashing::DEFAULT_ITERATIONS)]
    pub argon2_iterations: u32,

    /// argon2id lanes (parallelism) for hashing new secrets.
    #[arg(long, env = "KEYWARD_ARGON2_PARALLELISM", default_value_t = crate::hashing::DEFAULT_PARALLELISM)]
    pub argon2_parallelism: u32,
}

/// The secret key that seals the token signing keys in the database.
#[derive(Clone, Args)]
pub struct SecretKeySettings {
    /// The key that encrypts the token signing keys in the database: 32 random bytes in base64
    /// (`openssl rand -base64 32`). Without it (or a file), signing keys are stored in clear;
    /// with it, keys found in clear are sealed at start. Prefer the file or the environment to the
    /// flag, which other users see in the process list.
    #[arg(long, env = "KEYWARD_SECRET_KEY", hide_env_values = true, value_parser = secret)]
    pub secret_key: Option<Secret>,

    /// A file holding the secret key, as KEYWARD_SECRET_KEY would (e.g. a mounted secret).
    #[arg(long, env = "KEYWARD_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,

    /// While rotating the secret key: the one it replaces. Signing keys sealed with it still
    /// open, and each start seals them again with the new key; remove it once every instance has
    /// started with the new key.
    #[arg(long, env = "KEYWARD_PREVIOUS_SECRET_KEY", hide_env_values = true, value_parser = secret)]
    pub previous_secret_key: Option<Secret>,

    /// A file holding the previous secret key, as KEYWARD_PREVIOUS_SECRET_KEY would.
    #[arg(long, env = "KEYWARD_PREVIOUS_SECRET_KEY_FILE")]
    pub previous_secret_key_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    #[error("both {} and {} are set: set one", .0.value, .0.file)]
    Both(SecretSettings),
    #[error("cannot read {} {path}: {source}", settings.file)]
    Unreadable { settings: SecretSettings, path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Malformed(#[from] SealingError),
    /// Never says what the value was: it may be most of a secret.
    #[error("the previous secret key ({PREVIOUS_SECRET_KEY_SETTINGS}) is not 32 bytes in base64")]
    MalformedPrevious,
    #[error(
        "a previous secret key ({PREVIOUS_SECRET_KEY_SETTINGS}) is set without a secret key: set {SECRET_KEY_SETTINGS} to the new one"
    )]
    PreviousWithoutCurrent,
    #[error(
        "the previous secret key is the secret key itself: set {PREVIOUS_SECRET_KEY_SETTINGS} to the one it replaces"
    )]
    PreviousIsCurrent,
}

impl SecretKeySettings {
    /// No secret key: signing keys stored in clear.
    pub fn none() -> Self {
        Self {
            secret_key: None,
            secret_key_file: None,
            previous_secret_key: None,
            previous_secret_key_file: None,
        }
    }

    /// The configured secret keys, if any.
    pub fn load(&self) -> Result<Option<Sealing>, SecretKeyError> {
        let current = read_secret(&self.secret_key, &self.secret_key_file, SECRET_KEY_SETTINGS)?;
        let previous = read_secret(
            &self.previous_secret_key,
            &self.previous_secret_key_file,
            PREVIOUS_SECRET_KEY_SETTINGS,
        )?;
        let Some(current) = current else {
            return match previous {
                Some(_) => Err(SecretKeyError::PreviousWithoutCurrent),
                None => Ok(None),
            };
        };
        let key = SealingKey::from_base64(&current)?;
        let previous = match previous {
            None => None,
            Some(previous) if previous.trim() == current.trim() => {
                return Err(SecretKeyError::PreviousIsCurrent);
            }
            Some(previous) => {
                Some(SealingKey::from_base64(&previous).map_err(|_| SecretKeyError::MalformedPrevious)?)
            }
        };
        Ok(Some(Sealing::new(key, previous)))
    }
}

/// The secret a setting, or the file another setting names, holds; `settings` names the two.
fn read_secret(
    value: &Option<Secret>,
    file: &Option<PathBuf>,
    settings: SecretSettings,
) -> Result<Option<Zeroizing<String>>, SecretKeyError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(SecretKeyError::Both(settings)),
        (Some(text), None) => Ok(Some(Zeroizing::new(text.expose().to_owned()))),
        (None, Some(path)) => {
            // Bounded: a key is 44 characters, and a path mistyped as a device must not fill memory.
            let mut text = Zeroizing::new(String::new());
            std::fs::File::open(path)
                .and_then(|file| {
                    std::io::Read::read_to_string(&mut std::io::Read::take(file, 4096), &mut text)
                })
                .map_err(|source| SecretKeyError::Unreadable { settings, path: path.clone(), source })?;
            Ok(Some(text))
        }
        (None, None) => Ok(None),
    }
}

/// Says whether a secret key is set, never what it is.
impl std::fmt::Debug for SecretKeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKeySettings")
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<redacted>"))
            .field("secret_key_file", &self.secret_key_file)
            .field("previous_secret_key", &self.previous_secret_key.as_ref().map(|_| "<redacted>"))
            .field("previous_secret_key_file", &self.previous_secret_key_file)
            .finish()
    }
}

/// The value as given; checked by [`SecretKeySettings::load`], whose errors never repeat it
/// (clap's would).
fn secret(text: &str) -> Result<Secret, String> {
    Ok(Secret::new(text.to_owned()))
}

/// Everything `serve` needs.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// Address to listen on.
    #[arg(long, env = "KEYWARD_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Base URL of every link and of the token issuer and audience, e.g.
    /// `https://keys.example.com`: fixed per deployment, never taken from a request. Without it,
    /// `http://` and the bind address.
    #[arg(long, env = "KEYWARD_PUBLIC_URL", value_parser = public_url)]
    pub public_url: Option<String>,

    /// Proxies whose forwarding header (KEYWARD_FORWARDED_HEADER) names the client, as
    /// comma-separated addresses or CIDRs (e.g. `10.0.0.0/8,fd00::/8`). Empty by default: the
    /// client is the peer of the connection.
    #[arg(long, env = "KEYWARD_TRUSTED_PROXIES", value_delimiter = ',', num_args = 0.., value_parser = network)]
    pub trusted_proxies: Vec<IpNet>,

    /// The one header the trusted proxies write the client's address into, `X-Forwarded-For` or
    /// `Forwarded` (RFC 7239). The other is never read: proxies pass it on as the client sent it.
    #[arg(long, env = "KEYWARD_FORWARDED_HEADER", value_enum, default_value_t = ForwardedHeader::default())]
    pub forwarded_header: ForwardedHeader,

    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "KEYWARD_TOKEN_TTL", default_value_t = 86_400)]
    pub token_ttl: u64,

    /// How long a verified credential is trusted without checking the database again, in seconds.
    /// A delete on this instance ends the trust at once.
    #[arg(long, env = "KEYWARD_CACHE_TTL", default_value_t = 30)]
    pub cache_ttl: u64,

    /// The algorithm access tokens are signed with. An RS256 key is always kept and published
    /// (tokens already issued verify); ES256 and EdDSA sign many times faster than RS256.
    #[arg(long, env = "KEYWARD_TOKEN_ALGORITHM", value_enum, default_value_t = SigningAlgorithm::Rs256)]
    pub token_algorithm: SigningAlgorithm,

    /// Most entries each in-memory cache holds (verified credentials, live keys, unknown client
    /// ids, verified tokens, key records, throttle buckets); beyond it the least used are
    /// dropped and looked up again.
    #[arg(long, env = "KEYWARD_CACHE_CAPACITY", default_value_t = 100_000)]
    pub cache_capacity: u64,

    /// How long the audit log keeps an event, in days; older events are deleted hourly. 0 keeps
    /// them for ever.
    #[arg(long, env = "KEYWARD_AUDIT_RETENTION_DAYS", default_value_t = 365)]
    pub audit_retention_days: u32,

    /// Uncached credential verifications allowed per public id (client id) and client address
    /// (IPv6 by /64) a minute; beyond it, 429 with Retry-After. A success starts them afresh;
    /// verified credentials are cached and never count.
    #[arg(long, env = "KEYWARD_THROTTLE_PER_KEY", default_value_t = NonZeroU32::new(10).expect("non-zero"))]
    pub throttle_per_key: NonZeroU32,

    /// Failed credential verifications allowed per client address (IPv6 by /64) a minute; past
    /// them the address is refused with 429 before any work until the quota refills.
    #[arg(long, env = "KEYWARD_THROTTLE_PER_ADDRESS", default_value_t = NonZeroU32::new(120).expect("non-zero"))]
    pub throttle_per_address: NonZeroU32,

    /// How often the token signing keys are read again, in milliseconds: a rotation reaches every
    /// instance within this. Only tests shorten it.
    #[arg(long, env = "KEYWARD_SIGNING_KEYS_RELOAD_MS", hide = true,
          default_value_t = crate::tokens::RELOAD_INTERVAL.as_millis() as u64)]
    pub signing_keys_reload_ms: u64,

    #[command(flatten)]
    pub secret_key: SecretKeySettings,

    #[command(flatten)]
    pub oidc: OidcSettings,

    #[command(flatten)]
    pub http: HttpSettings,

    #[command(flatten)]
    pub cors: CorsSettings,

    #[command(flatten)]
    pub database: DatabaseSettings,

    #[command(flatten)]
    pub keys: KeySettings,
}

/// The identity providers whose users sign in: a person's access token from one of them
/// authenticates as the profile its `sub` names.
#[derive(Debug, Clone, Args)]
pub struct OidcSettings {
    /// Issuers whose access tokens sign people in, comma-separated (e.g.
    /// `https://example.eu.auth0.com/`), each exactly as its tokens' `iss` spell it. Their keys
    /// come from each issuer's discovery document and JWKS. Only `https` issuers, or `http` on a
    /// loopback address. None by default: no sign-in.
    #[arg(long, env = "KEYWARD_OIDC_ISSUER", value_delimiter = ',', num_args = 0.., value_parser = issuer)]
    pub oidc_issuer: Vec<String>,

    /// Audiences a sign-in token must carry one of (its `aud`), comma-separated: the API
    /// identifier configured at the identity provider. Required with an issuer.
    #[arg(long, env = "KEYWARD_OIDC_AUDIENCE", value_delimiter = ',', num_args = 0..)]
    pub oidc_audience: Vec<String>,

    /// The least time between two fetches of one issuer's keys, in milliseconds: a token naming an
    /// unknown key fetches them again at most this often. Only tests shorten it.
    #[arg(long, env = "KEYWARD_OIDC_REFRESH_FLOOR_MS", hide = true, default_value_t = 30_000)]
    pub oidc_refresh_floor_ms: u64,
}

/// No sign-in.
impl Default for OidcSettings {
    fn default() -> Self {
        Self { oidc_issuer: Vec::new(), oidc_audience: Vec::new(), oidc_refresh_floor_ms: 30_000 }
    }
}

impl OidcSettings {
    pub fn refresh_floor(&self) -> Duration {
        Duration::from_millis(self.oidc_refresh_floor_ms)
    }
}

/// An issuer URL (see [`secure_url`]), as its tokens spell it.
fn issuer(text: &str) -> Result<String, String> {
    let text = text.trim();
    secure_url(text)?;
    Ok(text.to_owned())
}

/// Checks that `text` is an `https` URL, or `http` on a loopback host, with no query or fragment:
/// where keys that sign people in may come from.
pub fn secure_url(text: &str) -> Result<(), String> {
    let uri: axum::http::Uri = text.parse().map_err(|error| format!("not a URL: {error}"))?;
    let host = uri.host().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let secure = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => loopback,
        _ => false,
    };
    if !secure || host.is_empty() || uri.query().is_some() || text.contains('#') {
        return Err("expected https://HOST[/PATH] (http only on a loopback host)".to_owned());
    }
    Ok(())
}

/// How long a client may take and how many may be served at once: what a slow or greedy client
/// can hold is bounded.
#[derive(Debug, Clone, Args)]
pub struct HttpSettings {
    /// How long a client may take to send a request's headers, in milliseconds, on a new
    /// connection or between requests on a kept-alive one; then the connection is closed.
    #[arg(long, env = "KEYWARD_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_timeout_ms: u64,

    /// How long a client may take to send a request's body, in milliseconds; then 408.
    #[arg(long, env = "KEYWARD_BODY_TIMEOUT_MS", default_value_t = 10_000)]
    pub body_timeout_ms: u64,

    /// How long a request may take in all, in milliseconds; then 503.
    #[arg(long, env = "KEYWARD_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,

    /// Most connections held open at once; a connection beyond it is answered 503 and closed.
    #[arg(long, env = "KEYWARD_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: u32,

    /// Most requests handled at once; a request beyond it is answered 503 with Retry-After.
    #[arg(long, env = "KEYWARD_MAX_IN_FLIGHT", default_value_t = 1_024)]
    pub max_in_flight: u32,

    /// How long a shutdown waits for requests in flight, in milliseconds, before it closes
    /// their connections.
    #[arg(long, env = "KEYWARD_SHUTDOWN_TIMEOUT_MS", default_value_t = 10_000)]
    pub shutdown_timeout_ms: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_timeout_ms: 10_000,
            body_timeout_ms: 10_000,
            request_timeout_ms: 30_000,
            max_connections: 10_000,
            max_in_flight: 1_024,
            shutdown_timeout_ms: 10_000,
        }
    }
}

impl HttpSettings {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms)
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }
}

impl ServeSettings {
    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl)
    }

    /// How long audit events are kept; `None`: for ever.
    pub fn audit_retention(&self) -> Option<chrono::TimeDelta> {
        (self.audit_retention_days > 0).then(|| chrono::TimeDelta::days(i64::from(self.audit_retention_days)))
    }

    pub fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.cache_ttl)
    }

    /// How tokens are issued, the secret key read.
    pub fn token_settings(&self) -> Result<crate::tokens::TokenSettings, SecretKeyError> {
        Ok(crate::tokens::TokenSettings {
            algorithm: self.token_algorithm,
            ttl: self.token_ttl(),
            cache_capacity: self.cache_capacity,
            base_url: self.base_url(),
            sealing: self.secret_key.load()?.map(Arc::new),
            reload_interval: Duration::from_millis(self.signing_keys_reload_ms.max(1)),
        })
    }

    /// The deployment's base URL, without a trailing slash: the public URL, or `http://` and the
    /// bind address.
    pub fn base_url(&self) -> String {
        self.public_url
            .as_deref()
            .map(|url| url.trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| format!("http://{}", self.bind))
    }
}

/// An `http` or `https` URL with a host and nothing after it but an optional path.
fn public_url(text: &str) -> Result<String, String> {
    let uri: axum::http::Uri = text.parse().map_err(|error| format!("not a URL: {error}"))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none() || uri.query().is_some() {
        return Err("expected http(s)://HOST[:PORT][/PATH]".to_owned());
    }
    Ok(text.to_owned())
}

/// A CIDR, or one address as a network of one.
fn network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is neither an address nor a CIDR"))
}

/// Which web pages' scripts may call the API from a browser and read its answers (CORS).
#[derive(Debug, Clone, Default, Args)]
pub struct CorsSettings {
    /// Origins whose scripts may call the API from a browser, comma-separated
    /// (`https://app.example.com,http://localhost:3000`), or `*` alone for any origin. None by
    /// default: no CORS headers at all. Never with credentials (cookies): scripts send a token or
    /// key in the Authorization header themselves.
    #[arg(long, env = "KEYWARD_CORS_ORIGINS", default_value = "", hide_default_value = true)]
    pub cors_origins: CorsOrigins,
}

/// The origins whose scripts may read the API's answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// Browsers keep every other origin from reading any answer.
    #[default]
    None,
    /// `*`: any origin, never with credentials. Any page can then read the answers that need
    /// no credentials (discovery, the keys, health, metrics) through its visitor's browser,
    /// from inside the visitor's network too.
    Any,
    /// These origins, each `scheme://host[:port]` as browsers send it in `Origin`.
    Listed(Vec<axum::http::HeaderValue>),
}

#[derive(Debug, thiserror::Error)]
pub enum CorsOriginError {
    #[error("{0:?} is not an origin: expected http(s)://HOST[:PORT], with no path, as browsers send it")]
    NotAnOrigin(String),
    #[error("`*` allows every origin: give it alone, or list origins")]
    StarAmongOrigins,
}

impl std::str::FromStr for CorsOrigins {
    type Err = CorsOriginError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let items: Vec<&str> = text.split(',').map(str::trim).filter(|item| !item.is_empty()).collect();
        match items.as_slice() {
            [] => Ok(CorsOrigins::None),
            ["*"] => Ok(CorsOrigins::Any),
            _ if items.contains(&"*") => Err(CorsOriginError::StarAmongOrigins),
            _ => items.iter().map(|item| origin(item)).collect::<Result<_, _>>().map(CorsOrigins::Listed),
        }
    }
}

/// `text` as browsers serialise an origin, which is what they send and what is compared: the
/// scheme and host in lower case, the port only when it is not the scheme's own.
fn origin(text: &str) -> Result<axum::http::HeaderValue, CorsOriginError> {
    let not_an_origin = || CorsOriginError::NotAnOrigin(text.to_owned());
    let (scheme, authority) = text.split_once("://").ok_or_else(not_an_origin)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(not_an_origin()),
    };
    // Nothing follows the authority, and it names no user.
    if authority.contains(['/', '?', '#', '@']) {
        return Err(not_an_origin());
    }
    let authority: axum::http::uri::Authority = authority.parse().map_err(|_| not_an_origin())?;
    if authority.host().is_empty() {
        return Err(not_an_origin());
    }
    let host = authority.host().to_ascii_lowercase();
    let serialised = match authority.port_u16() {
        Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    };
    axum::http::HeaderValue::from_str(&serialised).map_err(|_| not_an_origin())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_are_origins_as_browsers_send_them() {
        let listed = |text: &str| -> Vec<String> {
            match text.parse::<CorsOrigins>() {
                Ok(CorsOrigins::Listed(origins)) => {
                    origins.iter().map(|o| o.to_str().unwrap().to_owned()).collect()
                }
                other => panic!("{text}: {other:?}"),
            }
        };
        assert_eq!(
            listed(" HTTPS://App.Example.com:443, http://localhost:3000 ,http://[::1]:80"),
            ["https://app.example.com", "http://localhost:3000", "http://[::1]"]
        );
        assert_eq!("".parse::<CorsOrigins>().unwrap(), CorsOrigins::None);
        assert_eq!(" * ".parse::<CorsOrigins>().unwrap(), CorsOrigins::Any);
        assert!(matches!(
            "*,https://a.example".parse::<CorsOrigins>(),
            Err(CorsOriginError::StarAmongOrigins)
        ));
        for refused in [
            "https://app.example.com/",
            "https://app.example.com/app",
            "https://app.example.com?x=1",
            "https://user@app.example.com",
            "app.example.com",
            "ftp://app.example.com",
            "null",
            "https://",
        ] {
            assert!(
                matches!(refused.parse::<CorsOrigins>(), Err(CorsOriginError::NotAnOrigin(_))),
                "{refused} was taken"
            );
        }
    }
}

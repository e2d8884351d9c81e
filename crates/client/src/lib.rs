//! A client for [Keyward](https://github.com/keyward/keyward), the self-hostable API-key service.
//!
//! [`Keyward`] stays authenticated for as long as it runs: with client credentials it fetches an
//! access token, reuses it, refreshes it before it expires and once more if the server refuses
//! it, all without caller code. Idempotent requests are retried on 429, 503 and connection
//! failures, honouring `Retry-After`. Errors carry the server's error body ([`Error`]).
//!
//! ```no_run
//! use futures::TryStreamExt;
//!
//! # async fn run() -> Result<(), keyward_client::Error> {
//! let keyward = keyward_client::Keyward::builder("https://keys.example.com")
//!     .client_credentials("UajESGdi9hMM9v3IsPv7NLYZfJ1uo53i", "the-client-secret")
//!     .build()?;
//! let created = keyward.create_key("deploy bot").await?;
//! println!("secret, shown once: {:?}", created.client_secret);
//! let keys: Vec<_> = keyward.keys().try_collect().await?;
//! println!("{} keys", keys.len());
//! # Ok(())
//! # }
//! ```
//!
//! Every operation of the API is also available, generated from its OpenAPI document, through
//! [`Keyward::api`].
//!
//! With an API key instead, and a custom retry policy:
//!
//! ```no_run
//! use keyward_client::{Keyward, RetryPolicy};
//!
//! # async fn run() -> Result<(), keyward_client::Error> {
//! let keyward = Keyward::builder("https://keys.example.com")
//!     .api_key("keyward_...")
//!     .retry(RetryPolicy::default().max_retries(5))
//!     .build()?;
//! for key in keyward.key_summaries().await? {
//!     println!("{} {} {}", key.identifier, key.name, key.key_for);
//! }
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod error;
#[allow(clippy::all, clippy::pedantic, missing_docs, unused_imports, unused_qualifications)]
#[rustfmt::skip]
mod generated;
mod hooks;
mod retry;
mod token;

pub use error::{Error, TransportError, TransportKind};
pub use retry::RetryPolicy;

/// The README's program, compiled as a doctest so that it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
pub use generated::{Client, ResponseValue, builder, types};
pub use keyward_model as model;

use futures::Stream;
use hooks::{Auth, Inner};
use keyward_model::{
    ApiKey, ApiKeyPage, ApiKeyRequest, CreateKeyRequest, CreatedKey, KeySummary, KeyType, Secret,
    VerifyKeyRequest, VerifyKeyResponse,
};
use std::time::Duration;
use uuid::Uuid;

/// The `User-Agent` of requests, unless the builder sets another.
pub const USER_AGENT: &str = concat!("keyward-client/", env!("CARGO_PKG_VERSION"));

/// How a [`Keyward`] will authenticate, before it is built.
enum Credentials {
    IdAndSecret { client_id: String, secret: Secret },
    ApiKey(Secret),
    Bearer(Secret),
    None,
}

/// Builds a [`Keyward`].
pub struct KeywardBuilder {
    base_url: String,
    credentials: Credentials,
    retry: RetryPolicy,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    root_certificates: Vec<Vec<u8>>,
    http: Option<reqwest::Client>,
}

impl KeywardBuilder {
    /// Authenticate with a key's client id and secret, exchanged for access tokens as needed.
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.credentials = Credentials::IdAndSecret {
            client_id: client_id.into(),
            secret: Secret::new(client_secret.into()),
        };
        self
    }

    /// Authenticate with a full key (`keyward_...`), sent as it is.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.credentials = Credentials::ApiKey(Secret::new(key.into()));
        self
    }

    /// Authenticate with an access token obtained elsewhere. It is not refreshed.
    pub fn bearer(mut self, token: impl Into<String>) -> Self {
        self.credentials = Credentials::Bearer(Secret::new(token.into()));
        self
    }

    /// Replace the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The longest a request may take, from connecting to the end of the answer (30 s by
    /// default). A caller waiting for an access token waits at most this long too.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest connecting may take (10 s by default).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` of every request ([`USER_AGENT`] by default).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Trust the CA certificates in `pem` (one or more PEM blocks) as well as the platform's
    /// roots: for a deployment whose certificate a private CA signed.
    #[cfg(any(feature = "rustls", feature = "native-tls"))]
    pub fn add_root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// Use this HTTP client as it is: the builder's timeouts, user agent and certificates are
    /// then not applied.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The client; fails on an invalid base URL or certificate.
    pub fn build(self) -> Result<Keyward, Error> {
        let base_url = self.base_url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| Error::InvalidRequest(format!("base URL {base_url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::InvalidRequest(format!("base URL {base_url:?}: not http or https")));
        }
        let auth = match self.credentials {
            Credentials::IdAndSecret { client_id, secret } => {
                Auth::ClientCredentials(token::Tokens::new(client_id, secret, self.timeout))
            }
            Credentials::ApiKey(key) => Auth::ApiKey(key),
            Credentials::Bearer(token) => Auth::Bearer(token),
            Credentials::None => Auth::None,
        };
        let http = match self.http {
            Some(http) => http,
            None => {
                let builder = reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .timeout(self.timeout)
                    .user_agent(self.user_agent)
                    // Keyward never redirects, and a 307 or 308 would resend a token request's
                    // body, client secret included, to wherever it points.
                    .redirect(reqwest::redirect::Policy::none());
                #[cfg(any(feature = "rustls", feature = "native-tls"))]
                let builder = {
                    let mut certificates = Vec::new();
                    for pem in &self.root_certificates {
                        let bundle = reqwest::Certificate::from_pem_bundle(pem)
                            .map_err(|e| Error::InvalidRequest(format!("CA certificate: {e}")))?;
                        if bundle.is_empty() {
                            return Err(Error::InvalidRequest(
                                "CA certificate: no PEM certificate found".into(),
                            ));
                        }
                        certificates.extend(bundle);
                    }
                    builder.tls_certs_merge(certificates)
                };
                builder.build().map_err(Error::from)?
            }
        };
        Ok(Keyward { client: Client::new_with_client(&base_url, http, Inner::new(auth, self.retry)) })
    }
}

/// The `cursor` of a `next` link.
fn cursor_in(href: &str) -> Result<String, Error> {
    let url = reqwest::Url::parse(href).map_err(|e| Error::Decode(format!("next link {href:?}: {e}")))?;
    url.query_pairs()
        .find(|(name, _)| name == "cursor")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| Error::Decode(format!("next link {href:?} has no cursor")))
}

/// A Keyward server, with credentials. Cheap to clone; clones share the access token.
#[derive(Clone, Debug)]
pub struct Keyward {
    client: Client,
}

impl Keyward {
    /// A builder for the server at `base_url` (e.g. `https://keys.example.com`).
    pub fn builder(base_url: impl Into<String>) -> KeywardBuilder {
        KeywardBuilder {
            base_url: base_url.into(),
            credentials: Credentials::None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: USER_AGENT.to_owned(),
            root_certificates: Vec::new(),
            http: None,
        }
    }

    /// Every operation of the API, as generated from its OpenAPI document.
    pub fn api(&self) -> &Client {
        &self.client
    }

    /// Checks the credentials now: with client credentials, fetches a token (and reports the
    /// token endpoint's answer if it refuses); with a key or a token, makes one cheap call.
    pub async fn authenticate(&self) -> Result<(), Error> {
        use progenitor_client::ClientInfo;
        match self.client.inner().tokens() {
            Some(tokens) => tokens.get(&self.client).await.map(drop),
            None => self.page(0, 1).await.map(drop),
        }
    }

    /// How many access tokens this client (and its clones) has fetched so far.
    pub fn tokens_fetched(&self) -> u64 {
        use progenitor_client::ClientInfo;
        self.client.inner().tokens().map_or(0, token::Tokens::fetched)
    }

    /// One page of the caller's keys, newest first.
    pub async fn page(&self, page: u64, size: u32) -> Result<ApiKeyPage, Error> {
        Ok(self.client.list_api_keys().page(page).size(size).send().await?.into_inner())
    }

    /// Every key of the caller, newest first, fetched a page at a time as the stream is read.
    ///
    /// The walk follows a cursor, not page numbers: keys created or deleted meanwhile neither make
    /// it skip a key nor show one twice.
    pub fn keys(&self) -> impl Stream<Item = Result<ApiKey, Error>> + Send + '_ {
        self.keys_in_pages_of(100)
    }

    /// [`Keyward::keys`], asking for `page_size` keys a request.
    pub fn keys_in_pages_of(&self, page_size: u32) -> impl Stream<Item = Result<ApiKey, Error>> + Send + '_ {
        use futures::{StreamExt, TryStreamExt};
        // An empty cursor starts at the newest key; each page's `next` link carries the next one.
        futures::stream::try_unfold(Some(String::new()), move |cursor| async move {
            let Some(cursor) = cursor else { return Ok(None) };
            let page = self.client.list_api_keys().cursor(cursor).size(page_size).send().await?.into_inner();
            let next = page.links.next.as_ref().map(|link| cursor_in(&link.href)).transpose()?;
            Ok::<_, Error>(Some((page.embedded.apikeys, next)))
        })
        .map_ok(|keys| futures::stream::iter(keys.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    /// One key of the caller.
    pub async fn get_key(&self, id: Uuid) -> Result<ApiKey, Error> {
        Ok(self.client.get_api_key().id(id).send().await?.into_inner())
    }

    /// Creates a key (initialise, then create). The answer's `client_secret` is the only copy.
    pub async fn create_key(&self, name: &str) -> Result<ApiKey, Error> {
        self.create_typed_key(name, KeyType::Generic).await
    }

    /// Creates a key of a type. The answer's `client_secret` is the only copy.
    pub async fn create_typed_key(&self, name: &str, key_for: KeyType) -> Result<ApiKey, Error> {
        let initialised = self.client.initialise_api_key().send().await?.into_inner();
        let body = ApiKeyRequest {
            name: Some(name.to_owned()),
            key_for: Some(key_for.as_str().to_owned()),
            ..ApiKeyRequest::default()
        };
        match self.client.put_api_key().id(initialised.id).body(body).send().await {
            Ok(created) if created.status() == reqwest::StatusCode::CREATED => Ok(created.into_inner()),
            Ok(_) => Err(Error::Decode("the key was created by another request: its secret is lost".into())),
            Err(error) => {
                // Best effort: an initialised key left behind would count against the profile's
                // allowance of them until the server sweeps it.
                let _ = self.client.delete_api_key().id(initialised.id).send().await;
                Err(error.into())
            }
        }
    }

    /// Renames a key of the caller.
    pub async fn rename_key(&self, id: Uuid, name: &str) -> Result<ApiKey, Error> {
        let body = ApiKeyRequest { name: Some(name.to_owned()), ..ApiKeyRequest::default() };
        Ok(self.client.put_api_key().id(id).body(body).send().await?.into_inner())
    }

    /// Deletes a key; it and its tokens stop working at once.
    pub async fn delete_key(&self, id: Uuid) -> Result<(), Error> {
        self.client.delete_api_key().id(id).send().await?;
        Ok(())
    }

    /// Creates a key through the key API: the answer's `api_key` is the full key, shown once.
    pub async fn create_full_key(&self, name: &str, key_for: KeyType) -> Result<CreatedKey, Error> {
        let body = CreateKeyRequest {
            name: Some(name.to_owned()),
            key_for: Some(key_for.as_str().to_owned()),
            ..CreateKeyRequest::default()
        };
        Ok(self.client.create_key().body(body).send().await?.into_inner())
    }

    /// The full key (`<prefix>_...`) of a key whose client id and secret were just shown, as
    /// [`Keyward::create_key`] shows them: the deployment's prefix is read from the key's public
    /// identifier.
    pub async fn full_key(&self, client_id: &str, secret: &Secret) -> Result<Secret, Error> {
        let summaries = self.key_summaries().await?;
        let prefix = summaries
            .iter()
            .find_map(|key| key.identifier.strip_suffix(client_id)?.strip_suffix('.').map(str::to_owned))
            .ok_or_else(|| Error::Decode(format!("no key with client id {client_id} is listed")))?;
        let format = keyward_model::KeyFormat::new(&prefix)
            .map_err(|e| Error::Decode(format!("key prefix {prefix:?}: {e}")))?;
        Ok(format.encode(client_id, secret))
    }

    /// The metadata of every key of the caller, from the key API.
    pub async fn key_summaries(&self) -> Result<Vec<KeySummary>, Error> {
        Ok(self.client.list_keys().send().await?.into_inner())
    }

    /// Asks whether a full key is valid, and whose it is.
    pub async fn verify(&self, key: &str) -> Result<VerifyKeyResponse, Error> {
        let body = VerifyKeyRequest { key: Some(Secret::new(key.to_owned())), scope: None };
        Ok(self.client.verify_key().body(body).send().await?.into_inner())
    }
}

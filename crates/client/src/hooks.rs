//! What the generated client calls around every request: authentication and retries.
//!
//! `pre` puts the `Authorization` header on the request, fetching or refreshing an access token
//! first when the client uses client credentials. `exec` sends it, fetches a new token and sends
//! once more on a 401, and retries idempotent requests on 429, 503 and connection failures,
//! honouring `Retry-After`.

use crate::generated::Client;
use crate::{Error, RetryPolicy};
use keyward_model::{ClientSecret, TokenRequest, TokenResponse};
use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{Method, Request, Response, StatusCode};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The generated operation that fetches tokens: it is sent without credentials of its own.
const TOKEN_OPERATION: &str = "get_token";

/// How requests authenticate.
#[derive(Clone)]
pub(crate) enum Auth {
    /// Exchanged for access tokens, refreshed as they expire.
    ClientCredentials {
        client_id: String,
        secret: ClientSecret,
    },
    /// A full key, sent as it is.
    ApiKey(ClientSecret),
    /// A bearer token obtained elsewhere.
    Bearer(ClientSecret),
    None,
}

/// The state the generated client carries: credentials, the current token, the retry policy.
#[derive(Clone)]
pub struct Inner(Arc<Shared>);

struct Shared {
    credentials: Auth,
    fetches: AtomicU64,
    token: Mutex<Option<CachedToken>>,
    retry: RetryPolicy,
}

struct CachedToken {
    value: ClientSecret,
    refresh_at: Instant,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0.credentials {
            Auth::ClientCredentials { .. } => "client credentials",
            Auth::ApiKey(_) => "API key",
            Auth::Bearer(_) => "bearer token",
            Auth::None => "none",
        };
        f.debug_struct("Inner").field("credentials", &kind).field("retry", &self.0.retry).finish()
    }
}

impl Inner {
    pub(crate) fn new(credentials: Auth, retry: RetryPolicy) -> Self {
        Self(Arc::new(Shared { credentials, fetches: AtomicU64::new(0), token: Mutex::new(None), retry }))
    }

    /// The `Authorization` value for the next request, if the client has credentials.
    pub(crate) async fn authorization(&self, client: &Client) -> Result<Option<HeaderValue>, Error> {
        let value = match &self.0.credentials {
            Auth::ClientCredentials { .. } => format!("Bearer {}", self.token(client).await?.expose()),
            Auth::ApiKey(key) => key.expose().to_owned(),
            Auth::Bearer(token) => format!("Bearer {}", token.expose()),
            Auth::None => return Ok(None),
        };
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| Error::InvalidRequest("credentials must be printable ASCII".into()))?;
        value.set_sensitive(true);
        Ok(Some(value))
    }

    /// The current access token, fetched or refreshed if it is missing or about to expire. The
    /// lock is held across the fetch, so that concurrent calls share one refresh.
    pub(crate) async fn token(&self, client: &Client) -> Result<ClientSecret, Error> {
        let Auth::ClientCredentials { client_id, secret } = &self.0.credentials else {
            return Err(Error::InvalidRequest("this client has no client credentials".into()));
        };
        let mut current = self.0.token.lock().await;
        if let Some(token) = current.as_ref().filter(|token| Instant::now() < token.refresh_at) {
            return Ok(token.value.clone());
        }
        let fetched_at = Instant::now();
        self.0.fetches.fetch_add(1, Ordering::Relaxed);
        let response = fetch_token(client, client_id, secret).await?;
        // Bounded, so that no answer can overflow the clock.
        let lifetime = Duration::from_secs(response.expires_in.min(365 * 24 * 3600));
        // Refresh a fifth of the lifetime (at most a minute) before expiry.
        let margin = (lifetime / 5).min(Duration::from_secs(60));
        let value = ClientSecret::new(response.access_token);
        *current = Some(CachedToken { value: value.clone(), refresh_at: fetched_at + lifetime - margin });
        Ok(value)
    }

    pub(crate) fn tokens_fetched(&self) -> u64 {
        self.0.fetches.load(Ordering::Relaxed)
    }

    /// Drops the current token if it is the one a refused request carried.
    async fn forget_token(&self, refused: Option<&HeaderValue>) {
        let mut current = self.0.token.lock().await;
        let carried = refused.and_then(|value| value.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        if current.as_ref().is_some_and(|token| Some(token.value.expose()) == carried) {
            *current = None;
        }
    }

    async fn execute(
        &self,
        client: &Client,
        mut request: Request,
        info: &OperationInfo,
    ) -> reqwest::Result<Response> {
        let policy = &self.0.retry;
        // The token request runs under the token lock: it is never retried, so that concurrent
        // calls are not held behind a wait.
        let is_token_request = info.operation_id == TOKEN_OPERATION;
        let retryable = !is_token_request && is_idempotent(request.method());
        // A timed-out request may have been processed: only reads are sent again after one.
        let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let uses_tokens = matches!(self.0.credentials, Auth::ClientCredentials { .. })
            && !is_token_request
            && request.headers().contains_key(AUTHORIZATION);
        let mut retries = 0;
        let mut reauthenticated = false;
        loop {
            // A copy to send again; bodies here are bytes, so this only fails for streams.
            let copy = request.try_clone();
            let result = client.client().execute(request).await;
            let Some(mut next) = copy else { return result };
            let wait = match &result {
                Ok(response)
                    if response.status() == StatusCode::UNAUTHORIZED && uses_tokens && !reauthenticated =>
                {
                    // The token expired early or was revoked: one fresh token, one more try.
                    reauthenticated = true;
                    self.forget_token(next.headers().get(AUTHORIZATION)).await;
                    match self.authorization(client).await {
                        Ok(Some(value)) => {
                            next.headers_mut().insert(AUTHORIZATION, value);
                            request = next;
                            continue;
                        }
                        _ => return result,
                    }
                }
                Ok(response)
                    if retryable
                        && retries < policy.max_retries
                        && matches!(
                            response.status(),
                            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                        ) =>
                {
                    retry_after(response).unwrap_or_else(|| policy.backoff(retries)).min(policy.max_wait)
                }
                Err(error)
                    if retryable
                        && retries < policy.max_retries
                        && (error.is_connect() || (safe && error.is_timeout())) =>
                {
                    policy.backoff(retries)
                }
                _ => return result,
            };
            tokio::time::sleep(wait).await;
            retries += 1;
            request = next;
        }
    }
}

/// Fetches a token through the generated operation. Boxed, because the operation runs these
/// hooks too.
fn fetch_token<'a>(
    client: &'a Client,
    client_id: &'a str,
    secret: &'a ClientSecret,
) -> Pin<Box<dyn Future<Output = Result<TokenResponse, Error>> + Send + 'a>> {
    Box::pin(async move {
        let body = TokenRequest {
            grant_type: Some("client_credentials".to_owned()),
            client_id: Some(client_id.to_owned()),
            client_secret: Some(secret.clone()),
            audience: None,
        };
        Ok(client.get_token().body(body).send().await?.into_inner())
    })
}

fn is_idempotent(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS)
}

/// `Retry-After` in seconds (the form Keyward sends).
fn retry_after(response: &Response) -> Option<Duration> {
    let seconds: u64 = response.headers().get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

impl ClientHooks<Inner> for Client {
    async fn pre<E>(
        &self,
        request: &mut Request,
        info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        if info.operation_id == TOKEN_OPERATION {
            return Ok(());
        }
        match self.inner().authorization(self).await {
            Ok(Some(value)) => {
                request.headers_mut().insert(AUTHORIZATION, value);
            }
            Ok(None) => {}
            // The server is unreachable: the request itself meets the same failure, as a
            // transport error the caller can recognise.
            Err(Error::Transport(_)) => {}
            // The token endpoint refused: that answer is the caller's error.
            Err(error) => return Err(progenitor_client::Error::Custom(crate::error::hook_error(&error))),
        }
        Ok(())
    }

    async fn exec(&self, request: Request, info: &OperationInfo) -> reqwest::Result<Response> {
        self.inner().execute(self, request, info).await
    }
}

//! What the generated client calls around every request: authentication and retries.
//!
//! `pre` puts the `Authorization` header on the request; with client credentials it gets a token
//! first, and a failure to get one ends the call with that failure (the request is never sent
//! bare). `exec` sends the request, gets a fresh token and sends once more on a 401, sends again
//! what [`RetryPolicy`] allows, and keeps the text of an error answer. `post` turns an error
//! answer whose body is not JSON (a proxy's page) into an error that keeps its status.

use crate::error::{CapturedBody, to_hook};
use crate::generated::Client;
use crate::token::Tokens;
use crate::{Error, RetryPolicy};
use keyward_model::Secret;
use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Request, Response, StatusCode};
use std::fmt;
use std::sync::Arc;

/// The generated operation that fetches tokens: it is sent without credentials of its own.
const TOKEN_OPERATION: &str = "get_token";
/// The generated operation that creates a key on an initialised id (and renames a created one).
const PUT_OPERATION: &str = "put_api_key";
/// The most of an error answer's body that is read.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// How requests authenticate.
pub(crate) enum Auth {
    /// Exchanged for access tokens, refreshed as they expire.
    ClientCredentials(Tokens),
    /// A full key, sent as it is.
    ApiKey(Secret),
    /// A bearer token obtained elsewhere.
    Bearer(Secret),
    None,
}

/// The state the generated client carries: credentials, tokens, the retry policy.
#[derive(Clone)]
pub struct Inner(Arc<Shared>);

struct Shared {
    auth: Auth,
    retry: RetryPolicy,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0.auth {
            Auth::ClientCredentials(_) => "client credentials",
            Auth::ApiKey(_) => "API key",
            Auth::Bearer(_) => "bearer token",
            Auth::None => "none",
        };
        f.debug_struct("Inner").field("credentials", &kind).field("retry", &self.0.retry).finish()
    }
}

impl Inner {
    pub(crate) fn new(auth: Auth, retry: RetryPolicy) -> Self {
        Self(Arc::new(Shared { auth, retry }))
    }

    pub(crate) fn tokens(&self) -> Option<&Tokens> {
        match &self.0.auth {
            Auth::ClientCredentials(tokens) => Some(tokens),
            _ => None,
        }
    }

    /// The `Authorization` value for the next request, if the client has credentials.
    async fn authorization(&self, client: &Client) -> Result<Option<HeaderValue>, Error> {
        let value = match &self.0.auth {
            Auth::ClientCredentials(tokens) => format!("Bearer {}", tokens.get(client).await?.expose()),
            Auth::ApiKey(key) => key.expose().to_owned(),
            Auth::Bearer(token) => format!("Bearer {}", token.expose()),
            Auth::None => return Ok(None),
        };
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| Error::InvalidRequest("credentials must be printable ASCII".into()))?;
        value.set_sensitive(true);
        Ok(Some(value))
    }

    async fn execute(
        &self,
        client: &Client,
        request: Request,
        info: &OperationInfo,
    ) -> reqwest::Result<Response> {
        let response = self.send(client, request, info).await?;
        capture_error_body(response).await
    }

    /// Sends `request`, and again as far as the policy allows.
    async fn send(
        &self,
        client: &Client,
        mut request: Request,
        info: &OperationInfo,
    ) -> reqwest::Result<Response> {
        let policy = &self.0.retry;
        let is_token_request = info.operation_id == TOKEN_OPERATION;
        let method = request.method().clone();
        // A token request changes nothing: it is always safe to repeat. A PUT may have created a
        // key whose secret only the lost first answer showed.
        let again_after_refusal =
            is_token_request || (is_idempotent(&method) && info.operation_id != PUT_OPERATION);
        let again_after_lost_answer = is_token_request
            || matches!(method, Method::GET | Method::HEAD | Method::OPTIONS | Method::DELETE);
        let tokens = self.tokens().filter(|_| !is_token_request);
        let mut retries = 0;
        let mut reauthenticated = false;
        let mut answer_lost = false;
        loop {
            // A copy to send again; bodies here are bytes, so this only fails for streams.
            let copy = request.try_clone();
            let result = client.client().execute(request).await;
            let Some(mut next) = copy else { return result };
            let wait = match &result {
                Ok(response) if response.status() == StatusCode::UNAUTHORIZED && !reauthenticated => {
                    let Some(tokens) = tokens else { return result };
                    // The token expired early or was revoked: one fresh token, one more try.
                    reauthenticated = true;
                    let carried = next.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok());
                    if let Some(token) = carried.and_then(|value| value.strip_prefix("Bearer ")) {
                        tokens.forget(token);
                    }
                    match self.authorization(client).await {
                        Ok(Some(value)) => {
                            next.headers_mut().insert(AUTHORIZATION, value);
                            request = next;
                            continue;
                        }
                        _ => return result,
                    }
                }
                // The first answer to this delete was lost; the key is gone, which is what was asked.
                Ok(response)
                    if response.status() == StatusCode::NOT_FOUND
                        && answer_lost
                        && method == Method::DELETE =>
                {
                    return Ok(deleted());
                }
                Ok(response)
                    if again_after_refusal
                        && matches!(
                            response.status(),
                            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                        ) =>
                {
                    let asked = crate::error::retry_after(response.headers());
                    if retries >= policy.max_retries || asked.is_some_and(|wait| wait > policy.max_wait) {
                        return result;
                    }
                    asked.unwrap_or_else(|| policy.backoff(retries))
                }
                // A certificate that is not trusted now will not be trusted in a second.
                Err(error) if crate::error::is_untrusted_certificate(error) => return result,
                Err(error) if retries < policy.max_retries && error.is_connect() => policy.backoff(retries),
                Err(error)
                    if retries < policy.max_retries && again_after_lost_answer && !error.is_builder() =>
                {
                    answer_lost = true;
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

fn is_idempotent(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS)
}

/// The answer to a delete that had happened before its answer was lost.
fn deleted() -> Response {
    let mut response = http::Response::new(Vec::<u8>::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Response::from(response)
}

/// Reads an error answer's body (bounded) and keeps it beside the response, which is rebuilt
/// around the same bytes for the generated code to decode.
async fn capture_error_body(mut response: Response) -> reqwest::Result<Response> {
    if !response.status().is_client_error() && !response.status().is_server_error() {
        return Ok(response);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_ERROR_BODY - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == MAX_ERROR_BODY {
            break;
        }
    }
    let mut rebuilt = http::Response::new(body.clone());
    *rebuilt.status_mut() = response.status();
    *rebuilt.version_mut() = response.version();
    *rebuilt.headers_mut() = std::mem::take(response.headers_mut());
    rebuilt.extensions_mut().insert(CapturedBody(body));
    Ok(Response::from(rebuilt))
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
                Ok(())
            }
            Ok(None) => Ok(()),
            // No token: the request is not sent, and the caller learns why.
            Err(error) => Err(progenitor_client::Error::Custom(to_hook(&error))),
        }
    }

    async fn exec(&self, request: Request, info: &OperationInfo) -> reqwest::Result<Response> {
        self.inner().execute(self, request, info).await
    }

    async fn post<E>(
        &self,
        result: &reqwest::Result<Response>,
        _: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        let Ok(response) = result else { return Ok(()) };
        let Some(captured) = response.extensions().get::<CapturedBody>() else { return Ok(()) };
        let json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.contains("json"))
            && serde_json::from_slice::<serde_json::Value>(&captured.0).is_ok();
        if json {
            return Ok(());
        }
        let error = Error::Unexpected {
            status: response.status(),
            retry_after: crate::error::retry_after(response.headers()),
            body: captured.text(),
        };
        Err(progenitor_client::Error::Custom(to_hook(&error)))
    }
}

//! Access tokens for client credentials: fetched once for all concurrent callers, reused, and
//! refreshed before they expire.
//!
//! One fetch is in flight at a time, as a task of its own; every caller that needs a token waits
//! for that fetch's result, success or failure, for at most the request timeout, and no lock is
//! held while it waits. A token that is due for refresh but not yet expired keeps being used when
//! the refresh fails.

use crate::Error;
use crate::error::TransportError;
use crate::generated::Client;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use keyward_model::{Secret, TokenRequest};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The longest lifetime believed, so that no answer can overflow the clock.
const MAX_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
/// The most a token is refreshed before it expires (otherwise a fifth of its lifetime).
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct Token {
    value: Secret,
    refresh_at: Instant,
    expires_at: Instant,
}

type Fetch = Shared<BoxFuture<'static, Result<Token, Error>>>;

#[derive(Default)]
struct State {
    current: Option<Token>,
    in_flight: Option<Fetch>,
}

pub(crate) struct Tokens {
    client_id: String,
    secret: Secret,
    /// The longest a caller waits for a token.
    wait: Duration,
    state: Arc<Mutex<State>>,
    fetches: Arc<AtomicU64>,
}

impl Tokens {
    pub(crate) fn new(client_id: String, secret: Secret, wait: Duration) -> Self {
        Self { client_id, secret, wait, state: Arc::default(), fetches: Arc::default() }
    }

    pub(crate) fn fetched(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// A token to send now, fetched through `client` if need be.
    pub(crate) async fn get(&self, client: &Client) -> Result<Secret, Error> {
        let (client, request) = (client.clone(), self.request());
        self.get_with(move || fetch(client, request)).await
    }

    fn request(&self) -> TokenRequest {
        TokenRequest {
            grant_type: Some("client_credentials".to_owned()),
            client_id: Some(self.client_id.clone()),
            client_secret: Some(self.secret.clone()),
            audience: None,
            scope: None,
        }
    }

    /// A token to send now; `fetch` gets a new one (its value and lifetime in seconds) when
    /// none is in flight.
    async fn get_with(
        &self,
        fetch: impl FnOnce() -> BoxFuture<'static, Result<(String, u64), Error>> + Send,
    ) -> Result<Secret, Error> {
        let (fetch, still_valid) = {
            let mut state = self.state.lock().expect("token state");
            let now = Instant::now();
            if let Some(token) = state.current.as_ref().filter(|token| now < token.refresh_at) {
                return Ok(token.value.clone());
            }
            let still_valid =
                state.current.as_ref().filter(|token| now < token.expires_at).map(|t| t.value.clone());
            let fetch = match &state.in_flight {
                Some(fetch) => fetch.clone(),
                None => {
                    let fetch = self.start_fetch(fetch());
                    state.in_flight = Some(fetch.clone());
                    fetch
                }
            };
            (fetch, still_valid)
        };
        let result = match tokio::time::timeout(self.wait, fetch).await {
            Ok(result) => result,
            Err(_) => Err(Error::Transport(TransportError::timeout(format!(
                "no access token from the token endpoint within {:?}",
                self.wait
            )))),
        };
        match (result, still_valid) {
            (Ok(token), _) => Ok(token.value),
            (Err(_), Some(valid)) => Ok(valid),
            (Err(error), None) => Err(error),
        }
    }

    /// Forgets the current token if it is `refused`, the one a request carried and the server
    /// refused.
    pub(crate) fn forget(&self, refused: &str) {
        let mut state = self.state.lock().expect("token state");
        if state.current.as_ref().is_some_and(|token| token.value.expose() == refused) {
            state.current = None;
        }
    }

    /// Starts the one fetch, as a task that finishes (and stores its token) even if every caller
    /// stopped waiting.
    fn start_fetch(&self, fetch: BoxFuture<'static, Result<(String, u64), Error>>) -> Fetch {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let state = self.state.clone();
        let task = tokio::spawn(async move {
            let fetched_at = Instant::now();
            let result = fetch.await.map(|(value, expires_in)| {
                let lifetime = Duration::from_secs(expires_in).min(MAX_LIFETIME);
                let margin = (lifetime / 5).min(MAX_REFRESH_MARGIN);
                Token {
                    value: Secret::new(value),
                    refresh_at: fetched_at + lifetime - margin,
                    expires_at: fetched_at + lifetime,
                }
            });
            let mut state = state.lock().expect("token state");
            state.in_flight = None;
            if let Ok(token) = &result {
                state.current = Some(token.clone());
            }
            result
        });
        task.map(|joined| {
            joined.unwrap_or_else(|_| Err(Error::InvalidRequest("the token fetch was cancelled".into())))
        })
        .boxed()
        .shared()
    }
}

/// Fetches a token through the generated operation. A function with a boxed future, because the
/// operation runs the request hooks, which get tokens.
fn fetch(client: Client, request: TokenRequest) -> BoxFuture<'static, Result<(String, u64), Error>> {
    Box::pin(async move {
        let response = client.get_token().body(request).send().await?.into_inner();
        Ok((response.access_token, response.expires_in))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn tokens() -> Arc<Tokens> {
        Arc::new(Tokens::new("id".into(), Secret::new("secret".into()), Duration::from_secs(30)))
    }

    fn answer(value: &'static str, after: Duration) -> BoxFuture<'static, Result<(String, u64), Error>> {
        async move {
            tokio::time::sleep(after).await;
            Ok((value.to_owned(), 100))
        }
        .boxed()
    }

    fn failure(after: Duration) -> BoxFuture<'static, Result<(String, u64), Error>> {
        async move {
            tokio::time::sleep(after).await;
            Err(Error::Transport(TransportError::timeout("the endpoint is down")))
        }
        .boxed()
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_fetch_and_its_failure() {
        let tokens = tokens();
        let calls = Arc::new(AtomicUsize::new(0));
        let callers = (0..16).map(|_| {
            let (tokens, calls) = (tokens.clone(), calls.clone());
            tokio::spawn(async move {
                tokens
                    .get_with(|| {
                        calls.fetch_add(1, Ordering::SeqCst);
                        failure(Duration::from_secs(1))
                    })
                    .await
            })
        });
        for result in futures::future::join_all(callers).await {
            assert!(matches!(result.unwrap(), Err(Error::Transport(_))));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one fetch for all");
        assert_eq!(tokens.fetched(), 1);
        // The failure is not kept: the next caller tries again, and succeeds.
        let token = tokens.get_with(|| answer("fresh", Duration::ZERO)).await.unwrap();
        assert_eq!(token.expose(), "fresh");
    }

    #[tokio::test(start_paused = true)]
    async fn no_caller_waits_longer_than_the_timeout_behind_a_hung_endpoint() {
        let tokens = tokens();
        let started = Instant::now();
        let result = tokens.get_with(|| answer("late", Duration::from_secs(60))).await;
        assert!(matches!(result, Err(Error::Transport(_))));
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        // The fetch goes on by itself; a later caller gets its token without a new fetch.
        tokio::time::sleep(Duration::from_secs(31)).await;
        let token = tokens.get_with(|| panic!("a second fetch")).await.unwrap();
        assert_eq!(token.expose(), "late");
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_is_reused_refreshed_early_and_kept_while_a_refresh_fails() {
        let tokens = tokens();
        assert_eq!(tokens.get_with(|| answer("first", Duration::ZERO)).await.unwrap().expose(), "first");
        // Lifetime 100 s: refreshed from 80 s on.
        tokio::time::sleep(Duration::from_secs(79)).await;
        assert_eq!(tokens.get_with(|| panic!("refreshed too early")).await.unwrap().expose(), "first");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let kept = tokens.get_with(|| failure(Duration::ZERO)).await.unwrap();
        assert_eq!(kept.expose(), "first", "still valid: used while the refresh fails");
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert!(tokens.get_with(|| failure(Duration::ZERO)).await.is_err(), "expired: the failure shows");
        assert_eq!(tokens.get_with(|| answer("second", Duration::ZERO)).await.unwrap().expose(), "second");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_token_is_forgotten() {
        let tokens = tokens();
        tokens.get_with(|| answer("first", Duration::ZERO)).await.unwrap();
        tokens.forget("other");
        assert_eq!(tokens.get_with(|| panic!("refetched")).await.unwrap().expose(), "first");
        tokens.forget("first");
        assert_eq!(tokens.get_with(|| answer("second", Duration::ZERO)).await.unwrap().expose(), "second");
    }
}

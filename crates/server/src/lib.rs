//! Keyward's server: issues, verifies and manages API keys.
//!
//! [`AppState::open`] wires the store, the key service, the authenticator and the token service;
//! [`serve`] runs the HTTP API on a listener. `main.rs` is only the command line around them.

pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod config_file;
pub mod error;
pub mod events;
pub mod hashing;
pub mod http;
pub mod ids;
pub mod keys;
pub mod metrics;
pub mod secrets;
pub mod signin;
pub mod store;
pub mod tokens;
pub mod views;

use crate::api::rendered::RenderedPages;
use crate::auth::{Authenticator, AuthenticatorParts, CredentialCache, Throttle};
use crate::clock::{Clock, SystemClock};
use crate::config::{KeySettings, ServeSettings};
use crate::hashing::SecretHasher;
use crate::keys::KeyService;
use crate::signin::{IdentityProviders, SignIn, SignInParts};
use crate::store::Store;
use crate::tokens::TokenService;
use crate::views::ProfileViews;
use anyhow::Context;
use keyward_model::KeyFormat;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long a starting server waits for a database that is unavailable.
pub const STARTUP_PATIENCE: Duration = Duration::from_secs(30);

/// Whether `error` comes from a database that cannot do the work now (see
/// [`store::StoreError::Unavailable`]), rather than one that refused it.
fn is_unavailable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(cause.downcast_ref(), Some(store::StoreError::Unavailable(_)))
            || matches!(
                cause.downcast_ref(),
                Some(tokens::TokenKeyError::Store(store::StoreError::Unavailable(_)))
            )
    })
}

/// How often initialised-but-never-created keys are swept.
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// Everything a request handler can reach, behind one reference count: extractors clone the
/// state for every request.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services of a running instance.
pub struct Services {
    pub keys: Arc<KeyService>,
    pub auth: Arc<Authenticator>,
    /// People's sign-in through identity providers, when configured.
    pub sign_in: Option<Arc<SignIn>>,
    pub tokens: Arc<TokenService>,
    pub format: KeyFormat,
    /// The deployment's base URL: of every absolute link, and the tokens' issuer.
    pub base_url: String,
    /// Who names the client address of a request.
    pub proxies: api::client_address::TrustedProxies,
    /// The time tokens and cached credentials are judged by.
    pub clock: Arc<dyn Clock>,
    pub store: Arc<dyn Store>,
    pub cache: Arc<CredentialCache>,
    pub views: Arc<ProfileViews>,
    /// Key list pages as answered, while their profile's keys are unchanged.
    pub rendered: RenderedPages,
    /// The in-flight bound and the timeouts of requests.
    pub limits: Arc<api::limits::Limits>,
    /// How connections are served.
    pub http: config::HttpSettings,
    /// The origins whose scripts may call the API from a browser.
    pub cors: config::CorsOrigins,
    /// How long audit events are kept; `None`: for ever.
    pub audit_retention: Option<chrono::TimeDelta>,
}

impl AppState {
    /// Opens the database (running migrations), loads or makes the token signing key, and wires
    /// the services together on the system clock.
    ///
    /// A database that is there but cannot take the work now (locked by a long write, not yet
    /// accepting connections) is waited for, up to [`STARTUP_PATIENCE`]; anything else fails at once.
    pub async fn open(settings: &ServeSettings) -> anyhow::Result<Self> {
        let deadline = tokio::time::Instant::now() + STARTUP_PATIENCE;
        loop {
            let opened = async {
                let store = store::connect(&settings.database).await.context("opening the database")?;
                Self::with_store(store, settings, Arc::new(SystemClock)).await
            }
            .await;
            match opened {
                Err(error) if is_unavailable(&error) && tokio::time::Instant::now() < deadline => {
                    tracing::warn!(error = format!("{error:#}"), "the database is unavailable; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                opened => return opened,
            }
        }
    }

    /// Wires the services around `store`, telling the time by `clock`.
    pub async fn with_store(
        store: Arc<dyn Store>,
        settings: &ServeSettings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let hasher = hasher(&settings.keys)?;
        let cache = Arc::new(CredentialCache::with_clock(
            settings.cache_ttl(),
            settings.cache_capacity,
            clock.clone(),
        ));
        let tokens = Arc::new(
            TokenService::load_or_create(store.as_ref(), &settings.token_settings()?, clock.clone())
                .await
                .context("loading the token signing keys")?,
        );
        let views = Arc::new(ProfileViews::new(settings.cache_ttl(), settings.cache_capacity));
        let keys = Arc::new(KeyService::new(
            store.clone(),
            hasher.clone(),
            cache.clone(),
            views.clone(),
            settings.keys.max_keys_per_profile,
        ));
        let format = key_format(&settings.keys)?;
        let oidc = &settings.oidc;
        let sign_in = IdentityProviders::new(&oidc.oidc_issuer, &oidc.oidc_audience, oidc.refresh_floor())?
            .map(|providers| {
                Arc::new(SignIn::new(
                    providers,
                    SignInParts {
                        store: store.clone(),
                        keys: keys.clone(),
                        tokens: tokens.clone(),
                        clock: clock.clone(),
                        cache_capacity: settings.cache_capacity,
                    },
                ))
            });
        let auth = Arc::new(Authenticator::new(AuthenticatorParts {
            store: store.clone(),
            hasher,
            cache: cache.clone(),
            tokens: tokens.clone(),
            format: format.clone(),
            throttle: Throttle::new(
                settings.throttle_per_key,
                settings.throttle_per_address,
                settings.cache_capacity,
            ),
            sign_in: sign_in.clone(),
        }));
        Ok(Self(Arc::new(Services {
            keys,
            auth,
            sign_in,
            tokens,
            format,
            base_url: settings.base_url(),
            proxies: api::client_address::TrustedProxies::new(
                settings.trusted_proxies.clone(),
                settings.forwarded_header,
            ),
            clock,
            store,
            cache,
            views,
            rendered: RenderedPages::default(),
            limits: Arc::new(api::limits::Limits::new(&settings.http)),
            http: settings.http.clone(),
            cors: settings.cors.cors_origins.clone(),
            audit_retention: settings.audit_retention(),
        })))
    }
}

/// Checks what of the settings clap cannot: the secret key, the hashing parameters, the key
/// prefix, and sign-in's issuers and audiences together. Opens and connects nothing.
pub fn check_settings(settings: &ServeSettings) -> anyhow::Result<()> {
    settings.secret_key.load()?;
    hasher(&settings.keys)?;
    key_format(&settings.keys)?;
    let oidc = &settings.oidc;
    IdentityProviders::new(&oidc.oidc_issuer, &oidc.oidc_audience, oidc.refresh_floor())?;
    Ok(())
}

/// The argon2id hasher the settings ask for.
pub fn hasher(settings: &KeySettings) -> anyhow::Result<SecretHasher> {
    SecretHasher::new(settings.argon2_memory_kib, settings.argon2_iterations, settings.argon2_parallelism)
        .map_err(|error| anyhow::anyhow!("invalid argon2 parameters: {error}"))
}

/// The full-key format the settings ask for.
pub fn key_format(settings: &KeySettings) -> anyhow::Result<KeyFormat> {
    KeyFormat::new(&settings.key_prefix).map_err(anyhow::Error::new)
}

/// Serves the API on `listener` until `shutdown` completes, following other instances' deletes
/// and renames and the signing keys' rotations, and sweeping stale initialised keys, old key
/// events and audit events past their retention hourly.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let follower = tokio::spawn(events::follow(
        state.store.clone(),
        state.cache.clone(),
        state.views.clone(),
        state.clock.clone(),
    ));
    let rotations = tokio::spawn(state.tokens.clone().follow_rotations(state.store.clone()));
    let (keys, store) = (state.keys.clone(), state.store.clone());
    let retention = events::retention(state.cache.ttl());
    let audit_retention = state.audit_retention;
    let sweeper = tokio::spawn(async move {
        // The first sweep comes one interval after the start, not at it: a server starting is
        // busy enough, and its store calls then belong to the requests it serves.
        let mut interval =
            tokio::time::interval_at(tokio::time::Instant::now() + PURGE_INTERVAL, PURGE_INTERVAL);
        loop {
            interval.tick().await;
            match keys.purge_initialised(chrono::Utc::now()).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "deleted initialised keys older than a day"),
                Err(error) => tracing::warn!(%error, "sweeping initialised keys failed"),
            }
            // A retention past the calendar's start keeps every row.
            if let Some(before) = chrono::Utc::now().checked_sub_signed(retention)
                && let Err(error) = store.purge_events(before).await
            {
                tracing::warn!(%error, "purging old key events failed");
            }
            if let Some(before) = audit_retention.and_then(|kept| chrono::Utc::now().checked_sub_signed(kept))
            {
                match store.purge_audit_events(before, store::AUDIT_PURGE_BATCH).await {
                    Ok(0) => {}
                    Ok(purged) => tracing::info!(purged, "deleted audit events past their retention"),
                    Err(error) => tracing::warn!(%error, "purging old audit events failed"),
                }
            }
        }
    });
    metrics::install();
    let settings = state.http.clone();
    let result = http::serve(listener, api::router(state), &settings, shutdown).await;
    sweeper.abort();
    rotations.abort();
    follower.abort();
    result
}

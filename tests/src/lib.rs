//! A real Keyward server on an ephemeral port, with a fresh SQLite database, for black-box tests.
//! Every response that goes through [`TestServer::send`] is checked against the OpenAPI document.

pub mod database;
pub mod idp;
pub mod outage;
pub mod probe;
pub mod scripted;
pub mod spec;
pub mod tls;

use keyward_model::{KeyType, TokenResponse};
use keyward_server::AppState;
use keyward_server::clock::ManualClock;
use keyward_server::config::{DatabaseSettings, KeySettings, ServeSettings};
use keyward_server::hashing::{DEFAULT_ITERATIONS, DEFAULT_MEMORY_KIB, DEFAULT_PARALLELISM};
use keyward_server::ids::KeyId;
use keyward_server::store::Store;
use serde_json::Value;
use std::io::Write;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use uuid::Uuid;

pub use reqwest::StatusCode;

pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub http: reqwest::Client,
    pub state: AppState,
    pub settings: ServeSettings,
    /// The server's clock: it starts at the real time and moves only through [`Self::advance`].
    pub clock: Arc<ManualClock>,
    shutdown: Option<oneshot::Sender<()>>,
    /// Every secret, full key and access token this server issued to the test, and where the
    /// captured logs stood when it started: on drop, none of them may appear in what it logged.
    issued: Mutex<Vec<String>>,
    logs_from: usize,
    _dir: TempDir,
}

/// A key made directly in the store, as `keyward-server keys create` does.
#[derive(Clone)]
pub struct Minted {
    pub id: KeyId,
    pub profile_id: String,
    pub client_id: String,
    pub secret: String,
    /// The full key, for `Authorization: <key>`.
    pub api_key: String,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server on the database at `database_url`, whatever the suite's backend.
    pub async fn start_on(database_url: String, configure: impl FnOnce(&mut ServeSettings)) -> Self {
        Self::start_with(|settings| {
            settings.database.database_url = database_url;
            configure(settings);
        })
        .await
    }

    pub async fn start_with(configure: impl FnOnce(&mut ServeSettings)) -> Self {
        let (mut settings, dir) = fresh_settings(configure).await;
        let listener = listen(&mut settings).await;
        let clock = Arc::new(ManualClock::starting_now());
        let state = AppState::with_store(connect(&settings).await, &settings, clock.clone())
            .await
            .expect("server state");
        Self::serve(listener, state, settings, clock, dir).await
    }

    /// A server whose store is watched, and can be made to fail, through the returned probe.
    pub async fn start_probed(configure: impl FnOnce(&mut ServeSettings)) -> (Self, Arc<probe::Probe>) {
        let (mut settings, dir) = fresh_settings(configure).await;
        let listener = listen(&mut settings).await;
        let clock = Arc::new(ManualClock::starting_now());
        let (probed, probe) = probe::ProbedStore::new(connect(&settings).await);
        let state =
            AppState::with_store(Arc::new(probed), &settings, clock.clone()).await.expect("server state");
        (Self::serve(listener, state, settings, clock, dir).await, probe)
    }

    /// A second instance on this instance's database and clock, as a multi-instance deployment
    /// runs: behind one public URL, the first instance's.
    pub async fn start_beside(&self) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut settings = self.settings.clone();
        settings.public_url = Some(self.settings.base_url());
        settings.bind = "127.0.0.1:0".parse().expect("address");
        let listener = listen(&mut settings).await;
        let state = AppState::with_store(connect(&settings).await, &settings, self.clock.clone())
            .await
            .expect("server state");
        Self::serve(listener, state, settings, self.clock.clone(), dir).await
    }

    /// Lets `by` pass on the server's clock (and on every instance beside it).
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    async fn serve(
        listener: TcpListener,
        state: AppState,
        settings: ServeSettings,
        clock: Arc<ManualClock>,
        dir: TempDir,
    ) -> Self {
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let logs_from = log_buffer().lock().expect("log buffer").len();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let served = state.clone();
        tokio::spawn(async move {
            keyward_server::serve(listener, served, async {
                let _ = stopped.await;
            })
            .await
            .expect("server");
        });
        let http = reqwest::Client::builder().build().expect("client");
        Self {
            base,
            http,
            state,
            settings,
            clock,
            shutdown: Some(shutdown),
            issued: Mutex::new(Vec::new()),
            logs_from,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A well-formed full key (its checksum holds) for a client id that does not exist.
    pub fn made_up_key(&self) -> String {
        use keyward_server::secrets::{CLIENT_ID_LEN, SECRET_LEN, random_base62};
        let secret = keyward_model::Secret::new(random_base62(SECRET_LEN));
        self.state.format.encode(&random_base62(CLIENT_ID_LEN), &secret).expose().to_owned()
    }

    /// A GET of `path` on this server, to finish and [`TestServer::send`].
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path))
    }

    /// A POST to `path` on this server.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path))
    }

    /// A PUT to `path` on this server.
    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.put(self.url(path))
    }

    /// A DELETE of `path` on this server.
    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.delete(self.url(path))
    }

    /// Makes a key for `profile_id` straight in the store (the bootstrap path).
    pub async fn mint(&self, profile_id: &str, name: &str) -> Minted {
        self.mint_typed(profile_id, name, KeyType::Generic).await
    }

    /// Makes a key of type `key_for` for `profile_id` straight in the store.
    pub async fn mint_typed(&self, profile_id: &str, name: &str, key_for: KeyType) -> Minted {
        self.mint_with(profile_id, name, key_for, None).await
    }

    /// Deletes a key straight in the store, as the operator would.
    pub async fn delete_key(&self, profile_id: &str, id: KeyId) {
        let by = keyward_server::keys::Requester::command_line();
        self.state.keys.delete(&profile_id.into(), id, &by).await.expect("deleting a key");
    }

    /// Makes a key for `profile_id` straight in the store, holding `scopes` (all without).
    pub async fn mint_scoped(&self, profile_id: &str, name: &str, scopes: &str) -> Minted {
        self.mint_with(profile_id, name, KeyType::Generic, Some(scopes.parse().expect("scopes"))).await
    }

    async fn mint_with(
        &self,
        profile_id: &str,
        name: &str,
        key_for: KeyType,
        scopes: Option<keyward_model::Scopes>,
    ) -> Minted {
        let by = keyward_server::keys::Requester::command_line();
        let created = self
            .state
            .keys
            .create(&profile_id.into(), Some(name), key_for, scopes, &by)
            .await
            .expect("minting a key");
        let client_id = created.key.client_id.to_string();
        let minted = Minted {
            id: created.key.id,
            profile_id: profile_id.to_owned(),
            api_key: self.state.format.encode(&client_id, &created.secret).expose().to_owned(),
            client_id,
            secret: created.secret.expose().to_owned(),
        };
        self.issued.lock().expect("issued").extend([minted.api_key.clone(), minted.secret.clone()]);
        minted
    }

    /// Adds `secret` to those that must never appear in this server's logs.
    pub fn watch_for_leaks(&self, secret: &str) {
        self.issued.lock().expect("issued").push(secret.to_owned());
    }

    /// Exchanges client credentials for an access token (form-encoded, as OAuth clients do).
    pub async fn token(&self, client_id: &str, secret: &str) -> String {
        let request = self.http.post(self.url("/oauth/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ]);
        let (status, _, body) = self.send(request).await;
        assert_eq!(status, StatusCode::OK, "token request failed: {body}");
        serde_json::from_value::<TokenResponse>(body).expect("token response").access_token
    }

    /// A fresh key for `profile_id` and an access token for it.
    pub async fn login(&self, profile_id: &str) -> (Minted, String) {
        self.login_named(profile_id, &format!("login {}", Uuid::new_v4())).await
    }

    /// A fresh key named `name` for `profile_id` and an access token for it.
    pub async fn login_named(&self, profile_id: &str, name: &str) -> (Minted, String) {
        let minted = self.mint(profile_id, name).await;
        let token = self.token(&minted.client_id, &minted.secret).await;
        (minted, token)
    }

    /// Sends `request` and returns the status, the headers and the body as JSON (`Null` when
    /// empty), after checking the response against the OpenAPI document.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let request = request.build().expect("a valid request");
        let (method, path) = (request.method().to_string(), request.url().path().to_owned());
        let response = self.http.execute(request).await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        if let Err(problem) = spec::spec().check_response(&method, &path, status.as_u16(), &bytes) {
            panic!("the response breaks the OpenAPI document: {problem}");
        }
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("body is not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        let secrets =
            ["clientSecret", "apiKey", "access_token"].iter().filter_map(|field| body[field].as_str());
        self.issued.lock().expect("issued").extend(secrets.map(str::to_owned));
        (status, headers, body)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if std::thread::panicking() {
            return;
        }
        // Everything logged since this server started, at TRACE: no secret it issued is in it.
        let leaked = {
            let buffer = log_buffer().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let logged = String::from_utf8_lossy(buffer.get(self.logs_from..).unwrap_or_default());
            let issued = self.issued.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            issued.iter().find(|secret| logged.contains(secret.as_str())).cloned()
        };
        if let Some(secret) = leaked {
            panic!("an issued secret was logged: {}…", &secret[..8.min(secret.len())]);
        }
    }
}

/// A listener on the settings' address, which becomes the bound one (and so the base URL when
/// no public URL is set), as `keyward-server` does.
async fn listen(settings: &mut ServeSettings) -> TcpListener {
    let listener = TcpListener::bind(settings.bind).await.expect("bind");
    settings.bind = listener.local_addr().expect("address");
    listener
}

/// The settings' database, migrated.
async fn connect(settings: &ServeSettings) -> Arc<dyn Store> {
    keyward_server::store::connect(&settings.database).await.expect("store")
}

/// Settings for a server on a fresh database (see [`database`]) and a new temporary directory.
async fn fresh_settings(configure: impl FnOnce(&mut ServeSettings)) -> (ServeSettings, TempDir) {
    capture_logs();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = ServeSettings {
        bind: "127.0.0.1:0".parse().expect("address"),
        public_url: None,
        trusted_proxies: Vec::new(),
        forwarded_header: keyward_server::api::client_address::ForwardedHeader::XForwardedFor,
        http: keyward_server::config::HttpSettings::default(),
        cors: keyward_server::config::CorsSettings::default(),
        token_ttl: 86_400,
        cache_ttl: 30,
        token_algorithm: keyward_server::tokens::SigningAlgorithm::Rs256,
        cache_capacity: 100_000,
        audit_retention_days: 365,
        throttle_per_key: NonZeroU32::new(10).expect("non-zero"),
        throttle_per_address: NonZeroU32::new(1000).expect("non-zero"),
        signing_keys_reload_ms: keyward_server::tokens::RELOAD_INTERVAL.as_millis() as u64,
        secret_key: keyward_server::config::SecretKeySettings::none(),
        oidc: keyward_server::config::OidcSettings::default(),
        database: DatabaseSettings::at(database::fresh_url(dir.path()).await),
        keys: KeySettings {
            max_keys_per_profile: 50,
            argon2_memory_kib: DEFAULT_MEMORY_KIB,
            argon2_iterations: DEFAULT_ITERATIONS,
            argon2_parallelism: DEFAULT_PARALLELISM,
            key_prefix: "keyward".to_owned(),
        },
    };
    configure(&mut settings);
    (settings, dir)
}

/// Every log line the servers of this test binary wrote, at every level.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().expect("log buffer")).into_owned()
}

fn log_buffer() -> &'static Mutex<Vec<u8>> {
    static BUFFER: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    BUFFER.get_or_init(|| Mutex::new(Vec::new()))
}

struct BufferWriter;

impl Write for BufferWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        log_buffer().lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Routes the server's logs (everything from Keyward, its HTTP layer and its database driver,
/// down to TRACE) into [`captured_logs`].
fn capture_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let filter = tracing_subscriber::EnvFilter::new(
            "info,keyward_server=trace,tower_http=trace,axum=trace,sqlx=trace",
        );
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(|| BufferWriter)
            .init();
    });
}

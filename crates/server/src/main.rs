//! The `keyward-server` command line.

use clap::{CommandFactory, Parser, Subcommand};
use keyward_model::{KeyType, Scopes, Secret};
use keyward_server::config::{DatabaseSettings, KeySettings, SecretKeySettings, ServeSettings};
use keyward_server::keys::{self, KeyService, NewKey, Requester};
use keyward_server::tokens::{self, SigningAlgorithm};
use keyward_server::{AppState, auth::CredentialCache, config_file, store};
use serde::Serialize;
use std::process::ExitCode;
use std::sync::Arc;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "keyward-server", version, about = "Issues, verifies and manages API keys")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// With no subcommand, the server runs (`serve`).
    #[command(flatten)]
    serve: ServeSettings,

    /// A TOML file of settings, named as the environment names them without `KEYWARD_` and
    /// lowercased (`database_url = "sqlite://keyward.db"`). Flags and `KEYWARD_*` variables
    /// override it.
    #[arg(long, env = "KEYWARD_CONFIG", global = true)]
    config: Option<std::path::PathBuf>,

    /// How log lines are written to standard error: `text` for people (coloured on a terminal),
    /// `json` for a log collector (one object per line).
    #[arg(long, env = "KEYWARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (the default).
    Serve(ServeSettings),
    /// Check the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage keys directly in the database.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage the token signing keys.
    SigningKeys {
        #[command(subcommand)]
        command: SigningKeysCommand,
    },
    /// Copy the SQLite database, consistently and while servers run on it, to a new file
    /// (readable by its owner only). For PostgreSQL, use `pg_dump`.
    Backup {
        /// The file to write; it must not exist.
        #[arg(long)]
        to: std::path::PathBuf,
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check the settings `serve` would run with (flags, environment, configuration file) and
    /// print them, each with where it came from, secrets masked. Nothing is opened or connected.
    Check(ServeSettings),
}

#[derive(Subcommand)]
enum SigningKeysCommand {
    /// Store a new signing key of the token algorithm and print its kid. Every running instance
    /// signs with it within a minute; the previous key stays published and keeps verifying until
    /// its last token has expired (the token TTL), then retires.
    Rotate {
        /// The algorithm of the new key: the one the servers sign with.
        #[arg(long, env = "KEYWARD_TOKEN_ALGORITHM", value_enum, default_value_t = SigningAlgorithm::Rs256)]
        token_algorithm: SigningAlgorithm,
        #[command(flatten)]
        secret_key: SecretKeySettings,
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key for a profile and print it, secret included, as JSON. This is how the first
    /// key is made; the secret is shown only here.
    Create {
        /// The owning profile's id, e.g. `auth0|5eb0327cbfd7490bff55feeb`.
        #[arg(long)]
        profile: String,
        /// The key's name, unique within the profile.
        #[arg(long)]
        name: String,
        /// What the key is for.
        #[arg(long = "for", value_enum, default_value_t = KeyTypeArg::Generic)]
        key_for: KeyTypeArg,
        /// What the key may do, space-separated (`keys:read keys:write keys:verify`); every
        /// scope by default.
        #[arg(long)]
        scopes: Option<Scopes>,
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        keys: KeySettings,
    },
}

/// The key types, as the command line spells them.
#[derive(Clone, Copy, clap::ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
enum KeyTypeArg {
    Generic,
    Onboarding,
    Gcp,
    Aws,
}

impl From<KeyTypeArg> for KeyType {
    fn from(arg: KeyTypeArg) -> Self {
        match arg {
            KeyTypeArg::Generic => KeyType::Generic,
            KeyTypeArg::Onboarding => KeyType::Onboarding,
            KeyTypeArg::Gcp => KeyType::Gcp,
            KeyTypeArg::Aws => KeyType::Aws,
        }
    }
}

/// What `keys create` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrintedKey {
    id: uuid::Uuid,
    name: String,
    profile_id: String,
    client_id: String,
    client_secret: Secret,
    /// The full key, for `Authorization: <key>`.
    api_key: Secret,
    identifier: String,
    #[serde(rename = "for")]
    key_for: KeyType,
    scopes: Scopes,
    #[serde(with = "keyward_model::time::resource")]
    created: chrono::DateTime<chrono::Utc>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let parsed = match config_file::parse::<Cli>(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("keyward-server: {error}");
            return ExitCode::FAILURE;
        }
    };
    refuse_serve_flags_before_a_subcommand(&parsed.matches);
    let cli = parsed.cli;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr);
    match cli.log_format {
        // Colours are for people at a terminal; a file or a log collector gets plain text.
        LogFormat::Text => logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        // Each line an object, the span's fields (the request id among them) included.
        LogFormat::Json => logs.json().with_current_span(true).with_span_list(false).init(),
    }
    let result = match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(settings)) => serve(settings).await,
        Some(Command::Config { command: ConfigCommand::Check(settings) }) => {
            keyward_server::check_settings(&settings).map(|()| {
                print!("{}", config_file::effective(&Cli::command(), &parsed.matches, &parsed.from_file));
            })
        }
        Some(Command::Keys {
            command: KeysCommand::Create { profile, name, key_for, scopes, database, keys },
        }) => create_key(&profile, &name, key_for.into(), scopes, &database, &keys).await,
        Some(Command::Backup { to, database }) => back_up(&to, &database).await,
        Some(Command::SigningKeys {
            command: SigningKeysCommand::Rotate { token_algorithm, secret_key, database },
        }) => rotate_signing_key(token_algorithm, &secret_key, &database).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keyward-server: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Serve's flags stand before no subcommand: `keyward-server --bind … keys create` would ignore
/// them. (clap's `args_conflicts_with_subcommands` would refuse them too, but also the global
/// `--log-format` and `--config` there.)
fn refuse_serve_flags_before_a_subcommand(matches: &clap::ArgMatches) {
    let Some((subcommand, _)) = matches.subcommand() else { return };
    let mut command = Cli::command();
    let given = command.get_arguments().find(|arg| {
        !arg.is_global_set()
            && matches.try_get_raw(arg.get_id().as_str()).is_ok()
            && matches.value_source(arg.get_id().as_str()) == Some(clap::parser::ValueSource::CommandLine)
    });
    if let Some(arg) = given.map(|arg| arg.get_long().unwrap_or_default().to_owned()) {
        command
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!("--{arg} is a flag of `serve`: give it after `{subcommand}`, if it takes it"),
            )
            .exit();
    }
}

async fn serve(mut settings: ServeSettings) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.bind).await?;
    // The bound address, port included, is the base URL when no public URL is set.
    settings.bind = listener.local_addr()?;
    if settings.public_url.is_none() && !settings.bind.ip().is_loopback() {
        tracing::warn!(
            base_url = %settings.base_url(),
            "listening beyond loopback without KEYWARD_PUBLIC_URL: tokens name the bind address as \
             their issuer and links point at it; set the URL clients use"
        );
    }
    // Each connection takes a descriptor; the database, logs and listener take a few more.
    keyward_server::http::raise_open_files_limit(u64::from(settings.http.max_connections) + 256);
    let state = AppState::open(&settings).await?;
    tracing::info!("listening on http://{}", settings.bind);
    keyward_server::serve(listener, state, shutdown_signal()).await?;
    Ok(())
}

async fn create_key(
    profile: &str,
    name: &str,
    key_for: KeyType,
    scopes: Option<Scopes>,
    database: &DatabaseSettings,
    settings: &KeySettings,
) -> anyhow::Result<()> {
    let profile = keys::validate_profile_id(profile).map_err(anyhow::Error::msg)?;
    let store = store::connect(database).await?;
    let hasher = keyward_server::hasher(settings)?;
    // A one-shot process: its cache is never consulted.
    let cache = Arc::new(CredentialCache::new(std::time::Duration::from_secs(1), 1));
    let views = Arc::new(keyward_server::views::ProfileViews::new(std::time::Duration::from_secs(1), 1));
    let service = KeyService::new(store, hasher, cache, views, settings.max_keys_per_profile);
    let NewKey { key, secret } = service
        .create(&profile, Some(name), key_for, scopes, &Requester::command_line())
        .await
        .map_err(|error| match error {
            keys::KeyError::LimitReached(limit) => {
                anyhow::anyhow!("profile {profile} already has {limit} keys, the limit")
            }
            other => anyhow::anyhow!(other),
        })?;
    let format = keyward_server::key_format(settings)?;
    let printed = PrintedKey {
        id: key.id.as_uuid(),
        name: key.name,
        profile_id: key.profile_id.into_string(),
        api_key: format.encode(key.client_id.as_str(), &secret),
        identifier: format.identifier(key.client_id.as_str()),
        client_id: key.client_id.into_string(),
        client_secret: secret,
        key_for: key.key_for,
        scopes: key.scopes,
        created: key.created,
    };
    println!("{}", serde_json::to_string_pretty(&printed)?);
    Ok(())
}

async fn rotate_signing_key(
    algorithm: SigningAlgorithm,
    secret_key: &SecretKeySettings,
    database: &DatabaseSettings,
) -> anyhow::Result<()> {
    let sealing = secret_key.load()?;
    if sealing.is_none() {
        tracing::warn!(
            "no secret key ({}): the new signing key is stored in clear",
            tokens::SECRET_KEY_SETTINGS
        );
    }
    let store = store::connect(database).await?;
    let kid = tokens::rotate(store.as_ref(), algorithm, sealing.as_ref(), chrono::Utc::now()).await?;
    println!("{}", serde_json::json!({ "kid": kid, "algorithm": algorithm.as_str() }));
    Ok(())
}

async fn back_up(to: &std::path::Path, database: &DatabaseSettings) -> anyhow::Result<()> {
    if !database.database_url.starts_with("sqlite:") {
        anyhow::bail!(
            "backup copies SQLite databases; for PostgreSQL use pg_dump (pg_dump --format=custom --file=keyward.dump \"$KEYWARD_DATABASE_URL\")"
        );
    }
    let store = store::SqliteStore::connect(database).await?;
    store.back_up(to).await?;
    eprintln!("keyward-server: backed up to {}", to.display());
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

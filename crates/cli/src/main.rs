//! `keyward`: log in once with a key's client credentials, then manage API keys.

mod credentials;
mod output;

use clap::{Args, Parser, Subcommand};
use credentials::{CredentialsError, StoredCredentials};
use futures::TryStreamExt;
use keyward_client::{Error, Keyward, TransportKind};
use keyward_model::{ApiKey, KeyType, Secret};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use uuid::Uuid;

const EXIT_CODES: &str = "Exit codes: 0 success, 1 other failure, 2 usage, 3 credentials refused, \
4 not found, 5 request refused (limit, conflict, invalid input), 6 server unreachable or not trusted.";

const CREDENTIALS_FROM_ENVIRONMENT: &str = "Without a login, the keys commands take their credentials \
from KEYWARD_SERVER, KEYWARD_CLIENT_ID and KEYWARD_CLIENT_SECRET (and KEYWARD_CA_CERT) when all three \
are set, as in CI.";

#[derive(Parser)]
#[command(name = "keyward", version, about = "Manage Keyward API keys", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check client credentials and store them for later commands
    /// ($XDG_CONFIG_HOME/keyward/credentials.toml, readable by you alone).
    Login(LoginArgs),
    /// List, show, create, rename and delete keys.
    #[command(after_help = CREDENTIALS_FROM_ENVIRONMENT)]
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Args)]
struct LoginArgs {
    /// The server's base URL, e.g. https://keys.example.com
    #[arg(long, env = "KEYWARD_SERVER")]
    server: String,
    /// A key's client id.
    #[arg(long, env = "KEYWARD_CLIENT_ID")]
    client_id: String,
    /// A key's client secret. A flag shows in the process list: prefer --client-secret-stdin or
    /// KEYWARD_CLIENT_SECRET, which is read when neither flag is given.
    #[arg(long, conflicts_with = "client_secret_stdin")]
    client_secret: Option<String>,
    /// Read the client secret from the first line of standard input (even when
    /// KEYWARD_CLIENT_SECRET is set).
    #[arg(long)]
    client_secret_stdin: bool,
    /// A PEM file of CA certificates to trust besides the platform's, for a server whose
    /// certificate a private CA signed. Kept with the login.
    #[arg(long, env = "KEYWARD_CA_CERT")]
    ca_cert: Option<PathBuf>,
}

#[derive(Args)]
struct Format {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Key types, as the command line spells them.
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

#[derive(Subcommand)]
enum KeysCommand {
    /// List your keys, newest first.
    List(Format),
    /// Show one key.
    Get {
        /// The key's id or name.
        key: String,
        #[command(flatten)]
        format: Format,
    },
    /// Create a key; its secret and full key are printed this once.
    Create {
        #[arg(long)]
        name: String,
        /// What the key is for.
        #[arg(long = "for", value_enum, default_value_t = KeyTypeArg::Generic)]
        key_for: KeyTypeArg,
        #[command(flatten)]
        format: Format,
    },
    /// Rename a key.
    Rename {
        /// The key's id or current name.
        key: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        format: Format,
    },
    /// Delete a key: it and its tokens stop working at once.
    Delete {
        /// The key's id or name.
        key: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`keyward keys list | head -1`): nothing more to say.
        Err(failure) if failure.code == 0 => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("keyward: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// A failed command: what to tell the user and the exit code.
struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    fn other(message: impl Into<String>) -> Self {
        Self { message: message.into(), code: 1 }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let code = match &error {
            Error::Transport(_) => 6,
            error if error.is_unauthorized() => 3,
            error if error.is_not_found() => 4,
            Error::Api { .. } | Error::Key { .. } | Error::OAuth { .. } => 5,
            _ => 1,
        };
        let message = match &error {
            Error::Transport(transport) if transport.kind() == TransportKind::Certificate => {
                format!("{error} (with --ca-cert or KEYWARD_CA_CERT at login)")
            }
            Error::Transport(transport) if transport.kind() == TransportKind::Connect => {
                format!("{error}. Is the server URL right and the server running?")
            }
            _ if code == 3 => format!(
                "the server refused the credentials ({error}). They may be wrong or the key deleted: \
                 run `keyward login` with a valid key."
            ),
            _ => error.to_string(),
        };
        Self { message, code }
    }
}

impl From<CredentialsError> for Failure {
    fn from(error: CredentialsError) -> Self {
        Self::other(error.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        match error.kind() {
            std::io::ErrorKind::BrokenPipe => Self { message: String::new(), code: 0 },
            _ => Self::other(format!("cannot write the output: {error}")),
        }
    }
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Login(args) => login(args).await,
        Command::Keys { command } => {
            let credentials = match from_environment()? {
                Some(credentials) => credentials,
                None => StoredCredentials::load()?,
            };
            keys(&client(&credentials)?, command).await
        }
    }
}

/// Credentials from the environment, when all three are set.
fn from_environment() -> Result<Option<StoredCredentials>, Failure> {
    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    match (var("KEYWARD_SERVER"), var("KEYWARD_CLIENT_ID"), var("KEYWARD_CLIENT_SECRET")) {
        (Some(server), Some(client_id), Some(client_secret)) => Ok(Some(StoredCredentials {
            server,
            client_id,
            client_secret: Secret::new(client_secret),
            ca_cert: var("KEYWARD_CA_CERT").map(PathBuf::from),
        })),
        (None, None, None) => Ok(None),
        _ => Err(Failure::other(
            "set all of KEYWARD_SERVER, KEYWARD_CLIENT_ID and KEYWARD_CLIENT_SECRET, or none of them",
        )),
    }
}

fn client(credentials: &StoredCredentials) -> Result<Keyward, Failure> {
    warn_if_cleartext(&credentials.server);
    let mut builder = Keyward::builder(&credentials.server)
        .client_credentials(&credentials.client_id, credentials.client_secret.expose());
    if let Some(path) = &credentials.ca_cert {
        let pem = std::fs::read(path)
            .map_err(|e| Failure::other(format!("cannot read {}: {e}", path.display())))?;
        builder = builder.add_root_certificates_pem(pem);
    }
    Ok(builder.build()?)
}

/// Warns before a secret goes over plain HTTP to anything but this machine.
fn warn_if_cleartext(server: &str) {
    if is_cleartext_to_another_host(server) {
        eprintln!(
            "keyward: warning: {server} is plain http: the client secret and access tokens cross the network \
             unencrypted. Use https."
        );
    }
}

/// Whether `server` is plain http to anything but loopback (localhost, 127.0.0.0/8, ::1).
fn is_cleartext_to_another_host(server: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(server) else { return false };
    let host = url.host_str().unwrap_or_default();
    // An IPv4-mapped address (::ffff:127.0.0.1) is loopback too.
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.to_canonical().is_loopback());
    url.scheme() == "http" && !loopback
}

/// The client secret to log in with: from the flag, standard input, or else the environment.
fn login_secret(args: &LoginArgs) -> Result<Secret, Failure> {
    if let Some(secret) = &args.client_secret {
        return Ok(Secret::new(secret.clone()));
    }
    if args.client_secret_stdin {
        return read_secret_from_stdin();
    }
    match std::env::var("KEYWARD_CLIENT_SECRET") {
        Ok(secret) if !secret.is_empty() => Ok(Secret::new(secret)),
        _ => Err(Failure {
            message: "no client secret: pass --client-secret-stdin, set KEYWARD_CLIENT_SECRET, or pass \
                      --client-secret"
                .into(),
            code: 2,
        }),
    }
}

fn read_secret_from_stdin() -> Result<Secret, Failure> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|error| {
        Failure::other(format!("cannot read the client secret from standard input: {error}"))
    })?;
    // Trimmed in place, so that the secret lives in this one buffer, which `Secret` zeroes.
    let end = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(end);
    if line.is_empty() {
        return Err(Failure::other("no client secret on standard input"));
    }
    Ok(Secret::new(line))
}

async fn login(args: LoginArgs) -> Result<(), Failure> {
    let client_secret = login_secret(&args)?;
    let ca_cert = args.ca_cert.map(|path| std::path::absolute(&path).unwrap_or(path));
    let stored = StoredCredentials { server: args.server, client_id: args.client_id, client_secret, ca_cert };
    let keyward = client(&stored)?;
    keyward.authenticate().await?;
    let path = stored.save()?;
    eprintln!("Logged in to {}; credentials saved in {}", stored.server, path.display());
    Ok(())
}

/// The key a command names: by id, or else by name.
async fn find(keyward: &Keyward, key: &str) -> Result<ApiKey, Failure> {
    if let Ok(id) = Uuid::parse_str(key) {
        return Ok(keyward.get_key(id).await?);
    }
    let named = keyward
        .keys()
        .try_filter(|candidate| futures::future::ready(candidate.name.as_deref() == Some(key)))
        .try_next()
        .await?;
    named.ok_or_else(|| Failure { message: format!("no key is named {key:?}"), code: 4 })
}

async fn keys(keyward: &Keyward, command: KeysCommand) -> Result<(), Failure> {
    match command {
        KeysCommand::List(format) => {
            let keys: Vec<_> = keyward.keys().try_collect().await?;
            output::keys(&keys, format.json)?;
        }
        KeysCommand::Get { key, format } => output::key(&find(keyward, &key).await?, None, format.json)?,
        KeysCommand::Create { name, key_for, format } => {
            let key = keyward.create_typed_key(&name, key_for.into()).await?;
            // The secret is printed whatever happens next: it exists nowhere else.
            let full_key = match (&key.client_id, &key.client_secret) {
                (Some(client_id), Some(secret)) => match keyward.full_key(client_id, secret).await {
                    Ok(full_key) => Some(full_key),
                    Err(error) => {
                        eprintln!(
                            "keyward: the full key could not be made ({error}); the client id and secret work"
                        );
                        None
                    }
                },
                _ => None,
            };
            output::key(&key, full_key.as_ref(), format.json)?;
            eprintln!("Store the client secret now: it is shown this once and cannot be retrieved again.");
        }
        KeysCommand::Rename { key, name, format } => {
            let id = find(keyward, &key).await?.id;
            output::key(&keyward.rename_key(id, &name).await?, None, format.json)?;
        }
        KeysCommand::Delete { key } => {
            let id = find(keyward, &key).await?.id;
            keyward.delete_key(id).await?;
            eprintln!("Deleted {id}.");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_flagged_for_other_hosts_only() {
        for flagged in [
            "http://keys.example.com",
            "http://localhost.example.com",
            "http://10.0.0.5:8080",
            "http://[2001:db8::1]/",
        ] {
            assert!(is_cleartext_to_another_host(flagged), "{flagged}");
        }
        for fine in [
            "https://keys.example.com",
            "http://localhost:8080",
            "http://127.0.0.1:1",
            "http://127.3.2.1",
            "http://[::1]:8080",
            "http://[::ffff:127.0.0.1]:8080",
        ] {
            assert!(!is_cleartext_to_another_host(fine), "{fine}");
        }
    }
}

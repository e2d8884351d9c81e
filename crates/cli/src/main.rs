//! `keyward`: log in once with a key's client credentials, then manage API keys.

mod credentials;
mod output;

use clap::{Args, Parser, Subcommand};
use credentials::StoredCredentials;
use keyward_client::{Error, Keyward};
use std::process::ExitCode;
use uuid::Uuid;

const EXIT_CODES: &str = "Exit codes: 0 success, 1 other failure, 2 usage, 3 credentials refused, \
4 not found, 5 request refused (limit, conflict, invalid input), 6 server unreachable.";

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
    /// A key's client secret.
    #[arg(long, env = "KEYWARD_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
}

#[derive(Args)]
struct Format {
    /// Print the server's JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List your keys, newest first.
    List(Format),
    /// Show one key.
    Get {
        id: Uuid,
        #[command(flatten)]
        format: Format,
    },
    /// Create a key; its secret is printed this once.
    Create {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        format: Format,
    },
    /// Rename a key.
    Rename {
        id: Uuid,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        format: Format,
    },
    /// Delete a key: it and its tokens stop working at once.
    Delete { id: Uuid },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
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
            Error::Transport(_) => format!("{error}. Is the server URL right and the server running?"),
            Error::OAuth { .. } | Error::Api { .. } if code == 3 => format!(
                "the server refused the credentials ({error}). They may be wrong or the key deleted: \
                 run `keyward login` with a valid key."
            ),
            _ => error.to_string(),
        };
        Self { message, code }
    }
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Login(args) => login(args).await,
        Command::Keys { command } => {
            let stored = StoredCredentials::load().map_err(Failure::other)?;
            let keyward = client(&stored)?;
            keys(&keyward, command).await
        }
    }
}

fn client(stored: &StoredCredentials) -> Result<Keyward, Failure> {
    Ok(Keyward::builder(&stored.server)
        .client_credentials(&stored.client_id, &stored.client_secret)
        .build()?)
}

async fn login(args: LoginArgs) -> Result<(), Failure> {
    let stored = StoredCredentials {
        server: args.server,
        client_id: args.client_id,
        client_secret: args.client_secret,
    };
    let keyward = client(&stored)?;
    keyward.authenticate().await?;
    let path = stored.save().map_err(Failure::other)?;
    eprintln!("Logged in to {}; credentials saved in {}", stored.server, path.display());
    Ok(())
}

async fn keys(keyward: &Keyward, command: KeysCommand) -> Result<(), Failure> {
    use futures::TryStreamExt;
    match command {
        KeysCommand::List(format) => {
            let keys: Vec<_> = keyward.keys().try_collect().await?;
            output::keys(&keys, format.json);
        }
        KeysCommand::Get { id, format } => output::key(&keyward.get_key(id).await?, format.json),
        KeysCommand::Create { name, format } => {
            let key = keyward.create_key(&name).await?;
            output::key(&key, format.json);
            eprintln!("Store the client secret now: it is shown this once and cannot be retrieved again.");
        }
        KeysCommand::Rename { id, name, format } => {
            output::key(&keyward.rename_key(id, &name).await?, format.json)
        }
        KeysCommand::Delete { id } => {
            keyward.delete_key(id).await?;
            eprintln!("Deleted {id}.");
        }
    }
    Ok(())
}

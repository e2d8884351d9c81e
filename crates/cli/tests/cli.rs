//! The `keyward` binary against a real server: login, every keys command, and its failures.

use keyward_tests::TestServer;
use std::path::Path;
use std::process::Output;

const BINARY: &str = env!("CARGO_BIN_EXE_keyward");

/// Runs `keyward` with its configuration in `config` and no credentials in the environment.
async fn keyward(config: &Path, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(BINARY);
    command
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .env("HOME", config)
        .env_remove("KEYWARD_SERVER")
        .env_remove("KEYWARD_CLIENT_ID")
        .env_remove("KEYWARD_CLIENT_SECRET");
    command.output().await.expect("run keyward")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn login_then_every_keys_command() {
    let server = TestServer::start().await;
    let login = server.mint("p", "cli login").await;
    let config = tempfile::tempdir().unwrap();
    let dir = config.path();

    let output = keyward(
        dir,
        &[
            "login",
            "--server",
            &server.base,
            "--client-id",
            &login.client_id,
            "--client-secret",
            &login.secret,
        ],
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let stored = dir.join("keyward/credentials.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&stored).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(std::fs::read_to_string(&stored).unwrap().contains(&login.client_id));

    // No flags from here on.
    let output = keyward(dir, &["keys", "create", "--name", "from the cli"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("client secret"));
    assert!(stderr(&output).contains("shown this once"));

    let output = keyward(dir, &["keys", "list", "--json"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let keys: serde_json::Value = serde_json::from_slice(&output.stdout).expect("--json prints JSON");
    assert_eq!(keys.as_array().unwrap().len(), 2);
    let id = keys[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(keys[0]["name"], "from the cli");

    let output = keyward(dir, &["keys", "list"]).await;
    let table = stdout(&output);
    assert!(
        table.contains("NAME") && table.contains("from the cli") && table.contains("cli login"),
        "{table}"
    );

    let output = keyward(dir, &["keys", "rename", &id, "--name", "renamed"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let output = keyward(dir, &["keys", "get", &id, "--json"]).await;
    let key: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(key["name"], "renamed");
    assert!(key.get("clientSecret").is_none());

    let output = keyward(dir, &["keys", "delete", &id]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let output = keyward(dir, &["keys", "get", &id]).await;
    assert_eq!(output.status.code(), Some(4), "unknown id: {}", stderr(&output));
    assert!(stderr(&output).contains("not found"), "{}", stderr(&output));
}

#[tokio::test]
async fn failures_are_clear_with_their_own_exit_codes() {
    let server = TestServer::start_with(|settings| settings.keys.max_keys_per_profile = 1).await;
    let login = server.mint("p", "only").await;
    let config = tempfile::tempdir().unwrap();
    let dir = config.path();

    let output = keyward(dir, &["keys", "list"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("keyward login"), "{}", stderr(&output));

    let wrong = "W".repeat(44);
    let output = keyward(
        dir,
        &["login", "--server", &server.base, "--client-id", &login.client_id, "--client-secret", &wrong],
    )
    .await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("refused the credentials"), "{}", stderr(&output));
    assert!(!dir.join("keyward/credentials.toml").exists(), "refused credentials are not stored");

    let output = keyward(
        dir,
        &[
            "login",
            "--server",
            "http://127.0.0.1:9",
            "--client-id",
            &login.client_id,
            "--client-secret",
            &login.secret,
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
    assert!(stderr(&output).contains("cannot reach the server"), "{}", stderr(&output));

    let output = keyward(
        dir,
        &[
            "login",
            "--server",
            &server.base,
            "--client-id",
            &login.client_id,
            "--client-secret",
            &login.secret,
        ],
    )
    .await;
    assert!(output.status.success());
    let output = keyward(dir, &["keys", "create", "--name", "one too many"]).await;
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    assert!(stderr(&output).contains("limit"), "{}", stderr(&output));

    // The stored key is deleted elsewhere: the next command says so.
    server.state.keys.delete("p", login.id).await.unwrap();
    let output = keyward(dir, &["keys", "list"]).await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("keyward login"), "{}", stderr(&output));
}

#[tokio::test]
async fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for command in [
        &["--help"][..],
        &["login", "--help"],
        &["keys", "--help"],
        &["keys", "list", "--help"],
        &["keys", "get", "--help"],
        &["keys", "create", "--help"],
        &["keys", "rename", "--help"],
        &["keys", "delete", "--help"],
    ] {
        let output = keyward(dir.path(), command).await;
        assert!(output.status.success(), "{command:?}");
        assert!(stdout(&output).contains("Usage"), "{command:?}");
    }
    let output = keyward(dir.path(), &["login", "--help"]).await;
    for variable in ["KEYWARD_SERVER", "KEYWARD_CLIENT_ID", "KEYWARD_CLIENT_SECRET"] {
        assert!(stdout(&output).contains(variable));
    }
}

//! The `keyward` binary against a real server: login, every keys command, and its failures.

use keyward_tests::TestServer;
use keyward_tests::tls::TlsFront;
use std::path::Path;
use std::process::{Output, Stdio};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

const BINARY: &str = env!("CARGO_BIN_EXE_keyward");

/// `keyward` with its configuration in `config` and no credentials in the environment.
fn command(config: &Path, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BINARY);
    command
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .env("HOME", config)
        .env_remove("KEYWARD_SERVER")
        .env_remove("KEYWARD_CLIENT_ID")
        .env_remove("KEYWARD_CLIENT_SECRET")
        .env_remove("KEYWARD_CA_CERT");
    command
}

/// Runs `keyward` with its configuration in `config` and no credentials in the environment.
async fn keyward(config: &Path, args: &[&str]) -> Output {
    command(config, args).output().await.expect("run keyward")
}

/// Logs in to `base` with `key`, with any extra arguments.
async fn login(config: &Path, base: &str, key: &keyward_tests::Minted, extra: &[&str]) -> Output {
    let mut args =
        vec!["login", "--server", base, "--client-id", &key.client_id, "--client-secret", &key.secret];
    args.extend_from_slice(extra);
    keyward(config, &args).await
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
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
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
        &["login", "--server", &nowhere, "--client-id", &login.client_id, "--client-secret", &login.secret],
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
    server.delete_key("p", login.id).await;
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

#[tokio::test]
async fn https_with_a_private_ca_and_an_untrusted_certificate() {
    let server = TestServer::start().await;
    let key = server.mint("p", "login").await;
    let front = TlsFront::start(server.base.trim_start_matches("http://")).await;
    let config = tempfile::tempdir().unwrap();
    let dir = config.path();

    let output = login(dir, &front.base, &key, &[]).await;
    assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
    assert!(stderr(&output).contains("certificate is not trusted"), "{}", stderr(&output));
    assert!(stderr(&output).contains("--ca-cert"), "{}", stderr(&output));
    assert!(!stderr(&output).contains("Is the server URL right"), "{}", stderr(&output));

    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &front.ca_pem).unwrap();
    let output = login(dir, &front.base, &key, &["--ca-cert", ca.to_str().unwrap()]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let output = keyward(dir, &["keys", "list"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("login"), "{}", stdout(&output));
    assert!(!stderr(&output).contains("warning"), "https is not warned about: {}", stderr(&output));
}

#[tokio::test]
async fn the_secret_from_stdin_or_the_environment_never_from_a_flag() {
    let server = TestServer::start().await;
    let key = server.mint("p", "login").await;
    let config = tempfile::tempdir().unwrap();
    let dir = config.path();

    let mut login = command(
        dir,
        &["login", "--server", &server.base, "--client-id", &key.client_id, "--client-secret-stdin"],
    );
    let output = with_stdin(&mut login, &format!("{}\n", key.secret)).await;
    assert!(output.status.success(), "{}", stderr(&output));

    // Keys commands take all three from the environment, with no login at all.
    let elsewhere = tempfile::tempdir().unwrap();
    let output = command(elsewhere.path(), &["keys", "list", "--json"])
        .env("KEYWARD_SERVER", &server.base)
        .env("KEYWARD_CLIENT_ID", &key.client_id)
        .env("KEYWARD_CLIENT_SECRET", &key.secret)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!elsewhere.path().join("keyward").exists(), "nothing is stored");
    let output = command(elsewhere.path(), &["keys", "list"])
        .env("KEYWARD_SERVER", &server.base)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("KEYWARD_CLIENT_ID"), "{}", stderr(&output));
}

/// Runs `command`, writing `stdin` to its standard input.
async fn with_stdin(command: &mut tokio::process::Command, stdin: &str) -> Output {
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    child.wait_with_output().await.unwrap()
}

#[tokio::test]
async fn login_takes_the_secret_from_stdin_over_the_environment_or_from_the_environment_alone() {
    let server = TestServer::start().await;
    let key = server.mint("p", "login").await;
    let config = tempfile::tempdir().unwrap();
    let dir = config.path();
    let args = ["login", "--server", &server.base, "--client-id", &key.client_id];

    // A secret exported for other tools does not stand in the way of one given on stdin.
    let mut stdin_login = command(dir, &[&args[..], &["--client-secret-stdin"]].concat());
    stdin_login.env("KEYWARD_CLIENT_SECRET", "W".repeat(44));
    let output = with_stdin(&mut stdin_login, &format!("{}\n", key.secret)).await;
    assert!(output.status.success(), "{}", stderr(&output));

    let elsewhere = tempfile::tempdir().unwrap();
    let output =
        command(elsewhere.path(), &args).env("KEYWARD_CLIENT_SECRET", &key.secret).output().await.unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(elsewhere.path().join("keyward/credentials.toml").exists());

    let output = keyward(elsewhere.path(), &args).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("KEYWARD_CLIENT_SECRET"), "{}", stderr(&output));
}

#[tokio::test]
async fn plain_http_to_another_host_is_warned_about_before_the_secret_is_sent() {
    let server = TestServer::start().await;
    let key = server.mint("p", "login").await;
    let config = tempfile::tempdir().unwrap();
    let dir = config.path();

    let output = login(dir, &server.base, &key, &[]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("warning"), "loopback is not warned about: {}", stderr(&output));

    // TEST-NET-1, which nothing answers: the warning comes before any attempt to connect.
    let remote = "http://192.0.2.1:9";
    let mut child = command(
        dir,
        &["login", "--server", remote, "--client-id", &key.client_id, "--client-secret", &key.secret],
    )
    .stderr(Stdio::piped())
    .kill_on_drop(true)
    .spawn()
    .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .expect("a line on stderr")
        .unwrap()
        .unwrap_or_default();
    assert!(first.contains("warning") && first.contains(remote) && first.contains("plain http"), "{first}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_credentials_file_is_never_written_through_a_link_nor_read_when_others_can() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start().await;
    let key = server.mint("p", "login").await;
    let config = tempfile::tempdir().unwrap();
    let dir = config.path();
    std::fs::create_dir_all(dir.join("keyward")).unwrap();
    let target = dir.join("elsewhere.toml");
    std::os::unix::fs::symlink(&target, dir.join("keyward/credentials.toml")).unwrap();
    let output = login(dir, &server.base, &key, &[]).await;
    assert!(!output.status.success());
    assert!(stderr(&output).contains("symbolic link"), "{}", stderr(&output));
    assert!(!target.exists(), "nothing was written through the link");

    std::fs::remove_file(dir.join("keyward/credentials.toml")).unwrap();
    let output = login(dir, &server.base, &key, &[]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let stored = dir.join("keyward/credentials.toml");
    assert_eq!(std::fs::metadata(&stored).unwrap().permissions().mode() & 0o777, 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("keyward")).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");

    std::fs::set_permissions(&stored, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = keyward(dir, &["keys", "list"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("chmod 600"), "{}", stderr(&output));
}

#[tokio::test]
async fn keys_by_name_full_keys_zones_and_a_closed_pipe() {
    let server = TestServer::start().await;
    let key = server.mint("p", "login").await;
    let config = tempfile::tempdir().unwrap();
    let dir = config.path();
    assert!(login(dir, &server.base, &key, &[]).await.status.success());

    let output = keyward(dir, &["keys", "create", "--name", "deploy", "--for", "ONBOARDING", "--json"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let created: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let full_key = created["apiKey"].as_str().expect("the full key is printed").to_owned();
    let (status, _, body) =
        server.send(server.get("/api/v1/keys/list").header("Authorization", &full_key)).await;
    assert_eq!(status, 200, "the printed full key authenticates: {body}");
    assert_eq!(body[0]["for"], "ONBOARDING");

    let output = keyward(dir, &["keys", "get", "deploy"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains(created["id"].as_str().unwrap()));
    assert!(stdout(&output).contains(" UTC"), "timestamps carry their zone: {}", stdout(&output));
    let output = keyward(dir, &["keys", "get", "nobody"]).await;
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let output = keyward(dir, &["keys", "rename", "deploy", "--name", "deployer"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let output = keyward(dir, &["keys", "delete", "deployer"]).await;
    assert!(output.status.success(), "{}", stderr(&output));

    // `keyward keys list | head -0`: the reader is gone before anything is written.
    let mut child =
        command(dir, &["keys", "list"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().await.unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).is_empty(), "quietly: {}", stderr(&output));
}

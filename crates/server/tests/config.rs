//! Settings from a TOML file, beneath the environment and flags, and `config check`.

mod common;

use common::{Running, command};

const SECRET_KEY: &str = "c2VjcmV0LWtleS1vZi10aGlydHktdHdvLWJ5dGVzISE=";
const PREVIOUS_SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const PASSWORD: &str = "pg-pass-word";

fn file(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("keyward.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_file_sits_beneath_the_environment_and_flags_and_check_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(
        dir.path(),
        &format!(
            r#"
bind = "127.0.0.1:9999"
token_ttl = 3600
cache_ttl = 60
secret_key = "{SECRET_KEY}"
previous_secret_key = "{PREVIOUS_SECRET_KEY}"
database_url = "postgres://keyward:{PASSWORD}@db.internal:5432/keyward"
trusted_proxies = ["10.0.0.0/8", "fd00::/8"]
"#
        ),
    );
    let output = command(dir.path())
        .args(["config", "check", "--cache-ttl", "5", "--config"])
        .arg(&path)
        .env("KEYWARD_TOKEN_TTL", "7200")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    for line in [
        r#"bind = "127.0.0.1:9999"  # file"#,
        "token_ttl = 7200  # environment",
        "cache_ttl = 5  # flag",
        "max_keys_per_profile = 50  # default",
        r#"secret_key = "********"  # file"#,
        r#"previous_secret_key = "********"  # file"#,
        r#"database_url = "postgres://keyward:********@db.internal:5432/keyward"  # file"#,
        r#"trusted_proxies = ["10.0.0.0/8", "fd00::/8"]  # file"#,
    ] {
        assert!(stdout.lines().any(|printed| printed == line), "{line:?} not in\n{stdout}");
    }
    for secret in [SECRET_KEY, PREVIOUS_SECRET_KEY, PASSWORD] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} printed");
    }
}

#[test]
fn a_file_is_checked_like_a_command_line_without_repeating_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let refused = [
        ("bnd = \"127.0.0.1:1\"\n", "`bnd` is not a setting"),
        ("bind = \"nowhere\"\n", "--bind"),
        ("cache_ttl = { seconds = 5 }\n", "`cache_ttl` must be"),
        ("secret_key = \"not-base64-but-a-secret\"\n", "secret key"),
        ("token_ttl = \n", "not valid TOML at line 1"),
    ];
    for (text, expected) in refused {
        let path = file(dir.path(), text);
        let output = command(dir.path()).args(["config", "check", "--config"]).arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{text} accepted");
        assert!(stderr.contains(expected), "{text}: {stderr}");
        assert!(!stderr.contains("not-base64-but-a-secret"), "{stderr}");
    }
}

#[tokio::test]
async fn serve_runs_with_the_files_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "public_url = \"https://keys.example.test\"\n");
    let server = Running::start_with(dir.path(), &[("KEYWARD_CONFIG", path.to_str().unwrap())]);
    let discovery: serde_json::Value =
        reqwest::get(format!("{}/.well-known/openid-configuration", server.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(discovery["issuer"], "https://keys.example.test/", "{discovery}");
}

#[test]
fn global_flags_go_before_a_subcommand_and_serves_flags_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "bind = \"127.0.0.1:9999\"\n");
    let output = command(dir.path())
        .args(["--log-format", "json", "--config"])
        .arg(&path)
        .args(["config", "check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.lines().any(|line| line == r#"bind = "127.0.0.1:9999"  # file"#), "{stdout}");

    // Serve's own flags before another subcommand would be ignored: refused instead.
    let output = command(dir.path())
        .args(["--bind", "127.0.0.1:1", "keys", "create", "--profile", "p", "--name", "n"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("--bind is a flag of `serve`"), "{stderr}");
    assert!(!dir.path().join("keyward.db").exists(), "nothing ran");
}

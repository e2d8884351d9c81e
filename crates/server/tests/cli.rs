//! The `keyward-server` binary: bootstrap a key from the command line, serve, and use it.

mod common;

use common::{BINARY, Running, command};
use std::process::Command;
use std::time::Duration;

#[tokio::test]
async fn bootstrap_a_key_serve_and_use_it() {
    let dir = tempfile::tempdir().unwrap();
    // `keys create` writes into ./keyward.db, the default database, creating it.
    let output = command(dir.path())
        .args([
            "keys",
            "create",
            "--profile",
            "auth0|5eb0327cbfd7490bff55feeb",
            "--name",
            "default",
            "--for",
            "ONBOARDING",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(dir.path().join("keyward.db").exists());
    let key: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    for field in
        ["id", "name", "profileId", "clientId", "clientSecret", "apiKey", "identifier", "for", "created"]
    {
        assert!(key[field].is_string(), "{field} missing from {key}");
    }
    let client_id = key["clientId"].as_str().unwrap();
    let secret = key["clientSecret"].as_str().unwrap();

    let server = Running::start(dir.path());
    let http = reqwest::Client::new();
    let health = http.get(format!("{}/health/live", server.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    // The database holds secret hashes and signing keys: nobody but its owner reads it.
    #[cfg(unix)]
    for file in ["keyward.db", "keyward.db-wal", "keyward.db-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file} is {mode:o}");
    }

    let token: serde_json::Value = http
        .post(format!("{}/oauth/token", server.base))
        .form(&[("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", secret)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = token["access_token"].as_str().expect("a token");
    let list: serde_json::Value = http
        .get(format!("{}/api/apikeys", server.base))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["_embedded"]["apikeys"][0]["id"], key["id"]);
    assert!(list["_embedded"]["apikeys"][0].get("clientSecret").is_none());

    // The printed full key authenticates by itself.
    let api_key = key["apiKey"].as_str().unwrap();
    let keys: serde_json::Value = http
        .get(format!("{}/api/v1/keys/list", server.base))
        .header("Authorization", api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys[0]["identifier"], key["identifier"]);
    assert_eq!(keys[0]["for"], "ONBOARDING");

    // Even at TRACE, the process logs neither the secret nor the token: read its logs up to the
    // last request's response.
    let logs = server.logs_until(
        |line| line.contains("/api/v1/keys/list") && line.contains("finished processing request"),
        Duration::from_secs(10),
    );
    assert!(logs.contains("/api/apikeys"), "requests are logged: {logs}");
    assert!(!logs.contains(secret), "the secret is in the logs");
    assert!(!logs.contains(api_key), "the full key is in the logs");
    assert!(!logs.contains(access_token.rsplit('.').next().unwrap()), "the token is in the logs");
}

#[test]
fn keys_create_refuses_bad_input_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let create = |name: &str| {
        command(dir.path())
            .args(["keys", "create", "--profile", "p", "--name", name, "--max-keys-per-profile", "1"])
            .output()
            .unwrap()
    };
    assert!(create("first").status.success());
    let second = create("second");
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("limit"));
    assert!(second.stdout.is_empty());
    let blank = create("   ");
    assert!(!blank.status.success());
    assert!(String::from_utf8_lossy(&blank.stderr).contains("name is required"));
}

#[test]
fn a_server_refuses_to_start_with_a_wrong_or_malformed_secret_key() {
    let dir = tempfile::tempdir().unwrap();
    let with_key = |key: &str| {
        command(dir.path())
            .env("KEYWARD_SECRET_KEY", key)
            .args(["keys", "create", "--profile", "p", "--name", &uuid::Uuid::new_v4().to_string()])
            .output()
            .unwrap()
    };
    assert!(with_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").status.success());
    // `keys create` stores no signing key; a server start does, sealed with this key.
    let rotated = command(dir.path())
        .env("KEYWARD_SECRET_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        .args(["signing-keys", "rotate"])
        .output()
        .unwrap();
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    for (key, expected) in
        [("HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=", "does not open"), ("c2hvcnQ=", "not 32 bytes")]
    {
        let output = command(dir.path())
            .env("KEYWARD_SECRET_KEY", key)
            .env("KEYWARD_BIND", "127.0.0.1:0")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "started with {key}");
        assert!(stderr.contains(expected) && stderr.contains("KEYWARD_SECRET_KEY"), "{stderr}");
        assert!(!stderr.contains(key) && !stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn the_secret_key_rotates_with_the_previous_one_beside_it() {
    const OLD: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const NEW: &str = "HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("old.key"), format!("{OLD}\n")).unwrap();
    let rotate = |env: &[(&str, &str)]| {
        let mut command = command(dir.path());
        command.args(["signing-keys", "rotate"]).envs(env.iter().copied());
        let output = command.output().unwrap();
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (sealed_with_old, stderr) = rotate(&[("KEYWARD_SECRET_KEY", OLD)]);
    assert!(sealed_with_old, "{stderr}");
    let (new_alone, stderr) = rotate(&[("KEYWARD_SECRET_KEY", NEW)]);
    assert!(!new_alone && stderr.contains("KEYWARD_PREVIOUS_SECRET_KEY"), "{stderr}");
    // No new signing key while instances may still run on the old secret key.
    let rotating = [("KEYWARD_SECRET_KEY", NEW), ("KEYWARD_PREVIOUS_SECRET_KEY_FILE", "old.key")];
    let (rotated, stderr) = rotate(&rotating);
    assert!(!rotated && stderr.contains("every instance runs with the new secret key"), "{stderr}");
    // A server started with both seals the keys again with the new one, which then opens them alone.
    drop(Running::start_with(dir.path(), &rotating));
    let (new_alone, stderr) = rotate(&[("KEYWARD_SECRET_KEY", NEW)]);
    assert!(new_alone, "{stderr}");

    for (env, expected) in [
        (&[("KEYWARD_PREVIOUS_SECRET_KEY", OLD)][..], "without a secret key"),
        (&[("KEYWARD_SECRET_KEY", NEW), ("KEYWARD_PREVIOUS_SECRET_KEY", "c2hvcnQ=")], "previous secret key"),
        (&[("KEYWARD_SECRET_KEY", NEW), ("KEYWARD_PREVIOUS_SECRET_KEY", NEW)], "the secret key itself"),
        (
            &[
                ("KEYWARD_SECRET_KEY", NEW),
                ("KEYWARD_PREVIOUS_SECRET_KEY", OLD),
                ("KEYWARD_PREVIOUS_SECRET_KEY_FILE", "old.key"),
            ],
            "set one",
        ),
    ] {
        let (accepted, stderr) = rotate(env);
        assert!(!accepted && stderr.contains(expected), "{env:?}: {stderr}");
        assert!(!stderr.contains(OLD) && !stderr.contains(NEW) && !stderr.contains("c2hvcnQ="), "{stderr}");
    }
}

#[test]
fn a_secret_key_file_is_read_within_a_bound() {
    let dir = tempfile::tempdir().unwrap();
    for setting in ["KEYWARD_SECRET_KEY_FILE", "KEYWARD_PREVIOUS_SECRET_KEY_FILE"] {
        let output = command(dir.path())
            .args(["config", "check"])
            .env("KEYWARD_SECRET_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
            .env_remove(setting.trim_end_matches("_FILE"))
            .env(setting, "/dev/zero")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains("not 32 bytes"), "{setting}: {stderr}");
    }
}

#[test]
fn help_documents_every_setting() {
    let output = Command::new(BINARY).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for variable in [
        "KEYWARD_BIND",
        "KEYWARD_DATABASE_URL",
        "KEYWARD_PUBLIC_URL",
        "KEYWARD_MAX_KEYS_PER_PROFILE",
        "KEYWARD_TOKEN_TTL",
        "KEYWARD_CACHE_TTL",
        "KEYWARD_ARGON2_MEMORY_KIB",
        "KEYWARD_ARGON2_ITERATIONS",
        "KEYWARD_ARGON2_PARALLELISM",
        "KEYWARD_KEY_PREFIX",
        "KEYWARD_THROTTLE_PER_KEY",
        "KEYWARD_THROTTLE_PER_ADDRESS",
        "KEYWARD_SECRET_KEY",
        "KEYWARD_SECRET_KEY_FILE",
        "KEYWARD_PREVIOUS_SECRET_KEY",
        "KEYWARD_PREVIOUS_SECRET_KEY_FILE",
        "KEYWARD_CORS_ORIGINS",
    ] {
        assert!(help.contains(variable), "{variable} is not in --help");
    }
}

#[test]
fn a_server_refuses_cors_origins_that_browsers_never_send() {
    let dir = tempfile::tempdir().unwrap();
    for (origins, expected) in [
        ("https://app.example.com/", "no path"),
        ("https://app.example.com,*", "give it alone"),
        ("app.example.com", "http(s)://HOST[:PORT]"),
    ] {
        let output = command(dir.path())
            .env("KEYWARD_CORS_ORIGINS", origins)
            .env("KEYWARD_BIND", "127.0.0.1:0")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "started with {origins}");
        assert!(stderr.contains(expected) && stderr.contains("--cors-origins"), "{stderr}");
    }
}

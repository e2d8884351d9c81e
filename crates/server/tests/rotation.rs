//! `keyward-server signing-keys rotate` under two running processes on one database: the new key
//! signs on both without a restart, and tokens signed before keep working on both.

mod common;

use common::{Running, command, fresh_database};
use std::path::Path;
use std::time::{Duration, Instant};

const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_reaches_both_processes_on_sqlite_and_old_tokens_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keyward.db").display());
    rotation_across_two_processes(dir.path(), &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: run cargo xtask test"]
async fn a_rotation_reaches_both_processes_on_postgres_and_old_tokens_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    rotation_across_two_processes(dir.path(), &fresh_database().await).await;
}

async fn rotation_across_two_processes(dir: &Path, url: &str) {
    let env = [
        ("KEYWARD_DATABASE_URL", url),
        ("KEYWARD_SECRET_KEY", SECRET_KEY),
        ("KEYWARD_TOKEN_ALGORITHM", "ES256"),
        // One deployment behind one URL: the tokens' issuer and audience.
        ("KEYWARD_PUBLIC_URL", "http://keyward.test"),
        // A rotation must reach a running process without a restart; in production within
        // a minute, here within a fraction of a second.
        ("KEYWARD_SIGNING_KEYS_RELOAD_MS", "200"),
    ];
    let output =
        command(dir).envs(env).args(["keys", "create", "--profile", "p", "--name", "k"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let key: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let credentials = [
        ("grant_type", "client_credentials"),
        ("client_id", key["clientId"].as_str().unwrap()),
        ("client_secret", key["clientSecret"].as_str().unwrap()),
    ];
    let (first, second) = (Running::start_with(dir, &env), Running::start_with(dir, &env));
    let http = reqwest::Client::new();
    let issue = async |server: &Running| -> String {
        let answer: serde_json::Value = http
            .post(format!("{}/oauth/token", server.base))
            .form(&credentials)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"].as_str().expect("a token").to_owned()
    };
    let accepted = async |server: &Running, token: &str| -> bool {
        let answer =
            http.get(format!("{}/api/v1/keys/list", server.base)).bearer_auth(token).send().await.unwrap();
        answer.status() == 200
    };
    let kids = async |server: &Running| -> Vec<String> {
        let jwks: serde_json::Value = http
            .get(format!("{}/.well-known/jwks.json", server.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        jwks["keys"].as_array().unwrap().iter().map(|key| key["kid"].as_str().unwrap().to_owned()).collect()
    };

    let before = issue(&first).await;
    let old_kid = kid_of(&before);
    assert!(accepted(&first, &before).await && accepted(&second, &before).await);

    let rotated = command(dir).envs(env).args(["signing-keys", "rotate"]).output().unwrap();
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&rotated.stdout).unwrap();
    let new_kid = printed["kid"].as_str().expect("the new kid").to_owned();
    assert_eq!(printed["algorithm"], "ES256");
    assert_ne!(new_kid, old_kid);

    // Neither process restarts: each signs with the new key once it has reloaded.
    let started = Instant::now();
    for server in [&first, &second] {
        while kid_of(&issue(server).await) != new_kid {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{} still signs with the old key",
                server.base
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    eprintln!("rotation reached both processes within {:?}", started.elapsed());

    for server in [&first, &second] {
        assert!(accepted(server, &before).await, "a token signed before the rotation is refused");
        let published = kids(server).await;
        assert!(published.contains(&old_kid) && published.contains(&new_kid), "{published:?}");
        let after = issue(server).await;
        assert_eq!(kid_of(&after), new_kid);
        assert!(accepted(&first, &after).await && accepted(&second, &after).await);
    }
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

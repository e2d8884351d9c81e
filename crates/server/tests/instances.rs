//! Two `keyward-server` processes on one PostgreSQL database, as a deployment runs them: a key
//! deleted through one is refused by the other within a second. Needs the cluster that
//! `cargo xtask test` starts.

mod common;

use common::{Running, command, fresh_database};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: run cargo xtask test"]
async fn a_delete_through_one_process_is_refused_by_the_other_within_a_second() {
    let url = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("KEYWARD_DATABASE_URL", url.as_str())];
    let mint = |name: &str| {
        let output = command(dir.path())
            .envs(env)
            .args(["keys", "create", "--profile", "p", "--name", name])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let key: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        key["apiKey"].as_str().unwrap().to_owned()
    };
    let admin = mint("admin");
    let victims: Vec<(String, String)> =
        (0..10).map(|n| (format!("victim-{n}"), mint(&format!("victim-{n}")))).collect();
    let (first, second) = (Running::start_with(dir.path(), &env), Running::start_with(dir.path(), &env));
    let http = reqwest::Client::new();
    let list = |base: &str, key: &str| {
        http.get(format!("{base}/api/v1/keys/list")).header("Authorization", key).send()
    };

    let mut delays = Vec::new();
    for (name, key) in &victims {
        // Verified, so cached, by the second process.
        assert_eq!(list(&second.base, key).await.unwrap().status(), 200);
        let deleted = http
            .delete(format!("{}/api/v1/keys/{name}/delete", first.base))
            .header("Authorization", &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 200);
        let started = Instant::now();
        while list(&second.base, key).await.unwrap().status() != 401 {
            assert!(started.elapsed() < Duration::from_secs(2), "{name} is still accepted");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        delays.push(started.elapsed());
    }
    delays.sort();
    let (p50, max) = (delays[delays.len() / 2], delays[delays.len() - 1]);
    eprintln!("revocation across processes: p50 {p50:?}, max {max:?} over {} deletes", delays.len());
    assert!(max < Duration::from_secs(1), "{delays:?}");
}

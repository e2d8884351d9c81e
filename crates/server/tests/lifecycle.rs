//! The server process stopped as production stops it: SIGTERM under load (requests in flight
//! finish, new connections are refused, the process exits in bounded time) and SIGKILL under a
//! write load, twenty times over (nothing answered is lost, nothing is half made, the database is
//! intact). On SQLite here; on PostgreSQL with the cluster `cargo xtask test` starts.

mod common;

use common::{Running, command};
use rustix::process::{Pid, Signal, kill_process};
use serde_json::{Value, json};
use sqlx::Connection;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Makes a key with every scope through the command line; returns its full key.
fn mint(dir: &std::path::Path, env: &[(&str, &str)], name: &str) -> String {
    let output = command(dir)
        .envs(env.iter().copied())
        .args(["keys", "create", "--profile", "p", "--name", name])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let key: Value = serde_json::from_slice(&output.stdout).unwrap();
    key["apiKey"].as_str().unwrap().to_owned()
}

fn signal(server: &Running, signal: Signal) {
    let pid = Pid::from_raw(i32::try_from(server.pid()).unwrap()).unwrap();
    kill_process(pid, signal).unwrap();
}

fn v1(base: &str, path: &str) -> String {
    format!("{base}/api/v1/keys/{path}")
}

/// The names the profile's keys have, as listed.
async fn listed(http: &reqwest::Client, base: &str, key: &str) -> BTreeSet<String> {
    let body: Value =
        http.get(v1(base, "list")).header("Authorization", key).send().await.unwrap().json().await.unwrap();
    body.as_array().unwrap().iter().map(|key| key["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_requests_in_flight_finish_refuses_new_ones_and_exits_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("KEYWARD_DATABASE_URL", "sqlite://keyward.db"),
        ("KEYWARD_SHUTDOWN_TIMEOUT_MS", "5000"),
        ("KEYWARD_MAX_KEYS_PER_PROFILE", "100000"),
    ];
    let admin = mint(dir.path(), &env, "admin");
    let mut server = Running::start_with(dir.path(), &env);
    let http = reqwest::Client::new();
    let address = server.base.trim_start_matches("http://").to_owned();

    // A create whose body is still on its way when the signal comes.
    let mut in_flight = tokio::net::TcpStream::connect(&address).await.unwrap();
    let body = r#"{"name": "in flight"}"#;
    let head = format!(
        "POST /api/v1/keys/create HTTP/1.1\r\nHost: {address}\r\nAuthorization: {admin}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..5]
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();

    // Creates keep coming from four clients.
    let answered = Arc::new(Mutex::new(Vec::new()));
    let load: Vec<_> = (0..4)
        .map(|client| {
            let (http, base, admin, answered) =
                (http.clone(), server.base.clone(), admin.clone(), answered.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    let name = format!("load {client}-{n}");
                    let sent = http
                        .post(v1(&base, "create"))
                        .header("Authorization", &admin)
                        .json(&json!({ "name": name }))
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status() == 200 => answered.lock().unwrap().push(name),
                        _ => break,
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&server, Signal::TERM);
    let signalled = Instant::now();

    // New connections are refused soon after the signal.
    loop {
        if tokio::net::TcpStream::connect(&address).await.is_err() {
            break;
        }
        assert!(signalled.elapsed() < Duration::from_secs(2), "still accepting connections");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The request in flight finishes, and is answered.
    in_flight.write_all(&body.as_bytes()[5..]).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), in_flight.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let exited = server.wait_for_exit(Duration::from_secs(10)).expect("exited after SIGTERM");
    assert!(exited.success(), "a clean exit: {exited:?}");
    assert!(signalled.elapsed() < Duration::from_secs(6), "within the shutdown timeout");
    for client in load {
        client.await.unwrap();
    }

    // Every create that was answered is there after a restart.
    let server = Running::start_with(dir.path(), &env);
    let names = listed(&http, &server.base, &admin).await;
    let answered = answered.lock().unwrap().clone();
    assert!(!answered.is_empty(), "the load ran");
    for name in answered.iter().chain([&"in flight".to_owned()]) {
        assert!(names.contains(name), "{name} was answered and is lost");
    }
    eprintln!("SIGTERM under load: {} creates answered, none lost", answered.len() + 1);
}

/// Profiles whose kept key count differs from their keys: a half-applied change.
const COUNTS_DRIFT: &str = "SELECT count(*) FROM profile_key_counts c
     WHERE created_keys != (SELECT count(*) FROM api_keys k WHERE k.profile_id = c.profile_id AND k.name IS NOT NULL)";

/// What a write load answered before the process died.
#[derive(Default)]
struct Answered {
    /// Name and full key of each create answered 200.
    created: Vec<(String, String)>,
    /// Names whose delete was answered 200.
    deleted: Vec<String>,
    /// Names whose rename away was answered 200 (the old name), with the new one.
    renamed: Vec<(String, String)>,
    /// Names whose delete or rename was sent but not answered: it may or may not have happened.
    unsure: Vec<String>,
}

/// Creates, renames (through the HAL API) and deletes keys from four clients until the server dies.
async fn write_load(http: reqwest::Client, base: String, admin: String, round: usize) -> Answered {
    let answered = Arc::new(Mutex::new(Answered::default()));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let (http, base, admin, answered) = (http.clone(), base.clone(), admin.clone(), answered.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    let name = format!("r{round}-c{client}-{n}");
                    let Ok(response) = http
                        .post(v1(&base, "create"))
                        .header("Authorization", &admin)
                        .json(&json!({ "name": name }))
                        .send()
                        .await
                    else {
                        break;
                    };
                    if response.status() != 200 {
                        break;
                    }
                    let Ok(created) = response.json::<Value>().await else { break };
                    let key = created["apiKey"].as_str().unwrap().to_owned();
                    answered.lock().unwrap().created.push((name.clone(), key));
                    if n % 3 == 1 {
                        answered.lock().unwrap().unsure.push(name.clone());
                        match http
                            .delete(v1(&base, &format!("{name}/delete")))
                            .header("Authorization", &admin)
                            .send()
                            .await
                        {
                            Ok(response) if response.status() == 200 => {
                                answered.lock().unwrap().deleted.push(name)
                            }
                            _ => break,
                        }
                    } else if n % 3 == 2 {
                        // The HAL API renames by id: find it in the list first.
                        let Ok(page) = http
                            .get(format!("{base}/api/apikeys?size=100"))
                            .header("Authorization", &admin)
                            .send()
                            .await
                        else {
                            break;
                        };
                        let Ok(page) = page.json::<Value>().await else { break };
                        let id = page["_embedded"]["apikeys"]
                            .as_array()
                            .and_then(|keys| keys.iter().find(|key| key["name"] == name.as_str()))
                            .and_then(|key| key["id"].as_str().map(str::to_owned));
                        let Some(id) = id else { continue };
                        let renamed = format!("{name} renamed");
                        answered.lock().unwrap().unsure.push(name.clone());
                        match http
                            .put(format!("{base}/api/apikeys/{id}"))
                            .header("Authorization", &admin)
                            .json(&json!({ "name": renamed }))
                            .send()
                            .await
                        {
                            Ok(response) if response.status() == 200 => {
                                answered.lock().unwrap().renamed.push((name, renamed))
                            }
                            _ => break,
                        }
                    }
                }
            })
        })
        .collect();
    for client in clients {
        let _ = client.await;
    }
    Arc::try_unwrap(answered).ok().unwrap().into_inner().unwrap()
}

/// Kills the server twenty times under a write load, checking after each restart that every
/// answered create exists and authenticates, every answered delete and rename holds, and no key
/// is half made; `check_database` checks the database's own integrity.
async fn survive_twenty_kills(env: &[(&str, &str)], check_database: impl AsyncFn()) {
    let dir = tempfile::tempdir().unwrap();
    let admin = mint(dir.path(), env, "admin");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let (mut creates, mut deletes, mut renames) = (0, 0, 0);
    for round in 0..20 {
        let server = Running::start_with(dir.path(), env);
        let load = tokio::spawn(write_load(http.clone(), server.base.clone(), admin.clone(), round));
        tokio::time::sleep(Duration::from_millis(150 + 37 * (round as u64 % 7))).await;
        signal(&server, Signal::KILL);
        let answered = load.await.unwrap();
        drop(server);
        check_database().await;

        let server = Running::start_with(dir.path(), env);
        let names = listed(&http, &server.base, &admin).await;
        let deleted: BTreeSet<&String> = answered.deleted.iter().collect();
        let renamed: BTreeSet<&String> = answered.renamed.iter().map(|(old, _)| old).collect();
        // A delete or rename cut off before its answer may have committed or not: either is right.
        let unsure: BTreeSet<&String> = answered
            .unsure
            .iter()
            .filter(|name| !deleted.contains(name) && !renamed.contains(name))
            .collect();
        for (name, key) in &answered.created {
            if unsure.contains(name) {
                let gone = !names.contains(name) && !names.contains(&format!("{name} renamed"));
                let used =
                    http.get(v1(&server.base, "list")).header("Authorization", key).send().await.unwrap();
                let expected = if gone { 401 } else { 200 };
                assert_eq!(used.status(), expected, "round {round}: {name}, listed: {}", !gone);
                continue;
            }
            if deleted.contains(name) {
                assert!(!names.contains(name), "round {round}: {name}'s answered delete was undone");
                let refused =
                    http.get(v1(&server.base, "list")).header("Authorization", key).send().await.unwrap();
                assert_eq!(refused.status(), 401, "round {round}: deleted {name} still authenticates");
                continue;
            }
            if renamed.contains(name) {
                assert!(
                    names.contains(&format!("{name} renamed")),
                    "round {round}: {name}'s rename was lost"
                );
            } else {
                assert!(names.contains(name), "round {round}: answered create {name} was lost");
            }
            let used = http.get(v1(&server.base, "list")).header("Authorization", key).send().await.unwrap();
            assert_eq!(used.status(), 200, "round {round}: answered {name} does not authenticate");
        }
        // No key is half made: every listed key is complete (the list reads each one whole) and
        // the profile's total agrees with it.
        let page: Value = http
            .get(format!("{}/api/apikeys?size=1", server.base))
            .header("Authorization", &admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["page"]["totalElements"].as_u64(), Some(names.len() as u64), "round {round}");
        creates += answered.created.len();
        deletes += answered.deleted.len();
        renames += answered.renamed.len();
    }
    assert!(creates > 0 && deletes > 0 && renames > 0, "the loads wrote: {creates} {deletes} {renames}");
    eprintln!(
        "20 SIGKILLs under load: {creates} answered creates, {deletes} deletes, {renames} renames, none lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_sigkills_under_writes_lose_nothing_answered_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keyward.db");
    let url = format!("sqlite://{}", file.display());
    let env = [("KEYWARD_DATABASE_URL", url.as_str())];
    survive_twenty_kills(&env, async || {
        let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let integrity: String =
            sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut connection).await.unwrap();
        assert_eq!(integrity, "ok");
        let drift: i64 = sqlx::query_scalar(COUNTS_DRIFT).fetch_one(&mut connection).await.unwrap();
        assert_eq!(drift, 0, "the kept counts agree with the keys");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: run cargo xtask test"]
async fn twenty_sigkills_under_writes_lose_nothing_answered_on_postgres() {
    let url = common::fresh_database().await;
    let env = [("KEYWARD_DATABASE_URL", url.as_str())];
    survive_twenty_kills(&env, async || {
        let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
        let drift: i64 = sqlx::query_scalar(COUNTS_DRIFT).fetch_one(&mut connection).await.unwrap();
        assert_eq!(drift, 0, "the kept counts agree with the keys");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_starting_while_the_database_is_locked_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keyward.db").display());
    let env = [("KEYWARD_DATABASE_URL", url.as_str())];
    let admin = mint(dir.path(), &env, "admin");
    // Another process's long write holds the lock past the busy timeout (5 s).
    let mut holder = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut holder).await.unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(7)).await;
        sqlx::query("COMMIT").execute(&mut holder).await.unwrap();
    });
    let path = dir.path().to_owned();
    let owned_url = url.clone();
    let server = tokio::task::spawn_blocking(move || {
        Running::start_with(&path, &[("KEYWARD_DATABASE_URL", owned_url.as_str())])
    })
    .await;
    release.await.unwrap();
    let server = server.expect("the server waited for the database and started");
    let http = reqwest::Client::new();
    assert_eq!(listed(&http, &server.base, &admin).await, BTreeSet::from(["admin".to_owned()]));
}

#[tokio::test]
async fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start_with(dir.path(), &[("KEYWARD_DATABASE_URL", "sqlite://keyward.db")]);
    reqwest::get(format!("{}/health/live", server.base)).await.unwrap();
    let logs = server.logs_until(|line| line.contains("/health/live"), Duration::from_secs(10));
    assert!(!logs.contains('\u{1b}'), "ANSI escapes in a log collector's input:\n{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_while_serving_restores_into_a_new_server_whose_keys_work() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("KEYWARD_DATABASE_URL", "sqlite://keyward.db")];
    let admin = mint(dir.path(), &env, "admin");
    let server = Running::start_with(dir.path(), &env);
    let http = reqwest::Client::new();
    // Writes go on while the copy is taken.
    let writes = {
        let (http, base, admin) = (http.clone(), server.base.clone(), admin.clone());
        tokio::spawn(async move {
            for n in 0..20 {
                let created = http
                    .post(v1(&base, "create"))
                    .header("Authorization", &admin)
                    .json(&json!({ "name": format!("during {n}") }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(created.status(), 200);
            }
        })
    };
    let backup = dir.path().join("backup.db");
    let output = command(dir.path()).envs(env).args(["backup", "--to"]).arg(&backup).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    writes.await.unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the backup holds secret hashes and signing keys");
    }
    let again = command(dir.path()).envs(env).args(["backup", "--to"]).arg(&backup).output().unwrap();
    assert!(!again.status.success(), "a backup never overwrites a file");

    // A new server on the copy: the key from before authenticates, and what the copy holds is a
    // consistent moment (the admin key and some prefix of the writes).
    let restored_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&backup, restored_dir.path().join("keyward.db")).unwrap();
    let restored = Running::start_with(restored_dir.path(), &env);
    let names = listed(&http, &restored.base, &admin).await;
    assert!(names.contains("admin"), "{names:?}");
    let during = names.iter().filter(|name| name.starts_with("during ")).count();
    let expected: BTreeSet<String> =
        std::iter::once("admin".to_owned()).chain((0..during).map(|n| format!("during {n}"))).collect();
    assert_eq!(names, expected, "a prefix of the writes, as of one moment");
    let postgres = command(dir.path())
        .env("KEYWARD_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .args(["backup", "--to"])
        .arg(dir.path().join("pg.db"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&postgres.stderr).contains("pg_dump"), "PostgreSQL points at pg_dump");
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start_with(
        dir.path(),
        &[("KEYWARD_DATABASE_URL", "sqlite://keyward.db"), ("KEYWARD_LOG_FORMAT", "json")],
    );
    let answer = reqwest::get(format!("{}/health/live", server.base)).await.unwrap();
    let id = answer.headers()["x-request-id"].to_str().unwrap().to_owned();
    let logs = server.logs_until(|line| line.contains(&id), Duration::from_secs(10));
    let lines: Vec<Value> = logs
        .lines()
        .filter(|line| line.contains(&id))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(lines.iter().any(|line| line["span"]["request_id"] == id.as_str()), "{lines:#?}");
}

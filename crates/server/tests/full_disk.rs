//! A full disk under the running server, as an operator meets it: the real binary on a small
//! tmpfs that fills up. No write is acknowledged that did not commit, every refused write is a 503
//! in its route's own shape and changed nothing, reads and token grants keep working, and writes
//! work again by themselves once space returns. Mounting needs root.

mod common;

use common::{Running, command};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Space left on the file system once it is filled: a few commits' worth.
const LEFT_FREE: u64 = 300 * 1024;
/// Creates attempted while the disk is full.
const CREATES_WHILE_FULL: usize = 200;

/// Every acknowledged key is verified after the restart, all from one address.
const UNTHROTTLED: &[(&str, &str)] = &[("KEYWARD_THROTTLE_PER_ADDRESS", "100000")];

/// A tmpfs mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let uid = Command::new("id").arg("-u").output().expect("run id -u");
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "this test mounts a tmpfs and needs root: run it as root (cargo xtask test does, in CI)"
        );
        let dir = tempfile::tempdir().expect("temporary directory");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs failed");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Fills the file system holding `dir` until only about `left` bytes are free.
fn fill(dir: &Path, left: u64) -> PathBuf {
    let path = dir.join("filler");
    let mut file = File::create(&path).expect("filler file");
    let chunk = vec![0u8; 64 * 1024];
    loop {
        match file.write_all(&chunk) {
            Ok(()) => {}
            Err(error) if error.raw_os_error() == Some(28) => break, // ENOSPC
            Err(error) => panic!("filling the disk: {error}"),
        }
    }
    let written = file.metadata().expect("filler size").len();
    file.set_len(written.saturating_sub(left)).expect("leave some space");
    path
}

struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request =
            self.http.request(method, format!("{}{path}", self.base)).header("Authorization", &self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON") };
        (status, body)
    }

    async fn v1_create(&self, name: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, "/api/v1/keys/create", Some(json!({ "name": name }))).await
    }

    async fn names(&self) -> Vec<String> {
        let (status, body) = self.send(reqwest::Method::GET, "/api/v1/keys/list", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body.as_array().unwrap().iter().map(|key| key["name"].as_str().unwrap().to_owned()).collect()
    }
}

/// A refused write: 503 in the dialect's shape.
fn assert_unavailable(status: StatusCode, body: &Value, dialect: &str) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{dialect}: {body}");
    match dialect {
        "v1" => assert!(body.is_string(), "the key API's errors are JSON strings: {body}"),
        _ => assert_eq!(body["status"], 503, "a Spring-style body: {body}"),
    }
}

#[tokio::test]
#[ignore = "needs root for a tmpfs mount: run cargo xtask test"]
async fn a_full_disk_acknowledges_only_what_committed_and_recovers_by_itself() {
    let tmpfs = Tmpfs::mount("6m");
    let dir = tmpfs.path();
    let bootstrap = |name: &str| {
        command(dir).args(["keys", "create", "--profile", "owner", "--name", name]).output().expect("run")
    };
    let admin = bootstrap("admin");
    assert!(admin.status.success(), "{}", String::from_utf8_lossy(&admin.stderr));
    let admin: Value = serde_json::from_slice(&admin.stdout).expect("the printed key");

    let mut server = Running::start_with(dir, UNTHROTTLED);
    let client = Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
        key: admin["apiKey"].as_str().unwrap().to_owned(),
    };

    // Keys to rename and delete once the disk is full, made while there is room.
    let mut v1_doomed = Vec::new();
    for i in 0..10 {
        let (status, body) = client.v1_create(&format!("doomed-{i}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        v1_doomed.push(body);
    }
    let mut hal_keys = Vec::new();
    for i in 0..10 {
        let (status, body) = client.send(reqwest::Method::POST, "/api/apikeys", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        let path = format!("/api/apikeys/{id}");
        let (status, body) =
            client.send(reqwest::Method::PUT, &path, Some(json!({ "name": format!("hal-{i}") }))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        hal_keys.push(id);
    }

    let filler = fill(dir, LEFT_FREE);

    // Creates until well past the point where the disk is full.
    let mut created = BTreeMap::new();
    let mut refused = Vec::new();
    for i in 0..CREATES_WHILE_FULL {
        let name = format!("full-{i}");
        let (status, body) = client.v1_create(&name).await;
        if status == StatusCode::OK {
            created.insert(name, body["apiKey"].as_str().unwrap().to_owned());
        } else {
            assert_unavailable(status, &body, "v1");
            refused.push(name);
        }
    }

    // Every other write route, once each per key.
    let mut initialised = Vec::new();
    for _ in 0..10 {
        let (status, body) = client.send(reqwest::Method::POST, "/api/apikeys", None).await;
        if status == StatusCode::OK {
            initialised.push(body["id"].as_str().unwrap().to_owned());
        } else {
            assert_unavailable(status, &body, "hal");
        }
    }
    let mut renamed = BTreeMap::new();
    let mut hal_deleted = Vec::new();
    for (i, id) in hal_keys.iter().enumerate() {
        let path = format!("/api/apikeys/{id}");
        if i % 2 == 0 {
            let name = format!("renamed-{i}");
            let (status, body) =
                client.send(reqwest::Method::PUT, &path, Some(json!({ "name": name.clone() }))).await;
            match status {
                StatusCode::OK => {
                    renamed.insert(id.clone(), name);
                }
                _ => assert_unavailable(status, &body, "hal"),
            }
        } else {
            let (status, body) = client.send(reqwest::Method::DELETE, &path, None).await;
            match status {
                StatusCode::NO_CONTENT => hal_deleted.push(id.clone()),
                _ => assert_unavailable(status, &body, "hal"),
            }
        }
    }
    let mut v1_deleted = Vec::new();
    for key in &v1_doomed {
        let name = key["name"].as_str().unwrap();
        let (status, body) =
            client.send(reqwest::Method::DELETE, &format!("/api/v1/keys/{name}/delete"), None).await;
        match status {
            StatusCode::OK => v1_deleted.push(name.to_owned()),
            _ => assert_unavailable(status, &body, "v1"),
        }
    }

    // Reads and grants need no space.
    assert!(client.names().await.contains(&"admin".to_owned()));
    let (status, body) = client.send(reqwest::Method::GET, "/api/apikeys", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let grant = client
        .http
        .post(format!("{}/oauth/token", client.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", admin["clientId"].as_str().unwrap()),
            ("client_secret", admin["clientSecret"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), StatusCode::OK);

    // The bootstrap command fails plainly and prints no key that does not exist.
    let bootstrapped = bootstrap("bootstrapped-while-full");
    let bootstrap_ok = bootstrapped.status.success();
    if !bootstrap_ok {
        assert!(
            bootstrapped.stdout.is_empty(),
            "a key was printed: {}",
            String::from_utf8_lossy(&bootstrapped.stdout)
        );
    }

    let logs = server.logs();

    // Space returns: writes work again, without a restart.
    std::fs::remove_file(filler).expect("free the space");
    let (status, body) = client.v1_create("after-recovery").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A restart forgets every cache: what is stored is all there is.
    drop(server);
    server = Running::start_with(dir, UNTHROTTLED);
    let client = Client { base: server.base.clone(), ..client };
    let names = client.names().await;
    for (name, key) in &created {
        assert!(names.contains(name), "acknowledged create {name} is missing");
        let by_itself = Client { key: key.clone(), base: client.base.clone(), http: client.http.clone() };
        let (status, body) = by_itself.send(reqwest::Method::GET, "/api/v1/keys/list", None).await;
        assert_eq!(status, StatusCode::OK, "acknowledged key {name} does not authenticate: {body}");
    }
    for name in &refused {
        assert!(!names.contains(name), "refused create {name} exists");
    }
    for key in &v1_doomed {
        let name = key["name"].as_str().unwrap();
        let gone = v1_deleted.iter().any(|deleted| deleted == name);
        assert_eq!(!names.contains(&name.to_owned()), gone, "{name}: deleted = {gone}");
        let by_itself = Client {
            key: key["apiKey"].as_str().unwrap().to_owned(),
            base: client.base.clone(),
            http: client.http.clone(),
        };
        let (status, _) = by_itself.send(reqwest::Method::GET, "/api/v1/keys/list", None).await;
        let expected = if gone { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
        assert_eq!(status, expected, "{name}: deleted = {gone}");
    }
    for (i, id) in hal_keys.iter().enumerate() {
        let (status, body) = client.send(reqwest::Method::GET, &format!("/api/apikeys/{id}"), None).await;
        if hal_deleted.contains(id) {
            assert_eq!(status, StatusCode::NOT_FOUND, "acknowledged delete of {id} undone");
        } else {
            assert_eq!(status, StatusCode::OK, "refused delete of {id} happened: {body}");
            let expected = renamed.get(id).cloned().unwrap_or_else(|| format!("hal-{i}"));
            assert_eq!(body["name"], expected.as_str());
        }
    }
    for id in &initialised {
        let (status, body) = client
            .send(reqwest::Method::PUT, &format!("/api/apikeys/{id}"), Some(json!({ "name": id })))
            .await;
        assert_eq!(status, StatusCode::CREATED, "acknowledged initialise {id} was not stored: {body}");
    }
    assert_eq!(names.contains(&"bootstrapped-while-full".to_owned()), bootstrap_ok);
    assert!(
        logs.lines().any(|line| line.contains("ERROR") && line.contains("database or disk is full")),
        "no error-level log line names the cause"
    );
    // Without refusals the disk never filled, and the test showed nothing.
    assert!(!refused.is_empty(), "the disk never filled up: {} creates all succeeded", created.len());
    eprintln!(
        "while full: {} creates acknowledged, {} refused; {} of {} initialisations, {} renames, {} + {} deletes acknowledged",
        created.len(),
        refused.len(),
        initialised.len(),
        10,
        renamed.len(),
        hal_deleted.len(),
        v1_deleted.len()
    );
}

//! The `keyward-server` binary, run by the tests as a user would run it.

#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_keyward-server");

pub fn command(dir: &std::path::Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .current_dir(dir)
        .env_remove("KEYWARD_DATABASE_URL")
        .env_remove("KEYWARD_BIND")
        .env_remove("KEYWARD_PUBLIC_URL")
        .env_remove("KEYWARD_CONFIG")
        .env_remove("KEYWARD_SECRET_KEY")
        .env_remove("KEYWARD_SECRET_KEY_FILE")
        .env_remove("KEYWARD_PREVIOUS_SECRET_KEY")
        .env_remove("KEYWARD_PREVIOUS_SECRET_KEY_FILE");
    command
}

/// A running server; killed on drop. Its stderr is collected in `log`.
pub struct Running {
    child: Child,
    pub base: String,
    log: mpsc::Receiver<String>,
}

impl Running {
    pub fn start(dir: &std::path::Path) -> Self {
        Self::start_with(dir, &[])
    }

    /// Starts the server in `dir` with extra environment variables.
    pub fn start_with(dir: &std::path::Path, env: &[(&str, &str)]) -> Self {
        let mut child = command(dir)
            .env("KEYWARD_BIND", "127.0.0.1:0")
            .envs(env.iter().copied())
            .env("RUST_LOG", "trace")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start keyward-server");
        let stderr = child.stderr.take().unwrap();
        let (lines, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        // Dropped (and so killed) if it never reports its address.
        let mut running = Self { child, base: String::new(), log };
        let mut seen = Vec::new();
        while running.base.is_empty() {
            let line = running
                .log
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("the server did not report its address: {seen:#?}"));
            match line.split("listening on ").nth(1) {
                Some(address) => {
                    running.base = address.trim().trim_end_matches(|c: char| !c.is_ascii_digit()).to_owned();
                }
                None => seen.push(line),
            }
        }
        running
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits at most `timeout` for the process to exit by itself.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("the server process") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    pub fn logs(&self) -> String {
        self.log.try_iter().collect::<Vec<_>>().join("\n")
    }

    /// The lines logged so far, once one satisfying `until` has arrived (within `timeout`), with
    /// every line already written after it.
    pub fn logs_until(&self, until: impl Fn(&str) -> bool, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut lines = Vec::new();
        loop {
            match self.log.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) if until(&line) => {
                    lines.push(line);
                    break;
                }
                Ok(line) => lines.push(line),
                Err(_) => panic!("the awaited line was not logged within {timeout:?}:\n{}", lines.join("\n")),
            }
        }
        lines.extend(self.log.try_iter());
        lines.join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh database in the PostgreSQL cluster that `cargo xtask test` starts.
pub async fn fresh_database() -> String {
    use sqlx::Connection;
    let admin = std::env::var("KEYWARD_TEST_POSTGRES_URL")
        .expect("KEYWARD_TEST_POSTGRES_URL is not set: run cargo xtask test, which starts PostgreSQL");
    let mut connection = sqlx::PgConnection::connect(&admin).await.expect("the test PostgreSQL");
    let name = format!("keyward_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .expect("a fresh database");
    format!("{}/{name}", admin.rsplit_once('/').expect("a database URL").0)
}

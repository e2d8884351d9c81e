//! The server under load: the built binary as a child process, its bootstrap key, and what it
//! reports of itself (its peak memory).

use anyhow::{Context, bail};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Settings the benchmark runs the server with: limits that would stop a load test (the key
/// limit, the throttle of uncached verifications) raised, logs at warnings only.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("KEYWARD_MAX_KEYS_PER_PROFILE", "100000000"),
    ("KEYWARD_THROTTLE_PER_KEY", "4000000000"),
    ("KEYWARD_THROTTLE_PER_ADDRESS", "4000000000"),
    ("RUST_LOG", "warn"),
];

/// A running `keyward-server serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    binary: PathBuf,
    database_url: String,
}

/// A key made for the benchmark, with what authenticates with it.
#[derive(Debug, Clone)]
pub struct BenchKey {
    pub id: String,
    pub profile_id: String,
    pub api_key: String,
    pub client_id: String,
    pub client_secret: String,
}

impl Server {
    /// Starts the server on `database_url` and waits until it answers.
    pub fn start(binary: &Path, database_url: &str, log: &Path) -> anyhow::Result<Self> {
        let port = crate::test::free_port()?;
        let log_file = std::fs::File::create(log)?;
        let child = Command::new(binary)
            .arg("serve")
            .env("KEYWARD_BIND", format!("127.0.0.1:{port}"))
            .env("KEYWARD_DATABASE_URL", database_url)
            .envs(ENVIRONMENT.iter().copied())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            binary: binary.to_owned(),
            database_url: database_url.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("the server did not listen within 60 s; see {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// Creates a key with the server's own `keys create` command (the bootstrap path).
    pub fn bootstrap_key(&self, profile: &str, name: &str) -> anyhow::Result<BenchKey> {
        let output = Command::new(&self.binary)
            .args(["keys", "create", "--profile", profile, "--name", name])
            .env("KEYWARD_DATABASE_URL", &self.database_url)
            .envs(ENVIRONMENT.iter().copied())
            .output()?;
        if !output.status.success() {
            bail!("keys create failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        let printed: Value = serde_json::from_slice(&output.stdout)?;
        let field = |name: &str| {
            printed[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("keys create printed no {name}"))
        };
        Ok(BenchKey {
            id: field("id")?,
            profile_id: field("profileId")?,
            api_key: field("apiKey")?,
            client_id: field("clientId")?,
            client_secret: field("clientSecret")?,
        })
    }

    /// The most resident memory the server has used, from Linux's `VmHWM`.
    pub fn peak_rss_bytes(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kib = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .context("no VmHWM in /proc/PID/status")?;
        Ok(kib * 1024)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

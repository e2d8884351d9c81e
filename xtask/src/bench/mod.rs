//! `cargo xtask bench`: the figures of BENCHMARKS.md, each a ratio taken within one run so that
//! the noise of a shared machine cancels, printed as one table with each target and pass or fail.
//!
//! The server is the release binary (the debug one in `--smoke` mode, which only checks that the
//! benchmark still works), on SQLite, and also on PostgreSQL with `--postgres` (a throwaway
//! cluster as `cargo xtask test` makes). wrk loads it from its own process over loopback.
//! `--peers` runs djangorestframework-api-key and oidc-provider the same way, side by side.
//! `--only flood` takes only the figures of a flood of made-up keys (`flood.rs`). `--soak` runs
//! only a long mixed load and holds memory, errors and latency over it flat (`soak.rs`).

mod flood;
mod peers;
mod raw;
mod seed;
mod server;
mod soak;
mod wrk;

use anyhow::{Context, bail};
use keyward_server::secrets::random_base62;
use server::{BenchKey, Server};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use wrk::{Load, Outcome, Request};

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Tiny counts and durations: checks that the benchmark works, measures nothing worth keeping.
    #[arg(long)]
    smoke: bool,
    /// Also run every figure on PostgreSQL (a throwaway cluster; needs root, as `cargo xtask test`).
    #[arg(long)]
    postgres: bool,
    /// Also load djangorestframework-api-key and oidc-provider, side by side.
    #[arg(long)]
    peers: bool,
    /// Seconds of load per throughput figure (10 by default), or of the whole soak (600).
    #[arg(long)]
    seconds: Option<u64>,
    /// Only these figures (on a store filled as the full run fills it).
    #[arg(long, value_enum, conflicts_with = "peers")]
    only: Option<Only>,
    /// Only the soak: a mixed load of verifications, grants, creates and deletes for `--seconds`
    /// (30 with `--smoke`), with memory, errors and latency held flat over it.
    #[arg(long, conflicts_with_all = ["peers", "only"])]
    soak: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Only {
    /// The server's memory and CPU under a flood of made-up, well-formed keys.
    Flood,
}

/// How big the run is.
struct Scale {
    load: Duration,
    raw: Duration,
    /// Keys stored when the small-store figures are taken, and when the large-store ones are.
    keys_small: u64,
    keys_large: u64,
    /// Keys in the profile whose first list page is timed against one of 100.
    large_profile: u64,
    cold_keys: usize,
    /// Made-up keys sent in the flood, and the longest it may take.
    flood_keys: u64,
    flood_ceiling: Duration,
}

impl Scale {
    fn of(options: &Options) -> Self {
        if options.smoke {
            Self {
                load: Duration::from_secs(1),
                raw: Duration::from_millis(300),
                keys_small: 1_000,
                keys_large: 5_000,
                large_profile: 2_000,
                cold_keys: 10,
                flood_keys: 20_000,
                flood_ceiling: Duration::from_secs(120),
            }
        } else {
            Self {
                load: Duration::from_secs(options.seconds.unwrap_or(10)),
                raw: Duration::from_secs(3),
                keys_small: 1_000,
                keys_large: 1_000_000,
                large_profile: 100_000,
                cold_keys: 200,
                flood_keys: 1_000_000,
                flood_ceiling: Duration::from_secs(900),
            }
        }
    }
}

/// A figure and its target.
struct Figure {
    name: &'static str,
    value: f64,
    unit: &'static str,
    target: Target,
    detail: String,
}

#[derive(Clone, Copy)]
enum Target {
    AtLeast(f64),
    AtMost(f64),
    /// What the ratios are taken against.
    Reference,
}

impl Target {
    fn met(self, value: f64) -> bool {
        match self {
            Target::AtLeast(floor) => value >= floor,
            Target::AtMost(ceiling) => value <= ceiling,
            Target::Reference => true,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::AtLeast(floor) => write!(f, "≥ {floor}"),
            Target::AtMost(ceiling) => write!(f, "≤ {ceiling}"),
            Target::Reference => f.write_str("reference"),
        }
    }
}

pub fn run(options: &Options) -> anyhow::Result<()> {
    let root = crate::root();
    provide_wrk()?;
    let scale = Scale::of(options);
    let binary = build_server(&root, options.smoke)?;
    if options.soak {
        return soak(&root, &binary, options);
    }
    let scratch = root.join("target").join("xtask-bench");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    std::fs::create_dir_all(&scratch)?;
    let runtime = tokio::runtime::Runtime::new()?;

    eprintln!("bench: measuring the machine");
    let rsa = raw::rsa_signs_per_second(scale.raw)?;
    let argon2 = raw::argon2_hashes_per_second(&runtime, scale.raw)?;
    let machine = Machine { rsa, argon2 };

    let mut report = String::new();
    let mut all_met = true;
    let mut backends = vec![("SQLite", format!("sqlite://{}", scratch.join("bench.db").display()))];
    let postgres = options.postgres.then(|| crate::test::Postgres::start(&root)).transpose()?;
    if let Some(postgres) = &postgres {
        backends.push(("PostgreSQL", postgres.url.clone()));
    }
    let mut keyward_figures = None;
    for (name, url) in &backends {
        eprintln!("bench: Keyward on {name}");
        let mut figures = Vec::new();
        if options.only.is_none() {
            let mut run = runtime.block_on(measure(&binary, url, &scale, &machine, &scratch))?;
            figures.append(&mut run.figures);
            keyward_figures.get_or_insert(run);
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let flood = flood::Flood {
            binary: &binary,
            database_url: url,
            keys: scale.flood_keys,
            // The full run filled the store already.
            fill_store: options.only.is_some().then_some(scale.keys_large),
            ceiling: scale.flood_ceiling,
            cpu_per_hash: Duration::from_secs_f64(cores as f64 / argon2),
            scratch: &scratch,
        };
        figures.extend(runtime.block_on(flood.measure())?);
        all_met &= table(&mut report, &format!("Keyward on {name}"), &figures);
    }
    if options.peers {
        let ours = keyward_figures.as_ref().context("no Keyward figures")?;
        let figures = compare_with_peers(&root, &scale, ours, &scratch)?;
        all_met &= table(&mut report, "Keyward beside its peers (SQLite run)", &figures);
    }
    drop(postgres);
    let _ = writeln!(
        report,
        "machine: {} cores; RSA-2048 {rsa:.0} signs/s and argon2id (m={} KiB, t={}, p={}) {argon2:.0} hashes/s on all cores; load: wrk -t2 -c64, {} s per figure{}",
        std::thread::available_parallelism().map_or(1, usize::from),
        keyward_server::hashing::DEFAULT_MEMORY_KIB,
        keyward_server::hashing::DEFAULT_ITERATIONS,
        keyward_server::hashing::DEFAULT_PARALLELISM,
        scale.load.as_secs(),
        if options.smoke { " (smoke mode: the figures mean nothing)" } else { "" },
    );
    println!("{report}");
    if options.smoke {
        // Smoke mode checks that every figure can be taken, not what it is.
        return Ok(());
    }
    if !all_met {
        bail!("some figures miss their targets");
    }
    Ok(())
}

/// `--soak`: the soak alone, on SQLite and with `--postgres` on PostgreSQL too.
fn soak(root: &Path, binary: &Path, options: &Options) -> anyhow::Result<()> {
    // A scratch directory of its own, so that a soak and another run do not clear each other's.
    let scratch = root.join("target").join("xtask-bench-soak");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    std::fs::create_dir_all(&scratch)?;
    let mut backends = vec![("SQLite", format!("sqlite://{}", scratch.join("soak.db").display()))];
    let postgres = options.postgres.then(|| crate::test::Postgres::start(root)).transpose()?;
    if let Some(postgres) = &postgres {
        backends.push(("PostgreSQL", postgres.url.clone()));
    }
    let seconds = if options.smoke { 30 } else { options.seconds.unwrap_or(600) };
    soak::run(binary, &backends, seconds, options.smoke, &scratch)
}

struct Machine {
    rsa: f64,
    argon2: f64,
}

/// What one backend's run measured.
struct Run {
    figures: Vec<Figure>,
    /// Authenticated requests per second with a full key, and grants per second.
    authenticated: f64,
    grants: f64,
}

async fn measure(
    binary: &Path,
    database_url: &str,
    scale: &Scale,
    machine: &Machine,
    scratch: &Path,
) -> anyhow::Result<Run> {
    let server = Server::start(binary, database_url, &scratch.join("server.log"))?;
    let base = server.base.clone();
    let http = reqwest::Client::new();
    let caller = server.bootstrap_key("bench-small", "caller")?;
    let subject = server.bootstrap_key("bench-small", "subject")?;
    let large = server.bootstrap_key("bench-large", "caller")?;
    // The small store: 100 keys in the caller's profile, the rest spread over others.
    let mut numbered = 0;
    seed::filler(database_url, "bench-small", 1, numbered + 1, numbered + 97).await?;
    numbered += 97;
    let spread = scale.keys_small - 100 - 1;
    seed::filler(database_url, "bench-other-", 1000, numbered + 1, numbered + spread).await?;
    numbered += spread;
    let token = access_token(&http, &base, &caller).await?;

    let throughput = Load { threads: 2, connections: 64, duration: scale.load };
    let latency = Load { threads: 1, connections: 1, duration: scale.load };
    let load = |request: &Request, load: Load| {
        let outcome = wrk::run(&base, request, load, scratch)?;
        eprintln!(
            "bench: {} {}: {:.0}/s, p50 {} µs; server's peak RSS so far {} MiB",
            request.method,
            request.path,
            outcome.per_second(),
            outcome.p50.as_micros(),
            server.peak_rss_bytes()? >> 20
        );
        Ok::<_, anyhow::Error>(outcome)
    };
    let as_key = |request: Request| request.header("Authorization", caller.api_key.clone());
    let verify = as_key(Request::post(
        "/api/v1/keys/verify",
        "application/json",
        serde_json::json!({ "key": subject.api_key }).to_string(),
    ));
    let profile = keyward_server::api::links::profile("", &caller.profile_id);

    let trivial = load(&Request::get("/health/live"), throughput)?;
    let verified = load(&verify, throughput)?;
    let with_key = load(&as_key(Request::get(&profile)), throughput)?;
    let with_token =
        load(&Request::get(&profile).header("Authorization", format!("Bearer {token}")), throughput)?;
    let one_key = load(&as_key(Request::get(format!("/api/apikeys/{}", subject.id))), throughput)?;
    let listed = load(&as_key(Request::get("/api/apikeys")), throughput)?;
    let grant = Request::post(
        "/oauth/token",
        "application/x-www-form-urlencoded",
        format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            caller.client_id, caller.client_secret
        ),
    );
    let grants = load(&grant, throughput)?;
    let verify_small = load(&verify, latency)?;
    let cold_small = cold_verifications(&http, &base, &caller, scale.cold_keys).await?;

    eprintln!("bench: filling the store to {} keys", scale.keys_large);
    seed::filler(database_url, "bench-large", 1, numbered + 1, numbered + scale.large_profile - 1).await?;
    numbered += scale.large_profile - 1;
    let stored_now = scale.keys_small + scale.large_profile + 2 + scale.cold_keys as u64;
    if scale.keys_large > stored_now {
        let rest = scale.keys_large - stored_now;
        seed::filler(database_url, "bench-other-", 1000, numbered + 1, numbered + rest).await?;
    }
    let verify_large = load(&verify, latency)?;
    let cold_large = cold_verifications(&http, &base, &caller, scale.cold_keys).await?;
    let list_small = load(&as_key(Request::get("/api/apikeys")), latency)?;
    let list_large =
        load(&Request::get("/api/apikeys").header("Authorization", large.api_key.clone()), latency)?;

    let creations = load(
        &as_key(Request::post("/api/v1/keys/create", "application/json", r#"{"name":"made-{n}"}"#)),
        throughput,
    )?;
    let peak = server.peak_rss_bytes()? as f64 / (1024.0 * 1024.0);
    drop(server);

    let per_trivial = |outcome: &Outcome| outcome.per_second() / trivial.per_second();
    let rate = |outcome: &Outcome| format!("{:.0}/s", outcome.per_second());
    let figures = vec![
        Figure {
            name: "GET /health/live (the trivial route)",
            value: trivial.per_second(),
            unit: "req/s",
            target: Target::Reference,
            detail: rate(&trivial),
        },
        ratio("warm POST /api/v1/keys/verify / trivial", per_trivial(&verified), 0.8, rate(&verified)),
        ratio("GET /api/profiles/{own}, full key / trivial", per_trivial(&with_key), 0.8, rate(&with_key)),
        ratio(
            "GET /api/profiles/{own}, Bearer JWT / trivial",
            per_trivial(&with_token),
            0.8,
            rate(&with_token),
        ),
        ratio("GET /api/apikeys/{id}, full key / trivial", per_trivial(&one_key), 0.5, rate(&one_key)),
        ratio("GET /api/apikeys (first page), full key / trivial", per_trivial(&listed), 0.5, rate(&listed)),
        ratio(
            "client-credentials grants / RSA-2048 signs, all cores",
            grants.per_second() / machine.rsa,
            0.7,
            format!("{} vs {:.0}/s", rate(&grants), machine.rsa),
        ),
        ratio(
            "key creations / argon2id hashes, all cores",
            creations.per_second() / machine.argon2,
            0.8,
            format!("{} vs {:.0}/s", rate(&creations), machine.argon2),
        ),
        Figure {
            name: "warm verify p50, large store / small store",
            value: seconds(verify_large.p50) / seconds(verify_small.p50),
            unit: "×",
            target: Target::AtMost(1.2),
            detail: format!(
                "{} keys {} vs {} keys {}",
                scale.keys_large,
                micros(verify_large.p50),
                scale.keys_small,
                micros(verify_small.p50)
            ),
        },
        Figure {
            name: "first list page p50, large profile / 100 keys",
            value: seconds(list_large.p50) / seconds(list_small.p50),
            unit: "×",
            target: Target::AtMost(1.5),
            detail: format!(
                "{} keys {} vs {}",
                scale.large_profile,
                micros(list_large.p50),
                micros(list_small.p50)
            ),
        },
        Figure {
            name: "cold verification p50 (first use of a key)",
            value: seconds(cold_large) * 1000.0,
            unit: "ms",
            target: Target::AtMost(3.0),
            detail: format!(
                "{} with {} keys stored, {} with {}",
                micros(cold_large),
                scale.keys_large,
                micros(cold_small),
                scale.keys_small
            ),
        },
        Figure {
            name: "peak RSS over the run",
            value: peak,
            unit: "MiB",
            target: Target::AtMost(64.0),
            detail: String::new(),
        },
    ];
    Ok(Run { figures, authenticated: with_key.per_second(), grants: grants.per_second() })
}

fn ratio(name: &'static str, value: f64, floor: f64, detail: String) -> Figure {
    Figure { name, value, unit: "×", target: Target::AtLeast(floor), detail }
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64().max(1e-6)
}

fn micros(duration: Duration) -> String {
    format!("{} µs", duration.as_micros())
}

/// An access token for `key`, from the token endpoint.
async fn access_token(http: &reqwest::Client, base: &str, key: &BenchKey) -> anyhow::Result<String> {
    let answer: serde_json::Value = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &key.client_id),
            ("client_secret", &key.client_secret),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    answer["access_token"].as_str().map(str::to_owned).context("no access_token in the token answer")
}

/// The median time of verifying keys never used before, one request at a time: each key is
/// created first (through the API, by `caller`), then verified once.
async fn cold_verifications(
    http: &reqwest::Client,
    base: &str,
    caller: &BenchKey,
    count: usize,
) -> anyhow::Result<Duration> {
    let mut fresh = Vec::with_capacity(count);
    for _ in 0..count {
        let created: serde_json::Value = http
            .post(format!("{base}/api/v1/keys/create"))
            .header("Authorization", &caller.api_key)
            .json(&serde_json::json!({ "name": format!("cold-{}", random_base62(16)) }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        fresh.push(created["apiKey"].as_str().context("no apiKey in the created key")?.to_owned());
    }
    let mut times = Vec::with_capacity(count);
    for key in fresh {
        let started = Instant::now();
        let answer: serde_json::Value = http
            .post(format!("{base}/api/v1/keys/verify"))
            .header("Authorization", &caller.api_key)
            .json(&serde_json::json!({ "key": key }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        times.push(started.elapsed());
        if answer["valid"] != serde_json::Value::Bool(true) {
            bail!("a fresh key did not verify: {answer}");
        }
    }
    times.sort();
    times.get(times.len() / 2).copied().context("no cold verification measured")
}

/// Keyward's authenticated requests and grants beside the peers', loaded alike.
fn compare_with_peers(root: &Path, scale: &Scale, ours: &Run, scratch: &Path) -> anyhow::Result<Vec<Figure>> {
    let throughput = Load { threads: 2, connections: 64, duration: scale.load };
    let (django, request) = peers::start_django(root, crate::test::free_port()?)?;
    let theirs = wrk::run(&django.base_url(), &request, throughput, scratch)?;
    drop(django);
    let (oidc, request) = peers::start_oidc_provider(root, crate::test::free_port()?)?;
    let their_grants = wrk::run(&oidc.base_url(), &request, throughput, scratch)?;
    drop(oidc);
    Ok(vec![
        Figure {
            name: "authenticated req/s / djangorestframework-api-key 3.1 + gunicorn",
            value: ours.authenticated / theirs.per_second(),
            unit: "×",
            target: Target::AtLeast(20.0),
            detail: format!("{:.0}/s vs {:.0}/s", ours.authenticated, theirs.per_second()),
        },
        Figure {
            name: "client-credentials grants/s / oidc-provider 9.13 (Node, 2 workers)",
            value: ours.grants / their_grants.per_second(),
            unit: "×",
            target: Target::AtLeast(1.2),
            detail: format!("{:.0}/s vs {:.0}/s", ours.grants, their_grants.per_second()),
        },
    ])
}

/// Appends a table of `figures` under `title`; whether every target was met.
fn table(report: &mut String, title: &str, figures: &[Figure]) -> bool {
    let _ =
        writeln!(report, "\n### {title}\n\n| figure | measured | detail | target | |\n|---|---|---|---|---|");
    let mut all_met = true;
    for figure in figures {
        let met = figure.target.met(figure.value);
        all_met &= met;
        let value = if figure.value >= 100.0 {
            format!("{:.0}", figure.value)
        } else {
            format!("{:.2}", figure.value)
        };
        let target = match figure.target {
            Target::Reference => "—".to_owned(),
            target => format!("{target} {}", figure.unit),
        };
        let _ = writeln!(
            report,
            "| {} | {value} {} | {} | {target} | {} |",
            figure.name,
            figure.unit,
            figure.detail,
            if met { "pass" } else { "**FAIL**" }
        );
    }
    all_met
}

/// The server binary: release for real figures, debug (already built by the tests) for smoke.
fn build_server(root: &Path, smoke: bool) -> anyhow::Result<PathBuf> {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root).args(["build", "-p", "keyward-server", "--bin", "keyward-server"]);
    if !smoke {
        command.arg("--release");
    }
    crate::test::run_checked(&mut command)?;
    // Where cargo put it: `CARGO_TARGET_DIR` when set (relative to the workspace), else `target`.
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |dir| root.join(dir));
    Ok(target.join(if smoke { "debug" } else { "release" }).join("keyward-server"))
}

/// wrk, from Debian's packages.
fn provide_wrk() -> anyhow::Result<()> {
    if crate::test::on_path("wrk") { Ok(()) } else { crate::test::apt_install("the benchmark", &["wrk"]) }
}

//! `cargo xtask bench --soak`: a long mixed load (issue 14, "Soak"): warm verifications, token
//! grants, and keys created and deleted again, each stream paced so that together they keep the
//! server busy without saturating the two cores it shares with wrk and everyone else, for
//! `--seconds` (600 by default; 30 with `--smoke`).
//!
//! The load runs in consecutive windows of 10 s (5 s under a minute): each window is three wrk
//! processes started together, one per stream, each printing its window's latency percentiles,
//! its answers counted by kind, and its socket errors; the server's resident memory (`VmRSS`) is
//! read at the end of each window. The figures: no error at all, the RSS of the last window
//! against the first after the warm-up (the first tenth), and the p99 latency of each stream in
//! the last third of the windows after the warm-up against the first third (the median of those
//! windows' p99s, so that one window slowed by a neighbour on the machine does not decide it).

use super::server::{BenchKey, Server};
use super::wrk::{self, Load};
use super::{Figure, Target, table};
use anyhow::{Context, bail};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// The most the RSS of the last window may be of the first after the warm-up.
const RSS_RATIO: f64 = 1.2;
/// The most each stream's p99 in the last third may be of the first third.
const P99_RATIO: f64 = 1.5;

/// One stream of the mix: how many connections, each waiting `pause_ms` between an answer and its
/// next request.
#[derive(Clone, Copy)]
struct Stream {
    name: &'static str,
    short: &'static str,
    /// What wrk is pointed at (the churn's script names its own paths).
    path: &'static str,
    connections: u32,
    pause_ms: u32,
}

const VERIFY: Stream = Stream {
    name: "warm POST /api/v1/keys/verify",
    short: "verify",
    path: "/api/v1/keys/verify",
    connections: 8,
    pause_ms: 2,
};
const GRANT: Stream = Stream {
    name: "POST /oauth/token (client credentials)",
    short: "grant",
    path: "/oauth/token",
    connections: 4,
    pause_ms: 10,
};
const CHURN: Stream = Stream {
    name: "POST /api/v1/keys/create + DELETE /api/v1/keys/{name}/delete",
    short: "create+delete",
    path: "/api/v1/keys/create",
    connections: 2,
    pause_ms: 10,
};
const STREAMS: [Stream; 3] = [VERIFY, GRANT, CHURN];

/// What one stream's wrk measured in one window.
#[derive(Debug, Clone, Copy, Default)]
struct Measured {
    requests: u64,
    seconds: f64,
    socket_errors: u64,
    /// Answers as expected, and any other answer (a status or a body not the expected one).
    ok: u64,
    bad: u64,
    creates: u64,
    deletes: u64,
    p50: Duration,
    p99: Duration,
}

impl Measured {
    fn errors(&self) -> u64 {
        self.socket_errors + self.bad
    }
}

/// One window: each stream's measurements, in the order of [`STREAMS`], and the server's RSS at
/// its end.
struct Window {
    streams: [Measured; 3],
    rss: u64,
    /// Keys the churn had created and not deleted when its wrk stopped, deleted after the window.
    leftover: usize,
}

/// Runs the soak on each backend, prints the tables, and fails if any target is missed (in smoke
/// mode, only if any request failed).
pub fn run(
    binary: &Path,
    backends: &[(&str, String)],
    seconds: u64,
    smoke: bool,
    scratch: &Path,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let window = Duration::from_secs(if seconds >= 60 { 10 } else { 5 });
    let windows = (seconds / window.as_secs()).max(3) as usize;
    let mut report = String::new();
    let mut all_met = true;
    let mut errors = 0;
    for (name, url) in backends {
        eprintln!("bench: soak on {name}, {windows} windows of {} s", window.as_secs());
        let (figures, failed) = runtime.block_on(soak(binary, url, window, windows, scratch))?;
        errors += failed;
        all_met &= table(&mut report, &format!("Soak, Keyward on {name}"), &figures);
    }
    let _ = writeln!(
        report,
        "soak: {windows} windows of {} s, the first {} a warm-up; one wrk -t1 per stream: {}{}",
        window.as_secs(),
        warm_up(windows),
        STREAMS
            .iter()
            .map(|s| format!("{} × {} connections pausing {} ms", s.name, s.connections, s.pause_ms))
            .collect::<Vec<_>>()
            .join(", "),
        if smoke { " (smoke mode: the figures mean nothing)" } else { "" },
    );
    println!("{report}");
    if errors > 0 {
        bail!("{errors} requests of the soak failed");
    }
    if !all_met && !smoke {
        bail!("some soak figures miss their targets");
    }
    Ok(())
}

/// The windows the warm-up takes: the first tenth, at least one.
fn warm_up(windows: usize) -> usize {
    (windows / 10).max(1)
}

/// One backend's soak: its figures and how many requests failed.
async fn soak(
    binary: &Path,
    database_url: &str,
    window: Duration,
    windows: usize,
    scratch: &Path,
) -> anyhow::Result<(Vec<Figure>, u64)> {
    let log = scratch.join("soak-server.log");
    let server = Server::start(binary, database_url, &log)?;
    let caller = server.bootstrap_key("soak-verify", "caller")?;
    let subject = server.bootstrap_key("soak-verify", "subject")?;
    let churner = server.bootstrap_key("soak-churn", "churner")?;
    let http = reqwest::Client::new();
    let started_rss = server.rss_bytes()?;
    let started_cpu = server.cpu_time()?;
    let started = Instant::now();

    let mut done = Vec::with_capacity(windows);
    for number in 0..windows {
        let scripts = [verify_lua(&caller, &subject), grant_lua(&caller), churn_lua(&churner, number)];
        let mut children = Vec::new();
        for (stream, script) in STREAMS.iter().zip(&scripts) {
            let load = Load { threads: 1, connections: stream.connections, duration: window };
            let file = scratch.join(format!("soak-{}.lua", stream.short));
            let url = format!("{}{}", server.base, stream.path);
            children.push(wrk::spawn(&url, script, load, &file)?);
        }
        let mut streams = [Measured::default(); 3];
        for (slot, child) in streams.iter_mut().zip(children) {
            let output = child.wait_with_output()?;
            let stdout = String::from_utf8_lossy(&output.stdout);
            if !output.status.success() {
                bail!("wrk failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
            }
            *slot = parse(&stdout)
                .with_context(|| format!("wrk's stderr: {}", String::from_utf8_lossy(&output.stderr)))?;
        }
        let rss = server.rss_bytes()?;
        let leftover = delete_leftovers(&http, &server.base, &churner).await?;
        let window = Window { streams, rss, leftover };
        report_window(started.elapsed(), &window);
        done.push(window);
    }
    let cpu = server.cpu_time()?.saturating_sub(started_cpu);
    let elapsed = started.elapsed();
    let peak = server.peak_rss_bytes()?;
    drop(server);
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        let size = |suffix: &str| std::fs::metadata(format!("{path}{suffix}")).map_or(0, |m| m.len());
        eprintln!(
            "bench: soak: the SQLite file is {:.1} MiB (WAL {:.1} MiB) after the soak",
            mib(size("")),
            mib(size("-wal"))
        );
    }
    eprintln!(
        "bench: soak: server CPU {:.0} s over {:.0} s ({:.0}% of one core); RSS {:.1} MiB before \
         the load, peak {:.1} MiB",
        cpu.as_secs_f64(),
        elapsed.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / elapsed.as_secs_f64(),
        mib(started_rss),
        mib(peak)
    );
    Ok(figures(&done, peak))
}

/// The figures of a soak's windows, and how many requests failed.
fn figures(windows: &[Window], peak: u64) -> (Vec<Figure>, u64) {
    let warm = warm_up(windows.len());
    let measured = &windows[warm..];
    let third = (measured.len() / 3).max(1);
    let (first, last) = (&measured[..third], &measured[measured.len() - third..]);

    let mut totals = [Measured::default(); 3];
    for window in windows {
        for (total, one) in totals.iter_mut().zip(&window.streams) {
            total.requests += one.requests;
            total.seconds += one.seconds;
            total.socket_errors += one.socket_errors;
            total.ok += one.ok;
            total.bad += one.bad;
            total.creates += one.creates;
            total.deletes += one.deletes;
        }
    }
    let errors: u64 = totals.iter().map(Measured::errors).sum();
    let requests: u64 = totals.iter().map(|t| t.requests).sum();
    let mut figures = vec![Figure {
        name: "failed requests (socket errors, unexpected statuses or answers)",
        value: errors as f64,
        unit: "requests",
        target: Target::AtMost(0.0),
        detail: format!(
            "of {requests}: {}",
            STREAMS
                .iter()
                .zip(&totals)
                .map(|(s, t)| format!("{} {}+{}", s.short, t.bad, t.socket_errors))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }];

    let (rss_first, rss_last) = (measured[0].rss, windows[windows.len() - 1].rss);
    let (rss_min, rss_max) =
        measured.iter().fold((u64::MAX, 0), |(low, high), w| (low.min(w.rss), high.max(w.rss)));
    figures.push(Figure {
        name: "RSS, last window / first after the warm-up",
        value: rss_last as f64 / rss_first as f64,
        unit: "×",
        target: Target::AtMost(RSS_RATIO),
        detail: format!(
            "{:.1} → {:.1} MiB (between {:.1} and {:.1}; peak {:.1})",
            mib(rss_first),
            mib(rss_last),
            mib(rss_min),
            mib(rss_max),
            mib(peak)
        ),
    });

    for (index, stream) in STREAMS.iter().enumerate() {
        let p99 = |windows: &[Window]| median(windows.iter().map(|w| w.streams[index].p99));
        let p50 = |windows: &[Window]| median(windows.iter().map(|w| w.streams[index].p50));
        let (early, late) = (p99(first), p99(last));
        figures.push(Figure {
            name: match index {
                0 => "verify p99, last third / first third",
                1 => "grant p99, last third / first third",
                _ => "create+delete p99, last third / first third",
            },
            value: late.as_secs_f64().max(1e-6) / early.as_secs_f64().max(1e-6),
            unit: "×",
            target: Target::AtMost(P99_RATIO),
            detail: format!(
                "{} → {} µs (p50 {} → {} µs), {}",
                early.as_micros(),
                late.as_micros(),
                p50(first).as_micros(),
                p50(last).as_micros(),
                stream.short
            ),
        });
    }

    let rate = |count: u64, total: &Measured| count as f64 / total.seconds.max(1e-6);
    let [verify, grant, churn] = totals;
    let leftovers: usize = windows.iter().map(|w| w.leftover).sum();
    for (name, count, total, detail) in [
        ("warm verifications", verify.ok, &verify, String::new()),
        ("client-credentials grants", grant.ok, &grant, String::new()),
        ("key creations", churn.creates, &churn, String::new()),
        (
            "key deletions",
            churn.deletes,
            &churn,
            format!("{leftovers} more created keys deleted between windows"),
        ),
    ] {
        figures.push(Figure {
            name,
            value: rate(count, total),
            unit: "/s",
            target: Target::Reference,
            detail: if detail.is_empty() { format!("{count}") } else { format!("{count}; {detail}") },
        });
    }
    (figures, errors)
}

fn median(values: impl Iterator<Item = Duration>) -> Duration {
    let mut values: Vec<_> = values.collect();
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn report_window(elapsed: Duration, window: &Window) {
    let mut line = format!("bench: soak {:>4} s, RSS {:.1} MiB", elapsed.as_secs(), mib(window.rss));
    for (stream, measured) in STREAMS.iter().zip(&window.streams) {
        let _ = write!(
            line,
            "; {} {:.0}/s p50 {} p99 {} µs",
            stream.short,
            measured.requests as f64 / measured.seconds.max(1e-6),
            measured.p50.as_micros(),
            measured.p99.as_micros()
        );
        if measured.errors() > 0 {
            let _ = write!(line, " ({} FAILED)", measured.errors());
        }
    }
    eprintln!("{line}");
}

/// Deletes the keys the churn created and did not delete before its wrk stopped; how many.
async fn delete_leftovers(http: &reqwest::Client, base: &str, churner: &BenchKey) -> anyhow::Result<usize> {
    let keys: Vec<serde_json::Value> = http
        .get(format!("{base}/api/v1/keys/list"))
        .header("Authorization", &churner.api_key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut deleted = 0;
    for key in keys {
        let name = key["name"].as_str().context("a listed key without a name")?;
        if name.starts_with("soak-") {
            http.delete(format!("{base}/api/v1/keys/{name}/delete"))
                .header("Authorization", &churner.api_key)
                .send()
                .await?
                .error_for_status()?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// The line each stream's script prints, parsed.
fn parse(stdout: &str) -> anyhow::Result<Measured> {
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("SOAK "))
        .with_context(|| format!("wrk printed no result: {stdout}"))?;
    let numbers: Vec<u64> = line.split_whitespace().map(str::parse).collect::<Result<_, _>>()?;
    let [requests, micros, socket_errors, ok, bad, creates, deletes, p50, p99] = numbers[..] else {
        bail!("unexpected wrk result: {line}");
    };
    Ok(Measured {
        requests,
        seconds: micros as f64 / 1e6,
        socket_errors,
        ok,
        bad,
        creates,
        deletes,
        p50: Duration::from_micros(p50),
        p99: Duration::from_micros(p99),
    })
}

/// What every stream's script shares: the pause, the counters, and the line `done` prints.
fn common(stream: Stream) -> String {
    format!(
        r#"ok, bad, creates, deletes = 0, 0, 0, 0
local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
function delay()
  return {pause}
end
function done(summary, latency, requests)
  local e = summary.errors
  local t = {{ ok = 0, bad = 0, creates = 0, deletes = 0 }}
  for _, thread in ipairs(threads) do
    for name, value in pairs(t) do t[name] = value + thread:get(name) end
  end
  io.write(string.format("SOAK %d %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, t.ok, t.bad, t.creates, t.deletes,
    latency:percentile(50), latency:percentile(99)))
end
"#,
        pause = stream.pause_ms
    )
}

/// Verifications of `subject` by `caller`, both warm: each answer must say it is valid.
fn verify_lua(caller: &BenchKey, subject: &BenchKey) -> String {
    let body = serde_json::json!({ "key": subject.api_key }).to_string();
    format!(
        r#"wrk.method = "POST"
wrk.headers["Authorization"] = {key}
wrk.headers["Content-Type"] = "application/json"
wrk.body = {body}
function response(status, headers, body)
  if status == 200 and body:find('"valid":true', 1, true) then ok = ok + 1 else bad = bad + 1 end
end
{common}"#,
        key = wrk::quote(&caller.api_key),
        body = wrk::quote(&body),
        common = common(VERIFY)
    )
}

/// Client-credentials grants of `caller`'s client: each answer must hold a token.
fn grant_lua(caller: &BenchKey) -> String {
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        caller.client_id, caller.client_secret
    );
    format!(
        r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = {body}
function response(status, headers, body)
  if status == 200 and body:find('"access_token"', 1, true) then ok = ok + 1 else bad = bad + 1 end
end
{common}"#,
        body = wrk::quote(&body),
        common = common(GRANT)
    )
}

/// Creates of uniquely named keys (`soak-{window}-{thread}-{n}`) alternating with deletes of those
/// created earlier, oldest first, as long as there are any: the profile holds a few at a time.
/// A create's answer must carry its name, a delete's `"status":"OK"`.
fn churn_lua(churner: &BenchKey, window: usize) -> String {
    format!(
        r#"local key = {key}
local window = {window}
local created = {{}}
local counter, turn = 0, 0
function request()
  turn = turn + 1
  if turn % 2 == 0 and #created > 0 then
    local name = table.remove(created, 1)
    return wrk.format("DELETE", "/api/v1/keys/" .. name .. "/delete", {{ ["Authorization"] = key }}, nil)
  end
  counter = counter + 1
  local body = string.format('{{"name":"soak-%d-%d-%d"}}', window, tid, counter)
  return wrk.format("POST", "/api/v1/keys/create",
    {{ ["Authorization"] = key, ["Content-Type"] = "application/json" }}, body)
end
function response(status, headers, body)
  if status == 200 then
    local name = body:match('"name":"(soak%-[^"]*)"')
    if name then
      created[#created + 1] = name
      creates = creates + 1
      ok = ok + 1
      return
    end
    if body:find('"status":"OK"', 1, true) then
      deletes = deletes + 1
      ok = ok + 1
      return
    end
  end
  bad = bad + 1
end
{common}"#,
        key = wrk::quote(&churner.api_key),
        common = common(CHURN)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> BenchKey {
        BenchKey {
            id: "id".into(),
            profile_id: "profile".into(),
            api_key: "full\"key".into(),
            client_id: "client".into(),
            client_secret: "secret".into(),
        }
    }

    #[test]
    fn the_scripts_check_each_answer_and_print_one_line() {
        for script in [verify_lua(&key(), &key()), grant_lua(&key()), churn_lua(&key(), 3)] {
            assert!(script.contains("function response(status"), "{script}");
            assert!(script.contains("function delay()"), "{script}");
            assert!(script.contains("SOAK %d"), "{script}");
            assert!(script.contains(r#""full\"key""#) || script.contains("client_id=client"), "{script}");
        }
        assert!(churn_lua(&key(), 3).contains("local window = 3"));
    }

    #[test]
    fn a_result_line_parses() {
        let measured = parse("x\nSOAK 100 10000000 1 97 2 50 47 120 900\n").unwrap();
        assert_eq!((measured.requests, measured.errors(), measured.creates), (100, 3, 50));
        assert_eq!(measured.p99, Duration::from_micros(900));
    }
}

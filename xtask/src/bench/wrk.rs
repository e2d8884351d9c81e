//! Load from wrk (Debian's `wrk`), a separate process on the same machine, driven by a Lua script
//! written for each request so that headers, bodies and unique names are exactly what we ask.

use anyhow::{Context, bail};
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One benchmark request. A `{n}` in the body becomes a number unique within the run, so that
/// each request can create a key of its own name.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl Request {
    pub fn get(path: impl Into<String>) -> Self {
        Self { method: "GET".into(), path: path.into(), headers: Vec::new(), body: None }
    }

    pub fn post(path: impl Into<String>, content_type: &str, body: impl Into<String>) -> Self {
        Self {
            method: "POST".into(),
            path: path.into(),
            headers: vec![("Content-Type".into(), content_type.into())],
            body: Some(body.into()),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// How hard and how long to load.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub threads: u32,
    pub connections: u32,
    pub duration: Duration,
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub requests: u64,
    pub seconds: f64,
    pub p50: Duration,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// Loads `base` with `request` and fails if any answer was not a success: a benchmark of error
/// answers measures nothing.
pub fn run(base: &str, request: &Request, load: Load, scratch: &Path) -> anyhow::Result<Outcome> {
    let stdout = run_script(&format!("{base}{}", request.path), &lua(request), load, scratch)
        .with_context(|| format!("wrk on {} {}", request.method, request.path))?;
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("WRK_RESULT "))
        .with_context(|| format!("wrk printed no result: {stdout}"))?;
    let numbers: Vec<u64> = line.split_whitespace().map(str::parse).collect::<Result<_, _>>()?;
    let [requests, micros, socket_errors, status_errors, p50] = numbers[..] else {
        bail!("unexpected wrk result: {line}");
    };
    if socket_errors + status_errors > 0 || requests == 0 {
        bail!(
            "{} {}: {requests} requests, {status_errors} error answers, {socket_errors} socket errors",
            request.method,
            request.path
        );
    }
    Ok(Outcome { requests, seconds: micros as f64 / 1e6, p50: Duration::from_micros(p50) })
}

/// Runs wrk on `url` with the Lua `script`, at most for `load.duration`; what it printed.
pub fn run_script(url: &str, script: &str, load: Load, scratch: &Path) -> anyhow::Result<String> {
    let output = command(url, script, load, scratch)?.output().context("running wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!("wrk failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(stdout)
}

/// Runs wrk as [`run_script`] does, for a script whose threads each print a line `THREAD_DONE`
/// when they stop of themselves: wrk's main thread would wait out the duration all the same, so it
/// is interrupted then (on SIGINT wrk stops, joins its threads and reports). What it printed, and
/// how long until its last thread was done.
pub fn run_until_done(
    url: &str,
    script: &str,
    load: Load,
    scratch: &Path,
) -> anyhow::Result<(String, Duration)> {
    let started = Instant::now();
    let mut child = command(url, script, load, scratch)?
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running wrk")?;
    let stdout = child.stdout.take().context("wrk's stdout")?;
    let mut printed = String::new();
    let mut done = 0;
    let mut elapsed = None;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if line == "THREAD_DONE" {
            done += 1;
            if done == load.threads {
                elapsed = Some(started.elapsed());
                Command::new("kill").arg("-INT").arg(child.id().to_string()).status()?;
            }
        } else {
            printed.push_str(&line);
            printed.push('\n');
        }
    }
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("wrk failed: {printed}{}", String::from_utf8_lossy(&output.stderr));
    }
    Ok((printed, elapsed.unwrap_or_else(|| started.elapsed())))
}

/// Starts wrk as [`run_script`] does without waiting for it, its script written to `script_file`
/// (so that several can run at once) and what it prints piped.
pub fn spawn(url: &str, script: &str, load: Load, script_file: &Path) -> anyhow::Result<Child> {
    command_with(url, script, load, script_file)?
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running wrk")
}

fn command(url: &str, script: &str, load: Load, scratch: &Path) -> anyhow::Result<Command> {
    command_with(url, script, load, &scratch.join("wrk-request.lua"))
}

fn command_with(url: &str, script: &str, load: Load, path: &Path) -> anyhow::Result<Command> {
    std::fs::write(path, script)?;
    let mut command = Command::new("wrk");
    command
        .arg(format!("-t{}", load.threads))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs().max(1)))
        .arg("--timeout=10s")
        .arg("-s")
        .arg(path)
        .arg(url);
    Ok(command)
}

/// The Lua script that makes wrk send `request` and print one machine-readable line.
fn lua(request: &Request) -> String {
    let mut script = String::new();
    let _ = writeln!(script, "wrk.method = {}", quote(&request.method));
    for (name, value) in &request.headers {
        let _ = writeln!(script, "wrk.headers[{}] = {}", quote(name), quote(value));
    }
    match &request.body {
        Some(body) if body.contains("{n}") => {
            let _ = writeln!(script, "local template = {}", quote(body));
            script.push_str(
                "local threads = 0\n\
                 function setup(thread) threads = threads + 1; thread:set(\"tid\", threads) end\n\
                 local counter = 0\n\
                 function request()\n\
                 \x20 counter = counter + 1\n\
                 \x20 local n = tostring(tid) .. \"-\" .. tostring(counter)\n\
                 \x20 return wrk.format(nil, nil, nil, (template:gsub(\"{n}\", n)))\n\
                 end\n",
            );
        }
        Some(body) => {
            let _ = writeln!(script, "wrk.body = {}", quote(body));
        }
        None => {}
    }
    script.push_str(
        "function done(summary, latency, requests)\n\
         \x20 local e = summary.errors\n\
         \x20 io.write(string.format(\"WRK_RESULT %d %d %d %d %d\\n\", summary.requests, summary.duration,\n\
         \x20   e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(50)))\n\
         end\n",
    );
    script
}

/// A Lua string literal of `text`.
pub fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_quote_what_they_send() {
        let request = Request::post("/x", "application/json", r#"{"name":"k-{n}"}"#).header("A", "b\"c");
        let script = lua(&request);
        assert!(script.contains(r#"wrk.headers["A"] = "b\"c""#), "{script}");
        assert!(script.contains(r#"local template = "{\"name\":\"k-{n}\"}""#), "{script}");
        assert!(script.contains("function request()"));
    }
}

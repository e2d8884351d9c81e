//! The flood of issue 13: made-up, well-formed client credentials, each from an address of its
//! own, at the token endpoint. Every one costs the server a lookup and a place in three bounded
//! maps (the absent client ids, the attempts per id and address, the failures per address) and
//! no argon2 hash. The figures: the server's peak memory against a bound computed from the
//! maps' capacity, and its CPU per request against that of one hash.
//!
//! The server trusts loopback as its proxy, so that each request names its client in
//! `X-Forwarded-For`: an IPv6 address in a /64 of its own, which the throttle cannot lump
//! together. Its throttle is at the default quotas, and its caches hold a hundredth of the flood,
//! so that each map is filled and emptied a hundred times over.

use super::server::Server;
use super::wrk::{self, Load};
use super::{Figure, Target, seed};
use anyhow::{Context, bail};
use std::path::Path;
use std::time::Duration;

/// The memory the server may use besides its bounded maps: the whole-run target of the table.
const BASE_MIB: f64 = 64.0;
/// The maps a made-up id from a fresh address takes a place in.
const MAPS: u64 = 3;
/// What one entry of one map may cost, key, value and moka's bookkeeping together.
const BYTES_PER_ENTRY: u64 = 1024;
/// The most the flood's last nine tenths may add to the peak: once every map is full, nothing
/// should grow with the flood.
const LATE_GROWTH_MIB: f64 = 4.0;
/// The most server CPU a made-up id may cost, as a share of one argon2id hash at the default
/// parameters (which are light: a hash per made-up id would show as 1 or more).
const CPU_SHARE_OF_A_HASH: f64 = 0.25;

/// How big a flood, and what it is compared with.
pub struct Flood<'a> {
    pub binary: &'a Path,
    pub database_url: &'a str,
    pub keys: u64,
    /// Filler keys to store first, when the store is not filled yet.
    pub fill_store: Option<u64>,
    /// The longest the flood may take; a shorter flood fails.
    pub ceiling: Duration,
    /// The CPU time of one argon2id hash at the server's parameters.
    pub cpu_per_hash: Duration,
    pub scratch: &'a Path,
}

impl Flood<'_> {
    pub async fn measure(&self) -> anyhow::Result<Vec<Figure>> {
        let capacity = (self.keys / 100).max(100);
        let capacity_setting = capacity.to_string();
        let log = self.scratch.join("flood-server.log");
        if let Some(keys) = self.fill_store {
            // A server makes the schema; the keys are written with none running, since a long
            // write would hold up its start.
            drop(Server::start(self.binary, self.database_url, &log)?);
            eprintln!("bench: filling the store to {keys} keys for the flood");
            seed::filler(self.database_url, "bench-flood-", 1000, 1, keys).await?;
        }
        let server = Server::start_with(
            self.binary,
            self.database_url,
            &log,
            &[
                ("KEYWARD_TRUSTED_PROXIES", "127.0.0.1/32"),
                ("KEYWARD_CACHE_CAPACITY", &capacity_setting),
                // The default quotas: one failure per address is far within them.
                ("KEYWARD_THROTTLE_PER_KEY", "10"),
                ("KEYWARD_THROTTLE_PER_ADDRESS", "120"),
            ],
        )?;
        let before = server.peak_rss_bytes()?;
        let cpu_before = server.cpu_time()?;
        // A tenth first, which fills every map ten times over, then the rest: the memory the
        // rest adds is what grows with the flood rather than with the capacity.
        let first = self.keys / 10;
        let (first_sent, first_time) = self.leg(&server, 0, first)?;
        let after_first = server.peak_rss_bytes()?;
        let (rest_sent, rest_time) = self.leg(&server, first, self.keys - first)?;
        let cpu = server.cpu_time()?.saturating_sub(cpu_before);
        let peak = server.peak_rss_bytes()?;
        drop(server);

        let sent = first_sent + rest_sent;
        let rate = sent as f64 / (first_time + rest_time).as_secs_f64();
        let cpu_per_request = cpu.as_secs_f64() / sent as f64;
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        let bound = (BASE_MIB + mib(MAPS * capacity * BYTES_PER_ENTRY)).ceil();
        eprintln!(
            "bench: flood of {sent} made-up keys: {rate:.0}/s, {:.1} µs server CPU each; server's \
             peak RSS {:.1} MiB ({:.1} MiB before, {:.1} MiB after the first {first})",
            cpu_per_request * 1e6,
            mib(peak),
            mib(before),
            mib(after_first)
        );
        Ok(vec![
            Figure {
                name: "peak RSS under a flood of made-up keys, each from its own /64",
                value: mib(peak),
                unit: "MiB",
                target: Target::AtMost(bound),
                detail: format!(
                    "{sent} keys, caches of {capacity}: {BASE_MIB} MiB + {MAPS} maps × {capacity} × \
                     {BYTES_PER_ENTRY} B; {:.1} MiB before, {:.1} after the first {first}",
                    mib(before),
                    mib(after_first)
                ),
            },
            Figure {
                name: "peak RSS added by the flood's last nine tenths",
                value: mib(peak.saturating_sub(after_first)),
                unit: "MiB",
                target: Target::AtMost(LATE_GROWTH_MIB),
                detail: format!("{} keys after {first}", self.keys - first),
            },
            Figure {
                name: "server CPU per made-up key / per argon2id hash",
                value: cpu_per_request / self.cpu_per_hash.as_secs_f64(),
                unit: "×",
                target: Target::AtMost(CPU_SHARE_OF_A_HASH),
                detail: format!(
                    "{:.0} µs vs {:.1} ms, {rate:.0} 401s/s",
                    cpu_per_request * 1e6,
                    self.cpu_per_hash.as_secs_f64() * 1e3
                ),
            },
        ])
    }

    /// Sends `count` made-up keys, from the addresses numbered after `offset`; how many were
    /// answered 401 and in how long. Any other answer fails the run.
    fn leg(&self, server: &Server, offset: u64, count: u64) -> anyhow::Result<(u64, Duration)> {
        let threads = 2;
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_micros() % (1 << 40);
        let (stdout, elapsed) = wrk::run_until_done(
            &format!("{}/oauth/token", server.base),
            &lua(count.div_ceil(threads), offset.div_ceil(threads), seed),
            Load { threads: u32::try_from(threads)?, connections: 64, duration: self.ceiling },
            self.scratch,
        )
        .context("wrk on the flood")?;
        let line = stdout
            .lines()
            .find_map(|line| line.strip_prefix("WRK_FLOOD "))
            .with_context(|| format!("wrk printed no result: {stdout}"))?;
        let numbers: Vec<u64> = line.split_whitespace().map(str::parse).collect::<Result<_, _>>()?;
        let [socket_errors, unauthorized, other] = numbers[..] else {
            bail!("unexpected wrk result: {line}");
        };
        // A figure taken from throttled or refused requests says nothing of the made-up ids.
        if socket_errors + other > 0 || unauthorized < count {
            bail!(
                "the flood: {unauthorized} of {count} answered 401 in {elapsed:?}, {other} other \
                 answers, {socket_errors} socket errors"
            );
        }
        Ok((unauthorized, elapsed))
    }
}

/// The Lua script: each of wrk's threads sends `per_thread` grants of a random client id and
/// secret (from a generator seeded with `seed` and the thread's number), each from an address in
/// a /64 of its own (numbered from `offset` on), counts the 401s and the other answers, and
/// stops; the main thread prints the totals.
fn lua(per_thread: u64, offset: u64, seed: u128) -> String {
    let alphabet = String::from_utf8_lossy(keyward_server::secrets::BASE62).into_owned();
    format!(
        r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local alphabet = {alphabet}
local characters = {{}}
for i = 1, #alphabet do characters[i] = alphabet:sub(i, i) end
local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
local limit = {per_thread}
local sent = {offset}
unauthorized = 0
other = 0
function init(args)
  math.randomseed({seed} + tid)
end
local function random(length)
  local out = {{}}
  for i = 1, length do out[i] = characters[math.random(#characters)] end
  return table.concat(out)
end
function request()
  sent = sent + 1
  wrk.headers["X-Forwarded-For"] =
    string.format("2001:db8:%x:%x::1", tid * 4096 + math.floor(sent / 65536), sent % 65536)
  return wrk.format(nil, nil, nil,
    "grant_type=client_credentials&client_id=" .. random({client_id}) .. "&client_secret=" .. random({secret}))
end
function response(status, headers, body)
  if status == 401 then unauthorized = unauthorized + 1 else other = other + 1 end
  if unauthorized + other == limit then
    io.write("THREAD_DONE\n")
    io.flush()
    wrk.thread:stop()
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  local yes, no = 0, 0
  for _, thread in ipairs(threads) do
    yes = yes + thread:get("unauthorized")
    no = no + thread:get("other")
  end
  io.write(string.format("WRK_FLOOD %d %d %d\n",
    e.connect + e.read + e.write + e.timeout, yes, no))
end
"#,
        alphabet = wrk::quote(&alphabet),
        client_id = keyward_server::secrets::CLIENT_ID_LEN,
        secret = keyward_server::secrets::SECRET_LEN,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_sends_well_formed_credentials_and_counts_answers() {
        let script = lua(500, 0, 7);
        assert!(script.contains("local limit = 500"), "{script}");
        assert!(script.contains("random(32)") && script.contains("random(44)"), "{script}");
        assert!(script.contains("function response(status"), "{script}");
        assert!(script.contains(r#"local alphabet = "0123456789"#), "{script}");
    }
}

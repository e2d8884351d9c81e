//! `cargo xtask fuzz`: the fuzz targets of `fuzz/` under libFuzzer, each for a while. The property
//! tests cover the same ground on every `cargo test`; this is the longer, coverage-guided run.
//!
//! It needs a nightly toolchain (libFuzzer's instrumentation is nightly-only) and installs
//! `cargo-fuzz` when it is missing; without nightly it fails, naming it.

use crate::test::run_checked;
use anyhow::bail;
use std::process::Command;

/// The targets, as `fuzz/fuzz_targets/` names them.
const TARGETS: &[&str] = &["key_format", "authorization", "bodies", "tokens"];

#[derive(Debug, clap::Args)]
pub struct Options {
    /// How long to fuzz each target, in seconds.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
    /// Only this target (one of key_format, authorization, bodies, tokens).
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(TARGETS))]
    target: Option<String>,
}

pub fn run(options: &Options) -> anyhow::Result<()> {
    let nightly = Command::new("cargo").args(["+nightly", "--version"]).output();
    if !nightly.is_ok_and(|out| out.status.success()) {
        bail!("fuzzing needs a nightly toolchain: rustup toolchain install nightly");
    }
    let installed = Command::new("cargo").args(["+nightly", "fuzz", "--version"]).output();
    if !installed.is_ok_and(|out| out.status.success()) {
        run_checked(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    let dir = crate::root().join("fuzz");
    let targets: Vec<&str> = match &options.target {
        Some(target) => vec![target.as_str()],
        None => TARGETS.to_vec(),
    };
    for target in targets {
        eprintln!("xtask fuzz: {target} for {} s", options.seconds);
        run_checked(
            Command::new("cargo")
                .current_dir(&dir)
                .args(["+nightly", "fuzz", "run", target, "--"])
                .arg(format!("-max_total_time={}", options.seconds))
                .arg("-max_len=4096"),
        )?;
    }
    Ok(())
}

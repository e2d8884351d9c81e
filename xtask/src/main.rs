//! `cargo xtask <task>`: Keyward's development tasks. `openapi` and `codegen` write generated
//! files that are committed, and with `--check` fail when the committed files are stale; `test`
//! runs every test with the tools it needs.

mod bench;
mod codegen;
mod fuzz;
mod openapi;
mod test;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Keyward's development tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Write the OpenAPI documents from the code: `openapi/keyward.json` (3.1),
    /// `openapi/keyward-3.0.json` and `openapi/keyward-client.json` (for generating clients).
    Openapi {
        /// Fail if the committed documents differ from the code instead of writing them.
        #[arg(long)]
        check: bool,
    },
    /// Generate the client's request code (`crates/client/src/generated.rs`) from
    /// `openapi/keyward-3.0.json`.
    Codegen {
        /// Fail if the committed code differs from what the document generates.
        #[arg(long)]
        check: bool,
    },
    /// Run every test of the workspace, providing the tools some need (curl, Python's requests
    /// and openapi-spec-validator, Chromium, the OpenAPI linters and client generators) and
    /// running those that plain `cargo test` ignores.
    Test {
        /// Passed on to `cargo test` (before `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_args: Vec<String>,
    },
    /// Load the release server and print the figures of BENCHMARKS.md against their targets.
    Bench(bench::Options),
    /// Fuzz the decoders with libFuzzer (needs a nightly toolchain; installs cargo-fuzz).
    Fuzz(fuzz::Options),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Openapi { check } => update(&openapi::generate(), check, "openapi"),
        Task::Codegen { check } => codegen::generate().and_then(|files| update(&files, check, "codegen")),
        Task::Test { cargo_args } => test::run(&cargo_args),
        Task::Bench(options) => bench::run(&options),
        Task::Fuzz(options) => fuzz::run(&options),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_owned()
}

/// Writes each generated file, or with `check` compares it with what is committed.
pub fn update(files: &[(PathBuf, String)], check: bool, task: &str) -> anyhow::Result<()> {
    for (path, contents) in files {
        let relative = path.strip_prefix(root()).unwrap_or(path).display();
        if check {
            let committed = std::fs::read_to_string(path).unwrap_or_default();
            if committed != *contents {
                anyhow::bail!("`{relative}` was not up to date, run `cargo xtask {task}`");
            }
        } else {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, contents)?;
            eprintln!("wrote {relative}");
        }
    }
    Ok(())
}

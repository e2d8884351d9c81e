//! The container image and the deployment files, held to their formats' linters: hadolint for the
//! Dockerfile, the Compose Specification's schema for `deploy/compose.yaml` and GitHub's workflow
//! schema for `.github/workflows/ci.yml`. Each linter is first shown a broken file and must flag
//! it, so that a linter that does not really run cannot pass. `cargo xtask test` installs both.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the workspace").to_owned()
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative))
        .unwrap_or_else(|error| panic!("reading {relative}: {error}"))
}

/// Where `program` is on PATH. A missing tool fails the test, naming it: it is never a skip.
fn installed(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{program} is not installed: run cargo xtask test, which installs it"))
}

/// Whether the linter passed `command`'s file, and everything it said.
fn lint(command: &mut Command) -> (bool, String) {
    let output = command.output().unwrap_or_else(|error| panic!("running {command:?}: {error}"));
    let said =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), said)
}

/// hadolint's findings on `dockerfile`, with the rules as shipped: no user's or directory's
/// configuration, no `HADOLINT_*` variable, only the file's own `# hadolint ignore=` pragmas.
fn hadolint(dockerfile: &Path) -> (bool, String) {
    let home = tempfile::tempdir().expect("a temporary directory");
    lint(
        Command::new(installed("hadolint"))
            .args(["--no-color", "--format", "tty"])
            .arg(dockerfile)
            .env_clear()
            .env("HOME", home.path())
            .current_dir(home.path()),
    )
}

/// check-jsonschema's verdict on `file` against one of the schemas it ships (offline).
fn check_jsonschema(schema: &str, file: &Path) -> (bool, String) {
    lint(Command::new(installed("check-jsonschema")).args(["--builtin-schema", schema]).arg(file))
}

#[test]
#[ignore = "needs hadolint: run cargo xtask test"]
fn the_dockerfile_passes_hadolint() {
    // What the image avoids: a moving tag, unlisted recommends, root, a shell-form command.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let broken = dir.path().join("Dockerfile");
    std::fs::write(
        &broken,
        "FROM debian:latest\nRUN apt-get update && apt-get install -y curl\nUSER root\nCMD keyward-server serve\n",
    )
    .expect("writing a Dockerfile");
    let (passed, findings) = hadolint(&broken);
    assert!(!passed, "hadolint passed a broken Dockerfile:\n{findings}");
    for rule in ["DL3007", "DL3015", "DL3002", "DL3025"] {
        assert!(findings.contains(rule), "hadolint did not report {rule}:\n{findings}");
    }

    let (passed, findings) = hadolint(&root().join("Dockerfile"));
    assert!(passed && findings.trim().is_empty(), "hadolint on the Dockerfile:\n{findings}");
}

#[test]
#[ignore = "needs check-jsonschema: run cargo xtask test"]
fn the_compose_example_and_the_ci_workflow_follow_their_schemas() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let broken_compose = dir.path().join("compose.yaml");
    std::fs::write(
        &broken_compose,
        "services:\n  keyward:\n    image: keyward-server\n    depends_on:\n      postgres:\n        \
         condition: service_ready\n  postgres:\n    image: postgres:17\n",
    )
    .expect("writing a compose file");
    let (passed, said) = check_jsonschema("vendor.compose-spec", &broken_compose);
    assert!(!passed && said.contains("service_ready"), "a misspelt condition was not flagged:\n{said}");
    let broken_workflow = dir.path().join("ci.yml");
    std::fs::write(
        &broken_workflow,
        "on: push\njobs:\n  ci:\n    runs-on: ubuntu-latest\n    service:\n      postgres:\n        \
         image: postgres:17\n    steps:\n      - run: cargo test\n",
    )
    .expect("writing a workflow");
    let (passed, said) = check_jsonschema("vendor.github-workflows", &broken_workflow);
    assert!(!passed, "a misspelt `services` was not flagged:\n{said}");

    let (passed, said) = check_jsonschema("vendor.compose-spec", &root().join("deploy/compose.yaml"));
    assert!(passed, "deploy/compose.yaml:\n{said}");
    let (passed, said) =
        check_jsonschema("vendor.github-workflows", &root().join(".github/workflows/ci.yml"));
    assert!(passed, ".github/workflows/ci.yml:\n{said}");
}

/// The image's binary is the one CI builds and tests, not one built another way.
#[test]
fn the_image_is_built_by_the_release_build_that_ci_runs() {
    let dockerfile = read("Dockerfile");
    let build = dockerfile
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("cargo build"))
        .expect("a cargo build in the Dockerfile")
        .trim_end_matches('\\')
        .trim();
    assert!(build.contains(" --release") && build.contains(" --locked"), "{build}");
    let ci = read(".ci/run");
    assert!(
        ci.lines().any(|line| line.trim() == build),
        ".ci/run does not run the Dockerfile's build, `{build}`"
    );
}

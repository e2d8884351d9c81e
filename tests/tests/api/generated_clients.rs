//! Clients generated in other languages from `openapi/keyward-client.json` call every operation
//! of that document on a live server: Python's by openapi-python-client, TypeScript's by
//! @hey-api/openapi-ts. The scripts in `tests/clients/` check each answer's status and fields and
//! print `called <operationId>` for each; every operation of the document must be among them.

use keyward_tests::TestServer;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use tokio::process::Command;

/// A profile id with a character that clients must percent-encode in a path.
const PROFILE: &str = "auth0|5eb0327cbfd7490bff55feeb";

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

#[tokio::test]
#[ignore = "needs openapi-python-client (PyPI): run cargo xtask test"]
async fn a_generated_python_client_calls_every_operation() {
    let dir = tempfile::tempdir().expect("temporary directory");
    generate_python_client("openapi/keyward-client.json", dir.path()).await;
    let (server, env) = live().await;
    let output = Command::new("python3")
        .arg(repo_file("tests/clients/python/call_every_operation.py"))
        .env("PYTHONPATH", dir.path())
        .envs(env)
        .output()
        .await
        .expect("python3 on PATH: run cargo xtask test");
    every_operation_was_called(&output, "Python");
    drop(server);
}

#[tokio::test]
#[ignore = "needs @hey-api/openapi-ts, typescript and tsx (npm): run cargo xtask test"]
async fn a_generated_typescript_client_calls_every_operation() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for file in ["call_every_operation.ts", "tsconfig.json", "package.json"] {
        std::fs::copy(repo_file("tests/clients/typescript").join(file), dir.path().join(file))
            .expect("copying the script");
    }
    let generated = Command::new("openapi-ts")
        .arg("--input")
        .arg(repo_file("openapi/keyward-client.json"))
        .arg("--output")
        .arg(dir.path().join("generated"))
        .args(["--client", "@hey-api/client-fetch", "--no-log-file", "--silent"])
        .output()
        .await
        .expect("@hey-api/openapi-ts's `openapi-ts` on PATH: run cargo xtask test");
    succeeded(&generated, "openapi-ts");
    // The generated client and the script that uses it agree on every type.
    let checked = Command::new("tsc")
        .arg("--project")
        .arg(dir.path())
        .output()
        .await
        .expect("TypeScript's `tsc` on PATH: run cargo xtask test");
    succeeded(&checked, "tsc");

    let (server, env) = live().await;
    let output = Command::new("tsx")
        .arg("call_every_operation.ts")
        .current_dir(dir.path())
        .envs(env)
        .output()
        .await
        .expect("`tsx` on PATH: run cargo xtask test");
    every_operation_was_called(&output, "TypeScript");
    drop(server);
}

/// Why the client document exists: from the full document, whose four bodies are JSON or a
/// form, openapi-python-client makes modules that cannot be imported.
#[tokio::test]
#[ignore = "needs openapi-python-client (PyPI): run cargo xtask test"]
async fn the_full_document_makes_python_modules_that_fail_to_import() {
    let dir = tempfile::tempdir().expect("temporary directory");
    generate_python_client("openapi/keyward.json", dir.path()).await;
    let two_media_types = ["apikeys.put_api_key", "keys.create_key", "keys.verify_key", "oauth.get_token"];
    for module in two_media_types {
        let output = Command::new("python3")
            .args(["-c", &format!("import keyward_client.api.{module}")])
            .env("PYTHONPATH", dir.path())
            .output()
            .await
            .expect("python3 on PATH: run cargo xtask test");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains("NameError: name 'Unset' is not defined"),
            "{module} imported, or failed otherwise: if openapi-python-client takes bodies of two \
             media types now, its clients could be generated from keyward.json: {stderr}"
        );
    }
    // The same generator makes modules that import for every other operation of that document.
    let output = Command::new("python3")
        .args(["-c", "import keyward_client.api.apikeys.list_api_keys, keyward_client.api.keys.list_keys"])
        .env("PYTHONPATH", dir.path())
        .output()
        .await
        .expect("python3 on PATH: run cargo xtask test");
    succeeded(&output, "importing the other operations");
}

/// Generates the Python client of `document` as the package `keyward_client` in `dir`.
async fn generate_python_client(document: &str, dir: &Path) {
    let output = Command::new("openapi-python-client")
        .arg("generate")
        .arg("--path")
        .arg(repo_file(document))
        .arg("--output-path")
        .arg(dir.join("keyward_client"))
        .args(["--meta", "none"])
        .current_dir(dir)
        .output()
        .await
        .expect("`openapi-python-client` on PATH: run cargo xtask test");
    succeeded(&output, "openapi-python-client");
    // It says what it could not generate, and still succeeds.
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(!said.contains("Warning"), "openapi-python-client left something out of {document}: {said}");
}

/// A server, and the environment that tells a script where it is and which key to use: one of
/// `PROFILE`'s, holding every scope.
async fn live() -> (TestServer, Vec<(&'static str, String)>) {
    let server = TestServer::start().await;
    let key = server.mint(PROFILE, "generated clients").await;
    let env = vec![
        ("KEYWARD_URL", server.base.clone()),
        ("KEYWARD_PROFILE_ID", PROFILE.to_owned()),
        ("KEYWARD_CLIENT_ID", key.client_id),
        ("KEYWARD_CLIENT_SECRET", key.secret),
        ("KEYWARD_API_KEY", key.api_key),
    ];
    (server, env)
}

fn succeeded(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The script succeeded and called every operation of the client document.
fn every_operation_was_called(output: &Output, language: &str) {
    succeeded(output, &format!("the {language} client's calls"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let called: BTreeSet<&str> = stdout.lines().filter_map(|line| line.strip_prefix("called ")).collect();
    let text =
        std::fs::read_to_string(repo_file("openapi/keyward-client.json")).expect("the client document");
    let document: Value = serde_json::from_str(&text).expect("JSON");
    let operations: BTreeSet<&str> = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().expect("a path item").values())
        .map(|operation| operation["operationId"].as_str().expect("an operationId"))
        .collect();
    assert!(!operations.is_empty(), "the client document has no operations");
    let missed: Vec<_> = operations.difference(&called).collect();
    assert!(missed.is_empty(), "the {language} client did not call {missed:?}:\n{stdout}");
}

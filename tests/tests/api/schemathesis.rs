//! schemathesis against the served document: every operation of both APIs, with generated valid
//! and invalid requests and sequences of them, authenticated by a key holding every scope. Any
//! 5xx, any answer the document does not describe, and any request the document calls valid
//! but the server refuses (or the reverse) is a failure.

use keyward_model::Scope;
use keyward_tests::TestServer;
use std::process::Stdio;

/// Generated cases per operation and phase: enough to reach every parameter's edges, few enough
/// that the whole run takes a minute or two on two cores.
const MAX_EXAMPLES: &str = "300";
/// Fixed, so that a failure is reproduced by running the test again.
const SEED: &str = "20261114";
/// The name of the run's key.
const KEY_NAME: &str = "schemathesis";

/// Where the documented behaviour is not what a check assumes, that check is off for that
/// operation alone, with the document's words.
const CONFIG: &str = r#"
# Every check: `--checks all`, which on the command line would also override the exceptions below.
checks.enabled = true

# The Metlo document: "400 Bad Request. Returned when creating a key with: Duplicate name,
# Missing name, Invalid key type". A valid body whose name is taken is refused with that 400,
# which positive_data_acceptance would have be a 409.
[[operations]]
include-operation-id = "createKey"
checks.positive_data_acceptance.enabled = false

# The Matatika document: initialising "Initialises a new API key" with only a `create apikey`
# link, and `PUT` "Creates the API key {apikey-id}". An initialised key is not viewable until it
# is created, which ensure_resource_availability would have `POST /api/apikeys` make so.
[[operations]]
include-operation-id = "getApiKey"
checks.ensure_resource_availability.enabled = false
"#;

/// Requests the run must not send, as schemathesis hooks; `{ID}` and `{NAME}` name the run's key.
const HOOKS: &str = r#"
import schemathesis

@schemathesis.hook
def filter_case(context, case):
    # The run's own key: deleted, renamed or given fewer scopes, it would leave the rest of the
    # run refused.
    path = case.path_parameters or {}
    if path.get("id") == "{ID}" or path.get("name") == "{NAME}":
        return False
    # The cursor's description says "Not combined with `page`" and "A cursor this API did not
    # return is a 400", which a schema of separate query parameters cannot say: a valid request
    # has an empty cursor, or none, and a generated cursor is tried only as invalid data.
    query = case.query if isinstance(case.query, dict) else {}
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if case.operation.label == "GET /api/apikeys" and positive and "cursor" in query:
        return query["cursor"] == "" and "page" not in query
    return True
"#;

#[tokio::test]
#[ignore = "needs schemathesis: run cargo xtask test"]
async fn schemathesis_finds_no_failure_in_either_api() {
    let server = TestServer::start_with(|settings| {
        // The run creates keys at will; the limit has tests of its own.
        settings.keys.max_keys_per_profile = 100_000;
    })
    .await;
    let key = server.mint("schemathesis", KEY_NAME).await;
    // A key short of a scope would make most requests a documented 403, and the run pass idle.
    assert_eq!(key_scopes(&server, &key.api_key).await, Scope::ALL.len(), "the key holds every scope");
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, CONFIG).expect("writing schemathesis.toml");
    let hooks = dir.path().join("hooks.py");
    let own_key = HOOKS.replace("{ID}", &key.id.to_string()).replace("{NAME}", KEY_NAME);
    std::fs::write(&hooks, own_key).expect("writing the hooks");

    let output = tokio::process::Command::new("st")
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(server.url("/openapi.json"))
        .args(["--url", &server.base])
        .args(["--header", &format!("Authorization: {}", key.api_key)])
        .arg("--continue-on-failure")
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        .args(["--workers", "1", "--request-timeout", "10"])
        .args(["--generation-database", "none", "--no-color"])
        .env("SCHEMATHESIS_HOOKS", &hooks)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("schemathesis's `st` on PATH: run cargo xtask test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "schemathesis failed:\n{}\n{stderr}", failures(&stdout));
    // What was tried, shown with --nocapture.
    println!("{}", stdout.find("SUMMARY").map_or(&*stdout, |start| &stdout[start..]));

    // Every operation ran: a document that schemathesis could not read fails above, and one
    // that it read only in part fails here.
    let operations = served_operations(&server).await;
    assert!(
        stdout.contains(&format!("Selected: {operations}/{operations}"))
            && stdout.contains(&format!("Tested: {operations}\n")),
        "not all {operations} operations were tested:\n{stdout}"
    );
    // The run was authenticated to the end, as the hooks keep its key whole.
    assert_eq!(key_scopes(&server, &key.api_key).await, Scope::ALL.len(), "the run's key was changed");
}

/// The part of schemathesis's report that names each failure, or all of it.
fn failures(stdout: &str) -> &str {
    stdout.find("FAILURES").map_or(stdout, |start| &stdout[start..])
}

/// How many operations `/openapi.json` describes.
async fn served_operations(server: &TestServer) -> usize {
    let document: serde_json::Value =
        server.get("/openapi.json").send().await.expect("the document").json().await.expect("JSON");
    document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| item.as_object().expect("a path item").len())
        .sum()
}

/// How many scopes `key` holds, as the verification of it says.
async fn key_scopes(server: &TestServer, key: &str) -> usize {
    let request = server
        .post("/api/v1/keys/verify")
        .header("Authorization", key)
        .json(&serde_json::json!({ "key": key }));
    let (_, _, body) = server.send(request).await;
    body["scopes"].as_array().expect("scopes").len()
}

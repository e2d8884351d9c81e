//! The published documents by two linters: Redocly CLI's recommended rules and Spectral's
//! `spectral:oas` (configured in `redocly.yaml` and `.spectral.yaml`). An error fails; warnings
//! are printed.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every document `cargo xtask openapi` publishes.
const DOCUMENTS: &[&str] =
    &["openapi/keyward.json", "openapi/keyward-3.0.json", "openapi/keyward-client.json"];

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

#[test]
#[ignore = "needs Redocly CLI and Spectral (npm): run cargo xtask test"]
fn the_documents_pass_redocly_and_spectral_without_an_error() {
    // The linters find what the 3.0 document used to say: `nullable` with no `type` beside it,
    // a `$ref` with siblings, and no servers.
    let dir = tempfile::tempdir().expect("temporary directory");
    let faulty = dir.path().join("faulty.json");
    let link = json!({ "$ref": "#/components/schemas/Link" });
    let document = json!({
        "openapi": "3.0.3",
        "info": { "title": "faulty", "version": "1" },
        "paths": {},
        "components": { "schemas": {
            "Link": { "type": "object" },
            "Links": { "type": "object", "properties": {
                "self": { "allOf": [link], "nullable": true },
                "next": { "$ref": "#/components/schemas/Link", "description": "The next page." },
            } },
        } },
    });
    std::fs::write(&faulty, document.to_string()).expect("writing a document");
    let (errors, _) = lint(&faulty);
    for rule in ["redocly nullable-type-sibling", "redocly no-empty-servers", "spectral no-$ref-siblings"] {
        assert!(errors.iter().any(|error| error.starts_with(rule)), "{rule} was not reported: {errors:#?}");
    }

    for document in DOCUMENTS {
        let (errors, warnings) = lint(&repo_file(document));
        assert!(errors.is_empty(), "{document}: {errors:#?}");
        println!(
            "{document}: {} warnings{}",
            warnings.len(),
            warnings.iter().map(|w| format!("\n  {w}")).collect::<String>()
        );
    }
}

/// The errors and the warnings both linters report on `document`, each as `linter rule at: message`.
fn lint(document: &Path) -> (Vec<String>, Vec<String>) {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());

    let output = Command::new("redocly")
        .arg("lint")
        .arg(document)
        .arg("--config")
        .arg(repo_file("redocly.yaml"))
        .arg("--format=json")
        .args(["--max-problems", "10000"])
        .env("REDOCLY_TELEMETRY", "off")
        .env("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true")
        .output()
        .expect("Redocly CLI's `redocly` on PATH: run cargo xtask test");
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("redocly said no report: {}", String::from_utf8_lossy(&output.stderr)));
    for problem in report["problems"].as_array().expect("redocly's problems") {
        let said = format!(
            "redocly {} at {}: {}",
            problem["ruleId"].as_str().unwrap_or_default(),
            problem.pointer("/location/0/pointer").and_then(Value::as_str).unwrap_or_default(),
            problem["message"].as_str().unwrap_or_default(),
        );
        match problem["severity"].as_str() {
            Some("error") => errors.push(said),
            _ => warnings.push(said),
        }
    }
    assert_eq!(
        output.status.success(),
        report["totals"]["errors"] == 0,
        "redocly's exit status and its count of errors disagree: {report}"
    );

    let dir = tempfile::tempdir().expect("temporary directory");
    let report = dir.path().join("spectral.json");
    let output = Command::new("spectral")
        .arg("lint")
        .arg(document)
        .arg("--ruleset")
        .arg(repo_file(".spectral.yaml"))
        .args(["--format", "json", "--fail-severity", "error", "--output"])
        .arg(&report)
        .output()
        .expect("Spectral's `spectral` on PATH: run cargo xtask test");
    let results: Value = std::fs::read(&report)
        .ok()
        .and_then(|report| serde_json::from_slice(&report).ok())
        .unwrap_or_else(|| {
            panic!(
                "spectral wrote no report ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let mut spectral_errors = 0;
    for result in results.as_array().expect("spectral's results") {
        let path: Vec<String> = result["path"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|part| part.as_str().map_or_else(|| part.to_string(), str::to_owned))
            .collect();
        let said = format!(
            "spectral {} at {}: {}",
            result["code"].as_str().unwrap_or_default(),
            path.join("."),
            result["message"].as_str().unwrap_or_default(),
        );
        // 0 is an error, then warning, information and hint.
        if result["severity"] == 0 {
            spectral_errors += 1;
            errors.push(said);
        } else {
            warnings.push(said);
        }
    }
    assert_eq!(
        output.status.success(),
        spectral_errors == 0,
        "spectral's exit status and its errors disagree: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (errors, warnings)
}

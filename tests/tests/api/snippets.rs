//! The documents' curl and Python `requests` snippets, run as printed with the host and the token
//! substituted. They need `curl` and Python's `requests`; `.ci/run` installs both.

use keyward_tests::TestServer;
use serde_json::Value;
use std::process::Command;

const DOCUMENTED_HOST: &str = "https://app.matatika.com";
const DOCUMENTED_ID: &str = "9904cf92-2202-48c0-a751-a9724e32c98e";
const DOCUMENTED_NAME: &str = "SIT-generated api key (2026-01-11T18:58:35.918500330)";

/// Runs a shell snippet (with `$ACCESS_TOKEN` set to `token`) and returns what it printed.
fn shell(snippet: &str, token: &str) -> String {
    let output = Command::new("sh")
        .arg("-c")
        .arg(snippet)
        .env("ACCESS_TOKEN", token)
        .output()
        .expect("curl snippets need sh and curl on PATH; .ci/run installs curl");
    assert!(output.status.success(), "{snippet} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// Runs a documented curl snippet against `base`, about the key `id`.
fn curl(snippet: &str, base: &str, id: &str, token: &str) -> String {
    shell(&snippet.replace(DOCUMENTED_HOST, base).replace(DOCUMENTED_ID, id), token)
}

/// The HTTP status line and the JSON body of `curl -i` output.
fn curl_response(output: &str) -> (u16, Value) {
    let status: u16 = output.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = output.split("\r\n\r\n").nth(1).unwrap_or_default().trim();
    (status, if body.is_empty() { Value::Null } else { serde_json::from_str(body).unwrap() })
}

/// Runs a Python snippet after `ACCESS_TOKEN = "..."`; returns the status it got and what it printed.
fn python(snippet: &str, base: &str, id: &str, token: &str) -> (u16, String) {
    let program = format!(
        "ACCESS_TOKEN = {token:?}\n{}\nimport sys\nsys.stderr.write(str(response.status_code))\n",
        snippet.replace(DOCUMENTED_HOST, base).replace(DOCUMENTED_ID, id)
    );
    let output = Command::new("python3")
        .arg("-c")
        .arg(&program)
        .output()
        .expect("the Python snippets need python3 on PATH");
    assert!(
        output.status.success(),
        "the Python snippet failed (is `requests` installed? .ci/run installs it): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let status = String::from_utf8_lossy(&output.stderr).trim().parse().unwrap();
    (status, String::from_utf8(output.stdout).unwrap())
}

const CURL_INITIALISE: &str = r#"curl -H "Authorization: Bearer $ACCESS_TOKEN" 'https://app.matatika.com/api/apikeys/' -i -X POST \
-H 'Content-Type: application/json'"#;
const CURL_CREATE: &str = r#"curl -H "Authorization: Bearer $ACCESS_TOKEN" 'https://app.matatika.com/api/apikeys/9904cf92-2202-48c0-a751-a9724e32c98e' -i -X PUT \
-H 'Content-Type: application/json' \
-d '{
"name" : "SIT-generated api key (2026-01-11T18:58:35.918500330)"
}'"#;
const CURL_LIST: &str =
    r#"curl -H "Authorization: Bearer $ACCESS_TOKEN" 'https://app.matatika.com/api/apikeys/' -i -X GET"#;
const CURL_VIEW: &str = r#"curl -H "Authorization: Bearer $ACCESS_TOKEN" 'https://app.matatika.com/api/apikeys/9904cf92-2202-48c0-a751-a9724e32c98e' -i -X GET"#;
const CURL_UPDATE: &str = r#"curl -H "Authorization: Bearer $ACCESS_TOKEN" 'https://app.matatika.com/api/apikeys/9904cf92-2202-48c0-a751-a9724e32c98e' -i -X PUT \
-H 'Content-Type: application/json' \
-d '{
"name" : "SIT-generated api key (2026-01-11T18:58:35.918500330) (updated)"
}'"#;
const CURL_DELETE: &str = r#"curl -H "Authorization: Bearer $ACCESS_TOKEN" 'https://app.matatika.com/api/apikeys/9904cf92-2202-48c0-a751-a9724e32c98e' -i -X DELETE"#;

const PY_INITIALISE: &str = r#"import requests
url = "https://app.matatika.com/api/apikeys/"
headers = {
'Authorization': ACCESS_TOKEN
}
response = requests.request("POST", url, headers=headers)
print(response.text.encode('utf8'))"#;
const PY_CREATE: &str = r#"import requests
url = "https://app.matatika.com/api/apikeys/9904cf92-2202-48c0-a751-a9724e32c98e"
data = {
"name" : "SIT-generated api key (2026-01-11T18:58:35.918500330)"
}
headers = {
'Authorization': ACCESS_TOKEN
}
response = requests.request("PUT", url, headers=headers, data=data)
print(response.text.encode('utf8'))"#;
const PY_LIST: &str = r#"import requests
url = "https://app.matatika.com/api/apikeys/"
headers = {
'Authorization': ACCESS_TOKEN
}
response = requests.request("GET", url, headers=headers)
print(response.text.encode('utf8'))"#;
const PY_VIEW: &str = r#"import requests
url = "https://app.matatika.com/api/apikeys/9904cf92-2202-48c0-a751-a9724e32c98e"
headers = {
'Authorization': ACCESS_TOKEN
}
response = requests.request("GET", url, headers=headers)
print(response.text.encode('utf8'))"#;
const PY_UPDATE: &str = r#"import requests
url = "https://app.matatika.com/api/apikeys/9904cf92-2202-48c0-a751-a9724e32c98e"
data = {
"name" : "SIT-generated api key (2026-01-11T18:58:35.918500330) (updated)"
}
headers = {
'Authorization': ACCESS_TOKEN
}
response = requests.request("PUT", url, headers=headers, data=data)
print(response.text.encode('utf8'))"#;
const PY_DELETE: &str = r#"import requests
url = "https://app.matatika.com/api/apikeys/9904cf92-2202-48c0-a751-a9724e32c98e"
headers = {
'Authorization': ACCESS_TOKEN
}
response = requests.request("DELETE", url, headers=headers)
print(response.text.encode('utf8'))"#;

#[tokio::test]
#[ignore = "needs curl: run cargo xtask test"]
async fn the_documented_curl_snippets_work_as_printed() {
    let server = TestServer::start().await;
    let (_, token) = server.login("auth0|5eb0327cbfd7490bff55feeb").await;
    let base = server.base.clone();
    let run = |snippet: &'static str, id: String| {
        let (base, token) = (base.clone(), token.clone());
        async move {
            tokio::task::spawn_blocking(move || curl_response(&curl(snippet, &base, &id, &token)))
                .await
                .unwrap()
        }
    };

    let (status, initialised) = run(CURL_INITIALISE, String::new()).await;
    assert_eq!(status, 200, "{initialised}");
    let id = initialised["id"].as_str().unwrap().to_owned();
    let (status, created) = run(CURL_CREATE, id.clone()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["name"], DOCUMENTED_NAME);
    assert!(created["clientSecret"].is_string());
    let (status, list) = run(CURL_LIST, String::new()).await;
    assert_eq!(status, 200);
    assert_eq!(list["page"]["totalElements"], 2);
    let (status, viewed) = run(CURL_VIEW, id.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(viewed["id"], id.as_str());
    let (status, updated) = run(CURL_UPDATE, id.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(updated["name"], format!("{DOCUMENTED_NAME} (updated)"));
    let (status, body) = run(CURL_DELETE, id.clone()).await;
    assert_eq!((status, body), (204, Value::Null));
}

#[tokio::test]
#[ignore = "needs Python's requests: run cargo xtask test"]
async fn the_documented_python_snippets_work_as_printed() {
    let server = TestServer::start().await;
    let (_, token) = server.login("auth0|5eb0327cbfd7490bff55feeb").await;
    let base = server.base.clone();
    let run = |snippet: &'static str, id: String| {
        let (base, token) = (base.clone(), token.clone());
        async move { tokio::task::spawn_blocking(move || python(snippet, &base, &id, &token)).await.unwrap() }
    };

    let (status, printed) = run(PY_INITIALISE, String::new()).await;
    assert_eq!(status, 200, "{printed}");
    // The snippet prints `b'{...}'`: the id is the first UUID in it.
    let id = printed.split('"').skip_while(|part| *part != "id").nth(2).unwrap().to_owned();
    uuid::Uuid::parse_str(&id).expect("the initialised id");

    let (status, printed) = run(PY_CREATE, id.clone()).await;
    assert_eq!(status, 201, "{printed}");
    assert!(printed.contains("clientSecret"));
    let (status, _) = run(PY_LIST, String::new()).await;
    assert_eq!(status, 200);
    let (status, printed) = run(PY_VIEW, id.clone()).await;
    assert_eq!(status, 200);
    assert!(printed.contains(DOCUMENTED_NAME));
    let (status, printed) = run(PY_UPDATE, id.clone()).await;
    assert_eq!(status, 200, "{printed}");
    assert!(printed.contains("(updated)"));
    let (status, printed) = run(PY_DELETE, id.clone()).await;
    assert_eq!(status, 204);
    assert_eq!(printed.trim(), "b''");
}

const METLO_HOST: &str = "https://<your-metlo-instance>";
const METLO_KEY: &str = "metlo_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

const METLO_CREATE: &str = r#"curl -X POST 'https://<your-metlo-instance>/api/v1/keys/create' \
  -H 'Content-Type: application/json' \
  -d '{
    "name": "my-api-key",
    "keyFor": "GENERIC"
  }'"#;
const METLO_LIST: &str = r#"curl 'https://<your-metlo-instance>/api/v1/keys/list' \
  -H 'Authorization: metlo_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'"#;
const METLO_ONBOARDING: &str = r#"curl 'https://<your-metlo-instance>/api/v1/keys/onboarding' \
  -H 'Authorization: metlo_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'"#;
const METLO_DELETE: &str = r#"curl -X DELETE 'https://<your-metlo-instance>/api/v1/keys/my-api-key/delete' \
  -H 'Authorization: metlo_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'"#;

/// Runs a Metlo snippet with the host and the key substituted; returns the body as JSON.
fn metlo(snippet: &str, base: &str, key: &str) -> Value {
    let printed = shell(&snippet.replace(METLO_HOST, base).replace(METLO_KEY, key), "");
    serde_json::from_str(&printed).unwrap_or_else(|_| panic!("{snippet}: {printed}"))
}

#[tokio::test]
#[ignore = "needs curl: run cargo xtask test"]
async fn the_documented_key_api_snippets_work_as_printed() {
    let server = TestServer::start().await;
    let admin = server.mint_typed("p", "onboarding-key", keyward_model::KeyType::Onboarding).await;
    let (base, key) = (server.base.clone(), admin.api_key.clone());
    let run = |snippet: String| {
        let (base, key) = (base.clone(), key.clone());
        async move { tokio::task::spawn_blocking(move || metlo(&snippet, &base, &key)).await.unwrap() }
    };

    // The create snippet as printed sends no key: Keyward creates keys for no anonymous caller.
    assert_eq!(run(METLO_CREATE.to_owned()).await, Value::from("Client unauthorized"));
    // With the header every other snippet sends, it creates the key.
    let with_key = METLO_CREATE
        .replace("-H 'Content-Type", &format!("-H 'Authorization: {METLO_KEY}' \\\n  -H 'Content-Type"));
    let created = run(with_key).await;
    assert_eq!(created["name"], "my-api-key");
    assert!(created["apiKey"].as_str().unwrap().starts_with("keyward_"));

    let list = run(METLO_LIST.to_owned()).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let onboarding = run(METLO_ONBOARDING.to_owned()).await;
    assert_eq!(onboarding[0]["name"], "onboarding-key");
    assert_eq!(run(METLO_DELETE.to_owned()).await, serde_json::json!({ "status": "OK" }));
    assert_eq!(run(METLO_LIST.to_owned()).await.as_array().unwrap().len(), 1);
}

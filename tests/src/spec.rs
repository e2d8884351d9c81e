//! The committed OpenAPI document, and checks of JSON against its schemas.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// `openapi/keyward.json`, as committed (a test keeps it equal to the code).
pub const DOCUMENT: &str = include_str!("../../openapi/keyward.json");

pub struct Spec {
    pub document: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| Spec {
        document: serde_json::from_str(DOCUMENT).expect("the committed document is JSON"),
        validators: Mutex::new(HashMap::new()),
    })
}

impl Spec {
    /// The path template and operation that serve `method` on `path` (a request path, as sent).
    pub fn operation(&self, method: &str, path: &str) -> Option<(String, &Value)> {
        let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
        let segments: Vec<&str> = path.split('/').collect();
        let paths = self.document["paths"].as_object()?;
        paths.iter().find_map(|(template, item)| {
            let pattern: Vec<&str> = template.split('/').collect();
            let matches = pattern.len() == segments.len()
                && pattern
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| (p.starts_with('{') && p.ends_with('}') && !s.is_empty()) || p == s);
            let operation = item.get(method.to_ascii_lowercase())?;
            matches.then(|| (template.clone(), operation))
        })
    }

    /// Checks a response against the spec: its status must be documented for the operation and
    /// its body must match that status's schema. A request that no operation serves (an unknown
    /// route or method) must answer with the API's error body.
    pub fn check_response(&self, method: &str, path: &str, status: u16, body: &[u8]) -> Result<(), String> {
        let Some((template, operation)) = self.operation(method, path) else {
            if status != 404 && status != 405 {
                return Err(format!("{method} {path} is not in the spec, yet answered {status}"));
            }
            // Each dialect's error body: a message string under the key API, Spring's elsewhere.
            let schema = if path.starts_with("/api/v1/") { "KeyApiError" } else { "ErrorBody" };
            let schema = serde_json::json!({ "$ref": format!("#/components/schemas/{schema}") });
            return self.check(&schema, &parse(body)?);
        };
        let response = operation["responses"].get(status.to_string()).ok_or_else(|| {
            format!("{method} {template} answered {status}, which the spec does not document")
        })?;
        match response.get("content").and_then(Value::as_object) {
            None => {
                if body.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{method} {template} {status} has a body the spec does not describe"))
                }
            }
            Some(content) => {
                let media = content
                    .get("application/json")
                    .ok_or_else(|| format!("{method} {template} {status} is not documented as JSON"))?;
                self.check(&media["schema"], &parse(body)?)
                    .map_err(|error| format!("{method} {template} {status}: {error}"))
            }
        }
    }

    /// Validates `instance` against `schema`, whose `$ref`s point into the document.
    pub fn check(&self, schema: &Value, instance: &Value) -> Result<(), String> {
        let key = schema.to_string();
        let validator = {
            let mut validators = self.validators.lock().expect("validators");
            match validators.get(&key) {
                Some(validator) => validator.clone(),
                None => {
                    // The schema becomes the root of a document that also holds the components,
                    // so that `#/components/schemas/...` resolves.
                    let mut root = schema.clone();
                    root["components"] = self.document["components"].clone();
                    let validator = Arc::new(
                        jsonschema::draft202012::options()
                            .should_validate_formats(true)
                            .build(&root)
                            .map_err(|error| format!("invalid schema {schema}: {error}"))?,
                    );
                    validators.insert(key, validator.clone());
                    validator
                }
            }
        };
        let errors: Vec<String> = validator.iter_errors(instance).map(|error| error.to_string()).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{instance} does not match: {}", errors.join("; ")))
        }
    }
}

fn parse(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|_| format!("not JSON: {}", String::from_utf8_lossy(body)))
}

//! `cargo xtask openapi`: the OpenAPI documents, from the code, without starting a server.
//!
//! `keyward.json` is the document the server serves (OpenAPI 3.1, what utoipa emits).
//! `keyward-3.0.json` says the same in OpenAPI 3.0.3 for tools that read only 3.0, progenitor
//! (which generates the client) among them.

use serde_json::{Map, Value, json};
use std::path::PathBuf;

pub fn generate() -> Vec<(PathBuf, String)> {
    let document = serde_json::to_value(keyward_server::api::openapi()).expect("the document serialises");
    let dir = crate::root().join("openapi");
    vec![
        (dir.join("keyward.json"), pretty(&document)),
        (dir.join("keyward-3.0.json"), pretty(&downgrade(document))),
    ]
}

fn pretty(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(document).expect("JSON serialises");
    text.push('\n');
    text
}

/// Rewrites a 3.1 document as 3.0.3: null unions become `nullable`, `examples` arrays in schemas
/// become one `example`, and 3.1-only fields go.
pub fn downgrade(mut document: Value) -> Value {
    document["openapi"] = json!("3.0.3");
    if let Some(license) = document.pointer_mut("/info/license").and_then(Value::as_object_mut) {
        license.remove("identifier");
    }
    if let Some(paths) = document.get_mut("paths") {
        walk_schemas(paths);
    }
    if let Some(components) = document.get_mut("components") {
        walk_schemas(components);
    }
    document
}

/// Finds every schema object below `value` and downgrades it.
fn walk_schemas(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match key.as_str() {
                    "schema" => downgrade_schema(child),
                    "schemas" => {
                        child.as_object_mut().into_iter().flat_map(Map::values_mut).for_each(downgrade_schema)
                    }
                    // Examples are data, not schemas.
                    "example" | "examples" => {}
                    _ => walk_schemas(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(walk_schemas),
        _ => {}
    }
}

fn downgrade_schema(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    // `"type": ["string", "null"]` -> `"type": "string", "nullable": true`
    if let Some(Value::Array(types)) = map.get("type").cloned() {
        let others: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if others.len() < types.len() {
            map.insert("nullable".into(), Value::Bool(true));
        }
        match others.as_slice() {
            [single] => {
                map.insert("type".into(), single.clone());
            }
            _ => {
                map.remove("type");
            }
        }
    }
    // `oneOf: [{"type": "null"}, X]` -> X, nullable (a `$ref` takes no siblings in 3.0: wrap it).
    for combinator in ["oneOf", "anyOf"] {
        if let Some(Value::Array(variants)) = map.get(combinator).cloned() {
            let others: Vec<Value> = variants.iter().filter(|v| !is_null_schema(v)).cloned().collect();
            if others.len() < variants.len() {
                map.remove(combinator);
                map.insert("nullable".into(), Value::Bool(true));
                match others.as_slice() {
                    [single] if single.get("$ref").is_some() => {
                        map.insert("allOf".into(), json!([single]));
                    }
                    [single] => {
                        if let Some(inner) = single.as_object() {
                            for (key, value) in inner {
                                map.entry(key.clone()).or_insert_with(|| value.clone());
                            }
                        }
                    }
                    _ => {
                        map.insert(combinator.into(), Value::Array(others));
                    }
                }
            }
        }
    }
    if let Some(Value::Array(examples)) = map.remove("examples")
        && let Some(first) = examples.into_iter().next()
    {
        map.insert("example".into(), first);
    }
    if let Some(constant) = map.remove("const") {
        map.insert("enum".into(), json!([constant]));
    }
    for (key, child) in map.iter_mut() {
        match key.as_str() {
            "properties" | "patternProperties" | "$defs" => {
                child.as_object_mut().into_iter().flat_map(Map::values_mut).for_each(downgrade_schema);
            }
            "items" | "additionalProperties" | "not" => downgrade_schema(child),
            "allOf" | "oneOf" | "anyOf" => {
                child.as_array_mut().into_iter().flatten().for_each(downgrade_schema);
            }
            _ => {}
        }
    }
}

fn is_null_schema(schema: &Value) -> bool {
    schema.get("type") == Some(&json!("null"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_documents_are_up_to_date() {
        crate::update(&generate(), true, "openapi").unwrap();
    }

    #[test]
    fn null_unions_become_nullable() {
        let mut schema = json!({
            "type": "object",
            "properties": {
                "name": { "type": ["string", "null"], "examples": ["a"] },
                "links": { "oneOf": [{ "type": "null" }, { "$ref": "#/components/schemas/Link" }] },
            }
        });
        downgrade_schema(&mut schema);
        assert_eq!(
            schema["properties"]["name"],
            json!({ "type": "string", "nullable": true, "example": "a" })
        );
        assert_eq!(
            schema["properties"]["links"],
            json!({ "allOf": [{ "$ref": "#/components/schemas/Link" }], "nullable": true })
        );
    }
}

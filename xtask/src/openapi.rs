//! `cargo xtask openapi`: the OpenAPI documents, from the code, without starting a server.
//!
//! `keyward.json` is the document the server serves (OpenAPI 3.1, what utoipa emits).
//! `keyward-3.0.json` says the same in OpenAPI 3.0.3 for tools that read only 3.0.
//! `keyward-client.json` is the 3.1 document for generating clients: each request body in the
//! one media type a client sends (see [`for_clients`]). Generators take a body of two media
//! types badly or not at all (openapi-python-client's operations then fail to import).

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

pub fn generate() -> Vec<(PathBuf, String)> {
    let document = serde_json::to_value(keyward_server::api::openapi()).expect("the document serialises");
    let dir = crate::root().join("openapi");
    vec![
        (dir.join("keyward.json"), pretty(&document)),
        (dir.join("keyward-3.0.json"), pretty(&downgrade(document.clone()))),
        (dir.join("keyward-client.json"), pretty(&for_clients(document))),
    ]
}

fn pretty(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(document).expect("JSON serialises");
    text.push('\n');
    text
}

/// The document for generated clients: every request body in the media type clients send, JSON,
/// except the token endpoint's, a form as RFC 6749 asks. The server takes both for each (the
/// full document says so); a client needs one.
pub fn for_clients(mut document: Value) -> Value {
    one_media_type_per_body(&mut document);
    drop_unreferenced_schemas(&mut document);
    if let Some(Value::String(description)) = document.pointer_mut("/info/description") {
        description.push_str(
            "\n\nThis document is for generating clients: each request body is in the one media type \
             a client sends. The server also takes forms where the full document says so.",
        );
    }
    document
}

/// Keeps each request body's JSON, or the token endpoint's form.
pub fn one_media_type_per_body(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        let keep =
            if path == "/oauth/token" { "application/x-www-form-urlencoded" } else { "application/json" };
        for operation in item.as_object_mut().into_iter().flat_map(|item| item.values_mut()) {
            if let Some(content) =
                operation.pointer_mut("/requestBody/content").and_then(Value::as_object_mut)
            {
                content.retain(|media_type, _| media_type == keep);
            }
        }
    }
}

/// Drops the schemas that nothing refers to, so that no generator makes a type no operation uses.
fn drop_unreferenced_schemas(document: &mut Value) {
    const PREFIX: &str = "#/components/schemas/";
    let Some(schemas) = document.pointer_mut("/components/schemas").map(Value::take) else {
        return;
    };
    let mut pending = Vec::new();
    references(document, &mut pending);
    let mut used = BTreeSet::new();
    while let Some(reference) = pending.pop() {
        if let Some(name) = reference.strip_prefix(PREFIX)
            && used.insert(name.to_owned())
            && let Some(schema) = schemas.get(name)
        {
            references(schema, &mut pending);
        }
    }
    let mut schemas = schemas;
    if let Some(schemas) = schemas.as_object_mut() {
        schemas.retain(|name, _| used.contains(name));
    }
    document["components"]["schemas"] = schemas;
}

/// Every `$ref` below `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                found.push(reference.clone());
            }
            map.values().for_each(|child| references(child, found));
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

/// Rewrites a 3.1 document as 3.0.3: null unions become `nullable` (beside the `type` that 3.0
/// requires with it), a `$ref` with siblings moves into an `allOf`, `examples` arrays in schemas
/// become one `example`, and 3.1-only fields go.
pub fn downgrade(mut document: Value) -> Value {
    document["openapi"] = json!("3.0.3");
    if let Some(license) = document.pointer_mut("/info/license").and_then(Value::as_object_mut) {
        license.remove("identifier");
    }
    for section in ["paths", "components"] {
        if let Some(part) = document.get_mut(section) {
            for_each_schema(part, &mut downgrade_schema);
        }
    }
    // 3.0's `nullable` qualifies the `type` beside it; a nullable reference takes its target's.
    let types: BTreeMap<String, Value> = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, schema)| {
            Some((format!("#/components/schemas/{name}"), schema.get("type")?.clone()))
        })
        .collect();
    for section in ["paths", "components"] {
        if let Some(part) = document.get_mut(section) {
            for_each_schema(part, &mut |schema| type_nullable_reference(schema, &types));
        }
    }
    document
}

/// Calls `visit` on every schema below `value`, each before the schemas within it.
fn for_each_schema(value: &mut Value, visit: &mut impl FnMut(&mut Value)) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match key.as_str() {
                    "schema" => visit_schema(child, visit),
                    "schemas" => child
                        .as_object_mut()
                        .into_iter()
                        .flat_map(Map::values_mut)
                        .for_each(|schema| visit_schema(schema, visit)),
                    // Examples are data, not schemas.
                    "example" | "examples" => {}
                    _ => for_each_schema(child, visit),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| for_each_schema(item, visit)),
        _ => {}
    }
}

fn visit_schema(schema: &mut Value, visit: &mut impl FnMut(&mut Value)) {
    visit(schema);
    let Some(map) = schema.as_object_mut() else { return };
    for (key, child) in map.iter_mut() {
        match key.as_str() {
            "properties" | "patternProperties" | "$defs" => child
                .as_object_mut()
                .into_iter()
                .flat_map(Map::values_mut)
                .for_each(|schema| visit_schema(schema, visit)),
            "items" | "additionalProperties" | "not" => visit_schema(child, visit),
            "allOf" | "oneOf" | "anyOf" => {
                child.as_array_mut().into_iter().flatten().for_each(|schema| visit_schema(schema, visit))
            }
            _ => {}
        }
    }
}

/// Rewrites one schema, not those within it.
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
    // `oneOf: [{"type": "null"}, X]` -> X, nullable.
    for combinator in ["oneOf", "anyOf"] {
        if let Some(Value::Array(variants)) = map.get(combinator).cloned() {
            let others: Vec<Value> = variants.iter().filter(|v| !is_null_schema(v)).cloned().collect();
            if others.len() < variants.len() {
                map.remove(combinator);
                map.insert("nullable".into(), Value::Bool(true));
                match others.as_slice() {
                    [Value::Object(single)] => {
                        for (key, value) in single {
                            map.entry(key.clone()).or_insert_with(|| value.clone());
                        }
                    }
                    _ => {
                        map.insert(combinator.into(), Value::Array(others));
                    }
                }
            }
        }
    }
    // A `$ref` takes no siblings in 3.0: it moves into an `allOf` beside them.
    if map.len() > 1
        && let Some(reference) = map.remove("$ref")
    {
        let all_of = map.entry("allOf").or_insert_with(|| json!([]));
        if let Value::Array(all_of) = all_of {
            all_of.insert(0, json!({ "$ref": reference }));
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
}

/// Gives a nullable schema that only refers to another (`allOf: [{"$ref": ...}]`) the `type` of
/// the schema it refers to.
fn type_nullable_reference(schema: &mut Value, types: &BTreeMap<String, Value>) {
    let Some(map) = schema.as_object_mut() else { return };
    if map.get("nullable") != Some(&Value::Bool(true)) || map.contains_key("type") {
        return;
    }
    let target = map.get("allOf").and_then(Value::as_array).and_then(|all_of| match all_of.as_slice() {
        [only] => only.get("$ref").and_then(Value::as_str),
        _ => None,
    });
    if let Some(kind) = target.and_then(|target| types.get(target)) {
        map.insert("type".into(), kind.clone());
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
    fn null_unions_become_nullable_beside_a_type() {
        let document = json!({
            "openapi": "3.1.0",
            "components": { "schemas": {
                "Link": { "type": "object" },
                "Key": {
                    "type": "object",
                    "properties": {
                        "name": { "type": ["string", "null"], "examples": ["a"] },
                        "link": { "oneOf": [{ "type": "null" }, { "$ref": "#/components/schemas/Link", "description": "d" }] },
                        "self": { "$ref": "#/components/schemas/Link", "description": "e" },
                        "other": { "$ref": "#/components/schemas/Link" },
                    }
                }
            } }
        });
        let properties = downgrade(document)["components"]["schemas"]["Key"]["properties"].take();
        assert_eq!(properties["name"], json!({ "type": "string", "nullable": true, "example": "a" }));
        assert_eq!(
            properties["link"],
            json!({
                "allOf": [{ "$ref": "#/components/schemas/Link" }],
                "description": "d",
                "nullable": true,
                "type": "object"
            })
        );
        assert_eq!(
            properties["self"],
            json!({ "allOf": [{ "$ref": "#/components/schemas/Link" }], "description": "e" })
        );
        assert_eq!(properties["other"], json!({ "$ref": "#/components/schemas/Link" }));
    }

    /// What 3.0 forbids and the linters refuse: `nullable` without `type`, siblings of `$ref`.
    #[test]
    fn the_committed_3_0_document_says_nothing_3_0_forbids() {
        fn check(value: &Value, at: &str, problems: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    if map.get("nullable") == Some(&Value::Bool(true)) && !map.contains_key("type") {
                        problems.push(format!("{at}: nullable without type"));
                    }
                    if map.contains_key("$ref") && map.len() > 1 {
                        problems.push(format!("{at}: $ref with siblings"));
                    }
                    for (key, child) in map {
                        if key != "example" && key != "examples" {
                            check(child, &format!("{at}/{key}"), problems);
                        }
                    }
                }
                Value::Array(items) => {
                    for (n, item) in items.iter().enumerate() {
                        check(item, &format!("{at}/{n}"), problems);
                    }
                }
                _ => {}
            }
        }
        let text = std::fs::read_to_string(crate::root().join("openapi/keyward-3.0.json")).unwrap();
        let mut problems = Vec::new();
        check(&serde_json::from_str(&text).unwrap(), "", &mut problems);
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn the_client_document_has_one_media_type_per_body() {
        let schema = |name: &str| json!({ "schema": { "$ref": format!("#/components/schemas/{name}") } });
        let body = json!({ "requestBody": { "content": {
            "application/json": schema("Request"), "application/x-www-form-urlencoded": schema("Form")
        } } });
        let document = for_clients(json!({
            "info": { "description": "Keys." },
            "paths": { "/api/v1/keys/create": { "post": body }, "/oauth/token": { "post": body } },
            "components": { "schemas": {
                "Request": { "properties": { "type": { "$ref": "#/components/schemas/Type" } } },
                "Type": { "type": "string" },
                "Form": { "type": "object" },
                "Unused": { "type": "object" },
            } }
        }));
        let media_types = |path: &str| -> Vec<String> {
            document["paths"][path]["post"]["requestBody"]["content"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(media_types("/api/v1/keys/create"), ["application/json"]);
        assert_eq!(media_types("/oauth/token"), ["application/x-www-form-urlencoded"]);
        let schemas: Vec<&String> = document["components"]["schemas"].as_object().unwrap().keys().collect();
        assert_eq!(schemas, ["Form", "Request", "Type"], "the schemas something refers to");
        assert!(
            document["info"]["description"].as_str().unwrap().starts_with("Keys.\n\nThis document is for")
        );
    }
}

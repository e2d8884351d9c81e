//! What the commands print: a table for people, the server's JSON with `--json`.

use comfy_table::Table;
use keyward_model::ApiKey;

pub fn keys(keys: &[ApiKey], json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(keys).expect("keys serialise"));
        return;
    }
    let mut table = Table::new();
    table.load_style(comfy_table::presets::NOTHING).set_header(["ID", "NAME", "CLIENT ID", "CREATED"]);
    for key in keys {
        table.add_row([
            key.id.to_string(),
            key.name.clone().unwrap_or_default(),
            key.client_id.clone().unwrap_or_default(),
            keyward_model::time::format_resource(&key.created),
        ]);
    }
    println!("{table}");
}

pub fn key(key: &ApiKey, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(key).expect("a key serialises"));
        return;
    }
    let mut table = Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.add_row(["id", &key.id.to_string()]);
    table.add_row(["name", key.name.as_deref().unwrap_or_default()]);
    table.add_row(["client id", key.client_id.as_deref().unwrap_or_default()]);
    if let Some(secret) = &key.client_secret {
        table.add_row(["client secret", secret.expose()]);
    }
    table.add_row(["profile", &key.profile_id]);
    table.add_row(["created", &keyward_model::time::format_resource(&key.created)]);
    table.add_row(["last modified", &keyward_model::time::format_resource(&key.last_modified)]);
    println!("{table}");
}

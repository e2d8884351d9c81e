//! What the commands print: a table for people, JSON with `--json`. Writes return their error, so
//! that a reader that went away (`keyward keys list | head -1`) ends the command quietly.

use chrono::{DateTime, Utc};
use comfy_table::Table;
use keyward_model::{ApiKey, Secret};
use std::io::{self, Write};

/// An instant, with its zone.
fn instant(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn print(text: impl std::fmt::Display) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()
}

fn json(value: &impl serde::Serialize) -> io::Result<()> {
    print(serde_json::to_string_pretty(value).map_err(io::Error::other)?)
}

pub fn keys(keys: &[ApiKey], as_json: bool) -> io::Result<()> {
    if as_json {
        return json(&keys);
    }
    let mut table = Table::new();
    table.load_style(comfy_table::presets::NOTHING).set_header(["ID", "NAME", "CLIENT ID", "CREATED"]);
    for key in keys {
        table.add_row([
            key.id.to_string(),
            key.name.clone().unwrap_or_default(),
            key.client_id.clone().unwrap_or_default(),
            instant(&key.created),
        ]);
    }
    print(table)
}

/// One key; `full_key` when it was just created.
pub fn key(key: &ApiKey, full_key: Option<&Secret>, as_json: bool) -> io::Result<()> {
    if as_json {
        let mut value = serde_json::to_value(key).map_err(io::Error::other)?;
        if let (Some(full_key), Some(object)) = (full_key, value.as_object_mut()) {
            object.insert("apiKey".to_owned(), full_key.expose().into());
        }
        return json(&value);
    }
    let mut table = Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.add_row(["id", &key.id.to_string()]);
    table.add_row(["name", key.name.as_deref().unwrap_or_default()]);
    table.add_row(["client id", key.client_id.as_deref().unwrap_or_default()]);
    if let Some(secret) = &key.client_secret {
        table.add_row(["client secret", secret.expose()]);
    }
    if let Some(full_key) = full_key {
        table.add_row(["full key", full_key.expose()]);
    }
    table.add_row(["profile", &key.profile_id]);
    table.add_row(["created", &instant(&key.created)]);
    table.add_row(["last modified", &instant(&key.last_modified)]);
    print(table)
}

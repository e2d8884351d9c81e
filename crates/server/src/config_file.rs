//! Settings from a TOML file, beneath flags and the environment. One order of precedence holds
//! for every setting: a flag, then its `KEYWARD_*` variable, then the file, then the default.
//!
//! The file's keys are the settings' names as the environment spells them, lowercased and without
//! `KEYWARD_` (`database_url = "postgres://…"`, `trusted_proxies = ["10.0.0.0/8"]`). Its values
//! go through the very parsers that flags do, so a file is checked like a command line; a key that
//! names no setting is an error, not a silent no-op.

use clap::parser::ValueSource;
use clap::{ArgMatches, Command, CommandFactory, FromArgMatches};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The argument that names the file.
pub const CONFIG_ARG: &str = "config";

/// A command line parsed with its configuration file.
pub struct Parsed<C> {
    pub cli: C,
    pub matches: ArgMatches,
    /// The settings the file gave (that no flag or variable did).
    pub from_file: BTreeSet<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// The position only: the parser's message may quote the line, which may hold a secret.
    #[error("{path}: not valid TOML at line {line}")]
    Toml { path: PathBuf, line: usize },
    #[error("{path}: `{key}` is not a setting (keys are settings' names, e.g. `database_url`)")]
    Unknown { path: PathBuf, key: String },
    #[error("{path}: `{key}` must be a string, a number, a boolean, or an array of them")]
    Shape { path: PathBuf, key: String },
}

/// Parses `args` as `C`, with the settings of the file that `--config` (or `KEYWARD_CONFIG`)
/// names filling in those that no flag or variable gives. A command line clap refuses (or
/// `--help`) ends the process as clap does.
pub fn parse<C: CommandFactory + FromArgMatches>(args: Vec<OsString>) -> Result<Parsed<C>, ConfigFileError> {
    let command = C::command();
    let first = command.clone().get_matches_from(args.clone());
    let (leaf, leaf_matches) = leaf(&command, &first);
    let Some(path) = leaf_matches.get_one::<PathBuf>(CONFIG_ARG).cloned() else {
        return Ok(Parsed { cli: from_matches(&first), matches: first, from_file: BTreeSet::new() });
    };
    let file = read(&path)?;
    let known: BTreeSet<String> = settings(&command).collect();
    let mut args = args;
    let mut from_file = BTreeSet::new();
    for (key, value) in &file {
        if !known.contains(key) {
            return Err(ConfigFileError::Unknown { path, key: key.clone() });
        }
        let Some(arg) = leaf.get_arguments().find(|arg| arg.get_id().as_str() == key) else {
            // A setting of another subcommand: one file serves them all.
            continue;
        };
        let given = matches!(
            leaf_matches.value_source(key),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        if given {
            continue;
        }
        if value.as_array().is_some_and(Vec::is_empty) {
            // An empty list: what no flag gives.
            continue;
        }
        let text = flag_value(value, arg.get_value_delimiter())
            .ok_or_else(|| ConfigFileError::Shape { path: path.clone(), key: key.clone() })?;
        let long = arg.get_long().expect("settings have long flags");
        args.push(format!("--{long}={text}").into());
        from_file.insert(key.clone());
    }
    let matches = command.try_get_matches_from(args).unwrap_or_else(|error| {
        // clap names the flag; say which of the file's settings became flags.
        let given: Vec<&str> = from_file.iter().map(String::as_str).collect();
        eprintln!("keyward-server: {} gave {}", path.display(), given.join(", "));
        error.exit()
    });
    Ok(Parsed { cli: from_matches(&matches), matches, from_file })
}

fn from_matches<C: FromArgMatches>(matches: &ArgMatches) -> C {
    C::from_arg_matches(matches).unwrap_or_else(|error| error.exit())
}

/// The subcommand that runs, and its matches.
fn leaf<'a>(command: &'a Command, matches: &'a ArgMatches) -> (&'a Command, &'a ArgMatches) {
    match matches.subcommand() {
        Some((name, sub_matches)) => {
            let sub = command.find_subcommand(name).expect("a matched subcommand exists");
            leaf(sub, sub_matches)
        }
        None => (command, matches),
    }
}

/// Every setting of `command` and its subcommands: arguments with a `KEYWARD_*` variable.
fn settings(command: &Command) -> Box<dyn Iterator<Item = String> + '_> {
    let own = command
        .get_arguments()
        .filter(|arg| arg.get_env().is_some() && arg.get_id().as_str() != CONFIG_ARG)
        .map(|arg| arg.get_id().to_string());
    Box::new(own.chain(command.get_subcommands().flat_map(settings)))
}

fn read(path: &Path) -> Result<toml::Table, ConfigFileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigFileError::Read { path: path.to_owned(), source })?;
    text.parse::<toml::Table>().map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start);
        let line = text[..offset.min(text.len())].matches('\n').count() + 1;
        ConfigFileError::Toml { path: path.to_owned(), line }
    })
}

/// A file value as a flag's value; an array joined by the flag's delimiter.
fn flag_value(value: &toml::Value, delimiter: Option<char>) -> Option<String> {
    match value {
        toml::Value::String(text) => Some(text.clone()),
        toml::Value::Integer(number) => Some(number.to_string()),
        toml::Value::Float(number) => Some(number.to_string()),
        toml::Value::Boolean(flag) => Some(flag.to_string()),
        toml::Value::Array(items) => {
            let delimiter = delimiter?;
            let items: Option<Vec<String>> = items.iter().map(|item| flag_value(item, None)).collect();
            Some(items?.join(&delimiter.to_string()))
        }
        _ => None,
    }
}

/// The effective settings of the subcommand that runs, as a TOML file that would give them,
/// each line saying where its value came from; secrets masked, and the password of a database
/// URL.
pub fn effective(command: &Command, parsed_matches: &ArgMatches, from_file: &BTreeSet<String>) -> String {
    let (leaf, matches) = leaf(command, parsed_matches);
    let mut lines = BTreeMap::new();
    for arg in leaf.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.get_env().is_none() || arg.is_hide_set() || id == CONFIG_ARG {
            continue;
        }
        let values: Vec<String> = matches
            .get_raw(id)
            .map(|values| values.map(|value| value.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let source = if from_file.contains(id) {
            "file"
        } else {
            match matches.value_source(id) {
                Some(ValueSource::CommandLine) => "flag",
                Some(ValueSource::EnvVariable) => "environment",
                Some(ValueSource::DefaultValue) => "default",
                _ => "unset",
            }
        };
        let line = if values.is_empty() && arg.get_value_delimiter().is_none() {
            format!("# {id} is unset")
        } else {
            let masked = |value: &str| {
                if arg.is_hide_env_values_set() {
                    "********".to_owned()
                } else if id == "database_url" {
                    mask_password(value)
                } else {
                    value.to_owned()
                }
            };
            let value = match arg.get_value_delimiter() {
                Some(_) => toml::Value::Array(values.iter().map(|value| typed(&masked(value))).collect()),
                None => typed(&masked(&values[0])),
            };
            format!("{id} = {value}  # {source}")
        };
        lines.insert(id.to_owned(), line);
    }
    lines.into_values().map(|line| line + "\n").collect()
}

/// A value as TOML would write it: numbers and booleans bare, anything else a string.
fn typed(text: &str) -> toml::Value {
    if let Ok(number) = text.parse::<i64>() {
        toml::Value::Integer(number)
    } else if let Ok(flag) = text.parse::<bool>() {
        toml::Value::Boolean(flag)
    } else {
        toml::Value::String(text.to_owned())
    }
}

/// `scheme://user:password@host/…` with the password masked.
fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return url.to_owned() };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:********{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_urls_password_is_masked_and_nothing_else() {
        assert_eq!(
            mask_password("postgres://keyward:s3cret@db:5432/keyward"),
            "postgres://keyward:********@db:5432/keyward"
        );
        assert_eq!(mask_password("postgres://keyward@db/keyward"), "postgres://keyward@db/keyward");
        assert_eq!(mask_password("sqlite://keyward.db"), "sqlite://keyward.db");
        assert_eq!(
            mask_password("postgres://u:p%40ss@h/d?sslmode=require"),
            "postgres://u:********@h/d?sslmode=require"
        );
    }

    #[test]
    fn arrays_join_with_the_flags_delimiter_and_tables_are_refused() {
        let array = toml::Value::Array(vec!["10.0.0.0/8".into(), "fd00::/8".into()]);
        assert_eq!(flag_value(&array, Some(',')).as_deref(), Some("10.0.0.0/8,fd00::/8"));
        assert_eq!(flag_value(&array, None), None, "a single-valued setting takes no array");
        assert_eq!(flag_value(&toml::Value::Integer(16), None).as_deref(), Some("16"));
        assert_eq!(flag_value(&toml::Value::Table(toml::Table::new()), None), None);
    }
}

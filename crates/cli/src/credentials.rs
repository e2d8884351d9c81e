//! The stored login: `$XDG_CONFIG_HOME/keyward/credentials.toml`, readable by its owner alone.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;

#[derive(Serialize, Deserialize)]
pub struct StoredCredentials {
    pub server: String,
    pub client_id: String,
    pub client_secret: String,
}

fn path() -> Result<PathBuf, String> {
    let config = dirs::config_dir().ok_or("cannot find the configuration directory: set XDG_CONFIG_HOME")?;
    Ok(config.join("keyward").join("credentials.toml"))
}

impl StoredCredentials {
    pub fn load() -> Result<Self, String> {
        let path = path()?;
        let text = std::fs::read_to_string(&path).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => "not logged in: run `keyward login` first".to_owned(),
            _ => format!("cannot read {}: {error}", path.display()),
        })?;
        toml::from_str(&text).map_err(|error| format!("{} is malformed: {error}", path.display()))
    }

    /// Writes the file with mode 0600 (its directory 0700), replacing any earlier login.
    pub fn save(&self) -> Result<PathBuf, String> {
        let path = path()?;
        let dir = path.parent().ok_or("no configuration directory")?;
        let failed = |error: std::io::Error| format!("cannot write {}: {error}", path.display());
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
            builder.mode(0o700);
            options.mode(0o600);
        }
        builder.create(dir).map_err(failed)?;
        let text = toml::to_string(self).map_err(|error| error.to_string())?;
        let mut file = options.open(&path).map_err(failed)?;
        #[cfg(unix)]
        {
            // An existing file keeps its mode when opened: tighten it too.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
        }
        file.write_all(text.as_bytes()).map_err(failed)?;
        Ok(path)
    }
}

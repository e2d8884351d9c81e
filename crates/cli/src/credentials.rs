//! The stored login: `$XDG_CONFIG_HOME/keyward/credentials.toml`, readable by its owner alone.
//!
//! Written to a temporary file beside it and renamed into place, so that a crash leaves the old
//! login or the new one, never half of either; never through a symlink; refused when another
//! user could read it or change it.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Serialize, Deserialize)]
pub struct StoredCredentials {
    pub server: String,
    pub client_id: String,
    pub client_secret: String,
    /// A PEM file of CA certificates to trust besides the platform's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
}

pub fn path() -> Result<PathBuf, String> {
    let config = dirs::config_dir().ok_or("cannot find the configuration directory: set XDG_CONFIG_HOME")?;
    Ok(config.join("keyward").join("credentials.toml"))
}

impl StoredCredentials {
    pub fn load() -> Result<Self, String> {
        let path = path()?;
        let metadata = std::fs::symlink_metadata(&path).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => "not logged in: run `keyward login` first".to_owned(),
            _ => format!("cannot read {}: {error}", path.display()),
        })?;
        check_private(&path, &metadata)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        toml::from_str(&text).map_err(|error| format!("{} is malformed: {error}", path.display()))
    }

    /// Replaces any earlier login with this one: a file of mode 0600 in a directory of mode 0700.
    pub fn save(&self) -> Result<PathBuf, String> {
        let path = path()?;
        let dir = path.parent().ok_or("no configuration directory")?;
        let failed = |error: std::io::Error| format!("cannot write {}: {error}", path.display());
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(failed)?;
        if let Ok(existing) = std::fs::symlink_metadata(&path)
            && existing.file_type().is_symlink()
        {
            return Err(format!(
                "{} is a symbolic link: refusing to write credentials through it",
                path.display()
            ));
        }
        let text = toml::to_string(self).map_err(|error| error.to_string())?;
        // A temporary file is created 0600 and never follows a link.
        let mut file = tempfile::Builder::new().prefix(".credentials").tempfile_in(dir).map_err(failed)?;
        file.write_all(text.as_bytes()).map_err(failed)?;
        file.as_file().sync_all().map_err(failed)?;
        file.persist(&path).map_err(|error| failed(error.error))?;
        Ok(path)
    }
}

/// Refuses a credentials file that is a link, or that another user owns, can read or can write.
fn check_private(path: &Path, metadata: &std::fs::Metadata) -> Result<(), String> {
    if metadata.file_type().is_symlink() {
        return Err(format!(
            "{} is a symbolic link: refusing to read credentials through it",
            path.display()
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mode = metadata.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} can be read or changed by other users (mode {mode:o}): run `chmod 600 {}`, and consider \
                 deleting the key it holds if others could have read it",
                path.display(),
                path.display()
            ));
        }
        if metadata.uid() != rustix::process::geteuid().as_raw() {
            return Err(format!("{} belongs to another user: refusing to use it", path.display()));
        }
    }
    Ok(())
}

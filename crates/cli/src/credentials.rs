//! The stored login: `$XDG_CONFIG_HOME/keyward/credentials.toml`, readable by its owner alone.
//!
//! Written to a temporary file beside it and renamed into place, so that a crash leaves the old
//! login or the new one, never half of either; never through a symlink; refused when another
//! user owns it or could read it or change it.

use keyward_model::Secret;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Serialize, Deserialize)]
pub struct StoredCredentials {
    pub server: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// A PEM file of CA certificates to trust besides the platform's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
}

/// Why the stored login cannot be read or written; each says which file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot find the configuration directory: set XDG_CONFIG_HOME")]
    NoConfigDirectory,
    #[error("not logged in: run `keyward login` first")]
    NotLoggedIn,
    #[error("{0} is a symbolic link: refusing to use it for credentials; remove it and run `keyward login`")]
    Link(PathBuf),
    #[error("{0} is not a regular file: remove it and run `keyward login`")]
    NotAFile(PathBuf),
    #[error(
        "{path} can be read or changed by other users (mode {mode:03o}): run `chmod 600 {path}`, and \
         consider deleting the key it holds if others could have read it"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error(
        "{path} belongs to another user (uid {owner}): refusing to use it; remove it and run \
         `keyward login`"
    )]
    OtherOwner { path: PathBuf, owner: u32 },
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, #[source] std::io::Error),
    #[error("{0} is malformed: {1}")]
    Malformed(PathBuf, #[source] toml::de::Error),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, #[source] std::io::Error),
    #[error("cannot encode the credentials: {0}")]
    Encode(#[from] toml::ser::Error),
}

pub fn path() -> Result<PathBuf, CredentialsError> {
    let config = dirs::config_dir().ok_or(CredentialsError::NoConfigDirectory)?;
    Ok(config.join("keyward").join("credentials.toml"))
}

impl StoredCredentials {
    pub fn load() -> Result<Self, CredentialsError> {
        Self::load_from(&path()?)
    }

    fn load_from(path: &Path) -> Result<Self, CredentialsError> {
        let mut file = open_private(path)?;
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(|error| CredentialsError::Read(path.into(), error))?;
        toml::from_str(&text).map_err(|error| CredentialsError::Malformed(path.into(), error))
    }

    /// Replaces any earlier login with this one: a file of mode 0600 in a directory of mode 0700.
    pub fn save(&self) -> Result<PathBuf, CredentialsError> {
        let path = path()?;
        self.save_to(&path)?;
        Ok(path)
    }

    fn save_to(&self, path: &Path) -> Result<(), CredentialsError> {
        let failed = |error: std::io::Error| CredentialsError::Write(path.into(), error);
        let dir = path.parent().ok_or_else(|| failed(std::io::ErrorKind::InvalidInput.into()))?;
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(failed)?;
        // The rename below would replace a link, not follow it; refusing says why instead.
        if std::fs::symlink_metadata(path).is_ok_and(|existing| existing.file_type().is_symlink()) {
            return Err(CredentialsError::Link(path.into()));
        }
        let text = toml::to_string(self)?;
        // A temporary file is created 0600 and never follows a link.
        let mut file = tempfile::Builder::new().prefix(".credentials").tempfile_in(dir).map_err(failed)?;
        file.write_all(text.as_bytes()).map_err(failed)?;
        file.as_file().sync_all().map_err(failed)?;
        file.persist(path).map_err(|error| failed(error.error))?;
        // The rename itself lasts only once the directory is on disk.
        #[cfg(unix)]
        std::fs::File::open(dir).and_then(|dir| dir.sync_all()).map_err(failed)?;
        Ok(())
    }
}

/// Opens the credentials file for reading, refusing a link, anything but a regular file, and a
/// file that another user owns or could read or change. The checks are made on the file opened,
/// so that it cannot be swapped for another between the checks and the read.
#[cfg(unix)]
fn open_private(path: &Path) -> Result<std::fs::File, CredentialsError> {
    use rustix::fs::{Mode, OFlags};
    // NONBLOCK: opening a FIFO planted there would otherwise wait for a writer.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => std::fs::File::from(fd),
        Err(rustix::io::Errno::NOENT) => return Err(CredentialsError::NotLoggedIn),
        Err(rustix::io::Errno::LOOP) => return Err(CredentialsError::Link(path.into())),
        Err(errno) => return Err(CredentialsError::Read(path.into(), errno.into())),
    };
    let metadata = file.metadata().map_err(|error| CredentialsError::Read(path.into(), error))?;
    check_private(path, &metadata, rustix::process::geteuid().as_raw())?;
    Ok(file)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> Result<std::fs::File, CredentialsError> {
    match std::fs::symlink_metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(CredentialsError::NotLoggedIn),
        Err(error) => Err(CredentialsError::Read(path.into(), error)),
        Ok(metadata) if metadata.file_type().is_symlink() => Err(CredentialsError::Link(path.into())),
        Ok(metadata) if !metadata.is_file() => Err(CredentialsError::NotAFile(path.into())),
        Ok(_) => std::fs::File::open(path).map_err(|error| CredentialsError::Read(path.into(), error)),
    }
}

/// Refuses anything but a regular file that `user` owns and no one else can read or change.
#[cfg(unix)]
fn check_private(path: &Path, metadata: &std::fs::Metadata, user: u32) -> Result<(), CredentialsError> {
    use std::os::unix::fs::MetadataExt;
    if !metadata.is_file() {
        return Err(CredentialsError::NotAFile(path.into()));
    }
    if metadata.uid() != user {
        return Err(CredentialsError::OtherOwner { path: path.into(), owner: metadata.uid() });
    }
    let mode = metadata.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CredentialsError::Exposed { path: path.into(), mode });
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn sample() -> StoredCredentials {
        StoredCredentials {
            server: "https://keys.example.com".into(),
            client_id: "c".repeat(32),
            client_secret: Secret::new("s".repeat(44)),
            ca_cert: None,
        }
    }

    fn saved(dir: &Path) -> PathBuf {
        let path = dir.join("keyward/credentials.toml");
        sample().save_to(&path).unwrap();
        path
    }

    fn message(result: Result<StoredCredentials, CredentialsError>) -> String {
        result.err().expect("refused").to_string()
    }

    #[test]
    fn saved_credentials_are_private_and_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = saved(dir.path());
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let loaded = StoredCredentials::load_from(&path).unwrap();
        assert_eq!(loaded.client_secret.expose(), sample().client_secret.expose());
        let entries: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(entries.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_file_others_can_read_or_write_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = saved(dir.path());
        for mode in [0o640, 0o604, 0o620, 0o602, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let message = message(StoredCredentials::load_from(&path));
            assert!(message.contains(&format!("chmod 600 {}", path.display())), "{mode:o}: {message}");
        }
    }

    #[test]
    fn links_are_refused_on_load_and_on_save() {
        let dir = tempfile::tempdir().unwrap();
        let target = saved(&dir.path().join("elsewhere"));
        let path = dir.path().join("keyward/credentials.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let before = std::fs::read(&target).unwrap();

        let message = message(StoredCredentials::load_from(&path));
        assert!(
            message.contains("symbolic link") && message.contains(&path.display().to_string()),
            "{message}"
        );
        let error = sample().save_to(&path).unwrap_err();
        assert!(matches!(error, CredentialsError::Link(_)), "{error}");
        assert_eq!(std::fs::read(&target).unwrap(), before, "nothing was written through the link");
    }

    #[test]
    fn a_fifo_is_refused_rather_than_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.toml");
        let mode = rustix::fs::Mode::from_raw_mode(0o600);
        rustix::fs::mknodat(rustix::fs::CWD, &path, rustix::fs::FileType::Fifo, mode, 0).unwrap();
        let message = message(StoredCredentials::load_from(&path));
        assert!(message.contains("not a regular file"), "{message}");
    }

    #[test]
    fn a_file_of_another_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = saved(dir.path());
        let metadata = std::fs::metadata(&path).unwrap();
        let someone_else = std::os::unix::fs::MetadataExt::uid(&metadata).wrapping_add(1);
        let message = check_private(&path, &metadata, someone_else).unwrap_err().to_string();
        assert!(
            message.contains("another user") && message.contains(&path.display().to_string()),
            "{message}"
        );
        assert!(check_private(&path, &metadata, std::os::unix::fs::MetadataExt::uid(&metadata)).is_ok());
    }
}

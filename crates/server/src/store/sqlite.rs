//! The embedded default: SQLite in WAL mode through sqlx.
//!
//! Every write that must respect a limit is one statement (`INSERT ... SELECT ... WHERE count <
//! limit`); SQLite runs one writer at a time, so the check and the write cannot interleave with
//! another request's.
//!
//! Every write runs in an explicit `BEGIN IMMEDIATE` transaction and returns only after its
//! `COMMIT` succeeded. A `... RETURNING` statement hands back its row before it is finished; in
//! autocommit mode the commit then happens when sqlx resets the statement, and a failure there
//! (a full disk) is never reported. The explicit commit is where such failures surface.

use super::{
    Actor, AuditAction, AuditEvent, InitialisedKey, Key, KeyColumns, KeyEvent, KeyEventKind, KeyState,
    NewCredentials, PoolUsage, ProfileRecord, SecretHash, SigningKeyRecord, Store, StoreError,
    StoredCredential, StoredPrivateKey, corrupt,
};
use crate::config::DatabaseSettings;
use crate::ids::{ClientId, KeyId, ProfileId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_model::{KeyType, Scopes};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, Row, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

/// The columns of a key, for `concat!` into static SQL.
macro_rules! key_columns {
    () => {
        "id, profile_id, name, client_id, key_for, scopes, created, last_modified"
    };
}

pub struct SqliteStore {
    /// Reads.
    pool: SqlitePool,
    /// Writes, one at a time: SQLite takes one writer anyway, and writers queued here are served
    /// in turn as soon as the last commits, where writers contending for the file lock would
    /// sleep in the busy handler's growing steps.
    writer: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(&settings.database_url)?;
        if !is_in_memory(&settings.database_url) {
            create_private(options.get_filename()).map_err(|error| StoreError::Unavailable(error.into()))?;
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL syncs the WAL on every commit: an acknowledged write survives a power cut, not
            // only a crash. Reads pay nothing for it.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool_of = |connections: u32| {
            SqlitePoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(settings.acquire_timeout())
                .after_release(|connection, _| Box::pin(keep_after_release(connection)))
                .connect_with(options.clone())
        };
        let writer = pool_of(1).await?;
        sqlx::migrate!("migrations/sqlite").run(&writer).await?;
        let pool = pool_of(settings.database_max_connections.max(1)).await?;
        Ok(Self { pool, writer })
    }

    /// Writes a consistent copy of the database, as of one moment, to `to`, a new file readable by
    /// its owner only (it holds secret hashes and signing keys): SQLite's `VACUUM INTO`, which
    /// reads in one transaction while the server goes on serving and writing.
    pub async fn back_up(&self, to: &Path) -> Result<(), BackupError> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(to).map_err(|source| BackupError::Destination { path: to.to_owned(), source })?;
        let copied =
            sqlx::query("VACUUM INTO ?1").bind(to.to_string_lossy().into_owned()).execute(&self.pool).await;
        if let Err(error) = copied {
            let _ = std::fs::remove_file(to);
            return Err(BackupError::Store(error.into()));
        }
        Ok(())
    }

    /// A write transaction on the writer connection. `IMMEDIATE` takes the write lock at once, so
    /// that waiting for another process's writer is bounded by the busy timeout instead of
    /// failing when a read turns into a write.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Whether the URL names an in-memory database, which has no file.
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Creates the database file, when missing, readable and writable by its owner only: it holds
/// secret hashes and signing keys. SQLite gives the -wal and -shm files the database file's mode.
/// An empty file is an empty database.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot create {}: {source} (a backup never overwrites a file)", path.display())]
    Destination { path: std::path::PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether a connection handed back to the pool may serve again: only outside any transaction.
///
/// When a `COMMIT` fails for want of space or I/O, SQLite has already rolled the transaction
/// back, so the `ROLLBACK` that sqlx queues on drop fails too, and sqlx keeps counting the
/// connection as inside a transaction; every later `BEGIN` on it would fail. Such a connection is
/// closed and the pool opens a fresh one.
async fn keep_after_release(connection: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    // The ping runs after whatever rollback is still queued on the connection.
    connection.ping().await?;
    Ok(!connection.is_in_transaction())
}

/// Why a conditional update of `id` matched no row.
async fn explain_miss(
    connection: &mut SqliteConnection,
    profile_id: &ProfileId,
    id: KeyId,
    limit: u32,
) -> Result<StoreError, StoreError> {
    let created: Option<bool> =
        sqlx::query_scalar("SELECT name IS NOT NULL FROM api_keys WHERE id = ?1 AND profile_id = ?2")
            .bind(id.to_string())
            .bind(profile_id.as_str())
            .fetch_optional(connection)
            .await?;
    Ok(super::explain_miss(created, limit))
}

/// Whether SQLite failed for want of storage or a lock, by its primary result code: SQLITE_BUSY
/// (5), LOCKED (6), NOMEM (7), READONLY (8), INTERRUPT (9), IOERR (10), CORRUPT (11), FULL (13),
/// CANTOPEN (14), PROTOCOL (15) and NOTADB (26).
pub(super) fn is_unavailability(error: &sqlx::sqlite::SqliteError) -> bool {
    use sqlx::error::DatabaseError;
    let primary = error.code().and_then(|code| code.parse::<i32>().ok()).map(|code| code & 0xff);
    matches!(primary, Some(5..=11 | 13..=15 | 26))
}

/// Logs a key event in the transaction of the change it reports.
async fn log_event(
    connection: &mut SqliteConnection,
    key: &Key,
    kind: KeyEventKind,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO key_events (client_id, profile_id, kind, at) VALUES (?1, ?2, ?3, ?4)")
        .bind(key.client_id.as_str())
        .bind(key.profile_id.as_str())
        .bind(kind.as_str())
        .bind(to_micros(at))
        .execute(connection)
        .await?;
    Ok(())
}

/// Inserts a created key unless the profile already has `limit`, with its audit record and key
/// event, in the caller's transaction.
async fn insert_created(
    connection: &mut SqliteConnection,
    profile_id: &ProfileId,
    id: KeyId,
    credentials: &NewCredentials,
    now: DateTime<Utc>,
    limit: u32,
    by: &Actor,
) -> Result<Key, StoreError> {
    let row = write_key(connection, concat!(
        "INSERT INTO api_keys (id, profile_id, name, client_id, secret_hash, key_for, created, last_modified, scopes)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?9
         WHERE coalesce((SELECT created_keys FROM profile_key_counts WHERE profile_id = ?2), 0) < ?8
         RETURNING ",
        key_columns!()
    ), id, profile_id, credentials, now, limit).await?;
    let Some(row) = row else { return Err(StoreError::LimitReached(limit)) };
    let state = key_state(&row)?;
    audit(connection, AuditEvent::of(AuditAction::Created, &state, now, by)).await?;
    let key = state.into_created()?;
    log_event(connection, &key, KeyEventKind::Created, now).await?;
    Ok(key)
}

/// Runs `statement`, a write of a created key whose parameters are, in order, its id, profile,
/// name, client id, secret hash, type, creation time, the profile's limit and its scopes; returns
/// the row it returns.
async fn write_key(
    connection: &mut SqliteConnection,
    statement: &'static str,
    id: KeyId,
    profile_id: &ProfileId,
    credentials: &NewCredentials,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Option<SqliteRow>, StoreError> {
    sqlx::query(statement)
        .bind(id.to_string())
        .bind(profile_id.as_str())
        .bind(&credentials.name)
        .bind(credentials.client_id.as_str())
        .bind(credentials.secret_hash.expose())
        .bind(credentials.key_for.as_str())
        .bind(to_micros(now))
        .bind(limit)
        .bind(credentials.scopes.to_string())
        .fetch_optional(connection)
        .await
        .map_err(StoreError::from_write)
}

/// Records a change in the audit log, in the transaction of the change.
async fn audit(connection: &mut SqliteConnection, event: AuditEvent) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_events
           (profile_id, at, action, key_id, client_id, name, scopes, actor_client_id, actor_address, actor_issuer)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .bind(event.profile_id.as_str())
    .bind(to_micros(event.at))
    .bind(event.action.as_str())
    .bind(event.key_id.to_string())
    .bind(event.client_id.as_ref().map(ClientId::as_str))
    .bind(event.name)
    .bind(event.scopes.map(|scopes| scopes.to_string()))
    .bind(event.actor.client_id.as_ref().map(ClientId::as_str))
    .bind(event.actor.address.map(|address| address.to_string()))
    .bind(event.actor.issuer)
    .execute(connection)
    .await?;
    Ok(())
}

/// Runs `insert`, whose parameters are a signing key's columns in order: kid, private key,
/// created, algorithm, sealed.
async fn write_signing_key(
    connection: &mut SqliteConnection,
    insert: &'static str,
    key: &SigningKeyRecord,
) -> Result<(), StoreError> {
    let (private_key, sealed) = key.private_key.columns();
    sqlx::query(insert)
        .bind(&key.kid)
        .bind(private_key)
        .bind(to_micros(key.created))
        .bind(key.algorithm.as_str())
        .bind(sealed)
        .execute(connection)
        .await?;
    Ok(())
}

/// What is known of the profile, read on `connection`.
async fn profile(
    connection: &mut SqliteConnection,
    profile_id: &ProfileId,
) -> Result<ProfileRecord, StoreError> {
    let row = sqlx::query("SELECT first_sign_in, last_sign_in, default_key_id FROM profiles WHERE id = ?1")
        .bind(profile_id.as_str())
        .fetch_optional(&mut *connection)
        .await?;
    let (mut first_sign_in, mut last_sign_in, mut default_key) = (None, None, None);
    if let Some(row) = row {
        first_sign_in = Some(from_micros(row.try_get("first_sign_in")?)?);
        last_sign_in = Some(from_micros(row.try_get("last_sign_in")?)?);
        if let Some(id) = row.try_get::<Option<String>, _>("default_key_id")? {
            let key = sqlx::query(concat!(
                "SELECT ",
                key_columns!(),
                " FROM api_keys WHERE id = ?1 AND profile_id = ?2 AND name IS NOT NULL"
            ))
            .bind(id)
            .bind(profile_id.as_str())
            .fetch_optional(&mut *connection)
            .await?;
            default_key = key.map(|row| key_state(&row)?.into_created()).transpose()?;
        }
    }
    let created_keys = count_created(connection, profile_id).await?;
    Ok(ProfileRecord { first_sign_in, last_sign_in, default_key, created_keys })
}

/// How many created keys the profile has.
async fn count_created(connection: &mut SqliteConnection, profile_id: &ProfileId) -> Result<u64, StoreError> {
    let total: i64 = sqlx::query_scalar(
        "SELECT coalesce((SELECT created_keys FROM profile_key_counts WHERE profile_id = ?1), 0)",
    )
    .bind(profile_id.as_str())
    .fetch_one(connection)
    .await?;
    Ok(u64::try_from(total).unwrap_or_default())
}

// Timestamps are stored as microseconds since the Unix epoch, UTC, so that they sort as numbers.
fn to_micros(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_micros()
}

fn from_micros(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| corrupt(format!("timestamp {micros}")))
}

fn parse_id(text: &str) -> Result<KeyId, StoreError> {
    Uuid::parse_str(text).map(KeyId::from).map_err(|_| corrupt(format!("key id {text:?}")))
}

fn key_state(row: &SqliteRow) -> Result<KeyState, StoreError> {
    KeyColumns {
        id: parse_id(&row.try_get::<String, _>("id")?)?,
        profile_id: row.try_get("profile_id")?,
        name: row.try_get("name")?,
        client_id: row.try_get("client_id")?,
        key_for: row.try_get("key_for")?,
        scopes: row.try_get("scopes")?,
        created: from_micros(row.try_get("created")?)?,
        last_modified: from_micros(row.try_get("last_modified")?)?,
    }
    .into_state()
}

#[async_trait]
impl Store for SqliteStore {
    async fn initialise(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        now: DateTime<Utc>,
        pending_limit: u32,
    ) -> Result<InitialisedKey, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(concat!(
            "INSERT INTO api_keys (id, profile_id, created, last_modified)
             SELECT ?1, ?2, ?3, ?3
             WHERE coalesce((SELECT initialised_keys FROM profile_key_counts WHERE profile_id = ?2), 0) < ?4
             RETURNING ",
            key_columns!()
        ))
        .bind(id.to_string())
        .bind(profile_id.as_str())
        .bind(to_micros(now))
        .bind(pending_limit)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        tx.commit().await?;
        match row {
            Some(row) => key_state(&row)?.into_initialised(),
            None => Err(StoreError::LimitReached(pending_limit)),
        }
    }

    async fn create_initialised(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        credentials: &NewCredentials,
        now: DateTime<Utc>,
        limit: u32,
        by: &Actor,
    ) -> Result<Key, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = write_key(
            &mut tx,
            concat!(
                "UPDATE api_keys
             SET name = ?3, client_id = ?4, secret_hash = ?5, key_for = ?6, created = ?7, last_modified = ?7,
                 scopes = ?9
             WHERE id = ?1 AND profile_id = ?2 AND name IS NULL
               AND coalesce((SELECT created_keys FROM profile_key_counts WHERE profile_id = ?2), 0) < ?8
             RETURNING ",
                key_columns!()
            ),
            id,
            profile_id,
            credentials,
            now,
            limit,
        )
        .await?;
        let outcome = match row {
            Some(row) => {
                let state = key_state(&row)?;
                audit(&mut tx, AuditEvent::of(AuditAction::Created, &state, now, by)).await?;
                let key = state.into_created()?;
                log_event(&mut tx, &key, KeyEventKind::Created, now).await?;
                Ok(key)
            }
            None => Err(explain_miss(&mut tx, profile_id, id, limit).await?),
        };
        tx.commit().await?;
        outcome
    }

    async fn insert_created(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        credentials: &NewCredentials,
        now: DateTime<Utc>,
        limit: u32,
        by: &Actor,
    ) -> Result<Key, StoreError> {
        let mut tx = self.begin_write().await?;
        let key = insert_created(&mut tx, profile_id, id, credentials, now, limit, by).await?;
        tx.commit().await?;
        Ok(key)
    }

    async fn rename(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        name: &str,
        scopes: Option<&Scopes>,
        now: DateTime<Utc>,
        by: &Actor,
    ) -> Result<Key, StoreError> {
        let mut tx = self.begin_write().await?;
        let before = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE id = ?1 AND profile_id = ?2 AND name IS NOT NULL"
        ))
        .bind(id.to_string())
        .bind(profile_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(before) = before else { return Err(StoreError::NotFound) };
        let before = key_state(&before)?.into_created()?;
        let row = sqlx::query(concat!(
            "UPDATE api_keys SET name = ?3, last_modified = max(?4, last_modified + 1), scopes = coalesce(?5, scopes)
             WHERE id = ?1 AND profile_id = ?2 AND name IS NOT NULL
             RETURNING ",
            key_columns!()
        ))
        .bind(id.to_string())
        .bind(profile_id.as_str())
        .bind(name)
        .bind(to_micros(now))
        .bind(scopes.map(Scopes::to_string))
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        let state = key_state(&row)?;
        for action in super::changes(&before, &state) {
            audit(&mut tx, AuditEvent::of(action, &state, now, by)).await?;
        }
        let key = state.into_created()?;
        log_event(&mut tx, &key, KeyEventKind::Changed, now).await?;
        tx.commit().await?;
        Ok(key)
    }

    async fn get(&self, profile_id: &ProfileId, id: KeyId) -> Result<Option<KeyState>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE id = ?1 AND profile_id = ?2"
        ))
        .bind(id.to_string())
        .bind(profile_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key_state).transpose()
    }

    async fn page(
        &self,
        profile_id: &ProfileId,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<Key>, u64), StoreError> {
        let mut tx = self.pool.begin().await?;
        let total = count_created(&mut tx, profile_id).await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE profile_id = ?1 AND name IS NOT NULL
             ORDER BY created DESC, id DESC LIMIT ?2 OFFSET ?3"
        ))
        .bind(profile_id.as_str())
        .bind(limit)
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let keys = rows.iter().map(|row| key_state(row)?.into_created()).collect::<Result<_, _>>()?;
        Ok((keys, total))
    }

    async fn page_after(
        &self,
        profile_id: &ProfileId,
        after: Option<(DateTime<Utc>, KeyId)>,
        limit: u32,
    ) -> Result<(Vec<Key>, u64), StoreError> {
        let mut tx = self.pool.begin().await?;
        let total = count_created(&mut tx, profile_id).await?;
        let rows = match after {
            None => {
                sqlx::query(concat!(
                    "SELECT ",
                    key_columns!(),
                    " FROM api_keys WHERE profile_id = ?1 AND name IS NOT NULL
                     ORDER BY created DESC, id DESC LIMIT ?2"
                ))
                .bind(profile_id.as_str())
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?
            }
            // The id is bound as the hyphenated lowercase text it is stored as: `id < ?3` then
            // compares as TEXT (BINARY collation), exactly as `ORDER BY id DESC` sorts.
            Some((created, id)) => {
                sqlx::query(concat!(
                    "SELECT ",
                    key_columns!(),
                    " FROM api_keys WHERE profile_id = ?1 AND name IS NOT NULL
                       AND (created < ?2 OR (created = ?2 AND id < ?3))
                     ORDER BY created DESC, id DESC LIMIT ?4"
                ))
                .bind(profile_id.as_str())
                .bind(to_micros(created))
                .bind(id.to_string())
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?
            }
        };
        tx.commit().await?;
        let keys = rows.iter().map(|row| key_state(row)?.into_created()).collect::<Result<_, _>>()?;
        Ok((keys, total))
    }

    async fn every_key(
        &self,
        profile_id: &ProfileId,
        key_for: Option<KeyType>,
    ) -> Result<Vec<Key>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE profile_id = ?1 AND name IS NOT NULL AND (?2 IS NULL OR key_for = ?2)
             ORDER BY created DESC, id DESC"
        ))
        .bind(profile_id.as_str())
        .bind(key_for.map(KeyType::as_str))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| key_state(row)?.into_created()).collect()
    }

    async fn delete_by_name(
        &self,
        profile_id: &ProfileId,
        name: &str,
        by: &Actor,
    ) -> Result<Option<Key>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(concat!(
            "DELETE FROM api_keys WHERE profile_id = ?1 AND name = ?2 RETURNING ",
            key_columns!()
        ))
        .bind(profile_id.as_str())
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let deleted = row.as_ref().map(|row| key_state(row)?.into_created()).transpose()?;
        if let Some(key) = deleted.clone() {
            let now = Utc::now();
            log_event(&mut tx, &key, KeyEventKind::Revoked, now).await?;
            audit(&mut tx, AuditEvent::of(AuditAction::Deleted, &KeyState::Created(key), now, by)).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn delete(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        by: &Actor,
    ) -> Result<Option<KeyState>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(concat!(
            "DELETE FROM api_keys WHERE id = ?1 AND profile_id = ?2 RETURNING ",
            key_columns!()
        ))
        .bind(id.to_string())
        .bind(profile_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let deleted = row.as_ref().map(key_state).transpose()?;
        let now = Utc::now();
        if let Some(KeyState::Created(key)) = &deleted {
            log_event(&mut tx, key, KeyEventKind::Revoked, now).await?;
        }
        if let Some(state) = &deleted {
            audit(&mut tx, AuditEvent::of(AuditAction::Deleted, state, now, by)).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn audit_events(
        &self,
        profile_id: &ProfileId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, profile_id, at, action, key_id, client_id, name, scopes, actor_client_id, actor_address,
                    actor_issuer
             FROM audit_events WHERE profile_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
        )
        .bind(profile_id.as_str())
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                super::AuditColumns {
                    seq: row.try_get("seq")?,
                    profile_id: row.try_get("profile_id")?,
                    at: from_micros(row.try_get("at")?)?,
                    action: row.try_get("action")?,
                    key_id: parse_id(&row.try_get::<String, _>("key_id")?)?,
                    client_id: row.try_get("client_id")?,
                    name: row.try_get("name")?,
                    scopes: row.try_get("scopes")?,
                    actor_client_id: row.try_get("actor_client_id")?,
                    actor_address: row.try_get("actor_address")?,
                    actor_issuer: row.try_get("actor_issuer")?,
                }
                .decode()
            })
            .collect()
    }

    async fn credential(&self, client_id: &ClientId) -> Result<Option<StoredCredential>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT secret_hash, ",
            key_columns!(),
            " FROM api_keys WHERE client_id = ?1"
        ))
        .bind(client_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(StoredCredential {
            key: key_state(&row)?.into_created()?,
            secret_hash: SecretHash::new(row.try_get("secret_hash")?),
        }))
    }

    async fn purge_initialised(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query("DELETE FROM api_keys WHERE name IS NULL AND created < ?1")
            .bind(to_micros(before))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(result.rows_affected())
    }

    async fn events_since(&self, since: DateTime<Utc>, after_seq: i64) -> Result<Vec<KeyEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, client_id, profile_id, kind, at FROM key_events
             WHERE at >= ?1 AND seq > ?2 ORDER BY seq",
        )
        .bind(to_micros(since))
        .bind(after_seq)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(KeyEvent {
                    seq: row.try_get("seq")?,
                    client_id: ClientId::new(row.try_get::<String, _>("client_id")?),
                    profile_id: row.try_get::<Option<String>, _>("profile_id")?.map(ProfileId::from),
                    kind: KeyEventKind::decode(row.try_get("kind")?)?,
                    at: from_micros(row.try_get("at")?)?,
                })
            })
            .collect()
    }

    /// Nothing announces a new row on SQLite (other processes may share the file): a short,
    /// indexed poll, so that a delete reaches every process well within a second.
    async fn wait_for_events(&self, at_most: Duration) {
        tokio::time::sleep(at_most.min(Duration::from_millis(200))).await;
    }

    async fn purge_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query("DELETE FROM key_events WHERE at < ?1")
            .bind(to_micros(before))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(result.rows_affected())
    }

    async fn purge_audit_events(&self, before: DateTime<Utc>, batch: u32) -> Result<u64, StoreError> {
        let mut purged = 0;
        loop {
            let mut tx = self.begin_write().await?;
            let deleted = sqlx::query(
                "DELETE FROM audit_events WHERE seq IN
                   (SELECT seq FROM audit_events WHERE at < ?1 ORDER BY at LIMIT ?2)",
            )
            .bind(to_micros(before))
            .bind(i64::from(batch))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            purged += deleted;
            if deleted < u64::from(batch) {
                return Ok(purged);
            }
        }
    }

    async fn record_sign_in(
        &self,
        profile_id: &ProfileId,
        now: DateTime<Utc>,
    ) -> Result<ProfileRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO profiles (id, first_sign_in, last_sign_in) VALUES (?1, ?2, ?2)
             ON CONFLICT (id) DO UPDATE SET last_sign_in = max(last_sign_in, excluded.last_sign_in)",
        )
        .bind(profile_id.as_str())
        .bind(to_micros(now))
        .execute(&mut *tx)
        .await?;
        let profile = profile(&mut tx, profile_id).await?;
        tx.commit().await?;
        Ok(profile)
    }

    async fn provision_default_key(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        credentials: &NewCredentials,
        now: DateTime<Utc>,
        limit: u32,
        by: &Actor,
    ) -> Result<Key, StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(key) = profile(&mut tx, profile_id).await?.default_key {
            return Ok(key);
        }
        let named = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE profile_id = ?1 AND name = ?2"
        ))
        .bind(profile_id.as_str())
        .bind(&credentials.name)
        .fetch_optional(&mut *tx)
        .await?;
        let key = match named {
            Some(row) => key_state(&row)?.into_created()?,
            None => {
                insert_created(&mut tx, profile_id, id, credentials, now, limit.saturating_add(1), by).await?
            }
        };
        sqlx::query(
            "INSERT INTO profiles (id, first_sign_in, last_sign_in, default_key_id) VALUES (?1, ?2, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET default_key_id = excluded.default_key_id",
        )
        .bind(profile_id.as_str())
        .bind(to_micros(now))
        .bind(key.id.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(key)
    }

    async fn profile(&self, profile_id: &ProfileId) -> Result<ProfileRecord, StoreError> {
        let mut connection = self.pool.acquire().await?;
        profile(&mut connection, profile_id).await
    }

    fn pool_usage(&self) -> Vec<PoolUsage> {
        vec![PoolUsage::of("read", &self.pool), PoolUsage::of("write", &self.writer)]
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, algorithm, private_key, sealed, created FROM signing_keys ORDER BY created, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SigningKeyRecord {
                    kid: row.try_get("kid")?,
                    algorithm: super::signing_algorithm(row.try_get("algorithm")?)?,
                    private_key: StoredPrivateKey::from_columns(
                        row.try_get("private_key")?,
                        row.try_get("sealed")?,
                    ),
                    created: from_micros(row.try_get("created")?)?,
                })
            })
            .collect()
    }

    async fn insert_first_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        write_signing_key(
            &mut tx,
            "INSERT INTO signing_keys (kid, private_key, created, algorithm, sealed)
             SELECT ?1, ?2, ?3, ?4, ?5
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE algorithm = ?4)",
            key,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        write_signing_key(
            &mut tx,
            "INSERT INTO signing_keys (kid, private_key, created, algorithm, sealed)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            key,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn seal_signing_key(
        &self,
        kid: &str,
        stored: &StoredPrivateKey,
        sealed: &str,
    ) -> Result<(), StoreError> {
        let (was, was_sealed) = stored.columns();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE signing_keys SET private_key = ?2, sealed = TRUE WHERE kid = ?1 AND private_key = ?3 AND sealed = ?4",
        )
            .bind(kid)
            .bind(sealed)
            .bind(was)
            .bind(was_sealed)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(n: usize) -> NewCredentials {
        NewCredentials {
            name: format!("key {n}"),
            key_for: KeyType::Generic,
            scopes: keyward_model::Scopes::all(),
            client_id: ClientId::new(format!("client{n}")),
            secret_hash: SecretHash::new("hash".to_owned()),
        }
    }

    /// The file holds secret hashes and signing keys: nobody but its owner reads it, nor its WAL.
    #[cfg(unix)]
    #[tokio::test]
    async fn the_database_and_its_wal_are_created_for_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let store = SqliteStore::connect(&DatabaseSettings::at(format!("sqlite://{}", path.display())))
            .await
            .unwrap();
        store
            .insert_created(
                &ProfileId::from("p"),
                KeyId::new_random(),
                &credentials(1),
                Utc::now(),
                50,
                &Actor::default(),
            )
            .await
            .unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.path().join(format!("keys.db{suffix}"));
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
        }
    }

    /// A database SQLite can only read (here opened read-only; in production a file system
    /// remounted read-only): every write is `Unavailable` (a 503), and reads go on.
    #[tokio::test]
    async fn writes_to_a_read_only_database_are_unavailable_and_reads_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let writable = SqliteStore::connect(&DatabaseSettings::at(format!("sqlite://{}", path.display())))
            .await
            .unwrap();
        let p = ProfileId::from("p");
        let key = writable
            .insert_created(&p, KeyId::new_random(), &credentials(1), Utc::now(), 50, &Actor::default())
            .await
            .unwrap();
        let read_only =
            SqliteStore::connect(&DatabaseSettings::at(format!("sqlite://{}?mode=ro", path.display())))
                .await
                .expect("a migrated database opens read-only");
        let refused = read_only
            .insert_created(&p, KeyId::new_random(), &credentials(2), Utc::now(), 50, &Actor::default())
            .await;
        assert!(matches!(refused, Err(StoreError::Unavailable(_))), "{refused:?}");
        let refused = read_only.delete(&p, key.id, &Actor::default()).await;
        assert!(matches!(refused, Err(StoreError::Unavailable(_))), "{refused:?}");
        let (keys, total) = read_only.page(&p, 0, 10).await.unwrap();
        assert_eq!((keys, total), (vec![key], 1), "nothing changed, and reads work");
    }

    /// Keys made in one microsecond are walked past by their id exactly as the listing orders them.
    #[tokio::test]
    async fn a_walk_after_positions_follows_the_listing_order_through_ties() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("keys.db").display());
        let store = SqliteStore::connect(&DatabaseSettings::at(url)).await.unwrap();
        let instants = [Utc::now(), Utc::now() - chrono::TimeDelta::seconds(1)];
        let (p, other) = (ProfileId::from("p"), ProfileId::from("other"));
        for n in 0..20 {
            store
                .insert_created(
                    &p,
                    KeyId::new_random(),
                    &credentials(n),
                    instants[n % 2],
                    50,
                    &Actor::default(),
                )
                .await
                .unwrap();
        }
        store
            .insert_created(&other, KeyId::new_random(), &credentials(99), instants[0], 50, &Actor::default())
            .await
            .unwrap();

        let (listed, total) = store.page(&p, 0, 100).await.unwrap();
        assert_eq!(total, 20);
        let mut expected: Vec<_> = listed.iter().map(|k| (to_micros(k.created), k.id.to_string())).collect();
        expected.sort_by(|a, b| b.cmp(a));
        assert_eq!(
            listed.iter().map(|k| (to_micros(k.created), k.id.to_string())).collect::<Vec<_>>(),
            expected
        );

        for limit in [1, 3, 7] {
            let mut walked = Vec::new();
            let mut after = None;
            // Bounded, so that a position that fails to advance fails the test instead of hanging it.
            for _ in 0..=20 {
                let (page, total) = store.page_after(&p, after, limit).await.unwrap();
                assert_eq!(total, 20);
                let Some(last) = page.last() else { break };
                after = Some((last.created, last.id));
                walked.extend(page);
            }
            assert_eq!(walked, listed, "limit {limit}");
        }
    }
}

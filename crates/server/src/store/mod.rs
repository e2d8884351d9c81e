//! Storage of keys and signing keys, behind one trait so that handlers never see a database.

mod postgres;
mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::{BackupError, SqliteStore};

use crate::config::DatabaseSettings;
pub use crate::hashing::SecretHash;
use crate::ids::{ClientId, KeyId, ProfileId};
use crate::tokens::SigningAlgorithm;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_model::{KeyType, Scopes};
use std::net::IpAddr;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("the limit of {0} keys is reached")]
    LimitReached(u32),
    #[error("a key with this name already exists")]
    NameTaken,
    #[error("the key is already created")]
    AlreadyCreated,
    #[error("unsupported database URL {0:?}: expected sqlite: or postgres:")]
    UnsupportedUrl(String),
    /// The database could not do the work now (a full disk, an I/O error, a read-only file, a
    /// lock held past the busy timeout, no connection): the request may succeed later, and a write
    /// that failed so changed nothing.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Anything else the database said: a defect, not a passing condition.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if is_unavailability(&error) { StoreError::Unavailable(error) } else { StoreError::Database(error) }
    }
}

impl StoreError {
    /// Maps a unique-constraint violation to [`StoreError::NameTaken`], the only uniqueness a
    /// caller can violate (ids and client ids are random and never collide in practice).
    pub(crate) fn from_write(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::NameTaken,
            _ => error.into(),
        }
    }
}

/// Whether `error` is the database failing to do the work rather than refusing it: the storage,
/// the connection or a lock, which a retry after a while may get past.
fn is_unavailability(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(db) => {
            if let Some(sqlite) = db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                sqlite::is_unavailability(sqlite)
            } else if let Some(postgres) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                postgres::is_unavailability(postgres)
            } else {
                false
            }
        }
        _ => false,
    }
}

/// A key whose id was reserved (`POST /api/apikeys`) but that was not created yet: it has no
/// name and no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialisedKey {
    pub id: KeyId,
    pub profile_id: ProfileId,
    pub created: DateTime<Utc>,
}

/// A created key: named, typed, with credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub id: KeyId,
    pub profile_id: ProfileId,
    pub name: String,
    pub client_id: ClientId,
    pub key_for: KeyType,
    /// What the key may do.
    pub scopes: Scopes,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
}

#[cfg(test)]
impl Key {
    /// A created key of `profile_id` named `k`, with client id `c`, made now: for unit tests.
    pub(crate) fn sample(profile_id: &str) -> Self {
        Key {
            id: KeyId::new_random(),
            profile_id: profile_id.into(),
            name: "k".into(),
            client_id: "c".into(),
            key_for: KeyType::Generic,
            scopes: Scopes::all(),
            created: Utc::now(),
            last_modified: Utc::now(),
        }
    }
}

/// What is known of a profile: when its person signed in through an identity provider (never, for
/// a profile whose keys an operator made), the key provisioned at the first sign-in, and how many
/// created keys it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRecord {
    pub first_sign_in: Option<DateTime<Utc>>,
    pub last_sign_in: Option<DateTime<Utc>>,
    /// The profile's `default` key, while it exists.
    pub default_key: Option<Key>,
    pub created_keys: u64,
}

/// The most audit events one transaction of the hourly purge deletes.
pub const AUDIT_PURGE_BATCH: u32 = 10_000;

/// One connection pool's use at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// What the pool serves: `read`, `write`, or `all` where one pool serves both.
    pub pool: &'static str,
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

impl PoolUsage {
    pub(crate) fn of<DB: sqlx::Database>(pool: &'static str, connections: &sqlx::Pool<DB>) -> Self {
        let idle = u32::try_from(connections.num_idle()).unwrap_or(u32::MAX);
        Self { pool, open: connections.size(), idle, max: connections.options().get_max_connections() }
    }
}

/// A stored key in either state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    Initialised(InitialisedKey),
    Created(Key),
}

impl KeyState {
    /// The created key a query selected as such; an initialised one there is a damaged row.
    pub(crate) fn into_created(self) -> Result<Key, StoreError> {
        match self {
            KeyState::Created(key) => Ok(key),
            KeyState::Initialised(key) => Err(corrupt(format!("key {} has no name", key.id))),
        }
    }

    /// The initialised key a query selected as such.
    pub(crate) fn into_initialised(self) -> Result<InitialisedKey, StoreError> {
        match self {
            KeyState::Initialised(key) => Ok(key),
            KeyState::Created(key) => Err(corrupt(format!("key {} is already created", key.id))),
        }
    }
}

/// A key row's columns, once each backend has decoded its own encodings of them.
pub(crate) struct KeyColumns {
    pub id: KeyId,
    pub profile_id: String,
    pub name: Option<String>,
    pub client_id: Option<String>,
    pub key_for: String,
    pub scopes: String,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
}

impl KeyColumns {
    /// The key they describe: created when it has a name (the schema makes name, client id and
    /// secret hash present together).
    pub(crate) fn into_state(self) -> Result<KeyState, StoreError> {
        let (id, profile_id, created) = (self.id, ProfileId::new(self.profile_id), self.created);
        let (Some(name), Some(client_id)) = (self.name, self.client_id) else {
            return Ok(KeyState::Initialised(InitialisedKey { id, profile_id, created }));
        };
        let key_for = self.key_for.parse().map_err(|_| corrupt(format!("key type {:?}", self.key_for)))?;
        let scopes = self.scopes.parse().map_err(|_| corrupt(format!("scopes {:?}", self.scopes)))?;
        Ok(KeyState::Created(Key {
            id,
            profile_id,
            name,
            client_id: ClientId::new(client_id),
            key_for,
            scopes,
            created,
            last_modified: self.last_modified,
        }))
    }
}

/// A stored value that does not decode: a damaged database, never a default.
pub(crate) fn corrupt(what: String) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(what.into()))
}

/// Why a conditional create of a key matched no row, from whether the profile has the key and
/// whether it is created.
pub(crate) fn explain_miss(created: Option<bool>, limit: u32) -> StoreError {
    match created {
        None => StoreError::NotFound,
        Some(true) => StoreError::AlreadyCreated,
        Some(false) => StoreError::LimitReached(limit),
    }
}

/// What makes a key usable: its name, type and hashed credentials. Its hash is zeroed when it is
/// dropped and never printed.
#[derive(Clone)]
pub struct NewCredentials {
    pub name: String,
    pub key_for: KeyType,
    pub scopes: Scopes,
    pub client_id: ClientId,
    pub secret_hash: SecretHash,
}

impl std::fmt::Debug for NewCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredentials")
            .field("name", &self.name)
            .field("key_for", &self.key_for)
            .field("scopes", &self.scopes)
            .field("client_id", &self.client_id)
            .field("secret_hash", &REDACTED)
            .finish()
    }
}

/// A created key and the hash that verifies its secret, zeroed when it is dropped and never
/// printed.
#[derive(Clone)]
pub struct StoredCredential {
    pub key: Key,
    pub secret_hash: SecretHash,
}

impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredential").field("key", &self.key).field("secret_hash", &REDACTED).finish()
    }
}

/// What `Debug` shows of a secret hash: whatever type holds it, so that the field's type alone
/// is not all that keeps the hash out of logs.
const REDACTED: &str = "<redacted>";

/// What another instance must learn about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEventKind {
    /// Deleted: its credentials and tokens are refused from now on.
    Revoked,
    /// Renamed: what is cached about it is stale.
    Changed,
    /// Created: its profile's list has grown.
    Created,
}

impl KeyEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyEventKind::Revoked => "revoked",
            KeyEventKind::Changed => "changed",
            KeyEventKind::Created => "created",
        }
    }

    /// The kind a log row stores; anything else is a damaged row.
    pub(crate) fn decode(text: &str) -> Result<Self, StoreError> {
        match text {
            "revoked" => Ok(KeyEventKind::Revoked),
            "changed" => Ok(KeyEventKind::Changed),
            "created" => Ok(KeyEventKind::Created),
            other => Err(corrupt(format!("event kind {other:?}"))),
        }
    }
}

/// One row of the key events log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    pub seq: i64,
    pub client_id: ClientId,
    /// The key's profile; absent from rows written before events named it.
    pub profile_id: Option<ProfileId>,
    pub kind: KeyEventKind,
    pub at: DateTime<Utc>,
}

/// Who made a change, for the audit log: the key the caller authenticated as and the address it
/// called from; neither for the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub client_id: Option<ClientId>,
    pub address: Option<IpAddr>,
    /// The identity provider a person signed in through, acting through their default key (or
    /// having it provisioned); `None` when a key's own credentials acted.
    pub issuer: Option<String>,
}

/// What an audit event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    Created,
    Renamed,
    ScopesChanged,
    Deleted,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Created => "created",
            AuditAction::Renamed => "renamed",
            AuditAction::ScopesChanged => "scopes_changed",
            AuditAction::Deleted => "deleted",
        }
    }

    pub(crate) fn decode(text: &str) -> Result<Self, StoreError> {
        [AuditAction::Created, AuditAction::Renamed, AuditAction::ScopesChanged, AuditAction::Deleted]
            .into_iter()
            .find(|action| action.as_str() == text)
            .ok_or_else(|| corrupt(format!("audit action {text:?}")))
    }
}

/// One change to a profile's keys: what, to which key (as it was after the change, or before a
/// delete), when, and by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub seq: i64,
    pub profile_id: ProfileId,
    pub at: DateTime<Utc>,
    pub action: AuditAction,
    pub key_id: KeyId,
    /// Absent for an initialised key deleted before it was created.
    pub client_id: Option<ClientId>,
    pub name: Option<String>,
    pub scopes: Option<Scopes>,
    pub actor: Actor,
}

impl AuditEvent {
    /// The record of `action` on `key` (as it is after the change, or before a delete); the
    /// store numbers it.
    pub(crate) fn of(action: AuditAction, key: &KeyState, at: DateTime<Utc>, by: &Actor) -> Self {
        let (key_id, profile_id, client_id, name, scopes) = match key {
            KeyState::Created(key) => (
                key.id,
                key.profile_id.clone(),
                Some(key.client_id.clone()),
                Some(key.name.clone()),
                Some(key.scopes.clone()),
            ),
            KeyState::Initialised(key) => (key.id, key.profile_id.clone(), None, None, None),
        };
        AuditEvent { seq: 0, profile_id, at, action, key_id, client_id, name, scopes, actor: by.clone() }
    }
}

/// What a rename changed: the name, the scopes, or both (a rename to the same name and scopes
/// records nothing).
pub(crate) fn changes(before: &Key, after: &KeyState) -> Vec<AuditAction> {
    let KeyState::Created(after) = after else { return Vec::new() };
    let mut changes = Vec::new();
    if before.name != after.name {
        changes.push(AuditAction::Renamed);
    }
    if before.scopes != after.scopes {
        changes.push(AuditAction::ScopesChanged);
    }
    changes
}

/// An audit row's columns, once each backend has decoded its own encodings of them.
pub(crate) struct AuditColumns {
    pub seq: i64,
    pub profile_id: String,
    pub at: DateTime<Utc>,
    pub action: String,
    pub key_id: KeyId,
    pub client_id: Option<String>,
    pub name: Option<String>,
    pub scopes: Option<String>,
    pub actor_client_id: Option<String>,
    pub actor_address: Option<String>,
    pub actor_issuer: Option<String>,
}

impl AuditColumns {
    pub(crate) fn decode(self) -> Result<AuditEvent, StoreError> {
        let scopes = self
            .scopes
            .map(|text| text.parse().map_err(|_| corrupt(format!("scopes {text:?}"))))
            .transpose()?;
        let address = self
            .actor_address
            .map(|text| text.parse().map_err(|_| corrupt(format!("address {text:?}"))))
            .transpose()?;
        Ok(AuditEvent {
            seq: self.seq,
            profile_id: ProfileId::new(self.profile_id),
            at: self.at,
            action: AuditAction::decode(&self.action)?,
            key_id: self.key_id,
            client_id: self.client_id.map(ClientId::new),
            name: self.name,
            scopes,
            actor: Actor {
                client_id: self.actor_client_id.map(ClientId::new),
                address,
                issuer: self.actor_issuer,
            },
        })
    }
}

/// The algorithm a stored signing key row names.
pub(crate) fn signing_algorithm(name: &str) -> Result<SigningAlgorithm, StoreError> {
    SigningAlgorithm::from_name(name).ok_or_else(|| corrupt(format!("signing key algorithm {name:?}")))
}

/// A token-signing key pair as stored. Of each algorithm, the newest key signs.
#[derive(Clone)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    pub private_key: StoredPrivateKey,
    pub created: DateTime<Utc>,
}

/// A signing key's private key as a row holds it (its `sealed` column says which).
#[derive(Clone)]
pub enum StoredPrivateKey {
    /// PKCS#8 PEM, as stored while no secret key is configured.
    Clear(String),
    /// The PEM sealed with the deployment's secret key (`tokens::sealing`).
    Sealed(String),
}

impl StoredPrivateKey {
    /// The `private_key` and `sealed` columns.
    pub(crate) fn columns(&self) -> (&str, bool) {
        match self {
            StoredPrivateKey::Clear(pem) => (pem, false),
            StoredPrivateKey::Sealed(sealed) => (sealed, true),
        }
    }

    pub(crate) fn from_columns(private_key: String, sealed: bool) -> Self {
        if sealed { StoredPrivateKey::Sealed(private_key) } else { StoredPrivateKey::Clear(private_key) }
    }
}

/// Where keys and signing keys are kept.
///
/// **Audited.** Every create, rename, scope change and delete of a key writes its
/// [`AuditEvent`] in the transaction of the change: a change is never without its record.
///
/// **Acknowledged means committed.** Every method that writes returns `Ok` only after the
/// transaction holding its change has committed, and the backend's durability setting makes a
/// commit survive a crash and a power cut. A write that returns an error changed nothing; when the
/// cause is the database rather than the request (no space, an I/O error, a read-only file, a lock
/// held past its timeout, a lost connection) the error is [`StoreError::Unavailable`], which the
/// API answers with 503.
///
/// **Under concurrency**, from any number of callers and instances on one database: a profile
/// never holds more created keys than the `limit` a create is given, nor more initialised keys
/// than its `pending_limit`; a name is taken by one created key of a profile at a time (the
/// others get [`StoreError::NameTaken`]); an initialised key is created once (the others get
/// [`StoreError::AlreadyCreated`]); and of each algorithm, the signing key stored first is the
/// one every instance reads first. No guarantee rests on a read followed by a write outside one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores an initialised key, unless the profile already has `pending_limit` of them.
    async fn initialise(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        now: DateTime<Utc>,
        pending_limit: u32,
    ) -> Result<InitialisedKey, StoreError>;

    /// Turns an initialised key into a created one, unless the profile already has `limit` keys:
    /// [`StoreError::AlreadyCreated`] when it is created, [`StoreError::NotFound`] when the
    /// profile has no such key.
    async fn create_initialised(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        credentials: &NewCredentials,
        now: DateTime<Utc>,
        limit: u32,
        by: &Actor,
    ) -> Result<Key, StoreError>;

    /// Stores a created key in one step, unless the profile already has `limit` keys.
    async fn insert_created(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        credentials: &NewCredentials,
        now: DateTime<Utc>,
        limit: u32,
        by: &Actor,
    ) -> Result<Key, StoreError>;

    /// Renames a created key of the profile and, when `scopes` are given, sets its scopes; logs a
    /// [`KeyEventKind::Changed`] event for it in the same transaction. `lastModified` only moves
    /// forward: a change that commits after another has the later time, whatever clock `now` read
    /// before it waited for its turn.
    async fn rename(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        name: &str,
        scopes: Option<&Scopes>,
        now: DateTime<Utc>,
        by: &Actor,
    ) -> Result<Key, StoreError>;

    /// A key of the profile, created or initialised.
    async fn get(&self, profile_id: &ProfileId, id: KeyId) -> Result<Option<KeyState>, StoreError>;

    /// A page of the profile's created keys, newest first (ties by descending id), and their total
    /// count.
    async fn page(
        &self,
        profile_id: &ProfileId,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<Key>, u64), StoreError>;

    /// Up to `limit` of the profile's created keys that come strictly after the position `after`
    /// (a key's `created` and `id`; `None` is before the newest key) in the order of
    /// [`Store::page`], and the count of all of them. A position need not name an existing key.
    async fn page_after(
        &self,
        profile_id: &ProfileId,
        after: Option<(DateTime<Utc>, KeyId)>,
        limit: u32,
    ) -> Result<(Vec<Key>, u64), StoreError>;

    /// Every created key of the profile, of one type or of all, newest first.
    async fn every_key(
        &self,
        profile_id: &ProfileId,
        key_for: Option<KeyType>,
    ) -> Result<Vec<Key>, StoreError>;

    /// Deletes the profile's key named `name` and returns it, logging a [`KeyEventKind::Revoked`]
    /// event in the same transaction.
    async fn delete_by_name(
        &self,
        profile_id: &ProfileId,
        name: &str,
        by: &Actor,
    ) -> Result<Option<Key>, StoreError>;

    /// Deletes a key of the profile, created or initialised, and returns it; a created key's
    /// delete logs a [`KeyEventKind::Revoked`] event in the same transaction.
    async fn delete(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        by: &Actor,
    ) -> Result<Option<KeyState>, StoreError>;

    /// Up to `limit` of the profile's audit events, newest first, those before the sequence
    /// number `before` when given.
    async fn audit_events(
        &self,
        profile_id: &ProfileId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    /// The created key whose client id this is, and its secret's hash.
    async fn credential(&self, client_id: &ClientId) -> Result<Option<StoredCredential>, StoreError>;

    /// Deletes initialised keys older than `before`; returns how many.
    async fn purge_initialised(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// The key events logged at or after `since`, in log order. A backend whose rows become
    /// visible in sequence order (SQLite, whose writers take turns) leaves out those at or below
    /// `after_seq`, which the caller has applied; one whose rows may become visible out of order
    /// (PostgreSQL, where a transaction may commit after a later one) returns them all.
    async fn events_since(&self, since: DateTime<Utc>, after_seq: i64) -> Result<Vec<KeyEvent>, StoreError>;

    /// Waits until another instance may have logged an event (PostgreSQL's `NOTIFY`), or at most
    /// `at_most`; without notifications, simply waits.
    async fn wait_for_events(&self, at_most: std::time::Duration);

    /// Deletes key events logged before `before`; returns how many.
    async fn purge_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Deletes audit events recorded before `before`, oldest first, in transactions of at most
    /// `batch` rows, so that writers wait for no long delete; returns how many.
    async fn purge_audit_events(&self, before: DateTime<Utc>, batch: u32) -> Result<u64, StoreError>;

    /// Records a sign-in of the profile at `now` (its first, when the profile is new) and returns
    /// the profile as it is after it.
    async fn record_sign_in(
        &self,
        profile_id: &ProfileId,
        now: DateTime<Utc>,
    ) -> Result<ProfileRecord, StoreError>;

    /// The profile's default key: the one it has, else its created key named `default`, else a
    /// new key made of `credentials` (whose name is `default`) under the id `id`, which may be
    /// one beyond `limit`. The choice and the create are one transaction: concurrent sign-ins
    /// agree on one key.
    async fn provision_default_key(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        credentials: &NewCredentials,
        now: DateTime<Utc>,
        limit: u32,
        by: &Actor,
    ) -> Result<Key, StoreError>;

    /// What is known of the profile; a profile never seen has no sign-ins and no keys.
    async fn profile(&self, profile_id: &ProfileId) -> Result<ProfileRecord, StoreError>;

    /// How full each connection pool is now, for the metrics.
    fn pool_usage(&self) -> Vec<PoolUsage>;

    /// Whether the database answers a trivial query now.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Every signing key, oldest first (ties by `kid`).
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;

    /// Stores `key` only if there is no signing key of its algorithm yet, so that instances
    /// starting together on one database agree on one key of each algorithm.
    async fn insert_first_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;

    /// Stores `key` beside the others: a rotation.
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;

    /// Replaces the private key of `kid` by `sealed` if the row still holds `stored`, as it was
    /// read; a key sealed meanwhile (by another instance starting) is left as it is.
    async fn seal_signing_key(
        &self,
        kid: &str,
        stored: &StoredPrivateKey,
        sealed: &str,
    ) -> Result<(), StoreError>;
}

/// Opens the store that the settings' URL names (SQLite or PostgreSQL, by its scheme) and brings
/// its schema up to date.
pub async fn connect(settings: &DatabaseSettings) -> Result<Arc<dyn Store>, StoreError> {
    let url = settings.database_url.as_str();
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(settings).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(settings).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

    #[test]
    fn credentials_print_without_their_hash() {
        let key = Key::sample("p");
        let new = NewCredentials {
            name: key.name.clone(),
            key_for: key.key_for,
            scopes: key.scopes.clone(),
            client_id: key.client_id.clone(),
            secret_hash: SecretHash::new(HASH.to_owned()),
        };
        let stored = StoredCredential { key, secret_hash: SecretHash::new(HASH.to_owned()) };
        for shown in [
            format!("{new:?}"),
            format!("{new:#?}"),
            format!("{stored:?}"),
            format!("{stored:#?}"),
            format!("{:?}", stored.secret_hash),
        ] {
            assert!(!shown.contains("argon2") && !shown.contains("c2FsdHNhbHQ"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        assert!(format!("{stored:?}").contains("client_id"), "the rest is shown");
    }
}

//! PostgreSQL, for deployments where several instances share one database.
//!
//! Under READ COMMITTED a count followed by an insert can interleave with another instance's, so
//! every write that must respect a profile's limit first takes a transaction-scoped advisory lock
//! on the profile (`pg_advisory_xact_lock(hashtextextended(profile_id, 0))`): writes of one
//! profile run one at a time, those of different profiles in parallel. Every write commits before
//! it returns, as the `Store` contract asks.

use super::{
    Actor, AuditAction, AuditEvent, InitialisedKey, Key, KeyColumns, KeyEvent, KeyEventKind, KeyState,
    NewCredentials, PoolUsage, ProfileRecord, SecretHash, SigningKeyRecord, Store, StoreError,
    StoredCredential, StoredPrivateKey,
};
use crate::config::DatabaseSettings;
use crate::ids::{ClientId, KeyId, ProfileId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_model::{KeyType, Scopes};
use sqlx::postgres::{PgConnectOptions, PgDatabaseError, PgListener, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// The channel on which a logged key event is announced.
const EVENTS_CHANNEL: &str = "keyward_key_events";

/// The columns of a key, for `concat!` into static SQL.
macro_rules! key_columns {
    () => {
        "id, profile_id, name, client_id, key_for, scopes, created, last_modified"
    };
}

pub struct PostgresStore {
    pool: PgPool,
    /// Woken when a key event is announced, or when the listener reconnected (and may have missed
    /// announcements).
    events: Arc<Notify>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PostgresStore {
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let statement_timeout = settings.statement_timeout().as_millis().to_string();
        let options = PgConnectOptions::from_str(&settings.database_url)?
            .options([("statement_timeout", statement_timeout.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.database_max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout())
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let events = Arc::new(Notify::new());
        let listener = tokio::spawn(listen(pool.clone(), events.clone()));
        Ok(Self { pool, events, listener })
    }

    /// A write transaction holding the profile's advisory lock.
    async fn begin_for(&self, profile_id: &ProfileId) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(profile_id.as_str())
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

/// Wakes `events` on every announcement, and after every reconnection: a notification sent while
/// the connection was down is lost, so the poll must look at once.
async fn listen(pool: PgPool, events: Arc<Notify>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "key events: cannot listen; polling only, retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(EVENTS_CHANNEL).await {
            tracing::warn!(%error, "key events: LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        events.notify_one();
        loop {
            match listener.try_recv().await {
                // An announcement, or (None) a lost connection that the next call re-establishes.
                Ok(_) => events.notify_one(),
                Err(error) => {
                    tracing::warn!(%error, "key events: the listener failed; reconnecting");
                    events.notify_one();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

/// Logs a key event in the transaction of the change it reports, and announces it at commit.
async fn log_event(connection: &mut PgConnection, key: &Key, kind: KeyEventKind) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO key_events (client_id, profile_id, kind, at) VALUES ($1, $2, $3, now())")
        .bind(key.client_id.as_str())
        .bind(key.profile_id.as_str())
        .bind(kind.as_str())
        .execute(&mut *connection)
        .await?;
    sqlx::query("SELECT pg_notify($1, '')").bind(EVENTS_CHANNEL).execute(&mut *connection).await?;
    Ok(())
}

/// Whether PostgreSQL failed for want of a connection, resources or time rather than refusing the
/// request, by SQLSTATE class: connection exceptions (08), transaction rollbacks such as
/// serialization failures and deadlocks (40), insufficient resources (53), operator intervention
/// such as a cancelled statement or a shutdown (57), system errors (58), and a lock not available
/// (55P03).
pub(super) fn is_unavailability(error: &PgDatabaseError) -> bool {
    let code = error.code();
    matches!(code.get(..2), Some("08" | "40" | "53" | "57" | "58")) || code == "55P03"
}

fn key_state(row: &PgRow) -> Result<KeyState, StoreError> {
    KeyColumns {
        id: KeyId::from(row.try_get::<Uuid, _>("id")?),
        profile_id: row.try_get("profile_id")?,
        name: row.try_get("name")?,
        client_id: row.try_get("client_id")?,
        key_for: row.try_get("key_for")?,
        scopes: row.try_get("scopes")?,
        created: row.try_get("created")?,
        last_modified: row.try_get("last_modified")?,
    }
    .into_state()
}

/// Inserts a created key unless the profile already has `limit`, with its audit record and key
/// event, in the caller's transaction.
async fn insert_created(
    connection: &mut PgConnection,
    profile_id: &ProfileId,
    id: KeyId,
    credentials: &NewCredentials,
    now: DateTime<Utc>,
    limit: u32,
    by: &Actor,
) -> Result<Key, StoreError> {
    let row = write_key(connection, concat!(
        "INSERT INTO api_keys (id, profile_id, name, client_id, secret_hash, key_for, created, last_modified, scopes)
         SELECT $1, $2, $3, $4, $5, $6, $7, $7, $9
         WHERE coalesce((SELECT created_keys FROM profile_key_counts WHERE profile_id = $2), 0) < $8
         RETURNING ",
        key_columns!()
    ), id, profile_id, credentials, now, limit).await?;
    let Some(row) = row else { return Err(StoreError::LimitReached(limit)) };
    let state = key_state(&row)?;
    audit(connection, AuditEvent::of(AuditAction::Created, &state, now, by)).await?;
    let key = state.into_created()?;
    log_event(connection, &key, KeyEventKind::Created).await?;
    Ok(key)
}

/// Runs `statement`, a write of a created key whose parameters are, in order, its id, profile,
/// name, client id, secret hash, type, creation time, the profile's limit and its scopes; returns
/// the row it returns.
async fn write_key(
    connection: &mut PgConnection,
    statement: &'static str,
    id: KeyId,
    profile_id: &ProfileId,
    credentials: &NewCredentials,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Option<PgRow>, StoreError> {
    sqlx::query(statement)
        .bind(id.as_uuid())
        .bind(profile_id.as_str())
        .bind(&credentials.name)
        .bind(credentials.client_id.as_str())
        .bind(credentials.secret_hash.expose())
        .bind(credentials.key_for.as_str())
        .bind(now)
        .bind(i64::from(limit))
        .bind(credentials.scopes.to_string())
        .fetch_optional(connection)
        .await
        .map_err(StoreError::from_write)
}

/// Records a change in the audit log, in the transaction of the change.
async fn audit(connection: &mut PgConnection, event: AuditEvent) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_events
           (profile_id, at, action, key_id, client_id, name, scopes, actor_client_id, actor_address, actor_issuer)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(event.profile_id.as_str())
    .bind(event.at)
    .bind(event.action.as_str())
    .bind(event.key_id.as_uuid())
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
    connection: &mut PgConnection,
    insert: &'static str,
    key: &SigningKeyRecord,
) -> Result<(), StoreError> {
    let (private_key, sealed) = key.private_key.columns();
    sqlx::query(insert)
        .bind(&key.kid)
        .bind(private_key)
        .bind(key.created)
        .bind(key.algorithm.as_str())
        .bind(sealed)
        .execute(connection)
        .await?;
    Ok(())
}

/// What is known of the profile, read on `connection`.
async fn profile(connection: &mut PgConnection, profile_id: &ProfileId) -> Result<ProfileRecord, StoreError> {
    let row = sqlx::query("SELECT first_sign_in, last_sign_in, default_key_id FROM profiles WHERE id = $1")
        .bind(profile_id.as_str())
        .fetch_optional(&mut *connection)
        .await?;
    let (mut first_sign_in, mut last_sign_in, mut default_key) = (None, None, None);
    if let Some(row) = row {
        first_sign_in = Some(row.try_get("first_sign_in")?);
        last_sign_in = Some(row.try_get("last_sign_in")?);
        if let Some(id) = row.try_get::<Option<Uuid>, _>("default_key_id")? {
            let key = sqlx::query(concat!(
                "SELECT ",
                key_columns!(),
                " FROM api_keys WHERE id = $1 AND profile_id = $2 AND name IS NOT NULL"
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
async fn count_created(connection: &mut PgConnection, profile_id: &ProfileId) -> Result<u64, StoreError> {
    let total: i64 = sqlx::query_scalar(
        "SELECT coalesce((SELECT created_keys FROM profile_key_counts WHERE profile_id = $1), 0)",
    )
    .bind(profile_id.as_str())
    .fetch_one(connection)
    .await?;
    Ok(u64::try_from(total).unwrap_or_default())
}

/// Why a conditional update of `id` matched no row.
async fn explain_miss(
    connection: &mut PgConnection,
    profile_id: &ProfileId,
    id: KeyId,
    limit: u32,
) -> Result<StoreError, StoreError> {
    let created: Option<bool> =
        sqlx::query_scalar("SELECT name IS NOT NULL FROM api_keys WHERE id = $1 AND profile_id = $2")
            .bind(id.as_uuid())
            .bind(profile_id.as_str())
            .fetch_optional(connection)
            .await?;
    Ok(super::explain_miss(created, limit))
}

#[async_trait]
impl Store for PostgresStore {
    async fn initialise(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        now: DateTime<Utc>,
        pending_limit: u32,
    ) -> Result<InitialisedKey, StoreError> {
        let mut tx = self.begin_for(profile_id).await?;
        let row = sqlx::query(concat!(
            "INSERT INTO api_keys (id, profile_id, created, last_modified)
             SELECT $1, $2, $3, $3
             WHERE coalesce((SELECT initialised_keys FROM profile_key_counts WHERE profile_id = $2), 0) < $4
             RETURNING ",
            key_columns!()
        ))
        .bind(id.as_uuid())
        .bind(profile_id.as_str())
        .bind(now)
        .bind(i64::from(pending_limit))
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
        let mut tx = self.begin_for(profile_id).await?;
        let row = write_key(
            &mut tx,
            concat!(
                "UPDATE api_keys
             SET name = $3, client_id = $4, secret_hash = $5, key_for = $6, created = $7, last_modified = $7,
                 scopes = $9
             WHERE id = $1 AND profile_id = $2 AND name IS NULL
               AND coalesce((SELECT created_keys FROM profile_key_counts WHERE profile_id = $2), 0) < $8
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
                log_event(&mut tx, &key, KeyEventKind::Created).await?;
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
        let mut tx = self.begin_for(profile_id).await?;
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
        // The profile's lock is held: the key read here is the one the update changes.
        let mut tx = self.begin_for(profile_id).await?;
        let before = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE id = $1 AND profile_id = $2 AND name IS NOT NULL"
        ))
        .bind(id.as_uuid())
        .bind(profile_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(before) = before else { return Err(StoreError::NotFound) };
        let before = key_state(&before)?.into_created()?;
        let row = sqlx::query(concat!(
            "UPDATE api_keys
             SET name = $3, last_modified = greatest($4, last_modified + interval '1 microsecond'),
                 scopes = coalesce($5, scopes)
             WHERE id = $1 AND profile_id = $2 AND name IS NOT NULL
             RETURNING ",
            key_columns!()
        ))
        .bind(id.as_uuid())
        .bind(profile_id.as_str())
        .bind(name)
        .bind(now)
        .bind(scopes.map(Scopes::to_string))
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        let state = key_state(&row)?;
        for action in super::changes(&before, &state) {
            audit(&mut tx, AuditEvent::of(action, &state, now, by)).await?;
        }
        let key = state.into_created()?;
        log_event(&mut tx, &key, KeyEventKind::Changed).await?;
        tx.commit().await?;
        Ok(key)
    }

    async fn get(&self, profile_id: &ProfileId, id: KeyId) -> Result<Option<KeyState>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE id = $1 AND profile_id = $2"
        ))
        .bind(id.as_uuid())
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
            " FROM api_keys WHERE profile_id = $1 AND name IS NOT NULL
             ORDER BY created DESC, id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(profile_id.as_str())
        .bind(i64::from(limit))
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
        // uuid compares bytewise, in the order of its text: the same order as SQLite's.
        let rows = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE profile_id = $1 AND name IS NOT NULL
               AND ($2::timestamptz IS NULL OR (created, id) < ($2, $3))
             ORDER BY created DESC, id DESC LIMIT $4"
        ))
        .bind(profile_id.as_str())
        .bind(after.map(|(created, _)| created))
        .bind(after.map(|(_, id)| id.as_uuid()))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
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
            " FROM api_keys WHERE profile_id = $1 AND name IS NOT NULL AND ($2::text IS NULL OR key_for = $2)
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
        let mut tx = self.begin_for(profile_id).await?;
        let row = sqlx::query(concat!(
            "DELETE FROM api_keys WHERE profile_id = $1 AND name = $2 RETURNING ",
            key_columns!()
        ))
        .bind(profile_id.as_str())
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let deleted = row.as_ref().map(|row| key_state(row)?.into_created()).transpose()?;
        if let Some(key) = deleted.clone() {
            log_event(&mut tx, &key, KeyEventKind::Revoked).await?;
            audit(&mut tx, AuditEvent::of(AuditAction::Deleted, &KeyState::Created(key), Utc::now(), by))
                .await?;
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
        let mut tx = self.begin_for(profile_id).await?;
        let row = sqlx::query(concat!(
            "DELETE FROM api_keys WHERE id = $1 AND profile_id = $2 RETURNING ",
            key_columns!()
        ))
        .bind(id.as_uuid())
        .bind(profile_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let deleted = row.as_ref().map(key_state).transpose()?;
        if let Some(KeyState::Created(key)) = &deleted {
            log_event(&mut tx, key, KeyEventKind::Revoked).await?;
        }
        if let Some(state) = &deleted {
            audit(&mut tx, AuditEvent::of(AuditAction::Deleted, state, Utc::now(), by)).await?;
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
             FROM audit_events WHERE profile_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(profile_id.as_str())
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                super::AuditColumns {
                    seq: row.try_get("seq")?,
                    profile_id: row.try_get("profile_id")?,
                    at: row.try_get("at")?,
                    action: row.try_get("action")?,
                    key_id: KeyId::from(row.try_get::<Uuid, _>("key_id")?),
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
            " FROM api_keys WHERE client_id = $1"
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
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query("DELETE FROM api_keys WHERE name IS NULL AND created < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(result.rows_affected())
    }

    async fn events_since(&self, since: DateTime<Utc>, _after_seq: i64) -> Result<Vec<KeyEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, client_id, profile_id, kind, at FROM key_events WHERE at >= $1 ORDER BY seq",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(KeyEvent {
                    seq: row.try_get("seq")?,
                    client_id: ClientId::new(row.try_get::<String, _>("client_id")?),
                    profile_id: row.try_get::<Option<String>, _>("profile_id")?.map(ProfileId::from),
                    kind: KeyEventKind::decode(row.try_get("kind")?)?,
                    at: row.try_get("at")?,
                })
            })
            .collect()
    }

    async fn wait_for_events(&self, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, self.events.notified()).await;
    }

    async fn purge_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let result =
            sqlx::query("DELETE FROM key_events WHERE at < $1").bind(before).execute(&self.pool).await?;
        Ok(result.rows_affected())
    }

    async fn purge_audit_events(&self, before: DateTime<Utc>, batch: u32) -> Result<u64, StoreError> {
        let mut purged = 0;
        loop {
            let deleted = sqlx::query(
                "DELETE FROM audit_events WHERE seq IN
                   (SELECT seq FROM audit_events WHERE at < $1 ORDER BY at LIMIT $2)",
            )
            .bind(before)
            .bind(i64::from(batch))
            .execute(&self.pool)
            .await?
            .rows_affected();
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO profiles AS p (id, first_sign_in, last_sign_in) VALUES ($1, $2, $2)
             ON CONFLICT (id) DO UPDATE SET last_sign_in = greatest(p.last_sign_in, excluded.last_sign_in)",
        )
        .bind(profile_id.as_str())
        .bind(now)
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
        // The profile's lock orders concurrent provisions: the second finds the first's key.
        let mut tx = self.begin_for(profile_id).await?;
        if let Some(key) = profile(&mut tx, profile_id).await?.default_key {
            return Ok(key);
        }
        let named = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE profile_id = $1 AND name = $2"
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
            "INSERT INTO profiles (id, first_sign_in, last_sign_in, default_key_id) VALUES ($1, $2, $2, $3)
             ON CONFLICT (id) DO UPDATE SET default_key_id = excluded.default_key_id",
        )
        .bind(profile_id.as_str())
        .bind(now)
        .bind(key.id.as_uuid())
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
        vec![PoolUsage::of("all", &self.pool)]
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
                    created: row.try_get("created")?,
                })
            })
            .collect()
    }

    async fn insert_first_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Instances starting together on an empty database: one key wins, the others read it.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('keyward signing keys', 0))")
            .execute(&mut *tx)
            .await?;
        write_signing_key(
            &mut tx,
            "INSERT INTO signing_keys (kid, private_key, created, algorithm, sealed)
             SELECT $1, $2, $3, $4, $5
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE algorithm = $4)",
            key,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        write_signing_key(
            &mut tx,
            "INSERT INTO signing_keys (kid, private_key, created, algorithm, sealed)
             VALUES ($1, $2, $3, $4, $5)",
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE signing_keys SET private_key = $2, sealed = TRUE WHERE kid = $1 AND private_key = $3 AND sealed = $4",
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

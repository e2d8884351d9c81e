//! A store that passes every call on to a real one, counting them (to prove what a request did not
//! touch) and, when told to, failing writes as a full disk does or every call as a lost database
//! does (to prove what a storage fault answers and that it changes nothing).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_model::{KeyType, Scopes};
use keyward_server::ids::{ClientId, KeyId, ProfileId};
use keyward_server::store::{
    Actor, AuditEvent, InitialisedKey, Key, KeyEvent, KeyState, NewCredentials, PoolUsage, ProfileRecord,
    SigningKeyRecord, Store, StoreError, StoredCredential, StoredPrivateKey,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

/// Why writes fail, as the operating system says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFault {
    /// No space left on the device (`ENOSPC`).
    Full = 1,
    /// The file system or the database file has become read-only (`EROFS`).
    ReadOnly = 2,
}

/// What a test sees of, and does to, a [`ProbedStore`].
#[derive(Default)]
pub struct Probe {
    calls: AtomicUsize,
    /// 0: writes work; otherwise a [`WriteFault`] as its number.
    write_fault: AtomicU8,
    fail_reads: AtomicBool,
    /// Reads of the key events log so far, watched by [`Probe::events_applied`].
    event_reads: tokio::sync::watch::Sender<usize>,
}

impl Probe {
    /// Store calls made so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// From now on every write fails as it does on a full disk, or works again.
    pub fn fail_writes(&self, fail: bool) {
        self.fail_writes_with(fail.then_some(WriteFault::Full));
    }

    /// From now on every write fails with `fault`, or (`None`) works again.
    pub fn fail_writes_with(&self, fault: Option<WriteFault>) {
        self.write_fault.store(fault.map_or(0, |fault| fault as u8), Ordering::SeqCst);
    }

    /// From now on every read fails as it does when the database is gone, or works again.
    pub fn fail_reads(&self, fail: bool) {
        self.fail_reads.store(fail, Ordering::SeqCst);
    }

    /// Waits until the key events follower has applied every change committed before the call: it
    /// applies what one read of the log returns before it starts the next, so the second read
    /// from now starts after the first has been applied. Panics after ten seconds.
    pub async fn events_applied(&self) {
        let mut reads = self.event_reads.subscribe();
        let target = *reads.borrow() + 2;
        let applied =
            tokio::time::timeout(std::time::Duration::from_secs(10), reads.wait_for(|n| *n >= target));
        assert!(applied.await.is_ok_and(|read| read.is_ok()), "the key events follower stopped reading");
    }
}

pub struct ProbedStore {
    inner: Arc<dyn Store>,
    probe: Arc<Probe>,
}

impl ProbedStore {
    pub fn new(inner: Arc<dyn Store>) -> (Self, Arc<Probe>) {
        let probe = Arc::new(Probe::default());
        (Self { inner, probe: probe.clone() }, probe)
    }

    fn count(&self) -> &dyn Store {
        self.probe.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.as_ref()
    }

    /// The store, for a read: a fault when reads are failing.
    fn read(&self) -> Result<&dyn Store, StoreError> {
        let store = self.count();
        if self.probe.fail_reads.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut));
        }
        Ok(store)
    }

    /// The store, for a write: a fault when writes are failing.
    fn write(&self) -> Result<&dyn Store, StoreError> {
        let store = self.count();
        match self.probe.write_fault.load(Ordering::SeqCst) {
            0 => {}
            fault => {
                let errno = if fault == WriteFault::Full as u8 { 28 } else { 30 };
                let io = std::io::Error::from_raw_os_error(errno);
                return Err(StoreError::Unavailable(sqlx::Error::Io(io)));
            }
        }
        Ok(store)
    }
}

#[async_trait]
impl Store for ProbedStore {
    async fn initialise(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        now: DateTime<Utc>,
        pending_limit: u32,
    ) -> Result<InitialisedKey, StoreError> {
        self.write()?.initialise(profile_id, id, now, pending_limit).await
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
        self.write()?.create_initialised(profile_id, id, credentials, now, limit, by).await
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
        self.write()?.insert_created(profile_id, id, credentials, now, limit, by).await
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
        self.write()?.rename(profile_id, id, name, scopes, now, by).await
    }

    async fn get(&self, profile_id: &ProfileId, id: KeyId) -> Result<Option<KeyState>, StoreError> {
        self.read()?.get(profile_id, id).await
    }

    async fn page(
        &self,
        profile_id: &ProfileId,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<Key>, u64), StoreError> {
        self.read()?.page(profile_id, offset, limit).await
    }

    async fn page_after(
        &self,
        profile_id: &ProfileId,
        after: Option<(DateTime<Utc>, KeyId)>,
        limit: u32,
    ) -> Result<(Vec<Key>, u64), StoreError> {
        self.read()?.page_after(profile_id, after, limit).await
    }

    async fn every_key(
        &self,
        profile_id: &ProfileId,
        key_for: Option<KeyType>,
    ) -> Result<Vec<Key>, StoreError> {
        self.read()?.every_key(profile_id, key_for).await
    }

    async fn delete_by_name(
        &self,
        profile_id: &ProfileId,
        name: &str,
        by: &Actor,
    ) -> Result<Option<Key>, StoreError> {
        self.write()?.delete_by_name(profile_id, name, by).await
    }

    async fn delete(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        by: &Actor,
    ) -> Result<Option<KeyState>, StoreError> {
        self.write()?.delete(profile_id, id, by).await
    }

    async fn audit_events(
        &self,
        profile_id: &ProfileId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.read()?.audit_events(profile_id, before, limit).await
    }

    async fn credential(&self, client_id: &ClientId) -> Result<Option<StoredCredential>, StoreError> {
        self.read()?.credential(client_id).await
    }

    async fn purge_initialised(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.write()?.purge_initialised(before).await
    }

    // The key events log is read by every server in the background: not counted, never failed, so
    // that counts and faults stay those of the requests under test.
    async fn events_since(&self, since: DateTime<Utc>, after_seq: i64) -> Result<Vec<KeyEvent>, StoreError> {
        self.probe.event_reads.send_modify(|reads| *reads += 1);
        self.inner.events_since(since, after_seq).await
    }

    async fn wait_for_events(&self, at_most: std::time::Duration) {
        self.inner.wait_for_events(at_most).await
    }

    async fn purge_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.inner.purge_events(before).await
    }

    async fn purge_audit_events(&self, before: DateTime<Utc>, batch: u32) -> Result<u64, StoreError> {
        self.write()?.purge_audit_events(before, batch).await
    }

    async fn record_sign_in(
        &self,
        profile_id: &ProfileId,
        now: DateTime<Utc>,
    ) -> Result<ProfileRecord, StoreError> {
        self.write()?.record_sign_in(profile_id, now).await
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
        self.write()?.provision_default_key(profile_id, id, credentials, now, limit, by).await
    }

    async fn profile(&self, profile_id: &ProfileId) -> Result<ProfileRecord, StoreError> {
        self.read()?.profile(profile_id).await
    }

    fn pool_usage(&self) -> Vec<PoolUsage> {
        self.inner.pool_usage()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read()?.ping().await
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        self.read()?.signing_keys().await
    }

    async fn insert_first_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        self.write()?.insert_first_signing_key(key).await
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        self.write()?.insert_signing_key(key).await
    }

    async fn seal_signing_key(
        &self,
        kid: &str,
        stored: &StoredPrivateKey,
        sealed: &str,
    ) -> Result<(), StoreError> {
        self.write()?.seal_signing_key(kid, stored, sealed).await
    }
}

//! A store that counts the calls it passes on, to prove what a request did not touch.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_model::KeyType;
use keyward_server::store::{
    KeyRecord, NewCredentials, SigningKeyRecord, Store, StoreError, StoredCredential,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use uuid::Uuid;

pub struct CountingStore {
    inner: Arc<dyn Store>,
    calls: Arc<AtomicUsize>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>) -> (Self, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        (Self { inner, calls: calls.clone() }, calls)
    }

    fn count(&self) -> &dyn Store {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.as_ref()
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn initialise(
        &self,
        id: Uuid,
        profile_id: &str,
        now: DateTime<Utc>,
        pending_limit: u32,
    ) -> Result<KeyRecord, StoreError> {
        self.count().initialise(id, profile_id, now, pending_limit).await
    }

    async fn create_initialised(
        &self,
        id: Uuid,
        profile_id: &str,
        credentials: &NewCredentials,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<KeyRecord, StoreError> {
        self.count().create_initialised(id, profile_id, credentials, now, limit).await
    }

    async fn insert_created(
        &self,
        id: Uuid,
        profile_id: &str,
        credentials: &NewCredentials,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<KeyRecord, StoreError> {
        self.count().insert_created(id, profile_id, credentials, now, limit).await
    }

    async fn rename(
        &self,
        id: Uuid,
        profile_id: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyRecord, StoreError> {
        self.count().rename(id, profile_id, name, now).await
    }

    async fn get(&self, id: Uuid, profile_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.count().get(id, profile_id).await
    }

    async fn list(
        &self,
        profile_id: &str,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<KeyRecord>, u64), StoreError> {
        self.count().list(profile_id, offset, limit).await
    }

    async fn list_all(
        &self,
        profile_id: &str,
        key_for: Option<KeyType>,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        self.count().list_all(profile_id, key_for).await
    }

    async fn delete_by_name(&self, profile_id: &str, name: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.count().delete_by_name(profile_id, name).await
    }

    async fn delete(&self, id: Uuid, profile_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.count().delete(id, profile_id).await
    }

    async fn credential(&self, client_id: &str) -> Result<Option<StoredCredential>, StoreError> {
        self.count().credential(client_id).await
    }

    async fn purge_initialised(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.count().purge_initialised(before).await
    }

    async fn signing_key(&self) -> Result<Option<SigningKeyRecord>, StoreError> {
        self.count().signing_key().await
    }

    async fn insert_first_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        self.count().insert_first_signing_key(key).await
    }
}

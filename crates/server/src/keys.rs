//! The life of a key, shared by both API dialects and the command line: validation, the limit,
//! credential generation and hashing, and revocation on delete.

use crate::auth::{CredentialCache, Principal, Via};
use crate::hashing::SecretHasher;
use crate::ids::{KeyId, ProfileId};
use crate::secrets::GeneratedCredentials;
use crate::store::{Actor, AuditEvent, InitialisedKey, Key, KeyState, NewCredentials, Store, StoreError};
use crate::views::{HELD_KEYS, ProfileViews, View};
use chrono::{DateTime, Utc};
use keyward_model::{KeyType, Scope, Scopes, Secret};
use std::net::IpAddr;
use std::sync::Arc;

pub const MAX_NAME_CHARS: usize = 255;
/// The name of the key provisioned on a profile's first sign-in, as the documented list shows it.
pub const DEFAULT_KEY_NAME: &str = "default";
/// Initialised keys that were never created are deleted after this long.
pub const INITIALISED_KEY_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::days(1);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("API key not found")]
    NotFound,
    #[error("the limit of {0} keys is reached")]
    LimitReached(u32),
    #[error("An API key named '{0}' already exists")]
    NameTaken(String),
    #[error("{0}")]
    InvalidName(&'static str),
    #[error("could not hash the secret")]
    Hash,
    /// The change asks for scopes the requester does not hold.
    #[error("a key can be given only scopes its maker holds; {0} is not among them")]
    ScopeNotHeld(Scope),
    #[error(transparent)]
    Busy(#[from] crate::hashing::HasherBusy),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for KeyError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => KeyError::NotFound,
            StoreError::LimitReached(limit) => KeyError::LimitReached(limit),
            other => KeyError::Store(other),
        }
    }
}

/// Who asks for a change: recorded in the audit log, and bounding the scopes of the keys it
/// makes (no key can make a key with rights it does not have itself).
#[derive(Debug, Clone)]
pub struct Requester {
    pub actor: Actor,
    pub scopes: Scopes,
}

impl Requester {
    /// The operator at the command line: every right, no key, no address.
    pub fn command_line() -> Self {
        Requester { actor: Actor::default(), scopes: Scopes::all() }
    }

    /// A caller authenticated as `caller`, from `address`.
    pub fn caller(caller: &Principal, address: Option<IpAddr>) -> Self {
        let issuer = match &caller.via {
            Via::SignIn { issuer } => Some(issuer.to_string()),
            Via::Credentials => None,
        };
        Requester {
            actor: Actor { client_id: Some(caller.client_id.clone()), address, issuer },
            scopes: caller.scopes.clone(),
        }
    }

    /// The scopes a key it makes gets: those asked for, all of them its own, or (none asked)
    /// its own.
    fn grant(&self, asked: Option<Scopes>) -> Result<Scopes, KeyError> {
        let Some(asked) = asked else { return Ok(self.scopes.clone()) };
        let missing = asked.iter().find(|scope| !self.scopes.contains(*scope));
        match missing {
            Some(missing) => Err(KeyError::ScopeNotHeld(missing)),
            None => Ok(asked),
        }
    }
}

/// A key just created, with its secret in clear: shown to the caller once, then gone.
pub struct NewKey {
    pub key: Key,
    pub secret: Secret,
}

/// What a `PUT` on a key did.
pub enum PutOutcome {
    Created(NewKey),
    Renamed(Key),
}

/// A page of keys read after a position.
pub struct KeysetPage {
    pub keys: Vec<Key>,
    /// All the profile's created keys.
    pub total: u64,
    /// Whether keys follow the last of `keys`.
    pub more: bool,
}

pub struct KeyService {
    store: Arc<dyn Store>,
    hasher: SecretHasher,
    cache: Arc<CredentialCache>,
    views: Arc<ProfileViews>,
    max_keys: u32,
}

impl KeyService {
    pub fn new(
        store: Arc<dyn Store>,
        hasher: SecretHasher,
        cache: Arc<CredentialCache>,
        views: Arc<ProfileViews>,
        max_keys: u32,
    ) -> Self {
        Self { store, hasher, cache, views, max_keys }
    }

    pub fn max_keys(&self) -> u32 {
        self.max_keys
    }

    /// Reserves an id for a key that a later `PUT` creates. Initialised keys do not count against
    /// the limit, but a profile may hold no more of them than the limit, so that they cannot pile up.
    pub async fn initialise(&self, profile_id: &ProfileId) -> Result<InitialisedKey, KeyError> {
        Ok(self.store.initialise(profile_id, KeyId::new_random(), Utc::now(), self.max_keys).await?)
    }

    /// Creates the initialised key `id` as a key of type `key_for`, or renames it when it is
    /// already created (a created key keeps its type).
    pub async fn create_or_rename(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        name: Option<&str>,
        key_for: KeyType,
        scopes: Option<Scopes>,
        by: &Requester,
    ) -> Result<PutOutcome, KeyError> {
        let name = validate_name(name)?;
        let asked = scopes.map(|scopes| by.grant(Some(scopes))).transpose()?;
        match self.store.get(profile_id, id).await?.ok_or(KeyError::NotFound)? {
            KeyState::Created(_) => return self.rename(profile_id, id, &name, asked.as_ref(), by).await,
            KeyState::Initialised(_) => {}
        }
        let scopes = asked.unwrap_or_else(|| by.scopes.clone());
        let (credentials, secret) = self.new_credentials(name.clone(), key_for, scopes).await?;
        let created = self
            .store
            .create_initialised(profile_id, id, &credentials, Utc::now(), self.max_keys, &by.actor)
            .await;
        self.views.invalidate(profile_id);
        match created {
            Ok(key) => {
                self.cache.created(key.client_id.as_str());
                Ok(PutOutcome::Created(NewKey { key, secret }))
            }
            // A concurrent PUT created it first: this one is a rename, as if it came second.
            Err(StoreError::AlreadyCreated) => {
                self.rename(profile_id, id, &name, Some(&credentials.scopes), by).await
            }
            Err(error) => Err(name_error(error, &name)),
        }
    }

    async fn rename(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        name: &str,
        scopes: Option<&Scopes>,
        by: &Requester,
    ) -> Result<PutOutcome, KeyError> {
        let renamed = self.store.rename(profile_id, id, name, scopes, Utc::now(), &by.actor).await;
        self.views.invalidate(profile_id);
        let renamed = renamed.map_err(|e| name_error(e, name))?;
        // Verifications on this instance report the new name and scopes from now on.
        self.cache.forget(renamed.client_id.as_str());
        Ok(PutOutcome::Renamed(renamed))
    }

    /// Creates a key in one step.
    pub async fn create(
        &self,
        profile_id: &ProfileId,
        name: Option<&str>,
        key_for: KeyType,
        scopes: Option<Scopes>,
        by: &Requester,
    ) -> Result<NewKey, KeyError> {
        let name = validate_name(name)?;
        let scopes = by.grant(scopes)?;
        let (credentials, secret) = self.new_credentials(name.clone(), key_for, scopes).await?;
        let key = self
            .store
            .insert_created(
                profile_id,
                KeyId::new_random(),
                &credentials,
                Utc::now(),
                self.max_keys,
                &by.actor,
            )
            .await;
        self.views.invalidate(profile_id);
        let key = key.map_err(|e| name_error(e, &name))?;
        self.cache.created(key.client_id.as_str());
        Ok(NewKey { key, secret })
    }

    /// The profile's `default` key, made on its first sign-in (see [`Store::provision_default_key`]).
    /// Its secret is shown to no one: the person reaches it through the access token that the
    /// key list shows them.
    pub async fn provision_default(&self, profile_id: &ProfileId, by: &Actor) -> Result<Key, KeyError> {
        let (credentials, _secret) =
            self.new_credentials(DEFAULT_KEY_NAME.to_owned(), KeyType::Generic, Scopes::all()).await?;
        let key = self
            .store
            .provision_default_key(
                profile_id,
                KeyId::new_random(),
                &credentials,
                Utc::now(),
                self.max_keys,
                by,
            )
            .await;
        self.views.invalidate(profile_id);
        let key = key?;
        self.cache.created(key.client_id.as_str());
        Ok(key)
    }

    /// What is held of the profile's created keys, loaded first if need be.
    pub async fn view(&self, profile_id: &ProfileId) -> Result<View, KeyError> {
        if let Some(view) = self.views.get(profile_id) {
            return Ok(view);
        }
        let epoch = self.views.epoch();
        let (newest, total) = self.store.page(profile_id, 0, HELD_KEYS).await?;
        let view = View { newest: newest.into(), total };
        self.views.insert(profile_id, view.clone(), epoch);
        Ok(view)
    }

    /// A created key of the profile.
    pub async fn get(&self, profile_id: &ProfileId, id: KeyId) -> Result<Key, KeyError> {
        // A key missing from the view may have been created through another instance a moment
        // ago: only the store can say it does not exist.
        if let Some(key) = self.view(profile_id).await?.newest.iter().find(|key| key.id == id) {
            return Ok(key.clone());
        }
        match self.store.get(profile_id, id).await? {
            Some(KeyState::Created(key)) => Ok(key),
            Some(KeyState::Initialised(_)) | None => Err(KeyError::NotFound),
        }
    }

    /// A page of the profile's created keys, newest first, and their total count.
    pub async fn page(
        &self,
        profile_id: &ProfileId,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<Key>, u64), KeyError> {
        let view = self.view(profile_id).await?;
        let end = offset.saturating_add(u64::from(limit));
        if view.is_complete() || end <= view.newest.len() as u64 {
            let start = usize::try_from(offset).unwrap_or(usize::MAX).min(view.newest.len());
            let page = view.newest[start..].iter().take(limit as usize).cloned().collect();
            return Ok((page, view.total));
        }
        Ok(self.store.page(profile_id, offset, limit).await?)
    }

    /// Up to `limit` of the profile's created keys that come strictly after the position `after`
    /// (a key's `created` and `id`, which need not exist any more; `None` starts at the newest) in
    /// the order of [`KeyService::page`]. Keys created or deleted meanwhile shift no position.
    pub async fn page_after(
        &self,
        profile_id: &ProfileId,
        after: Option<(DateTime<Utc>, KeyId)>,
        limit: u32,
    ) -> Result<KeysetPage, KeyError> {
        let view = self.view(profile_id).await?;
        let follows = |key: &&Key| after.is_none_or(|(created, id)| (key.created, key.id) < (created, id));
        let held: Vec<&Key> = view.newest.iter().filter(follows).take(limit as usize + 1).collect();
        // The held keys answer when they hold the whole page and whether another follows.
        if view.is_complete() || held.len() > limit as usize {
            let more = held.len() > limit as usize;
            let keys = held.into_iter().take(limit as usize).cloned().collect();
            return Ok(KeysetPage { keys, total: view.total, more });
        }
        // One key more than asked tells whether another page follows.
        let (mut keys, total) = self.store.page_after(profile_id, after, limit.saturating_add(1)).await?;
        let more = keys.len() > limit as usize;
        keys.truncate(limit as usize);
        Ok(KeysetPage { keys, total, more })
    }

    /// Every created key of the profile, of one type or of all, newest first.
    pub async fn every_key(
        &self,
        profile_id: &ProfileId,
        key_for: Option<KeyType>,
    ) -> Result<Vec<Key>, KeyError> {
        let view = self.view(profile_id).await?;
        if view.is_complete() {
            let wanted = |key: &&Key| key_for.is_none_or(|wanted| key.key_for == wanted);
            return Ok(view.newest.iter().filter(wanted).cloned().collect());
        }
        Ok(self.store.every_key(profile_id, key_for).await?)
    }

    /// Deletes a key of the profile (created or only initialised); its credentials and tokens stop
    /// working on this instance at once.
    pub async fn delete(
        &self,
        profile_id: &ProfileId,
        id: KeyId,
        by: &Requester,
    ) -> Result<KeyState, KeyError> {
        let deleted = self.store.delete(profile_id, id, &by.actor).await;
        self.views.invalidate(profile_id);
        let deleted = deleted?.ok_or(KeyError::NotFound)?;
        if let KeyState::Created(key) = &deleted {
            self.cache.revoke(key.client_id.as_str());
        }
        Ok(deleted)
    }

    /// Deletes the profile's key named `name`, revoking it like [`KeyService::delete`].
    pub async fn delete_by_name(
        &self,
        profile_id: &ProfileId,
        name: &str,
        by: &Requester,
    ) -> Result<Key, KeyError> {
        // No key is named with a control character (names are validated), and PostgreSQL cannot
        // even compare a text holding NUL: such a name is simply not found.
        if name.chars().any(char::is_control) {
            return Err(KeyError::NotFound);
        }
        let deleted = self.store.delete_by_name(profile_id, name, &by.actor).await;
        self.views.invalidate(profile_id);
        let deleted = deleted?.ok_or(KeyError::NotFound)?;
        self.cache.revoke(deleted.client_id.as_str());
        Ok(deleted)
    }

    /// Up to `limit` of the profile's audit events, newest first, before the sequence number
    /// `before` when given.
    pub async fn audit_events(
        &self,
        profile_id: &ProfileId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, KeyError> {
        Ok(self.store.audit_events(profile_id, before, limit).await?)
    }

    /// Deletes keys initialised before `now` minus a day and never created.
    pub async fn purge_initialised(&self, now: DateTime<Utc>) -> Result<u64, KeyError> {
        Ok(self.store.purge_initialised(now - INITIALISED_KEY_LIFETIME).await?)
    }

    async fn new_credentials(
        &self,
        name: String,
        key_for: KeyType,
        scopes: Scopes,
    ) -> Result<(NewCredentials, Secret), KeyError> {
        let generated = GeneratedCredentials::generate();
        let secret_hash =
            self.hasher.slot().await?.hash(generated.secret.clone()).await.map_err(|_| KeyError::Hash)?;
        let credentials =
            NewCredentials { name, key_for, scopes, client_id: generated.client_id, secret_hash };
        Ok((credentials, generated.secret))
    }
}

fn name_error(error: StoreError, name: &str) -> KeyError {
    match error {
        StoreError::NameTaken => KeyError::NameTaken(name.to_owned()),
        other => other.into(),
    }
}

/// A key name: required, trimmed, at most 255 characters, no control characters.
pub fn validate_name(name: Option<&str>) -> Result<String, KeyError> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(KeyError::InvalidName("name is required"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(KeyError::InvalidName("name must be at most 255 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(KeyError::InvalidName("name must not contain control characters"));
    }
    Ok(name.to_owned())
}

/// A profile id: what the command line accepts as the owner of a key.
pub fn validate_profile_id(profile_id: &str) -> Result<ProfileId, &'static str> {
    if profile_id.is_empty() || profile_id.len() > 255 {
        return Err("profile id must be 1 to 255 bytes");
    }
    if profile_id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("profile id must not contain spaces or control characters");
    }
    Ok(ProfileId::from(profile_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name(Some("  my key ")).unwrap(), "my key");
        assert!(validate_name(None).is_err());
        assert!(validate_name(Some("   ")).is_err());
        assert!(validate_name(Some(&"é".repeat(255))).is_ok());
        assert!(validate_name(Some(&"é".repeat(256))).is_err());
        assert!(validate_name(Some("a\u{0}b")).is_err());
    }
}

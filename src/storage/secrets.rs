//! Secrets (the ConnectWise and Synthesize keys), one OS-keychain entry per profile and secret,
//! behind the product's own [`SecretStore`] trait so tests and "this session only" use memory.
//!
//! Every call may block on D-Bus or the OS keychain: from async code, call it through
//! `tokio::task::spawn_blocking`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use keyring_core::{CredentialStore, Entry};

/// The keychain service name every entry is filed under.
pub const KEYCHAIN_SERVICE: &str = "cw-shared-devices";

/// The four secrets a profile needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretName {
    CwPublicKey,
    CwPrivateKey,
    SynthesizeVendorKey,
    SynthesizePartnerKey,
}

impl SecretName {
    pub const ALL: [SecretName; 4] = [
        SecretName::CwPublicKey,
        SecretName::CwPrivateKey,
        SecretName::SynthesizeVendorKey,
        SecretName::SynthesizePartnerKey,
    ];

    /// The command-line spelling, also the keychain entry's suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretName::CwPublicKey => "cw-public-key",
            SecretName::CwPrivateKey => "cw-private-key",
            SecretName::SynthesizeVendorKey => "synthesize-vendor-key",
            SecretName::SynthesizePartnerKey => "synthesize-partner-key",
        }
    }

    /// The field label in the window.
    pub fn label(self) -> &'static str {
        match self {
            SecretName::CwPublicKey => "ConnectWise public key",
            SecretName::CwPrivateKey => "ConnectWise private key",
            SecretName::SynthesizeVendorKey => "Synthesize vendor API key",
            SecretName::SynthesizePartnerKey => "Synthesize partner API key",
        }
    }

    /// The environment variable that overrides this secret in the headless command.
    pub fn env_var(self) -> &'static str {
        match self {
            SecretName::CwPublicKey => "CW_PUBLIC_KEY",
            SecretName::CwPrivateKey => "CW_PRIVATE_KEY",
            SecretName::SynthesizeVendorKey => "SYNTHESIZE_VENDOR_API_KEY",
            SecretName::SynthesizePartnerKey => "SYNTHESIZE_PARTNER_API_KEY",
        }
    }

    /// The keychain user of this secret for a profile: `<profile>/<secret-name>`.
    pub fn keychain_user(self, profile: &str) -> String {
        SecretSlot::Key(self).keychain_user(profile)
    }
}

impl std::fmt::Display for SecretName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SecretName {
    type Err = SecretError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<SecretSlot>()? {
            SecretSlot::Key(name) => Ok(name),
            SecretSlot::NotifyWebhook => Err(SecretError::UnknownName(s.to_owned())),
        }
    }
}

/// Every keychain entry a profile may have: its four keys, and the URL of its notification
/// webhook (a secret too: whoever has it can post to the channel). Apart from [`SecretName`] so
/// the forms that edit the four keys neither show nor clear the webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretSlot {
    Key(SecretName),
    NotifyWebhook,
}

impl SecretSlot {
    pub const ALL: [SecretSlot; 5] = [
        SecretSlot::Key(SecretName::CwPublicKey),
        SecretSlot::Key(SecretName::CwPrivateKey),
        SecretSlot::Key(SecretName::SynthesizeVendorKey),
        SecretSlot::Key(SecretName::SynthesizePartnerKey),
        SecretSlot::NotifyWebhook,
    ];

    /// The command-line spelling, also the keychain entry's suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretSlot::Key(name) => name.as_str(),
            SecretSlot::NotifyWebhook => "notify-webhook",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SecretSlot::Key(name) => name.label(),
            SecretSlot::NotifyWebhook => "Notification webhook URL",
        }
    }

    /// The keychain user of this secret for a profile: `<profile>/<secret-name>`.
    pub fn keychain_user(self, profile: &str) -> String {
        format!("{profile}/{}", self.as_str())
    }
}

impl From<SecretName> for SecretSlot {
    fn from(name: SecretName) -> Self {
        SecretSlot::Key(name)
    }
}

impl std::fmt::Display for SecretSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SecretSlot {
    type Err = SecretError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        SecretSlot::ALL
            .into_iter()
            .find(|n| n.as_str() == wanted)
            .ok_or_else(|| SecretError::UnknownName(s.to_owned()))
    }
}

/// A secret value. Its Debug output is redacted and it has no Display, so it cannot end up in
/// a message or log by accident; [`Secret::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(target_os = "linux")]
const KEYCHAIN_HINT: &str = "install and unlock a Secret Service such as GNOME Keyring or KWallet, or continue for this session only";
#[cfg(target_os = "macos")]
const KEYCHAIN_HINT: &str =
    "unlock your login keychain in Keychain Access, or continue for this session only";
#[cfg(target_os = "windows")]
const KEYCHAIN_HINT: &str = "check that Windows Credential Manager is available for your account, or continue for this session only";
#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
const KEYCHAIN_HINT: &str = "install and unlock a Secret Service such as GNOME Keyring or KWallet, or continue for this session only";

/// Keychain failures, in words that never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the system keychain is not available ({reason}); {KEYCHAIN_HINT}")]
    KeychainUnavailable { reason: String },
    #[error("{}: the key is empty; paste the key, or remove it instead", .name.label())]
    Empty { name: SecretSlot },
    #[error(
        "{}: the keychain entry could not be used ({reason}); set the key again, or remove the entry \"{user}\" of service \"{KEYCHAIN_SERVICE}\" in your keychain app",
        .name.label()
    )]
    BadEntry {
        name: SecretSlot,
        user: String,
        reason: String,
    },
    #[error("{}: the keychain failed ({reason}); try again, or continue for this session only", .name.label())]
    Keychain { name: SecretSlot, reason: String },
    #[error(
        "secret name \"{0}\" is unknown; use cw-public-key, cw-private-key, synthesize-vendor-key, synthesize-partner-key or notify-webhook"
    )]
    UnknownName(String),
}

/// Where a profile's secrets are kept.
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// The secret in `slot`, or `None` when none is stored.
    fn get_slot(&self, profile: &str, slot: SecretSlot) -> Result<Option<Secret>, SecretError>;
    /// Stores (or replaces) a secret. An empty secret is refused.
    fn set_slot(&self, profile: &str, slot: SecretSlot, secret: &Secret)
    -> Result<(), SecretError>;
    /// Removes a secret; removing one that is not there is not an error.
    fn delete_slot(&self, profile: &str, slot: SecretSlot) -> Result<(), SecretError>;

    /// One of the four keys, or `None` when none is stored.
    fn get(&self, profile: &str, name: SecretName) -> Result<Option<Secret>, SecretError> {
        self.get_slot(profile, name.into())
    }
    /// Stores (or replaces) one of the four keys. An empty key is refused.
    fn set(&self, profile: &str, name: SecretName, secret: &Secret) -> Result<(), SecretError> {
        self.set_slot(profile, name.into(), secret)
    }
    /// Removes one of the four keys; removing one that is not there is not an error.
    fn delete(&self, profile: &str, name: SecretName) -> Result<(), SecretError> {
        self.delete_slot(profile, name.into())
    }
}

/// Copies all of a profile's secrets to another profile (for "duplicate").
pub fn copy_secrets(store: &dyn SecretStore, from: &str, to: &str) -> Result<(), SecretError> {
    for slot in SecretSlot::ALL {
        if let Some(secret) = store.get_slot(from, slot)? {
            store.set_slot(to, slot, &secret)?;
        }
    }
    Ok(())
}

/// Moves all of a profile's secrets to its new name (for "rename").
pub fn move_secrets(store: &dyn SecretStore, from: &str, to: &str) -> Result<(), SecretError> {
    copy_secrets(store, from, to)?;
    delete_secrets(store, from)
}

/// Removes all of a profile's secrets (for "delete").
pub fn delete_secrets(store: &dyn SecretStore, profile: &str) -> Result<(), SecretError> {
    for slot in SecretSlot::ALL {
        store.delete_slot(profile, slot)?;
    }
    Ok(())
}

fn refuse_empty(name: SecretSlot, secret: &Secret) -> Result<(), SecretError> {
    if secret.is_empty() {
        Err(SecretError::Empty { name })
    } else {
        Ok(())
    }
}

/// Secrets in memory, lost when the program ends. Shared by [`MemoryStore`] and [`SessionStore`].
#[derive(Default)]
struct InMemory {
    secrets: Mutex<HashMap<(String, SecretSlot), Secret>>,
}

impl InMemory {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, SecretSlot), Secret>> {
        // A panic while holding the lock cannot leave the map half-updated.
        self.secrets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, profile: &str, name: SecretSlot) -> Option<Secret> {
        self.lock().get(&(profile.to_owned(), name)).cloned()
    }

    fn set(&self, profile: &str, name: SecretSlot, secret: &Secret) -> Result<(), SecretError> {
        refuse_empty(name, secret)?;
        self.lock()
            .insert((profile.to_owned(), name), secret.clone());
        Ok(())
    }

    fn delete(&self, profile: &str, name: SecretSlot) {
        self.lock().remove(&(profile.to_owned(), name));
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

impl std::fmt::Debug for InMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} secret(s) <redacted>", self.len())
    }
}

/// An in-memory store for tests; [`MemoryStore::unavailable`] behaves like a machine without
/// a keychain, to test the fallback to [`SessionStore`].
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: InMemory,
    unavailable: bool,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose every call fails with [`SecretError::KeychainUnavailable`].
    pub fn unavailable() -> Self {
        Self {
            inner: InMemory::default(),
            unavailable: true,
        }
    }

    fn check(&self) -> Result<(), SecretError> {
        if self.unavailable {
            Err(SecretError::KeychainUnavailable {
                reason: "no Secret Service answered (test store)".to_owned(),
            })
        } else {
            Ok(())
        }
    }

    /// How many secrets are stored (tests check nothing is left behind).
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SecretStore for MemoryStore {
    fn get_slot(&self, profile: &str, name: SecretSlot) -> Result<Option<Secret>, SecretError> {
        self.check()?;
        Ok(self.inner.get(profile, name))
    }
    fn set_slot(
        &self,
        profile: &str,
        name: SecretSlot,
        secret: &Secret,
    ) -> Result<(), SecretError> {
        self.check()?;
        self.inner.set(profile, name, secret)
    }
    fn delete_slot(&self, profile: &str, name: SecretSlot) -> Result<(), SecretError> {
        self.check()?;
        self.inner.delete(profile, name);
        Ok(())
    }
}

/// Secrets kept for this session only, when the user chose to continue without a keychain.
#[derive(Debug, Default)]
pub struct SessionStore {
    inner: InMemory,
}

impl SessionStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl SecretStore for SessionStore {
    fn get_slot(&self, profile: &str, name: SecretSlot) -> Result<Option<Secret>, SecretError> {
        Ok(self.inner.get(profile, name))
    }
    fn set_slot(
        &self,
        profile: &str,
        name: SecretSlot,
        secret: &Secret,
    ) -> Result<(), SecretError> {
        self.inner.set(profile, name, secret)
    }
    fn delete_slot(&self, profile: &str, name: SecretSlot) -> Result<(), SecretError> {
        self.inner.delete(profile, name);
        Ok(())
    }
}

/// The OS keychain: Secret Service on Linux and BSD, Keychain Services on macOS, Credential
/// Manager on Windows. Entries: service `cw-shared-devices`, user `<profile>/<secret-name>`.
///
/// Entries are always built in the store this value holds, never through the process-wide
/// default, so nothing else replacing the default (such as `keyring::Entry::new`) can
/// redirect the product's secrets.
pub struct KeychainStore {
    store: Arc<CredentialStore>,
}

impl std::fmt::Debug for KeychainStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeychainStore")
            .field("store", &self.store.vendor())
            .finish()
    }
}

impl KeychainStore {
    /// Connects to the platform's keychain and registers it as `keyring_core`'s default store.
    /// Fails with [`SecretError::KeychainUnavailable`] when there is none (for example no
    /// Secret Service on the session bus); it can be called again later to retry.
    pub fn open() -> Result<Self, SecretError> {
        let store = platform_store().map_err(|e| SecretError::KeychainUnavailable {
            reason: describe_unavailable(&e),
        })?;
        keyring_core::set_default_store(store.clone());
        Ok(Self { store })
    }

    /// A keychain over a given `keyring_core` store (tests use `keyring_core::mock::Store`).
    pub fn with_store(store: Arc<CredentialStore>) -> Self {
        Self { store }
    }

    fn entry(&self, profile: &str, name: SecretSlot) -> Result<Entry, SecretError> {
        let user = name.keychain_user(profile);
        Entry::new_in_store(&self.store, KEYCHAIN_SERVICE, &user)
            .map_err(|e| map_error(e, name, &user))
    }
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(zbus_secret_service_keyring_store::Store::new()?)
}

#[cfg(target_os = "macos")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(apple_native_keyring_store::keychain::Store::new()?)
}

#[cfg(target_os = "windows")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(windows_native_keyring_store::Store::new()?)
}

#[cfg(not(any(
    target_os = "macos",
    target_os = "windows",
    all(unix, not(any(target_os = "ios", target_os = "android")))
)))]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Err(keyring_core::Error::NoDefaultStore)
}

/// Why the keychain is unavailable, from a store error that carries no secret.
fn describe_unavailable(e: &keyring_core::Error) -> String {
    use keyring_core::Error as E;
    match e {
        E::PlatformFailure(inner) | E::NoStorageAccess(inner) => inner.to_string(),
        E::NoDefaultStore => "no keychain is supported on this system".to_owned(),
        E::NotSupportedByStore(why) => why.clone(),
        _ => "the keychain did not answer".to_owned(),
    }
}

/// Maps a `keyring_core` error to words. The variants that carry the stored bytes
/// (`BadEncoding`, `BadDataFormat`) or whole entries (`Ambiguous`) are never formatted.
fn map_error(e: keyring_core::Error, name: SecretSlot, user: &str) -> SecretError {
    use keyring_core::Error as E;
    let bad_entry = |reason: &str| SecretError::BadEntry {
        name,
        user: user.to_owned(),
        reason: reason.to_owned(),
    };
    match e {
        E::NoStorageAccess(inner) => SecretError::KeychainUnavailable {
            reason: format!("access refused or the keychain is locked: {inner}"),
        },
        E::NoDefaultStore => SecretError::KeychainUnavailable {
            reason: "no keychain is set up".to_owned(),
        },
        E::BadEncoding(_) => bad_entry("the stored value is not text"),
        E::BadDataFormat(..) => bad_entry("the stored value is malformed"),
        E::Ambiguous(entries) => bad_entry(&format!("{} entries match", entries.len())),
        E::TooLong(attr, limit) => bad_entry(&format!("{attr} is longer than {limit} characters")),
        E::Invalid(attr, why) => bad_entry(&format!("{attr} is invalid: {why}")),
        E::PlatformFailure(inner) => SecretError::Keychain {
            name,
            reason: inner.to_string(),
        },
        E::BadStoreFormat(why) | E::NotSupportedByStore(why) => {
            SecretError::Keychain { name, reason: why }
        }
        E::NoEntry => SecretError::Keychain {
            name,
            reason: "no entry".to_owned(),
        },
        _ => SecretError::Keychain {
            name,
            reason: "unexpected keychain error".to_owned(),
        },
    }
}

impl SecretStore for KeychainStore {
    fn get_slot(&self, profile: &str, name: SecretSlot) -> Result<Option<Secret>, SecretError> {
        let user = name.keychain_user(profile);
        match self.entry(profile, name)?.get_password() {
            Ok(value) => Ok(Some(Secret(value))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(e, name, &user)),
        }
    }

    fn set_slot(
        &self,
        profile: &str,
        name: SecretSlot,
        secret: &Secret,
    ) -> Result<(), SecretError> {
        refuse_empty(name, secret)?;
        let user = name.keychain_user(profile);
        self.entry(profile, name)?
            .set_password(secret.expose())
            .map_err(|e| map_error(e, name, &user))
    }

    fn delete_slot(&self, profile: &str, name: SecretSlot) -> Result<(), SecretError> {
        let user = name.keychain_user(profile);
        match self.entry(profile, name)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(e, name, &user)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_as_on_the_command_line() {
        for name in SecretName::ALL {
            assert_eq!(name.as_str().parse::<SecretName>().unwrap(), name);
            assert_eq!(name.to_string(), name.as_str());
        }
        assert_eq!(
            " CW-Private-Key ".parse::<SecretName>().unwrap(),
            SecretName::CwPrivateKey
        );
        let err = "cw-key".parse::<SecretName>().unwrap_err().to_string();
        assert!(
            err.contains("cw-key") && err.contains("synthesize-partner-key"),
            "{err}"
        );
        assert_eq!(
            SecretName::SynthesizeVendorKey.keychain_user("Acme EU"),
            "Acme EU/synthesize-vendor-key"
        );
    }

    #[test]
    fn secret_debug_is_redacted_everywhere() {
        let secret = Secret::new("hunter2-private");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        let store = MemoryStore::new();
        store.set("p", SecretName::CwPrivateKey, &secret).unwrap();
        let session = SessionStore::new();
        session.set("p", SecretName::CwPrivateKey, &secret).unwrap();
        for debug in [
            format!("{store:?}"),
            format!("{session:?}"),
            format!("{:?}", store.get("p", SecretName::CwPrivateKey)),
        ] {
            assert!(!debug.contains("hunter2"), "{debug}");
        }
    }

    fn round_trip(store: &dyn SecretStore) {
        let a = Secret::new("public-A");
        assert_eq!(store.get("Acme", SecretName::CwPublicKey).unwrap(), None);
        store.set("Acme", SecretName::CwPublicKey, &a).unwrap();
        assert_eq!(store.get("Acme", SecretName::CwPublicKey).unwrap(), Some(a));
        // Another profile or another secret name is another entry.
        assert_eq!(store.get("Acme 2", SecretName::CwPublicKey).unwrap(), None);
        assert_eq!(store.get("Acme", SecretName::CwPrivateKey).unwrap(), None);
        let b = Secret::new("public-B");
        store.set("Acme", SecretName::CwPublicKey, &b).unwrap();
        assert_eq!(store.get("Acme", SecretName::CwPublicKey).unwrap(), Some(b));
        store.delete("Acme", SecretName::CwPublicKey).unwrap();
        assert_eq!(store.get("Acme", SecretName::CwPublicKey).unwrap(), None);
        store.delete("Acme", SecretName::CwPublicKey).unwrap();
        let err = store
            .set("Acme", SecretName::CwPrivateKey, &Secret::new("  "))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("ConnectWise private key: the key is empty"),
            "{err}"
        );
    }

    #[test]
    fn memory_session_and_mock_keychain_round_trip() {
        round_trip(&MemoryStore::new());
        round_trip(&SessionStore::new());
        round_trip(&KeychainStore::with_store(
            keyring_core::mock::Store::new().unwrap(),
        ));
    }

    #[test]
    fn copy_move_and_delete_all_secrets_of_a_profile() {
        let store = MemoryStore::new();
        for name in SecretSlot::ALL {
            store
                .set_slot("Old", name, &Secret::new(format!("v-{name}")))
                .unwrap();
        }
        copy_secrets(&store, "Old", "Copy").unwrap();
        move_secrets(&store, "Old", "New").unwrap();
        // The webhook goes with the keys.
        for name in SecretSlot::ALL {
            assert_eq!(store.get_slot("Old", name).unwrap(), None);
            let want = Some(Secret::new(format!("v-{name}")));
            assert_eq!(store.get_slot("New", name).unwrap(), want);
            assert_eq!(store.get_slot("Copy", name).unwrap(), want);
        }
        delete_secrets(&store, "Copy").unwrap();
        delete_secrets(&store, "New").unwrap();
        assert!(store.is_empty());
    }

    #[test]
    fn unavailable_keychain_says_what_to_do() {
        let store = MemoryStore::unavailable();
        let err = store.get("p", SecretName::CwPublicKey).unwrap_err();
        assert!(matches!(err, SecretError::KeychainUnavailable { .. }));
        let msg = err.to_string();
        assert!(
            msg.starts_with("the system keychain is not available ("),
            "{msg}"
        );
        assert!(msg.ends_with("or continue for this session only"), "{msg}");
    }

    #[test]
    fn errors_carrying_stored_bytes_are_not_formatted() {
        let leaked = keyring_core::Error::BadEncoding(b"hunter2".to_vec());
        let msg =
            map_error(leaked, SecretName::CwPrivateKey.into(), "p/cw-private-key").to_string();
        assert!(!msg.contains("hunter2") && !msg.contains("104"), "{msg}");
        assert!(msg.contains("not text"), "{msg}");
    }
}

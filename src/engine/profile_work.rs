//! The window's profile work as one use case: save the settings and the keys that changed, then
//! open, create, rename, duplicate or delete a profile, and list the profiles again. It is all
//! file and keychain I/O (a keychain may block on an unlock prompt), so the window runs it on the
//! worker and never while drawing.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use super::settings::SettingsSources;
use crate::domain::adjustments::AdjustmentChange;
use crate::storage::journal::tenant_journals_of;
use crate::storage::secrets::{copy_secrets, delete_secrets, move_secrets};
use crate::storage::{
    AppDirs, Journal, Profile, ProfileError, ProfileStore, Secret, SecretError, SecretName,
    SecretStore, profiles::ProfileList,
};

/// One key to write: a new value, or `None` to remove it.
#[derive(Debug, Clone)]
pub struct KeyChange {
    pub name: SecretName,
    pub value: Option<Secret>,
}

/// The current profile's settings and the keys that changed since they were last stored.
#[derive(Debug, Clone)]
pub struct ProfileSave {
    pub profile: Profile,
    pub keys: Vec<KeyChange>,
}

/// What to do after the save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileStep {
    /// Only save.
    SaveOnly,
    Open(String),
    /// Create an empty profile of this name, then open it.
    Create(String),
    Rename {
        from: String,
        to: String,
    },
    Duplicate {
        from: String,
        to: String,
    },
    /// Delete it (file and keys), then open the first profile left, if any.
    Delete(String),
    /// Record a change of the profile's exclusions in the history of its tenants (after the
    /// save that made it); the profile shown stays as it is.
    Record {
        change: Box<AdjustmentChange>,
        dirs: AppDirs,
    },
}

impl ProfileStep {
    /// Whether the step replaces the profile shown (opens, creates, renames, duplicates or
    /// deletes one), so the form waits for it.
    pub fn replaces_profile(&self) -> bool {
        !matches!(self, Self::SaveOnly | Self::Record { .. })
    }
}

/// The work of one job: an optional save, then one step.
#[derive(Debug, Clone)]
pub struct ProfileWork {
    pub save: Option<ProfileSave>,
    pub step: ProfileStep,
}

/// A profile read back with its keys.
#[derive(Debug)]
pub struct OpenedProfile {
    pub profile: Profile,
    pub keys: BTreeMap<SecretName, Secret>,
    /// The last key that could not be read (the others were read).
    pub key_error: Option<SecretError>,
}

/// What the save did: the file, then each key.
#[derive(Debug)]
pub struct SaveOutcome {
    pub profile: String,
    /// `Err`: the file was not written, and no key was.
    pub file: Result<(), ProfileError>,
    pub keys: Vec<(KeyChange, Result<(), SecretError>)>,
}

/// What the step did.
#[derive(Debug)]
pub struct StepOutcome {
    /// What to tell the user ("Profile \"A\" renamed to \"B\"").
    pub message: Option<String>,
    /// The profile to show now; `None` with `Ok` after deleting the last one.
    pub opened: Option<OpenedProfile>,
    /// A key that could not be copied, moved or deleted with its profile.
    pub key_error: Option<SecretError>,
}

/// Everything one job did, for the window to apply.
#[derive(Debug)]
pub struct ProfileWorkOutcome {
    pub step: ProfileStep,
    pub save: Option<SaveOutcome>,
    /// `Err`: the step did not happen (the message names why and the fix).
    pub result: Result<StepOutcome, String>,
    /// The profiles as they are now (`None` for a save alone).
    pub list: Option<Result<ProfileList, ProfileError>>,
}

/// Puts `work` behind the work waiting. Saves waiting in a row are one: the newer settings
/// win and the key changes of both are kept (a key asked for once is not asked for again).
pub fn queue_work(queue: &mut VecDeque<ProfileWork>, work: ProfileWork) {
    match queue.back_mut() {
        Some(last) if last.step == ProfileStep::SaveOnly && work.step == ProfileStep::SaveOnly => {
            if let Some(mut save) = work.save {
                let mut keys = last.save.take().map(|s| s.keys).unwrap_or_default();
                keys.retain(|k| save.keys.iter().all(|new| new.name != k.name));
                keys.append(&mut save.keys);
                save.keys = keys;
                last.save = Some(save);
            }
        }
        _ => queue.push_back(work),
    }
}

/// Does the work, in order; a failed save does not stop the step (the step's own checks stand).
pub fn run_profile_work(
    store: &ProfileStore,
    secrets: &Arc<dyn SecretStore>,
    work: ProfileWork,
) -> ProfileWorkOutcome {
    let save = work
        .save
        .map(|save| save_profile(store, secrets.as_ref(), save));
    let result = run_step(store, secrets.as_ref(), &work.step);
    let list = work.step.replaces_profile().then(|| store.list());
    ProfileWorkOutcome {
        step: work.step,
        save,
        result,
        list,
    }
}

fn save_profile(store: &ProfileStore, secrets: &dyn SecretStore, save: ProfileSave) -> SaveOutcome {
    let name = save.profile.name.clone();
    let file = store.save(&save.profile);
    let keys = if file.is_ok() {
        save.keys
            .into_iter()
            .map(|change| {
                let result = match &change.value {
                    Some(value) => secrets.set(&name, change.name, value),
                    None => secrets.delete(&name, change.name),
                };
                (change, result)
            })
            .collect()
    } else {
        Vec::new()
    };
    SaveOutcome {
        profile: name,
        file,
        keys,
    }
}

fn run_step(
    store: &ProfileStore,
    secrets: &dyn SecretStore,
    step: &ProfileStep,
) -> Result<StepOutcome, String> {
    let done = |message: String, open: &str, key_error: Option<SecretError>| {
        open_profile(store, secrets, open).map(|opened| StepOutcome {
            message: Some(message),
            opened: Some(opened),
            key_error,
        })
    };
    match step {
        ProfileStep::SaveOnly => Ok(StepOutcome {
            message: None,
            opened: None,
            key_error: None,
        }),
        ProfileStep::Open(name) => open_profile(store, secrets, name).map(|opened| StepOutcome {
            message: Some(format!("Profile \"{}\" opened", opened.profile.name)),
            opened: Some(opened),
            key_error: None,
        }),
        ProfileStep::Create(name) => {
            store
                .create(&Profile::new(name.clone()))
                .map_err(|e| e.to_string())?;
            done(format!("Profile \"{name}\" created"), name, None)
        }
        ProfileStep::Rename { from, to } => {
            let renamed = store.rename(from, to).map_err(|e| e.to_string())?;
            let moved = move_secrets(secrets, from, &renamed.name).err();
            done(
                format!("Profile \"{from}\" renamed to \"{}\"", renamed.name),
                &renamed.name,
                moved,
            )
        }
        ProfileStep::Duplicate { from, to } => {
            let copy = store.duplicate(from, to).map_err(|e| e.to_string())?;
            let copied = copy_secrets(secrets, from, &copy.name).err();
            done(
                format!("Profile \"{from}\" duplicated as \"{}\"", copy.name),
                &copy.name,
                copied,
            )
        }
        ProfileStep::Record { change, dirs } => {
            let profile = store.load(&change.profile).map_err(|e| e.to_string())?;
            let sources = SettingsSources {
                profile: Some(profile.name.clone()),
                ..SettingsSources::default()
            };
            record_change(dirs, &profile, &sources, change)?;
            Ok(StepOutcome {
                message: Some(format!("Recorded in the history: {}", change.describe())),
                opened: None,
                key_error: None,
            })
        }
        ProfileStep::Delete(name) => {
            store.delete(name).map_err(|e| e.to_string())?;
            let deleted = delete_secrets(secrets, name).err();
            let first = store
                .list()
                .ok()
                .and_then(|list| list.profiles.first().map(|p| p.name.clone()));
            let opened = match first {
                Some(first) => Some(open_profile(store, secrets, &first)?),
                None => None,
            };
            Ok(StepOutcome {
                message: Some(format!("Profile \"{name}\" deleted")),
                opened,
                key_error: deleted,
            })
        }
    }
}

/// Reads a profile's file and its keys; a key that cannot be read is reported, the rest kept.
pub fn open_profile(
    store: &ProfileStore,
    secrets: &dyn SecretStore,
    name: &str,
) -> Result<OpenedProfile, String> {
    let profile = store.load(name).map_err(|e| e.to_string())?;
    let mut keys = BTreeMap::new();
    let mut key_error = None;
    for secret in SecretName::ALL {
        match secrets.get(&profile.name, secret) {
            Ok(Some(value)) => {
                keys.insert(secret, value);
            }
            Ok(None) => {}
            Err(e) => key_error = Some(e),
        }
    }
    Ok(OpenedProfile {
        profile,
        keys,
        key_error,
    })
}

/// Records a change of an exclusion or override in the history of every tenant the profile
/// names (its ConnectWise site and company and Synthesize URL, whatever the organization);
/// before the profile's first run there is none, and the change goes to the profile's own
/// history. The command and the window both record through this.
pub fn record_change(
    dirs: &AppDirs,
    profile: &Profile,
    sources: &SettingsSources,
    change: &AdjustmentChange,
) -> Result<(), String> {
    let not_recorded = |e: &dyn std::fmt::Display| {
        format!("the profile was changed, but the change could not be recorded in the history: {e}")
    };
    let journals: Vec<Journal> =
        match super::settings::offline_tenant_of(dirs.clone(), Some(profile.clone()), sources) {
            Ok(offline) => tenant_journals_of(dirs, &offline.tenant)
                .map_err(|e| not_recorded(&e))?
                .iter()
                .map(|found| Journal::for_tenant(dirs, &found.tenant))
                .collect(),
            // A profile with no company id yet has no tenant: its own history keeps the change.
            Err(_) => Vec::new(),
        };
    let journals = if journals.is_empty() {
        vec![Journal::for_profile(dirs, &profile.name).map_err(|e| not_recorded(&e))?]
    } else {
        journals
    };
    for journal in &journals {
        journal
            .append_adjustment_change(change)
            .map_err(|e| not_recorded(&e))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::storage::secrets::MemoryStore;

    fn setup() -> (tempfile::TempDir, ProfileStore, Arc<dyn SecretStore>) {
        let dir = tempfile::tempdir().unwrap();
        let store = ProfileStore::new(&AppDirs::at(dir.path()));
        let secrets: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
        (dir, store, secrets)
    }

    fn save_of(name: &str, key: &str) -> ProfileSave {
        ProfileSave {
            profile: Profile::new(name),
            keys: vec![KeyChange {
                name: SecretName::CwPrivateKey,
                value: Some(Secret::new(key)),
            }],
        }
    }

    #[test]
    fn saves_waiting_in_a_row_are_one_that_keeps_every_key_change() {
        let mut queue = VecDeque::new();
        let save = |keys: Vec<(SecretName, &str)>| ProfileWork {
            save: Some(ProfileSave {
                profile: Profile::new("Acme"),
                keys: keys
                    .into_iter()
                    .map(|(name, v)| KeyChange {
                        name,
                        value: Some(Secret::new(v)),
                    })
                    .collect(),
            }),
            step: ProfileStep::SaveOnly,
        };
        queue_work(&mut queue, save(vec![(SecretName::CwPrivateKey, "one")]));
        queue_work(&mut queue, save(vec![(SecretName::CwPublicKey, "pub")]));
        queue_work(&mut queue, save(vec![(SecretName::CwPrivateKey, "two")]));
        queue_work(&mut queue, save(vec![]));
        assert_eq!(queue.len(), 1);
        let keys: Vec<(SecretName, String)> = queue[0]
            .save
            .as_ref()
            .unwrap()
            .keys
            .iter()
            .map(|k| (k.name, k.value.as_ref().unwrap().expose().to_owned()))
            .collect();
        assert_eq!(
            keys,
            [
                (SecretName::CwPublicKey, "pub".to_owned()),
                (SecretName::CwPrivateKey, "two".to_owned())
            ]
        );
        // A step is never folded into a save, nor a save after it into the step.
        queue_work(
            &mut queue,
            ProfileWork {
                save: None,
                step: ProfileStep::Open("Globex".into()),
            },
        );
        queue_work(&mut queue, save(vec![]));
        assert_eq!(queue.len(), 3);
    }

    #[test]
    fn a_save_then_rename_moves_the_saved_key_to_the_new_name() {
        let (_dir, store, secrets) = setup();
        store.create(&Profile::new("Acme")).unwrap();
        let outcome = run_profile_work(
            &store,
            &secrets,
            ProfileWork {
                save: Some(save_of("Acme", "k1")),
                step: ProfileStep::Rename {
                    from: "Acme".into(),
                    to: "Globex".into(),
                },
            },
        );
        let save = outcome.save.unwrap();
        assert!(save.file.is_ok());
        assert!(save.keys.iter().all(|(_, r)| r.is_ok()));
        let step = outcome.result.unwrap();
        let opened = step.opened.unwrap();
        assert_eq!(opened.profile.name, "Globex");
        assert_eq!(opened.keys[&SecretName::CwPrivateKey].expose(), "k1");
        assert!(
            secrets
                .get("Acme", SecretName::CwPrivateKey)
                .unwrap()
                .is_none()
        );
        assert_eq!(outcome.list.unwrap().unwrap().names(), ["Globex"]);
    }

    #[test]
    fn a_step_that_fails_says_why_and_the_save_before_it_stands() {
        let (_dir, store, secrets) = setup();
        store.create(&Profile::new("Acme")).unwrap();
        store.create(&Profile::new("Globex")).unwrap();
        let outcome = run_profile_work(
            &store,
            &secrets,
            ProfileWork {
                save: Some(save_of("Acme", "k1")),
                step: ProfileStep::Create("globex".into()),
            },
        );
        let message = outcome.result.unwrap_err();
        assert!(message.to_lowercase().contains("globex"), "{message}");
        assert_eq!(
            secrets
                .get("Acme", SecretName::CwPrivateKey)
                .unwrap()
                .unwrap()
                .expose(),
            "k1"
        );
    }

    #[test]
    fn deleting_opens_the_first_profile_left_or_none() {
        let (_dir, store, secrets) = setup();
        store.create(&Profile::new("Acme")).unwrap();
        store.create(&Profile::new("Globex")).unwrap();
        secrets
            .set("Globex", SecretName::CwPrivateKey, &Secret::new("k2"))
            .unwrap();
        let work = |name: &str| ProfileWork {
            save: None,
            step: ProfileStep::Delete(name.into()),
        };
        let outcome = run_profile_work(&store, &secrets, work("Globex"));
        let step = outcome.result.unwrap();
        assert_eq!(step.opened.unwrap().profile.name, "Acme");
        assert!(
            secrets
                .get("Globex", SecretName::CwPrivateKey)
                .unwrap()
                .is_none()
        );
        let outcome = run_profile_work(&store, &secrets, work("Acme"));
        assert!(outcome.result.unwrap().opened.is_none());
        assert!(outcome.list.unwrap().unwrap().profiles.is_empty());
    }

    #[test]
    fn a_key_set_to_nothing_is_removed_and_a_failed_file_write_writes_no_key() {
        let (dir, store, secrets) = setup();
        secrets
            .set("Acme", SecretName::CwPrivateKey, &Secret::new("old"))
            .unwrap();
        let mut save = save_of("Acme", "unused");
        save.keys[0].value = None;
        let outcome = save_profile(&store, secrets.as_ref(), save);
        assert!(outcome.file.is_ok());
        assert!(
            secrets
                .get("Acme", SecretName::CwPrivateKey)
                .unwrap()
                .is_none()
        );
        // The profiles folder is a file now: the profile cannot be written, so no key is.
        std::fs::remove_dir_all(store.dir()).unwrap();
        std::fs::write(store.dir(), "not a folder").unwrap();
        let outcome = save_profile(&store, secrets.as_ref(), save_of("Acme", "new"));
        assert!(outcome.file.is_err());
        assert!(outcome.keys.is_empty());
        assert!(
            secrets
                .get("Acme", SecretName::CwPrivateKey)
                .unwrap()
                .is_none()
        );
        drop(dir);
    }
}

//! The app's profile work: list, switch, save (settings to the profile file, keys to the secret
//! store and never the file), create, rename, duplicate, delete; and the journal it reads.

use std::sync::Arc;

use crate::storage::secrets::{copy_secrets, delete_secrets, move_secrets};
use crate::storage::{
    AppDirs, Journal, Profile, SecretError, SecretName, SecretStore, secrets::SessionStore,
};

use super::super::connection::{ConnectionForm, TestState};
use super::super::log::LogLevel;
use super::super::profiles::ProfileAction;
use super::{App, ExportState, PreviewState};

impl App {
    /// Reads the profile list again; unreadable files are reported, never lost.
    pub fn refresh_profiles(&mut self) {
        match self.store.list() {
            Ok(list) => {
                self.profile_names = list.profiles.iter().map(|p| p.name.clone()).collect();
                self.profile_problems = list.problems.iter().map(|p| p.message.clone()).collect();
            }
            Err(e) => {
                self.profile_names.clear();
                self.profile_problems = vec![e.to_string()];
            }
        }
    }

    /// The folders history is kept in (the demo's own temporary ones in demo mode).
    pub fn history_dirs(&self) -> Option<AppDirs> {
        if self.is_demo() {
            self.demo_dirs.as_ref().map(|d| AppDirs::at(d.path()))
        } else {
            Some(self.dirs.clone())
        }
    }

    /// The journal History shows: the tenant's that the connection form names (its
    /// ConnectWise site and company and its Synthesize URL), once a run has written one.
    pub fn journal(&self) -> Option<Journal> {
        let dirs = self.history_dirs()?;
        self.profile.as_ref()?;
        match crate::engine::tenant::history_journal(
            &dirs,
            &self.connectwise_tenant(),
            &self.form.synthesize_url,
        ) {
            Ok(journal) => journal,
            Err(e) => {
                tracing::warn!("history unavailable: {e}");
                None
            }
        }
    }

    /// The secret store the current profile uses (the demo never touches the keychain).
    fn secret_store(&self) -> Arc<dyn SecretStore> {
        if self.is_demo() {
            Arc::clone(&self.demo_secrets)
        } else {
            Arc::clone(&self.secrets)
        }
    }

    /// When the keychain fails as a whole, says so and keeps keys for this session instead.
    fn on_secret_error(&mut self, e: &SecretError) {
        let text = e.to_string();
        self.log.push(LogLevel::Error, text.clone());
        if matches!(e, SecretError::KeychainUnavailable { .. }) && !self.is_demo() {
            self.secrets = Arc::new(SessionStore::new());
            self.keychain_problem = Some(text);
        } else {
            self.dialog_error = Some(text);
        }
    }

    /// Opens a stored profile: its settings from the file, its keys from the secret store.
    pub fn switch_profile(&mut self, name: &str) {
        let profile = match self.store.load(name) {
            Ok(p) => p,
            Err(e) => {
                self.log.push(LogLevel::Error, e.to_string());
                self.refresh_profiles();
                return;
            }
        };
        #[cfg(feature = "sandbox")]
        {
            self.demo = None;
        }
        self.demo_dirs = None;
        let store = self.secret_store();
        let mut stored = std::collections::BTreeMap::new();
        let mut failure = None;
        for secret in SecretName::ALL {
            match store.get(&profile.name, secret) {
                Ok(Some(value)) => {
                    stored.insert(secret, value.expose().to_owned());
                }
                Ok(None) => {}
                Err(e) => failure = Some(e),
            }
        }
        if let Some(e) = failure {
            self.on_secret_error(&e);
        }
        self.form =
            ConnectionForm::from_profile(&profile, |n| stored.get(&n).cloned().unwrap_or_default());
        self.stored_secrets = stored;
        self.counting_form =
            super::super::counting_form::CountingForm::from_options(&profile.counting);
        self.counting_error = None;
        self.persisted.last_profile = Some(profile.name.clone());
        self.log.push(
            LogLevel::Info,
            format!("Profile \"{}\" opened", profile.name),
        );
        self.profile = Some(profile);
        self.reset_results();
    }

    fn reset_results(&mut self) {
        self.new_epoch();
        self.preview = PreviewState::default();
        self.export = ExportState::default();
        self.connectwise_test = TestState::NotRun;
        self.synthesize_test = TestState::NotRun;
        self.connectwise_report = None;
        self.history = None;
        self.session_dry_runs.clear();
        self.sync = super::super::sync_view::SyncState::default();
    }

    /// Saves the form: settings to the profile file, changed keys to the secret store.
    pub fn save_profile(&mut self) {
        let Some(profile) = self.profile.as_mut() else {
            return;
        };
        self.form.write_to(profile);
        let profile = profile.clone();
        if self.is_demo() {
            return;
        }
        if let Err(e) = self.store.save(&profile) {
            self.log.push(LogLevel::Error, e.to_string());
            return;
        }
        let store = self.secret_store();
        for name in SecretName::ALL {
            let typed = self.form.secret(name).trim().to_owned();
            if self
                .stored_secrets
                .get(&name)
                .map(String::as_str)
                .unwrap_or("")
                == typed
            {
                continue;
            }
            let result = if typed.is_empty() {
                store.delete(&profile.name, name)
            } else {
                store.set(
                    &profile.name,
                    name,
                    &crate::storage::Secret::new(typed.clone()),
                )
            };
            match result {
                Ok(()) => {
                    // Without the keychain the key is only held for this session: say so.
                    let place = if self.keychain_problem.is_some() {
                        "kept for this session only (no keychain)"
                    } else {
                        "saved in the system keychain"
                    };
                    self.log.push(
                        LogLevel::Info,
                        format!("{} {place} for \"{}\"", name.label(), profile.name),
                    );
                    if typed.is_empty() {
                        self.stored_secrets.remove(&name);
                    } else {
                        self.stored_secrets.insert(name, typed);
                    }
                }
                Err(e) => {
                    self.on_secret_error(&e);
                    // The session store that replaced a missing keychain takes it now.
                    if self.keychain_problem.is_some()
                        && !typed.is_empty()
                        && self
                            .secrets
                            .set(
                                &profile.name,
                                name,
                                &crate::storage::Secret::new(typed.clone()),
                            )
                            .is_ok()
                    {
                        self.stored_secrets.insert(name, typed);
                    }
                }
            }
        }
    }

    /// Handles the profile bar and its dialogs.
    pub(super) fn profile_action(&mut self, action: ProfileAction) {
        match action {
            ProfileAction::Switch(name) => {
                self.save_profile();
                self.switch_profile(&name);
            }
            ProfileAction::Demo => {
                self.save_profile();
                self.start_demo();
            }
            ProfileAction::Open(dialog) => {
                self.dialog = Some(dialog);
                self.dialog_error = None;
                self.dialog_focus = true;
            }
            ProfileAction::Close => {
                self.dialog = None;
                self.dialog_error = None;
            }
            ProfileAction::Create(name) => {
                let profile = Profile::new(name.clone());
                match self.store.create(&profile) {
                    Ok(()) => {
                        self.save_profile();
                        self.finish_dialog(&name, format!("Profile \"{name}\" created"));
                    }
                    Err(e) => self.dialog_error = Some(e.to_string()),
                }
            }
            ProfileAction::Rename(new) => {
                let old = self.profile_name().to_owned();
                self.save_profile();
                match self.store.rename(&old, &new) {
                    Ok(renamed) => {
                        if let Err(e) = move_secrets(self.secrets.as_ref(), &old, &renamed.name) {
                            self.on_secret_error(&e);
                        }
                        self.finish_dialog(
                            &renamed.name,
                            format!("Profile \"{old}\" renamed to \"{}\"", renamed.name),
                        );
                    }
                    Err(e) => self.dialog_error = Some(e.to_string()),
                }
            }
            ProfileAction::Duplicate(new) => {
                let old = self.profile_name().to_owned();
                self.save_profile();
                match self.store.duplicate(&old, &new) {
                    Ok(copy) => {
                        if let Err(e) = copy_secrets(self.secrets.as_ref(), &old, &copy.name) {
                            self.on_secret_error(&e);
                        }
                        self.finish_dialog(
                            &copy.name,
                            format!("Profile \"{old}\" duplicated as \"{}\"", copy.name),
                        );
                    }
                    Err(e) => self.dialog_error = Some(e.to_string()),
                }
            }
            ProfileAction::Delete => {
                let name = self.profile_name().to_owned();
                match self.store.delete(&name) {
                    Ok(()) => {
                        if let Err(e) = delete_secrets(self.secrets.as_ref(), &name) {
                            self.on_secret_error(&e);
                        }
                        self.dialog = None;
                        self.dialog_error = None;
                        self.log
                            .push(LogLevel::Info, format!("Profile \"{name}\" deleted"));
                        self.profile = None;
                        self.persisted.last_profile = None;
                        self.refresh_profiles();
                        if let Some(first) = self.profile_names.first().cloned() {
                            self.switch_profile(&first);
                        } else {
                            self.form = ConnectionForm::default();
                            self.reset_results();
                        }
                    }
                    Err(e) => self.dialog_error = Some(e.to_string()),
                }
            }
        }
    }

    fn finish_dialog(&mut self, open: &str, message: String) {
        self.dialog = None;
        self.dialog_error = None;
        self.log.push(LogLevel::Info, message);
        self.refresh_profiles();
        self.switch_profile(open);
    }
}

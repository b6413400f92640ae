//! The app's profile work: list, switch, save (settings to the profile file, keys to the secret
//! store and never the file), create, rename, duplicate, delete — on the worker, in the order
//! asked — and the journal it reads.

use std::sync::Arc;

use crate::engine::profile_work::{
    KeyChange, OpenedProfile, ProfileSave, ProfileStep, ProfileWork, ProfileWorkOutcome,
    SaveOutcome, open_profile, queue_work,
};
use crate::engine::tenant::HistoryPlace;
use crate::storage::profiles::ProfileList;
use crate::storage::{
    AppDirs, ProfileError, Secret, SecretError, SecretName, secrets::SessionStore,
};
use crate::worker::{Handles, Job, JobError, ProfileJob};

use super::super::connection::{ConnectionForm, TestState};
use super::super::log::LogLevel;
use super::super::profiles::ProfileAction;
use super::{App, ExportState, PreviewState};

/// What a key whose removal failed is remembered as: it differs from anything typed (a key is
/// trimmed text), so the next save asks for the removal again.
const NOT_REMOVED: &str = "\u{0}";

impl App {
    /// Reads the profile list again; unreadable files are reported, never lost.
    pub fn refresh_profiles(&mut self) {
        let list = self.services.store.list();
        self.apply_profile_list(list);
    }

    fn apply_profile_list(&mut self, list: Result<ProfileList, ProfileError>) {
        match list {
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
            self.services
                .demo_dirs
                .as_ref()
                .map(|d| AppDirs::at(d.path()))
        } else {
            Some(self.services.dirs.clone())
        }
    }

    /// Where History and the table's "last sent" read the tenant's history: the tenant the
    /// connection form names (its ConnectWise site and company and its Synthesize URL).
    pub fn history_place(&self) -> Option<HistoryPlace> {
        self.profile.as_ref()?;
        Some(HistoryPlace {
            dirs: self.history_dirs()?,
            connectwise: self.connectwise_tenant(),
            synthesize_url: self.form.synthesize_url.clone(),
        })
    }

    /// When the keychain fails as a whole, says so and keeps keys for this session instead.
    fn on_secret_error(&mut self, e: &SecretError) {
        let text = e.to_string();
        self.log.push(LogLevel::Error, text.clone());
        if matches!(e, SecretError::KeychainUnavailable { .. }) && !self.is_demo() {
            self.services.secrets = Arc::new(SessionStore::new());
            self.keychain_problem = Some(text);
        } else {
            self.dialog_error = Some(text);
        }
    }

    /// Opens a stored profile there and then: at start, before the window shows. Afterwards a
    /// profile is opened on the worker ([`ProfileAction::Switch`]).
    pub fn switch_profile(&mut self, name: &str) {
        match open_profile(&self.services.store, self.services.secrets.as_ref(), name) {
            Ok(opened) => self.apply_opened(opened),
            Err(e) => {
                self.log.push(LogLevel::Error, e);
                self.refresh_profiles();
            }
        }
    }

    /// Shows a profile read back with its keys, leaving the demo and the previous profile's
    /// results behind.
    fn apply_opened(&mut self, opened: OpenedProfile) {
        let OpenedProfile {
            profile,
            keys,
            key_error,
        } = opened;
        #[cfg(feature = "sandbox")]
        {
            self.services.demo = None;
        }
        self.services.demo_dirs = None;
        if let Some(e) = key_error {
            self.on_secret_error(&e);
        }
        let stored: std::collections::BTreeMap<SecretName, String> = keys
            .into_iter()
            .map(|(name, value)| (name, value.expose().to_owned()))
            .collect();
        self.form =
            ConnectionForm::from_profile(&profile, |n| stored.get(&n).cloned().unwrap_or_default());
        self.stored_secrets = stored;
        self.counting_form =
            super::super::counting_form::CountingForm::from_options(&profile.counting);
        self.counting_error = None;
        self.persisted.last_profile = Some(profile.name.clone());
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

    /// The form as a save: settings into the profile, and the keys that differ from those
    /// last stored (`None` in the demo, which is never saved, or without a profile).
    fn pending_save(&mut self) -> Option<ProfileSave> {
        let demo = self.is_demo();
        let profile = self.profile.as_mut()?;
        self.form.write_to(profile);
        if demo {
            return None;
        }
        let keys: Vec<KeyChange> = SecretName::ALL
            .into_iter()
            .filter_map(|name| {
                let typed = self.form.secret(name).trim().to_owned();
                let stored = self.stored_secrets.get(&name).map_or("", String::as_str);
                (stored != typed).then(|| KeyChange {
                    name,
                    value: (!typed.is_empty()).then(|| Secret::new(typed)),
                })
            })
            .collect();
        // What was asked for counts as stored, so a second save before the first lands does
        // not write the same key again; a write that fails is forgotten again when it answers.
        for change in &keys {
            match &change.value {
                Some(value) => {
                    self.stored_secrets
                        .insert(change.name, value.expose().to_owned());
                }
                None => {
                    self.stored_secrets.remove(&change.name);
                }
            }
        }
        Some(ProfileSave {
            profile: profile.clone(),
            keys,
        })
    }

    /// Saves the form on the worker: settings to the profile file, changed keys to the secret
    /// store.
    pub fn save_profile(&mut self) {
        if let Some(save) = self.pending_save() {
            self.queue_profile_work(ProfileWork {
                save: Some(save),
                step: ProfileStep::SaveOnly,
            });
        }
    }

    /// Saves the form, then records `change` of its exclusions in the tenant's history, as the
    /// command's `profile exclude…` does (the demo, never saved, records nothing).
    pub(super) fn save_and_record(&mut self, change: crate::domain::adjustments::AdjustmentChange) {
        if self.is_demo() {
            return;
        }
        self.save_then(ProfileStep::Record {
            change: Box::new(change),
            dirs: self.services.dirs.clone(),
        });
    }

    /// Saves the form, then does `step`, on the worker.
    fn save_then(&mut self, step: ProfileStep) {
        let save = self.pending_save();
        self.queue_profile_work(ProfileWork { save, step });
    }

    /// Profile work runs one job at a time, in the order asked; saves waiting in a row are one.
    fn queue_profile_work(&mut self, work: ProfileWork) {
        if self.profile_queue.is_empty() && !self.services.worker.is_running(ProfileJob::KIND) {
            self.start_profile_job(work);
            return;
        }
        queue_work(&mut self.profile_queue, work);
    }

    fn start_profile_job(&mut self, work: ProfileWork) {
        self.profile_step_running = work.step.replaces_profile();
        // The demo never saves, so profile work always uses the real store.
        self.start_job(ProfileJob {
            store: self.services.store.clone(),
            secrets: Arc::clone(&self.services.secrets),
            work,
        });
    }

    /// Whether profile work is running or waiting (a profile being opened, saved or renamed).
    pub fn profile_work_pending(&self) -> bool {
        !self.profile_queue.is_empty() || self.services.worker.is_running(ProfileJob::KIND)
    }

    /// Whether a profile is being opened, created, renamed, duplicated or deleted: the form is
    /// about to be replaced, so it is not editable meanwhile.
    pub fn profile_changing(&self) -> bool {
        (self.profile_step_running && self.services.worker.is_running(ProfileJob::KIND))
            || self.profile_queue.iter().any(|w| w.step.replaces_profile())
    }

    fn on_profile_saved(&mut self, save: SaveOutcome) {
        if let Err(e) = save.file {
            self.log.push(LogLevel::Error, e.to_string());
            return;
        }
        let current = self.profile_name() == save.profile;
        for (change, result) in save.keys {
            let name = change.name;
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
                        format!("{} {place} for \"{}\"", name.label(), save.profile),
                    );
                }
                Err(e) => {
                    self.on_secret_error(&e);
                    // The session store that replaced a missing keychain takes it now.
                    let kept = change.value.as_ref().is_some_and(|value| {
                        self.keychain_problem.is_some()
                            && self
                                .services
                                .secrets
                                .set(&save.profile, name, value)
                                .is_ok()
                    });
                    if current && !kept {
                        // Not stored: the next save writes it again. A removal that failed
                        // is marked with a value nobody types, so it is tried again too.
                        match change.value {
                            Some(_) => self.stored_secrets.remove(&name),
                            None => self.stored_secrets.insert(name, NOT_REMOVED.to_owned()),
                        };
                    }
                }
            }
        }
    }

    fn on_profile_work(&mut self, outcome: ProfileWorkOutcome) {
        if let Some(save) = outcome.save {
            self.on_profile_saved(save);
        }
        if let Some(list) = outcome.list {
            self.apply_profile_list(list);
        }
        let dialog_step =
            outcome.step.replaces_profile() && !matches!(outcome.step, ProfileStep::Open(_));
        match outcome.result {
            Ok(done) => {
                if let Some(e) = done.key_error {
                    self.on_secret_error(&e);
                }
                if dialog_step {
                    self.dialog = None;
                    self.dialog_error = None;
                }
                if let Some(message) = done.message {
                    self.log.push(LogLevel::Info, message);
                }
                match done.opened {
                    Some(opened) => self.apply_opened(opened),
                    None if matches!(outcome.step, ProfileStep::Delete(_)) => {
                        self.profile = None;
                        self.persisted.last_profile = None;
                        self.form = ConnectionForm::default();
                        self.reset_results();
                    }
                    None => {}
                }
            }
            Err(e) if dialog_step => self.dialog_error = Some(e),
            Err(e) => self.log.push(LogLevel::Error, e),
        }
    }

    /// Handles the profile bar and its dialogs.
    pub(super) fn profile_action(&mut self, action: ProfileAction) {
        match action {
            ProfileAction::Switch(name) => self.save_then(ProfileStep::Open(name)),
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
            ProfileAction::Create(name) => self.save_then(ProfileStep::Create(name)),
            ProfileAction::Rename(to) => {
                let from = self.profile_name().to_owned();
                self.save_then(ProfileStep::Rename { from, to });
            }
            ProfileAction::Duplicate(to) => {
                let from = self.profile_name().to_owned();
                self.save_then(ProfileStep::Duplicate { from, to });
            }
            ProfileAction::Delete => {
                let name = self.profile_name().to_owned();
                // The profile goes: what the form holds is not saved first.
                self.queue_profile_work(ProfileWork {
                    save: None,
                    step: ProfileStep::Delete(name),
                });
            }
        }
    }
}

impl Handles<ProfileJob> for App {
    fn on_outcome(&mut self, result: Result<Box<ProfileWorkOutcome>, JobError>) {
        match result {
            Ok(outcome) => self.on_profile_work(*outcome),
            Err(e) => self
                .log
                .push(LogLevel::Error, format!("The profile files: {e}")),
        }
        if let Some(next) = self.profile_queue.pop_front() {
            self.start_profile_job(next);
        }
    }
}

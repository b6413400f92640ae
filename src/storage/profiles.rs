//! Profiles: one JSON file per PSA tenant in `<config_dir>/profiles/`, holding everything but
//! secrets. Saved atomically; a file that cannot be read is moved aside, never lost.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::names::{self, NameError, file_stem, name_from_file_stem, same_profile_name};
use super::paths::AppDirs;
use crate::domain::adjustments::{
    self, AdjustmentChange, AdjustmentChangeKind, Exclusion, ExclusionSettings, Override,
};
use crate::domain::counting::CountingOptions;
use crate::domain::csv_export::CsvDelimiter;
use crate::domain::notify::NotifySettings;
use crate::domain::safety::DropGuardThresholds;
use crate::domain::settings::{ConnectWiseSite, DEFAULT_SYNTHESIZE_URL, SyncOptions};

const PROFILE_EXTENSION: &str = "json";

/// The ConnectWise side of a profile (the keys are in the keychain, not here).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectWiseProfile {
    pub site: ConnectWiseSite,
    /// The company id typed at the ConnectWise login (not a numeric company record id).
    pub company_id: String,
    /// The integration's client id (a GUID from the ConnectWise developer portal).
    pub client_id: String,
    /// The API version pinned in the `Accept` header (`2022.1`); `None`: the product's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
}

/// One PSA tenant's settings. Every field has a default so files from older versions load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    /// The name the user gave; on disk the file name is authoritative (see [`ProfileStore`]).
    pub name: String,
    pub connectwise: ConnectWiseProfile,
    pub synthesize_url: String,
    pub counting: CountingOptions,
    pub sync: SyncOptions,
    pub csv_delimiter: CsvDelimiter,
    /// When a sync counts as a large drop and stops to ask.
    pub drop_guard: DropGuardThresholds,
    /// A PEM file of root certificates trusted beside the system's for both services (an
    /// on-premise server's internal CA); `CW_SHARED_DEVICES_CA_FILE` overrides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_ca_file: Option<String>,
    /// Companies never billed by this profile, with the reasons.
    pub exclusions: ExclusionSettings,
    /// Documented count overrides, one per company and service.
    pub overrides: Vec<Override>,
    /// The webhook notified after a headless run (its URL is in the keychain).
    pub notify: NotifySettings,
}

impl Profile {
    /// The exclusions and overrides a run of this profile applies (the companies' statuses
    /// are read by the run when the profile asks for them).
    pub fn run_adjustments(&self) -> adjustments::RunAdjustments {
        adjustments::RunAdjustments {
            exclusions: self.exclusions.clone(),
            overrides: self.overrides.clone(),
            ..adjustments::RunAdjustments::default()
        }
    }
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            name: String::new(),
            connectwise: ConnectWiseProfile::default(),
            synthesize_url: DEFAULT_SYNTHESIZE_URL.to_owned(),
            counting: CountingOptions::default(),
            sync: SyncOptions::default(),
            csv_delimiter: CsvDelimiter::default(),
            drop_guard: DropGuardThresholds::default(),
            extra_ca_file: None,
            exclusions: ExclusionSettings::default(),
            overrides: Vec::new(),
            notify: NotifySettings::default(),
        }
    }
}

/// The most an extra CA certificates file may hold: a bundle of a few hundred certificates.
const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;

/// Reads an extra CA certificates file (PEM): its text, or what is wrong with it in words that
/// name the file.
pub fn read_extra_ca_file(path: &Path) -> Result<String, String> {
    let name = path.display();
    let file = std::fs::File::open(path)
        .map_err(|e| format!("Extra CA certificates file {name}: cannot open it ({e})"))?;
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(file, MAX_CA_FILE_BYTES + 1),
        &mut text,
    )
    .map_err(|e| format!("Extra CA certificates file {name}: cannot read it as text ({e})"))?;
    if text.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(format!(
            "Extra CA certificates file {name}: it is larger than 1 MB; name a PEM file of CA certificates"
        ));
    }
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!(
            "Extra CA certificates file {name}: it holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(text)
}

impl Profile {
    /// A profile with default settings.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("Profile \"{0}\": there is no such profile; pick one from the list or create it")]
    NotFound(String),
    #[error("Profile name: a profile named \"{0}\" already exists; choose another name")]
    AlreadyExists(String),
    #[error(
        "Profile \"{name}\": its file could not be read ({reason}); it was moved aside to {moved_to}; set the profile up again"
    )]
    Corrupt {
        name: String,
        reason: String,
        moved_to: PathBuf,
    },
    #[error(
        "Profile \"{name}\": its file could not be read ({reason}) and could not be moved aside; fix or remove {path}"
    )]
    CorruptNotMoved {
        name: String,
        reason: String,
        path: PathBuf,
    },
    #[error(
        "{field}: the URL holds a user name or password (the part before @); remove it, since the product never stores credentials in a URL (the keys belong in the keychain)"
    )]
    CredentialsInUrl { field: &'static str },
    #[error(
        "Profile \"{name}\": its history file {path} is in the way; move that file elsewhere and try again"
    )]
    JournalInTheWay { name: String, path: PathBuf },
    #[error(
        "Profile \"{name}\": company {company_id} is not excluded, so there is nothing to include; `profile show` lists the exclusions"
    )]
    NotExcluded { name: String, company_id: i64 },
    #[error(
        "Profile \"{name}\": company {company_id} has no {service} override to clear; `profile show` lists the overrides"
    )]
    NoOverride {
        name: String,
        company_id: i64,
        service: &'static str,
    },
    #[error(transparent)]
    Adjustment(#[from] adjustments::AdjustmentParseError),
    #[error(
        "Profiles folder: could not {action} {path} ({source}); check the folder's permissions and free space"
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ProfileError {
    let path = path.to_path_buf();
    move |source| ProfileError::Io {
        action,
        path,
        source,
    }
}

/// A profile file [`ProfileStore::list`] could not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileProblem {
    pub file: PathBuf,
    /// Where the unreadable file was moved, if it was.
    pub moved_to: Option<PathBuf>,
    /// In words, for the window and the log.
    pub message: String,
}

/// The profiles found, sorted by name, and the files that could not be loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileList {
    pub profiles: Vec<Profile>,
    pub problems: Vec<ProfileProblem>,
}

impl ProfileList {
    pub fn names(&self) -> Vec<&str> {
        self.profiles.iter().map(|p| p.name.as_str()).collect()
    }
}

/// The profile files of one config dir.
///
/// A profile's file is `<stem>.json` where the stem encodes the name ([`names::file_stem`]);
/// when loading, the name comes from the file name and the `name` inside the file is ignored,
/// so a copied or hand-edited file can never claim another profile's name. Names are unique
/// ignoring case, because Windows and macOS file names are.
#[derive(Debug, Clone)]
pub struct ProfileStore {
    dir: PathBuf,
    journal_dir: PathBuf,
}

impl ProfileStore {
    pub fn new(dirs: &AppDirs) -> Self {
        Self {
            dir: dirs.profiles_dir(),
            journal_dir: dirs.journal_dir(),
        }
    }

    /// The folder holding the profile files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, name: &str) -> PathBuf {
        self.dir
            .join(format!("{}.{PROFILE_EXTENSION}", file_stem(name)))
    }

    fn journal_path_for(&self, name: &str) -> PathBuf {
        super::journal::journal_file(&self.journal_dir, name)
    }

    /// The names of the profile files present, without reading them.
    fn names_on_disk(&self) -> Result<Vec<(String, PathBuf)>, ProfileError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("list", &self.dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.map_err(io_error("list", &self.dir))?.path();
            if let Some(name) = profile_name_of(&path) {
                out.push((name, path));
            }
        }
        Ok(out)
    }

    /// The existing profile whose name equals `name` ignoring case, if any.
    fn find(&self, name: &str) -> Result<Option<(String, PathBuf)>, ProfileError> {
        let exact = self.path_for(name);
        if exact.is_file() {
            return Ok(Some((name.to_owned(), exact)));
        }
        Ok(self
            .names_on_disk()?
            .into_iter()
            .find(|(existing, _)| same_profile_name(existing, name)))
    }

    /// Every profile, sorted by name (ignoring case). Unreadable files are moved aside and
    /// reported in `problems`; the other profiles still load.
    pub fn list(&self) -> Result<ProfileList, ProfileError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ProfileList::default()),
            Err(e) => return Err(io_error("list", &self.dir)(e)),
        };
        let mut list = ProfileList::default();
        for entry in entries {
            let path = entry.map_err(io_error("list", &self.dir))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some(PROFILE_EXTENSION) {
                continue;
            }
            let Some(name) = profile_name_of(&path) else {
                list.problems.push(ProfileProblem {
                    message: format!(
                        "{} is not a profile file this program wrote (its name does not decode); rename it or move it out of {}",
                        path.display(),
                        self.dir.display()
                    ),
                    file: path,
                    moved_to: None,
                });
                continue;
            };
            match read_profile(&name, &path) {
                Ok(profile) => list.profiles.push(profile),
                Err(ProfileError::Corrupt {
                    reason, moved_to, ..
                }) => list.problems.push(ProfileProblem {
                    message: format!(
                        "Profile \"{name}\" could not be read ({reason}); its file was moved aside to {}",
                        moved_to.display()
                    ),
                    file: path,
                    moved_to: Some(moved_to),
                }),
                Err(other) => list.problems.push(ProfileProblem {
                    message: other.to_string(),
                    file: path,
                    moved_to: None,
                }),
            }
        }
        list.profiles.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then_with(|| a.name.cmp(&b.name))
        });
        list.problems.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(list)
    }

    /// Loads one profile; the name is matched ignoring case when no exact match exists.
    pub fn load(&self, name: &str) -> Result<Profile, ProfileError> {
        names::validate_profile_name(name)?;
        let (found, path) = self
            .find(name)?
            .ok_or_else(|| ProfileError::NotFound(name.to_owned()))?;
        read_profile(&found, &path)
    }

    /// Whether a profile of this name exists (ignoring case).
    pub fn exists(&self, name: &str) -> Result<bool, ProfileError> {
        Ok(self.find(name)?.is_some())
    }

    /// Saves a profile, creating or replacing its file atomically (a crash leaves the old file
    /// or the new one, never half of one).
    pub fn save(&self, profile: &Profile) -> Result<(), ProfileError> {
        names::validate_profile_name(&profile.name)?;
        if let Some((existing, _)) = self.find(&profile.name)?
            && existing != profile.name
        {
            // Saving "acme" over "Acme" would silently rename it on some systems.
            return Err(ProfileError::AlreadyExists(existing));
        }
        self.write(profile, WriteMode::Replace)
    }

    /// Creates a new profile; fails if one of that name (ignoring case) exists.
    pub fn create(&self, profile: &Profile) -> Result<(), ProfileError> {
        names::validate_profile_name(&profile.name)?;
        if let Some((existing, _)) = self.find(&profile.name)? {
            return Err(ProfileError::AlreadyExists(existing));
        }
        self.write(profile, WriteMode::CreateNew)
    }

    /// Renames a profile and its history (journal). Secrets are keyed by profile name too:
    /// move them with [`super::secrets::move_secrets`].
    ///
    /// Files are first moved to temporary names, so a change of letter case only works the
    /// same on file systems that ignore case and on those that don't, and a failure puts
    /// everything back.
    pub fn rename(&self, old: &str, new: &str) -> Result<Profile, ProfileError> {
        names::validate_profile_name(new)?;
        let mut profile = self.load(old)?;
        let old = profile.name.clone();
        if old == new {
            return Ok(profile);
        }
        if !same_profile_name(&old, new)
            && let Some((existing, _)) = self.find(new)?
        {
            return Err(ProfileError::AlreadyExists(existing));
        }
        let old_path = self.path_for(&old);
        let old_journal = self.journal_path_for(&old);
        let new_journal = self.journal_path_for(new);

        // The journal first: it is the part that can be in the way.
        let journal_tmp = if old_journal.exists() {
            let tmp = temporary_sibling(&old_journal);
            std::fs::rename(&old_journal, &tmp).map_err(io_error("move", &old_journal))?;
            if new_journal.exists() {
                let _ = std::fs::rename(&tmp, &old_journal);
                return Err(ProfileError::JournalInTheWay {
                    name: new.to_owned(),
                    path: new_journal,
                });
            }
            Some(tmp)
        } else {
            None
        };
        let restore_journal = |journal_tmp: &Option<PathBuf>| {
            if let Some(tmp) = journal_tmp {
                let _ = std::fs::rename(tmp, &old_journal);
            }
        };

        let old_tmp = temporary_sibling(&old_path);
        if let Err(e) = std::fs::rename(&old_path, &old_tmp) {
            restore_journal(&journal_tmp);
            return Err(io_error("move", &old_path)(e));
        }
        profile.name = new.to_owned();
        if let Err(e) = self.write(&profile, WriteMode::CreateNew) {
            let _ = std::fs::rename(&old_tmp, &old_path);
            restore_journal(&journal_tmp);
            return Err(e);
        }
        std::fs::remove_file(&old_tmp).map_err(io_error("remove", &old_tmp))?;
        if let Some(tmp) = journal_tmp {
            std::fs::rename(&tmp, &new_journal).map_err(io_error("move", &tmp))?;
        }
        Ok(profile)
    }

    /// Copies a profile's settings under a new name. The copy starts with no history;
    /// secrets can be copied with [`super::secrets::copy_secrets`].
    pub fn duplicate(&self, name: &str, new: &str) -> Result<Profile, ProfileError> {
        let mut profile = self.load(name)?;
        profile.name = new.to_owned();
        self.create(&profile)?;
        Ok(profile)
    }

    /// Deletes a profile's file. Its history is kept, moved aside to
    /// `<journal>.deleted-<timestamp>`, so a new profile of the same name starts afresh.
    /// Secrets: delete them with [`super::secrets::delete_secrets`].
    pub fn delete(&self, name: &str) -> Result<(), ProfileError> {
        names::validate_profile_name(name)?;
        let (found, path) = self
            .find(name)?
            .ok_or_else(|| ProfileError::NotFound(name.to_owned()))?;
        std::fs::remove_file(&path).map_err(io_error("remove", &path))?;
        let journal = self.journal_path_for(&found);
        if journal.exists() {
            move_aside(&journal, "deleted").map_err(io_error("move", &journal))?;
        }
        Ok(())
    }

    /// Excludes a company from billing (or changes the reason of its exclusion) and saves the
    /// profile. Returns the change, for the tenant's history ([`super::journal::Journal::append_adjustment_change`]).
    pub fn exclude_company(
        &self,
        name: &str,
        company_id: i64,
        reason: &str,
        by: &ChangeAuthor,
    ) -> Result<AdjustmentChange, ProfileError> {
        let reason = adjustments::parse_reason(reason)?;
        let mut profile = self.load(name)?;
        let replaced = profile.exclusions.insert(Exclusion {
            company_id,
            reason: reason.clone(),
            since: by.at,
        });
        self.save(&profile)?;
        Ok(by.change(
            &profile.name,
            AdjustmentChangeKind::Excluded {
                company_id,
                replaced_reason: replaced.map(|e| e.reason),
            },
            reason,
        ))
    }

    /// Includes an excluded company again and saves the profile; `reason` may be empty.
    pub fn include_company(
        &self,
        name: &str,
        company_id: i64,
        reason: &str,
        by: &ChangeAuthor,
    ) -> Result<AdjustmentChange, ProfileError> {
        let mut profile = self.load(name)?;
        let removed =
            profile
                .exclusions
                .remove(company_id)
                .ok_or_else(|| ProfileError::NotExcluded {
                    name: profile.name.clone(),
                    company_id,
                })?;
        self.save(&profile)?;
        Ok(by.change(
            &profile.name,
            AdjustmentChangeKind::Included {
                company_id,
                excluded_reason: removed.reason,
            },
            reason.trim().to_owned(),
        ))
    }

    /// Turns "exclude companies whose ConnectWise status is marked inactive" on or off and saves
    /// the profile; `None` when it already was so.
    pub fn set_exclude_inactive_companies(
        &self,
        name: &str,
        on: bool,
        reason: &str,
        by: &ChangeAuthor,
    ) -> Result<Option<AdjustmentChange>, ProfileError> {
        let mut profile = self.load(name)?;
        if profile.exclusions.exclude_inactive_companies == on {
            return Ok(None);
        }
        profile.exclusions.exclude_inactive_companies = on;
        self.save(&profile)?;
        Ok(Some(by.change(
            &profile.name,
            AdjustmentChangeKind::InactiveCompaniesExcluded { on },
            reason.trim().to_owned(),
        )))
    }

    /// Sets (or replaces) the override of a company and service and saves the profile. Its
    /// reason must not be empty.
    pub fn set_override(
        &self,
        name: &str,
        new: &Override,
        by: &ChangeAuthor,
    ) -> Result<AdjustmentChange, ProfileError> {
        let new = Override {
            reason: adjustments::parse_reason(&new.reason)?,
            ..new.clone()
        };
        let mut profile = self.load(name)?;
        let replaced = adjustments::set_override(&mut profile.overrides, new.clone());
        self.save(&profile)?;
        let reason = new.reason.clone();
        Ok(by.change(
            &profile.name,
            AdjustmentChangeKind::OverrideSet { set: new, replaced },
            reason,
        ))
    }

    /// Clears the override of a company and service and saves the profile; `reason` may be
    /// empty.
    pub fn clear_override(
        &self,
        name: &str,
        company_id: i64,
        service: crate::domain::sync_plan::ServiceKind,
        reason: &str,
        by: &ChangeAuthor,
    ) -> Result<AdjustmentChange, ProfileError> {
        let mut profile = self.load(name)?;
        let cleared = adjustments::clear_override(&mut profile.overrides, company_id, service)
            .ok_or_else(|| ProfileError::NoOverride {
                name: profile.name.clone(),
                company_id,
                service: service.service_name(),
            })?;
        self.save(&profile)?;
        Ok(by.change(
            &profile.name,
            AdjustmentChangeKind::OverrideCleared { cleared },
            reason.trim().to_owned(),
        ))
    }

    fn write(&self, profile: &Profile, mode: WriteMode) -> Result<(), ProfileError> {
        refuse_credentials_in_urls(profile)?;
        super::private::ensure_private_dir(&self.dir).map_err(io_error("create", &self.dir))?;
        let path = self.path_for(&profile.name);
        let mut json = serde_json::to_vec_pretty(profile).map_err(|e| ProfileError::Io {
            action: "encode",
            path: path.clone(),
            source: e.into(),
        })?;
        json.push(b'\n');
        let mut tmp = tempfile::Builder::new()
            .prefix(".profile-")
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(io_error("write to", &self.dir))?;
        tmp.write_all(&json)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(io_error("write", tmp.path()))?;
        let persisted = match mode {
            WriteMode::Replace => tmp.persist(&path).map(drop),
            WriteMode::CreateNew => tmp.persist_noclobber(&path).map(drop),
        };
        persisted.map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                ProfileError::AlreadyExists(profile.name.clone())
            } else {
                io_error("write", &path)(e.error)
            }
        })
    }
}

/// Who makes a change to a profile's exclusions or overrides, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeAuthor {
    /// The OS user name.
    pub by: String,
    pub at: DateTime<Utc>,
}

impl ChangeAuthor {
    /// The user running this program, now.
    pub fn current() -> Self {
        Self {
            by: adjustments::os_user_name(|name| std::env::var(name).ok()),
            at: Utc::now(),
        }
    }

    pub fn change(
        &self,
        profile: &str,
        change: AdjustmentChangeKind,
        reason: String,
    ) -> AdjustmentChange {
        AdjustmentChange {
            at: self.at,
            by: self.by.clone(),
            profile: profile.to_owned(),
            change,
            reason,
        }
    }
}

/// Whether a typed URL (with or without its scheme) carries `user:pass@` before the host.
fn url_holds_credentials(text: &str) -> bool {
    let text = text.trim();
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("https://{text}")
    };
    url::Url::parse(&with_scheme)
        .is_ok_and(|url| !url.username().is_empty() || url.password().is_some())
}

/// A password in a URL would sit in a plain file: no profile is written with one.
fn refuse_credentials_in_urls(profile: &Profile) -> Result<(), ProfileError> {
    let site = &profile.connectwise.site;
    let urls = [
        ("ConnectWise site URL", site.site_url()),
        ("ConnectWise API URL", site.direct_api_url()),
        ("Synthesize URL", Some(profile.synthesize_url.as_str())),
    ];
    for (field, url) in urls {
        if url.is_some_and(url_holds_credentials) {
            return Err(ProfileError::CredentialsInUrl { field });
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum WriteMode {
    Replace,
    CreateNew,
}

fn profile_name_of(path: &Path) -> Option<String> {
    if path.extension()?.to_str()? != PROFILE_EXTENSION {
        return None;
    }
    name_from_file_stem(path.file_stem()?.to_str()?)
}

/// A hidden, unused name in the same folder (so a rename to it stays on one file system).
fn temporary_sibling(path: &Path) -> PathBuf {
    path.with_file_name(format!(".rename-{:016x}.tmp", rand::random::<u64>()))
}

/// Reads and parses a profile file; a file that does not parse is moved aside.
fn read_profile(name: &str, path: &Path) -> Result<Profile, ProfileError> {
    let bytes = std::fs::read(path).map_err(io_error("read", path))?;
    match serde_json::from_slice::<Profile>(&bytes) {
        Ok(mut profile) => {
            profile.name = name.to_owned();
            Ok(profile)
        }
        Err(e) => {
            let reason = e.to_string();
            match move_aside(path, "corrupt") {
                Ok(moved_to) => {
                    tracing::warn!(
                        file = %path.display(),
                        moved_to = %moved_to.display(),
                        "unreadable profile file moved aside: {reason}"
                    );
                    Err(ProfileError::Corrupt {
                        name: name.to_owned(),
                        reason,
                        moved_to,
                    })
                }
                Err(_) => Err(ProfileError::CorruptNotMoved {
                    name: name.to_owned(),
                    reason,
                    path: path.to_path_buf(),
                }),
            }
        }
    }
}

/// Renames `path` to `<file>.<tag>-<UTC timestamp>` (plus `-2`, `-3`… if taken) and returns
/// the new path. Never overwrites.
pub(crate) fn move_aside(path: &Path, tag: &str) -> std::io::Result<PathBuf> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    for n in 1..1000 {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("-{n}")
        };
        let target = path.with_file_name(format!("{file_name}.{tag}-{stamp}{suffix}"));
        if target.exists() {
            continue;
        }
        // A hard link fails if the target exists, so a concurrent move can't be overwritten.
        match std::fs::hard_link(path, &target) {
            Ok(()) => {
                std::fs::remove_file(path)?;
                return Ok(target);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => {
                // File systems without hard links: a plain rename after the existence check.
                std::fs::rename(path, &target)?;
                return Ok(target);
            }
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "too many files moved aside with the same timestamp",
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

//! Where a run's settings come from: the profile (its keychain entries for the keys), then the
//! command line's overrides, then the six environment variables, which override the profile's
//! ids and keys. Also the one place that turns typed connection fields (the window's form) into
//! the settings each service's client takes.

pub use crate::api::connectwise::ConnectWiseCredentials;
pub use crate::api::synthesize::SynthesizeCredentials;

use crate::api::connectwise::{ConnectWiseSettings, ConnectWiseTarget, accept_header_for};
use crate::api::synthesize::SynthesizeSettings;
use crate::domain::adjustments::RunAdjustments;
use crate::domain::counting::CountingOptions;
use crate::domain::csv_export::CsvDelimiter;
use crate::domain::safety::{DropGuardThresholds, TenantIdentity};
use crate::domain::settings::{ConnectWiseSite, SyncOptions};
use crate::storage::profiles::read_extra_ca_file;
use crate::storage::secrets::KeychainStore;
use crate::storage::{AppDirs, Profile, ProfileStore, SecretName, SecretStore};

/// Why a run's settings could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A missing or wrong setting, profile or flag: the fix is in the configuration.
    #[error("{0}")]
    Config(String),
    /// The sync history of the profile cannot be opened.
    #[error("{0}")]
    Journal(String),
}

/// What the caller names for a run beside the environment: the profile, and URLs that
/// override the profile's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsSources {
    pub profile: Option<String>,
    /// The ConnectWise site URL (`--cw-url`).
    pub cw_url: Option<String>,
    /// The ConnectWise API base URL, skipping discovery (`--cw-api-url`).
    pub cw_api_url: Option<String>,
    /// The Synthesize URL (`--synthesize-url`).
    pub synthesize_url: Option<String>,
}

/// The six variables that override a profile's secrets and ids.
pub const ENV_VARS: [&str; 6] = [
    "CW_COMPANY_ID",
    "CW_PUBLIC_KEY",
    "CW_PRIVATE_KEY",
    "CW_CLIENT_ID",
    "SYNTHESIZE_VENDOR_API_KEY",
    "SYNTHESIZE_PARTNER_API_KEY",
];

/// Names a PEM file of extra root certificates to trust (beside the system's) for both
/// services; overrides the profile's `extra_ca_file`.
pub const CA_FILE_ENV_VAR: &str = "CW_SHARED_DEVICES_CA_FILE";

/// The journal name of runs made without a profile, from the environment alone.
pub const ENVIRONMENT_JOURNAL: &str = "environment";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Everything a run needs, resolved. Keys are held only as long as the run.
#[derive(Clone)]
pub struct RunSettings {
    pub dirs: AppDirs,
    pub profile: Option<Profile>,
    cw_target: ConnectWiseTarget,
    cw_company_id: Option<String>,
    cw_client_id: Option<String>,
    cw_public_key: Option<String>,
    cw_private_key: Option<String>,
    synthesize_url: String,
    vendor_key: Option<String>,
    partner_key: Option<String>,
    cw_api_version: Option<String>,
    /// The extra root certificates (PEM) read from the CA file, if one is named.
    extra_roots_pem: Option<String>,
    pub counting: CountingOptions,
    pub sync: SyncOptions,
    pub csv_delimiter: CsvDelimiter,
    /// The profile's exclusions and overrides; none for a run from the environment alone.
    pub adjustments: RunAdjustments,
}

impl std::fmt::Debug for RunSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSettings")
            .field("profile", &self.profile.as_ref().map(|p| &p.name))
            .field("cw_target", &self.cw_target)
            .field("synthesize_url", &self.synthesize_url)
            .finish_non_exhaustive()
    }
}

pub fn app_dirs() -> Result<AppDirs, SettingsError> {
    AppDirs::platform().map_err(|e| SettingsError::Config(e.to_string()))
}

/// Loads a profile by name, with a message listing the ones there are when it is missing.
pub fn load_profile(dirs: &AppDirs, name: &str) -> Result<Profile, SettingsError> {
    let store = ProfileStore::new(dirs);
    store.load(name).map_err(|e| {
        let names = store
            .list()
            .map(|l| l.names().join(", "))
            .unwrap_or_default();
        let known = if names.is_empty() {
            "there are no profiles yet; create one with `cw-shared-devices profile create NAME`"
                .to_owned()
        } else {
            format!("profiles: {names}")
        };
        SettingsError::Config(format!("--profile: {e} ({known})"))
    })
}

fn site_target(site: &ConnectWiseSite) -> Result<ConnectWiseTarget, SettingsError> {
    let result = match (site.direct_api_url(), site.site_url()) {
        (Some(api), _) => ConnectWiseTarget::api_base(api),
        (None, Some(url)) => ConnectWiseTarget::site(url),
        (None, None) => {
            return Err(SettingsError::Config(
                "ConnectWise site: the profile has no site URL; set one in the window or recreate the profile with --cw-url".into(),
            ));
        }
    };
    result.map_err(|e| SettingsError::Config(e.to_string()))
}

/// The ConnectWise site or API URL a run talks to: the flags', else the profile's.
fn connectwise_target(
    sources: &SettingsSources,
    profile: Option<&Profile>,
) -> Result<ConnectWiseTarget, SettingsError> {
    match (&sources.cw_api_url, &sources.cw_url, profile) {
        (Some(api), _, _) => ConnectWiseTarget::api_base(api)
            .map_err(|e| SettingsError::Config(format!("--cw-api-url: {e}"))),
        (None, Some(site), _) => ConnectWiseTarget::site(site)
            .map_err(|e| SettingsError::Config(format!("--cw-url: {e}"))),
        (None, None, Some(p)) => site_target(&p.connectwise.site),
        (None, None, None) => site_target(&ConnectWiseSite::default()),
    }
}

/// Where a tenant's history is found without reaching either service or reading any key (the
/// `report` command, and the change records of `profile exclude` and its siblings): the data
/// folder, the profile if one is named, and the tenant without its Synthesize organization.
#[derive(Debug, Clone)]
pub struct OfflineTenant {
    pub dirs: AppDirs,
    pub profile: Option<Profile>,
    pub tenant: TenantIdentity,
}

/// Resolves an [`OfflineTenant`] from the profile (or, without one, `CW_COMPANY_ID`) and the
/// flags, as [`resolve`] would name the tenant.
pub fn offline_tenant(sources: &SettingsSources) -> Result<OfflineTenant, SettingsError> {
    let dirs = app_dirs()?;
    let profile = sources
        .profile
        .as_deref()
        .map(|name| load_profile(&dirs, name))
        .transpose()?;
    offline_tenant_of(dirs, profile, sources)
}

/// [`offline_tenant`] for a profile already loaded (or none).
pub fn offline_tenant_of(
    dirs: AppDirs,
    profile: Option<Profile>,
    sources: &SettingsSources,
) -> Result<OfflineTenant, SettingsError> {
    let target = connectwise_target(sources, profile.as_ref())?;
    let site = match &target {
        ConnectWiseTarget::Site(url) | ConnectWiseTarget::ApiBase(url) => url.to_string(),
    };
    let company_id = env("CW_COMPANY_ID")
        .or_else(|| profile.as_ref().map(|p| p.connectwise.company_id.clone()))
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| {
            SettingsError::Config(
                "ConnectWise company id: not set; use --profile NAME or set CW_COMPANY_ID, so the tenant's history can be found".into(),
            )
        })?;
    let synthesize_url = sources
        .synthesize_url
        .clone()
        .or_else(|| profile.as_ref().map(|p| p.synthesize_url.clone()))
        .unwrap_or_else(|| Profile::default().synthesize_url);
    Ok(OfflineTenant {
        tenant: TenantIdentity::new(&site, &company_id, &synthesize_url, ""),
        dirs,
        profile,
    })
}

/// Resolves the settings from the profile, the flags and the environment.
pub fn resolve(sources: &SettingsSources) -> Result<RunSettings, SettingsError> {
    resolve_with(app_dirs()?, sources, &|| {
        KeychainStore::open()
            .map(|store| Box::new(store) as Box<dyn SecretStore>)
            .map_err(|e| SettingsError::Config(e.to_string()))
    })
}

/// [`resolve`] on these folders with the keys from `secrets` (the window's store) instead of
/// the OS keychain opened here.
pub fn resolve_in(
    dirs: AppDirs,
    sources: &SettingsSources,
    secrets: &std::sync::Arc<dyn SecretStore>,
) -> Result<RunSettings, SettingsError> {
    let secrets = std::sync::Arc::clone(secrets);
    resolve_with(dirs, sources, &move || {
        Ok(Box::new(SharedStore(std::sync::Arc::clone(&secrets))) as Box<dyn SecretStore>)
    })
}

/// A shared store handed out as a boxed one.
#[derive(Debug)]
struct SharedStore(std::sync::Arc<dyn SecretStore>);

impl SecretStore for SharedStore {
    fn get_slot(
        &self,
        profile: &str,
        slot: crate::storage::secrets::SecretSlot,
    ) -> Result<Option<crate::storage::Secret>, crate::storage::secrets::SecretError> {
        self.0.get_slot(profile, slot)
    }
    fn set_slot(
        &self,
        profile: &str,
        slot: crate::storage::secrets::SecretSlot,
        secret: &crate::storage::Secret,
    ) -> Result<(), crate::storage::secrets::SecretError> {
        self.0.set_slot(profile, slot, secret)
    }
    fn delete_slot(
        &self,
        profile: &str,
        slot: crate::storage::secrets::SecretSlot,
    ) -> Result<(), crate::storage::secrets::SecretError> {
        self.0.delete_slot(profile, slot)
    }
}

type OpenSecrets<'a> = &'a dyn Fn() -> Result<Box<dyn SecretStore>, SettingsError>;

fn resolve_with(
    dirs: AppDirs,
    sources: &SettingsSources,
    open_secrets: OpenSecrets<'_>,
) -> Result<RunSettings, SettingsError> {
    let all_env = ENV_VARS.iter().all(|v| env(v).is_some());
    let profile = match &sources.profile {
        Some(name) => Some(load_profile(&dirs, name)?),
        None if all_env => None,
        None => {
            let missing: Vec<&str> = ENV_VARS
                .iter()
                .copied()
                .filter(|v| env(v).is_none())
                .collect();
            return Err(SettingsError::Config(format!(
                "no profile given: use --profile NAME, or set all six environment variables (missing: {})",
                missing.join(", ")
            )));
        }
    };
    let cw_target = connectwise_target(sources, profile.as_ref())?;
    let defaults = Profile::default();
    let base = profile.as_ref().unwrap_or(&defaults);
    let non_empty = |s: &str| Some(s.to_owned()).filter(|s| !s.trim().is_empty());
    let cw_api_version = base.connectwise.api_version.as_deref().and_then(non_empty);
    if let Some(version) = &cw_api_version {
        accept_header_for(version).map_err(|e| SettingsError::Config(e.to_string()))?;
    }
    let extra_roots_pem = match env(CA_FILE_ENV_VAR).or_else(|| base.extra_ca_file.clone()) {
        Some(path) if !path.trim().is_empty() => Some(
            read_extra_ca_file(std::path::Path::new(path.trim())).map_err(SettingsError::Config)?,
        ),
        _ => None,
    };
    let mut resolved = RunSettings {
        dirs,
        cw_target,
        cw_company_id: env("CW_COMPANY_ID").or_else(|| non_empty(&base.connectwise.company_id)),
        cw_client_id: env("CW_CLIENT_ID").or_else(|| non_empty(&base.connectwise.client_id)),
        cw_public_key: env("CW_PUBLIC_KEY"),
        cw_private_key: env("CW_PRIVATE_KEY"),
        synthesize_url: sources
            .synthesize_url
            .clone()
            .unwrap_or_else(|| base.synthesize_url.clone()),
        vendor_key: env("SYNTHESIZE_VENDOR_API_KEY"),
        partner_key: env("SYNTHESIZE_PARTNER_API_KEY"),
        cw_api_version,
        extra_roots_pem,
        counting: base.counting.clone(),
        sync: base.sync.clone(),
        csv_delimiter: base.csv_delimiter,
        adjustments: profile
            .as_ref()
            .map(Profile::run_adjustments)
            .unwrap_or_default(),
        profile,
    };
    resolved.fill_secrets_from_keychain(open_secrets)?;
    Ok(resolved)
}

impl RunSettings {
    /// Reads from the keychain only the keys the environment did not give.
    fn fill_secrets_from_keychain(
        &mut self,
        open_secrets: OpenSecrets<'_>,
    ) -> Result<(), SettingsError> {
        let Some(profile) = self.profile.as_ref().map(|p| p.name.clone()) else {
            return Ok(());
        };
        let slots: [(SecretName, &mut Option<String>); 4] = [
            (SecretName::CwPublicKey, &mut self.cw_public_key),
            (SecretName::CwPrivateKey, &mut self.cw_private_key),
            (SecretName::SynthesizeVendorKey, &mut self.vendor_key),
            (SecretName::SynthesizePartnerKey, &mut self.partner_key),
        ];
        if slots.iter().all(|(_, v)| v.is_some()) {
            return Ok(());
        }
        let store = open_secrets()?;
        for (name, slot) in slots {
            if slot.is_none() {
                *slot = store
                    .get(&profile, name)
                    .map_err(|e| SettingsError::Config(e.to_string()))?
                    .map(|s| s.expose().to_owned());
            }
        }
        Ok(())
    }

    /// When a plan counts as a large drop: the profile's thresholds, or the defaults.
    pub fn drop_guard(&self) -> DropGuardThresholds {
        self.profile
            .as_ref()
            .map(|p| p.drop_guard)
            .unwrap_or_default()
    }

    /// The preview a run of these settings makes: the rule, and the companies' statuses when
    /// the profile excludes those marked inactive.
    pub fn preview_request(&self) -> Result<super::preview::PreviewRequest, SettingsError> {
        Ok(super::preview::PreviewRequest {
            connectwise: self.connectwise_settings()?,
            counting: self.counting.clone(),
            company_statuses: self.adjustments.exclusions.exclude_inactive_companies,
        })
    }

    /// The sync a run of these settings asks for: the counts of `preview` (with the statuses
    /// it read), or none when the steps post no counts. The guard refuses an incomplete
    /// preview and a large drop; a caller with the user's leave flips them.
    pub fn sync_request(
        &self,
        synthesize: SynthesizeSettings,
        steps: super::sync::SyncSteps,
        preview: Option<super::preview::PreviewOutcome>,
    ) -> super::sync::SyncRequest {
        let (counts, rule_text, completeness, adjustments) = match preview {
            Some(preview) => {
                let adjustments = preview.adjustments_with_statuses(&self.adjustments);
                (
                    preview.counts.companies,
                    preview.rule_text,
                    Some(preview.completeness),
                    adjustments,
                )
            }
            None => (Vec::new(), String::new(), None, self.adjustments.clone()),
        };
        super::sync::SyncRequest {
            synthesize,
            counts,
            selection: None,
            options: self.sync.clone(),
            steps,
            profile_name: self.journal_name(),
            rule_text,
            revert: false,
            guard: super::sync::SendGuard {
                completeness,
                accept_incomplete: false,
                allow_large_drop: false,
                drop_thresholds: self.drop_guard(),
                last_counts_unknown: Vec::new(),
            },
            adjustments,
        }
    }

    /// The name the journal is kept under.
    pub fn journal_name(&self) -> String {
        self.profile
            .as_ref()
            .map_or_else(|| ENVIRONMENT_JOURNAL.to_owned(), |p| p.name.clone())
    }

    /// Where this run's tenant history is kept, and the ConnectWise half of the tenant.
    pub fn tenant_place(&self) -> super::tenant::TenantPlace {
        let site = match &self.cw_target {
            ConnectWiseTarget::Site(url) | ConnectWiseTarget::ApiBase(url) => url.as_str(),
        };
        super::tenant::TenantPlace {
            dirs: self.dirs.clone(),
            connectwise: super::tenant::ConnectWiseTenant {
                site: site.to_owned(),
                company_id: self.cw_company_id.clone().unwrap_or_default(),
            },
        }
    }

    fn missing(&self, what: &str, secret: Option<SecretName>, env_var: &str) -> SettingsError {
        let how = match (&self.profile, secret) {
            (Some(p), Some(name)) => format!(
                "store it with `cw-shared-devices profile set-secret {} {}` or set {env_var}",
                shell_word(&p.name),
                name.as_str()
            ),
            (Some(p), None) => format!(
                "set it in the profile \"{}\" (the window's profile editor) or set {env_var}",
                p.name
            ),
            (None, _) => format!("set {env_var}"),
        };
        SettingsError::Config(format!("{what}: not set; {how}"))
    }

    fn required(
        &self,
        value: &Option<String>,
        what: &str,
        secret: Option<SecretName>,
        env_var: &str,
    ) -> Result<String, SettingsError> {
        value
            .clone()
            .ok_or_else(|| self.missing(what, secret, env_var))
    }

    pub fn connectwise_settings(&self) -> Result<ConnectWiseSettings, SettingsError> {
        let mut settings = ConnectWiseSettings::new(
            self.cw_target.clone(),
            ConnectWiseCredentials {
                company_id: self.required(
                    &self.cw_company_id,
                    "ConnectWise company id",
                    None,
                    "CW_COMPANY_ID",
                )?,
                public_key: self.required(
                    &self.cw_public_key,
                    "ConnectWise public key",
                    Some(SecretName::CwPublicKey),
                    "CW_PUBLIC_KEY",
                )?,
                private_key: self.required(
                    &self.cw_private_key,
                    "ConnectWise private key",
                    Some(SecretName::CwPrivateKey),
                    "CW_PRIVATE_KEY",
                )?,
                client_id: self.required(
                    &self.cw_client_id,
                    "ConnectWise client id",
                    None,
                    "CW_CLIENT_ID",
                )?,
            },
        );
        settings.api_version = self.cw_api_version.clone();
        settings.http.extra_root_certificates_pem = self.extra_roots_pem.clone();
        Ok(settings)
    }

    pub fn synthesize_settings(&self) -> Result<SynthesizeSettings, SettingsError> {
        let credentials = SynthesizeCredentials {
            vendor_api_key: self.required(
                &self.vendor_key,
                "Synthesize vendor API key",
                Some(SecretName::SynthesizeVendorKey),
                "SYNTHESIZE_VENDOR_API_KEY",
            )?,
            partner_api_key: self.required(
                &self.partner_key,
                "Synthesize partner API key",
                Some(SecretName::SynthesizePartnerKey),
                "SYNTHESIZE_PARTNER_API_KEY",
            )?,
        };
        let mut settings = SynthesizeSettings::new(&self.synthesize_url, credentials)
            .map_err(|e| SettingsError::Config(e.to_string()))?;
        settings.http.extra_root_certificates_pem = self.extra_roots_pem.clone();
        Ok(settings)
    }
}

/// Quotes a profile name for a command the user can paste: POSIX shell quoting, or on Windows
/// double quotes, which both cmd and PowerShell take (to cmd, single quotes are no quotes).
pub fn shell_word(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        name.to_owned()
    } else if cfg!(windows) {
        format!("\"{}\"", name.replace('"', "\"\""))
    } else {
        format!("'{}'", name.replace('\'', "'\\''"))
    }
}

/// `profile set-secret` fed from a key file, as this platform's shells write it: `< FILE` in sh
/// and cmd; PowerShell has no `<`, and `type FILE |` works in both of Windows' shells.
pub fn set_secret_from_file(profile: &str, secret: &str, file: &str) -> String {
    let profile = shell_word(profile);
    if cfg!(windows) {
        format!("type {file} | cw-shared-devices profile set-secret {profile} {secret}")
    } else {
        format!("cw-shared-devices profile set-secret {profile} {secret} < {file}")
    }
}

/// The extra root certificates a typed path names, read from their file.
pub fn extra_roots(path: &str) -> Result<Option<String>, String> {
    let path = path.trim();
    if path.is_empty() {
        return Ok(None);
    }
    read_extra_ca_file(std::path::Path::new(path)).map(Some)
}

/// The ConnectWise settings of typed fields (the window's form), or what needs fixing, in
/// words: the site first, then the credentials (which the caller checks for presence), then the
/// API version and the CA file.
pub fn connectwise_from_typed(
    site: &ConnectWiseSite,
    credentials: impl FnOnce() -> Result<ConnectWiseCredentials, String>,
    api_version: &str,
    extra_ca_file: &str,
) -> Result<ConnectWiseSettings, String> {
    site.validate().map_err(|e| e.to_string())?;
    let target = match (site.site_url(), site.direct_api_url()) {
        (_, Some(api)) => ConnectWiseTarget::api_base(api),
        (Some(url), None) => ConnectWiseTarget::site(url),
        (None, None) => return Err("ConnectWise site: pick one from the list".to_owned()),
    }
    .map_err(|e| e.to_string())?;
    let mut settings = ConnectWiseSettings::new(target, credentials()?);
    let version = api_version.trim();
    if !version.is_empty() {
        accept_header_for(version).map_err(|e| e.to_string())?;
        settings.api_version = Some(version.to_owned());
    }
    settings.http.extra_root_certificates_pem = extra_roots(extra_ca_file)?;
    Ok(settings)
}

/// The Synthesize settings of typed fields, or what needs fixing, in words.
pub fn synthesize_from_typed(
    url: &str,
    credentials: SynthesizeCredentials,
    extra_ca_file: &str,
) -> Result<SynthesizeSettings, String> {
    let mut settings = SynthesizeSettings::new(url, credentials).map_err(|e| e.to_string())?;
    settings.http.extra_root_certificates_pem = extra_roots(extra_ca_file)?;
    Ok(settings)
}

/// Checks a typed Synthesize URL as the client will read it (`--synthesize-url`).
pub fn check_synthesize_url(field: &'static str, url: &str) -> Result<(), String> {
    crate::api::http::parse_service_url(field, url)
        .map(drop)
        .map_err(|e| e.to_string())
}

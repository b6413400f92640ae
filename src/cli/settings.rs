//! The command line's part of a run's settings: its global flags as the engine's sources, and
//! the profile helpers the `profile` subcommands share.

use crate::engine::settings::{SettingsError, SettingsSources};
pub use crate::engine::settings::{load_profile, set_secret_from_file};
use crate::storage::AppDirs;

use super::CliError;
use super::args::GlobalArgs;

/// The flags that name the profile and override its URLs.
pub fn sources(global: &GlobalArgs) -> SettingsSources {
    SettingsSources {
        profile: global.profile.clone(),
        cw_url: global.cw_url.clone(),
        cw_api_url: global.cw_api_url.clone(),
        synthesize_url: global.synthesize_url.clone(),
    }
}

/// The platform's folders, or why there are none (a configuration error).
pub fn app_dirs() -> Result<AppDirs, CliError> {
    crate::engine::settings::app_dirs().map_err(|e: SettingsError| CliError::Config(e.to_string()))
}

//! Where a run's settings come from: the profile, then the global flags, then the six
//! environment variables for the credentials.

use crate::api::connectwise::{ConnectWiseCredentials, ConnectWiseSettings, ConnectWiseTarget};
use crate::api::synthesize::{DEFAULT_SYNTHESIZE_URL, SynthesizeCredentials, SynthesizeSettings};
use crate::domain::counting::CountingOptions;
use crate::domain::csv_export::CsvDelimiter;

use super::CliError;
use super::args::GlobalArgs;

/// The six variables that override a profile's secrets and ids.
pub const ENV_VARS: [&str; 6] = [
    "CW_COMPANY_ID",
    "CW_PUBLIC_KEY",
    "CW_PRIVATE_KEY",
    "CW_CLIENT_ID",
    "SYNTHESIZE_VENDOR_API_KEY",
    "SYNTHESIZE_PARTNER_API_KEY",
];

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Everything a run needs, resolved.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub profile_name: Option<String>,
    pub cw_target: Option<ConnectWiseTarget>,
    pub cw_company_id: Option<String>,
    pub cw_client_id: Option<String>,
    pub cw_public_key: Option<String>,
    pub cw_private_key: Option<String>,
    pub synthesize_url: String,
    pub vendor_key: Option<String>,
    pub partner_key: Option<String>,
    pub counting: CountingOptions,
    pub csv_delimiter: CsvDelimiter,
}

/// Resolves the settings from the flags and the environment.
pub fn resolve(global: &GlobalArgs) -> Result<Resolved, CliError> {
    let cw_target = match (&global.cw_api_url, &global.cw_url) {
        (Some(api), _) => Some(
            ConnectWiseTarget::api_base(api)
                .map_err(|e| CliError::Config(format!("--cw-api-url: {e}")))?,
        ),
        (None, Some(site)) => Some(
            ConnectWiseTarget::site(site)
                .map_err(|e| CliError::Config(format!("--cw-url: {e}")))?,
        ),
        (None, None) => None,
    };
    Ok(Resolved {
        profile_name: global.profile.clone(),
        cw_target,
        cw_company_id: env("CW_COMPANY_ID"),
        cw_client_id: env("CW_CLIENT_ID"),
        cw_public_key: env("CW_PUBLIC_KEY"),
        cw_private_key: env("CW_PRIVATE_KEY"),
        synthesize_url: global
            .synthesize_url
            .clone()
            .unwrap_or_else(|| DEFAULT_SYNTHESIZE_URL.to_owned()),
        vendor_key: env("SYNTHESIZE_VENDOR_API_KEY"),
        partner_key: env("SYNTHESIZE_PARTNER_API_KEY"),
        counting: CountingOptions::default(),
        csv_delimiter: CsvDelimiter::Comma,
    })
}

fn required(value: &Option<String>, what: &str, env_var: &str) -> Result<String, CliError> {
    value.clone().ok_or_else(|| {
        CliError::Config(format!(
            "{what}: not set; store it in the profile (cw-shared-devices profile set-secret …) or set {env_var}"
        ))
    })
}

impl Resolved {
    pub fn connectwise_settings(&self) -> Result<ConnectWiseSettings, CliError> {
        let target = self.cw_target.clone().ok_or_else(|| {
            CliError::Config(
                "ConnectWise site: give --cw-url SITE_URL (or --cw-api-url API_BASE_URL), or use a profile with --profile NAME".to_owned(),
            )
        })?;
        Ok(ConnectWiseSettings::new(
            target,
            ConnectWiseCredentials {
                company_id: required(
                    &self.cw_company_id,
                    "ConnectWise company id",
                    "CW_COMPANY_ID",
                )?,
                public_key: required(
                    &self.cw_public_key,
                    "ConnectWise public key",
                    "CW_PUBLIC_KEY",
                )?,
                private_key: required(
                    &self.cw_private_key,
                    "ConnectWise private key",
                    "CW_PRIVATE_KEY",
                )?,
                client_id: required(&self.cw_client_id, "ConnectWise client id", "CW_CLIENT_ID")?,
            },
        ))
    }

    pub fn synthesize_settings(&self) -> Result<SynthesizeSettings, CliError> {
        let credentials = SynthesizeCredentials {
            vendor_api_key: required(
                &self.vendor_key,
                "Synthesize vendor API key",
                "SYNTHESIZE_VENDOR_API_KEY",
            )?,
            partner_api_key: required(
                &self.partner_key,
                "Synthesize partner API key",
                "SYNTHESIZE_PARTNER_API_KEY",
            )?,
        };
        SynthesizeSettings::new(&self.synthesize_url, credentials)
            .map_err(|e| CliError::Config(e.to_string()))
    }
}

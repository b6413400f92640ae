//! The profile's connection settings as the window edits them: site, ids, the four secrets
//! (masked, with a "show" toggle), Test connection for each side and what discovery found.

use crate::domain::settings::{ConnectWiseSite, DEFAULT_SYNTHESIZE_URL};
use crate::engine::settings::{
    ConnectWiseCredentials, SynthesizeCredentials, connectwise_from_typed, synthesize_from_typed,
};
use crate::engine::{
    ConnectWiseSettings, ConnectionReport, ConnectionStep, DEFAULT_API_VERSION, IntegrationData,
    SynthesizeSettings,
};
use crate::storage::{Profile, SecretName};
use crate::worker::JobError;

use super::widgets::{secret_row_ui, submitted, text_row_ui};

/// How a connection test went.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TestState {
    #[default]
    NotRun,
    Running,
    Passed(String),
    Failed(String),
}

/// The editable settings of one profile, secrets included (held only in memory here).
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionForm {
    /// The drop-down choice; the URLs of the two free-text choices are kept apart so switching
    /// back and forth does not lose what was typed.
    pub site: ConnectWiseSite,
    pub custom_url: String,
    pub api_url: String,
    pub company_id: String,
    pub client_id: String,
    pub public_key: String,
    pub private_key: String,
    pub synthesize_url: String,
    pub vendor_api_key: String,
    pub partner_api_key: String,
    pub show_secrets: bool,
    /// The ConnectWise API version to pin; empty: the product's default.
    pub api_version: String,
    /// A PEM file of extra root certificates to trust; empty: only the system's.
    pub extra_ca_file: String,
}

impl std::fmt::Debug for ConnectionForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionForm")
            .field("site", &self.site)
            .field("custom_url", &self.custom_url)
            .field("api_url", &self.api_url)
            .field("company_id", &self.company_id)
            .field("client_id", &self.client_id)
            .field("public_key", &"<redacted>")
            .field("private_key", &"<redacted>")
            .field("synthesize_url", &self.synthesize_url)
            .field("vendor_api_key", &"<redacted>")
            .field("partner_api_key", &"<redacted>")
            .field("api_version", &self.api_version)
            .field("extra_ca_file", &self.extra_ca_file)
            .finish()
    }
}

impl Default for ConnectionForm {
    fn default() -> Self {
        Self {
            site: ConnectWiseSite::default(),
            custom_url: String::new(),
            api_url: String::new(),
            company_id: String::new(),
            client_id: String::new(),
            public_key: String::new(),
            private_key: String::new(),
            synthesize_url: DEFAULT_SYNTHESIZE_URL.to_owned(),
            vendor_api_key: String::new(),
            partner_api_key: String::new(),
            show_secrets: false,
            api_version: String::new(),
            extra_ca_file: String::new(),
        }
    }
}

fn required(value: &str, field: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        Err(format!("{field}: empty; type it in the Connection panel"))
    } else {
        Ok(value.to_owned())
    }
}

impl ConnectionForm {
    /// The form for a profile and its stored secrets.
    pub fn from_profile(profile: &Profile, secret: impl Fn(SecretName) -> String) -> Self {
        let site = &profile.connectwise.site;
        Self {
            site: site.clone(),
            custom_url: match site {
                ConnectWiseSite::Custom { url } => url.clone(),
                _ => String::new(),
            },
            api_url: match site {
                ConnectWiseSite::DirectApi { url } => url.clone(),
                _ => String::new(),
            },
            company_id: profile.connectwise.company_id.clone(),
            client_id: profile.connectwise.client_id.clone(),
            public_key: secret(SecretName::CwPublicKey),
            private_key: secret(SecretName::CwPrivateKey),
            synthesize_url: profile.synthesize_url.clone(),
            vendor_api_key: secret(SecretName::SynthesizeVendorKey),
            partner_api_key: secret(SecretName::SynthesizePartnerKey),
            show_secrets: false,
            api_version: profile.connectwise.api_version.clone().unwrap_or_default(),
            extra_ca_file: profile.extra_ca_file.clone().unwrap_or_default(),
        }
    }

    /// The site as the profile stores it.
    pub fn site(&self) -> ConnectWiseSite {
        match self.site {
            ConnectWiseSite::Custom { .. } => ConnectWiseSite::Custom {
                url: self.custom_url.trim().to_owned(),
            },
            ConnectWiseSite::DirectApi { .. } => ConnectWiseSite::DirectApi {
                url: self.api_url.trim().to_owned(),
            },
            ref preset => preset.clone(),
        }
    }

    /// Copies everything but the secrets into `profile` (secrets never go in the profile file).
    pub fn write_to(&self, profile: &mut Profile) {
        profile.connectwise.site = self.site();
        profile.connectwise.company_id = self.company_id.trim().to_owned();
        profile.connectwise.client_id = self.client_id.trim().to_owned();
        profile.synthesize_url = self.synthesize_url.trim().to_owned();
        let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        profile.connectwise.api_version = optional(&self.api_version);
        profile.extra_ca_file = optional(&self.extra_ca_file);
    }

    /// The typed value of one secret.
    pub fn secret(&self, name: SecretName) -> &str {
        match name {
            SecretName::CwPublicKey => &self.public_key,
            SecretName::CwPrivateKey => &self.private_key,
            SecretName::SynthesizeVendorKey => &self.vendor_api_key,
            SecretName::SynthesizePartnerKey => &self.partner_api_key,
        }
    }

    /// The ConnectWise settings, or the first field that needs fixing, in words.
    pub fn connectwise_settings(&self) -> Result<ConnectWiseSettings, String> {
        let credentials = || {
            Ok(ConnectWiseCredentials {
                company_id: required(&self.company_id, "ConnectWise company id")?,
                public_key: required(&self.public_key, "ConnectWise public key")?,
                private_key: required(&self.private_key, "ConnectWise private key")?,
                client_id: required(&self.client_id, "ConnectWise client id")?,
            })
        };
        connectwise_from_typed(
            &self.site(),
            credentials,
            &self.api_version,
            &self.extra_ca_file,
        )
    }

    /// The Synthesize settings, or the first field that needs fixing, in words.
    pub fn synthesize_settings(&self) -> Result<SynthesizeSettings, String> {
        let credentials = SynthesizeCredentials {
            vendor_api_key: required(&self.vendor_api_key, "Synthesize vendor API key")?,
            partner_api_key: required(&self.partner_api_key, "Synthesize partner API key")?,
        };
        synthesize_from_typed(
            &required(&self.synthesize_url, "Synthesize URL")?,
            credentials,
            &self.extra_ca_file,
        )
    }
}

/// Words for a finished ConnectWise test.
pub fn connectwise_test_state(result: &Result<ConnectionReport, JobError>) -> TestState {
    match result {
        Err(e) => TestState::Failed(e.to_string()),
        Ok(report) => match &report.failed {
            Some((step, e)) => {
                let step = match step {
                    ConnectionStep::CompanyInfo => "Finding the company",
                    ConnectionStep::Authenticate => "Signing in",
                };
                TestState::Failed(format!("{step} failed: {e}"))
            }
            None => {
                let version = report.version.as_deref().unwrap_or("unknown version");
                TestState::Passed(format!("Connected to ConnectWise ({version})."))
            }
        },
    }
}

/// Words for a finished Synthesize test, with the integration's status and last sync as
/// Synthesize reported them.
pub fn synthesize_test_state(result: &Result<IntegrationData, JobError>) -> TestState {
    match result {
        Ok(integration) => TestState::Passed(format!(
            "Connected to Synthesize; the API keys work. Integration {}.",
            integration.describe()
        )),
        Err(e) => TestState::Failed(e.to_string()),
    }
}

/// What the connection panel asks the app to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionAction {
    /// A field changed and lost focus, or Enter was pressed: save the profile and secrets.
    Save,
    TestConnectWise,
    TestSynthesize,
    /// A ConnectWise field was edited: the last test no longer says anything about it.
    EditedConnectWise,
    /// A Synthesize field was edited.
    EditedSynthesize,
    /// Stop a running test.
    CancelConnectWiseTest,
    CancelSynthesizeTest,
}

/// Whether `text` has the shape of a GUID (8-4-4-4-12 hex digits, braces allowed), as the
/// client ids of ConnectWise's developer portal do.
pub fn looks_like_guid(text: &str) -> bool {
    let text = text.trim().trim_start_matches('{').trim_end_matches('}');
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// What a site choice is, for the drop-down's hover: the two Australian regions are distinct.
fn site_hint(site: &ConnectWiseSite) -> &'static str {
    match site {
        ConnectWiseSite::Au | ConnectWiseSite::Aus => {
            "ConnectWise has two Australian cloud regions, au. and aus.; pick the one in the \
             address you sign in at"
        }
        ConnectWiseSite::Staging => "ConnectWise's developer sandbox, for testing integrations",
        ConnectWiseSite::Custom { .. } => {
            "Your own ConnectWise server: the address you sign in at; the API is found from it"
        }
        ConnectWiseSite::DirectApi { .. } => {
            "The full API address, used as typed (no discovery through companyinfo)"
        }
        _ => "A ConnectWise cloud region: pick the one in the address you sign in at",
    }
}

/// What the panel shows besides the form.
#[derive(Debug, Default)]
pub struct ConnectionView<'a> {
    pub connectwise_test: Option<&'a TestState>,
    pub synthesize_test: Option<&'a TestState>,
    pub discovery: Option<&'a ConnectionReport>,
    pub connectwise_busy: bool,
    pub synthesize_busy: bool,
    pub read_only: bool,
}

fn test_state_ui(ui: &mut egui::Ui, state: Option<&TestState>) {
    match state {
        None | Some(TestState::NotRun) => {}
        Some(TestState::Running) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Testing...");
            });
        }
        Some(TestState::Passed(text)) => {
            ui.colored_label(
                egui::Color32::from_rgb(0x2e, 0x9e, 0x4f),
                format!("OK: {text}"),
            );
        }
        Some(TestState::Failed(text)) => {
            ui.colored_label(ui.visuals().error_fg_color, text.as_str());
        }
    }
}

/// Marks the form for saving when the user leaves a field, saves and tests that side when
/// Enter is pressed in it, and marks the side's last test outdated when the text changed.
fn note(actions: &mut Vec<ConnectionAction>, ui: &egui::Ui, r: &egui::Response) {
    note_side(actions, ui, r, ConnectionAction::EditedConnectWise);
}

fn note_side(
    actions: &mut Vec<ConnectionAction>,
    ui: &egui::Ui,
    r: &egui::Response,
    edited: ConnectionAction,
) {
    if r.changed() && !actions.contains(&edited) {
        actions.push(edited);
    }
    if submitted(ui, r) {
        // Enter is the Connect step's primary action: save, then test this side. A test only
        // reads, so the key is always safe here.
        actions.push(ConnectionAction::Save);
        actions.push(if edited == ConnectionAction::EditedSynthesize {
            ConnectionAction::TestSynthesize
        } else {
            ConnectionAction::TestConnectWise
        });
    } else if r.lost_focus() {
        actions.push(ConnectionAction::Save);
    }
}

/// The ConnectWise fields: site, ids, keys, API version and CA file.
fn connectwise_fields_ui(
    ui: &mut egui::Ui,
    form: &mut ConnectionForm,
    actions: &mut Vec<ConnectionAction>,
) {
    egui::Grid::new("cw_grid")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            let label = ui.label("Site");
            let before = form.site.clone();
            // Narrow enough that the panel can be narrowed; the full name shows on hover.
            egui::ComboBox::from_id_salt("site_choice")
                .selected_text(form.site.label())
                .width(190.0)
                .truncate()
                .show_ui(ui, |ui| {
                    for choice in ConnectWiseSite::drop_down_choices() {
                        let selected = form.site.same_choice(&choice);
                        let item = ui
                            .selectable_label(selected, choice.label())
                            .on_hover_text(site_hint(&choice));
                        if item.clicked() && !selected {
                            form.site = choice;
                        }
                    }
                })
                .response
                .labelled_by(label.id);
            if !before.same_choice(&form.site) {
                actions.push(ConnectionAction::Save);
                actions.push(ConnectionAction::EditedConnectWise);
            }
            ui.end_row();
            match form.site {
                ConnectWiseSite::Custom { .. } => {
                    let r = text_row_ui(
                        ui,
                        "Site URL",
                        &mut form.custom_url,
                        "https://cw.example.com",
                    );
                    note(actions, ui, &r);
                }
                ConnectWiseSite::DirectApi { .. } => {
                    let r = text_row_ui(
                        ui,
                        "API URL",
                        &mut form.api_url,
                        "https://cw.example.com/v4_6_release/apis/3.0",
                    );
                    note(actions, ui, &r);
                }
                _ => {}
            }
            let r = text_row_ui(
                ui,
                "Company ID",
                &mut form.company_id,
                "as typed at the ConnectWise login",
            );
            note(actions, ui, &r);
            let r = text_row_ui(
                ui,
                "Client ID",
                &mut form.client_id,
                "GUID from the developer portal",
            );
            note(actions, ui, &r);
            if !form.client_id.trim().is_empty() && !looks_like_guid(&form.client_id) {
                ui.label("");
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    "Client ID: not a GUID (like 1a2b3c4d-…); copy it from the ConnectWise developer portal",
                );
                ui.end_row();
            }
            let r = secret_row_ui(ui, "Public key", &mut form.public_key, form.show_secrets);
            note(actions, ui, &r);
            let r = secret_row_ui(ui, "Private key", &mut form.private_key, form.show_secrets);
            note(actions, ui, &r);
            let r = text_row_ui(
                ui,
                "API version",
                &mut form.api_version,
                DEFAULT_API_VERSION,
            );
            note(actions, ui, &r);
            let r = text_row_ui(
                ui,
                "Extra CA certificates",
                &mut form.extra_ca_file,
                "PEM file of an internal CA (optional)",
            );
            note(actions, ui, &r);
        });
}

/// What discovery found for the last ConnectWise test.
fn discovery_ui(ui: &mut egui::Ui, report: &ConnectionReport) {
    let Some(discovery) = report.discovery.as_ref() else {
        return;
    };
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.label(format!(
            "Company: {}",
            crate::domain::printable::printable(&discovery.company_name)
        ));
        ui.label(format!(
            "Codebase {}, version {}, {}",
            discovery.codebase,
            discovery.version,
            if discovery.is_cloud {
                "cloud"
            } else {
                "on-premise"
            }
        ));
        ui.label(format!("API URL: {}", discovery.api_base));
    });
}

/// Draws the form; returns what the user asked for.
pub fn connection_ui(
    ui: &mut egui::Ui,
    form: &mut ConnectionForm,
    view: &ConnectionView<'_>,
) -> Vec<ConnectionAction> {
    let mut actions = Vec::new();
    ui.add_enabled_ui(!view.read_only, |ui| {
        ui.heading("ConnectWise PSA");
        connectwise_fields_ui(ui, form, &mut actions);
        ui.horizontal(|ui| {
            let button = ui.add_enabled(
                !view.connectwise_busy,
                egui::Button::new("Test ConnectWise connection"),
            );
            if button.clicked() {
                actions.push(ConnectionAction::TestConnectWise);
            }
            if view.connectwise_busy && ui.button("Cancel test").clicked() {
                actions.push(ConnectionAction::CancelConnectWiseTest);
            }
        });
        test_state_ui(ui, view.connectwise_test);
        if let Some(report) = view.discovery {
            discovery_ui(ui, report);
        }

        ui.add_space(12.0);
        ui.heading("Synthesize");
        egui::Grid::new("syn_grid")
            .num_columns(2)
            .spacing([8.0, 6.0])
            .show(ui, |ui| {
                let r = text_row_ui(
                    ui,
                    "Synthesize URL",
                    &mut form.synthesize_url,
                    DEFAULT_SYNTHESIZE_URL,
                );
                note_side(&mut actions, ui, &r, ConnectionAction::EditedSynthesize);
                let r = secret_row_ui(
                    ui,
                    "Vendor API key",
                    &mut form.vendor_api_key,
                    form.show_secrets,
                );
                note_side(&mut actions, ui, &r, ConnectionAction::EditedSynthesize);
                let r = secret_row_ui(
                    ui,
                    "Partner API key",
                    &mut form.partner_api_key,
                    form.show_secrets,
                );
                note_side(&mut actions, ui, &r, ConnectionAction::EditedSynthesize);
            });
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    !view.synthesize_busy,
                    egui::Button::new("Test Synthesize connection"),
                )
                .clicked()
            {
                actions.push(ConnectionAction::TestSynthesize);
            }
            if view.synthesize_busy && ui.button("Cancel test").clicked() {
                actions.push(ConnectionAction::CancelSynthesizeTest);
            }
        });
        test_state_ui(ui, view.synthesize_test);
    });
    ui.checkbox(&mut form.show_secrets, "Show keys");
    actions.dedup();
    actions
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn missing_fields_are_named() {
        let form = ConnectionForm::default();
        let err = form.connectwise_settings().unwrap_err();
        assert!(err.contains("ConnectWise company id"), "{err}");
        let err = form.synthesize_settings().unwrap_err();
        assert!(err.contains("vendor API key"), "{err}");
    }

    #[test]
    fn a_client_id_is_checked_for_the_shape_of_a_guid() {
        assert!(looks_like_guid("5ad1b0c4-0000-4000-8000-5a4db0c5a4db"));
        assert!(looks_like_guid(" {5AD1B0C4-0000-4000-8000-5A4DB0C5A4DB} "));
        assert!(!looks_like_guid("my-client"));
        assert!(!looks_like_guid("5ad1b0c4-0000-4000-8000-5a4db0c5a4dz"));
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let form = ConnectionForm {
            private_key: "hunter2".to_owned(),
            vendor_api_key: "v-secret".to_owned(),
            ..ConnectionForm::default()
        };
        let text = format!("{form:?}");
        assert!(!text.contains("hunter2") && !text.contains("v-secret"));
    }

    #[test]
    fn a_custom_site_must_be_typed() {
        let form = ConnectionForm {
            site: ConnectWiseSite::Custom { url: String::new() },
            company_id: "c".into(),
            client_id: "x".into(),
            public_key: "p".into(),
            private_key: "q".into(),
            ..ConnectionForm::default()
        };
        assert!(
            form.connectwise_settings()
                .unwrap_err()
                .contains("site URL")
        );
    }
}

//! The window's state and its frame: panels return actions, the app turns them into worker jobs
//! (or small local writes), and worker events update the state the panels read next frame.

mod connection_panel;
mod history;
mod session;
mod sync;
mod tabs;
mod tenants;
mod top_bar;

use std::sync::Arc;

use crate::domain::csv_export::CsvDelimiter;
use crate::engine::PreviewRequest;
use crate::engine::{ConnectionReport, FetchProgress, IntegrationData};
use crate::storage::{AppDirs, Profile, ProfileStore, SecretStore};
use crate::worker::{
    Handles, Job, JobError, JobKind, LoadTypesJob, PreviewJob, ProfileJob, ReadHistoryJob, SYNC,
    TestConnectWiseJob, TestSynthesizeJob, WindowPreview, Worker, WorkerEvent,
};

use super::UiError;
use super::connection::{
    ConnectionAction, ConnectionForm, ConnectionView, TestState, connectwise_test_state,
    synthesize_test_state,
};
use super::counting_form::{CountingForm, OptionsAction, TypeList};
use super::export::SaveDialog;
use super::log::{LogBuffer, LogLevel, log_ui};
use super::profiles::{ProfileAction, ProfileBarView, ProfileDialog, profile_dialog_ui};
use super::sync_view::{SyncAction, SyncFlow, SyncPhase, SyncState, plan_dialog_ui};
use super::table::PreviewTable;
use connection_panel::{ConnectionPanelScreen, connection_panel_ui};
use top_bar::{TopBarScreen, top_bar_ui};

/// What the window needs from outside: injected so tests run on a temp dir and fakes.
pub struct AppContext {
    /// Where profiles (config) and history and logs (data) live.
    pub dirs: AppDirs,
    /// Where the keys live: the OS keychain in the window, a memory store in tests.
    pub secrets: Arc<dyn SecretStore>,
    /// Set when the keychain could not be opened and `secrets` keeps keys for this session only.
    pub keychain_problem: Option<String>,
    pub save_dialog: Box<dyn SaveDialog>,
    /// A running sandbox to open the demo profile on (`cw-shared-devices demo`).
    #[cfg(feature = "sandbox")]
    pub demo: Option<crate::sandbox::Sandbox>,
}

impl std::fmt::Debug for AppContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppContext").finish_non_exhaustive()
    }
}

/// What eframe remembers between runs (the window size is remembered by eframe itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Persisted {
    pub last_profile: Option<String>,
    pub log_open: bool,
}

impl Default for Persisted {
    fn default() -> Self {
        Self {
            last_profile: None,
            log_open: true,
        }
    }
}

/// The name the demo profile shows; it is never saved.
pub const DEMO_PROFILE: &str = "Demo (sandbox)";

/// The tabs of the central area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    Preview,
    History,
    Tenants,
}

/// The preview's state; the last table stays visible while a new preview loads.
#[derive(Debug, Default)]
pub struct PreviewState {
    pub running: bool,
    pub progress: Option<FetchProgress>,
    pub error: Option<String>,
    pub table: Option<PreviewTable>,
    pub elapsed_ms: Option<u64>,
    /// What the table was counted with (options, zero policy, tenant) and when.
    pub binding: Option<crate::domain::safety::PlanBinding>,
    /// The context a running preview started with.
    pub started_context: Option<crate::domain::safety::PlanContext>,
    /// Whether what the table was counted from agrees with what ConnectWise said it holds.
    pub completeness: Option<crate::domain::safety::PreviewCompleteness>,
    /// The companies' ConnectWise statuses the preview read (with "exclude companies whose
    /// status is marked inactive" on), for the sync made from it.
    pub company_statuses: Option<crate::domain::adjustments::CompanyStatusList>,
}

/// The export's state: a typed path field appears when no dialog could open.
#[derive(Debug, Default)]
pub struct ExportState {
    pub typed_path: Option<String>,
    pub message: Option<Result<String, String>>,
    /// Start the file with a UTF-8 byte-order mark so Excel reads non-Latin names right.
    pub excel: bool,
    /// Export only the ticked rows.
    pub selected_only: bool,
    /// The folder of the file last saved, for "Open folder".
    pub saved_folder: Option<std::path::PathBuf>,
    /// The path last saved to, offered again next time.
    pub last_path: Option<std::path::PathBuf>,
}

/// Something a panel asked for this frame, handled after drawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Preview,
    Cancel(JobKind),
    Connection(ConnectionAction),
    ExportCsv,
    ExportToTypedPath,
    TryDemo,
    Profile(ProfileAction),
    SetDelimiter(CsvDelimiter),
    /// Post again the counts a past run sent.
    Revert(String),
    Sync(SyncAction),
    Options(OptionsAction),
    /// Show a folder in the system's file manager.
    OpenFolder(std::path::PathBuf),
    /// Read the journal again for the History tab.
    RefreshHistory,
    /// Show one run's detail in History (`None`: close it).
    OpenRun(Option<String>),
    /// Compare two runs of History (or close the comparison).
    CompareRuns(Option<(String, String)>),
    /// Open the log panel, or close it.
    ToggleLog,
}

/// The window's handles on the world: the egui context for repaints, the worker every job
/// runs on, the save dialog, the profile files, the secret store and, in the demo, the sandbox
/// and its temporary folders. State and drawing never do I/O through anything else.
struct Services {
    ctx: egui::Context,
    worker: Worker<App>,
    save_dialog: Box<dyn SaveDialog>,
    dirs: AppDirs,
    store: ProfileStore,
    secrets: Arc<dyn SecretStore>,
    #[cfg(feature = "sandbox")]
    demo: Option<crate::sandbox::Sandbox>,
    /// The demo's own folders for its history, removed when the window closes.
    demo_dirs: Option<tempfile::TempDir>,
}

/// The window.
pub struct App {
    /// Everything the window does its work through; the rest of App is what it shows.
    services: Services,
    /// The keys as last stored, so only changed keys are written to the keychain.
    stored_secrets: std::collections::BTreeMap<crate::storage::SecretName, String>,
    pub keychain_problem: Option<String>,
    pub persisted: Persisted,
    pub form: ConnectionForm,
    /// The current profile's settings (for the demo, a profile that is never saved).
    pub profile: Option<Profile>,
    pub profile_names: Vec<String>,
    pub profile_problems: Vec<String>,
    pub dialog: Option<ProfileDialog>,
    pub dialog_error: Option<String>,
    dialog_focus: bool,
    pub connectwise_test: TestState,
    pub synthesize_test: TestState,
    pub connectwise_report: Option<ConnectionReport>,
    pub preview: PreviewState,
    pub export: ExportState,
    pub log: LogBuffer,
    pub tab: Tab,
    focus_filter: bool,
    filter_text: String,
    /// Both connection tests had passed at the last frame (the panel folds once when they do).
    connection_folded: bool,
    /// Past runs from the journal, read when the History tab opens or is refreshed, never
    /// while drawing (`None`: read it when the tab is next opened).
    pub history: Option<Result<history::HistoryView, String>>,
    /// The run whose detail History shows.
    pub history_open_run: Option<String>,
    /// This session's dry runs, for History: kept in memory, never in the tenant's history.
    session_dry_runs: Vec<crate::storage::journal::JournalEntry>,
    pub sync: SyncState,
    /// The Tenants tab (every profile at once).
    pub tenants: super::tenants::TenantsState,
    pub counting_form: CountingForm,
    pub counting_error: Option<String>,
    /// The tenant's configuration type names for the "Type names" pick list.
    pub type_list: TypeList,
    /// Profile work waiting for the one running (saves, then a switch, in the order asked).
    profile_queue: std::collections::VecDeque<crate::engine::profile_work::ProfileWork>,
    /// The running profile job opens, creates, renames, duplicates or deletes a profile.
    profile_step_running: bool,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("profile", &self.profile_name())
            .field("tab", &self.tab)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Builds the window's state; `ctx` is the egui context (for repaint requests from the worker).
    pub fn new(context: AppContext, ctx: &egui::Context) -> Result<Self, UiError> {
        let repaint = ctx.clone();
        let worker = Worker::spawn(move || repaint.request_repaint())
            .map_err(|e| UiError::Start(e.to_string()))?;
        add_symbol_font(ctx);
        let mut app = Self {
            services: Services {
                ctx: ctx.clone(),
                worker,
                save_dialog: context.save_dialog,
                store: ProfileStore::new(&context.dirs),
                dirs: context.dirs,
                secrets: context.secrets,
                #[cfg(feature = "sandbox")]
                demo: None,
                demo_dirs: None,
            },
            stored_secrets: std::collections::BTreeMap::new(),
            keychain_problem: context.keychain_problem,
            persisted: Persisted::default(),
            form: ConnectionForm::default(),
            profile: None,
            profile_names: Vec::new(),
            profile_problems: Vec::new(),
            dialog: None,
            dialog_error: None,
            dialog_focus: false,
            connectwise_test: TestState::NotRun,
            synthesize_test: TestState::NotRun,
            connectwise_report: None,
            preview: PreviewState::default(),
            export: ExportState::default(),
            log: LogBuffer::default(),
            tab: Tab::Preview,
            focus_filter: false,
            filter_text: String::new(),
            connection_folded: false,
            history: None,
            history_open_run: None,
            session_dry_runs: Vec::new(),
            sync: SyncState::default(),
            tenants: super::tenants::TenantsState::default(),
            counting_form: CountingForm::default(),
            counting_error: None,
            type_list: TypeList::default(),
            profile_queue: std::collections::VecDeque::new(),
            profile_step_running: false,
        };
        app.refresh_profiles();
        #[cfg(feature = "sandbox")]
        if let Some(sandbox) = context.demo {
            app.enter_demo(sandbox);
            return Ok(app);
        }
        if let Some(first) = app.profile_names.first().cloned() {
            app.switch_profile(&first);
        }
        Ok(app)
    }

    /// The sandbox the demo runs on, when the window is in demo mode.
    #[cfg(feature = "sandbox")]
    pub fn demo_sandbox(&self) -> Option<&crate::sandbox::Sandbox> {
        self.services.demo.as_ref()
    }

    /// Whether the window shows the demo profile.
    pub fn is_demo(&self) -> bool {
        #[cfg(feature = "sandbox")]
        {
            self.services.demo.is_some()
        }
        #[cfg(not(feature = "sandbox"))]
        {
            false
        }
    }

    /// Switches to the demo profile on `sandbox`: its URLs and keys, kept for this session only.
    #[cfg(feature = "sandbox")]
    pub fn enter_demo(&mut self, sandbox: crate::sandbox::Sandbox) {
        use crate::sandbox as sb;
        self.form = ConnectionForm {
            site: crate::domain::settings::ConnectWiseSite::Custom { url: String::new() },
            custom_url: sandbox
                .cw_site_url()
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            api_url: sandbox.cw_api_url().to_string(),
            company_id: sb::SANDBOX_COMPANY_ID.to_owned(),
            client_id: sb::SANDBOX_CLIENT_ID.to_owned(),
            public_key: sb::SANDBOX_PUBLIC_KEY.to_owned(),
            private_key: sb::SANDBOX_PRIVATE_KEY.to_owned(),
            synthesize_url: sandbox
                .synthesize_url()
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            vendor_api_key: sb::SANDBOX_VENDOR_API_KEY.to_owned(),
            partner_api_key: sb::SANDBOX_PARTNER_API_KEY.to_owned(),
            show_secrets: false,
            ..ConnectionForm::default()
        };
        let mut profile = Profile::new(DEMO_PROFILE);
        self.form.write_to(&mut profile);
        self.counting_form = CountingForm::from_options(&profile.counting);
        self.counting_error = None;
        self.new_epoch();
        self.profile = Some(profile);
        self.stored_secrets.clear();
        match tempfile::tempdir() {
            Ok(dir) => self.services.demo_dirs = Some(dir),
            Err(e) => self.log.push(
                LogLevel::Warn,
                format!("The demo's history cannot be kept ({e}); syncs still work"),
            ),
        }
        self.preview = PreviewState::default();
        self.connectwise_test = TestState::NotRun;
        self.synthesize_test = TestState::NotRun;
        self.connectwise_report = None;
        self.log.push(
            LogLevel::Info,
            format!(
                "Demo: ConnectWise sandbox at {}, Synthesize sandbox at {} (loopback only, generated data)",
                sandbox.cw_site_url(),
                sandbox.synthesize_url()
            ),
        );
        self.services.demo = Some(sandbox);
    }

    #[cfg(feature = "sandbox")]
    pub(super) fn start_demo(&mut self) {
        match crate::sandbox::Sandbox::start_in_background(crate::sandbox::SandboxConfig::default())
        {
            Ok(sandbox) => self.enter_demo(sandbox),
            Err(e) => self
                .log
                .push(LogLevel::Error, format!("The demo could not start: {e}")),
        }
    }

    #[cfg(not(feature = "sandbox"))]
    pub(super) fn start_demo(&mut self) {
        self.log.push(
            LogLevel::Error,
            "This build has no embedded sandbox, so the demo is not available",
        );
    }

    /// Restores what eframe saved last time, and reopens the last profile.
    pub fn restore(&mut self, persisted: Persisted) {
        let last = persisted.last_profile.clone();
        self.persisted = persisted;
        if !self.is_demo()
            && let Some(name) = last
            && self.profile_names.contains(&name)
        {
            self.switch_profile(&name);
        }
    }

    /// The current profile's name.
    pub fn profile_name(&self) -> &str {
        self.profile.as_ref().map_or("", |p| p.name.as_str())
    }

    /// Replaces how the window asks where to save (tests switch to "no dialog here").
    pub fn set_save_dialog(&mut self, dialog: Box<dyn SaveDialog>) {
        self.services.save_dialog = dialog;
    }

    pub fn worker(&self) -> &Worker<App> {
        &self.services.worker
    }

    pub fn egui_ctx(&self) -> &egui::Context {
        &self.services.ctx
    }

    /// Whether a job of this kind is in flight.
    pub fn is_running(&self, kind: JobKind) -> bool {
        self.services.worker.is_running(kind)
    }

    /// Draws one frame into `ui` (the whole window).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        for event in self.services.worker.poll() {
            self.on_event(event);
        }
        let mut actions = Vec::new();
        self.shortcuts(ui, &mut actions);

        egui::Panel::top("top_bar").show(ui, |ui| {
            self.top_bar_ui(ui, &mut actions);
            if self.profile.is_some() {
                self.steps_ui(ui);
            }
        });
        if self.profile.is_some() {
            egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar_ui(ui, &mut actions));
        }
        let mut log_open = self.persisted.log_open;
        egui::Panel::bottom("log_panel")
            .resizable(true)
            .default_size(100.0_f32.min(ui.available_height() * 0.15))
            .show_collapsible(ui, &mut log_open, |ui| {
                ui.strong("Log");
                log_ui(ui, &self.log);
            });
        self.persisted.log_open = log_open;

        if let Some(dialog) = self.dialog.as_mut() {
            let current = self.profile.as_ref().map_or("", |p| p.name.as_str());
            for action in profile_dialog_ui(
                ui.ctx(),
                dialog,
                current,
                self.dialog_error.as_deref(),
                &mut self.dialog_focus,
            ) {
                actions.push(Action::Profile(action));
            }
        }

        self.typed_path_dialog(&ui.ctx().clone(), &mut actions);
        if let SyncFlow::Confirm(on_screen) = &mut self.sync.flow {
            for action in plan_dialog_ui(ui.ctx(), on_screen) {
                actions.push(Action::Sync(action));
            }
        }

        if self.profile.is_none() {
            egui::CentralPanel::default().show(ui, |ui| Self::welcome_ui(ui, &mut actions));
        } else {
            // On a small window the connection panel must leave the table most of the room.
            let max_width = (ui.available_width() * 0.45).max(200.0);
            egui::Panel::left("connection_panel")
                .resizable(true)
                .default_size(330.0_f32.min(ui.available_width() * 0.38).max(220.0))
                .min_size(220.0)
                .max_size(max_width)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .id_salt("connection_scroll")
                        .show(ui, |ui| self.connection_panel_ui(ui, &mut actions));
                });
            egui::CentralPanel::default().show(ui, |ui| self.central_ui(ui, &mut actions));
        }

        for action in actions {
            self.apply(action);
        }
    }

    fn shortcuts(&mut self, ui: &egui::Ui, actions: &mut Vec<Action>) {
        let find = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::F);
        if ui.input_mut(|i| i.consume_shortcut(&find)) {
            self.tab = Tab::Preview;
            self.focus_filter = true;
        }
        // F5 or Ctrl+R: Preview (it only reads, so a key for it is always safe).
        let refresh = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::R);
        let preview = ui.input_mut(|i| {
            i.consume_shortcut(&refresh) || i.consume_key(egui::Modifiers::NONE, egui::Key::F5)
        });
        if preview && self.profile.is_some() && !self.preview.running && self.dialog.is_none() {
            self.tab = Tab::Preview;
            actions.push(Action::Preview);
        }
    }

    /// The top bar's screen, from the window's state.
    fn top_bar_ui(&self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let screen = TopBarScreen {
            profile_bar: ProfileBarView {
                names: &self.profile_names,
                current: self.profile.as_ref().map(|p| p.name.as_str()),
                demo: self.is_demo().then_some(DEMO_PROFILE),
                demo_available: cfg!(feature = "sandbox").then_some(DEMO_PROFILE),
            },
            switching_locked: self.sync.phase() != SyncPhase::Idle || self.profile_changing(),
            log_open: self.persisted.log_open,
            keychain_problem: self.keychain_problem.as_deref().filter(|_| !self.is_demo()),
            profile_problems: &self.profile_problems,
        };
        actions.extend(top_bar_ui(ui, &screen));
    }

    fn welcome_ui(ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        egui::ScrollArea::vertical().id_salt("welcome_scroll").show(ui, |ui| ui.vertical_centered(|ui| {
            ui.add_space((ui.available_height() * 0.1).min(60.0));
            ui.heading("Welcome");
            ui.add_space(8.0);
            ui.label(
                "This app counts shared and not shared license devices per company in ConnectWise PSA \
                 and sends them to Synthesize as unit counts.",
            );
            ui.label("Try it on a built-in demo of both services (no keys needed), or set up your own tenant.");
            ui.add_space(16.0);
            if ui.button("Try the demo").clicked() {
                actions.push(Action::TryDemo);
            }
            ui.add_space(6.0);
            if ui.button("Create a profile").clicked() {
                actions.push(Action::Profile(ProfileAction::Open(ProfileDialog::New {
                    name: String::new(),
                })));
            }
        }));
    }

    /// The connection panel's screen, from the window's state; the forms it edits in place.
    fn connection_panel_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let worker = &self.services.worker;
        let profile = self.profile.as_ref();
        let mut screen = ConnectionPanelScreen {
            view: ConnectionView {
                connectwise_test: Some(&self.connectwise_test),
                synthesize_test: Some(&self.synthesize_test),
                discovery: self.connectwise_report.as_ref(),
                connectwise_busy: worker.is_running(TestConnectWiseJob::KIND),
                synthesize_busy: worker.is_running(TestSynthesizeJob::KIND),
                read_only: false,
            },
            tests_passed: self.connection_folded,
            profile_changing: self.profile_changing(),
            form: &mut self.form,
            sync: &mut self.sync,
            status_busy: worker.is_running(crate::worker::SetStatusJob::KIND),
            counting_form: &mut self.counting_form,
            type_list: &self.type_list,
            zero_policy: profile.map(|p| p.sync.zero_policy).unwrap_or_default(),
            counting_error: self.counting_error.as_deref(),
            exclude_inactive: profile.is_some_and(|p| p.exclusions.exclude_inactive_companies),
        };
        actions.extend(connection_panel_ui(ui, &mut screen));
        self.connection_folded = screen.tests_passed;
    }

    fn central_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.tab, Tab::Preview, "Counts");
            let before = self.tab;
            ui.selectable_value(&mut self.tab, Tab::History, "History");
            if before != Tab::History && self.tab == Tab::History {
                // The journal is read once, when the tab opens, and kept.
                actions.push(Action::RefreshHistory);
            }
            ui.selectable_value(&mut self.tab, Tab::Tenants, "Tenants");
        });
        ui.separator();
        match self.tab {
            Tab::Preview => self.preview_tab_ui(ui, actions),
            Tab::History => self.history_tab_ui(ui, actions),
            Tab::Tenants => self.tenants_tab_ui(ui),
        }
    }

    /// Starts a job on the worker; its answers come back through `Handles`.
    pub(crate) fn start_job<J: Job>(&mut self, job: J)
    where
        App: Handles<J>,
    {
        self.services.worker.start(job);
    }

    /// Leaves the current profile's jobs behind: they are cancelled (a sync excepted) and their
    /// answers are ignored, so a late answer for the previous profile never lands in the new one.
    pub(crate) fn new_epoch(&mut self) {
        self.services.worker.new_epoch();
        // The list was the previous tenant's.
        self.type_list = TypeList::default();
    }

    fn on_event(&mut self, event: WorkerEvent<App>) {
        match event {
            // A sync's plan and its sending are one job kind: each logs its own line instead.
            // Profile saves happen on every edit: a line each would bury the log.
            WorkerEvent::Started(kind)
                if kind == SYNC || kind == ProfileJob::KIND || kind == ReadHistoryJob::KIND => {}
            WorkerEvent::Started(kind) => self
                .log
                .push(LogLevel::Info, format!("{} started", kind.label())),
            WorkerEvent::Busy(kind) => {
                self.log.push(
                    LogLevel::Warn,
                    format!(
                        "{} is still running; wait for it or cancel it",
                        kind.label()
                    ),
                );
                if kind == SYNC && self.sync.phase() == SyncPhase::Planning {
                    self.sync.flow = SyncFlow::Idle;
                }
            }
            WorkerEvent::Answer(answer) => answer.apply(self),
        }
    }

    fn log_test(&mut self, side: &str, state: &TestState) {
        match state {
            TestState::Passed(text) => self.log.push(LogLevel::Info, text.clone()),
            TestState::Failed(text) => self
                .log
                .push(LogLevel::Error, format!("{side} test failed: {text}")),
            _ => {}
        }
    }

    /// What the connection panel asked for: save, test, cancel a test, or an edit that voids
    /// an old test result.
    fn connection_action(&mut self, action: ConnectionAction) {
        match action {
            ConnectionAction::Save => self.save_profile(),
            ConnectionAction::EditedConnectWise => {
                // An old result must not stand beside new settings.
                if self.connectwise_test != TestState::Running {
                    self.connectwise_test = TestState::NotRun;
                    self.connectwise_report = None;
                }
            }
            ConnectionAction::EditedSynthesize => {
                if self.synthesize_test != TestState::Running {
                    self.synthesize_test = TestState::NotRun;
                }
            }
            ConnectionAction::CancelConnectWiseTest => {
                self.services.worker.cancel(TestConnectWiseJob::KIND);
            }
            ConnectionAction::CancelSynthesizeTest => {
                self.services.worker.cancel(TestSynthesizeJob::KIND);
            }
            ConnectionAction::TestConnectWise => match self.form.connectwise_settings() {
                Ok(settings) => {
                    self.connectwise_test = TestState::Running;
                    self.start_job(TestConnectWiseJob(settings));
                }
                Err(e) => self.connectwise_test = TestState::Failed(e),
            },
            ConnectionAction::TestSynthesize => match self.form.synthesize_settings() {
                Ok(settings) => {
                    self.synthesize_test = TestState::Running;
                    self.start_job(TestSynthesizeJob(settings));
                }
                Err(e) => self.synthesize_test = TestState::Failed(e),
            },
        }
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::Preview => self.start_preview(),
            Action::Cancel(kind) => {
                self.log
                    .push(LogLevel::Info, format!("Cancelling {}", kind.label()));
                self.services.worker.cancel(kind);
            }
            Action::Connection(action) => self.connection_action(action),
            Action::ExportCsv => self.export_with_dialog(),
            Action::ExportToTypedPath => {
                if let Some(path) = self.export.typed_path.clone() {
                    let path = path.trim().to_owned();
                    if path.is_empty() {
                        self.export.message = Some(Err(
                            "Save CSV to: empty; type the path of the file".to_owned(),
                        ));
                    } else {
                        self.export_to(std::path::Path::new(&path));
                    }
                }
            }
            Action::Profile(action) => self.profile_action(action),
            Action::Revert(run_id) => self.start_revert(&run_id),
            Action::Sync(action) => self.sync_action(action),
            Action::Options(OptionsAction::ApplyCounting) => {
                match self.counting_form.to_options() {
                    Ok(options) => {
                        self.counting_error = None;
                        if let Some(profile) = self.profile.as_mut()
                            && profile.counting != options
                        {
                            profile.counting = options;
                            self.log.push(
                                LogLevel::Info,
                                "Counting rule changed; press Preview to count again",
                            );
                            self.save_profile();
                        }
                    }
                    Err(e) => self.counting_error = Some(e),
                }
            }
            Action::Options(OptionsAction::LoadTypes) => match self.form.connectwise_settings() {
                Ok(settings) => {
                    self.type_list.loading = true;
                    self.type_list.error = None;
                    self.start_job(LoadTypesJob(settings));
                }
                Err(e) => self.type_list.error = Some(e),
            },
            Action::Options(OptionsAction::SetZeroPolicy(policy)) => {
                if let Some(profile) = self.profile.as_mut() {
                    profile.sync.zero_policy = policy;
                }
                self.save_profile();
            }
            Action::Options(OptionsAction::SetExcludeInactive { on, reason }) => {
                if let Some(profile) = self.profile.as_mut() {
                    profile.exclusions.exclude_inactive_companies = on;
                    self.log.push(
                        LogLevel::Info,
                        format!(
                            "Companies whose ConnectWise status is marked inactive: {}; preview again to apply",
                            if on { "left out" } else { "counted" }
                        ),
                    );
                }
                // Journaled as the command's `profile exclude-inactive` is: who, when, what.
                let change = crate::storage::ChangeAuthor::current().change(
                    self.profile_name(),
                    crate::domain::adjustments::AdjustmentChangeKind::InactiveCompaniesExcluded {
                        on,
                    },
                    reason,
                );
                self.counting_form.exclude_inactive_reason.clear();
                self.save_and_record(change);
            }
            Action::SetDelimiter(delimiter) => {
                if let Some(profile) = self.profile.as_mut() {
                    profile.csv_delimiter = delimiter;
                }
                self.save_profile();
            }
            Action::TryDemo => self.start_demo(),
            Action::OpenFolder(folder) => {
                let url = format!("file://{}", folder.display());
                self.services.ctx.open_url(egui::OpenUrl::new_tab(url));
            }
            Action::RefreshHistory => self.read_history(),
            Action::OpenRun(run_id) => self.open_run(run_id),
            Action::CompareRuns(runs) => self.compare_runs(runs),
            Action::ToggleLog => {
                self.persisted.log_open = !self.persisted.log_open;
                // The panel follows on the next frame.
                self.services.ctx.request_repaint();
            }
        }
    }

    /// Starts a preview with the form's settings; the current table stays until it finishes.
    pub fn start_preview(&mut self) {
        let connectwise = match self.form.connectwise_settings() {
            Ok(s) => s,
            Err(e) => {
                self.preview.error = Some(e);
                return;
            }
        };
        self.preview.running = true;
        self.preview.progress = None;
        self.preview.error = None;
        self.preview.started_context = self.current_plan_context();
        let request = PreviewRequest {
            connectwise,
            counting: self
                .profile
                .as_ref()
                .map(|p| p.counting.clone())
                .unwrap_or_default(),
            company_statuses: self
                .profile
                .as_ref()
                .is_some_and(|p| p.exclusions.exclude_inactive_companies),
        };
        let history = self.history_place();
        self.start_job(PreviewJob { request, history });
    }
}

impl Handles<PreviewJob> for App {
    fn on_progress(&mut self, progress: FetchProgress) {
        self.preview.progress = Some(progress);
    }

    fn on_outcome(&mut self, result: Result<Box<WindowPreview>, JobError>) {
        self.preview.running = false;
        match result {
            Ok(preview) => {
                let WindowPreview { outcome, last_sent } = *preview;
                self.preview.binding = self.preview.started_context.take().map(|context| {
                    crate::domain::safety::PlanBinding::new(context, chrono::Utc::now())
                });
                self.preview.completeness = Some(outcome.completeness.clone());
                let mut table = PreviewTable::new(&outcome.counts, outcome.rule_text);
                // The table shows what a sync would send: the final counts, the excluded out.
                if let Some(profile) = &self.profile {
                    let adjustments = profile
                        .run_adjustments()
                        .with_company_statuses(outcome.company_statuses.as_ref());
                    for warning in &adjustments.company_status_warnings {
                        self.log.push(LogLevel::Warn, warning.clone());
                    }
                    table.apply_adjustments(&adjustments, chrono::Local::now().date_naive());
                }
                self.preview.company_statuses = outcome.company_statuses.clone();
                self.log.push(
                    LogLevel::Info,
                    format!(
                        "Preview done: {} companies from {} configurations in {:.1} s",
                        table.rows().len(),
                        outcome.counts.configurations_read,
                        outcome.elapsed_ms as f64 / 1000.0
                    ),
                );
                self.preview.elapsed_ms = Some(outcome.elapsed_ms);
                match last_sent {
                    Ok(last_sent) => Self::merge_last_sent(&mut table, &last_sent),
                    Err(e) => self
                        .log
                        .push(LogLevel::Warn, format!("History unreadable: {e}")),
                }
                let held: Vec<(i64, String)> = outcome
                    .completeness
                    .held_companies()
                    .iter()
                    .map(|h| (h.company_id, h.reason()))
                    .collect();
                table.set_held(&held);
                // Preview again keeps what the user set: unticked rows, sort, quick filters.
                if let Some(before) = &self.preview.table {
                    table.keep_view_of(before);
                }
                self.preview.table = Some(table);
                self.preview.error = None;
            }
            Err(JobError::Cancelled) => {
                self.log.push(LogLevel::Info, "Preview cancelled");
                self.preview.error = Some("Preview cancelled.".to_owned());
            }
            Err(e) => {
                let text = format!("Preview failed: {e}");
                self.log.push(LogLevel::Error, &text);
                self.preview.error = Some(text);
            }
        }
    }
}

impl Handles<TestConnectWiseJob> for App {
    fn on_outcome(&mut self, result: Result<ConnectionReport, JobError>) {
        self.connectwise_test = connectwise_test_state(&result);
        if let Ok(report) = result {
            self.connectwise_report = Some(report);
        }
        self.log_test("ConnectWise", &self.connectwise_test.clone());
    }
}

impl Handles<LoadTypesJob> for App {
    fn on_outcome(&mut self, result: Result<Vec<String>, JobError>) {
        self.type_list.loading = false;
        match result {
            Ok(names) => {
                self.log.push(
                    LogLevel::Info,
                    format!("ConnectWise has {} configuration types", names.len()),
                );
                self.type_list.names = names;
            }
            Err(e) => {
                let text = format!("The configuration types could not be loaded: {e}");
                self.log.push(LogLevel::Error, &text);
                self.type_list.error = Some(text);
            }
        }
    }
}

impl Handles<TestSynthesizeJob> for App {
    fn on_outcome(&mut self, result: Result<IntegrationData, JobError>) {
        self.synthesize_test = synthesize_test_state(&result);
        self.log_test("Synthesize", &self.synthesize_test.clone());
        if let Ok(integration) = result {
            // Show the status Synthesize reports, not a default.
            self.sync.status_choice = integration.known_status();
            self.sync.integration = Some(integration);
        }
    }
}

/// Adds egui's bundled monospace font as the last fallback of the proportional text, so the
/// arrows and sort markers (→ ▲ ▼) draw even where no system font has them.
fn add_symbol_font(ctx: &egui::Context) {
    use egui::epaint::text::{FontInsert, FontPriority, InsertFontFamily};
    if let Some(hack) = egui::FontDefinitions::default().font_data.get("Hack") {
        ctx.add_font(FontInsert::new(
            "Hack (symbols)",
            (**hack).clone(),
            vec![InsertFontFamily {
                family: egui::FontFamily::Proportional,
                priority: FontPriority::Lowest,
            }],
        ));
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.persisted);
    }
}

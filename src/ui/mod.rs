//! The desktop window (eframe/egui): profiles, connection tests, preview table, sync, CSV export,
//! history and a log panel. Panels never do network I/O: they return actions and the worker runs them.

mod app;
pub mod connection;
pub mod counting_form;
pub mod export;
pub mod log;
pub mod profiles;
pub mod schedule_dialog;
pub mod steps;
pub mod sync_view;
pub mod table;
pub mod tenants;
mod widgets;

pub use app::{Action, App, AppContext, DEMO_PROFILE, ExportState, Persisted, PreviewState, Tab};
pub use export::{FixedPathSaveDialog, NoDialog, RfdSaveDialog, SaveDialog};

use std::sync::Arc;

use crate::storage::secrets::{KeychainStore, SessionStore};
use crate::storage::{AppDirs, SecretStore};

/// The OS keychain, or a session store and the reason when it is not available.
fn open_keychain() -> (Arc<dyn SecretStore>, Option<String>) {
    match KeychainStore::open() {
        Ok(store) => (Arc::new(store), None),
        Err(e) => (Arc::new(SessionStore::new()), Some(e.to_string())),
    }
}

/// Why the window could not open or run.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("could not start the window: {0}")]
    Start(String),
    #[error("the window failed: {0}")]
    Window(String),
}

/// The application id of the desktop entry, metainfo and icons (see packaging/README.md).
pub const APP_ID: &str = "io.github.cwshareddevices.CwSharedDevices";

/// The app icon, rendered from `assets/icon.svg`.
const ICON_PNG: &[u8] = include_bytes!("../../assets/icon-256.png");

fn native_options() -> eframe::NativeOptions {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("ConnectWise shared devices")
        // The packaging's application id, so Linux desktops match the window to its icon.
        .with_app_id(APP_ID)
        .with_inner_size([1280.0, 800.0])
        // Below this the table shows too few rows to review a tenant; every control stays
        // reachable down to it (scrolling sideways where needed).
        .with_min_inner_size([800.0, 560.0]);
    if let Ok(icon) = eframe::icon_data::from_png_bytes(ICON_PNG) {
        viewport = viewport.with_icon(icon);
    }
    eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    }
}

fn run(context: AppContext) -> Result<(), UiError> {
    eframe::run_native(
        "cw-shared-devices",
        native_options(),
        Box::new(move |cc| {
            let mut app = App::new(context, &cc.egui_ctx)?;
            if let Some(persisted) = cc
                .storage
                .and_then(|s| eframe::get_value::<Persisted>(s, eframe::APP_KEY))
            {
                app.restore(persisted);
            }
            if app.is_demo() {
                // The demo opens with its numbers on the way, so the table is the first thing seen.
                app.start_preview();
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| UiError::Window(e.to_string()))
}

/// Opens the window (the binary with no subcommand).
pub fn run_window() -> Result<(), UiError> {
    run_on_platform(
        #[cfg(feature = "sandbox")]
        None,
    )
}

/// Opens the window on the embedded sandbox of both services (`cw-shared-devices demo`).
#[cfg(feature = "sandbox")]
pub fn run_demo() -> Result<(), UiError> {
    let sandbox =
        crate::sandbox::Sandbox::start_in_background(crate::sandbox::SandboxConfig::default())
            .map_err(|e| UiError::Start(e.to_string()))?;
    run_on_platform(Some(sandbox))
}

/// The window on the platform's folders and keychain. In the demo too: the demo profile itself
/// is never saved and its history lives in its own temporary folder (App::enter_demo), but a
/// profile the user creates from the demo is a real one, kept with the others.
fn run_on_platform(
    #[cfg(feature = "sandbox")] demo: Option<crate::sandbox::Sandbox>,
) -> Result<(), UiError> {
    let dirs = AppDirs::platform().map_err(|e| UiError::Start(e.to_string()))?;
    let (secrets, keychain_problem) = open_keychain();
    run(AppContext {
        dirs,
        secrets,
        keychain_problem,
        save_dialog: Box::new(RfdSaveDialog),
        #[cfg(feature = "sandbox")]
        demo,
    })
}

/// Without the embedded sandbox there is no demo.
#[cfg(not(feature = "sandbox"))]
pub fn run_demo() -> Result<(), UiError> {
    Err(UiError::Start(
        "this build has no embedded sandbox (feature `sandbox`), so the demo is not available"
            .to_owned(),
    ))
}

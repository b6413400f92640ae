//! The window in an `egui_kittest` harness: a fresh app folder, an in-memory secret store and a
//! save dialog that always answers one path; the demo started the way a user starts it; and
//! stepping frames until something holds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cw_shared_devices::storage::secrets::MemoryStore;
use cw_shared_devices::storage::{AppDirs, SecretStore};
use cw_shared_devices::ui::sync_view::SyncPhase;
use cw_shared_devices::ui::table::PreviewTable;
use cw_shared_devices::ui::{App, AppContext, FixedPathSaveDialog};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// What a harness was built on.
pub struct Env {
    /// The app's folder (profiles, journal, logs).
    pub dir: tempfile::TempDir,
    /// Where the save dialog says to write the CSV.
    pub csv_path: std::path::PathBuf,
    pub secrets: Arc<MemoryStore>,
}

/// A window of `size` on a fresh folder.
pub fn harness(size: egui::Vec2) -> (Harness<'static, App>, Env) {
    build(size, false)
}

/// A harness for tests that show sandbox data: its company names include Japanese, Greek and
/// Arabic, which the test fonts cannot draw (the real window falls back to system fonts).
pub fn demo_harness() -> (Harness<'static, App>, Env) {
    let (mut h, env) = build(egui::vec2(1280.0, 800.0), true);
    h.run_steps(2);
    h.get_by_label("Try the demo").click();
    h.run_steps(2);
    assert!(
        h.state().is_demo(),
        "the demo did not start: {:?}",
        h.state().log.last()
    );
    (h, env)
}

pub fn build(size: egui::Vec2, allow_missing_glyphs: bool) -> (Harness<'static, App>, Env) {
    build_with(size, allow_missing_glyphs, MemoryStore::new(), None)
}

/// A window with `store` for its secrets, on `dir` (a fresh folder if `None`).
pub fn build_with(
    size: egui::Vec2,
    allow_missing_glyphs: bool,
    store: MemoryStore,
    dir: Option<tempfile::TempDir>,
) -> (Harness<'static, App>, Env) {
    let dir = dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
    let csv_path = dir.path().join("export.csv");
    let dialog = FixedPathSaveDialog(Some(csv_path.clone()));
    let secrets = Arc::new(store);
    let store: Arc<dyn SecretStore> = secrets.clone();
    let dirs = AppDirs::at(dir.path());
    let mut builder = Harness::builder().with_size(size);
    if allow_missing_glyphs {
        builder = builder.allow_missing_glyphs();
    }
    let harness = builder.build_eframe(move |cc| {
        App::new(
            AppContext {
                dirs,
                secrets: store,
                keychain_problem: None,
                save_dialog: Box::new(dialog),
                demo: None,
            },
            &cc.egui_ctx,
        )
        .unwrap()
    });
    (
        harness,
        Env {
            dir,
            csv_path,
            secrets,
        },
    )
}

/// Stands for the primary send button ("Send all 40 companies…"), whatever its count.
pub const SEND: &str = "Send all companies…";

/// The partial sync steps, in the "Other steps" menu beside the send button.
pub const PARTIAL_STEPS: [&str; 3] = ["Sync services", "Sync accounts", "Sync usage"];

/// The label to look at for whether `label` is on: a partial step is on when its menu is.
pub fn enabled_by(label: &str) -> &str {
    if PARTIAL_STEPS.contains(&label) {
        "Other steps"
    } else {
        label
    }
}

/// Opens the "Other steps" menu when `label` is in it, so it can be clicked.
pub fn reveal(h: &mut Harness<'_, App>, label: &str) {
    if PARTIAL_STEPS.contains(&label) && h.query_by_label(label).is_none() {
        h.get_by_label("Other steps").click();
        h.run_steps(3);
    }
}

/// The preview table on screen; panics when there is none yet.
pub fn preview_table<'a>(h: &'a Harness<'_, App>) -> &'a PreviewTable {
    h.state()
        .preview
        .table
        .as_ref()
        .expect("no preview table on screen")
}

/// Scrolls `label` into view and clicks it.
pub fn click_in_view(h: &mut Harness<'_, App>, label: &str) {
    h.get_by_label(label).scroll_to_me();
    // Scrolling is animated: let it settle before pointing at the widget.
    h.run_steps(20);
    h.get_by_label(label).click();
    h.run_steps(2);
}

/// Clicks the primary "Send … companies…" button, whatever its count.
pub fn click_send(h: &mut Harness<'_, App>) {
    h.get_by_label_contains("companies…").click();
}

/// Steps frames until `done` holds, or fails after `limit`.
pub fn step_until(
    h: &mut Harness<'_, App>,
    limit: Duration,
    what: &str,
    done: impl Fn(&Harness<'_, App>) -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        h.step();
        if done(h) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Presses Preview and waits for the table; fails if the preview failed.
pub fn preview(h: &mut Harness<'_, App>) {
    h.get_by_label("Preview").click();
    step_until(h, Duration::from_secs(30), "the preview", |h| {
        !h.state().preview.running
            && (h.state().preview.table.is_some() || h.state().preview.error.is_some())
    });
    assert_eq!(h.state().preview.error, None);
    h.run_steps(2);
}

/// Presses a sync button and waits for its plan on screen.
pub fn plan(h: &mut Harness<'_, App>, button: &str) {
    reveal(h, button);
    if button == SEND {
        click_send(h);
    } else {
        h.get_by_label(button).click();
    }
    step_until(h, Duration::from_secs(30), "the plan", |h| {
        h.state().sync.phase() == SyncPhase::Confirm
    });
    // The dialog fades in over a few frames.
    h.run_steps(10);
}

/// Replaces a text field's content the way a user does: focus, select all, type, Tab away.
pub fn set_field(h: &mut Harness<'_, App>, label: &str, text: &str) {
    // The connection section folds away once both tests pass: open it to edit a field.
    if h.query_by_label(label).is_none()
        && let Some(folded) = h.query_by_label("Connection (both tests passed)")
    {
        folded.click();
        h.run_steps(3);
    }
    replace_text(h, label, text);
    h.run_steps(1);
    h.key_press(egui::Key::Tab);
    // Leaving the field saves the profile on the worker.
    settle_profiles(h);
}

/// Replaces a text field's text and stays in it: focus, select all, type (an empty `text`
/// clears it). No frame is stepped after the typing.
pub fn replace_text(h: &mut Harness<'_, App>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(1);
    if text.is_empty() {
        h.key_press(egui::Key::Backspace);
    } else {
        h.get_by_label(label).type_text(text);
    }
}

/// Fails unless no line of the window's log contains `secret`.
pub fn assert_not_logged(h: &Harness<'_, App>, secret: &str) {
    let lines: Vec<&str> = h.state().log.lines().map(|l| l.text.as_str()).collect();
    assert!(
        lines.iter().all(|l| !l.contains(secret)),
        "a log line holds {secret:?}"
    );
}

/// Steps frames until the profile work asked for (save, open, create, rename, duplicate,
/// delete) has run on the worker.
pub fn settle_profiles(h: &mut Harness<'_, App>) {
    step_until(h, Duration::from_secs(10), "the profile work", |h| {
        !h.state().profile_work_pending()
    });
    h.run_steps(2);
}

/// Opens the History tab and waits until the tenant's history has been read.
pub fn open_history(h: &mut Harness<'_, App>) {
    h.get_by_label("History").click();
    step_until(h, Duration::from_secs(10), "the history", |h| {
        h.state().history.is_some()
    });
    h.run_steps(2);
}

/// Steps frames until the CSV export asked for has been written (or has failed) on the worker.
pub fn wait_for_export(h: &mut Harness<'_, App>) {
    use cw_shared_devices::worker::{ExportJob, Job};
    step_until(h, Duration::from_secs(10), "the export", |h| {
        !h.state().is_running(ExportJob::KIND) && h.state().export.message.is_some()
    });
    h.run_steps(2);
}

/// Waits for the profile dialog (a name field, or the delete confirmation).
pub fn wait_for_dialog(h: &mut Harness<'_, App>) {
    step_until(h, Duration::from_secs(5), "the profile dialog", |h| {
        h.query_by_label("Profile name").is_some() || h.query_by_label("Yes, delete").is_some()
    });
}

/// Creates a profile as a user does: `button` ("Create a profile", "New profile"), the name,
/// Enter; then waits until it is open.
pub fn create_profile(h: &mut Harness<'_, App>, button: &str, name: &str) {
    h.get_by_label(button).click();
    wait_for_dialog(h);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Profile name").type_text(name);
    h.run_steps(1);
    h.key_press(egui::Key::Enter);
    settle_profiles(h);
    assert_eq!(h.state().dialog, None, "{:?}", h.state().dialog_error);
    assert_eq!(h.state().profile_name(), name);
}

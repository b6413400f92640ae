//! The window driven the way a user drives it, through egui_kittest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use cw_shared_devices::ui::{App, AppContext, FixedPathSaveDialog};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

struct Env {
    _dir: tempfile::TempDir,
    csv_path: std::path::PathBuf,
}

fn harness(size: egui::Vec2) -> (Harness<'static, App>, Env) {
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("export.csv");
    let dialog = FixedPathSaveDialog(Some(csv_path.clone()));
    let harness = Harness::builder().with_size(size).build_eframe(move |cc| {
        App::new(
            AppContext {
                save_dialog: Box::new(dialog),
            },
            &cc.egui_ctx,
        )
        .unwrap()
    });
    (
        harness,
        Env {
            _dir: dir,
            csv_path,
        },
    )
}

/// Steps frames until `done` holds, or fails after `limit`.
fn step_until(
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

#[test]
fn frames_render_at_full_and_small_sizes() {
    for size in [egui::vec2(1280.0, 800.0), egui::vec2(480.0, 320.0)] {
        let (mut h, _env) = harness(size);
        h.run_steps(3);
        h.get_by_label("Create a profile").click();
        h.run_steps(3);
        assert!(
            h.query_by_label("Preview").is_some(),
            "no Preview button at {size:?}: {:#?}",
            h.root()
        );
        h.get_by_label("Preview").click();
        h.run_steps(3);
        assert!(h.state().preview.error.is_some());
    }
}

#[test]
fn first_run_shows_the_welcome_with_both_choices() {
    let (mut h, _env) = harness(egui::vec2(1280.0, 800.0));
    h.run_steps(2);
    assert!(h.query_by_label("Try the demo").is_some());
    h.get_by_label("Create a profile").click();
    h.run_steps(2);
    assert!(h.query_by_label("Try the demo").is_none());
    assert!(h.query_by_label("Company ID").is_some());
    step_until(&mut h, Duration::from_secs(5), "a frame", |_| true);
}

//! Frame-time measurement for the benchmark: the real `App` with a large preview table, drawn
//! headless (no GPU) while scrolling, so regressions in the per-frame cost show up as numbers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::counting::{CompanyCounts, CountingResult};
use crate::storage::AppDirs;
use crate::storage::secrets::MemoryStore;

use crate::ui::export::FixedPathSaveDialog;
use crate::ui::table::PreviewTable;
use crate::ui::{App, AppContext, UiError};

/// Frame times of a scrolling run, in microseconds: wall time, and the CPU time of the drawing
/// thread where the OS tells it (on a busy machine wall time also counts time spent waiting
/// for a core).
#[derive(Debug, Clone, PartialEq)]
pub struct FrameTimes {
    pub rows: usize,
    pub frames: usize,
    pub mean_us: f64,
    pub median_us: f64,
    pub p95_us: f64,
    pub max_us: f64,
    /// Mean CPU time per frame. Only the mean: the kernel accounts a running thread's CPU time
    /// in scheduler ticks (4 ms here), so one frame's reading is 0 or a tick, but the sum over
    /// many frames is right.
    pub cpu_mean_us: Option<f64>,
}

impl std::fmt::Display for FrameTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows, {} frames: mean {:.0} us, median {:.0} us, p95 {:.0} us, max {:.0} us",
            self.rows, self.frames, self.mean_us, self.median_us, self.p95_us, self.max_us
        )?;
        if let Some(cpu) = self.cpu_mean_us {
            write!(f, "; CPU time: mean {cpu:.0} us")?;
        }
        Ok(())
    }
}

/// CPU time this thread has run, in nanoseconds (Linux: the first field of `schedstat`).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A preview of `rows` companies with names of realistic length.
pub fn synthetic_counts(rows: usize) -> CountingResult {
    let companies = (0..rows)
        .map(|i| {
            let shared = (i % 7) as u64;
            let not_shared = (i % 13) as u64;
            CompanyCounts {
                company_id: 1000 + i as i64,
                company_name: format!("Customer company number {i} Ltd"),
                shared_devices: shared,
                not_shared_devices: not_shared,
                total_devices: shared + not_shared,
            }
        })
        .collect();
    CountingResult {
        companies,
        configurations_read: rows as u64 * 20,
        configurations_counted: rows as u64 * 10,
        ..CountingResult::default()
    }
}

/// Builds the app on a temporary profile with a `rows`-row preview and times `frames` frames at
/// 1280×800 while scrolling the table down by a few rows each frame (after a few warm-up frames
/// that lay out fonts). Tessellation is included; GPU painting is not (there is none headless).
pub fn measure_scroll_frames(rows: usize, frames: usize) -> Result<FrameTimes, UiError> {
    let root = tempfile::tempdir().map_err(|e| UiError::Start(e.to_string()))?;
    let ctx = egui::Context::default();
    let mut app = App::new(
        AppContext {
            dirs: AppDirs::at(root.path()),
            secrets: Arc::new(MemoryStore::new()),
            keychain_problem: None,
            save_dialog: Box::new(FixedPathSaveDialog(None)),
            #[cfg(feature = "sandbox")]
            demo: None,
        },
        &ctx,
    )?;
    app.profile = Some(crate::storage::Profile::new("bench"));
    app.preview.table = Some(PreviewTable::new(
        &synthetic_counts(rows),
        "License devices, shared when the contact name contains \"shared\"".to_owned(),
    ));
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 800.0));
    let table_point = egui::pos2(900.0, 500.0);
    let mut times = Vec::with_capacity(frames);
    let mut cpu_times = Vec::with_capacity(frames);
    let warm_up = 5;
    for frame in 0..frames + warm_up {
        let mut input = egui::RawInput {
            screen_rect: Some(screen),
            time: Some(frame as f64 / 60.0),
            ..Default::default()
        };
        input.events.push(egui::Event::PointerMoved(table_point));
        input.events.push(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, -60.0),
            phase: egui::TouchPhase::Move,
            modifiers: egui::Modifiers::NONE,
            source: egui::MouseWheelSource::Wheel,
        });
        let cpu_started = thread_cpu_ns();
        let started = Instant::now();
        let mut output = ctx.run_ui(input, |ui| app.show(ui));
        let _ = ctx.tessellate(output.shapes, output.pixels_per_point);
        // No renderer uploads the font atlas here.
        output.textures_delta.clear();
        let elapsed = started.elapsed();
        let cpu = cpu_started
            .zip(thread_cpu_ns())
            .map(|(from, to)| Duration::from_nanos(to.saturating_sub(from)));
        if frame >= warm_up {
            times.push(elapsed);
            cpu_times.extend(cpu);
        }
    }
    let mut summary = summarise(rows, &times);
    if !times.is_empty() && cpu_times.len() == times.len() {
        summary.cpu_mean_us = Some(summarise(rows, &cpu_times).mean_us);
    }
    Ok(summary)
}

fn summarise(rows: usize, times: &[Duration]) -> FrameTimes {
    let mut us: Vec<f64> = times.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    us.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((us.len() as f64 - 1.0) * q).round() as usize;
        us.get(i).copied().unwrap_or(0.0)
    };
    FrameTimes {
        rows,
        frames: us.len(),
        mean_us: if us.is_empty() {
            0.0
        } else {
            us.iter().sum::<f64>() / us.len() as f64
        },
        median_us: at(0.5),
        p95_us: at(0.95),
        max_us: us.last().copied().unwrap_or(0.0),
        cpu_mean_us: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn measures_frames_of_a_scrolled_table_without_panicking() {
        let times = measure_scroll_frames(500, 10).unwrap();
        assert_eq!(times.frames, 10);
        assert!(times.median_us > 0.0);
        if cfg!(target_os = "linux") {
            let cpu = times.cpu_mean_us.unwrap();
            assert!(cpu < 1_000_000.0, "{times}");
        }
        // Generous bound: a frame of a virtualised table is far below a second even unoptimised.
        assert!(times.max_us < 1_000_000.0, "{times}");
    }

    /// The figure for the benchmark: `cargo test --lib ui::bench -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check; run it on demand"]
    fn report_frame_times_for_5000_rows() {
        let times = measure_scroll_frames(5000, 300).unwrap();
        println!("{times}");
    }
}

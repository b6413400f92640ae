//! Progress on stderr: a bar on a terminal, plain lines otherwise (logs of schedulers).

use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::api::connectwise::FetchProgress;

/// Shows fetch progress: pages of expected and configurations read.
#[derive(Debug)]
pub struct FetchBar {
    bar: Option<ProgressBar>,
    last_line: Mutex<Option<Instant>>,
}

impl FetchBar {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} Fetching configurations [{bar:30}] page {pos}/{len} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            bar,
            last_line: Mutex::new(None),
        }
    }

    pub fn update(&self, p: FetchProgress) {
        if let Some(bar) = &self.bar {
            if let Some(expected) = p.pages_expected {
                bar.set_length(expected);
            }
            bar.set_position(p.pages_fetched);
            bar.set_message(format!("{} configurations read", p.configurations_read));
            return;
        }
        if p.pages_fetched == 0 {
            return;
        }
        // Plain lines at most once a second, plus the first and the last.
        let done = p.pages_expected.is_some_and(|e| p.pages_fetched >= e);
        let Ok(mut last) = self.last_line.lock() else {
            return;
        };
        let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if due || done {
            *last = Some(Instant::now());
            let of = p
                .pages_expected
                .map(|e| format!(" of {e}"))
                .unwrap_or_default();
            eprintln!(
                "Fetched page {}{of}, {} configurations read",
                p.pages_fetched, p.configurations_read
            );
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Default for FetchBar {
    fn default() -> Self {
        Self::new()
    }
}

/// Shows sync progress: counts done of total, with sent/unmapped/failed.
#[derive(Debug)]
pub struct SyncBar {
    bar: Option<ProgressBar>,
    total: usize,
    last_line: Mutex<Option<Instant>>,
}

impl SyncBar {
    pub fn new(total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{spinner} Syncing [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            bar,
            total,
            last_line: Mutex::new(None),
        }
    }

    pub fn update(&self, p: crate::worker::sync::SyncProgress) {
        let msg = format!(
            "sent {}, unmapped {}, failed {}",
            p.sent, p.unmapped, p.failed
        );
        if let Some(bar) = &self.bar {
            bar.set_position(p.counts_done as u64);
            bar.set_message(msg);
            return;
        }
        let Ok(mut last) = self.last_line.lock() else {
            return;
        };
        let done = p.counts_done >= self.total;
        if done || last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            *last = Some(Instant::now());
            eprintln!("Counts {}/{}: {msg}", p.counts_done, self.total);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

//! Progress on stderr: a bar on a terminal, plain lines otherwise (logs of schedulers). Plain
//! lines come at most once a second; whatever came last, the final line always says where the
//! run ended, since a scheduler's log has nothing else to show it.

use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::FetchProgress;
use crate::engine::sync::SyncProgress;

/// Plain lines printed, and the latest update whether printed or not.
#[derive(Debug)]
struct Lines<P> {
    printed_at: Option<Instant>,
    latest: Option<P>,
    latest_printed: bool,
}

impl<P: Copy> Lines<P> {
    fn new() -> Self {
        Self {
            printed_at: None,
            latest: None,
            latest_printed: false,
        }
    }

    /// Records `p`; true when a line is due (the first, then once a second).
    fn due(&mut self, p: P) -> bool {
        self.latest = Some(p);
        let due = self
            .printed_at
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if due {
            self.printed_at = Some(Instant::now());
        }
        self.latest_printed = due;
        due
    }
}

fn bar(template: &str, length: u64) -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(length);
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    })
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Shows fetch progress: pages of expected and configurations read.
#[derive(Debug)]
pub struct FetchBar {
    bar: Option<ProgressBar>,
    lines: Mutex<Lines<FetchProgress>>,
}

impl FetchBar {
    pub fn new() -> Self {
        Self {
            bar: bar(
                "{spinner} Fetching configurations [{bar:30}] page {pos}/{len} {msg}",
                0,
            ),
            lines: Mutex::new(Lines::new()),
        }
    }

    pub fn update(&self, p: FetchProgress) {
        let Ok(mut lines) = self.lines.lock() else {
            return;
        };
        if let Some(bar) = &self.bar {
            lines.latest = Some(p);
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
        if lines.due(p) {
            let of = p
                .pages_expected
                .map(|e| format!(" of {}", e.max(p.pages_fetched)))
                .unwrap_or_default();
            eprintln!(
                "Fetched page {}{of}, {} configurations read",
                p.pages_fetched, p.configurations_read
            );
        }
    }

    /// Clears the bar and prints where the fetch ended: all read (`completed`), or stopped.
    pub fn finish(&self, completed: bool) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let Ok(lines) = self.lines.lock() else {
            return;
        };
        let Some(p) = lines.latest else {
            return;
        };
        let tally = format!(
            "{}, {} read",
            plural(p.pages_fetched, "page", "pages"),
            plural(p.configurations_read, "configuration", "configurations")
        );
        if completed {
            eprintln!("Fetched all configurations: {tally}");
        } else {
            eprintln!("Fetch stopped after {tally}");
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
    lines: Mutex<Lines<SyncProgress>>,
}

impl SyncBar {
    pub fn new(total: usize) -> Self {
        Self {
            bar: bar(
                "{spinner} Syncing [{bar:30}] {pos}/{len} {msg}",
                total as u64,
            ),
            total,
            lines: Mutex::new(Lines::new()),
        }
    }

    fn line(&self, p: &SyncProgress) -> String {
        format!(
            "Counts {}/{}: sent {}, unmapped {}, failed {}",
            p.counts_done, self.total, p.sent, p.unmapped, p.failed
        )
    }

    pub fn update(&self, p: SyncProgress) {
        let Ok(mut lines) = self.lines.lock() else {
            return;
        };
        if let Some(bar) = &self.bar {
            lines.latest = Some(p);
            bar.set_position(p.counts_done as u64);
            bar.set_message(format!(
                "sent {}, unmapped {}, failed {}",
                p.sent, p.unmapped, p.failed
            ));
            return;
        }
        if lines.due(p) {
            eprintln!("{}", self.line(&p));
        }
    }

    /// Clears the bar and prints the final count line, unless it was the last one printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let Ok(lines) = self.lines.lock() else {
            return;
        };
        if let Some(p) = &lines.latest
            && (self.bar.is_some() || !lines.latest_printed)
        {
            eprintln!("{}", self.line(p));
        }
    }
}

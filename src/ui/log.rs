//! The window's log panel: the last lines of what the app did, kept in memory and also sent to
//! `tracing` (the log file). Callers pass words only, never a secret.

use std::collections::VecDeque;

/// How serious a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

/// One line of the log panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub at: String,
    pub level: LogLevel,
    pub text: String,
    /// How many times in a row the line was logged.
    pub repeated: u32,
}

/// The most recent lines, oldest first.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
}

/// Lines kept in the panel; older ones are only in the log file.
pub const MAX_LOG_LINES: usize = 500;

impl LogBuffer {
    pub fn push(&mut self, level: LogLevel, text: impl Into<String>) {
        // Lines quote company names and server messages: nothing in them may act on a screen.
        let text = crate::domain::printable::printable(&text.into()).into_owned();
        match level {
            LogLevel::Info => tracing::info!(target: "window", "{text}"),
            LogLevel::Warn => tracing::warn!(target: "window", "{text}"),
            LogLevel::Error => tracing::error!(target: "window", "{text}"),
        }
        let at = chrono::Local::now().format("%H:%M:%S").to_string();
        // The same line again is counted on the line before, not repeated.
        if let Some(last) = self.lines.back_mut()
            && last.level == level
            && last.text == text
        {
            last.repeated += 1;
            last.at = at;
            return;
        }
        if self.lines.len() == MAX_LOG_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(LogLine {
            at,
            level,
            text,
            repeated: 1,
        });
    }

    pub fn lines(&self) -> impl DoubleEndedIterator<Item = &LogLine> {
        self.lines.iter()
    }

    pub fn last(&self) -> Option<&LogLine> {
        self.lines.back()
    }
}

/// Draws the lines, newest at the bottom, following new lines.
pub fn log_ui(ui: &mut egui::Ui, log: &LogBuffer) {
    egui::ScrollArea::vertical()
        .id_salt("log_scroll")
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for line in log.lines() {
                let text = if line.repeated > 1 {
                    format!("{}  {} (×{})", line.at, line.text, line.repeated)
                } else {
                    format!("{}  {}", line.at, line.text)
                };
                match line.level {
                    LogLevel::Info => ui.monospace(text),
                    LogLevel::Warn => ui.colored_label(
                        ui.visuals().warn_fg_color,
                        egui::RichText::new(text).monospace(),
                    ),
                    LogLevel::Error => ui.colored_label(
                        ui.visuals().error_fg_color,
                        egui::RichText::new(text).monospace(),
                    ),
                };
            }
        });
}

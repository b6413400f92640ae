//! The step bar above the counts: Connect → Preview → Review → Send, each step saying where it
//! stands in a few words, so a newcomer sees the path and a regular sees what is left to do.

/// Where one step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// Not reached yet: an earlier step is not done.
    Waiting,
    /// The step to do now.
    Current,
    Done,
    /// Done once, but no longer true (a stale preview, a failed test).
    Problem,
}

/// One step: its name and what it found, in words ("40 companies, 10:32").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: &'static str,
    pub state: StepState,
    pub detail: String,
}

impl Step {
    /// The step as one line: "2 Preview done: 40 companies, 10:32" (in words, not only in
    /// colour).
    pub fn text(&self, number: usize) -> String {
        let mark = match self.state {
            StepState::Done => " done",
            StepState::Problem => " (!)",
            StepState::Waiting | StepState::Current => "",
        };
        if self.detail.is_empty() {
            format!("{number} {}{mark}", self.name)
        } else {
            format!("{number} {}{mark}: {}", self.name, self.detail)
        }
    }
}

/// What the steps are computed from: plain facts of the window's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepFacts {
    pub connectwise_ok: Option<bool>,
    pub synthesize_ok: Option<bool>,
    /// Companies in the table and when it was counted ("10:32"), when there is a table.
    pub preview: Option<(usize, String)>,
    pub preview_running: bool,
    /// Why the table may not be sent now.
    pub preview_blocked: Option<String>,
    pub changes: usize,
    pub held: usize,
    pub without_account: usize,
    pub selected: usize,
    /// The last real sync's outcome in words, when one ran since the preview.
    pub sent: Option<(String, bool)>,
    pub sending: bool,
}

/// The four steps for these facts.
pub fn steps(facts: &StepFacts) -> [Step; 4] {
    let connect = match (facts.connectwise_ok, facts.synthesize_ok) {
        (Some(true), Some(true)) => Step {
            name: "Connect",
            state: StepState::Done,
            detail: String::new(),
        },
        (Some(false), _) | (_, Some(false)) => Step {
            name: "Connect",
            state: StepState::Problem,
            detail: "a connection test failed".to_owned(),
        },
        (cw, syn) => Step {
            name: "Connect",
            state: StepState::Current,
            detail: match (cw, syn) {
                (Some(true), _) => "test Synthesize".to_owned(),
                (_, Some(true)) => "test ConnectWise".to_owned(),
                _ => "test both connections".to_owned(),
            },
        },
    };
    let preview = match (&facts.preview, &facts.preview_blocked) {
        _ if facts.preview_running => Step {
            name: "Preview",
            state: StepState::Current,
            detail: "counting…".to_owned(),
        },
        (Some((companies, when)), None) => Step {
            name: "Preview",
            state: StepState::Done,
            detail: format!("{companies} companies, {when}"),
        },
        (Some(_), Some(_)) => Step {
            name: "Preview",
            state: StepState::Problem,
            detail: "out of date or incomplete; preview again".to_owned(),
        },
        (None, _) => Step {
            name: "Preview",
            state: StepState::Current,
            detail: String::new(),
        },
    };
    let previewed = preview.state == StepState::Done;
    let review = Step {
        name: "Review",
        state: if previewed {
            if facts.sent.is_some() {
                StepState::Done
            } else {
                StepState::Current
            }
        } else {
            StepState::Waiting
        },
        detail: if previewed {
            format!(
                "{} changes, {} held, {} without account",
                facts.changes, facts.held, facts.without_account
            )
        } else {
            String::new()
        },
    };
    let send = match &facts.sent {
        _ if facts.sending => Step {
            name: "Send",
            state: StepState::Current,
            detail: "sending…".to_owned(),
        },
        Some((words, ok)) => Step {
            name: "Send",
            state: if *ok {
                StepState::Done
            } else {
                StepState::Problem
            },
            detail: words.clone(),
        },
        None => Step {
            name: "Send",
            state: if previewed {
                StepState::Current
            } else {
                StepState::Waiting
            },
            detail: if previewed {
                format!("{} selected", facts.selected)
            } else {
                String::new()
            },
        },
    };
    [connect, preview, review, send]
}

/// Draws the steps on one line (wrapping only when the window is too narrow for it).
pub fn show_step_bar(ui: &mut egui::Ui, facts: &StepFacts) {
    let steps = steps(facts);
    let ok = egui::Color32::from_rgb(0x2e, 0x9e, 0x4f);
    ui.horizontal(|ui| {
        for (index, step) in steps.iter().enumerate() {
            if index > 0 {
                ui.weak("→");
            }
            let text = egui::RichText::new(step.text(index + 1));
            let text = match step.state {
                StepState::Waiting => text.weak(),
                StepState::Current => text.strong().color(ui.visuals().strong_text_color()),
                StepState::Done => text.color(ok),
                StepState::Problem => text.strong().color(ui.visuals().warn_fg_color),
            };
            ui.add(egui::Label::new(text).wrap_mode(egui::TextWrapMode::Extend));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_window_starts_at_connect_and_preview() {
        let s = steps(&StepFacts::default());
        assert_eq!(s[0].state, StepState::Current);
        assert_eq!(s[0].text(1), "1 Connect: test both connections");
        assert_eq!(s[1].state, StepState::Current);
        assert_eq!(s[2].state, StepState::Waiting);
        assert_eq!(s[3].state, StepState::Waiting);
    }

    #[test]
    fn a_current_preview_opens_review_and_send_and_a_stale_one_says_so() {
        let mut facts = StepFacts {
            connectwise_ok: Some(true),
            synthesize_ok: Some(true),
            preview: Some((40, "10:32".to_owned())),
            changes: 12,
            held: 1,
            without_account: 5,
            selected: 39,
            ..StepFacts::default()
        };
        let s = steps(&facts);
        assert_eq!(s[0].text(1), "1 Connect done");
        assert_eq!(s[1].text(2), "2 Preview done: 40 companies, 10:32");
        assert_eq!(
            s[2].text(3),
            "3 Review: 12 changes, 1 held, 5 without account"
        );
        assert_eq!(s[3].text(4), "4 Send: 39 selected");
        facts.preview_blocked = Some("stale".to_owned());
        let s = steps(&facts);
        assert_eq!(s[1].state, StepState::Problem);
        assert_eq!(s[3].state, StepState::Waiting);
    }
}

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
    /// The detail in fewer words, for a window too narrow for every step's full line.
    pub brief: String,
}

impl Step {
    /// The step as one line: "2 Preview done: 40 companies, 10:32" (in words, not only in
    /// colour).
    pub fn text(&self, number: usize) -> String {
        self.line(number, &self.detail)
    }

    /// The step as a shorter line, its state still in words: "2 Preview done: 40 companies".
    pub fn brief_text(&self, number: usize) -> String {
        self.line(number, &self.brief)
    }

    fn line(&self, number: usize, detail: &str) -> String {
        let mark = match self.state {
            StepState::Done => " done",
            StepState::Problem => " (!)",
            StepState::Waiting | StepState::Current => "",
        };
        if detail.is_empty() {
            format!("{number} {}{mark}", self.name)
        } else {
            format!("{number} {}{mark}: {detail}", self.name)
        }
    }

    fn new(name: &'static str, state: StepState, detail: String, brief: String) -> Self {
        Self {
            name,
            state,
            detail,
            brief,
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
    use StepState::{Current, Done, Problem, Waiting};
    let same = |detail: &str| (detail.to_owned(), detail.to_owned());
    let (state, (detail, brief)) = match (facts.connectwise_ok, facts.synthesize_ok) {
        (Some(true), Some(true)) => (Done, same("")),
        (Some(false), _) | (_, Some(false)) => (
            Problem,
            ("a connection test failed".to_owned(), "failed".to_owned()),
        ),
        (Some(true), _) => (Current, same("test Synthesize")),
        (_, Some(true)) => (Current, same("test ConnectWise")),
        _ => (
            Current,
            ("test both connections".to_owned(), "test both".to_owned()),
        ),
    };
    let connect = Step::new("Connect", state, detail, brief);
    let (state, (detail, brief)) = match (&facts.preview, &facts.preview_blocked) {
        _ if facts.preview_running => (Current, same("counting…")),
        (Some((companies, when)), None) => (
            Done,
            (
                format!("{companies} companies, {when}"),
                format!("{companies} companies"),
            ),
        ),
        (Some(_), Some(_)) => (
            Problem,
            (
                "out of date or incomplete; preview again".to_owned(),
                "preview again".to_owned(),
            ),
        ),
        (None, _) => (Current, same("")),
    };
    let preview = Step::new("Preview", state, detail, brief);
    let previewed = preview.state == Done;
    let review = if previewed {
        Step::new(
            "Review",
            if facts.sent.is_some() { Done } else { Current },
            format!(
                "{} changes, {} held, {} without account",
                facts.changes, facts.held, facts.without_account
            ),
            format!(
                "{} changes, {} held, {} no account",
                facts.changes, facts.held, facts.without_account
            ),
        )
    } else {
        Step::new("Review", Waiting, String::new(), String::new())
    };
    let send = match &facts.sent {
        _ if facts.sending => Step::new("Send", Current, "sending…".into(), "sending…".into()),
        Some((words, ok)) => Step::new(
            "Send",
            if *ok { Done } else { Problem },
            words.clone(),
            words.clone(),
        ),
        None if previewed => {
            let (detail, brief) = same(&format!("{} selected", facts.selected));
            Step::new("Send", Current, detail, brief)
        }
        None => Step::new("Send", Waiting, String::new(), String::new()),
    };
    [connect, preview, review, send]
}

/// Draws the steps on one line; when the window is too narrow for every step's full words,
/// in their brief words, so the last step stays in sight down to the smallest window.
pub fn step_bar_ui(ui: &mut egui::Ui, facts: &StepFacts) {
    let steps = steps(facts);
    let ok = egui::Color32::from_rgb(0x2e, 0x9e, 0x4f);
    let full: Vec<String> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| s.text(i + 1))
        .collect();
    let font = egui::TextStyle::Body.resolve(ui.style());
    let spacing = ui.spacing().item_spacing.x;
    let arrow = ui
        .painter()
        .layout_no_wrap("→".to_owned(), font.clone(), egui::Color32::PLACEHOLDER)
        .size()
        .x;
    // Strong text is drawn in the same font here, so one measure serves every state.
    let needed: f32 = full
        .iter()
        .map(|t| {
            ui.painter()
                .layout_no_wrap(t.clone(), font.clone(), egui::Color32::PLACEHOLDER)
                .size()
                .x
        })
        .sum::<f32>()
        + (arrow + 2.0 * spacing) * 3.0;
    let brief = needed > ui.available_width();
    ui.horizontal(|ui| {
        for (index, step) in steps.iter().enumerate() {
            if index > 0 {
                ui.weak("→");
            }
            let words = if brief {
                step.brief_text(index + 1)
            } else {
                full[index].clone()
            };
            let text = egui::RichText::new(words);
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
        assert_eq!(s[1].brief_text(2), "2 Preview done: 40 companies");
        assert_eq!(
            s[2].brief_text(3),
            "3 Review: 12 changes, 1 held, 5 no account"
        );
        facts.preview_blocked = Some("stale".to_owned());
        let s = steps(&facts);
        assert_eq!(s[1].state, StepState::Problem);
        assert_eq!(s[3].state, StepState::Waiting);
    }
}

//! Notifications after a headless sync: when one is due (a run that failed, was partly done or
//! was stopped by a safety check; after a success only when asked), and the JSON each kind of
//! webhook takes — Microsoft Teams (a Workflows webhook: an Adaptive Card), Slack (an incoming
//! webhook: text), or the product's own generic payload, documented in the README.
//!
//! The webhook URL is a secret kept in the keychain; nothing here ever holds it.

use serde::{Deserialize, Serialize};

/// Which kind of webhook a profile posts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// The product's own JSON ([`RunNotice`] as it is).
    #[default]
    Json,
    /// A Microsoft Teams Workflows webhook ("post to a channel when a webhook request is
    /// received"): a message with one Adaptive Card.
    Teams,
    /// A Slack incoming webhook: `{"text": …}`.
    Slack,
}

impl WebhookKind {
    pub const ALL: [WebhookKind; 3] = [WebhookKind::Json, WebhookKind::Teams, WebhookKind::Slack];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::Json => "json",
            WebhookKind::Teams => "teams",
            WebhookKind::Slack => "slack",
        }
    }
}

impl std::str::FromStr for WebhookKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        WebhookKind::ALL
            .into_iter()
            .find(|k| k.as_str() == wanted)
            .ok_or_else(|| format!("\"{s}\" is not one of json, teams, slack"))
    }
}

/// A profile's notification settings (the URL itself is in the keychain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifySettings {
    pub kind: WebhookKind,
    /// Also notify after every run that went well.
    pub on_success: bool,
}

/// How a run ended, as a notification says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeOutcome {
    /// Exit 0.
    Done,
    /// Exit 3: some rows failed, the rest were sent.
    Partial,
    /// Exit 1: the drop guard or the completeness check stopped the run; nothing was sent.
    StoppedBySafetyCheck,
    /// Exit 1 or 2: the run failed (or could not start).
    Failed,
    /// `profile notify NAME --test`.
    Test,
}

impl NoticeOutcome {
    /// Whether a run that ended so is notified.
    pub fn is_due(self, settings: &NotifySettings) -> bool {
        match self {
            NoticeOutcome::Done => settings.on_success,
            NoticeOutcome::Partial
            | NoticeOutcome::StoppedBySafetyCheck
            | NoticeOutcome::Failed
            | NoticeOutcome::Test => true,
        }
    }

    fn words(self) -> &'static str {
        match self {
            NoticeOutcome::Done => "done",
            NoticeOutcome::Partial => "PARTLY DONE",
            NoticeOutcome::StoppedBySafetyCheck => "STOPPED by a safety check",
            NoticeOutcome::Failed => "FAILED",
            NoticeOutcome::Test => "test notification",
        }
    }
}

/// The run's counts, from its journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NoticeFigures {
    pub sent: u64,
    pub held: u64,
    pub unmapped: u64,
    pub failed: u64,
}

/// The tenant a run was for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeTenant {
    pub profile: String,
    pub connectwise_site: String,
    pub connectwise_company_id: String,
    pub synthesize_url: String,
}

/// Everything a notification says: the generic JSON payload as it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunNotice {
    /// Always `cw-shared-devices`.
    pub product: String,
    pub version: String,
    /// The subcommand: `sync`, `sync-usage`, …
    pub command: String,
    pub tenant: NoticeTenant,
    pub outcome: NoticeOutcome,
    pub exit_status: u8,
    /// What went wrong, in the product's words (none after a success).
    pub message: Option<String>,
    /// The run's counts; none when the run stopped before sending.
    pub figures: Option<NoticeFigures>,
    pub run_id: Option<String>,
    /// The run report (HTML) on the machine that ran it.
    pub report: Option<String>,
    /// RFC 3339, UTC.
    pub finished_at: String,
}

impl RunNotice {
    /// One line: `cw-shared-devices: sync of "Acme" PARTLY DONE (exit 3)`.
    pub fn title(&self) -> String {
        format!(
            "cw-shared-devices: {} of \"{}\" {} (exit {})",
            self.command,
            self.tenant.profile,
            self.outcome.words(),
            self.exit_status
        )
    }

    /// The figures, the message and the report, one per line.
    pub fn detail_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(f) = &self.figures {
            lines.push(format!(
                "Sent {}, held {}, unmapped {}, failed {}",
                f.sent, f.held, f.unmapped, f.failed
            ));
        }
        if let Some(message) = &self.message {
            lines.push(message.clone());
        }
        lines.push(format!(
            "Tenant: ConnectWise {} company {}, Synthesize {}",
            self.tenant.connectwise_site,
            self.tenant.connectwise_company_id,
            self.tenant.synthesize_url
        ));
        if let Some(report) = &self.report {
            lines.push(format!("Report: {report}"));
        }
        lines
    }

    /// The JSON body for a webhook of `kind`.
    pub fn payload(&self, kind: WebhookKind) -> serde_json::Value {
        match kind {
            WebhookKind::Json => serde_json::to_value(self).unwrap_or_default(),
            WebhookKind::Slack => {
                let mut text = format!("*{}*", self.title());
                for line in self.detail_lines() {
                    text.push('\n');
                    text.push_str(&line);
                }
                serde_json::json!({ "text": text })
            }
            WebhookKind::Teams => {
                let mut body = vec![serde_json::json!({
                    "type": "TextBlock", "text": self.title(), "weight": "Bolder", "wrap": true,
                })];
                body.extend(self.detail_lines().into_iter().map(
                    |line| serde_json::json!({ "type": "TextBlock", "text": line, "wrap": true }),
                ));
                serde_json::json!({
                    "type": "message",
                    "attachments": [{
                        "contentType": "application/vnd.microsoft.card.adaptive",
                        "content": {
                            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                            "type": "AdaptiveCard",
                            "version": "1.4",
                            "body": body,
                        },
                    }],
                })
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn notice(outcome: NoticeOutcome) -> RunNotice {
        RunNotice {
            product: "cw-shared-devices".into(),
            version: "0.1.0".into(),
            command: "sync".into(),
            tenant: NoticeTenant {
                profile: "Acme".into(),
                connectwise_site: "na.myconnectwise.net".into(),
                connectwise_company_id: "acme".into(),
                synthesize_url: "https://app.usegradient.com".into(),
            },
            outcome,
            exit_status: 3,
            message: Some("2 counts failed".into()),
            figures: Some(NoticeFigures {
                sent: 10,
                held: 1,
                unmapped: 0,
                failed: 2,
            }),
            run_id: Some("r1".into()),
            report: Some("/home/a/r1.html".into()),
            finished_at: "2026-12-02T05:00:00Z".into(),
        }
    }

    #[test]
    fn only_bad_runs_are_due_unless_success_is_asked_for() {
        let quiet = NotifySettings::default();
        let loud = NotifySettings {
            on_success: true,
            ..NotifySettings::default()
        };
        assert!(!NoticeOutcome::Done.is_due(&quiet));
        assert!(NoticeOutcome::Done.is_due(&loud));
        for outcome in [
            NoticeOutcome::Partial,
            NoticeOutcome::StoppedBySafetyCheck,
            NoticeOutcome::Failed,
        ] {
            assert!(outcome.is_due(&quiet), "{outcome:?}");
        }
    }

    #[test]
    fn each_kind_carries_tenant_outcome_figures_and_report() {
        let n = notice(NoticeOutcome::Partial);
        let json = n.payload(WebhookKind::Json);
        assert_eq!(json["outcome"], "partial");
        assert_eq!(json["figures"]["failed"], 2);
        assert_eq!(json["tenant"]["profile"], "Acme");
        assert_eq!(json["report"], "/home/a/r1.html");
        let slack = n.payload(WebhookKind::Slack)["text"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(slack.starts_with("*cw-shared-devices: sync of \"Acme\" PARTLY DONE (exit 3)*\n"));
        assert!(
            slack.contains("Sent 10, held 1, unmapped 0, failed 2"),
            "{slack}"
        );
        assert!(slack.contains("Report: /home/a/r1.html"), "{slack}");
        let teams = n.payload(WebhookKind::Teams);
        let card = &teams["attachments"][0];
        assert_eq!(
            card["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let texts: Vec<&str> = card["content"]["body"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["text"].as_str().unwrap())
            .collect();
        assert!(texts[0].contains("PARTLY DONE"), "{texts:?}");
        assert!(texts.contains(&"Report: /home/a/r1.html"), "{texts:?}");
        assert_eq!("Teams".parse::<WebhookKind>().unwrap(), WebhookKind::Teams);
        assert!("email".parse::<WebhookKind>().is_err());
    }
}

//! The sync subcommands: authenticate, sync-services, sync-accounts, sync-usage, sync and
//! update-status.

use std::io::Write as _;

use tokio_util::sync::CancellationToken;

use super::{CliError, Outcome, progress};
use crate::domain::printable::printable;
use crate::domain::sync_plan::PlannedCount;
use crate::engine::settings::RunSettings as Resolved;
use crate::engine::sync::{
    PlannedSync, SyncReport, SyncRequest, SyncSession, SyncSteps, SyncUpdate,
};
use crate::engine::{self, ConnectionStep, IntegrationStatus, PreviewRequest, TransportError};
use crate::storage::journal::CountOutcome;

/// Prints lines of text on stdout, each cleaned of anything a terminal would act on: they
/// quote company names and server messages.
fn print_stdout(text: &str) -> Result<(), CliError> {
    let cleaned: String = text
        .split_inclusive('\n')
        .map(|line| match line.strip_suffix('\n') {
            Some(line) => format!("{}\n", printable(line)),
            None => printable(line).into_owned(),
        })
        .collect();
    let mut out = std::io::stdout().lock();
    out.write_all(cleaned.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Failed(format!("could not write the result: {e}")))
}

fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Failed(format!("could not write the result: {e}")))?;
    print_stdout(&format!("{text}\n"))
}

/// `authenticate`: both sides' credentials, each reported.
pub async fn authenticate(
    resolved: &Resolved,
    cancel: &CancellationToken,
) -> Result<Outcome, CliError> {
    let (report, integration) = engine::connection::test_both(
        &resolved.connectwise_settings()?,
        &resolved.synthesize_settings()?,
        cancel,
    )
    .await?;
    let mut ok = true;
    match &report.failed {
        None => {
            let api = report
                .discovery
                .as_ref()
                .map(|d| d.api_base.to_string())
                .unwrap_or_default();
            let version = report.version.clone().unwrap_or_default();
            print_stdout(&format!("ConnectWise: OK ({api}, version {version})\n"))?;
        }
        Some((_, TransportError::Cancelled)) => {
            return Err(CliError::Cancelled);
        }
        Some((step, e)) => {
            ok = false;
            let step = match step {
                ConnectionStep::CompanyInfo => "company lookup",
                ConnectionStep::Authenticate => "sign-in",
            };
            print_stdout(&format!("ConnectWise: FAILED at {step}: {e}\n"))?;
        }
    }
    match integration {
        Ok(integration) => print_stdout(&format!(
            "Synthesize: OK (integration {})\n",
            integration.describe()
        ))?,
        Err(engine::EngineError::Cancelled) => return Err(CliError::Cancelled),
        Err(e) => {
            ok = false;
            print_stdout(&format!("Synthesize: FAILED: {e}\n"))?;
        }
    }
    Ok(if ok { Outcome::Done } else { Outcome::Failed })
}

/// `update-status STATUS`.
pub async fn update_status(
    resolved: &Resolved,
    status: &str,
    cancel: &CancellationToken,
) -> Result<Outcome, CliError> {
    let status: IntegrationStatus = status
        .parse()
        .map_err(|e: String| CliError::Config(format!("STATUS: {e}")))?;
    engine::status::set_status(&resolved.synthesize_settings()?, status, cancel).await?;
    print_stdout(&format!("Integration status set to {status}\n"))?;
    Ok(Outcome::Done)
}

fn outcome_word(outcome: &CountOutcome) -> String {
    match outcome {
        CountOutcome::Sent => "sent".to_owned(),
        CountOutcome::Unmapped { message } => format!(
            "unmapped ({message}): the partner must map this account and service in Synthesize"
        ),
        CountOutcome::Failed { reason } => format!("FAILED: {reason}"),
    }
}

fn count_line(count: &PlannedCount) -> String {
    let previous = count
        .previous
        .map(|p| format!(" (was {p})"))
        .unwrap_or_default();
    format!(
        "{} {} — {}: {}{previous}",
        count.company_id,
        printable(&count.company_name),
        count.service.service_name(),
        count.unit_count
    )
}

/// `sync-services`, `sync-accounts`, `sync-usage`, `sync`.
pub async fn sync(
    resolved: &Resolved,
    steps: SyncSteps,
    dry_run: bool,
    json: bool,
    cancel: &CancellationToken,
) -> Result<Outcome, CliError> {
    let synthesize = resolved.synthesize_settings()?;
    // Services need no counts; accounts and usage need the preview first.
    let (counts, rule_text) = if steps.accounts || steps.usage {
        let request = PreviewRequest {
            connectwise: resolved.connectwise_settings()?,
            counting: resolved.counting.clone(),
        };
        let bar = progress::FetchBar::new();
        let report = |p| bar.update(p);
        let preview = engine::run_preview(&request, &report, cancel).await;
        bar.finish(preview.is_ok());
        let preview = preview?;
        for warning in preview.counts.skipped.warnings() {
            eprintln!("warning: {}", printable(&warning));
        }
        (preview.counts.companies, preview.rule_text)
    } else {
        (Vec::new(), String::new())
    };
    let journal = resolved.journal()?;
    let last_sent = journal
        .as_ref()
        .map(|j| j.last_sent())
        .transpose()
        .map_err(|e| CliError::Failed(format!("could not read the sync history: {e}")))?
        .unwrap_or_default();
    let request = SyncRequest {
        synthesize,
        counts,
        selection: None,
        options: resolved.sync.clone(),
        steps,
        profile_name: resolved.journal_name(),
        rule_text,
        revert: false,
    };
    let session = SyncSession::new(&request.synthesize)?;
    let planned = session.plan(&request, &last_sent, cancel).await?;
    eprintln!("Plan: {}", printable(&planned.plan.summary()));
    for warning in planned.warnings() {
        eprintln!("warning: {}", printable(&warning));
    }
    if dry_run {
        print_dry_run(&planned, json)?;
        return Ok(Outcome::Done);
    }
    let bar = progress::SyncBar::new(planned.plan.counts.len());
    let on_update = |update: SyncUpdate| match update {
        SyncUpdate::Progress(p) => bar.update(p),
        SyncUpdate::Item(_) => {}
        SyncUpdate::StepFailed { step, reason } => {
            eprintln!("error: {step}: {}", printable(&reason));
        }
    };
    let report = session
        .execute(&planned, &request, journal.as_ref(), &on_update, cancel)
        .await;
    bar.finish();
    print_report(&report, json)?;
    Ok(if report.cancelled {
        Outcome::Failed
    } else if report.has_failures() {
        if report.sent_anything() {
            Outcome::Partial
        } else {
            Outcome::Failed
        }
    } else {
        Outcome::Done
    })
}

/// What a dry run would do, as text or JSON.
fn print_dry_run(planned: &PlannedSync, json: bool) -> Result<(), CliError> {
    if json {
        print_json(&serde_json::json!({
            "dry_run": true,
            "services_to_create": planned.plan.services_to_create.iter().map(|s| &s.name).collect::<Vec<_>>(),
            "accounts_to_create": planned.plan.accounts_to_create.iter().map(|a| serde_json::json!({"id": a.id, "name": a.name})).collect::<Vec<_>>(),
            "counts": planned.plan.counts.iter().map(|c| serde_json::json!({
                "company_id": c.company_id, "company_name": c.company_name,
                "service": c.service.service_name(), "unit_count": c.unit_count, "previous": c.previous,
            })).collect::<Vec<_>>(),
        }))?;
    } else {
        let mut text = String::from("Dry run: nothing was sent. It would:\n");
        for s in &planned.plan.services_to_create {
            text.push_str(&format!("  create service \"{}\"\n", s.name));
        }
        for a in &planned.plan.accounts_to_create {
            text.push_str(&format!(
                "  create account {} {}\n",
                printable(&a.id),
                printable(&a.name)
            ));
        }
        for c in &planned.plan.counts {
            text.push_str(&format!("  post {}\n", count_line(c)));
        }
        print_stdout(&text)?;
    }
    Ok(())
}

/// How the sync went: the rows that were not sent and the summary, as text or JSON.
fn print_report(report: &SyncReport, json: bool) -> Result<(), CliError> {
    let p = report.progress;
    if json {
        print_json(&serde_json::json!({
            "run_id": report.run_id,
            "services_created": p.services_created,
            "accounts_created": p.accounts_created,
            "sent": p.sent, "unmapped": p.unmapped, "failed": p.failed,
            "cancelled": report.cancelled,
            "step_failures": report.step_failures,
            "results": report.items.iter().map(|i| serde_json::json!({
                "company_id": i.count.company_id, "company_name": i.count.company_name,
                "service": i.count.service.service_name(), "unit_count": i.count.unit_count,
                "outcome": i.outcome,
            })).collect::<Vec<_>>(),
        }))?;
    } else {
        let mut text = String::new();
        let mut items: Vec<_> = report
            .items
            .iter()
            .filter(|i| !matches!(i.outcome, CountOutcome::Sent))
            .collect();
        items.sort_by_key(|i| (i.count.company_id, i.count.service));
        for item in items {
            text.push_str(&format!(
                "{}: {}\n",
                count_line(&item.count),
                outcome_word(&item.outcome)
            ));
        }
        text.push_str(&format!(
            "Services created: {}, accounts created: {}, counts sent: {}, unmapped: {}, failed: {}{}\n",
            p.services_created,
            p.accounts_created,
            p.sent,
            p.unmapped,
            p.failed,
            if report.cancelled { " (cancelled)" } else { "" }
        ));
        print_stdout(&text)?;
    }
    Ok(())
}

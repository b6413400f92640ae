//! The sync subcommands: authenticate, sync-services, sync-accounts, sync-usage, sync and
//! update-status.

use std::io::Write as _;

use tokio_util::sync::CancellationToken;

use super::{CliError, Outcome, progress};
use crate::domain::printable::printable;
use crate::domain::sync_plan::{NO_ACCOUNT_YET, PlannedCount};
use crate::engine::settings::RunSettings as Resolved;
use crate::engine::sync::{PlannedSync, SyncReport, SyncSession, SyncSteps, SyncUpdate};
use crate::engine::tenants::TenantOutcome;
use crate::engine::{self, ConnectionStep, IntegrationStatus, TransportError};
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

/// What a sync run was asked for beside its steps.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncFlags {
    pub dry_run: bool,
    pub json: bool,
    pub accept_incomplete: bool,
    pub allow_large_drop: bool,
}

/// `sync-services`, `sync-accounts`, `sync-usage`, `sync`.
///
/// Nothing is sent that a complete preview of the same tenant did not show: the tenant is
/// named first (ConnectWise site and company, Synthesize organization) and locked for the run;
/// the preview runs afresh and must prove its completeness; its history must be readable and
/// writable; and a large drop against the counts last sent needs `--allow-large-drop`.
pub async fn sync(
    resolved: &Resolved,
    steps: SyncSteps,
    flags: SyncFlags,
    cancel: &CancellationToken,
) -> Result<Outcome, CliError> {
    let synthesize = resolved.synthesize_settings()?;
    let session = SyncSession::new(&synthesize)?;
    let tenant = session
        .name_tenant(&resolved.tenant_place(), cancel)
        .await?;
    let _lock = engine::tenant::lock_tenant(&resolved.dirs, &tenant).await?;
    let history = engine::tenant::TenantHistory::read(&resolved.dirs, tenant)?;
    // Services need no counts; accounts and usage need the preview first.
    let preview = if steps.accounts || steps.usage {
        Some(preview_for_sync(resolved, cancel).await?)
    } else {
        None
    };
    if let Some(report) = history.readout.unreadable_report() {
        eprintln!("warning: {}", printable(&report));
    }
    let mut request = resolved.sync_request(synthesize, steps, preview);
    request.guard.accept_incomplete = flags.accept_incomplete;
    request.guard.allow_large_drop = flags.allow_large_drop;
    let planned = session
        .plan_for_tenant(&mut request, &history, cancel)
        .await?;
    print_plan(&planned);
    if flags.dry_run {
        if let Some(refusal) = planned.refusal(&request.guard) {
            eprintln!("warning: {}", printable(&refusal));
        }
        match engine::sync::journal_dry_run(&planned, &request, &history.journal) {
            Ok(run_id) => print_report_path(resolved, &history.journal, &run_id),
            Err(e) => eprintln!(
                "warning: the dry run could not be recorded in the history, so it has no run report: {}",
                printable(&e.to_string())
            ),
        }
        print_dry_run(&planned, flags.json)?;
        return Ok(Outcome::Done);
    }
    if let Some(refusal) = planned.refusal(&request.guard) {
        return Err(CliError::SafetyStop(refusal));
    }
    let journal = &history.journal;
    journal
        .open_for_run()
        .map_err(|e| CliError::Failed(format!("{e}; nothing was sent")))?;
    let bar = progress::SyncBar::new(planned.plan.counts.len());
    let on_update = |update: SyncUpdate| match update {
        SyncUpdate::Progress(p) => bar.update(p),
        SyncUpdate::Item(_) => {}
        SyncUpdate::StepFailed { step, reason } => {
            eprintln!("error: {step}: {}", printable(&reason));
        }
    };
    let report = session
        .execute(&planned, &request, Some(journal), &on_update, cancel)
        .await;
    bar.finish();
    print_report_path(resolved, journal, &report.run_id);
    print_report(&report, flags.json)?;
    // One reading of how a run ended, shared with --all-profiles and the window.
    Ok(match TenantOutcome::of_report(&report) {
        TenantOutcome::Done => Outcome::Done,
        TenantOutcome::Partial => Outcome::Partial,
        TenantOutcome::Configuration => Outcome::Usage,
        TenantOutcome::Failed | TenantOutcome::StoppedBySafetyCheck => Outcome::Failed,
    })
}

/// Writes the run's report (CSV and HTML) and says where on stderr; a report that cannot be
/// written is a warning (the run itself is in the history, and `report` can write it again).
fn print_report_path(resolved: &Resolved, journal: &crate::storage::Journal, run_id: &str) {
    match engine::report::write_report(&resolved.dirs, journal, run_id) {
        // A run stopped before its first line (its safety checks) recorded nothing to report.
        Err(crate::storage::ReportError::NoSuchRun(_)) => {}
        Ok(files) => eprintln!(
            "Run report: {} (CSV: {})",
            files.html.display(),
            files.csv.display()
        ),
        Err(e) => eprintln!(
            "warning: the run report could not be written: {}",
            printable(&e.to_string())
        ),
    }
}

/// The preview a sync sends from, run afresh, its warnings printed.
async fn preview_for_sync(
    resolved: &Resolved,
    cancel: &CancellationToken,
) -> Result<engine::PreviewOutcome, CliError> {
    let request = resolved.preview_request()?;
    let bar = progress::FetchBar::new();
    let report = |p| bar.update(p);
    let preview = engine::run_preview(&request, &report, cancel).await;
    bar.finish(preview.is_ok());
    let preview = preview?;
    for warning in preview.counts.skipped.warnings() {
        eprintln!("warning: {}", printable(&warning));
    }
    Ok(preview)
}

/// The plan on stderr: its summary, what is held and why, the counts waiting for an account,
/// and the other warnings.
fn print_plan(planned: &PlannedSync) {
    eprintln!("Plan: {}", printable(&planned.plan.summary()));
    for line in planned.held_lines() {
        eprintln!("held: {}", printable(&line));
    }
    for count in &planned.plan.awaiting_accounts {
        eprintln!("not sent: {}: {NO_ACCOUNT_YET}", count_line(count));
    }
    for excluded in &planned.plan.excluded {
        eprintln!(
            "excluded: company {} {}: {} (never posted nor zeroed)",
            excluded.company_id,
            printable(&excluded.company_name),
            printable(&excluded.reason)
        );
    }
    for adjusted in &planned.plan.adjusted {
        eprintln!(
            "override: company {} {} — {}: {}",
            adjusted.company_id,
            printable(&adjusted.company_name),
            adjusted.service.service_name(),
            printable(&adjusted.describe())
        );
    }
    if !planned.plan.last_count_unknown.is_empty() {
        let ids: Vec<String> = planned
            .plan
            .last_count_unknown
            .iter()
            .map(i64::to_string)
            .collect();
        eprintln!(
            "warning: last counts unknown (history lines could not be read) for companies {}",
            ids.join(", ")
        );
    }
    for warning in planned
        .plan
        .warnings
        .iter()
        .cloned()
        .chain(planned.warnings())
    {
        eprintln!("warning: {}", printable(&warning));
    }
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
            "held": planned.plan.held.iter().map(|h| serde_json::json!({
                "company_id": h.company_id, "reason": h.reason(),
            })).collect::<Vec<_>>(),
            "awaiting_accounts": planned.plan.awaiting_accounts.iter().map(|c| serde_json::json!({
                "company_id": c.company_id, "company_name": c.company_name,
                "service": c.service.service_name(), "unit_count": c.unit_count,
                "reason": NO_ACCOUNT_YET,
            })).collect::<Vec<_>>(),
            "excluded": planned.plan.excluded.iter().map(|e| serde_json::json!({
                "company_id": e.company_id, "company_name": e.company_name, "reason": e.reason,
            })).collect::<Vec<_>>(),
            "overridden": planned.plan.adjusted.iter().map(|a| serde_json::json!({
                "company_id": a.company_id, "company_name": a.company_name,
                "service": a.service.service_name(), "computed": a.computed,
                "override": a.applied.kind.to_string(), "until": a.applied.until,
                "reason": a.applied.reason, "final": a.final_count, "clamped": a.clamped,
            })).collect::<Vec<_>>(),
            "incomplete": planned.incomplete,
            "large_drop": planned.drop_check.message(),
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
    // In company and service order, not the order the concurrent posts finished in, so two runs
    // that did the same print the same.
    let mut in_order: Vec<_> = report.items.iter().collect();
    in_order.sort_by_key(|i| (i.count.company_id, i.count.service));
    if json {
        print_json(&serde_json::json!({
            "run_id": report.run_id,
            "services_created": p.services_created,
            "accounts_created": p.accounts_created,
            "sent": p.sent, "unmapped": p.unmapped, "failed": p.failed,
            "cancelled": report.cancelled,
            "step_failures": report.step_failures,
            "results": in_order.iter().map(|i| serde_json::json!({
                "company_id": i.count.company_id, "company_name": i.count.company_name,
                "service": i.count.service.service_name(), "unit_count": i.count.unit_count,
                "outcome": i.outcome,
            })).collect::<Vec<_>>(),
        }))?;
    } else {
        let mut text = String::new();
        let not_sent = in_order
            .iter()
            .filter(|i| !matches!(i.outcome, CountOutcome::Sent));
        for item in not_sent {
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

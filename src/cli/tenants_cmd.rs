//! Runs of `preview`, `sync` and `sync-usage` (and the other sync steps) for one tenant or
//! several: each tenant goes through the very path a single-profile run takes (its own
//! settings, journal, lock and safety checks), one after another; one tenant's failure never
//! stops the next. With several, a summary table ends the run and the exit status is the worst
//! of theirs. After each sync the profile's webhook is notified when the run failed, was partly
//! done or was stopped by a safety check (after a success only when the profile asks); a
//! notification that fails is logged and changes nothing.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::args::{GlobalArgs, PreviewArgs};
use super::settings::{app_dirs, sources};
use super::sync_cmd::{self, SyncFlags};
use super::{CliError, Outcome, print_error};
use crate::domain::notify::{NoticeFigures, NoticeOutcome, NotifySettings, WebhookKind};
use crate::domain::printable::printable;
use crate::engine::notify::send_notice;
use crate::engine::settings::{self, RunSettings};
use crate::engine::sync::SyncSteps;
use crate::engine::tenants::{self, NoticeContext};
use crate::logging;
use crate::storage::secrets::KeychainStore;
use crate::storage::{ProfileStore, Secret, SecretStore};

/// Which tenants a run is for.
enum Tenants {
    /// `--profile NAME`, or none (the six environment variables): the run as it always was.
    One(Option<String>),
    /// `--all-profiles` or `--profiles A,B`: each in turn, then the summary.
    Several(Vec<String>),
}

fn tenants(global: &GlobalArgs) -> Result<Tenants, CliError> {
    let listed = &global.tenants.profiles;
    match (
        &global.profile,
        global.tenants.all_profiles,
        listed.is_empty(),
    ) {
        (_, true, false) => Err(CliError::Config(
            "--all-profiles and --profiles: give one or the other".into(),
        )),
        (Some(_), true, _) | (Some(_), _, false) => Err(CliError::Config(
            "--profile and --all-profiles/--profiles: give one or the other".into(),
        )),
        (profile, false, true) => Ok(Tenants::One(profile.clone())),
        (None, true, true) => {
            let list = ProfileStore::new(&app_dirs()?)
                .list()
                .map_err(|e| CliError::Config(e.to_string()))?;
            for problem in &list.problems {
                eprintln!("warning: {}", printable(&problem.message));
            }
            let names: Vec<String> = list.names().into_iter().map(str::to_owned).collect();
            if names.is_empty() {
                return Err(CliError::Config(
                    "--all-profiles: there are no profiles yet; create one with `cw-shared-devices profile create NAME`".into(),
                ));
            }
            Ok(Tenants::Several(names))
        }
        (None, false, false) => {
            let mut names: Vec<String> = Vec::new();
            for name in listed.iter().map(|n| n.trim()) {
                if name.is_empty() {
                    return Err(CliError::Config(
                        "--profiles: an empty name; give names separated by commas, e.g. --profiles \"Acme,Globex\"".into(),
                    ));
                }
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            }
            Ok(Tenants::Several(names))
        }
    }
}

/// How one tenant's run ended, for the summary and the notification.
struct TenantRun {
    name: String,
    outcome: Outcome,
    notice: NoticeOutcome,
    figures: Option<NoticeFigures>,
}

/// Worst first: a failure, then a configuration error, then partly done, then done.
fn severity(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Done => 0,
        Outcome::Partial => 1,
        Outcome::Usage => 2,
        Outcome::Failed => 3,
    }
}

/// `preview` for the tenants the flags name.
pub async fn preview(
    global: &GlobalArgs,
    args: &PreviewArgs,
    cancel: &CancellationToken,
) -> Result<Outcome, CliError> {
    match tenants(global)? {
        Tenants::One(profile) => {
            let resolved = resolve(global, profile.as_deref())?;
            super::preview(&resolved, args, cancel).await
        }
        Tenants::Several(names) => {
            refuse_shared_output(args.json, args.csv.is_some())?;
            let mut runs = Vec::new();
            for name in names {
                if cancel.is_cancelled() {
                    break;
                }
                eprintln!("== {}", printable(&name));
                let result = match resolve(global, Some(&name)) {
                    Ok(resolved) => super::preview(&resolved, args, cancel).await,
                    Err(e) => Err(e),
                };
                let outcome = result.unwrap_or_else(|e| {
                    print_error(&e);
                    e.outcome()
                });
                runs.push(TenantRun {
                    name,
                    outcome,
                    notice: notice_outcome(outcome, false),
                    figures: None,
                });
            }
            Ok(summarise(&runs))
        }
    }
}

/// The sync steps for the tenants the flags name, each notified as its profile asks.
pub async fn sync(
    global: &GlobalArgs,
    command: &'static str,
    steps: SyncSteps,
    flags: SyncFlags,
    cancel: &CancellationToken,
) -> Result<Outcome, CliError> {
    match tenants(global)? {
        Tenants::One(profile) => {
            Ok(
                sync_tenant(global, profile.as_deref(), command, steps, flags, cancel)
                    .await
                    .outcome,
            )
        }
        Tenants::Several(names) => {
            refuse_shared_output(flags.json, false)?;
            let mut runs = Vec::new();
            for name in names {
                if cancel.is_cancelled() {
                    break;
                }
                eprintln!("== {}", printable(&name));
                runs.push(sync_tenant(global, Some(&name), command, steps, flags, cancel).await);
            }
            Ok(summarise(&runs))
        }
    }
}

fn refuse_shared_output(json: bool, csv: bool) -> Result<(), CliError> {
    if json {
        return Err(CliError::Config(
            "--json: with several profiles the results would run together on standard output; run each profile on its own for JSON".into(),
        ));
    }
    if csv {
        return Err(CliError::Config(
            "--csv: with several profiles each would overwrite the same file; run each profile's preview on its own".into(),
        ));
    }
    Ok(())
}

fn resolve(global: &GlobalArgs, profile: Option<&str>) -> Result<RunSettings, CliError> {
    let mut sources = sources(global);
    sources.profile = profile.map(str::to_owned);
    Ok(settings::resolve(&sources)?)
}

fn notice_outcome(outcome: Outcome, safety_stop: bool) -> NoticeOutcome {
    match outcome {
        Outcome::Done => NoticeOutcome::Done,
        Outcome::Partial => NoticeOutcome::Partial,
        Outcome::Failed if safety_stop => NoticeOutcome::StoppedBySafetyCheck,
        Outcome::Failed | Outcome::Usage => NoticeOutcome::Failed,
    }
}

/// One tenant's sync: the single-profile path as it is, its error printed here, then the
/// notification.
async fn sync_tenant(
    global: &GlobalArgs,
    profile: Option<&str>,
    command: &'static str,
    steps: SyncSteps,
    flags: SyncFlags,
    cancel: &CancellationToken,
) -> TenantRun {
    let (result, resolved, before) = match resolve(global, profile) {
        Ok(resolved) => {
            let before = tenants::journaled_runs(&resolved);
            (
                sync_cmd::sync(&resolved, steps, flags, cancel).await,
                Some(resolved),
                before,
            )
        }
        Err(e) => (Err(e), None, BTreeSet::new()),
    };
    let (outcome, message, safety_stop) = match &result {
        Ok(outcome) => (*outcome, None, false),
        Err(e) => {
            print_error(e);
            (
                e.outcome(),
                Some(e.to_string()),
                matches!(e, CliError::SafetyStop(_)),
            )
        }
    };
    let notice = notice_outcome(outcome, safety_stop);
    let ran = resolved
        .as_ref()
        .and_then(|r| tenants::run_in_journal(r, &before));
    let figures = ran.as_ref().map(|r| r.figures);
    let name = profile.map_or_else(|| "(environment)".to_owned(), str::to_owned);
    if !flags.dry_run {
        let context = NoticeContext {
            profile,
            command,
            notice,
            exit_status: outcome.code(),
            message,
            ran: ran.as_ref(),
        };
        notify(resolved.as_ref(), &context).await;
    }
    TenantRun {
        name,
        outcome,
        notice,
        figures,
    }
}

/// The profile's notification settings and webhook URL (the environment's first), if a webhook
/// is set.
async fn webhook(
    profile: Option<&str>,
    resolved: Option<&RunSettings>,
) -> Option<(NotifySettings, Secret)> {
    let settings = resolved
        .and_then(|r| r.profile.as_ref())
        .map(|p| p.notify)
        .unwrap_or_default();
    let name = profile.map(str::to_owned);
    let stored = tokio::task::spawn_blocking(move || {
        tenants::webhook_url(name.as_deref(), || {
            let store = KeychainStore::open().map_err(|e| e.to_string())?;
            Ok(Arc::new(store) as Arc<dyn SecretStore>)
        })
    })
    .await;
    match stored {
        Ok(Ok(Some(url))) => Some((settings, url)),
        Ok(Ok(None)) => None,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "no notification: the keychain could not be read");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "no notification: the keychain lookup failed");
            None
        }
    }
}

/// Sends the notification when one is due; a failure is logged and printed as a warning.
async fn notify(resolved: Option<&RunSettings>, context: &NoticeContext<'_>) {
    let Some((settings, url)) = webhook(context.profile, resolved).await else {
        return;
    };
    let notice = tenants::run_notice(resolved, context);
    match tenants::notify_if_due(&notice, &settings, &url).await {
        Ok(false) => {}
        Ok(true) => {
            eprintln!("Notified the {} webhook.", kind_name(settings.kind));
            tracing::info!(target: logging::FILE_ONLY, outcome = ?notice.outcome, "notification sent");
        }
        Err(e) => {
            eprintln!(
                "warning: notification not sent: {}",
                printable(&e.to_string())
            );
            tracing::warn!(target: logging::FILE_ONLY, error = %e, "notification not sent");
        }
    }
}

/// Sends a test notification for `profile notify NAME --test`.
pub async fn test_notification(profile: &str, settings: NotifySettings) -> Result<(), CliError> {
    let (_, url) = webhook(Some(profile), None).await.ok_or_else(|| {
        CliError::Config(format!(
            "notify-webhook: \"{profile}\" has no webhook URL; store one with `cw-shared-devices profile set-secret '{profile}' notify-webhook`"
        ))
    })?;
    send_notice(
        &tenants::test_notice(profile),
        settings.kind,
        &url,
        &CancellationToken::new(),
    )
    .await
    .map_err(|e| CliError::Failed(e.to_string()))
}

fn kind_name(kind: WebhookKind) -> &'static str {
    match kind {
        WebhookKind::Json => "JSON",
        WebhookKind::Teams => "Teams",
        WebhookKind::Slack => "Slack",
    }
}

/// The table after several tenants (stdout) and the worst outcome.
fn summarise(runs: &[TenantRun]) -> Outcome {
    let width = runs
        .iter()
        .map(|r| unicode_width::UnicodeWidthStr::width(printable(&r.name).as_ref()))
        .chain([6])
        .max()
        .unwrap_or(6);
    let mut text = format!(
        "\n{:<width$}  {:<26}  {:>6}  {:>6}  {:>6}\n",
        "Tenant", "Outcome", "Sent", "Held", "Failed"
    );
    for run in runs {
        let name = printable(&run.name);
        let pad = width.saturating_sub(unicode_width::UnicodeWidthStr::width(name.as_ref()));
        let figure = |pick: fn(&NoticeFigures) -> u64| {
            run.figures
                .as_ref()
                .map_or_else(|| "-".to_owned(), |f| pick(f).to_string())
        };
        text.push_str(&format!(
            "{name}{}  {:<26}  {:>6}  {:>6}  {:>6}\n",
            " ".repeat(pad),
            outcome_words(run),
            figure(|f| f.sent),
            figure(|f| f.held),
            figure(|f| f.failed),
        ));
    }
    let worst = runs
        .iter()
        .map(|r| r.outcome)
        .max_by_key(|o| severity(*o))
        .unwrap_or(Outcome::Done);
    let failed = runs.iter().filter(|r| r.outcome != Outcome::Done).count();
    text.push_str(&format!(
        "{} tenant(s), {} not done; exit status {}\n",
        runs.len(),
        failed,
        worst.code()
    ));
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        eprintln!("error: could not write the summary: {e}");
    }
    worst
}

fn outcome_words(run: &TenantRun) -> String {
    let words = match run.notice {
        NoticeOutcome::Done => "done",
        NoticeOutcome::Partial => "partly done",
        NoticeOutcome::StoppedBySafetyCheck => "stopped by a safety check",
        NoticeOutcome::Failed if run.outcome == Outcome::Usage => "configuration error",
        NoticeOutcome::Failed | NoticeOutcome::Test => "failed",
    };
    format!("{words} (exit {})", run.outcome.code())
}

//! `profile notify NAME [--kind teams|slack|json] [--on-success|--failures-only] [--test]`: how
//! the profile's webhook is called after headless runs. The URL itself is a secret, stored with
//! `profile set-secret NAME notify-webhook`.

use super::args::ProfileNotifyArgs;
use super::settings::load_profile;
use super::{CliError, Outcome};
use crate::domain::notify::{NotifySettings, WebhookKind};
use crate::storage::{AppDirs, ProfileStore};

/// The settings in words, for `profile show`.
pub fn describe(settings: &NotifySettings) -> String {
    format!(
        "{} webhook, {}",
        settings.kind.as_str(),
        if settings.on_success {
            "after every run"
        } else {
            "after failed, partly done or stopped runs"
        }
    )
}

pub fn run(
    store: &ProfileStore,
    dirs: &AppDirs,
    args: &ProfileNotifyArgs,
) -> Result<Outcome, CliError> {
    let mut profile = load_profile(dirs, &args.name)?;
    let before = profile.notify;
    if let Some(kind) = &args.kind {
        profile.notify.kind = kind
            .parse::<WebhookKind>()
            .map_err(|e| CliError::Config(format!("--kind: {e}")))?;
    }
    if args.on_success {
        profile.notify.on_success = true;
    }
    if args.failures_only {
        profile.notify.on_success = false;
    }
    if profile.notify != before {
        store
            .save(&profile)
            .map_err(|e| CliError::Config(e.to_string()))?;
    }
    println!(
        "Notifications of \"{}\": {}.",
        profile.name,
        describe(&profile.notify)
    );
    if !args.test {
        return Ok(Outcome::Done);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("could not start: {e}")))?;
    runtime.block_on(super::tenants_cmd::test_notification(
        &profile.name,
        profile.notify,
    ))?;
    println!("Sent a test notification.");
    Ok(Outcome::Done)
}

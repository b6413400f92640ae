//! `profile list|show|notify|create|set-secret|delete`: profile management for machines without a window.

use std::io::Read as _;

use super::args::{
    GlobalArgs, ProfileClearOverrideArgs, ProfileCommand, ProfileCreateArgs, ProfileOverrideArgs,
};
use super::settings::{app_dirs, load_profile};
use super::{CliError, Outcome};
use crate::domain::adjustments::{
    AdjustmentChange, Override, parse_company_id, parse_override_kind, parse_reason, parse_service,
    parse_until,
};
use crate::domain::counting::{AssignmentField, AssignmentSource, CountingOptions, CountingRule};
use crate::domain::csv_export::CsvDelimiter;
use crate::domain::settings::{ConnectWiseSite, ZeroPolicy};
use crate::storage::secrets::{KeychainStore, SecretSlot, delete_secrets};
use crate::storage::{
    AppDirs, ChangeAuthor, Profile, ProfileError, ProfileStore, Secret, SecretStore,
};

/// Text cleaned line by line of anything a terminal would act on (reasons are typed by users).
fn printable_lines(text: &str) -> String {
    text.lines()
        .map(|l| format!("{}\n", crate::domain::printable::printable(l)))
        .collect()
}

fn config(e: impl std::fmt::Display) -> CliError {
    CliError::Config(e.to_string())
}

pub fn run(command: ProfileCommand, global: &GlobalArgs) -> Result<Outcome, CliError> {
    let dirs = app_dirs()?;
    let store = ProfileStore::new(&dirs);
    match command {
        ProfileCommand::List => {
            let list = store.list().map_err(config)?;
            for problem in &list.problems {
                eprintln!("warning: {}", problem.message);
            }
            for name in list.names() {
                println!("{name}");
            }
            Ok(Outcome::Done)
        }
        ProfileCommand::Show { name } => {
            let profile = load_profile(&dirs, &name)?;
            print!("{}", describe(&profile));
            print!("{}", printable_lines(&describe_adjustments(&profile)));
            let keychain = KeychainStore::open();
            for secret in SecretSlot::ALL {
                let state = match &keychain {
                    Err(_) => "unknown (the system keychain is not available)".to_owned(),
                    Ok(store) => match store.get_slot(&profile.name, secret) {
                        Ok(Some(_)) => "set".to_owned(),
                        Ok(None) => "unset".to_owned(),
                        Err(e) => format!("unknown ({e})"),
                    },
                };
                println!("{:<28} {state}", format!("{}:", secret.label()));
            }
            Ok(Outcome::Done)
        }
        ProfileCommand::Create(args) => {
            let profile = build_profile(&args, global)?;
            store.create(&profile).map_err(config)?;
            println!("Created profile \"{}\".", profile.name);
            println!(
                "Store its keys with: {}",
                super::settings::set_secret_from_file(&profile.name, "SECRET-NAME", "key-file")
            );
            Ok(Outcome::Done)
        }
        ProfileCommand::Notify(args) => super::notify_cmd::run(&store, &dirs, &args),
        ProfileCommand::SetSecret { name, secret } => {
            let secret_name: SecretSlot = secret.parse().map_err(config)?;
            let profile = load_profile(&dirs, &name)?;
            let mut value = String::new();
            std::io::stdin()
                .read_to_string(&mut value)
                .map_err(|e| CliError::Config(format!("could not read the key from stdin: {e}")))?;
            // A trailing newline from `echo` or a file is not part of the key.
            let value = value.trim_end_matches(['\r', '\n']).to_owned();
            if value.trim().is_empty() {
                return Err(CliError::Config(format!(
                    "{}: nothing was read from stdin; pipe the key in, e.g. `{}`",
                    secret_name.label(),
                    super::settings::set_secret_from_file(
                        &profile.name,
                        secret_name.as_str(),
                        "key.txt"
                    )
                )));
            }
            if secret_name == SecretSlot::NotifyWebhook {
                // Checked before it is stored; the message never repeats the URL.
                crate::engine::notify::check_webhook_url(&value).map_err(config)?;
            }
            let keychain = KeychainStore::open().map_err(config)?;
            keychain
                .set_slot(&profile.name, secret_name, &Secret::new(value))
                .map_err(config)?;
            println!(
                "Stored the {} of \"{}\" in the system keychain.",
                secret_name.label(),
                profile.name
            );
            Ok(Outcome::Done)
        }
        ProfileCommand::Delete { name } => {
            let profile = load_profile(&dirs, &name)?;
            store.delete(&profile.name).map_err(config)?;
            match KeychainStore::open() {
                Ok(keychain) => {
                    if let Err(e) = delete_secrets(&keychain, &profile.name) {
                        eprintln!(
                            "warning: the profile is deleted but its keys may remain in the keychain: {e}"
                        );
                    }
                }
                Err(e) => eprintln!(
                    "warning: the profile is deleted but its keys could not be removed: {e}"
                ),
            }
            println!("Deleted profile \"{}\".", profile.name);
            Ok(Outcome::Done)
        }
        command @ (ProfileCommand::Exclude(_)
        | ProfileCommand::Include(_)
        | ProfileCommand::ExcludeInactive(_)
        | ProfileCommand::Override(_)
        | ProfileCommand::ClearOverride(_)) => adjust(command, &dirs, &store, global),
    }
}

/// `profile exclude|include|exclude-inactive|override|clear-override`: the change saved in the profile, then
/// recorded in the history.
fn adjust(
    command: ProfileCommand,
    dirs: &AppDirs,
    store: &ProfileStore,
    global: &GlobalArgs,
) -> Result<Outcome, CliError> {
    match command {
        ProfileCommand::Exclude(args) => {
            let company_id = parse_company_id(&args.company_id).map_err(config)?;
            let reason = parse_reason(&args.reason).map_err(config)?;
            let profile = load_profile(dirs, &args.name)?;
            let change = store
                .exclude_company(&profile.name, company_id, &reason, &ChangeAuthor::current())
                .map_err(profile_error)?;
            println!(
                "Excluded company {company_id} from \"{}\": it is never posted nor zeroed ({reason}).",
                profile.name
            );
            record_change(dirs, &profile, global, &change)
        }
        ProfileCommand::Include(args) => {
            let company_id = parse_company_id(&args.company_id).map_err(config)?;
            let profile = load_profile(dirs, &args.name)?;
            let change = store
                .include_company(
                    &profile.name,
                    company_id,
                    &args.reason,
                    &ChangeAuthor::current(),
                )
                .map_err(profile_error)?;
            println!(
                "Included company {company_id} in \"{}\" again: its counts are posted from the next run.",
                profile.name
            );
            record_change(dirs, &profile, global, &change)
        }
        ProfileCommand::ExcludeInactive(args) => exclude_inactive(&args, dirs, store, global),
        ProfileCommand::Override(args) => {
            let new = parse_override(&args)?;
            let profile = load_profile(dirs, &args.name)?;
            let change = store
                .set_override(&profile.name, &new, &ChangeAuthor::current())
                .map_err(profile_error)?;
            println!(
                "Set the {} override of company {} in \"{}\": {}.",
                new.service.service_name(),
                new.company_id,
                profile.name,
                new.describe()
            );
            record_change(dirs, &profile, global, &change)
        }
        ProfileCommand::ClearOverride(args) => {
            let (company_id, service) = parse_clear(&args)?;
            let profile = load_profile(dirs, &args.name)?;
            let change = store
                .clear_override(
                    &profile.name,
                    company_id,
                    service,
                    &args.reason,
                    &ChangeAuthor::current(),
                )
                .map_err(profile_error)?;
            println!(
                "Cleared the {} override of company {company_id} in \"{}\": the computed count applies from the next run.",
                service.service_name(),
                profile.name
            );
            record_change(dirs, &profile, global, &change)
        }
        _ => Ok(Outcome::Usage),
    }
}

/// `profile exclude-inactive PROFILE on|off [--reason TEXT]`: the option saved in the profile,
/// then the change recorded in the history (nothing is recorded when it already was so).
fn exclude_inactive(
    args: &super::args::ProfileExcludeInactiveArgs,
    dirs: &AppDirs,
    store: &ProfileStore,
    global: &GlobalArgs,
) -> Result<Outcome, CliError> {
    let on = match args.state.trim().to_ascii_lowercase().as_str() {
        "on" => true,
        "off" => false,
        other => {
            return Err(CliError::Config(format!(
                "on|off: \"{other}\" is neither; write on (exclude companies whose ConnectWise status is marked inactive) or off"
            )));
        }
    };
    let profile = load_profile(dirs, &args.name)?;
    let change = store
        .set_exclude_inactive_companies(&profile.name, on, &args.reason, &ChangeAuthor::current())
        .map_err(profile_error)?;
    let Some(change) = change else {
        println!(
            "\"{}\" already {} companies whose ConnectWise status is marked inactive; nothing changed.",
            profile.name,
            if on { "excludes" } else { "bills" }
        );
        return Ok(Outcome::Done);
    };
    if on {
        println!(
            "\"{}\" now excludes companies whose ConnectWise status is marked inactive: each run reads the companies' statuses, and those marked inactive are never posted nor zeroed.",
            profile.name
        );
    } else {
        println!(
            "\"{}\" bills companies whatever their ConnectWise status from the next run.",
            profile.name
        );
    }
    record_change(dirs, &profile, global, &change)
}

/// A profile that cannot be changed as asked (nothing to include or clear, a bad field) is the
/// user's to fix (exit 2); a file that cannot be written is a failure (exit 1).
fn profile_error(e: ProfileError) -> CliError {
    match e {
        ProfileError::Io { .. } => CliError::Failed(e.to_string()),
        other => CliError::Config(other.to_string()),
    }
}

/// The override the command names, every field checked, with the field and the fix in the
/// error. The last day is judged against today, in local time.
fn parse_override(args: &ProfileOverrideArgs) -> Result<Override, CliError> {
    let company_id = parse_company_id(&args.company_id).map_err(config)?;
    let service = parse_service(&args.service).map_err(config)?;
    let kind = parse_override_kind(&args.count).map_err(config)?;
    let reason = parse_reason(&args.reason).map_err(config)?;
    let today = chrono::Local::now().date_naive();
    let until = args
        .until
        .as_deref()
        .map(|day| parse_until(day, today))
        .transpose()
        .map_err(config)?;
    Ok(Override {
        company_id,
        service,
        kind,
        reason,
        until,
    })
}

fn parse_clear(
    args: &ProfileClearOverrideArgs,
) -> Result<(i64, crate::domain::sync_plan::ServiceKind), CliError> {
    Ok((
        parse_company_id(&args.company_id).map_err(config)?,
        parse_service(&args.service).map_err(config)?,
    ))
}

/// Records a change of an exclusion or override in the history of every tenant the profile
/// names (its ConnectWise site and company and Synthesize URL, whatever the organization); before
/// the profile's first run there is none, and the change goes to the profile's own history.
fn record_change(
    dirs: &AppDirs,
    profile: &Profile,
    global: &GlobalArgs,
    change: &AdjustmentChange,
) -> Result<Outcome, CliError> {
    let mut sources = super::settings::sources(global);
    sources.profile = Some(profile.name.clone());
    crate::engine::profile_work::record_change(dirs, profile, &sources, change)
        .map_err(CliError::Failed)?;
    eprintln!("Recorded in the history: {}", change.describe());
    Ok(Outcome::Done)
}

/// The exclusions and overrides of a profile, for `profile show`.
fn describe_adjustments(p: &Profile) -> String {
    let mut out = String::new();
    let today = chrono::Local::now().date_naive();
    if p.exclusions.companies.is_empty() {
        out.push_str(&format!("{:<28} none\n", "Excluded companies:"));
    } else {
        out.push_str("Excluded companies:\n");
        for e in &p.exclusions.companies {
            out.push_str(&format!(
                "  {} — {} (since {})\n",
                e.company_id,
                e.reason,
                e.since.format("%Y-%m-%d")
            ));
        }
    }
    out.push_str(&format!(
        "{:<28} {}\n",
        "Exclude inactive companies:",
        if p.exclusions.exclude_inactive_companies {
            "yes (companies whose ConnectWise status is marked inactive are never posted nor zeroed; each run reads the statuses)"
        } else {
            "no"
        }
    ));
    if p.overrides.is_empty() {
        out.push_str(&format!("{:<28} none\n", "Overrides:"));
    } else {
        out.push_str("Overrides:\n");
        for o in &p.overrides {
            let expired = if o.is_active_on(today) {
                ""
            } else {
                " — expired, the computed count applies"
            };
            out.push_str(&format!(
                "  {} {}: {}{expired}\n",
                o.company_id,
                adjustments_service_word(o.service),
                o.describe()
            ));
        }
    }
    out
}

/// The command's word for a service.
fn adjustments_service_word(service: crate::domain::sync_plan::ServiceKind) -> &'static str {
    match service {
        crate::domain::sync_plan::ServiceKind::Shared => "shared",
        crate::domain::sync_plan::ServiceKind::NotShared => "not-shared",
    }
}

fn describe(p: &Profile) -> String {
    let site = match (
        &p.connectwise.site.direct_api_url(),
        &p.connectwise.site.site_url(),
    ) {
        (Some(api), _) => format!("{} (API URL, no discovery)", api),
        (None, Some(url)) => format!("{url} ({})", p.connectwise.site.label()),
        _ => p.connectwise.site.label().to_owned(),
    };
    let rule = CountingRule::new(&p.counting)
        .map(|r| r.describe())
        .unwrap_or_else(|e| format!("invalid: {e}"));
    format!(
        "{:<28} {}\n{:<28} {site}\n{:<28} {}\n{:<28} {}\n{:<28} {}\n{:<28} {rule}\n{:<28} {}\n{:<28} {}\n{:<28} {}\n",
        "Profile:",
        p.name,
        "ConnectWise site:",
        "Company ID:",
        p.connectwise.company_id,
        "Client ID:",
        p.connectwise.client_id,
        "Synthesize URL:",
        p.synthesize_url,
        "Counting rule:",
        "Zero policy:",
        p.sync.zero_policy.label(),
        "CSV delimiter:",
        match p.csv_delimiter {
            CsvDelimiter::Comma => "comma",
            CsvDelimiter::Semicolon => "semicolon",
        },
        "Notifications:",
        super::notify_cmd::describe(&p.notify),
    )
}

fn build_profile(args: &ProfileCreateArgs, global: &GlobalArgs) -> Result<Profile, CliError> {
    let mut profile = Profile::new(args.name.clone());
    let site = match (&global.cw_api_url, &global.cw_url, &args.region) {
        (Some(api), _, _) => ConnectWiseSite::from_api_url(api),
        (None, Some(url), _) => ConnectWiseSite::from_site_url(url),
        (None, None, Some(region)) => ConnectWiseSite::all_presets()
            .into_iter()
            .find(|s| {
                s.site_url().is_some_and(|u| {
                    u.trim_start_matches("https://")
                        .split('.')
                        .next()
                        .is_some_and(|r| r.eq_ignore_ascii_case(region))
                })
            })
            .ok_or_else(|| {
                CliError::Config(format!(
                    "--region: \"{region}\" is not one of na, eu, au, aus, za, staging; or give --cw-url for an on-premise site"
                ))
            })?,
        (None, None, None) => ConnectWiseSite::default(),
    };
    site.validate().map_err(config)?;
    profile.connectwise.site = site;
    profile.connectwise.company_id = args.company_id.clone().unwrap_or_default();
    profile.connectwise.client_id = args.client_id.clone().unwrap_or_default();
    if let Some(url) = &global.synthesize_url {
        crate::engine::settings::check_synthesize_url("--synthesize-url", url).map_err(config)?;
        profile.synthesize_url = url.clone();
    }
    let mut counting = CountingOptions::default();
    if !args.type_names.is_empty() {
        counting.type_names = args.type_names.clone();
    }
    if let Some(p) = &args.shared_pattern {
        counting.shared_pattern = p.clone();
    }
    counting.shared_whole_word = args.whole_word;
    counting.active_only = args.active_only;
    counting.assignment_field = match (&args.assignment_custom_field, &args.assignment_question) {
        (Some(_), Some(_)) => {
            return Err(CliError::Config(
                "--assignment-custom-field and --assignment-question: give one or the other".into(),
            ));
        }
        (Some(name), None) => Some(AssignmentField {
            source: AssignmentSource::CustomField,
            name: name.clone(),
        }),
        (None, Some(name)) => Some(AssignmentField {
            source: AssignmentSource::Question,
            name: name.clone(),
        }),
        (None, None) => None,
    };
    CountingRule::new(&counting).map_err(config)?;
    profile.counting = counting;
    if let Some(z) = &args.zeros {
        profile.sync.zero_policy = match z.to_lowercase().as_str() {
            "changed" => ZeroPolicy::ChangedToZero,
            "every" => ZeroPolicy::EveryZero,
            "skip" => ZeroPolicy::SkipZeros,
            other => {
                return Err(CliError::Config(format!(
                    "--zeros: \"{other}\" is not one of changed, every, skip"
                )));
            }
        };
    }
    if args.semicolon {
        profile.csv_delimiter = CsvDelimiter::Semicolon;
    }
    Ok(profile)
}

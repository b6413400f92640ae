//! Profile files: round trips, older files, names, rename/duplicate/delete with history, and
//! unreadable files moved aside rather than lost.

use super::*;
use crate::domain::safety::DropGuardThresholds;
use crate::domain::settings::ZeroPolicy;

fn store() -> (tempfile::TempDir, AppDirs, ProfileStore) {
    let root = tempfile::tempdir().unwrap();
    let dirs = AppDirs::at(root.path());
    let store = ProfileStore::new(&dirs);
    (root, dirs, store)
}

fn sample(name: &str) -> Profile {
    let mut p = Profile::new(name);
    p.connectwise.site = ConnectWiseSite::Custom {
        url: "https://cw.example.com".into(),
    };
    p.connectwise.company_id = "acme".into();
    p.connectwise.client_id = "9b6f0c1e-0000-4000-8000-000000000001".into();
    p.counting.type_names = vec!["License".into(), "Seat".into()];
    p.counting.shared_whole_word = true;
    p.sync.zero_policy = ZeroPolicy::EveryZero;
    p.csv_delimiter = CsvDelimiter::Semicolon;
    p
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn write_journal(dirs: &AppDirs, profile: &str, text: &str) -> PathBuf {
    let path = super::super::journal::journal_file(&dirs.journal_dir(), profile);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn create_load_and_list_round_trip() {
    let (_root, _dirs, store) = store();
    assert_eq!(
        store.list().unwrap(),
        ProfileList::default(),
        "no folder yet"
    );
    for name in ["Zeta", "Müller & Söhne", "東京 MSP", "acme EU"] {
        store.create(&sample(name)).unwrap();
    }
    assert_eq!(
        store.load("Müller & Söhne").unwrap(),
        sample("Müller & Söhne")
    );
    let list = store.list().unwrap();
    assert!(list.problems.is_empty());
    assert_eq!(
        list.names(),
        ["acme EU", "Müller & Söhne", "Zeta", "東京 MSP"]
    );
    // Pretty JSON, one file per profile, no temporary files left behind.
    assert_eq!(
        files_in(store.dir()),
        [
            "M\u{fc}ller %26 S\u{f6}hne.json",
            "Zeta.json",
            "acme EU.json",
            "東京 MSP.json"
        ]
    );
    let text = std::fs::read_to_string(store.dir().join("Zeta.json")).unwrap();
    assert!(text.contains("\n  \"connectwise\": {"), "{text}");
}

#[test]
fn defaults_fill_in_older_files_and_unknown_fields_are_ignored() {
    let (_root, _dirs, store) = store();
    std::fs::create_dir_all(store.dir()).unwrap();
    std::fs::write(
        store.dir().join("Old.json"),
        r#"{"connectwise": {"company_id": "acme"}, "future_field": [1, 2]}"#,
    )
    .unwrap();
    let p = store.load("Old").unwrap();
    assert_eq!(p.name, "Old");
    assert_eq!(p.connectwise.company_id, "acme");
    assert_eq!(p.connectwise.site, ConnectWiseSite::Na);
    assert_eq!(p.synthesize_url, "https://app.usegradient.com");
    assert_eq!(p.counting, CountingOptions::default());
    assert_eq!(p.sync, SyncOptions::default());
    assert_eq!(p.csv_delimiter, CsvDelimiter::Comma);
    assert_eq!(p.drop_guard, DropGuardThresholds::default());
}

#[test]
fn drop_guard_thresholds_are_profile_options() {
    let (_root, _dirs, store) = store();
    let mut p = sample("Acme");
    p.drop_guard.zeroed_companies_percent = 50;
    p.drop_guard.total_drop_percent = 10;
    store.create(&p).unwrap();
    assert_eq!(store.load("Acme").unwrap().drop_guard, p.drop_guard);
    // One threshold set by hand, the others default.
    std::fs::write(
        store.dir().join("Hand.json"),
        r#"{"drop_guard": {"total_drop_percent": 45}}"#,
    )
    .unwrap();
    let hand = store.load("Hand").unwrap().drop_guard;
    assert_eq!(hand.total_drop_percent, 45);
    assert_eq!(hand.zeroed_companies_percent, 20);
    assert_eq!(hand.min_zeroed_companies, 3);
}

#[test]
fn the_file_name_decides_the_profile_name() {
    let (_root, _dirs, store) = store();
    std::fs::create_dir_all(store.dir()).unwrap();
    std::fs::write(store.dir().join("Real.json"), r#"{"name": "Other"}"#).unwrap();
    assert_eq!(store.load("Real").unwrap().name, "Real");
    assert_eq!(store.list().unwrap().names(), ["Real"]);
}

#[test]
fn names_are_validated_and_unique_ignoring_case() {
    let (_root, _dirs, store) = store();
    store.create(&sample("Acme")).unwrap();
    let err = store.create(&sample("ACME")).unwrap_err();
    assert!(
        matches!(&err, ProfileError::AlreadyExists(n) if n == "Acme"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "Profile name: a profile named \"Acme\" already exists; choose another name"
    );
    let err = store.save(&sample("acme")).unwrap_err();
    assert!(matches!(err, ProfileError::AlreadyExists(_)));
    for bad in ["", " Acme", "a\nb"] {
        let err = store.create(&sample(bad)).unwrap_err().to_string();
        assert!(err.starts_with("Profile name: "), "{err}");
    }
    // The case-insensitive lookup helps `--profile acme`.
    assert_eq!(store.load("acme").unwrap().name, "Acme");
    assert!(store.exists("aCmE").unwrap());
    let err = store.load("Nobody").unwrap_err().to_string();
    assert!(
        err.starts_with("Profile \"Nobody\": there is no such profile"),
        "{err}"
    );
}

#[test]
fn names_cannot_escape_the_profiles_folder() {
    let (root, _dirs, store) = store();
    for name in ["../evil", "..", "a/b\\c", "/etc/passwd", "con"] {
        store.create(&sample(name)).unwrap();
        assert_eq!(store.load(name).unwrap().name, name);
    }
    assert_eq!(files_in(store.dir()).len(), 5);
    assert_eq!(files_in(root.path()), ["config"]);
    assert_eq!(files_in(&root.path().join("config")), ["profiles"]);
}

#[test]
fn save_replaces_atomically() {
    let (_root, _dirs, store) = store();
    let mut p = sample("Acme");
    store.save(&p).unwrap();
    p.connectwise.company_id = "acme2".into();
    store.save(&p).unwrap();
    assert_eq!(store.load("Acme").unwrap().connectwise.company_id, "acme2");
    assert_eq!(files_in(store.dir()), ["Acme.json"]);
}

#[test]
fn rename_moves_the_profile_and_its_history() {
    let (_root, dirs, store) = store();
    store.create(&sample("Acme")).unwrap();
    let old_journal = write_journal(&dirs, "Acme", "history\n");
    let renamed = store.rename("Acme", "Acme (EU)").unwrap();
    assert_eq!(renamed.name, "Acme (EU)");
    assert_eq!(store.list().unwrap().names(), ["Acme (EU)"]);
    assert_eq!(
        store.load("Acme (EU)").unwrap().connectwise.company_id,
        "acme"
    );
    assert!(!old_journal.exists());
    let new_journal = super::super::journal::journal_file(&dirs.journal_dir(), "Acme (EU)");
    assert_eq!(std::fs::read_to_string(new_journal).unwrap(), "history\n");
    assert!(files_in(store.dir()).iter().all(|f| !f.ends_with(".tmp")));
    assert!(
        files_in(&dirs.journal_dir())
            .iter()
            .all(|f| !f.ends_with(".tmp"))
    );
}

#[test]
fn rename_changing_only_letter_case() {
    let (_root, dirs, store) = store();
    store.create(&sample("acme")).unwrap();
    write_journal(&dirs, "acme", "history\n");
    store.rename("acme", "Acme").unwrap();
    assert_eq!(store.list().unwrap().names(), ["Acme"]);
    assert_eq!(files_in(store.dir()), ["Acme.json"]);
    assert_eq!(files_in(&dirs.journal_dir()), ["Acme.jsonl"]);
}

#[test]
fn rename_refuses_a_taken_name_and_changes_nothing() {
    let (_root, dirs, store) = store();
    store.create(&sample("Acme")).unwrap();
    store.create(&sample("Beta")).unwrap();
    write_journal(&dirs, "Acme", "a\n");
    let err = store.rename("Acme", "BETA").unwrap_err();
    assert!(
        matches!(err, ProfileError::AlreadyExists(ref n) if n == "Beta"),
        "{err}"
    );
    // A leftover history under the new name is never overwritten or merged.
    let stray = write_journal(&dirs, "Gamma", "someone else's\n");
    let err = store.rename("Acme", "Gamma").unwrap_err();
    assert!(matches!(err, ProfileError::JournalInTheWay { .. }), "{err}");
    assert_eq!(store.list().unwrap().names(), ["Acme", "Beta"]);
    assert_eq!(std::fs::read_to_string(stray).unwrap(), "someone else's\n");
    assert_eq!(files_in(&dirs.journal_dir()), ["Acme.jsonl", "Gamma.jsonl"]);
    let err = store.rename("Nobody", "X").unwrap_err();
    assert!(matches!(err, ProfileError::NotFound(_)));
}

#[test]
fn duplicate_copies_settings_but_not_history() {
    let (_root, dirs, store) = store();
    store.create(&sample("Acme")).unwrap();
    write_journal(&dirs, "Acme", "a\n");
    let copy = store.duplicate("Acme", "Acme copy").unwrap();
    assert_eq!(copy, sample("Acme copy"));
    assert_eq!(store.load("Acme copy").unwrap(), sample("Acme copy"));
    assert_eq!(files_in(&dirs.journal_dir()), ["Acme.jsonl"]);
    assert!(matches!(
        store.duplicate("Acme", "acme").unwrap_err(),
        ProfileError::AlreadyExists(_)
    ));
}

#[test]
fn delete_keeps_the_history_aside() {
    let (_root, dirs, store) = store();
    store.create(&sample("Acme")).unwrap();
    store.create(&sample("Beta")).unwrap();
    write_journal(&dirs, "Acme", "a\n");
    store.delete("acme").unwrap();
    assert_eq!(store.list().unwrap().names(), ["Beta"]);
    let journals = files_in(&dirs.journal_dir());
    assert_eq!(journals.len(), 1);
    assert!(
        journals[0].starts_with("Acme.jsonl.deleted-"),
        "{journals:?}"
    );
    // A new profile of the same name starts with no history.
    store.create(&sample("Acme")).unwrap();
    assert!(!dirs.journal_dir().join("Acme.jsonl").exists());
    assert!(matches!(
        store.delete("Nobody").unwrap_err(),
        ProfileError::NotFound(_)
    ));
}

#[test]
fn unreadable_files_are_moved_aside_and_reported() {
    let (_root, _dirs, store) = store();
    store.create(&sample("Good")).unwrap();
    std::fs::write(store.dir().join("Bad.json"), "{ \"name\": \"Bad\", oops").unwrap();
    std::fs::write(store.dir().join("Typed.json"), r#"{"sync": "fast"}"#).unwrap();
    std::fs::write(store.dir().join("notes.txt"), "not a profile").unwrap();

    let list = store.list().unwrap();
    assert_eq!(list.names(), ["Good"]);
    assert_eq!(list.problems.len(), 2, "{:?}", list.problems);
    for problem in &list.problems {
        let moved = problem.moved_to.as_ref().unwrap();
        assert!(moved.exists());
        assert!(!problem.file.exists());
        assert!(
            problem.message.contains("moved aside to"),
            "{}",
            problem.message
        );
    }
    let bad = &list.problems[0];
    assert!(
        bad.message.starts_with("Profile \"Bad\" could not be read"),
        "{}",
        bad.message
    );
    assert_eq!(
        std::fs::read_to_string(bad.moved_to.as_ref().unwrap()).unwrap(),
        "{ \"name\": \"Bad\", oops",
        "content kept as it was"
    );
    let moved_name = bad.moved_to.as_ref().unwrap().file_name().unwrap();
    assert!(
        moved_name
            .to_string_lossy()
            .starts_with("Bad.json.corrupt-")
    );

    // Listed once: the moved files are no longer profiles.
    let again = store.list().unwrap();
    assert!(again.problems.is_empty());
    assert!(files_in(store.dir()).contains(&"notes.txt".to_owned()));

    // Loading an unreadable profile says where it went; a second one of the same name, moved
    // in the same second, does not overwrite the first.
    std::fs::write(store.dir().join("Bad.json"), "again").unwrap();
    let err = store.load("Bad").unwrap_err();
    let moved_to = match &err {
        ProfileError::Corrupt { moved_to, .. } => moved_to.clone(),
        other => unreachable!("{other}"),
    };
    assert!(moved_to.exists());
    assert!(
        err.to_string().contains("set the profile up again"),
        "{err}"
    );
    let corrupt_copies = files_in(store.dir())
        .into_iter()
        .filter(|f| f.starts_with("Bad.json.corrupt-"))
        .count();
    assert_eq!(corrupt_copies, 2);
}

#[test]
fn hand_made_file_names_are_reported_not_moved() {
    let (_root, _dirs, store) = store();
    std::fs::create_dir_all(store.dir()).unwrap();
    std::fs::write(store.dir().join("50%off.json"), "{}").unwrap();
    let list = store.list().unwrap();
    assert!(list.profiles.is_empty());
    assert_eq!(list.problems.len(), 1);
    assert_eq!(list.problems[0].moved_to, None);
    assert!(store.dir().join("50%off.json").exists());
}

fn author() -> ChangeAuthor {
    ChangeAuthor {
        by: "anna".into(),
        at: chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 2, 1, 9, 0, 0).unwrap(),
    }
}

#[test]
fn older_profile_files_load_with_no_exclusions_or_overrides() {
    let (_root, _dirs, store) = store();
    std::fs::create_dir_all(store.dir()).unwrap();
    std::fs::write(
        store.dir().join("Old.json"),
        r#"{"synthesize_url":"https://x.example"}"#,
    )
    .unwrap();
    let p = store.load("Old").unwrap();
    assert!(p.exclusions.companies.is_empty());
    assert!(!p.exclusions.exclude_inactive_companies);
    assert!(p.overrides.is_empty());
}

#[test]
fn exclusions_are_saved_and_each_change_is_recorded_with_who_when_and_why() {
    use crate::domain::adjustments::AdjustmentChangeKind;
    let (_root, _dirs, store) = store();
    store.create(&sample("Acme")).unwrap();
    let change = store
        .exclude_company("acme", 19300, " our own company ", &author())
        .unwrap();
    assert_eq!(change.by, "anna");
    assert_eq!(change.profile, "Acme");
    assert_eq!(change.reason, "our own company");
    assert_eq!(change.at, author().at);
    assert_eq!(
        change.change,
        AdjustmentChangeKind::Excluded {
            company_id: 19300,
            replaced_reason: None
        }
    );
    assert_eq!(
        change.describe(),
        "anna excluded company 19300: our own company"
    );
    let p = store.load("Acme").unwrap();
    assert_eq!(p.exclusions.get(19300).unwrap().reason, "our own company");

    let again = store
        .exclude_company("Acme", 19300, "MSP itself", &author())
        .unwrap();
    assert!(
        again.describe().contains("was: our own company"),
        "{}",
        again.describe()
    );
    assert!(matches!(
        store.exclude_company("Acme", 1, "  ", &author()),
        Err(ProfileError::Adjustment(_))
    ));

    let included = store.include_company("Acme", 19300, "", &author()).unwrap();
    assert!(included.describe().contains("included company 19300 again"));
    assert!(store.load("Acme").unwrap().exclusions.companies.is_empty());
    let err = store
        .include_company("Acme", 19300, "", &author())
        .unwrap_err();
    assert!(err.to_string().contains("is not excluded"), "{err}");

    let on = store
        .set_exclude_inactive_companies("Acme", true, "", &author())
        .unwrap();
    assert!(on.is_some());
    assert!(
        store
            .set_exclude_inactive_companies("Acme", true, "", &author())
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .load("Acme")
            .unwrap()
            .exclusions
            .exclude_inactive_companies
    );
}

#[test]
fn overrides_are_saved_replaced_and_cleared_with_change_records() {
    use crate::domain::adjustments::{Override, OverrideKind};
    use crate::domain::sync_plan::ServiceKind;
    let (_root, _dirs, store) = store();
    store.create(&sample("Acme")).unwrap();
    let o = Override {
        company_id: 5,
        service: ServiceKind::Shared,
        kind: OverrideKind::Adjust(-3),
        reason: "kiosks billed separately".into(),
        until: chrono::NaiveDate::from_ymd_opt(2026, 3, 31),
    };
    let set = store.set_override("Acme", &o, &author()).unwrap();
    assert_eq!(
        set.describe(),
        "anna set the Shared Devices override of company 5 to -3 until 2026-03-31: kiosks billed separately"
    );
    let fixed = Override {
        kind: OverrideKind::Fixed(2),
        until: None,
        ..o.clone()
    };
    let replaced = store.set_override("Acme", &fixed, &author()).unwrap();
    assert!(
        replaced.describe().contains("(was -3 until 2026-03-31"),
        "{}",
        replaced.describe()
    );
    assert_eq!(store.load("Acme").unwrap().overrides, vec![fixed]);
    assert!(matches!(
        store.set_override(
            "Acme",
            &Override {
                reason: String::new(),
                ..o
            },
            &author()
        ),
        Err(ProfileError::Adjustment(_))
    ));
    let cleared = store
        .clear_override("Acme", 5, ServiceKind::Shared, "contract ended", &author())
        .unwrap();
    assert!(cleared.describe().ends_with(": contract ended"));
    assert!(store.load("Acme").unwrap().overrides.is_empty());
    let err = store
        .clear_override("Acme", 5, ServiceKind::Shared, "", &author())
        .unwrap_err();
    assert!(
        err.to_string().contains("no Shared Devices override"),
        "{err}"
    );
}

#[test]
fn the_os_user_name_comes_from_the_environment() {
    use crate::domain::adjustments::os_user_name;
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    assert_eq!(os_user_name(env(&[("USER", "anna")])), "anna");
    assert_eq!(
        os_user_name(env(&[("USER", " "), ("USERNAME", "ANNA")])),
        "ANNA"
    );
    assert_eq!(os_user_name(env(&[])), "unknown user");
}

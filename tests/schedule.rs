//! `schedule install|show|remove` run as a process in a private home: on Linux it writes a
//! systemd user timer and service under `$XDG_CONFIG_HOME/systemd/user` that
//! `systemd-analyze verify` accepts and that run this same binary headless; `show` lists them,
//! `remove` deletes them; bad times, days and profiles exit 2 naming the flag. systemctl is
//! never called here (`CW_SHARED_DEVICES_NO_SCHEDULER`), so the machine's timers are untouched.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::command::{Home, Run, run};

/// A profile name with every character systemd's unit syntax treats specially.
const TRICKY_PROFILE: &str = r#"R&D "EU" 50% $HOME \x"#;

fn schedule_cmd(home: &Home) -> Command {
    let mut cmd = home.bare_no_color();
    cmd.env("CW_SHARED_DEVICES_NO_SCHEDULER", "1");
    cmd
}

fn cli(home: &Home, args: &[&str]) -> Run {
    let mut cmd = schedule_cmd(home);
    cmd.args(args);
    run(cmd)
}

fn create_profile(home: &Home, name: &str) {
    let created = cli(home, &["profile", "create", name, "--company-id", "acme"]);
    assert_eq!(created.code, Some(0), "{created:?}");
}

fn unit_dir(home: &Home) -> PathBuf {
    home.path().join("config").join("systemd").join("user")
}

fn units(home: &Home) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(unit_dir(home))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `systemd-analyze verify` over the unit files, or `None` (with the reason printed) when the
/// tool is not installed at all.
fn systemd_analyze_verify(files: &[PathBuf]) -> Option<std::process::Output> {
    match Command::new("systemd-analyze")
        .arg("verify")
        .args(files)
        .output()
    {
        Ok(out) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!(
                "SKIPPED systemd-analyze verify: systemd-analyze is not installed (apt-get install systemd)"
            );
            None
        }
        Err(e) => panic!("systemd-analyze: {e}"),
    }
}

fn this_binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("cw-shared-devices")
        .canonicalize()
        .unwrap()
}

fn unit_files(dir: &Path, stem: &str) -> Vec<PathBuf> {
    vec![
        dir.join(format!("{stem}.service")),
        dir.join(format!("{stem}.timer")),
    ]
}

#[cfg(target_os = "linux")]
#[test]
fn install_writes_systemd_units_that_systemd_analyze_verify_accepts() {
    let home = Home::new();
    create_profile(&home, TRICKY_PROFILE);
    let daily = cli(
        &home,
        &[
            "schedule",
            "install",
            "--profile",
            TRICKY_PROFILE,
            "--daily",
            "02:30",
        ],
    );
    assert_eq!(daily.code, Some(0), "{daily:?}");
    assert!(
        daily.stdout.contains("systemctl --user daemon-reload"),
        "{}",
        daily.stdout
    );
    assert!(
        daily.stdout.contains("loginctl enable-linger"),
        "{}",
        daily.stdout
    );
    create_profile(&home, "Globex");
    let monthly = cli(
        &home,
        &[
            "schedule",
            "install",
            "--all-profiles",
            "--monthly",
            "1",
            "06:00",
        ],
    );
    assert_eq!(monthly.code, Some(0), "{monthly:?}");
    let dir = unit_dir(&home);
    let stem = "cw-shared-devices-profile-R_26D_20_22EU_22_2050_25_20_24HOME_20_5cx";
    assert_eq!(
        units(&home),
        [
            "cw-shared-devices-all-profiles.service",
            "cw-shared-devices-all-profiles.timer",
            &format!("{stem}.service"),
            &format!("{stem}.timer"),
        ]
    );
    let service = std::fs::read_to_string(dir.join(format!("{stem}.service"))).unwrap();
    let exec = format!(
        "\nExecStart=\"{}\" \"--profile\" \"R&D \\\"EU\\\" 50%% $$HOME \\\\x\" \"sync\"\n",
        this_binary().display()
    );
    assert!(service.contains(&exec), "{service}");
    let timer = std::fs::read_to_string(dir.join(format!("{stem}.timer"))).unwrap();
    assert!(timer.contains("\nOnCalendar=*-*-* 02:30:00\n"), "{timer}");
    let all = std::fs::read_to_string(dir.join("cw-shared-devices-all-profiles.timer")).unwrap();
    assert!(all.contains("\nOnCalendar=*-*-01 06:00:00\n"), "{all}");

    let mut files = unit_files(&dir, stem);
    files.extend(unit_files(&dir, "cw-shared-devices-all-profiles"));
    let Some(verified) = systemd_analyze_verify(&files) else {
        return;
    };
    let stderr = String::from_utf8_lossy(&verified.stderr);
    assert!(
        verified.status.success(),
        "systemd-analyze verify: {stderr}"
    );
    // Warnings do not change its status: none may be about our units.
    assert!(
        !stderr.contains("cw-shared-devices-"),
        "systemd-analyze verify warned: {stderr}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn show_lists_the_schedules_and_remove_deletes_them() {
    let home = Home::new();
    create_profile(&home, "Acme EU");
    create_profile(&home, "Globex");
    for args in [
        ["--profile", "Acme EU", "--daily", "01:15"],
        ["--profile", "Globex", "--daily", "03:00"],
    ] {
        let mut all = vec!["schedule", "install"];
        all.extend(args);
        let installed = cli(&home, &all);
        assert_eq!(installed.code, Some(0), "{installed:?}");
    }
    // Installing again replaces the entry.
    let again = cli(
        &home,
        &[
            "schedule",
            "install",
            "--profile",
            "Globex",
            "--monthly",
            "15",
            "04:00",
        ],
    );
    assert_eq!(again.code, Some(0), "{again:?}");
    assert_eq!(units(&home).len(), 4, "{:?}", units(&home));

    let shown = cli(&home, &["schedule", "show"]);
    assert_eq!(shown.code, Some(0), "{shown:?}");
    for line in [
        "cw-shared-devices-profile-Acme_20EU: sync of profile \"Acme EU\", daily at 01:15",
        "cw-shared-devices-profile-Globex: sync of profile \"Globex\", monthly on day 15 at 04:00",
    ] {
        assert!(
            shown.stdout.contains(line),
            "{line} not in:\n{}",
            shown.stdout
        );
    }
    assert!(
        shown.stdout.contains(&format!(
            "  runs: {} --profile \"Acme EU\" sync",
            this_binary().display()
        )),
        "{}",
        shown.stdout
    );
    assert!(!shown.stdout.contains("(missing)"), "{}", shown.stdout);

    let removed = cli(&home, &["schedule", "remove", "--profile", "Globex"]);
    assert_eq!(removed.code, Some(0), "{removed:?}");
    assert!(
        removed
            .stdout
            .contains("systemctl --user disable --now cw-shared-devices-profile-Globex.timer"),
        "{}",
        removed.stdout
    );
    assert_eq!(
        units(&home),
        [
            "cw-shared-devices-profile-Acme_20EU.service",
            "cw-shared-devices-profile-Acme_20EU.timer"
        ]
    );
    let shown = cli(&home, &["schedule", "show"]);
    assert!(!shown.stdout.contains("Globex"), "{}", shown.stdout);

    // A unit deleted by hand shows as missing.
    std::fs::remove_file(unit_dir(&home).join("cw-shared-devices-profile-Acme_20EU.timer"))
        .unwrap();
    let shown = cli(&home, &["schedule", "show"]);
    assert!(
        shown
            .stdout
            .contains("cw-shared-devices-profile-Acme_20EU.timer (missing)"),
        "{}",
        shown.stdout
    );

    // With no tenant named, every schedule goes.
    let removed = cli(&home, &["schedule", "remove"]);
    assert_eq!(removed.code, Some(0), "{removed:?}");
    assert!(units(&home).is_empty(), "{:?}", units(&home));
    let shown = cli(&home, &["schedule", "show"]);
    assert!(
        shown.stdout.starts_with("No scheduled syncs."),
        "{}",
        shown.stdout
    );
    let removed = cli(&home, &["schedule", "remove"]);
    assert_eq!(removed.code, Some(0), "{removed:?}");
}

#[test]
fn bad_schedule_input_exits_2_naming_the_field() {
    let home = Home::new();
    create_profile(&home, "Acme");
    for (args, field) in [
        (
            &["--profile", "Acme", "--daily", "25:00"][..],
            "--daily: \"25:00\"",
        ),
        (&["--profile", "Acme", "--daily", "7"], "--daily: \"7\""),
        (
            &["--profile", "Acme", "--monthly", "32", "02:00"],
            "--monthly: \"32\"",
        ),
        (
            &["--profile", "Acme", "--monthly", "0", "02:00"],
            "--monthly: \"0\"",
        ),
        (
            &["--profile", "Acme", "--monthly", "5", "24:00"],
            "--monthly: \"24:00\"",
        ),
        (&["--profile", "Nobody", "--daily", "02:00"], "Nobody"),
        (
            &["--profile", "Acme", "--all-profiles", "--daily", "02:00"],
            "--profile and --all-profiles",
        ),
        (&["--profiles", "Acme,B", "--daily", "02:00"], "--profiles"),
        (&["--daily", "02:00"], "--profile NAME or --all-profiles"),
        (&["--profile", "Acme"], "--daily"),
        (
            &[
                "--profile",
                "Acme",
                "--daily",
                "02:00",
                "--monthly",
                "1",
                "02:00",
            ],
            "--monthly",
        ),
    ] {
        let mut all = vec!["schedule", "install"];
        all.extend(args);
        let out = cli(&home, &all);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert!(
            out.stderr.contains(field),
            "{args:?}: {field} not in {}",
            out.stderr
        );
        assert!(units(&home).is_empty(), "{args:?} wrote {:?}", units(&home));
    }
    // --all-profiles with no profile at all.
    let empty = Home::new();
    let out = cli(
        &empty,
        &["schedule", "install", "--all-profiles", "--daily", "02:00"],
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("--all-profiles: there are no profiles"),
        "{}",
        out.stderr
    );
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn daily(hour: u8, minute: u8) -> RunTime {
    RunTime::Daily {
        at: TimeOfDay { hour, minute },
    }
}

fn run(target: ScheduleTarget, time: RunTime, program: &str) -> ScheduledRun {
    ScheduledRun {
        target,
        time,
        program: program.to_owned(),
    }
}

fn xml(text: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("not well-formed XML ({e}):\n{text}"))
}

#[test]
fn times_of_day_parse_from_00_00_to_23_59_and_nothing_else() {
    for (text, hour, minute) in [
        ("00:00", 0, 0),
        ("2:30", 2, 30),
        ("23:59", 23, 59),
        (" 07:05 ", 7, 5),
    ] {
        assert_eq!(
            TimeOfDay::parse("--daily", text).unwrap(),
            TimeOfDay { hour, minute },
            "{text}"
        );
    }
    for text in [
        "25:00",
        "24:00",
        "12:60",
        "2:5",
        "",
        "12",
        "ab:cd",
        "+1:00",
        "-1:00",
        "1:2:3",
        "123:00",
        "１２:００",
    ] {
        let err = TimeOfDay::parse("--daily", text).unwrap_err().to_string();
        assert!(err.starts_with("--daily: \""), "{text}: {err}");
        assert!(err.contains("HH:MM"), "{err}");
    }
    assert_eq!(TimeOfDay { hour: 2, minute: 5 }.to_string(), "02:05");
}

#[test]
fn days_of_month_parse_from_1_to_31() {
    assert_eq!(parse_day_of_month("--monthly", "1").unwrap(), 1);
    assert_eq!(parse_day_of_month("--monthly", "31").unwrap(), 31);
    for text in ["0", "32", "+5", "-1", "", "x", "1.5", "256"] {
        let err = parse_day_of_month("--monthly", text)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--monthly: \""), "{text}: {err}");
        assert!(err.contains("from 1 to 31"), "{err}");
    }
    let monthly = |day| RunTime::Monthly {
        day,
        at: TimeOfDay { hour: 6, minute: 0 },
    };
    assert_eq!(monthly(28).short_month_warning(), None);
    assert!(
        monthly(31)
            .short_month_warning()
            .unwrap()
            .contains("28 or less")
    );
    assert_eq!(monthly(1).describe(), "monthly on day 1 at 06:00");
    assert_eq!(daily(2, 30).describe(), "daily at 02:30");
}

#[test]
fn entry_names_are_distinct_and_safe_for_every_scheduler() {
    let names = [
        "Acme",
        "Acme EU",
        "Acme_EU",
        "Acme_20EU",
        "acme",
        "../x",
        "Ünïcode 東京",
        "all-profiles",
    ];
    let entries: Vec<String> = names
        .iter()
        .map(|n| ScheduleTarget::Profile((*n).to_owned()).entry_name())
        .chain([ScheduleTarget::AllProfiles.entry_name()])
        .collect();
    let unique: std::collections::BTreeSet<_> = entries.iter().collect();
    assert_eq!(unique.len(), entries.len(), "{entries:?}");
    for entry in &entries {
        assert!(entry.starts_with(ENTRY_PREFIX), "{entry}");
        assert!(
            entry
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{entry}"
        );
    }
    assert_eq!(entries[1], "cw-shared-devices-profile-Acme_20EU");
    assert_eq!(entries.last().unwrap(), "cw-shared-devices-all-profiles");
    // 64 characters of four UTF-8 bytes each: shortened, still distinct.
    let long_a = "東".repeat(64);
    let long_b = format!("{}京", "東".repeat(63));
    let a = ScheduleTarget::Profile(long_a).entry_name();
    let b = ScheduleTarget::Profile(long_b).entry_name();
    assert!(
        a.len() <= ENTRY_PREFIX.len() + "profile-".len() + MAX_SLUG_BYTES,
        "{a}"
    );
    assert_ne!(a, b);
}

#[test]
fn the_run_is_this_program_headless_with_the_tenant_flag() {
    assert_eq!(
        ScheduleTarget::Profile("Acme EU".into()).arguments(),
        ["--profile", "Acme EU", "sync"]
    );
    assert_eq!(
        ScheduleTarget::AllProfiles.arguments(),
        ["sync", "--all-profiles"]
    );
}

#[test]
fn systemd_units_quote_the_command_and_set_the_calendar() {
    let r = run(
        ScheduleTarget::Profile("50% \"off\" $HOME \\x".into()),
        daily(2, 30),
        "/opt/cw shared/cw-shared-devices",
    );
    let service = r.systemd_service();
    assert!(
        service.contains(
            "\nExecStart=\"/opt/cw shared/cw-shared-devices\" \"--profile\" \"50%% \\\"off\\\" $$HOME \\\\x\" \"sync\"\n"
        ),
        "{service}"
    );
    assert!(service.contains("\nType=oneshot\n"), "{service}");
    assert!(
        service.contains("Description=cw-shared-devices: sync of profile \"50%% "),
        "{service}"
    );
    let timer = r.systemd_timer();
    assert!(timer.contains("\nOnCalendar=*-*-* 02:30:00\n"), "{timer}");
    assert!(timer.contains("\nPersistent=true\n"), "{timer}");
    assert!(
        timer.contains(&format!("\nUnit={}.service\n", r.entry_name())),
        "{timer}"
    );
    assert!(
        timer.contains("\n[Install]\nWantedBy=timers.target\n"),
        "{timer}"
    );
    let monthly = run(
        ScheduleTarget::AllProfiles,
        RunTime::Monthly {
            day: 1,
            at: TimeOfDay { hour: 6, minute: 0 },
        },
        "/usr/bin/cw-shared-devices",
    );
    assert!(
        monthly
            .systemd_timer()
            .contains("\nOnCalendar=*-*-01 06:00:00\n")
    );
    assert!(
        monthly
            .systemd_service()
            .contains("\nExecStart=\"/usr/bin/cw-shared-devices\" \"sync\" \"--all-profiles\"\n")
    );
}

#[test]
fn windows_arguments_split_back_as_they_were_given() {
    assert_eq!(windows_quote("sync"), "sync");
    assert_eq!(windows_quote("Acme EU"), "\"Acme EU\"");
    assert_eq!(windows_quote(""), "\"\"");
    assert_eq!(windows_quote("say \"hi\""), r#""say \"hi\"""#);
    assert_eq!(
        windows_quote(r"C:\Program Files\x\"),
        r#""C:\Program Files\x\\""#
    );
    assert_eq!(windows_quote(r#"a\"b c"#), r#""a\\\"b c""#);
    assert_eq!(windows_quote(r"C:\no-space\x.exe"), r"C:\no-space\x.exe");
}

fn child<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> roxmltree::Node<'a, 'a> {
    node.children()
        .find(|c| c.has_tag_name(name))
        .unwrap_or_else(|| panic!("no <{name}> in <{}>", node.tag_name().name()))
}

#[test]
fn windows_task_xml_is_well_formed_with_trigger_and_action() {
    let r = run(
        ScheduleTarget::Profile("R&D <EU>".into()),
        RunTime::Monthly {
            day: 15,
            at: TimeOfDay {
                hour: 23,
                minute: 5,
            },
        },
        r"C:\Users\Ann\AppData\Local\Programs\CW Shared Devices\cw-shared-devices.exe",
    );
    let date = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    let text = r.windows_task_xml(date);
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n"));
    let doc = xml(&text);
    let task = doc.root_element();
    assert!(task.has_tag_name((
        "http://schemas.microsoft.com/windows/2004/02/mit/task",
        "Task"
    )));
    assert_eq!(task.attribute("version"), Some("1.2"));
    let trigger = child(child(task, "Triggers"), "CalendarTrigger");
    assert_eq!(
        child(trigger, "StartBoundary").text(),
        Some("2026-12-02T23:05:00")
    );
    let by_month = child(trigger, "ScheduleByMonth");
    assert_eq!(
        child(child(by_month, "DaysOfMonth"), "Day").text(),
        Some("15")
    );
    assert_eq!(
        child(by_month, "Months")
            .children()
            .filter(|n| n.is_element())
            .count(),
        12
    );
    let exec = child(child(task, "Actions"), "Exec");
    assert_eq!(
        child(exec, "Command").text(),
        Some(r#""C:\Users\Ann\AppData\Local\Programs\CW Shared Devices\cw-shared-devices.exe""#)
    );
    assert_eq!(
        child(exec, "Arguments").text(),
        Some(r#"--profile "R&D <EU>" sync"#)
    );
    assert_eq!(
        child(child(task, "Principals"), "Principal").attribute("id"),
        child(task, "Actions").attribute("Context")
    );
    let daily_xml =
        run(ScheduleTarget::AllProfiles, daily(2, 0), r"C:\cw.exe").windows_task_xml(date);
    let doc = xml(&daily_xml);
    let trigger = child(child(doc.root_element(), "Triggers"), "CalendarTrigger");
    assert_eq!(
        child(child(trigger, "ScheduleByDay"), "DaysInterval").text(),
        Some("1")
    );
}

#[test]
fn launchd_plist_is_well_formed_with_the_keys_launchd_requires() {
    let r = run(
        ScheduleTarget::Profile("R&D".into()),
        RunTime::Monthly {
            day: 3,
            at: TimeOfDay {
                hour: 4,
                minute: 45,
            },
        },
        "/Applications/CW Shared Devices.app/Contents/MacOS/cw-shared-devices",
    );
    let text = r.launchd_plist(Some("/Users/ann/Library/Logs/cw & co.log"));
    let doc = xml(&text);
    let dict = child(doc.root_element(), "dict");
    // A plist dict: <key> then its value, in turn.
    let items: Vec<_> = dict.children().filter(|n| n.is_element()).collect();
    let value = |key: &str| {
        let at = items
            .iter()
            .position(|n| n.has_tag_name("key") && n.text() == Some(key))
            .unwrap_or_else(|| panic!("no key {key}"));
        items[at + 1]
    };
    assert_eq!(value("Label").text(), Some(r.launchd_label().as_str()));
    assert!(r.launchd_label().starts_with(LAUNCHD_LABEL_PREFIX));
    let args: Vec<_> = value("ProgramArguments")
        .children()
        .filter(|n| n.has_tag_name("string"))
        .map(|n| n.text().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "/Applications/CW Shared Devices.app/Contents/MacOS/cw-shared-devices",
            "--profile",
            "R&D",
            "sync"
        ]
    );
    let interval: Vec<_> = value("StartCalendarInterval")
        .children()
        .filter(|n| n.is_element())
        .map(|n| (n.tag_name().name(), n.text().unwrap_or("")))
        .collect();
    assert_eq!(
        interval,
        [
            ("key", "Day"),
            ("integer", "3"),
            ("key", "Hour"),
            ("integer", "4"),
            ("key", "Minute"),
            ("integer", "45")
        ]
    );
    assert_eq!(
        value("StandardErrorPath").text(),
        Some("/Users/ann/Library/Logs/cw & co.log")
    );
    let daily_plist = run(ScheduleTarget::AllProfiles, daily(2, 0), "/x").launchd_plist(None);
    xml(&daily_plist);
    assert!(!daily_plist.contains("<key>Day</key>") && !daily_plist.contains("StandardOutPath"));
}

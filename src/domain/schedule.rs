//! Scheduled runs: when a headless sync runs (daily, or monthly on a day), for which tenants
//! (one profile, or every profile), and the text of the entry each operating system's own
//! scheduler takes for it — a systemd user timer and service, a Task Scheduler task (XML) and a
//! launchd LaunchAgent (property list). Pure: every text is made here, so each is tested on
//! every platform; writing and activating them is the storage layer's.

use std::fmt::Write as _;

/// The name every scheduler entry of this product starts with.
pub const ENTRY_PREFIX: &str = "cw-shared-devices-";

/// The reverse-DNS prefix of the launchd labels (the app's identifier).
pub const LAUNCHD_LABEL_PREFIX: &str = "io.github.cwshareddevices.CwSharedDevices.";

/// Entry names stay well under systemd's 255-byte unit-name limit and Task Scheduler's path
/// limit; longer ones are shortened with a hash of the whole name.
const MAX_SLUG_BYTES: usize = 96;

/// Bad schedule input, naming the flag and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "{field}: \"{text}\" is not a time of day; give HH:MM on the 24-hour clock, from 00:00 to 23:59 (e.g. 02:30)"
    )]
    TimeOfDay { field: &'static str, text: String },
    #[error(
        "{field}: \"{text}\" is not a day of the month; give a day from 1 to 31 (28 or less runs in every month)"
    )]
    DayOfMonth { field: &'static str, text: String },
}

/// A time of day on the local clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
}

impl TimeOfDay {
    /// `HH:MM` (or `H:MM`), 00:00 to 23:59. `field` names the flag in the error.
    pub fn parse(field: &'static str, text: &str) -> Result<Self, ScheduleError> {
        let bad = || ScheduleError::TimeOfDay {
            field,
            text: text.to_owned(),
        };
        let (hour, minute) = text.trim().split_once(':').ok_or_else(bad)?;
        let number = |part: &str, len: std::ops::RangeInclusive<usize>, max: u8| {
            if !len.contains(&part.len()) || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse::<u8>().ok().filter(|n| *n <= max)
        };
        Ok(Self {
            hour: number(hour, 1..=2, 23).ok_or_else(bad)?,
            minute: number(minute, 2..=2, 59).ok_or_else(bad)?,
        })
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

/// Parses a day of the month, 1 to 31. `field` names the flag in the error.
pub fn parse_day_of_month(field: &'static str, text: &str) -> Result<u8, ScheduleError> {
    let trimmed = text.trim();
    trimmed
        .parse::<u8>()
        .ok()
        .filter(|d| (1..=31).contains(d) && trimmed.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| ScheduleError::DayOfMonth {
            field,
            text: text.to_owned(),
        })
}

/// When a scheduled run starts, on the local clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "every", rename_all = "snake_case")]
pub enum RunTime {
    Daily {
        at: TimeOfDay,
    },
    /// On `day` of every month that has it (29 to 31 skip the shorter months).
    Monthly {
        day: u8,
        at: TimeOfDay,
    },
}

impl RunTime {
    /// In words: "daily at 02:30", "monthly on day 1 at 06:00".
    pub fn describe(&self) -> String {
        match self {
            RunTime::Daily { at } => format!("daily at {at}"),
            RunTime::Monthly { day, at } => format!("monthly on day {day} at {at}"),
        }
    }

    /// A warning for a day some months do not have, in the scheduler's own terms.
    pub fn short_month_warning(&self) -> Option<String> {
        match self {
            RunTime::Monthly { day, .. } if *day > 28 => Some(format!(
                "day {day}: months without a day {day} get no run; use 28 or less to run in every month"
            )),
            _ => None,
        }
    }

    fn at(&self) -> TimeOfDay {
        match self {
            RunTime::Daily { at } | RunTime::Monthly { at, .. } => *at,
        }
    }
}

/// Which tenants a scheduled run syncs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "tenants", content = "profile", rename_all = "snake_case")]
pub enum ScheduleTarget {
    /// One profile, by name.
    Profile(String),
    /// Every profile, each in turn (`--all-profiles`).
    AllProfiles,
}

impl ScheduleTarget {
    /// The scheduler entry's name: `cw-shared-devices-profile-<name>` or
    /// `cw-shared-devices-all-profiles`. Only ASCII letters, digits and `-` are kept from the
    /// profile name; every other byte is written `_hh`, so two names never share an entry and
    /// the name is valid for systemd, Task Scheduler and launchd alike.
    pub fn entry_name(&self) -> String {
        match self {
            ScheduleTarget::Profile(name) => format!("{ENTRY_PREFIX}profile-{}", slug(name)),
            ScheduleTarget::AllProfiles => format!("{ENTRY_PREFIX}all-profiles"),
        }
    }

    /// The arguments after the program: the global flag that picks the tenants, then `sync`.
    pub fn arguments(&self) -> Vec<String> {
        match self {
            ScheduleTarget::Profile(name) => {
                vec!["--profile".to_owned(), name.clone(), "sync".to_owned()]
            }
            ScheduleTarget::AllProfiles => vec!["sync".to_owned(), "--all-profiles".to_owned()],
        }
    }

    /// In words: `profile "Acme"`, `every profile`.
    pub fn describe(&self) -> String {
        match self {
            ScheduleTarget::Profile(name) => format!("profile \"{name}\""),
            ScheduleTarget::AllProfiles => "every profile".to_owned(),
        }
    }
}

/// One scheduled headless sync: this program, for these tenants, at this time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScheduledRun {
    pub target: ScheduleTarget,
    pub time: RunTime,
    /// The absolute path of the program the scheduler starts (the one that installed it).
    pub program: String,
}

impl ScheduledRun {
    pub fn entry_name(&self) -> String {
        self.target.entry_name()
    }

    /// The launchd label: the app's identifier and the entry name.
    pub fn launchd_label(&self) -> String {
        format!("{LAUNCHD_LABEL_PREFIX}{}", self.entry_name())
    }

    /// What the entry runs, in words.
    pub fn describe(&self) -> String {
        format!(
            "sync of {}, {}",
            self.target.describe(),
            self.time.describe()
        )
    }

    /// The systemd user service the timer starts: one headless sync, its output in the journal.
    pub fn systemd_service(&self) -> String {
        let mut exec = systemd_quote(&self.program);
        for arg in self.target.arguments() {
            exec.push(' ');
            exec.push_str(&systemd_quote(&arg));
        }
        format!(
            "# Written by cw-shared-devices `schedule install`; remove it with `cw-shared-devices schedule remove`.\n\
             [Unit]\n\
             Description={}\n\
             \n\
             [Service]\n\
             Type=oneshot\n\
             ExecStart={exec}\n\
             # Exit status 3 (partly done) and 1 (failed) mark the run failed in `systemctl --user status`.\n",
            systemd_escape_specifiers(&format!("cw-shared-devices: {}", self.describe()))
        )
    }

    /// The systemd user timer: `OnCalendar` on the local clock; `Persistent` catches up a run
    /// missed while the machine was off.
    pub fn systemd_timer(&self) -> String {
        let at = self.time.at();
        let day = match self.time {
            RunTime::Daily { .. } => "*".to_owned(),
            RunTime::Monthly { day, .. } => format!("{day:02}"),
        };
        format!(
            "# Written by cw-shared-devices `schedule install`; remove it with `cw-shared-devices schedule remove`.\n\
             [Unit]\n\
             Description={}\n\
             \n\
             [Timer]\n\
             OnCalendar=*-*-{day} {:02}:{:02}:00\n\
             Persistent=true\n\
             Unit={}.service\n\
             \n\
             [Install]\n\
             WantedBy=timers.target\n",
            systemd_escape_specifiers(&format!("cw-shared-devices timer: {}", self.describe())),
            at.hour,
            at.minute,
            self.entry_name(),
        )
    }

    /// The Task Scheduler task (schema 1.2, Windows 7 and later) for `schtasks /Create /XML`:
    /// a calendar trigger from `start_date`, run as the user who installed it while they are
    /// logged on (so Credential Manager holds their keys), a missed run started when the
    /// machine is next available, never two at once, stopped after `PT2H`. The declaration
    /// says UTF-16, which is how the file must be written.
    pub fn windows_task_xml(&self, start_date: chrono::NaiveDate) -> String {
        let at = self.time.at();
        let schedule = match self.time {
            RunTime::Daily { .. } => {
                "      <ScheduleByDay>\n        <DaysInterval>1</DaysInterval>\n      </ScheduleByDay>\n"
                    .to_owned()
            }
            RunTime::Monthly { day, .. } => {
                let mut text = format!(
                    "      <ScheduleByMonth>\n        <DaysOfMonth>\n          <Day>{day}</Day>\n        </DaysOfMonth>\n        <Months>\n"
                );
                for month in MONTHS {
                    let _ = writeln!(text, "          <{month} />");
                }
                text.push_str("        </Months>\n      </ScheduleByMonth>\n");
                text
            }
        };
        let arguments = self
            .target
            .arguments()
            .iter()
            .map(|a| windows_quote(a))
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n\
             <Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\n\
             \x20 <RegistrationInfo>\n\
             \x20   <Description>{description}</Description>\n\
             \x20 </RegistrationInfo>\n\
             \x20 <Triggers>\n\
             \x20   <CalendarTrigger>\n\
             \x20     <StartBoundary>{start_date}T{hour:02}:{minute:02}:00</StartBoundary>\n\
             \x20     <Enabled>true</Enabled>\n\
             {schedule}\
             \x20   </CalendarTrigger>\n\
             \x20 </Triggers>\n\
             \x20 <Principals>\n\
             \x20   <Principal id=\"Author\">\n\
             \x20     <LogonType>InteractiveToken</LogonType>\n\
             \x20     <RunLevel>LeastPrivilege</RunLevel>\n\
             \x20   </Principal>\n\
             \x20 </Principals>\n\
             \x20 <Settings>\n\
             \x20   <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>\n\
             \x20   <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>\n\
             \x20   <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>\n\
             \x20   <StartWhenAvailable>true</StartWhenAvailable>\n\
             \x20   <RunOnlyIfNetworkAvailable>true</RunOnlyIfNetworkAvailable>\n\
             \x20   <ExecutionTimeLimit>PT2H</ExecutionTimeLimit>\n\
             \x20   <Enabled>true</Enabled>\n\
             \x20 </Settings>\n\
             \x20 <Actions Context=\"Author\">\n\
             \x20   <Exec>\n\
             \x20     <Command>{command}</Command>\n\
             \x20     <Arguments>{arguments}</Arguments>\n\
             \x20   </Exec>\n\
             \x20 </Actions>\n\
             </Task>\n",
            description = xml_escape(&format!("cw-shared-devices: {}", self.describe())),
            start_date = start_date.format("%Y-%m-%d"),
            hour = at.hour,
            minute = at.minute,
            command = xml_escape(&windows_quote(&self.program)),
            arguments = xml_escape(&arguments),
        )
    }

    /// The launchd LaunchAgent (`~/Library/LaunchAgents/<label>.plist`): the program and its
    /// arguments, a calendar interval on the local clock (launchd runs one missed while the Mac
    /// slept when it wakes). `log_path`, when given, takes stdout and stderr.
    pub fn launchd_plist(&self, log_path: Option<&str>) -> String {
        let at = self.time.at();
        let mut arguments = format!("    <string>{}</string>\n", xml_escape(&self.program));
        for arg in self.target.arguments() {
            let _ = writeln!(arguments, "    <string>{}</string>", xml_escape(&arg));
        }
        let day = match self.time {
            RunTime::Daily { .. } => String::new(),
            RunTime::Monthly { day, .. } => {
                format!("    <key>Day</key>\n    <integer>{day}</integer>\n")
            }
        };
        let log = log_path
            .map(|p| {
                let p = xml_escape(p);
                format!(
                    "  <key>StandardOutPath</key>\n  <string>{p}</string>\n  <key>StandardErrorPath</key>\n  <string>{p}</string>\n"
                )
            })
            .unwrap_or_default();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
             <!-- Written by cw-shared-devices `schedule install`; remove it with `cw-shared-devices schedule remove`. -->\n\
             <plist version=\"1.0\">\n\
             <dict>\n\
             \x20 <key>Label</key>\n\
             \x20 <string>{label}</string>\n\
             \x20 <key>ProgramArguments</key>\n\
             \x20 <array>\n\
             {arguments}\
             \x20 </array>\n\
             \x20 <key>StartCalendarInterval</key>\n\
             \x20 <dict>\n\
             {day}\
             \x20   <key>Hour</key>\n\
             \x20   <integer>{hour}</integer>\n\
             \x20   <key>Minute</key>\n\
             \x20   <integer>{minute}</integer>\n\
             \x20 </dict>\n\
             \x20 <key>RunAtLoad</key>\n\
             \x20 <false/>\n\
             {log}\
             </dict>\n\
             </plist>\n",
            label = xml_escape(&self.launchd_label()),
            hour = at.hour,
            minute = at.minute,
        )
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// ASCII letters, digits and `-` as they are; every other byte as `_hh`. Injective. A result
/// longer than [`MAX_SLUG_BYTES`] is cut and ends with a hash of the whole name.
fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "_{byte:02x}");
        }
    }
    if out.len() > MAX_SLUG_BYTES {
        // Only ASCII was written, so any byte index is a character boundary.
        out.truncate(MAX_SLUG_BYTES - 17);
        let _ = write!(out, "-{:016x}", fnv1a(name.as_bytes()));
    }
    out
}

/// FNV-1a, 64 bits: a stable hash (the standard library's is not stable across releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One word of a systemd command line: double-quoted, with `\` and `"` escaped, and `%`
/// (specifiers) and `$` (variables) doubled so they are taken literally.
fn systemd_quote(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for ch in word.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// Text in a systemd setting that expands specifiers (`Description=`): `%` doubled.
fn systemd_escape_specifiers(text: &str) -> String {
    text.replace('%', "%%")
}

/// One argument as Windows programs split their command line (`CommandLineToArgvW`, the Rust
/// and C runtimes): quoted when it holds a space, tab or quote or is empty; a quote escaped
/// with a backslash, and the backslashes before a quote (or the closing quote) doubled.
pub fn windows_quote(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains([' ', '\t', '"']) {
        return arg.to_owned();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    let mut backslashes = 0usize;
    for ch in arg.chars() {
        match ch {
            '\\' => backslashes += 1,
            '"' => {
                out.push_str(&"\\".repeat(backslashes * 2 + 1));
                out.push('"');
                backslashes = 0;
            }
            other => {
                out.push_str(&"\\".repeat(backslashes));
                out.push(other);
                backslashes = 0;
            }
        }
    }
    out.push_str(&"\\".repeat(backslashes * 2));
    out.push('"');
    out
}

/// Text in XML content or an attribute value.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests;

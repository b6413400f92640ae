//! Scheduled runs on disk: the operating system's scheduler entry for each (systemd user units
//! on Linux, Task Scheduler XML on Windows, a LaunchAgent on macOS), a record of what was
//! installed in `<config_dir>/schedules/` so `schedule show` and `schedule remove` find them
//! again, and the scheduler commands that load, unload and report on them.
//!
//! The entries' text is the domain's ([`crate::domain::schedule`]); this writes and removes it.
//! Every scheduler's code is compiled on every platform; [`Scheduler::platform`] picks one.

use std::path::{Path, PathBuf};

use crate::domain::schedule::{ENTRY_PREFIX, ScheduledRun};

use super::AppDirs;

const RECORD_EXTENSION: &str = "json";

/// A schedule file that could not be written, read or removed.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleStoreError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no home folder was found, so there is nowhere to put the scheduler entry; set HOME")]
    NoHome,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ScheduleStoreError + '_ {
    move |source| ScheduleStoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The scheduler of this platform and where its entries go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheduler {
    /// systemd's user manager: `<name>.service` and `<name>.timer` in `unit_dir`
    /// (`$XDG_CONFIG_HOME/systemd/user`).
    Systemd { unit_dir: PathBuf },
    /// Windows Task Scheduler: the task XML kept in `xml_dir`, registered with `schtasks`.
    TaskScheduler { xml_dir: PathBuf },
    /// launchd: `<label>.plist` in `agents_dir` (`~/Library/LaunchAgents`).
    Launchd {
        agents_dir: PathBuf,
        log_dir: PathBuf,
    },
}

/// A program and its arguments, to run or to show the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerCommand {
    pub program: String,
    pub args: Vec<String>,
    /// A failure of this one is expected and ignored (unloading what may not be loaded).
    pub may_fail: bool,
}

impl SchedulerCommand {
    fn new(program: &str, args: &[&str]) -> Self {
        Self {
            program: program.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            may_fail: false,
        }
    }

    fn allowed_to_fail(mut self) -> Self {
        self.may_fail = true;
        self
    }

    /// As a user would type it (arguments with spaces quoted).
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(|a| {
                if a.contains([' ', '"', '\'']) {
                    format!("\"{}\"", a.replace('"', "\\\""))
                } else {
                    a.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs it and waits; `Err` says how it failed (its own stderr, trimmed).
    pub fn run(&self) -> Result<String, String> {
        let output = std::process::Command::new(&self.program)
            .args(&self.args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", self.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            Ok(stdout)
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let said = if stderr.trim().is_empty() {
                stdout.trim().to_owned()
            } else {
                stderr.trim().to_owned()
            };
            Err(format!("{} ({}): {said}", self.display(), output.status))
        }
    }
}

/// A schedule this product installed, as its record says, with whether its files are there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledSchedule {
    pub run: ScheduledRun,
    /// The scheduler's files, each with whether it still exists.
    pub files: Vec<(PathBuf, bool)>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Record {
    #[serde(flatten)]
    run: ScheduledRun,
    files: Vec<PathBuf>,
}

/// Where schedules are recorded and written.
#[derive(Debug, Clone)]
pub struct ScheduleStore {
    record_dir: PathBuf,
    scheduler: Scheduler,
}

/// The entry's main file (the Task Scheduler XML, the launchd plist) as the tools take it.
fn first_file(files: &[PathBuf]) -> String {
    files
        .first()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Scheduler {
    /// This platform's scheduler, its folders from `dirs` and the user's home.
    pub fn platform(dirs: &AppDirs) -> Result<Self, ScheduleStoreError> {
        if cfg!(windows) {
            return Ok(Scheduler::TaskScheduler {
                xml_dir: dirs.config_dir.join("schedules"),
            });
        }
        let base = directories::BaseDirs::new().ok_or(ScheduleStoreError::NoHome)?;
        if cfg!(target_os = "macos") {
            Ok(Scheduler::Launchd {
                agents_dir: base.home_dir().join("Library").join("LaunchAgents"),
                log_dir: dirs.log_dir(),
            })
        } else {
            // `config_dir` is $XDG_CONFIG_HOME (default ~/.config), where systemd looks too.
            Ok(Scheduler::Systemd {
                unit_dir: base.config_dir().join("systemd").join("user"),
            })
        }
    }

    /// The scheduler's own name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Scheduler::Systemd { .. } => "systemd user timer",
            Scheduler::TaskScheduler { .. } => "Task Scheduler task",
            Scheduler::Launchd { .. } => "launchd LaunchAgent",
        }
    }

    /// The files of a run's entry and their bytes.
    fn files(&self, run: &ScheduledRun, today: chrono::NaiveDate) -> Vec<(PathBuf, Vec<u8>)> {
        let name = run.entry_name();
        match self {
            Scheduler::Systemd { unit_dir } => vec![
                (
                    unit_dir.join(format!("{name}.service")),
                    run.systemd_service().into_bytes(),
                ),
                (
                    unit_dir.join(format!("{name}.timer")),
                    run.systemd_timer().into_bytes(),
                ),
            ],
            Scheduler::TaskScheduler { xml_dir } => vec![(
                xml_dir.join(format!("{name}.xml")),
                utf16le_with_bom(&run.windows_task_xml(today)),
            )],
            Scheduler::Launchd {
                agents_dir,
                log_dir,
            } => {
                let log = log_dir.join(format!("{name}.log"));
                vec![(
                    agents_dir.join(format!("{}.plist", run.launchd_label())),
                    run.launchd_plist(Some(&log.to_string_lossy())).into_bytes(),
                )]
            }
        }
    }

    /// What makes the written entry live.
    pub fn activate_commands(
        &self,
        run: &ScheduledRun,
        files: &[PathBuf],
    ) -> Vec<SchedulerCommand> {
        let name = run.entry_name();
        let first = first_file(files);
        match self {
            Scheduler::Systemd { .. } => vec![
                SchedulerCommand::new("systemctl", &["--user", "daemon-reload"]),
                SchedulerCommand::new(
                    "systemctl",
                    &["--user", "enable", "--now", &format!("{name}.timer")],
                ),
            ],
            Scheduler::TaskScheduler { .. } => vec![SchedulerCommand::new(
                "schtasks",
                &["/Create", "/XML", &first, "/TN", &name, "/F"],
            )],
            Scheduler::Launchd { .. } => vec![
                SchedulerCommand::new("launchctl", &["unload", &first]).allowed_to_fail(),
                SchedulerCommand::new("launchctl", &["load", "-w", &first]),
            ],
        }
    }

    /// What stops an entry before its files are deleted.
    pub fn deactivate_commands(
        &self,
        run: &ScheduledRun,
        files: &[PathBuf],
    ) -> Vec<SchedulerCommand> {
        let name = run.entry_name();
        let first = first_file(files);
        match self {
            Scheduler::Systemd { .. } => vec![
                SchedulerCommand::new(
                    "systemctl",
                    &["--user", "disable", "--now", &format!("{name}.timer")],
                )
                .allowed_to_fail(),
            ],
            Scheduler::TaskScheduler { .. } => vec![
                SchedulerCommand::new("schtasks", &["/Delete", "/TN", &name, "/F"])
                    .allowed_to_fail(),
            ],
            Scheduler::Launchd { .. } => {
                vec![
                    SchedulerCommand::new("launchctl", &["unload", "-w", &first]).allowed_to_fail(),
                ]
            }
        }
    }

    /// What runs after an entry's files are deleted.
    pub fn after_remove_commands(&self) -> Vec<SchedulerCommand> {
        match self {
            Scheduler::Systemd { .. } => vec![
                SchedulerCommand::new("systemctl", &["--user", "daemon-reload"]).allowed_to_fail(),
            ],
            Scheduler::TaskScheduler { .. } | Scheduler::Launchd { .. } => Vec::new(),
        }
    }

    /// What reports an entry's next and last run and the last exit status.
    pub fn status_command(&self, run: &ScheduledRun) -> SchedulerCommand {
        let name = run.entry_name();
        match self {
            Scheduler::Systemd { .. } => SchedulerCommand::new(
                "systemctl",
                &[
                    "--user",
                    "show",
                    &format!("{name}.timer"),
                    &format!("{name}.service"),
                    "--property=NextElapseUSecRealtime,LastTriggerUSec,ExecMainStatus,Result",
                ],
            ),
            Scheduler::TaskScheduler { .. } => {
                SchedulerCommand::new("schtasks", &["/Query", "/TN", &name, "/V", "/FO", "LIST"])
            }
            Scheduler::Launchd { .. } => {
                SchedulerCommand::new("launchctl", &["list", &run.launchd_label()])
            }
        }
    }

    /// The program the commands call, to check it exists before calling it.
    pub fn tool(&self) -> &'static str {
        match self {
            Scheduler::Systemd { .. } => "systemctl",
            Scheduler::TaskScheduler { .. } => "schtasks",
            Scheduler::Launchd { .. } => "launchctl",
        }
    }
}

/// Task Scheduler reads a task XML declared UTF-16 as UTF-16 little-endian with a byte-order mark.
pub fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(2 + text.len() * 2);
    bytes.extend_from_slice(&[0xFF, 0xFE]);
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

impl ScheduleStore {
    pub fn new(dirs: &AppDirs, scheduler: Scheduler) -> Self {
        Self {
            record_dir: dirs.config_dir.join("schedules"),
            scheduler,
        }
    }

    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    fn record_path(&self, entry_name: &str) -> PathBuf {
        self.record_dir
            .join(format!("{entry_name}.{RECORD_EXTENSION}"))
    }

    /// Writes a run's scheduler entry (replacing one of the same name) and its record; returns
    /// the entry's files.
    pub fn write(
        &self,
        run: &ScheduledRun,
        today: chrono::NaiveDate,
    ) -> Result<Vec<PathBuf>, ScheduleStoreError> {
        let mut paths = Vec::new();
        for (path, bytes) in self.scheduler.files(run, today) {
            write_atomically(&path, &bytes)?;
            paths.push(path);
        }
        let record = Record {
            run: run.clone(),
            files: paths.clone(),
        };
        let path = self.record_path(&run.entry_name());
        // A record of plain fields always serialises.
        let json = serde_json::to_vec_pretty(&record).unwrap_or_default();
        write_atomically(&path, &json)?;
        Ok(paths)
    }

    /// Every schedule this product recorded, by entry name; records that cannot be read are
    /// returned apart, as messages.
    pub fn list(&self) -> Result<(Vec<InstalledSchedule>, Vec<String>), ScheduleStoreError> {
        let entries = match std::fs::read_dir(&self.record_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Vec::new(), Vec::new()));
            }
            Err(e) => return Err(io_error(&self.record_dir)(e)),
        };
        let mut found = Vec::new();
        let mut problems = Vec::new();
        for entry in entries {
            let path = entry.map_err(io_error(&self.record_dir))?.path();
            let is_record = path.extension().is_some_and(|e| e == RECORD_EXTENSION)
                && path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(ENTRY_PREFIX));
            if !is_record {
                continue;
            }
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Record>(&b).map_err(|e| e.to_string()))
            {
                Ok(record) => found.push(InstalledSchedule {
                    files: record
                        .files
                        .iter()
                        .map(|f| (f.clone(), f.exists()))
                        .collect(),
                    run: record.run,
                }),
                Err(e) => problems.push(format!(
                    "{}: cannot be read ({e}); delete it if that schedule is gone",
                    path.display()
                )),
            }
        }
        found.sort_by_key(|s| s.run.entry_name());
        Ok((found, problems))
    }

    /// Deletes a schedule's files and its record; returns the files that were there.
    pub fn delete(&self, schedule: &InstalledSchedule) -> Result<Vec<PathBuf>, ScheduleStoreError> {
        let mut removed = Vec::new();
        let record = self.record_path(&schedule.run.entry_name());
        for path in schedule.files.iter().map(|(p, _)| p).chain([&record]) {
            match std::fs::remove_file(path) {
                Ok(()) => removed.push(path.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(path)(e)),
            }
        }
        Ok(removed)
    }
}

/// Writes through a temporary file in the same folder renamed over the target, so a scheduler
/// never reads half an entry. The folder is created if missing (its permissions left as the
/// user's defaults: a systemd or LaunchAgents folder is the user's own).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ScheduleStoreError> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".write-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io_error(dir))?;
    tmp.write_all(bytes).map_err(io_error(path))?;
    tmp.as_file().sync_all().map_err(io_error(path))?;
    tmp.persist(path).map_err(|e| io_error(path)(e.error))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::schedule::{RunTime, ScheduleTarget, TimeOfDay};

    fn run(target: ScheduleTarget) -> ScheduledRun {
        ScheduledRun {
            target,
            time: RunTime::Daily {
                at: TimeOfDay { hour: 2, minute: 0 },
            },
            program: "/usr/bin/cw-shared-devices".into(),
        }
    }

    #[test]
    fn each_scheduler_writes_lists_and_deletes_its_files() {
        let root = tempfile::tempdir().unwrap();
        let dirs = AppDirs::at(root.path());
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        for scheduler in [
            Scheduler::Systemd {
                unit_dir: root.path().join("systemd/user"),
            },
            Scheduler::TaskScheduler {
                xml_dir: root.path().join("config/schedules"),
            },
            Scheduler::Launchd {
                agents_dir: root.path().join("LaunchAgents"),
                log_dir: root.path().join("logs"),
            },
        ] {
            let store = ScheduleStore::new(&dirs, scheduler.clone());
            let a = run(ScheduleTarget::Profile("Acme EU".into()));
            let files = store.write(&a, today).unwrap();
            store
                .write(&run(ScheduleTarget::AllProfiles), today)
                .unwrap();
            // Written again: replaced, not doubled.
            store.write(&a, today).unwrap();
            let (list, problems) = store.list().unwrap();
            assert!(problems.is_empty(), "{problems:?}");
            assert_eq!(list.len(), 2, "{scheduler:?}");
            let listed = list.iter().find(|s| s.run == a).unwrap();
            assert_eq!(
                listed.files,
                files.iter().map(|f| (f.clone(), true)).collect::<Vec<_>>()
            );
            if let Scheduler::TaskScheduler { .. } = scheduler {
                let bytes = std::fs::read(&files[0]).unwrap();
                assert_eq!(&bytes[..4], &[0xFF, 0xFE, b'<', 0]);
            }
            assert!(!scheduler.activate_commands(&a, &files).is_empty());
            let removed = store.delete(listed).unwrap();
            assert_eq!(removed.len(), files.len() + 1);
            assert!(files.iter().all(|f| !f.exists()));
            assert_eq!(store.list().unwrap().0.len(), 1);
        }
    }

    #[test]
    fn commands_name_the_entry() {
        let scheduler = Scheduler::TaskScheduler {
            xml_dir: PathBuf::from(r"C:\x"),
        };
        let a = run(ScheduleTarget::Profile("Acme".into()));
        let cmds = scheduler.activate_commands(&a, &[PathBuf::from(r"C:\x\t.xml")]);
        assert_eq!(
            cmds[0].display(),
            r"schtasks /Create /XML C:\x\t.xml /TN cw-shared-devices-profile-Acme /F"
        );
    }
}

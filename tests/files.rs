//! What the command writes, run as a process: `--csv PATH` lands on what the user named (an
//! existing file keeps its mode, a symlink is followed, a FIFO, `-` and `/dev/stdout` are
//! streamed, other devices refused, errors name the user's path), `--excel` adds the byte-order
//! mark and nothing else; the journal, the log and profiles are the user's alone; profile names
//! that could pass for another are refused.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::command::{Home, Run, SandboxHome, run};
use cw_shared_devices::domain::csv_export::{CsvDelimiter, csv_string};
use cw_shared_devices::sandbox::SandboxConfig;

type Env = SandboxHome;

impl Env {
    fn default_sandbox() -> Self {
        Self::new(SandboxConfig::default())
    }

    fn preview(&self, extra: &[&str]) -> std::process::Command {
        let mut cmd = self.home.cmd();
        cmd.args(["--cw-url", self.sandbox.cw_site_url().as_str(), "preview"])
            .args(extra);
        cmd
    }

    /// The CSV the preview should write, from a `--json` preview of the same tenant.
    fn expected_csv(&self) -> String {
        let out = run(self.preview(&["--json"]));
        assert_eq!(out.code, Some(0), "{out:?}");
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let companies: Vec<cw_shared_devices::domain::counting::CompanyCounts> =
            serde_json::from_value(json["companies"].clone()).unwrap();
        csv_string(&companies, CsvDelimiter::Comma).unwrap()
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn an_existing_file_keeps_its_mode_and_a_symlink_is_followed() {
    let env = Env::default_sandbox();
    let expected = env.expected_csv();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shared.csv");
    std::fs::write(&file, "old").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(env.preview(&["--csv", file.to_str().unwrap()]));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
    assert_eq!(mode(&file), 0o644);

    let link = dir.path().join("latest.csv");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    std::fs::write(&file, "old").unwrap();
    let out = run(env.preview(&["--csv", link.to_str().unwrap()]));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
    assert_eq!(mode(&file), 0o644);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "a file was left behind"
    );
}

#[test]
fn a_fifo_is_streamed_to_and_stays_a_fifo() {
    let env = Env::default_sandbox();
    let expected = env.expected_csv();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (tx, rx) = mpsc::channel();
    let reader_path = fifo.clone();
    // The reader blocks until a writer opens the FIFO; if none ever does, it is left behind.
    std::thread::spawn(move || {
        tx.send(std::fs::read_to_string(&reader_path).unwrap()).ok();
    });
    let out = run(env.preview(&["--csv", fifo.to_str().unwrap()]));
    assert_eq!(out.code, Some(0), "{out:?}");
    let received = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(received, expected);
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn dash_and_dev_stdout_stream_the_csv_alone_to_stdout() {
    let env = Env::default_sandbox();
    let expected = env.expected_csv();
    let cwd = tempfile::tempdir().unwrap();
    for target in ["-", "/dev/stdout"] {
        let mut cmd = env.preview(&["--csv", target]);
        cmd.current_dir(cwd.path());
        let out = run(cmd);
        assert_eq!(out.code, Some(0), "{target}: {out:?}");
        assert_eq!(out.stdout, expected, "{target}");
    }
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "a file named - was created"
    );
    let out = run(env.preview(&["--csv", "-", "--json"]));
    assert_eq!(out.code, Some(2), "{out:?}");
}

#[test]
fn devices_and_folders_are_refused_naming_the_path_and_left_as_they_are() {
    let env = Env::default_sandbox();
    let dir = tempfile::tempdir().unwrap();
    // A /dev/full of our own (char device 1:7): creating it needs root.
    let full = dir.path().join("full");
    let made = std::process::Command::new("mknod")
        .arg(&full)
        .args(["c", "1", "7"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let mut targets = vec![dir.path().to_path_buf()];
    if made {
        targets.push(full.clone());
    } else {
        eprintln!("mknod needs root: the device case runs on /dev/full itself");
        targets.push("/dev/full".into());
    }
    for target in &targets {
        let out = run(env.preview(&["--csv", target.to_str().unwrap()]));
        assert_eq!(out.code, Some(2), "{}: {out:?}", target.display());
        assert!(
            out.stderr.contains(&format!("--csv: {}", target.display())),
            "{}",
            out.stderr
        );
        // Refused before the fetch: no configuration was read.
        assert!(!out.stderr.contains("Fetched"), "{}", out.stderr);
    }
    if made {
        assert!(
            std::fs::symlink_metadata(&full)
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }
}

#[test]
fn write_errors_name_the_users_path_never_a_temporary_file() {
    let env = Env::default_sandbox();
    // A folder whose own name holds no ".tmp", so the check below can see a temporary file's.
    let dir = tempfile::Builder::new().prefix("csv-").tempdir().unwrap();
    let missing = dir.path().join("no-such-folder").join("out.csv");
    let out: Run = run(env.preview(&["--csv", missing.to_str().unwrap()]));
    assert_eq!(out.code, Some(1), "{out:?}");
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap();
    assert!(line.contains(&missing.display().to_string()), "{line}");
    assert!(!line.contains(".tmp"), "{line}");

    // A folder the file cannot be written into: the same, for an existing file's folder.
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    let target = locked.join("out.csv");
    std::fs::write(&target, "old").unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
    let out: Run = run(env.preview(&["--csv", target.to_str().unwrap()]));
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    // Root writes anywhere: then the export simply succeeds.
    if out.code != Some(0) {
        let line = out
            .stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap();
        assert!(line.contains(&target.display().to_string()), "{line}");
        assert!(!line.contains(".tmp"), "{line}");
    }
}

#[test]
fn excel_adds_the_byte_order_mark_and_nothing_else() {
    let env = Env::default_sandbox();
    let expected = env.expected_csv();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("excel.csv");
    let out = run(env.preview(&["--csv", file.to_str().unwrap(), "--excel"]));
    assert_eq!(out.code, Some(0), "{out:?}");
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    assert_eq!(&bytes[3..], expected.as_bytes());
    assert!(expected.starts_with(
        "company_id,company_name,shared_devices,not_shared_devices,total_devices\r\n"
    ));
}

#[test]
fn journal_log_and_profiles_are_the_users_alone() {
    let env = Env::default_sandbox();
    let mut cmd = env.home.cmd();
    cmd.args([
        "--cw-url",
        env.sandbox.cw_site_url().as_str(),
        "--synthesize-url",
        env.sandbox.synthesize_url().as_str(),
        "sync",
    ]);
    let out = run(cmd);
    assert_eq!(out.code, Some(0), "{out:?}");
    let mut cmd = env.home.bare();
    cmd.args(["profile", "create", "Private", "--company-id", "acme"]);
    let out = run(cmd);
    assert_eq!(out.code, Some(0), "{out:?}");

    let data = env.home.data_dir();
    let config = env.home.config_dir();
    for file in [
        env.home.tenant_journal().unwrap(),
        env.home.log_file(),
        config.join("profiles").join("Private.json"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    for dir in [
        data.join("journal"),
        data.join("journal").join("tenants"),
        data.join("logs"),
        config.join("profiles"),
    ] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
}

#[test]
fn profile_names_that_could_pass_for_another_are_refused() {
    let home = Home::new();
    for name in [
        "Acme\u{200B}",
        "Ac\u{202E}me",
        "\u{2066}Acme\u{2069}",
        "Acme\u{FEFF}",
    ] {
        let mut cmd = home.bare();
        cmd.args(["profile", "create", name, "--company-id", "acme"]);
        let out = run(cmd);
        assert_eq!(out.code, Some(2), "{name:?}: {out:?}");
        assert!(
            out.stderr.contains("invisible characters"),
            "{}",
            out.stderr
        );
    }
    let mut cmd = home.bare();
    cmd.args(["profile", "list"]);
    let out = run(cmd);
    assert_eq!(out.stdout, "", "{out:?}");
}

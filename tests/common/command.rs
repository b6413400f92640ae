//! The command as a process, in a private home (its own config and data folders), with the
//! sandbox's six credentials in its environment unless a test changes them; how a run ended;
//! and the scan for secrets in what it printed and wrote.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt as _;
use cw_shared_devices::sandbox::{
    SANDBOX_CLIENT_ID, SANDBOX_COMPANY_ID, SANDBOX_PARTNER_API_KEY, SANDBOX_PRIVATE_KEY,
    SANDBOX_PUBLIC_KEY, SANDBOX_VENDOR_API_KEY, Sandbox,
};

/// The four keys the sandbox accepts; none may appear in any output, log or file.
pub const SECRETS: [&str; 4] = [
    SANDBOX_PUBLIC_KEY,
    SANDBOX_PRIVATE_KEY,
    SANDBOX_VENDOR_API_KEY,
    SANDBOX_PARTNER_API_KEY,
];

pub const ENV_VARS: [&str; 6] = [
    "CW_COMPANY_ID",
    "CW_PUBLIC_KEY",
    "CW_PRIVATE_KEY",
    "CW_CLIENT_ID",
    "SYNTHESIZE_VENDOR_API_KEY",
    "SYNTHESIZE_PARTNER_API_KEY",
];

/// A private home for runs of the command.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The command with this home, no credentials, no colour wishes, stdin closed.
    pub fn bare(&self) -> Command {
        let mut cmd = Command::cargo_bin("cw-shared-devices").unwrap();
        cmd.env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env_remove("NO_COLOR")
            .env("TERM", "xterm-256color")
            .stdin(Stdio::null());
        for var in ENV_VARS {
            cmd.env_remove(var);
        }
        cmd
    }

    /// The command with the sandbox's six credentials set.
    pub fn cmd(&self) -> Command {
        let mut cmd = self.bare();
        cmd.env("CW_COMPANY_ID", SANDBOX_COMPANY_ID)
            .env("CW_PUBLIC_KEY", SANDBOX_PUBLIC_KEY)
            .env("CW_PRIVATE_KEY", SANDBOX_PRIVATE_KEY)
            .env("CW_CLIENT_ID", SANDBOX_CLIENT_ID)
            .env("SYNTHESIZE_VENDOR_API_KEY", SANDBOX_VENDOR_API_KEY)
            .env("SYNTHESIZE_PARTNER_API_KEY", SANDBOX_PARTNER_API_KEY);
        cmd
    }

    /// [`Home::bare`] with `NO_COLOR` set.
    pub fn bare_no_color(&self) -> Command {
        let mut cmd = self.bare();
        cmd.env("NO_COLOR", "1");
        cmd
    }

    /// [`Home::cmd`] with `NO_COLOR` set and no extra CA file.
    pub fn cmd_no_color(&self) -> Command {
        let mut cmd = self.cmd();
        cmd.env("NO_COLOR", "1")
            .env_remove("CW_SHARED_DEVICES_CA_FILE");
        cmd
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data").join("cw-shared-devices")
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config").join("cw-shared-devices")
    }

    /// The journal of the one tenant the runs in this home talked to, once a run opened it
    /// (`<data>/journal/tenants/<tenant key>.jsonl`).
    pub fn tenant_journal(&self) -> Option<PathBuf> {
        let dir = self.data_dir().join("journal").join("tenants");
        let mut journals: Vec<PathBuf> = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        journals.sort();
        journals.into_iter().next()
    }

    pub fn log_file(&self) -> PathBuf {
        self.data_dir().join("logs").join("cw-shared-devices.log")
    }
}

impl Home {
    /// Every file the command wrote under this home, for the secret scan.
    pub fn written_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.dir.path(), &mut out);
        out
    }
}

/// `--cw-url` and `--synthesize-url` pointing at the sandbox.
pub fn url_args(sandbox: &Sandbox) -> [String; 4] {
    [
        "--cw-url".into(),
        sandbox.cw_site_url().to_string(),
        "--synthesize-url".into(),
        sandbox.synthesize_url().to_string(),
    ]
}

/// Fails if `text` holds any of the sandbox's keys or an Authorization header.
pub fn assert_no_secret(text: &str, what: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "a secret appeared in {what}");
    }
    assert!(
        !text.contains("Basic "),
        "an Authorization header appeared in {what}"
    );
}

/// How a run ended.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Self {
        Self {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

pub fn run(mut cmd: Command) -> Run {
    cmd.output().unwrap().into()
}

/// Runs the command with its output captured; fails with `what_hung` if it is still running
/// after `deadline` (the process is killed first).
pub fn run_within(mut cmd: Command, deadline: Duration, what_hung: &str) -> Run {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + deadline;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > until {
            child.kill().ok();
            panic!("{what_hung}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap().into()
}

/// A sandbox and a private home: the command lives in the one and is pointed at the other.
/// Test files add their own views of it (`impl SandboxHome` in the file).
pub struct SandboxHome {
    pub sandbox: Sandbox,
    pub home: Home,
}

impl SandboxHome {
    pub fn new(config: cw_shared_devices::sandbox::SandboxConfig) -> Self {
        Self {
            sandbox: Sandbox::start_in_background(config).unwrap(),
            home: Home::new(),
        }
    }

    /// The command with the sandbox's credentials, no colour, pointed at the sandbox, with `args`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.home.cmd_no_color();
        cmd.args(args).args(url_args(&self.sandbox));
        cmd
    }

    /// Runs [`SandboxHome::cmd`]; fails if a key or an Authorization header was printed.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = run(self.cmd(args));
        assert_no_secret(&out.stdout, "stdout");
        assert_no_secret(&out.stderr, "stderr");
        out
    }

    /// The home's folders as the product names them.
    pub fn dirs(&self) -> cw_shared_devices::storage::AppDirs {
        cw_shared_devices::storage::AppDirs {
            config_dir: self.home.config_dir(),
            data_dir: self.home.data_dir(),
        }
    }
}

//! The command as a process, in a private home (its own config and data folders), with the
//! sandbox's six credentials in its environment unless a test changes them.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

use assert_cmd::cargo::CommandCargoExt as _;
use cw_shared_devices::sandbox::{
    SANDBOX_CLIENT_ID, SANDBOX_COMPANY_ID, SANDBOX_PARTNER_API_KEY, SANDBOX_PRIVATE_KEY,
    SANDBOX_PUBLIC_KEY, SANDBOX_VENDOR_API_KEY,
};

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

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data").join("cw-shared-devices")
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config").join("cw-shared-devices")
    }

    pub fn log_file(&self) -> PathBuf {
        self.data_dir().join("logs").join("cw-shared-devices.log")
    }
}

/// How a run ended.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut cmd: Command) -> Run {
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

//! Where profiles (config dir) and the journal and logs (data dir) live on this platform.

use std::path::{Path, PathBuf};

/// The two folders the product writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDirs {
    /// Profiles live here (`<config_dir>/profiles/*.json`).
    pub config_dir: PathBuf,
    /// The journal and log files live here.
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathsError {
    #[cfg_attr(
        not(windows),
        error(
            "Home folder: no home folder was found, so there is nowhere to keep profiles and history; set HOME (or run as a user with a home folder)"
        )
    )]
    #[cfg_attr(
        windows,
        error(
            "Home folder: Windows gave no application data folder (%APPDATA%), so there is nowhere to keep profiles and history; run as a user with a Windows profile (not a service account without one)"
        )
    )]
    NoHome,
}

impl AppDirs {
    /// The platform's folders for this app: on Linux `$XDG_CONFIG_HOME/cw-shared-devices` and
    /// `$XDG_DATA_HOME/cw-shared-devices` (defaults `~/.config`, `~/.local/share`); on Windows
    /// `%APPDATA%\Gradient\cw-shared-devices\{config,data}`; on macOS
    /// `~/Library/Application Support/com.Gradient.cw-shared-devices`.
    pub fn platform() -> Result<Self, PathsError> {
        let dirs = directories::ProjectDirs::from("com", "Gradient", "cw-shared-devices")
            .ok_or(PathsError::NoHome)?;
        Ok(Self {
            config_dir: dirs.config_dir().to_path_buf(),
            data_dir: dirs.data_dir().to_path_buf(),
        })
    }

    /// Both folders under one root (`<root>/config`, `<root>/data`), for tests and portable use.
    pub fn at(root: impl AsRef<Path>) -> Self {
        let root = root.as_ref();
        Self {
            config_dir: root.join("config"),
            data_dir: root.join("data"),
        }
    }

    pub fn profiles_dir(&self) -> PathBuf {
        self.config_dir.join("profiles")
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.data_dir.join("journal")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn at_puts_everything_under_the_root() {
        let dirs = AppDirs::at("/r");
        assert_eq!(dirs.profiles_dir(), Path::new("/r/config/profiles"));
        assert_eq!(dirs.journal_dir(), Path::new("/r/data/journal"));
        assert_eq!(dirs.log_dir(), Path::new("/r/data/logs"));
    }

    /// Environment variables cannot be set in-process (`set_var` is unsafe and unsafe code is
    /// forbidden), so this test runs itself again as a child with XDG variables set.
    #[cfg(target_os = "linux")]
    #[test]
    fn platform_honours_xdg_variables() {
        const PROBE: &str = "CWSD_TEST_PATHS_PROBE";
        if std::env::var_os(PROBE).is_some() {
            let dirs = AppDirs::platform().unwrap();
            println!("config={}", dirs.config_dir.display());
            println!("data={}", dirs.data_dir.display());
            return;
        }
        let root = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "storage::paths::tests::platform_honours_xdg_variables",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(PROBE, "1")
            .env("HOME", root.path())
            .env("XDG_CONFIG_HOME", root.path().join("cfg"))
            .env("XDG_DATA_HOME", root.path().join("share"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        // The harness prints "test … " before the output on the same line: match line ends.
        let want_config = format!(
            "config={}\n",
            root.path().join("cfg/cw-shared-devices").display()
        );
        let want_data = format!(
            "\ndata={}\n",
            root.path().join("share/cw-shared-devices").display()
        );
        assert!(stdout.contains(&want_config), "{stdout}");
        assert!(stdout.contains(&want_data), "{stdout}");
    }
}

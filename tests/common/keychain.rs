//! A private keychain session: whether the programs for one are installed, and a runtime folder
//! of the child's own so GNOME Keyring never opens the user's keyrings.

use std::path::{Path, PathBuf};

/// Whether `program` is a file in one of the `PATH` folders.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Whether a private Secret Service session can be started here.
pub fn session_available() -> bool {
    on_path("dbus-run-session") && on_path("gnome-keyring-daemon")
}

/// `root/runtime`, created and private to the user (0700), for `XDG_RUNTIME_DIR`.
pub fn private_runtime_dir(root: &Path) -> PathBuf {
    let runtime = root.join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    runtime
}

//! The OS keychain for real: secrets round-trip through a real Secret Service (GNOME Keyring in
//! a private D-Bus session), and a machine without one gets the "not available" words.
//!
//! Needs the Debian packages `dbus` (for `dbus-run-session`) and `gnome-keyring`. Without
//! `dbus-run-session` the round trip is skipped with a notice; everything else must be there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cw_shared_devices::storage::secrets::{
    KeychainStore, Secret, SecretError, SecretName, SecretStore,
};

use common::keychain::{on_path, private_runtime_dir};

/// Set in the child process to say which side of the test it runs.
const ROLE: &str = "CWSD_KEYCHAIN_TEST_ROLE";
const ROUND_TRIP_DONE: &str = "keychain round trip: ok";
const UNAVAILABLE_DONE: &str = "keychain unavailable: ok";

/// Runs a child to completion, killing it if it hangs (a keychain prompt nobody can answer).
fn run_with_deadline(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child process");
    let deadline = Instant::now() + Duration::from_secs(120);
    let hung = loop {
        if child.try_wait().unwrap().is_some() {
            break false;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            break true;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert!(
        !hung,
        "the keychain child hung for 120 s\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Points the child's home, data and runtime folders at a fresh folder, so GNOME Keyring
/// creates its keyring files there: the user's own keyrings are never opened or changed.
fn isolate(cmd: &mut Command, root: &std::path::Path) {
    let runtime = private_runtime_dir(root);
    cmd.env("HOME", root)
        .env("XDG_DATA_HOME", root.join("data"))
        .env("XDG_CONFIG_HOME", root.join("config"))
        .env("XDG_CACHE_HOME", root.join("cache"))
        .env("XDG_RUNTIME_DIR", runtime)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("GNOME_KEYRING_CONTROL");
}

fn this_test(name: &str) -> [String; 4] {
    [
        "--exact".into(),
        name.into(),
        "--nocapture".into(),
        "--test-threads=1".into(),
    ]
}

#[test]
fn secrets_round_trip_through_a_real_secret_service() {
    if std::env::var(ROLE).as_deref() == Ok("round-trip") {
        round_trip_inside_the_session();
        return;
    }
    if !on_path("dbus-run-session") {
        println!(
            "SKIPPED: dbus-run-session is not installed, so there is no Secret Service to test \
             against (apt-get install --no-install-recommends dbus gnome-keyring)"
        );
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("dbus-run-session");
    cmd.args([
        "--",
        "sh",
        "-c",
        // $0 is this test binary; the daemon is unlocked with a throwaway password.
        "echo pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec \"$0\" \"$@\"",
    ])
    .arg(&exe)
    .args(this_test("secrets_round_trip_through_a_real_secret_service"))
    .env(ROLE, "round-trip");
    let root = tempfile::tempdir().unwrap();
    isolate(&mut cmd, root.path());
    let out = run_with_deadline(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(ROUND_TRIP_DONE),
        "the round trip failed (is gnome-keyring installed?)\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
}

fn round_trip_inside_the_session() {
    let store = KeychainStore::open().expect("the Secret Service of this D-Bus session");
    assert!(
        keyring_core::get_default_store().is_some(),
        "open() registers the store"
    );
    let profile = format!("test Ünïcode {:08x}", rand::random::<u32>());
    for name in SecretName::ALL {
        assert_eq!(store.get(&profile, name).unwrap(), None);
        let first = Secret::new(format!("hunter2-{name}-first"));
        store.set(&profile, name, &first).unwrap();
        assert_eq!(store.get(&profile, name).unwrap(), Some(first));
        let second = Secret::new(format!("hunter2-{name}-zweite-✓"));
        store.set(&profile, name, &second).unwrap();
        assert_eq!(store.get(&profile, name).unwrap(), Some(second));
    }
    // Entries are per profile: another profile sees none of them.
    assert_eq!(
        store
            .get("another profile", SecretName::CwPrivateKey)
            .unwrap(),
        None
    );
    // A second handle (a later run of the program) reads the same entries.
    let again = KeychainStore::open().unwrap();
    assert!(
        again
            .get(&profile, SecretName::CwPublicKey)
            .unwrap()
            .is_some()
    );
    for name in SecretName::ALL {
        store.delete(&profile, name).unwrap();
        assert_eq!(store.get(&profile, name).unwrap(), None);
        store.delete(&profile, name).unwrap();
    }
    println!("{ROUND_TRIP_DONE}");
}

#[cfg(all(unix, not(target_os = "macos")))]
#[test]
fn no_secret_service_says_the_keychain_is_not_available() {
    if std::env::var(ROLE).as_deref() == Ok("unavailable") {
        let err = KeychainStore::open().unwrap_err();
        assert!(
            matches!(err, SecretError::KeychainUnavailable { .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.starts_with("the system keychain is not available ("),
            "{msg}"
        );
        assert!(
            msg.ends_with(
                "install and unlock a Secret Service such as GNOME Keyring or KWallet, or continue for this session only"
            ),
            "{msg}"
        );
        println!("{msg}");
        println!("{UNAVAILABLE_DONE}");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(this_test(
        "no_secret_service_says_the_keychain_is_not_available",
    ))
    .env(ROLE, "unavailable")
    // A session bus that is not there: no Secret Service can answer.
    .env(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/cw-shared-devices-test-bus",
    )
    .env("XDG_RUNTIME_DIR", "/nonexistent");
    let out = run_with_deadline(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(UNAVAILABLE_DONE),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Secret Service that is there but locked, with no display to ask for the password: the
/// user gets the "not available" words (and a way on), not a hang.
#[test]
fn a_locked_keychain_says_so_instead_of_hanging() {
    if std::env::var(ROLE).as_deref() == Ok("locked") {
        let store = KeychainStore::open().expect("the session bus answers");
        // Saving needs the keyring unlocked, which needs a prompt nobody can answer.
        let err = store
            .set(
                "any profile",
                SecretName::CwPublicKey,
                &Secret::new("hunter2"),
            )
            .unwrap_err();
        assert!(
            matches!(err, SecretError::KeychainUnavailable { .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("locked"), "{msg}");
        assert!(msg.ends_with("or continue for this session only"), "{msg}");
        println!("{msg}");
        println!("{UNAVAILABLE_DONE}");
        return;
    }
    if !on_path("dbus-run-session") {
        println!("SKIPPED: dbus-run-session is not installed");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("dbus-run-session");
    // Create and unlock a keyring, lock it again over D-Bus, then run the test side: saving
    // needs it unlocked, and the password prompt cannot open without a display.
    cmd.args([
        "--",
        "sh",
        "-c",
        "echo pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; \
         dbus-send --session --dest=org.freedesktop.secrets --type=method_call --print-reply \
           /org/freedesktop/secrets org.freedesktop.Secret.Service.Lock \
           array:objpath:/org/freedesktop/secrets/collection/login >/dev/null; \
         exec \"$0\" \"$@\"",
    ])
    .arg(&exe)
    .args(this_test("a_locked_keychain_says_so_instead_of_hanging"))
    .env(ROLE, "locked");
    let root = tempfile::tempdir().unwrap();
    isolate(&mut cmd, root.path());
    let out = run_with_deadline(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(UNAVAILABLE_DONE),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

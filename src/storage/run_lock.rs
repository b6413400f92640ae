//! One run at a time per tenant: a lock file in the data folder
//! (`<data_dir>/locks/<tenant key>.lock`), held with the operating system's file lock for as
//! long as the run lasts, and the holder's pid beside it (`<tenant key>.pid`) so a second run
//! can say who holds it.
//!
//! The lock is the OS's (`flock` on Unix, `LockFileEx` on Windows, through std's `File::lock`),
//! not the pid file: the OS releases it when the holding process ends however it ends, so a lock
//! left behind by a dead process is simply taken over, and a reused pid can never keep a tenant
//! locked. The pid is written to a separate file because Windows' lock stops other processes
//! from reading the locked file itself.

use std::fs::{File, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::paths::AppDirs;

/// How long a second run waits for the first before giving up.
pub const DEFAULT_RUN_LOCK_WAIT: Duration = Duration::from_secs(5);

/// How often a waiting run tries the lock again.
const RETRY_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum RunLockError {
    /// Another run holds the lock; `pid` is `None` when it could not be read.
    #[error("another run for this tenant is in progress (pid {})", pid_text(*.pid))]
    Busy { pid: Option<u32> },
    #[error(
        "Run lock: could not {action} {path} ({source}); check the data folder's permissions and free space"
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn pid_text(pid: Option<u32>) -> String {
    pid.map_or_else(|| "unknown".to_owned(), |pid| pid.to_string())
}

/// The lock of one tenant, held until dropped.
#[derive(Debug)]
pub struct RunLock {
    /// Holds the OS lock; closing it releases the lock.
    file: File,
    lock_path: PathBuf,
    pid_path: PathBuf,
}

/// The folder of the lock files.
pub fn lock_dir(dirs: &AppDirs) -> PathBuf {
    dirs.data_dir.join("locks")
}

impl RunLock {
    /// Takes the lock of the tenant whose journal key is `tenant_key` (see
    /// `TenantIdentity::journal_key`), waiting up to `wait` for a run that holds it. Blocking:
    /// from async code call it on a blocking thread.
    pub fn acquire(dirs: &AppDirs, tenant_key: &str, wait: Duration) -> Result<Self, RunLockError> {
        Self::acquire_in(&lock_dir(dirs), tenant_key, wait)
    }

    /// As [`RunLock::acquire`], with the lock files in `dir`.
    pub fn acquire_in(dir: &Path, tenant_key: &str, wait: Duration) -> Result<Self, RunLockError> {
        let lock_path = dir.join(format!("{tenant_key}.lock"));
        let pid_path = dir.join(format!("{tenant_key}.pid"));
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| RunLockError::Io {
                action,
                path,
                source,
            }
        };
        super::private::ensure_private_dir(dir).map_err(io("create", dir))?;
        let file =
            super::private::open_private_append(&lock_path).map_err(io("open", &lock_path))?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(RETRY_EVERY);
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(RunLockError::Busy {
                        pid: read_pid(&pid_path),
                    });
                }
                Err(TryLockError::Error(source)) => {
                    return Err(io("lock", &lock_path)(source));
                }
            }
        }
        // Only the holder writes the pid file, so what a waiting run reads is the holder's.
        let mut pid_file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&pid_path)
            .map_err(io("write", &pid_path))?;
        writeln!(pid_file, "{}", std::process::id()).map_err(io("write", &pid_path))?;
        Ok(Self {
            file,
            lock_path,
            pid_path,
        })
    }

    /// The lock file (the OS lock is held on it).
    pub fn path(&self) -> &Path {
        &self.lock_path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // The pid file goes first, while the lock is still held, so it never names a run that
        // has ended. Failures are left: the next holder overwrites the pid, and closing the file
        // releases the lock in any case.
        let _ = std::fs::remove_file(&self.pid_path);
        let _ = self.file.unlock();
    }
}

/// The pid of the run holding a lock, if the pid file can be read.
fn read_pid(pid_path: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_path).ok()?.trim().parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;

    use super::*;

    const KEY: &str = "acme_api-na.myconnectwise.net_app.usegradient.com_org-1_0123456789abcdef";

    #[test]
    fn a_second_taker_waits_then_names_the_holder() {
        let root = tempfile::tempdir().unwrap();
        let dirs = AppDirs::at(root.path());
        let first = RunLock::acquire(&dirs, KEY, Duration::ZERO).unwrap();
        assert!(first.path().starts_with(lock_dir(&dirs)));
        let started = Instant::now();
        let err = RunLock::acquire(&dirs, KEY, Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(
            err.to_string(),
            format!(
                "another run for this tenant is in progress (pid {})",
                std::process::id()
            )
        );
        // Another tenant is not held up.
        RunLock::acquire(&dirs, "other-tenant", Duration::ZERO).unwrap();
        drop(first);
        RunLock::acquire(&dirs, KEY, Duration::ZERO).unwrap();
    }

    #[test]
    fn a_waiting_taker_gets_the_lock_once_the_holder_is_done() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().to_path_buf();
        let first = RunLock::acquire_in(&dir, KEY, Duration::ZERO).unwrap();
        let (tx, rx) = mpsc::channel();
        let waiter = std::thread::spawn(move || {
            tx.send(()).unwrap();
            RunLock::acquire_in(&dir, KEY, Duration::from_secs(10)).map(|_| ())
        });
        rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(250));
        assert!(!waiter.is_finished(), "the waiter took a held lock");
        drop(first);
        waiter.join().unwrap().unwrap();
    }

    #[test]
    fn threads_contending_hold_the_lock_one_at_a_time() {
        let root = tempfile::tempdir().unwrap();
        let inside = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let dir = root.path().to_path_buf();
                let inside = inside.clone();
                std::thread::spawn(move || {
                    let _lock = RunLock::acquire_in(&dir, KEY, Duration::from_secs(20)).unwrap();
                    let now = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    assert_eq!(now, 0, "two holders at once");
                    std::thread::sleep(Duration::from_millis(50));
                    inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    }

    #[test]
    fn an_unreadable_pid_is_reported_as_unknown() {
        let err = RunLockError::Busy { pid: None };
        assert_eq!(
            err.to_string(),
            "another run for this tenant is in progress (pid unknown)"
        );
    }

    #[test]
    fn a_lock_folder_that_cannot_be_made_names_the_path() {
        let root = tempfile::tempdir().unwrap();
        let blocker = root.path().join("data");
        std::fs::write(&blocker, "a file where the folder should be").unwrap();
        let err = RunLock::acquire(&AppDirs::at(root.path()), KEY, Duration::ZERO).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("Run lock: could not create "),
            "{message}"
        );
        assert!(message.contains("locks"), "{message}");
    }

    /// Set for the child process of `another_process_holds_then_dies`: the lock folder.
    const CHILD_DIR_VAR: &str = "CW_RUN_LOCK_TEST_CHILD_DIR";

    /// Not a test of its own: the child process of the test below, run by it.
    #[test]
    #[ignore = "run as a child process by another_process_holds_the_lock_then_dies"]
    fn child_holds_the_lock() {
        let Ok(dir) = std::env::var(CHILD_DIR_VAR) else {
            return;
        };
        let _lock = RunLock::acquire_in(Path::new(&dir), KEY, Duration::ZERO).unwrap();
        println!("locked");
        // Held until the parent kills this process.
        std::thread::sleep(Duration::from_secs(120));
    }

    #[test]
    fn another_process_holds_the_lock_then_dies() {
        let root = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "storage::run_lock::tests::child_holds_the_lock",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR_VAR, root.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut lines = stdout.lines();
        // The harness prints "test <name> ... " first, on the same line.
        assert!(
            lines.any(|line| line.is_ok_and(|l| l.trim_end().ends_with("locked"))),
            "the child never took the lock"
        );

        let err = RunLock::acquire_in(root.path(), KEY, Duration::from_millis(200)).unwrap_err();
        assert!(
            matches!(err, RunLockError::Busy { pid: Some(pid) } if pid == child.id()),
            "{err}"
        );

        // Killed, it leaves its pid file behind: the lock is taken over anyway.
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            read_pid(&root.path().join(format!("{KEY}.pid"))),
            Some(child.id())
        );
        let taken = RunLock::acquire_in(root.path(), KEY, Duration::from_secs(5)).unwrap();
        assert_eq!(
            read_pid(&root.path().join(format!("{KEY}.pid"))),
            Some(std::process::id())
        );
        drop(taken);
        assert_eq!(read_pid(&root.path().join(format!("{KEY}.pid"))), None);
    }
}

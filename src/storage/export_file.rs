//! Writing an export (the CSV) to what the user named, for the command's `--csv` and the
//! window's Export alike:
//!
//! - a new or existing **regular file** is written beside itself and renamed into place, so a
//!   failed export never leaves half a file; an existing file keeps its permissions, a new one
//!   gets the user's usual ones (the umask), and a read-only file is refused, not replaced;
//! - a **symlink** is followed: its target is written, and the link stays a link;
//! - a **FIFO**, a terminal, the null device, or the very file our stdout or stderr is (so
//!   `/dev/stdout` works), is **streamed** to as it is;
//! - anything else (a folder, a block device, another character device such as `/dev/full`,
//!   a socket) is **refused** before a byte is written.
//!
//! Every error names the path the user gave, never a temporary file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// How an export reached its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// A regular file, written whole and renamed into place.
    File,
    /// Streamed to a FIFO, a terminal or a device that accepts writes.
    Stream,
}

/// Why an export was not written, naming the user's path.
#[derive(Debug, thiserror::Error)]
pub enum ExportFileError {
    /// The destination is not something an export can be written to: a usage error.
    #[error("{path}: {reason}")]
    Refused { path: String, reason: String },
    #[error("could not write {path}: {reason}")]
    Io { path: String, reason: String },
}

impl ExportFileError {
    fn refused(path: &Path, reason: impl Into<String>) -> Self {
        Self::Refused {
            path: path.display().to_string(),
            reason: reason.into(),
        }
    }

    fn io(path: &Path, err: &io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            reason: plain_io_reason(err),
        }
    }
}

/// An I/O error's words without any path a library may have put in them (a temporary file's
/// name means nothing to the user).
fn plain_io_reason(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code).to_string(),
        None => err.kind().to_string(),
    }
}

/// Symlinks followed before the chain counts as a loop (Linux's own limit).
const MAX_SYMLINK_HOPS: usize = 40;

/// Where a chain of symlinks ends (the final target need not exist yet).
fn follow_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINK_HOPS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) if target.is_relative() => parent.join(target),
                    _ => target,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// What writing to a path will do.
#[derive(Debug)]
enum Destination {
    /// A regular file (new, or existing with these permissions), at the end of any symlinks.
    File {
        target: PathBuf,
        keep: Option<std::fs::Permissions>,
    },
    Stream,
}

fn destination(path: &Path) -> Result<Destination, ExportFileError> {
    // The kernel follows the links here, /proc's magic ones (`/dev/stdout`) included.
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            let target = std::fs::canonicalize(path).map_err(|e| ExportFileError::io(path, &e))?;
            // Refuse what the user could not write either, instead of renaming over it.
            OpenOptions::new()
                .write(true)
                .open(&target)
                .map_err(|e| ExportFileError::io(path, &e))?;
            Ok(Destination::File {
                target,
                keep: Some(meta.permissions()),
            })
        }
        Ok(meta) if meta.is_dir() => Err(ExportFileError::refused(
            path,
            "it is a folder; name a file inside it, such as shared-devices.csv",
        )),
        Ok(meta) if streamable(&meta) => Ok(Destination::Stream),
        Ok(_) => Err(ExportFileError::refused(
            path,
            "it is a device or socket, not a file; name a regular file, a pipe, or - for standard output",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // A new file, or the missing target of a symlink: create it where the link points.
            let target = follow_symlinks(path).map_err(|e| ExportFileError::io(path, &e))?;
            // The folder must be there already (the rename would fail after all the work).
            let dir = target.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(dir) = dir {
                std::fs::metadata(dir).map_err(|e| ExportFileError::io(path, &e))?;
            }
            Ok(Destination::File { target, keep: None })
        }
        Err(e) => Err(ExportFileError::io(path, &e)),
    }
}

/// Checks, before the work that produces the export, that `path` is somewhere it can go.
pub fn check_destination(path: &Path) -> Result<(), ExportFileError> {
    destination(path).map(drop)
}

/// Writes `bytes` to what `path` names (see the module comment).
pub fn write_export(path: &Path, bytes: &[u8]) -> Result<Written, ExportFileError> {
    match destination(path)? {
        Destination::File { target, keep } => {
            write_replacing(path, &target, keep, bytes)?;
            Ok(Written::File)
        }
        Destination::Stream => {
            stream(path, bytes)?;
            Ok(Written::Stream)
        }
    }
}

/// FIFOs, terminals, the null device, and whatever our own stdout or stderr is.
#[cfg(unix)]
fn streamable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
    let kind = meta.file_type();
    if kind.is_fifo() {
        return true;
    }
    if !kind.is_char_device() {
        return false;
    }
    let same = |other: std::io::Result<std::fs::Metadata>| {
        other.is_ok_and(|o| o.dev() == meta.dev() && o.ino() == meta.ino())
    };
    // Linux device numbers: 1:3 is /dev/null; majors 4 and 5 are the virtual consoles,
    // serial lines and /dev/tty; 136–143 are pseudo-terminals.
    let major = (meta.rdev() >> 8) & 0xfff;
    let is_terminal = cfg!(target_os = "linux") && matches!(major, 4 | 5 | 136..=143);
    let is_null = std::fs::metadata("/dev/null").is_ok_and(|n| n.rdev() == meta.rdev());
    is_null
        || is_terminal
        || same(std_stream_metadata(StdStream::Out))
        || same(std_stream_metadata(StdStream::Err))
}

#[cfg(not(unix))]
fn streamable(_meta: &std::fs::Metadata) -> bool {
    false
}

#[cfg(unix)]
#[derive(Debug, Clone, Copy)]
enum StdStream {
    Out,
    Err,
}

/// The metadata of the file behind our stdout or stderr (a pipe, a terminal, a file).
#[cfg(unix)]
fn std_stream_metadata(which: StdStream) -> io::Result<std::fs::Metadata> {
    use std::os::fd::AsFd as _;
    let fd = match which {
        StdStream::Out => io::stdout().as_fd().try_clone_to_owned()?,
        StdStream::Err => io::stderr().as_fd().try_clone_to_owned()?,
    };
    File::from(fd).metadata()
}

/// Whether `path` is the very file our stdout writes to (`/dev/stdout`, `/dev/fd/1`, or the
/// file stdout was redirected to), so the caller can keep other output off it.
pub fn is_stdout(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        match (std::fs::metadata(path), std_stream_metadata(StdStream::Out)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

fn stream(path: &Path, bytes: &[u8]) -> Result<(), ExportFileError> {
    let mut out = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| ExportFileError::io(path, &e))?;
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| ExportFileError::io(path, &e))
}

/// Writes a hidden file beside `target`, gives it `keep` (an existing file's permissions) and
/// renames it over `target`. The hidden file is removed if anything fails.
fn write_replacing(
    path: &Path,
    target: &Path,
    keep: Option<std::fs::Permissions>,
    bytes: &[u8],
) -> Result<(), ExportFileError> {
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp_path, mut tmp) =
        create_sibling(dir, &name).map_err(|e| ExportFileError::io(path, &e))?;
    let written = tmp
        .write_all(bytes)
        .and_then(|()| tmp.sync_all())
        .and_then(|()| match keep {
            Some(permissions) => tmp.set_permissions(permissions),
            None => Ok(()),
        })
        .and_then(|()| {
            drop(tmp);
            std::fs::rename(&tmp_path, target)
        });
    written.map_err(|e| {
        // The hidden file is ours and useless now; failing to remove it changes nothing.
        std::fs::remove_file(&tmp_path).ok();
        ExportFileError::io(path, &e)
    })
}

/// A new hidden file in `dir`, with the permissions a new file of the user's gets.
fn create_sibling(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let mut last = None;
    for _ in 0..16 {
        let candidate = dir.join(format!(".{name}.{:08x}.tmp", rand::random::<u32>()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            // The umask then takes its usual share, as for any file the user creates.
            options.mode(0o666);
        }
        match options.open(&candidate) {
            Ok(file) => return Ok((candidate, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)))
}

#[cfg(all(test, unix))]
mod tests;

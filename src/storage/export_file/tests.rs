//! Unit tests (Unix: they check file modes).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;

use super::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn an_existing_file_keeps_its_mode_and_a_symlink_stays_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.csv");
    std::fs::write(&file, "old").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(write_export(&file, b"new").unwrap(), Written::File);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
    assert_eq!(mode(&file), 0o640);

    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink("out.csv", &link).unwrap();
    write_export(&link, b"via link").unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "via link");

    let dangling = dir.path().join("dangling.csv");
    std::os::unix::fs::symlink("made-by-export.csv", &dangling).unwrap();
    write_export(&dangling, b"x").unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("made-by-export.csv")).unwrap(),
        "x"
    );
    // Nothing is left behind beside them.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn folders_devices_and_read_only_files_are_refused_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let err = write_export(dir.path(), b"x").unwrap_err();
    assert!(matches!(err, ExportFileError::Refused { .. }), "{err}");
    assert!(err.to_string().contains(&dir.path().display().to_string()));
    let missing = dir.path().join("nope/out.csv");
    let err = write_export(&missing, b"x").unwrap_err().to_string();
    assert!(
        err.contains("nope/out.csv") && !err.contains(".out.csv."),
        "{err}"
    );
    if Path::new("/dev/full").exists() {
        let err = write_export(Path::new("/dev/full"), b"x").unwrap_err();
        assert!(matches!(err, ExportFileError::Refused { .. }), "{err}");
    }
    assert_eq!(
        write_export(Path::new("/dev/null"), b"x").unwrap(),
        Written::Stream
    );
}

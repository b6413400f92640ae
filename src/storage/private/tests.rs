//! Unit tests (Unix: they check file modes).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;

use super::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn new_folders_and_files_are_private_and_old_ones_are_tightened() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("a/b");
    ensure_private_dir(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&root.path().join("a")), 0o700);
    let file = dir.join("x.log");
    drop(open_private_append(&file).unwrap());
    assert_eq!(mode(&file), 0o600);

    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    ensure_private_dir(&dir).unwrap();
    drop(open_private_append(&file).unwrap());
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&file), 0o600);
}

#[test]
fn written_files_are_private_and_replaced_whole() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("reports/r.html");
    write_private_file(&file, b"one").unwrap();
    write_private_file(&file, b"two").unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), b"two");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&root.path().join("reports")), 0o700);
    assert_eq!(
        std::fs::read_dir(root.path().join("reports"))
            .unwrap()
            .count(),
        1
    );
}

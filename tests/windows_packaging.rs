//! The Windows installer's inputs stay consistent with the crate and the README: the NSIS script
//! names the product and publisher `Cargo.toml` gives, installs per user without elevation where
//! the README says, and never ships the test-only Wine shim. CI builds the installer and installs
//! it under Wine (packaging/windows/check-wine.sh); these catch the same mistakes in seconds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

fn read_text(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

/// The value of `key = "value"` in the `[package.metadata.packager]` table of Cargo.toml.
fn packager_value(key: &str) -> String {
    let manifest = read_text("Cargo.toml");
    let table = manifest
        .split("[package.metadata.packager]")
        .nth(1)
        .expect("Cargo.toml has a [package.metadata.packager] table");
    table
        .lines()
        .take_while(|l| !l.starts_with('['))
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| panic!("[package.metadata.packager] has no {key}"))
}

/// The value of `!define NAME "value"` in installer.nsi.
fn nsi_define(nsi: &str, name: &str) -> String {
    let prefix = format!("!define {name} ");
    nsi.lines()
        .find_map(|l| l.trim().strip_prefix(&prefix))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("installer.nsi has no !define {name}"))
}

#[test]
fn installer_names_the_product_and_publisher_of_cargo_toml() {
    let nsi = read_text("packaging/windows/installer.nsi");
    assert_eq!(
        nsi_define(&nsi, "PRODUCT_NAME"),
        packager_value("productName")
    );
    assert_eq!(nsi_define(&nsi, "PUBLISHER"), packager_value("publisher"));
}

#[test]
fn installer_is_per_user_without_elevation_where_the_readme_says() {
    let nsi = read_text("packaging/windows/installer.nsi");
    assert!(nsi.contains("RequestExecutionLevel user"));
    assert!(nsi.contains(r#"InstallDir "$LOCALAPPDATA\Programs\${PRODUCT_NAME}""#));
    assert!(
        !nsi.contains("HKLM"),
        "a per-user install writes nothing machine-wide"
    );
    let readme = read_text("README.md");
    let folder = format!(
        r"%LOCALAPPDATA%\Programs\{}\",
        packager_value("productName")
    );
    assert!(
        readme.contains(&folder),
        "README.md should say the installer puts the program in {folder}"
    );
}

#[test]
fn installer_never_ships_the_wine_shim() {
    let nsi = read_text("packaging/windows/installer.nsi");
    assert!(!nsi.to_ascii_lowercase().contains("bcryptprimitives"));
    let file_lines: Vec<&str> = nsi
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("File "))
        .collect();
    assert_eq!(
        file_lines,
        [r#"File "/oname=${EXE_NAME}" "${EXE}""#],
        "the installer ships the exe alone (the uninstaller is written by WriteUninstaller)"
    );
}

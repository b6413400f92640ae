//! The installer inputs stay consistent with the crate: the AppStream metainfo lists this
//! version, the desktop entry and metainfo agree on the app id, the icons have the sizes their
//! names claim, and every file the .deb ships exists. CI builds and installs the .deb itself
//! (packaging/ci-deb.sh); these catch the same mistakes in seconds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

const APP_ID: &str = "io.github.cwshareddevices.CwSharedDevices";
const ICON_SIZES_PX: [u32; 8] = [16, 24, 32, 48, 64, 128, 256, 512];

fn project_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read_text(relative: &str) -> String {
    std::fs::read_to_string(project_file(relative))
        .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

#[test]
fn metainfo_lists_this_version_as_a_release() {
    let metainfo = read_text(&format!("packaging/linux/{APP_ID}.metainfo.xml"));
    let release = format!("<release version=\"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(
        metainfo.contains(&release),
        "add {release} date=\"YYYY-MM-DD\"/> to the <releases> of the metainfo"
    );
}

#[test]
fn desktop_entry_and_metainfo_name_the_same_app() {
    let desktop = read_text(&format!("packaging/linux/{APP_ID}.desktop"));
    let line = |key: &str| {
        desktop
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("the desktop entry has no {key} line"))
            .to_owned()
    };
    assert_eq!(line("Icon="), APP_ID);
    assert_eq!(line("StartupWMClass="), APP_ID);
    assert_eq!(line("Exec="), env!("CARGO_PKG_NAME"));

    let metainfo = read_text(&format!("packaging/linux/{APP_ID}.metainfo.xml"));
    assert!(metainfo.contains(&format!("<id>{APP_ID}</id>")));
    assert!(metainfo.contains(&format!(
        "<launchable type=\"desktop-id\">{APP_ID}.desktop</launchable>"
    )));
    assert!(metainfo.contains(&format!("<binary>{}</binary>", env!("CARGO_PKG_NAME"))));
    assert!(metainfo.contains("<screenshot type=\"default\">"));
}

/// Width and height from a PNG's IHDR chunk, which the format puts first.
fn png_size_px(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !bytes.starts_with(SIGNATURE) || bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let be = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    Some((be(16)?, be(20)?))
}

#[test]
fn icons_have_the_sizes_their_names_claim() {
    for size in ICON_SIZES_PX {
        let name = format!("assets/icon-{size}.png");
        let bytes = std::fs::read(project_file(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(png_size_px(&bytes), Some((size, size)), "{name}");
    }
    let ico = std::fs::read(project_file("assets/icon.ico")).unwrap_or_else(|e| panic!("{e}"));
    // ICONDIR: reserved 0, type 1 (icon), then the number of images.
    assert_eq!(ico.get(0..4), Some(&[0u8, 0, 1, 0][..]), "assets/icon.ico");
}

#[test]
fn every_file_the_deb_ships_exists() {
    let manifest = read_text("Cargo.toml");
    let deb_section = manifest
        .split("[package.metadata.deb]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .unwrap_or_else(|| panic!("Cargo.toml has no [package.metadata.deb]"));
    let sources: Vec<&str> = deb_section
        .lines()
        .filter_map(|l| l.trim().strip_prefix("[\""))
        .filter_map(|l| l.split('"').next())
        // cargo-deb builds these; target/release/ stands for the chosen profile's directory.
        .filter(|source| !source.starts_with("target/release/"))
        .collect();
    assert!(
        sources.len() > 10,
        "found only {sources:?} in the deb assets"
    );
    for source in sources {
        assert!(
            project_file(source).is_file(),
            "deb asset {source} does not exist"
        );
    }
    for size in ICON_SIZES_PX {
        let dest = format!("usr/share/icons/hicolor/{size}x{size}/apps/{APP_ID}.png");
        assert!(
            deb_section.contains(&dest),
            "the deb does not install {dest}"
        );
    }
}

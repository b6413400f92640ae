//! Build script: when the target is Windows, embeds the icon, product name and version into the
//! executable, so Explorer, the installer's Start-menu shortcut and "Installed apps" show them.
//! For any other target it does nothing (a Linux build needs no Windows tools).
//!
//! The resource compiler is the one for the *target*: `rc.exe` (Windows SDK) with the MSVC
//! toolchain, MinGW-w64's `windres` with the GNU toolchain. Cross-building from Linux,
//! winresource calls `x86_64-w64-mingw32-windres` and `x86_64-w64-mingw32-ar` (Debian's
//! `binutils-mingw-w64-x86-64`); `WINDRES` and `AR` override them.

/// Shown as the product name in Explorer's file properties and in "Installed apps".
const PRODUCT_NAME: &str = "CW Shared Devices";

fn main() {
    println!("cargo::rerun-if-changed=packaging/windows/build.rs");
    println!("cargo::rerun-if-changed=assets/icon.ico");
    println!("cargo::rerun-if-env-changed=WINDRES");
    // The script runs on the host; the target comes from Cargo's environment.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows") {
        embed_resources();
    }
}

fn embed_resources() {
    let icon = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/icon.ico");
    // FileVersion and ProductVersion come from CARGO_PKG_VERSION (winresource's defaults).
    let mut resource = winresource::WindowsResource::new();
    resource
        .set_icon(&icon.to_string_lossy())
        .set("ProductName", PRODUCT_NAME)
        .set("FileDescription", PRODUCT_NAME)
        .set(
            "LegalCopyright",
            "Copyright (c) 2026 cw-shared-devices developers",
        );
    if let Err(error) = resource.compile() {
        let host_is_windows = std::env::var("HOST").is_ok_and(|host| host.contains("windows"));
        let fix = if host_is_windows {
            "install the Windows SDK (rc.exe) with the MSVC toolchain, or MinGW-w64 (windres) \
             with the GNU toolchain"
        } else {
            "install MinGW-w64's binutils (Debian: apt-get install binutils-mingw-w64-x86-64), \
             or set WINDRES to a windres for this target"
        };
        eprintln!("could not embed the Windows icon and version resource ({error}); {fix}");
        std::process::exit(1);
    }
}

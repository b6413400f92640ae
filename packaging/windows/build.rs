//! Build script: on Windows, embeds the icon, product name and version into the executable, so
//! Explorer, the installer's Start-menu shortcut and "Installed apps" show them. Elsewhere it
//! does nothing.

fn main() {
    println!("cargo::rerun-if-changed=packaging/windows/build.rs");
    println!("cargo::rerun-if-changed=assets/icon.ico");
    // The script runs on the host, so `cfg(windows)` says where it runs; the target comes from
    // Cargo's environment.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows") {
        resources::embed();
    }
}

#[cfg(windows)]
mod resources {
    /// Shown as the product name in Explorer's file properties and in "Installed apps".
    const PRODUCT_NAME: &str = "CW Shared Devices";

    pub fn embed() {
        let icon = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/icon.ico");
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
            eprintln!(
                "could not embed the Windows icon and version resource ({error}); install the \
                 Windows SDK (rc.exe) with the MSVC toolchain, or MinGW-w64 (windres) with the \
                 GNU toolchain"
            );
            std::process::exit(1);
        }
    }
}

#[cfg(not(windows))]
mod resources {
    /// Cross-compiling for Windows from another OS: the resource compiler is the host's, and the
    /// installers are built on Windows anyway (packaging/README.md).
    pub fn embed() {
        println!(
            "cargo::warning=built for Windows on another OS: no icon or version resource in the \
             .exe; build the installer on Windows (packaging/README.md)"
        );
    }
}

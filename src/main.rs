//! The `cw-shared-devices` binary: the window with no subcommand, the headless command otherwise.

// On Windows a console-subsystem program started from the Start menu opens an empty console
// window behind its own; the GUI subsystem does not. `attach_parent_console` gives the headless
// subcommands their terminal back.
#![cfg_attr(windows, windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    #[cfg(windows)]
    attach_parent_console();
    cw_shared_devices::cli::main()
}

/// Sends stdout and stderr to the console of the terminal that started us, if any.
///
/// A GUI-subsystem program gets no console: without this, `cw-shared-devices preview` typed in
/// PowerShell or cmd would print nothing. Started from the Start menu or by Task Scheduler there
/// is no parent console; the call then fails harmlessly and the window needs none. When a caller
/// redirected the output (`> out.txt`, a pipe), the handles it gave us are kept as they are.
#[cfg(windows)]
#[allow(unsafe_code)]
fn attach_parent_console() {
    use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
    use windows_sys::Win32::System::Console::{
        ATTACH_PARENT_PROCESS, AttachConsole, GetStdHandle, STD_ERROR_HANDLE, STD_HANDLE,
        STD_OUTPUT_HANDLE,
    };
    let is_set = |which: STD_HANDLE| {
        // SAFETY: GetStdHandle takes a plain integer, writes no memory of ours and returns the
        // handle by value (null when the parent gave us none).
        let handle = unsafe { GetStdHandle(which) };
        !handle.is_null() && handle != INVALID_HANDLE_VALUE
    };
    if !is_set(STD_OUTPUT_HANDLE) && !is_set(STD_ERROR_HANDLE) {
        // SAFETY: AttachConsole takes a plain integer and writes no memory of ours; failure (no
        // parent console) is reported by its return value, which needs no handling here.
        unsafe {
            AttachConsole(ATTACH_PARENT_PROCESS);
        }
    }
}

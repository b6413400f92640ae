//! The `cw-shared-devices` binary: the window with no subcommand (or `demo`), the headless
//! command otherwise. The two front ends are peers; this picks one.

// On Windows a console-subsystem program started from the Start menu opens an empty console
// window behind its own; the GUI subsystem does not. `attach_parent_console` gives the headless
// subcommands their terminal back.
#![cfg_attr(windows, windows_subsystem = "windows")]

use std::process::ExitCode;

use cw_shared_devices::cli::{self, Command, Outcome};
use cw_shared_devices::ui;

fn main() -> ExitCode {
    #[cfg(windows)]
    attach_parent_console();
    let args = match cli::parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let _log_guard = cli::start_logging(&args.global);
    let outcome = match args.command {
        None => window(ui::run_window()),
        Some(Command::Demo) => window(ui::run_demo()),
        Some(command) => cli::run(command, &args.global),
    };
    ExitCode::from(outcome.code())
}

/// How the window ended, as the exit status.
fn window(result: Result<(), ui::UiError>) -> Outcome {
    match result {
        Ok(()) => Outcome::Done,
        Err(e) => {
            eprintln!("error: {e}");
            Outcome::Failed
        }
    }
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

//! Opens the demo window (the same as `cw-shared-devices demo`), for screenshots and trying the
//! window before the command line opens it.

fn main() -> std::process::ExitCode {
    match cw_shared_devices::ui::run_demo() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

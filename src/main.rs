//! The `cw-shared-devices` binary: the window with no subcommand, the headless command otherwise.

fn main() -> std::process::ExitCode {
    cw_shared_devices::cli::main()
}

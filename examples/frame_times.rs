//! Prints the window's frame times while scrolling a 5,000-row preview (headless), for the
//! benchmark: `cargo run --example frame_times [ROWS] [FRAMES]`.

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let rows = args.next().and_then(|a| a.parse().ok()).unwrap_or(5000);
    let frames = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    match cw_shared_devices::ui::bench::measure_scroll_frames(rows, frames) {
        Ok(times) => {
            println!("{times}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

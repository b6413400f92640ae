//! cw-shared-devices: counts shared and not shared license devices per company in ConnectWise PSA
//! and syncs them into Synthesize, as a desktop window and a headless command.

pub mod api;
pub mod bench_support;
pub mod cli;
pub mod domain;
pub mod engine;
pub mod logging;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod storage;
pub mod ui;
pub mod worker;

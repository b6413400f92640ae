//! The rigs the integration tests share, in one copy: the command run as a process in a private
//! home, what a tenant in the sandbox holds and counts, quick HTTP settings for the clients, a
//! private keychain session, a misbehaving HTTP server, and the window in a test harness.
//!
//! Each test file takes what it needs with `mod common;`; the rest is unused there.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod command;
pub mod hostile_server;
pub mod http;
pub mod keychain;
pub mod tenant;
pub mod window;

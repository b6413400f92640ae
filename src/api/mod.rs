//! HTTP clients for ConnectWise PSA and Synthesize, speaking the APIs as `apis.md` describes.

pub mod connectwise;
pub mod error;
pub mod http;
pub mod pace;
pub mod retry;
pub mod synthesize;

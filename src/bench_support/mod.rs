//! Benchmark support, not product code: what the `msp_scale` benchmark measures with the
//! product's own engine and window against the embedded sandbox. Nothing in the product calls it.

#[cfg(feature = "sandbox")]
pub mod usage_sync;
pub mod window_frames;

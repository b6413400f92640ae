//! Pure product logic: the counting rule, CSV export, sync planning. No I/O.

pub mod columns;
pub mod configuration;
pub mod counting;
pub mod csv_export;
pub mod printable;
pub mod settings;
pub mod sync_plan;

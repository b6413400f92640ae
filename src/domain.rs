//! Pure product logic: the counting rule, CSV export, sync planning, billing safety. No I/O.

pub mod adjustments;
pub mod columns;
pub mod company_status;
pub mod configuration;
pub mod counting;
pub mod csv_export;
pub mod notify;
pub mod printable;
pub mod report;
pub mod safety;
pub mod schedule;
pub mod settings;
pub mod sync_plan;

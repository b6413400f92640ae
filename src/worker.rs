//! Background jobs, progress and cancellation (not built yet).

//! The egui window (not built yet).

//! Profiles, secrets and the sync journal (not built yet).

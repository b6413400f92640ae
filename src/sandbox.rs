//! The embedded loopback sandbox of ConnectWise PSA and Synthesize (not built yet).

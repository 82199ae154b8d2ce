//! Item addressing: a request path after its version prefix.
#![no_main]
libfuzzer_sys::fuzz_target!(|path: &str| graphdrive_graph::fuzzing::address(path));

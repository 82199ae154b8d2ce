//! The JSON bodies of PATCH, POST children, createUploadSession and copy.
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| graphdrive_graph::fuzzing::bodies(bytes));

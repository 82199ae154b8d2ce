//! `Range` (against a file size) and `Content-Range` headers.
#![no_main]
libfuzzer_sys::fuzz_target!(|input: (u64, &str)| {
    let (size, header) = input;
    graphdrive_graph::fuzzing::range(header, size % (1 << 40));
    graphdrive_graph::fuzzing::content_range(header);
});

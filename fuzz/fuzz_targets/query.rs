//! OData query options: `$top`, `$select`, `$expand`, `$orderby`, `$skiptoken`, conflict behaviour.
#![no_main]
libfuzzer_sys::fuzz_target!(|raw: &str| graphdrive_graph::fuzzing::query(raw));

//! Item names: a name that passes validation has a key, and keying a key changes nothing.
#![no_main]
use graphdrive_drive::names;

libfuzzer_sys::fuzz_target!(|name: &str| {
    if names::validate(name).is_ok() {
        assert!(!names::key(name).is_empty(), "{name:?} has an empty key");
        assert_eq!(names::key(&names::key(name)), names::key(name), "{name:?}");
    }
    let _ = names::validate_path_length(name.split('/'));
});

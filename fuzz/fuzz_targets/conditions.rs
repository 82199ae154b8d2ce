//! `If-Match` / `If-None-Match` values and item ids: a tag matches only the item's own eTag or
//! cTag (or `*`), and an id that parses prints back as itself.
#![no_main]
use graphdrive_drive::ids;
use graphdrive_storage::metadata::ItemRecord;

fn item(id: i64) -> ItemRecord {
    ItemRecord {
        id,
        drive_id: "b!fuzz".into(),
        parent_id: None,
        name: "root".into(),
        is_folder: 1,
        size: 0,
        child_count: 0,
        descendants: 0,
        descendant_files: 0,
        blob_hash: None,
        mime_type: None,
        created_at: 0,
        modified_at: 0,
        created_by: String::new(),
        modified_by: String::new(),
        fs_created_at: 0,
        fs_modified_at: 0,
        etag_rev: 3,
        ctag_rev: 2,
        sha1: None,
        quickxor: None,
        created_by_name: None,
        created_by_kind: None,
        modified_by_name: None,
        modified_by_kind: None,
    }
}

libfuzzer_sys::fuzz_target!(|header: &str| {
    let record = item(42);
    if ids::tag_matches(header, &record) {
        let t = header.trim();
        let t = t.strip_prefix("W/").unwrap_or(t);
        assert!(t == "*" || t == ids::etag(&record) || t == ids::ctag(&record), "{header:?}");
    }
    if let Some(n) = ids::parse_item_id(header) {
        assert!(header.eq_ignore_ascii_case(&ids::item_id(n)), "{header:?} -> {n}");
    }
});

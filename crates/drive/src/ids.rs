//! How item ids and entity tags look on the wire.

use graphdrive_storage::metadata::ItemRecord;

/// The public id of an item: its row id as 16 upper-case hex digits.
pub fn item_id(id: i64) -> String {
    format!("{id:016X}")
}

/// Parses a public item id; `None` for anything that is not one.
pub fn parse_item_id(s: &str) -> Option<i64> {
    // Exactly 16 hex digits: no sign, no space (which `from_str_radix` would take).
    if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16)
        .ok()
        .map(|v| v as i64)
        .filter(|v| *v > 0)
}

/// The eTag: changes with any change to the item.
pub fn etag(item: &ItemRecord) -> String {
    format!("\"{{{}}},{}\"", item_id(item.id), item.etag_rev)
}

/// The cTag: changes only when a file's content changes.
pub fn ctag(item: &ItemRecord) -> String {
    format!("\"c:{{{}}},{}\"", item_id(item.id), item.ctag_rev)
}

/// True when an `If-Match` / `If-None-Match` value names the item's current eTag or cTag, or
/// is `*`. (A tag holds a comma itself, so lists of tags are not split.)
pub fn tag_matches(header: &str, item: &ItemRecord) -> bool {
    let t = header.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t == "*" || t == etag(item) || t == ctag(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        assert_eq!(item_id(42), "000000000000002A");
        assert_eq!(parse_item_id("000000000000002A"), Some(42));
        assert_eq!(parse_item_id("2A"), None);
        assert_eq!(parse_item_id("zzzzzzzzzzzzzzzz"), None);
        assert_eq!(parse_item_id("0000000000000000"), None);
        assert_eq!(parse_item_id("+000000000000001"), None);
        assert_eq!(parse_item_id("-000000000000001"), None);
        assert_eq!(parse_item_id(" 000000000000001"), None);
    }
}

//! Entry points for the fuzz targets in `fuzz/` (built with `--cfg fuzzing` only). Each feeds
//! untrusted input to one parser and checks what its answer promises, besides not panicking.

use crate::address::{self, Target};
use crate::handlers::content::{RangeRequest, parse_range};
use crate::handlers::copy::CopyBody;
use crate::handlers::items::{CreateFolderBody, UpdateBody};
use crate::handlers::uploads::{CreateSessionBody, parse_content_range};
use crate::query::QueryOptions;

/// A request path after the version prefix: a parsed address is made of whole names, none
/// empty, none holding a separator or a control character. (Whether a name is one an item may
/// have is the domain's question, asked where an item is made: looking one up just finds none.)
pub fn address(path: &str) {
    let _ = address::strip_version(path);
    if let Ok(a) = address::parse(path)
        && let Target::Item { at, .. } = a.target
    {
        for name in &at.path {
            assert!(
                !name.is_empty() && !name.contains('/') && !name.chars().any(char::is_control),
                "{path:?} gave the name {name:?}"
            );
        }
    }
}

/// A `Range` header against a file of `size` bytes: a part lies inside the file.
pub fn range(header: &str, size: u64) {
    if let RangeRequest::Part(r) = parse_range(header, size) {
        assert!(
            r.start < r.end && r.end <= size,
            "{header:?} on {size}: {r:?}"
        );
    }
}

/// A fragment's `Content-Range`.
pub fn content_range(header: &str) {
    if let Some(r) = parse_content_range(header) {
        let _ = (r.start, r.end, r.total);
    }
}

/// A URL's query: the OData options.
pub fn query(raw: &str) {
    if let Ok(q) = QueryOptions::parse(Some(raw)) {
        assert!(q.page_size() >= 1);
    }
}

/// The JSON bodies of the routes that take one, and what the handlers derive from them first.
pub fn bodies(bytes: &[u8]) {
    if let Ok(b) = serde_json::from_slice::<CreateFolderBody>(bytes) {
        b.check();
    }
    if let Ok(b) = serde_json::from_slice::<UpdateBody>(bytes) {
        b.check();
    }
    if let Ok(b) = serde_json::from_slice::<CopyBody>(bytes) {
        b.check();
    }
    if let Ok(b) = serde_json::from_slice::<CreateSessionBody>(bytes) {
        b.check();
    }
}

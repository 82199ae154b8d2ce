//! The suite's S3 server (`scripts/test` starts SeaweedFS and sets `GRAPHDRIVE_TEST_S3` to its
//! URL, with the keys in `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`). Each server the
//! harness starts on it keeps its contents under a prefix of its own in one bucket.

use graphdrive_storage::S3Config;
use opendal::Operator;

pub const BUCKET: &str = "graphdrive";

/// The S3 server's URL.
pub fn endpoint() -> String {
    std::env::var("GRAPHDRIVE_TEST_S3").unwrap_or_else(|_| {
        panic!(
            "an S3 server is needed for the PostgreSQL+S3 scenarios: run scripts/test, which \
             starts one, or set GRAPHDRIVE_TEST_S3 (and the AWS_* keys) to yours"
        )
    })
}

fn key(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// The environment a graphdrive process needs to reach the bucket.
pub fn server_env() -> Vec<(String, String)> {
    vec![
        ("GRAPHDRIVE_S3_ENDPOINT".into(), endpoint()),
        ("AWS_REGION".into(), key("AWS_REGION", "us-east-1")),
        (
            "AWS_ACCESS_KEY_ID".into(),
            key("AWS_ACCESS_KEY_ID", "graphdrive"),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".into(),
            key("AWS_SECRET_ACCESS_KEY", "graphdrive-secret"),
        ),
    ]
}

/// The bucket, seen under `prefix`.
pub fn operator(prefix: &str) -> Operator {
    let env = server_env();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut config = S3Config::settings(
        get("GRAPHDRIVE_S3_ENDPOINT"),
        get("AWS_REGION"),
        get("AWS_ACCESS_KEY_ID"),
        get("AWS_SECRET_ACCESS_KEY"),
    );
    config.bucket = BUCKET.into();
    config.prefix = prefix.into();
    config.operator().expect("an S3 operator")
}

/// The objects under `prefix`/`under` (`under` empty or ending in `/`), by their names relative
/// to `prefix`.
pub async fn objects(prefix: &str, under: &str) -> Vec<String> {
    let op = operator(prefix);
    let listed = op.list_with(under).recursive(true).await;
    match listed {
        Ok(entries) => entries
            .into_iter()
            .filter(|e| e.metadata().is_file())
            .map(|e| e.path().to_string())
            .collect(),
        Err(e) if e.kind() == opendal::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("list {prefix}/{under}: {e}"),
    }
}

/// Writes an object under `prefix`.
pub async fn put(prefix: &str, path: &str, bytes: &[u8]) {
    operator(prefix)
        .write(path, bytes.to_vec())
        .await
        .unwrap_or_else(|e| panic!("write {prefix}/{path}: {e}"));
}

/// Removes everything under `prefix`.
pub async fn remove_prefix(prefix: &str) {
    let _ = operator(prefix).delete_with("/").recursive(true).await;
}

/// `host:port` of the S3 server.
pub fn endpoint_addr() -> String {
    let e = endpoint();
    e.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

//! Where file contents go: `file://DIR` or `s3://BUCKET[/PREFIX]`, with the S3 endpoint, region
//! and credentials given beside the URL (as the AWS tools take them, from the environment).

use std::path::PathBuf;
use std::time::Duration;

use opendal::Operator;
use opendal::layers::{RetryLayer, TimeoutLayer};

use crate::Result;

/// A blob store's location, as an operator names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobsConfig {
    Local(PathBuf),
    S3(S3Config),
}

#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// The key prefix everything goes under (no leading or trailing `/`; may be empty).
    pub prefix: String,
    /// The server's URL for a self-hosted S3 (addressed path-style); AWS's when `None`.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Seconds one request to the bucket may take, and a read or write may stall.
const BUCKET_TIMEOUT: Duration = Duration::from_secs(60);
const BUCKET_IO_TIMEOUT: Duration = Duration::from_secs(20);

impl BlobsConfig {
    /// Reads `file://DIR` or `s3://BUCKET[/PREFIX]`; an S3 URL takes the rest of its settings
    /// from `s3` (endpoint, region, credentials), with its bucket and prefix filled in here.
    pub fn parse(url: &str, s3: S3Config) -> std::result::Result<Self, String> {
        if let Some(dir) = url.strip_prefix("file://") {
            if dir.is_empty() {
                return Err("a file:// URL needs a directory: file:///var/lib/graphdrive".into());
            }
            return Ok(Self::Local(PathBuf::from(dir)));
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(format!(
                "unsupported blob store URL `{url}` (expected file://DIR or s3://BUCKET[/PREFIX])"
            ));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid {
            return Err(format!(
                "`{bucket}` is not an S3 bucket name (3 to 63 lower-case letters, digits, `-`, `.`)"
            ));
        }
        Ok(Self::S3(S3Config {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            ..s3
        }))
    }
}

impl S3Config {
    /// Endpoint, region and credentials with no bucket yet: see [`BlobsConfig::parse`].
    pub fn settings(
        endpoint: Option<String>,
        region: Option<String>,
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
    ) -> Self {
        Self {
            bucket: String::new(),
            prefix: String::new(),
            endpoint: endpoint.filter(|e| !e.is_empty()),
            region: region
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "us-east-1".into()),
            access_key_id: access_key_id.filter(|k| !k.is_empty()),
            secret_access_key: secret_access_key.filter(|k| !k.is_empty()),
        }
    }

    /// `s3:BUCKET/PREFIX at ENDPOINT`, for logs and the status page.
    pub fn describe(&self) -> String {
        let at = self
            .endpoint
            .as_deref()
            .map(|e| format!(" at {e}"))
            .unwrap_or_default();
        format!("s3:{}/{}{at}", self.bucket, self.prefix)
    }

    /// The OpenDAL operator: path-style requests, no credentials but those given (none read
    /// from `~/.aws` or an instance's metadata service), passing faults retried, and a timeout
    /// on every request so a bucket that stops answering fails requests instead of holding them.
    pub fn operator(&self) -> Result<Operator> {
        let mut b = opendal::services::S3::default()
            .bucket(&self.bucket)
            .root(&format!("/{}", self.prefix))
            .region(&self.region)
            .disable_config_load()
            .disable_ec2_metadata();
        if let Some(endpoint) = &self.endpoint {
            b = b.endpoint(endpoint);
        }
        if let (Some(id), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
            b = b.access_key_id(id).secret_access_key(secret);
        } else {
            b = b.skip_signature();
        }
        Ok(Operator::new(b)?
            .layer(
                TimeoutLayer::new()
                    .with_timeout(BUCKET_TIMEOUT)
                    .with_io_timeout(BUCKET_IO_TIMEOUT),
            )
            .layer(
                RetryLayer::new()
                    .with_max_times(3)
                    .with_min_delay(Duration::from_millis(100))
                    .with_max_delay(Duration::from_secs(2))
                    .with_jitter(),
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3() -> S3Config {
        S3Config::settings(Some("http://127.0.0.1:8333".into()), None, None, None)
    }

    #[test]
    fn reads_blob_store_urls() {
        assert_eq!(
            BlobsConfig::parse("file:///var/lib/gd", s3()),
            Ok(BlobsConfig::Local("/var/lib/gd".into()))
        );
        let BlobsConfig::S3(c) = BlobsConfig::parse("s3://team-files/drive/one/", s3()).unwrap()
        else {
            panic!("an S3 URL")
        };
        assert_eq!(
            (c.bucket.as_str(), c.prefix.as_str()),
            ("team-files", "drive/one")
        );
        assert_eq!(c.region, "us-east-1");
        assert_eq!(
            c.describe(),
            "s3:team-files/drive/one at http://127.0.0.1:8333"
        );
        let BlobsConfig::S3(c) = BlobsConfig::parse("s3://files", s3()).unwrap() else {
            panic!("an S3 URL")
        };
        assert_eq!(c.prefix, "");
        for bad in [
            "s3://", "s3://Up", "s3://a", "ftp://x", "file://", "/var/lib",
        ] {
            assert!(BlobsConfig::parse(bad, s3()).is_err(), "{bad}");
        }
    }
}

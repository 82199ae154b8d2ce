//! Talking to graphdrive over HTTP: building trees by copying, copying, polling monitors.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

#[derive(Clone)]
pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// One measured copy.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CopyTiming {
    /// `POST …/copy` to `202 Accepted`.
    pub accept: Duration,
    /// `POST …/copy` to the monitor's `completed`.
    pub complete: Duration,
}

impl Client {
    pub fn new(server: &str, token: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base: format!("{server}/v1.0"),
            token: token.into(),
            http,
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        Ok(req.bearer_auth(&self.token).send().await?)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let r = self
            .send(self.http.get(format!("{}{path}", self.base)))
            .await?;
        if !r.status().is_success() {
            bail!("GET {path}: {}", r.status());
        }
        Ok(r.json().await?)
    }

    /// GET of an absolute URL (a nextLink or deltaLink).
    pub async fn get_url(&self, url: &str) -> anyhow::Result<Value> {
        let r = self.send(self.http.get(url)).await?;
        if !r.status().is_success() {
            bail!("GET {url}: {}", r.status());
        }
        Ok(r.json().await?)
    }

    /// POST of a JSON body; fails unless the answer is a success.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<()> {
        let r = self
            .send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await?;
        if !r.status().is_success() {
            bail!("POST {path}: {}", r.status());
        }
        Ok(())
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        let r = self
            .send(self.http.delete(format!("{}{path}", self.base)))
            .await?;
        if !r.status().is_success() {
            bail!("DELETE {path}: {}", r.status());
        }
        Ok(())
    }

    pub async fn mkdir(&self, name: &str) -> anyhow::Result<Value> {
        let r = self
            .send(
                self.http
                    .post(format!("{}/me/drive/root/children", self.base))
                    .json(&json!({ "name": name, "folder": {} })),
            )
            .await?;
        if r.status() != 201 {
            bail!("mkdir {name}: {}", r.status());
        }
        Ok(r.json().await?)
    }

    pub async fn upload(&self, path: &str, bytes: Vec<u8>) -> anyhow::Result<Value> {
        let r = self
            .send(
                self.http
                    .put(format!("{}/me/drive/root:/{path}:/content", self.base))
                    .body(bytes),
            )
            .await?;
        if !r.status().is_success() {
            bail!("upload {path}: {}", r.status());
        }
        Ok(r.json().await?)
    }

    /// Uploads `file` to root path `name` through an upload session in 60 MiB fragments, as the
    /// SDKs upload large files; returns the time from creating the session to the last reply.
    pub async fn upload_in_session(&self, name: &str, file: &Path) -> anyhow::Result<Duration> {
        const FRAGMENT: u64 = 192 * 320 * 1024;
        let total = std::fs::metadata(file)?.len();
        let mut reader = std::fs::File::open(file)?;
        let started = Instant::now();
        let r = self
            .send(
                self.http
                    .post(format!(
                        "{}/me/drive/root:/{name}:/createUploadSession",
                        self.base
                    ))
                    .json(&json!({ "item": { "@microsoft.graph.conflictBehavior": "replace" } })),
            )
            .await?;
        if !r.status().is_success() {
            bail!("createUploadSession: {}", r.status());
        }
        let session: Value = r.json().await?;
        let url = session["uploadUrl"].as_str().context("uploadUrl")?;
        let mut start = 0;
        while start < total {
            let len = FRAGMENT.min(total - start);
            let mut chunk = vec![0; len as usize];
            reader.read_exact(&mut chunk)?;
            let r = self
                .http
                .put(url)
                .header(
                    "Content-Range",
                    format!("bytes {start}-{}/{total}", start + len - 1),
                )
                .body(chunk)
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("upload fragment at {start}: {}", r.status());
            }
            start += len;
        }
        Ok(started.elapsed())
    }

    /// Copies the item at root path `source` into folder `dest_id` as `name`, and waits.
    pub async fn copy(
        &self,
        source: &str,
        dest_id: &str,
        name: &str,
    ) -> anyhow::Result<CopyTiming> {
        let body = json!({ "parentReference": { "id": dest_id }, "name": name });
        let started = Instant::now();
        let r = self
            .send(
                self.http
                    .post(format!("{}/me/drive/root:/{source}:/copy", self.base))
                    .json(&body),
            )
            .await?;
        let accept = started.elapsed();
        if r.status() != 202 {
            bail!(
                "copy {source}: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            );
        }
        let monitor = r
            .headers()
            .get("location")
            .context("Location")?
            .to_str()?
            .to_string();
        loop {
            let s: Value = self.http.get(&monitor).send().await?.json().await?;
            match s["status"].as_str() {
                Some("completed") => break,
                Some("failed") => bail!("copy {source} failed: {s}"),
                _ => tokio::time::sleep(Duration::from_millis(2)).await,
            }
        }
        Ok(CopyTiming {
            accept,
            complete: started.elapsed(),
        })
    }
}

/// Builds trees by doubling with copies: `leaf` holds 100 small files; each next level is a
/// folder of 10 copies of the one before (so ~1,000, ~10,000, ~100,000, ~1,000,000 items, in
/// folders of 10 and 100 entries). Returns the root paths with their item counts.
pub async fn build_trees(c: &Client, levels: usize) -> anyhow::Result<Vec<(String, u64)>> {
    c.mkdir("leaf").await?;
    for i in 0..100 {
        c.upload(
            &format!("leaf/f{i:03}.txt"),
            format!("file {i}").into_bytes(),
        )
        .await?;
    }
    let mut trees = vec![];
    let (mut prev, mut items) = ("leaf".to_string(), 101u64);
    for level in 1..=levels {
        let name = format!("tree{level}");
        let folder = c.mkdir(&name).await?;
        let id = folder["id"].as_str().context("id")?.to_string();
        for i in 0..10 {
            c.copy(&prev, &id, &format!("{prev}-{i}")).await?;
        }
        items = items * 10 + 1;
        trees.push((name.clone(), items));
        prev = name;
    }
    Ok(trees)
}

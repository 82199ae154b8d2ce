//! HTTP/1.1 by hand on one connection, for tests of what happens to a keep-alive connection.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response read off a raw connection.
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Writes one HTTP/1.1 request on an open connection and reads one (`Content-Length` framed)
/// response, as a keep-alive client does.
pub async fn exchange(conn: &mut TcpStream, request: &[u8]) -> Result<RawResponse, String> {
    let io = async {
        conn.write_all(request)
            .await
            .map_err(|e| format!("writing the request failed: {e}"))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = conn
                .read(&mut chunk)
                .await
                .map_err(|e| format!("reading the response failed: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection without a response".to_string());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no status line in {head:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let len = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let n = conn
                .read(&mut chunk)
                .await
                .map_err(|e| format!("reading the response body failed: {e}"))?;
            if n == 0 {
                return Err("the connection closed inside the response body".to_string());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok(RawResponse {
            status,
            headers,
            body: buf[head_end..head_end + len].to_vec(),
        })
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), io)
        .await
        .map_err(|_| "no response within 20 s".to_string())?
}

/// A raw request: the request line, `Host`, the given headers, `Content-Length` and the body.
pub fn raw_request(
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

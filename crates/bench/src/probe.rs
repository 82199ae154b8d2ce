//! A second client that keeps reading an item and uploading a small file while a copy runs,
//! to measure what the copy costs everybody else.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::graph::Client;

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Latencies {
    pub get_p50_ms: f64,
    pub get_p99_ms: f64,
    pub upload_p50_ms: f64,
    pub upload_p99_ms: f64,
    pub samples: usize,
}

pub struct Probe {
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<(Vec<Duration>, Vec<Duration>)>,
}

impl Probe {
    pub fn start(client: Client, item_path: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = tokio::spawn(async move {
            let (mut gets, mut puts) = (vec![], vec![]);
            let mut n = 0u64;
            while !s.load(Ordering::Relaxed) {
                let t = Instant::now();
                if client
                    .get(&format!("/me/drive/root:/{item_path}"))
                    .await
                    .is_ok()
                {
                    gets.push(t.elapsed());
                }
                let t = Instant::now();
                if client
                    .upload(&format!("probe/p{}.txt", n % 50), vec![b'x'; 1024])
                    .await
                    .is_ok()
                {
                    puts.push(t.elapsed());
                }
                n += 1;
            }
            (gets, puts)
        });
        Self { stop, handle }
    }

    pub async fn finish(self) -> Latencies {
        self.stop.store(true, Ordering::Relaxed);
        let (gets, puts) = self.handle.await.unwrap_or_default();
        Latencies {
            get_p50_ms: percentile(&gets, 50.0),
            get_p99_ms: percentile(&gets, 99.0),
            upload_p50_ms: percentile(&puts, 50.0),
            upload_p99_ms: percentile(&puts, 99.0),
            samples: gets.len(),
        }
    }
}

pub fn percentile(samples: &[Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut v: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    v.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i]
}

//! `graphdrive-bench copy`: copies trees of 1,000 to 1,000,000 items through graphdrive's HTTP
//! API and sets each figure beside a baseline measured in the same run: the bare
//! `INSERT … SELECT` of as many rows in the same engine, `cp -r`, Apache mod_dav's `COPY`.
//! Writes BENCHMARKS.md, bench-results.json and a chart.

mod baseline;
mod graph;
mod journal;
mod observe;
mod peers;
mod probe;
mod report;
mod scale;
mod server;
mod serving;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::graph::Client;
use crate::peers::median;
use crate::server::{RssSampler, Server};

#[derive(Parser)]
#[command(name = "graphdrive-bench")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The copy benchmark.
    Copy(CopyArgs),
    /// What metrics and the request log cost: GET item requests/s with and without them.
    Observe,
    /// Several nodes on PostgreSQL and S3 (SeaweedFS, started for the run): 1 GiB up and down
    /// against straight to S3, the copy, and request rates through HAProxy with 1, 2, 3 nodes.
    Scale {
        /// A PostgreSQL admin URL; a scratch database is made and dropped.
        #[arg(
            long,
            env = "GRAPHDRIVE_BENCH_POSTGRES",
            default_value = "postgres://postgres@127.0.0.1:5432/postgres"
        )]
        postgres: String,
        /// Levels of the copy's doubling tree: 4 makes trees up to 1,011,111 items.
        #[arg(long, default_value_t = 4)]
        levels: usize,
    },
    /// Delta and the recycle bin on a drive of about a million items.
    Journal {
        /// Levels of the doubling tree: 4 makes about 1,000,000 items, 3 about 100,000.
        #[arg(long, default_value_t = 4)]
        levels: usize,
        /// Also run on PostgreSQL: an admin URL; a scratch database is made and dropped.
        #[arg(long, env = "GRAPHDRIVE_BENCH_POSTGRES")]
        postgres: Option<String>,
    },
}

#[derive(clap::Args)]
struct CopyArgs {
    /// Tree sizes (items, rounded to the doubling tree: 1,011 / 10,111 / 101,111 / 1,011,111).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000,10000,100000,1000000"
    )]
    sizes: Vec<u64>,
    /// Also run on PostgreSQL: an admin URL; a scratch database is made and dropped.
    #[arg(long, env = "GRAPHDRIVE_BENCH_POSTGRES")]
    postgres: Option<String>,
    /// Skip the `cp -r` / Apache comparison and the 1 GiB file.
    #[arg(long)]
    skip_peers: bool,
    /// Skip the `wrk` request rates and the 1 GiB transfers against nginx.
    #[arg(long)]
    skip_serving: bool,
    /// Where to write the report.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
}

#[derive(Clone, Debug, Serialize)]
pub struct SizeResult {
    pub backend: String,
    pub items: u64,
    pub accept_ms: f64,
    pub complete_s: f64,
    pub items_per_s: f64,
    pub peak_rss_mib: f64,
    pub latencies: probe::Latencies,
    /// Bare `INSERT … SELECT` of as many narrow rows.
    pub narrow_baseline_s: f64,
    /// Bare `INSERT … SELECT` of as many rows shaped like graphdrive's items.
    pub items_baseline_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct PeerResult {
    pub file_kib: usize,
    pub files: usize,
    pub ours_s: f64,
    pub cp_s: f64,
    pub apache_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BigFileResult {
    pub bytes: u64,
    pub ours_ms: f64,
    pub cp_s: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Results {
    pub sizes: Vec<SizeResult>,
    pub peers: Vec<PeerResult>,
    pub big_file: Option<BigFileResult>,
    pub request_rates: Vec<serving::RequestRates>,
    pub transfers: Option<serving::Transfers>,
    pub notes: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = match Cli::parse().command {
        Cmd::Copy(args) => args,
        Cmd::Journal { levels, postgres } => {
            let work = tempfile::Builder::new()
                .prefix("graphdrive-bench")
                .tempdir_in(".")?;
            let r = journal::run_all(work.path(), levels, postgres.as_deref()).await?;
            journal::write(
                std::path::Path::new("BENCHMARKS.md"),
                &r,
                &format!("Machine: {}.", report::machine()),
            )?;
            println!("{}", journal::table(&r));
            return Ok(());
        }
        Cmd::Scale { postgres, levels } => {
            let work = tempfile::Builder::new()
                .prefix("graphdrive-bench")
                .tempdir_in(".")?;
            let r = scale::run(work.path(), &postgres, levels).await?;
            scale::write(
                std::path::Path::new("BENCHMARKS.md"),
                &r,
                &format!("Machine: {}.", report::machine()),
            )?;
            println!("{}", scale::table(&r));
            return Ok(());
        }
        Cmd::Observe => {
            let work = tempfile::Builder::new()
                .prefix("graphdrive-bench")
                .tempdir_in(".")?;
            let setups = observe::run(work.path()).await?;
            observe::write(
                std::path::Path::new("BENCHMARKS.md"),
                &setups,
                &format!("Machine: {}.", report::machine()),
            )?;
            println!("{}", observe::table(&setups));
            return Ok(());
        }
    };
    let levels = args
        .sizes
        .iter()
        .map(|&s| (s as f64).log10().round() as usize - 2)
        .max()
        .unwrap_or(1)
        .clamp(1, 4);
    let mut results = Results::default();
    let work = tempfile::Builder::new()
        .prefix("graphdrive-bench")
        .tempdir_in(".")?;

    let sqlite_dir = work.path().join("sqlite");
    std::fs::create_dir_all(&sqlite_dir)?;
    let sqlite_url = format!(
        "sqlite://{}?mode=rwc",
        sqlite_dir.join("metadata.db").display()
    );
    let baseline_url = format!(
        "sqlite://{}?mode=rwc",
        sqlite_dir.join("baseline.db").display()
    );
    let server = Server::start(
        &sqlite_dir,
        &sqlite_url,
        &["--max-upload-size", "2000000000"],
    )?;
    results
        .sizes
        .extend(run_sizes(&server, "SQLite", levels, &baseline_url).await?);
    if !args.skip_peers {
        run_peers(&server, work.path(), &mut results).await?;
    }
    if !args.skip_serving {
        eprintln!("[serving] wrk on SQLite; 1 GiB transfers vs nginx…");
        results
            .request_rates
            .push(serving::request_rates(&server, "SQLite").await?);
        results.transfers = Some(serving::transfers(&server, work.path()).await?);
    }
    drop(server);

    if let Some(admin) = &args.postgres {
        let db = format!("graphdrive_bench_{}", uuid::Uuid::new_v4().simple());
        let url = report::postgres_database(admin, &db).await?;
        let pg_dir = work.path().join("postgres");
        std::fs::create_dir_all(&pg_dir)?;
        let server = Server::start(&pg_dir, &url, &[])?;
        let sizes = run_sizes(&server, "PostgreSQL", levels, &url).await;
        let rates = match (&sizes, args.skip_serving) {
            (Ok(_), false) => Some(serving::request_rates(&server, "PostgreSQL").await),
            _ => None,
        };
        drop(server);
        report::drop_postgres_database(admin, &db).await?;
        results.sizes.extend(sizes?);
        results.request_rates.extend(rates.transpose()?);
    }

    report::write(&args.out, &results)?;
    println!("{}", std::fs::read_to_string(&args.out)?);
    Ok(())
}

/// Builds the trees, then copies each three times, measuring the copies (the median run), the
/// server's memory and the latency a second client sees meanwhile, and the bare
/// `INSERT … SELECT` of as many rows.
pub(crate) async fn run_sizes(
    server: &Server,
    backend: &str,
    levels: usize,
    baseline_url: &str,
) -> anyhow::Result<Vec<SizeResult>> {
    let c = Client::new(&server.url, &server.token);
    eprintln!("[{backend}] building trees by copying (up to {levels} levels)…");
    let t = Instant::now();
    let trees = graph::build_trees(&c, levels).await?;
    eprintln!(
        "[{backend}] trees built in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let dest = c.mkdir("dest").await?;
    let dest_id = dest["id"].as_str().context("id")?.to_string();
    c.mkdir("probe").await?;
    let mut out = vec![];
    for (tree, items) in trees {
        let rss = RssSampler::start(server.pid());
        let probe = probe::Probe::start(c.clone(), "leaf/f001.txt".into());
        // Median of three copies (timings here are noisy), side by side in `dest`.
        let mut timings = vec![];
        for run in 0..3 {
            timings.push(
                c.copy(&tree, &dest_id, &format!("{tree} copy {run}"))
                    .await?,
            );
        }
        timings.sort_by_key(|t| t.complete);
        let timing = timings[1].clone();
        let latencies = probe.finish().await;
        let peak = rss.finish();
        let narrow = baseline::insert_select(baseline_url, items, baseline::Rows::Narrow).await?;
        let same_rows = baseline::insert_select(baseline_url, items, baseline::Rows::Items).await?;
        let r = SizeResult {
            backend: backend.into(),
            items,
            accept_ms: timing.accept.as_secs_f64() * 1000.0,
            complete_s: timing.complete.as_secs_f64(),
            items_per_s: items as f64 / timing.complete.as_secs_f64(),
            peak_rss_mib: peak as f64 / (1 << 20) as f64,
            latencies,
            narrow_baseline_s: narrow.as_secs_f64(),
            items_baseline_s: same_rows.as_secs_f64(),
        };
        eprintln!(
            "[{backend}] {items} items: {:.3} s (bare copy: {:.3} s narrow rows, {:.3} s items rows)",
            r.complete_s, r.narrow_baseline_s, r.items_baseline_s
        );
        out.push(r);
    }
    Ok(out)
}

/// 10,000 files (100 folders × 100) of 1 KiB and of 64 KiB: ours vs `cp -r` vs Apache `COPY`;
/// then one 1 GiB file vs `cp`.
async fn run_peers(
    server: &Server,
    work: &std::path::Path,
    results: &mut Results,
) -> anyhow::Result<()> {
    let c = Client::new(&server.url, &server.token);
    let apache = match peers::Apache::start(&work.join("apache")) {
        Ok(a) => Some(a),
        Err(e) => {
            results
                .notes
                .push(format!("Apache mod_dav baseline skipped: {e}"));
            None
        }
    };
    for kib in [1usize, 64] {
        let size = kib * 1024;
        eprintln!("[peers] 100 × 100 files of {kib} KiB…");
        let local = work.join(format!("local-{kib}"));
        peers::make_tree(&local, 100, 100, size)?;
        let cp = peers::cp_r(&local, &work.join(format!("local-{kib}-copy")), 3)?;
        let apache_s = match &apache {
            Some(a) => {
                let src = a.www().join("src");
                let _ = std::fs::remove_dir_all(&src);
                std::process::Command::new("cp")
                    .arg("-r")
                    .arg(&local)
                    .arg(&src)
                    .status()?;
                std::process::Command::new("chown")
                    .args(["-R", "www-data:www-data"])
                    .arg(a.www())
                    .status()?;
                Some(a.copy(3).await?.as_secs_f64())
            }
            None => None,
        };
        let _ = std::fs::remove_dir_all(&local);
        // The same tree in graphdrive: 100 files of this size, copied into 100 folders.
        let leaf = format!("peer{kib}-leaf");
        c.mkdir(&leaf).await?;
        for f in 0..100u32 {
            let bytes: Vec<u8> = (0..size as u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) ^ f) as u8)
                .collect();
            c.upload(&format!("{leaf}/f{f:03}.bin"), bytes).await?;
        }
        let tree = c.mkdir(&format!("peer{kib}")).await?;
        let tree_id = tree["id"].as_str().context("id")?.to_string();
        for d in 0..100 {
            c.copy(&leaf, &tree_id, &format!("d{d:03}")).await?;
        }
        let dest = c.mkdir(&format!("peer{kib}-copies")).await?;
        let dest_id = dest["id"].as_str().context("id")?.to_string();
        let mut ours = vec![];
        for run in 0..3 {
            ours.push(
                c.copy(&format!("peer{kib}"), &dest_id, &format!("run{run}"))
                    .await?
                    .complete,
            );
        }
        results.peers.push(PeerResult {
            file_kib: kib,
            files: 10_000,
            ours_s: median(ours).as_secs_f64(),
            cp_s: cp.as_secs_f64(),
            apache_s,
        });
    }
    drop(apache);

    eprintln!("[peers] one 1 GiB file…");
    let bytes: Vec<u8> = (0..1u32 << 30)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect();
    let local = work.join("big.bin");
    std::fs::write(&local, &bytes)?;
    let mut cps = vec![];
    for _ in 0..3 {
        let t = Instant::now();
        std::process::Command::new("cp")
            .arg(&local)
            .arg(work.join("big-copy.bin"))
            .status()?;
        cps.push(t.elapsed());
    }
    let _ = std::fs::remove_file(work.join("big-copy.bin"));
    let _ = std::fs::remove_file(&local);
    c.upload("big.bin", bytes).await?;
    let dest = c.mkdir("big-copies").await?;
    let dest_id = dest["id"].as_str().context("id")?.to_string();
    let mut ours: Vec<Duration> = vec![];
    for run in 0..3 {
        ours.push(
            c.copy("big.bin", &dest_id, &format!("big{run}.bin"))
                .await?
                .complete,
        );
    }
    results.big_file = Some(BigFileResult {
        bytes: 1 << 30,
        ours_ms: median(ours).as_secs_f64() * 1000.0,
        cp_s: median(cps).as_secs_f64(),
    });
    Ok(())
}

//! A TCP forwarder to put between a server and what it depends on (S3, PostgreSQL), to take the
//! dependency away and bring it back: while down, open connections are cut and new ones are
//! closed as soon as they are accepted, as with a server that restarts or a network that fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    /// `127.0.0.1:PORT`, where the proxy listens.
    pub addr: String,
    down: Arc<AtomicBool>,
    /// Bumped when the proxy goes down, to cut the connections open at that moment.
    generation: watch::Sender<u64>,
    accepted: Arc<AtomicU64>,
}

impl Proxy {
    /// Forwards connections to `target` (`host:port`) from a port of its own.
    pub async fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().unwrap().to_string();
        let down = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0u64);
        let accepted = Arc::new(AtomicU64::new(0));
        let (d, g, a, target) = (
            down.clone(),
            generation.clone(),
            accepted.clone(),
            target.to_string(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if d.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                a.fetch_add(1, Ordering::Relaxed);
                let mut cut = g.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            down,
            generation,
            accepted,
        }
    }

    /// Cuts every open connection and refuses new ones until [`Proxy::up`].
    pub fn down(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn up(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    /// Connections forwarded so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
}

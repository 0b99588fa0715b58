//! A tiny round-robin TCP proxy: each new connection goes to the next backend in turn. Used
//! by tests/it/many_instances.rs and by `examples/rr_proxy.rs` (the benchmark's scale-out
//! scenario), each of which uses all of it. Connection-level, like nginx's `stream` module:
//! a keep-alive client stays on one backend, a client that opens a connection per request
//! visits them all.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

pub struct RoundRobinProxy {
    pub address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RoundRobinProxy {
    /// Listens on `listen` (port 0: a free one) and forwards to `backends` in turn.
    pub async fn start(listen: &str, backends: Vec<SocketAddr>) -> std::io::Result<Self> {
        assert!(!backends.is_empty(), "a proxy needs at least one backend");
        let listener = TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        let backends = Arc::new(backends);
        let next = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let i = next.fetch_add(1, Ordering::Relaxed) % backends.len();
                let backend = backends[i];
                tokio::spawn(async move {
                    // A backend that is down closes the client's connection: it retries.
                    if let Ok(mut upstream) = TcpStream::connect(backend).await {
                        let _ = upstream.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
            }
        });
        Ok(Self { address, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for RoundRobinProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

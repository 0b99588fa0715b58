//! The benchmark's scale-out scenario (bench/run.sh --scale-out): a round-robin TCP proxy in
//! front of several Latchkey instances.
//!
//! `rr_proxy LISTEN_ADDR BACKEND_ADDR...`, e.g. `rr_proxy 127.0.0.1:8080 127.0.0.1:8081 127.0.0.1:8082`

#[path = "../tests/it/proxy_support/mod.rs"]
mod proxy_support;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = || std::io::Error::other("usage: rr_proxy LISTEN_ADDR BACKEND_ADDR...");
    let listen = args.next().ok_or_else(usage)?;
    let backends = args
        .map(|a| {
            a.parse()
                .map_err(|e| std::io::Error::other(format!("{a}: {e}")))
        })
        .collect::<Result<Vec<std::net::SocketAddr>, _>>()?;
    if backends.is_empty() {
        return Err(usage());
    }
    let proxy = proxy_support::RoundRobinProxy::start(&listen, backends).await?;
    eprintln!("rr_proxy listening on {}", proxy.url());
    // It forwards until the process is killed: dropping it would stop it.
    std::future::pending::<()>().await;
    drop(proxy);
    Ok(())
}

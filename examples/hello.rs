//! The benchmark's baseline (bench/run.sh): a bare actix-web "hello" on `127.0.0.1:$PORT`
//! (default 8090), with actix's default worker count, as Latchkey runs. No middleware, no
//! database: the framework's ceiling on this machine.
//!
//! `cargo run --release --example hello`

use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8090);
    HttpServer::new(|| {
        App::new().route(
            "/",
            web::get().to(|| async { HttpResponse::Ok().body("Hello, world!") }),
        )
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}

//! The connection pool: a pooled connection that has not proved itself for a moment is
//! tested at checkout, so connections the database server dropped (a restart, an idle
//! timeout, `pg_terminate_backend`) are replaced without a failed request.
//!
//! Only PostgreSQL can drop a connection (a SQLite connection is an open file): the test
//! runs with `LATCHKEY_TEST_POSTGRES_URL` and `--features postgres`, as `.ci/run` does.

#[cfg(feature = "postgres")]
#[actix_web::test]
async fn connections_the_server_dropped_are_replaced_without_a_failed_request() {
    use std::time::Duration;

    use crate::common::{new_email, spawn_app, PASSWORD, POSTGRES_URL_VAR};
    use diesel::prelude::*;
    use diesel::sql_types::Bool;
    use reqwest::StatusCode;

    #[derive(QueryableByName)]
    struct Terminated {
        #[diesel(sql_type = Bool)]
        pg_terminate_backend: bool,
    }

    if std::env::var(POSTGRES_URL_VAR).map_or(true, |v| v.trim().is_empty()) {
        eprintln!("{POSTGRES_URL_VAR} is not set: nothing here can drop a SQLite connection");
        return;
    }
    let app = spawn_app().await;
    assert!(!app.is_sqlite());
    let email = new_email("pool");
    app.create_user(&email, PASSWORD).await;
    let client = app.logged_in_client(&email, PASSWORD, false).await;
    for _ in 0..5 {
        assert_eq!(client.get("/profile").await.status(), StatusCode::OK);
    }

    // The server ends every connection of the app's pool.
    let mut admin = PgConnection::establish(&app.database_url).expect("connect");
    let mut end_all = || {
        let ended: Vec<Terminated> = diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .load(&mut admin)
        .expect("terminate the pool's connections");
        assert!(
            ended.iter().filter(|t| t.pg_terminate_backend).count() >= 1,
            "no pooled connection was there to end"
        );
    };
    end_all();

    // Longer than the pool trusts a connection without testing it.
    actix_web::rt::time::sleep(Duration::from_millis(700)).await;
    for i in 0..20 {
        let status = client.get("/profile").await.status();
        assert_eq!(
            status,
            StatusCode::OK,
            "request {i} after the connections were dropped"
        );
    }

    // Right after a success a connection is used untested: the first request on a dropped
    // one fails with a 503 (never a 500), and from then on every connection is tested, and
    // replaced, before its next use.
    end_all();
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(client.get("/profile").await.status());
    }
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    assert!(
        statuses[1..].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
}

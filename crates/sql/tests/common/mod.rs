//! An in-process cluster for engine tests: a coordinator on 127.0.0.1
//! over an in-memory object store, and frontends (Database + Engine)
//! sharing it; helpers that run SQL and render results as text.
#![allow(dead_code)]

use std::sync::Arc;

use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;
use shoal_coordinator::local::LocalCoordinator;
use shoal_coordinator::server::CoordinatorOptions;
use shoal_sql::session::{Engine, EngineOptions, Output, Session};
use shoal_sql::{Error, Value};
use shoal_txn::{Database, DatabaseOptions};
use tokio::net::TcpListener;

/// A coordinator and its store.
pub struct Cluster {
    pub coordinator: LocalCoordinator,
    pub objects: Arc<dyn ObjectStore>,
    next_frontend: std::sync::atomic::AtomicU64,
}

impl Cluster {
    pub async fn start() -> Cluster {
        let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let coordinator = LocalCoordinator::start(
            listener,
            objects.clone(),
            Path::from("db"),
            CoordinatorOptions::default(),
        )
        .await
        .expect("coordinator");
        Cluster {
            coordinator,
            objects,
            next_frontend: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// A new frontend's engine.
    pub async fn engine(&self) -> Arc<Engine> {
        let id = self
            .next_frontend
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let db = Database::open_on(
            self.objects.clone(),
            Path::from("db"),
            DatabaseOptions {
                frontend_id: id,
                coordinator: self.coordinator.addr.to_string(),
                address: format!("test-{id}"),
                cache_bytes: 64 << 20,
                disk_cache: None,
            },
        )
        .await
        .expect("frontend");
        Engine::open(db, EngineOptions::default())
            .await
            .expect("engine")
    }
}

/// One cluster, one engine, one session on `postgres`.
pub async fn session() -> (Cluster, Arc<Engine>, Session) {
    let c = Cluster::start().await;
    let e = c.engine().await;
    let s = e
        .new_session("postgres", "postgres", &[])
        .await
        .expect("session");
    (c, e, s)
}

/// Runs every statement of `sql`; returns the last output.
pub async fn run(s: &mut Session, sql: &str) -> Result<Output, Error> {
    let mut last = Output::Empty;
    for p in shoal_sql::session::parse(sql)? {
        last = s.execute(&p, &[]).await?;
    }
    Ok(last)
}

/// Runs with parameters through describe (extended protocol).
pub async fn run_params(s: &mut Session, sql: &str, params: &[Value]) -> Result<Output, Error> {
    let p = shoal_sql::session::parse(sql)?
        .pop()
        .expect("one statement");
    let _ = s.describe(&p, &[]).await?;
    s.execute(&p, params).await
}

/// Rows as text, `NULL` for null, columns separated by `|`.
pub fn text(out: &Output) -> Vec<String> {
    match out {
        Output::Rows { rows, .. } => rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| {
                        v.to_text(&Default::default())
                            .unwrap_or_else(|| "NULL".into())
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect(),
        _ => vec![],
    }
}

/// The command tag.
pub fn tag(out: &Output) -> String {
    match out {
        Output::Rows { tag, .. } | Output::Command { tag } | Output::CopyOut { tag, .. } => {
            tag.clone()
        }
        Output::Empty => "EMPTY".into(),
        Output::CopyIn(_) => "COPY IN".into(),
    }
}

/// Runs `sql` and returns its rows as text, panicking on error.
pub async fn query(s: &mut Session, sql: &str) -> Vec<String> {
    match run(s, sql).await {
        Ok(o) => text(&o),
        Err(e) => panic!("{sql}: {e:?}"),
    }
}

/// Runs `sql`, expecting an error; returns it.
pub async fn error(s: &mut Session, sql: &str) -> Error {
    match run(s, sql).await {
        Ok(o) => panic!("{sql}: expected an error, got {}", tag(&o)),
        Err(e) => e,
    }
}

//! tokio-postgres against `serve()` over the real engine: the extended
//! protocol with binary parameters and results, portals, COPY, SQLSTATEs
//! and SCRAM authentication, as a real driver drives them.

mod common;

use bytes::Bytes;
use common::Server;
use futures::{SinkExt, StreamExt};
use shoal_wire::{AuthMode, WireOptions};

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_string()).unwrap_or_default()
}

#[tokio::test]
async fn prepared_statements_with_binary_parameters_and_results() {
    let server = Server::start().await;
    let c = server.client().await;
    c.batch_execute("CREATE TABLE kv (k int PRIMARY KEY, v text, n bigint)")
        .await
        .unwrap();
    let insert = c
        .prepare("INSERT INTO kv VALUES ($1, $2, $3)")
        .await
        .unwrap();
    for k in 0..10i32 {
        let n = i64::from(k) * 1_000_000_000;
        let v = format!("v{k}");
        assert_eq!(c.execute(&insert, &[&k, &v, &n]).await.unwrap(), 1);
    }
    let rows = c
        .query(
            "SELECT k, v, n, $1::text AS p FROM kv ORDER BY k",
            &[&"param"],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[7].get::<_, i32>(0), 7);
    assert_eq!(rows[7].get::<_, String>(1), "v7");
    assert_eq!(rows[9].get::<_, i64>(2), 9_000_000_000);
    assert_eq!(rows[0].get::<_, String>(3), "param");
    let null: Option<String> = c
        .query_one("SELECT $1::text", &[&None::<String>])
        .await
        .unwrap()
        .get(0);
    assert_eq!(null, None);
}

#[tokio::test]
async fn portals_hand_out_rows_in_batches() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1),(2),(3),(4),(5)",
    )
    .await
    .unwrap();
    let tx = c.transaction().await.unwrap();
    let portal = tx.bind("SELECT id FROM t ORDER BY id", &[]).await.unwrap();
    let mut seen = Vec::new();
    loop {
        let rows = tx.query_portal(&portal, 2).await.unwrap();
        if rows.is_empty() {
            break;
        }
        seen.extend(rows.iter().map(|r| r.get::<_, i32>(0)));
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn errors_carry_sqlstates_and_the_connection_recovers() {
    let server = Server::start().await;
    let c = server.client().await;
    c.batch_execute("CREATE TABLE u (id int PRIMARY KEY)")
        .await
        .unwrap();
    c.execute("INSERT INTO u VALUES (1)", &[]).await.unwrap();
    let e = c
        .execute("INSERT INTO u VALUES (1)", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "23505");
    let e = c.query("SELECT * FROM missing", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "42P01");
    let e = c.prepare("SELEC 1").await.unwrap_err();
    assert_eq!(sqlstate(&e), "42601");
    let one: i32 = c.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
}

#[tokio::test]
async fn copy_in_and_out() {
    let server = Server::start().await;
    let c = server.client().await;
    c.batch_execute("CREATE TABLE c (id int PRIMARY KEY, v text)")
        .await
        .unwrap();
    let sink = c.copy_in("COPY c FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(b"1\ta\n2\tb\n"))
        .await
        .unwrap();
    sink.send(Bytes::from_static(b"3\t\\N\n")).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 3);
    let out = c.copy_out("COPY c TO STDOUT").await.unwrap();
    let chunks: Vec<Bytes> = out.map(|r| r.unwrap()).collect().await;
    let text: Vec<u8> = chunks.concat();
    assert_eq!(text, b"1\ta\n2\tb\n3\t\\N\n");
}

#[tokio::test]
async fn an_abandoned_copy_loads_nothing() {
    let server = Server::start().await;
    let c = server.client().await;
    c.batch_execute("CREATE TABLE c (id int PRIMARY KEY)")
        .await
        .unwrap();
    {
        let sink = c.copy_in::<_, Bytes>("COPY c FROM STDIN").await.unwrap();
        futures::pin_mut!(sink);
        sink.send(Bytes::from_static(b"1\n")).await.unwrap();
        // Dropped without finish: tokio-postgres sends CopyFail.
    }
    let rows = c.query("SELECT id FROM c", &[]).await.unwrap();
    assert!(rows.is_empty(), "nothing was loaded");
}

#[tokio::test]
async fn scram_sha_256_logs_in_with_the_right_password_only() {
    let mut server = Server::start().await;
    let admin = server.client().await;
    admin
        .batch_execute("CREATE ROLE alice LOGIN PASSWORD 'wonderland'")
        .await
        .unwrap();
    let scram = server
        .also_serve(WireOptions {
            auth: AuthMode::Scram,
            ..WireOptions::default()
        })
        .await;
    let mut config = common::config(scram, "alice");
    config.password("wonderland");
    let (c, conn) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("right password");
    tokio::spawn(conn);
    let who: String = c
        .query_one("SELECT current_user", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(who, "alice");
    config.password("rabbit");
    let Err(e) = config.connect(tokio_postgres::NoTls).await else {
        panic!("wrong password accepted");
    };
    assert_eq!(sqlstate(&e), "28P01");
    let mut nobody = common::config(scram, "nobody");
    nobody.password("x");
    let Err(e) = nobody.connect(tokio_postgres::NoTls).await else {
        panic!("unknown role accepted");
    };
    assert_eq!(
        sqlstate(&e),
        "28P01",
        "unknown roles fail like wrong passwords"
    );
}

//! tokio-postgres against `shoal dev`: every type round-trips as a binary
//! parameter and result, prepared statements are reused across
//! transactions, errors carry the right SQLSTATE, and malformed or
//! oversized protocol messages get an error, never a crash.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use tokio_postgres::types::ToSql;

use common::DevCluster;

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_string()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_round_trips_in_binary() {
    let cluster = DevCluster::start(1);
    let c = cluster.connect(0).await;
    c.batch_execute(
        "CREATE TABLE every (id int PRIMARY KEY, a smallint, b integer, c bigint, d real, \
         e double precision, f boolean, g text, h varchar(20), i bytea, j date, k time, \
         l timestamp, m timestamptz, n json, o jsonb)",
    )
    .await
    .unwrap();
    let a: i16 = -7;
    let b: i32 = 123_456;
    let cc: i64 = -9_000_000_000;
    let d: f32 = 1.5;
    let e: f64 = -2.25e10;
    let f = true;
    let g = "héllo, wörld".to_string();
    let h = "short".to_string();
    let i: Vec<u8> = vec![0, 1, 2, 255];
    let j = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let k = NaiveTime::from_hms_micro_opt(23, 59, 58, 123_456).unwrap();
    let l: NaiveDateTime = j.and_time(k);
    let m: DateTime<Utc> = DateTime::from_naive_utc_and_offset(l, Utc);
    let n = serde_json::json!({"a": [1, 2, {"b": null}]});
    let o = serde_json::json!({"k": "v", "n": 1.5});
    let params: Vec<&(dyn ToSql + Sync)> = vec![
        &1i32, &a, &b, &cc, &d, &e, &f, &g, &h, &i, &j, &k, &l, &m, &n, &o,
    ];
    c.execute(
        "INSERT INTO every VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)",
        &params,
    )
    .await
    .unwrap();
    let row = c
        .query_one(
            "SELECT a,b,c,d,e,f,g,h,i,j,k,l,m,n,o FROM every WHERE id = $1",
            &[&1i32],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i16>(0), a);
    assert_eq!(row.get::<_, i32>(1), b);
    assert_eq!(row.get::<_, i64>(2), cc);
    assert_eq!(row.get::<_, f32>(3), d);
    assert_eq!(row.get::<_, f64>(4), e);
    assert_eq!(row.get::<_, bool>(5), f);
    assert_eq!(row.get::<_, String>(6), g);
    assert_eq!(row.get::<_, String>(7), h);
    assert_eq!(row.get::<_, Vec<u8>>(8), i);
    assert_eq!(row.get::<_, NaiveDate>(9), j);
    assert_eq!(row.get::<_, NaiveTime>(10), k);
    assert_eq!(row.get::<_, NaiveDateTime>(11), l);
    assert_eq!(row.get::<_, DateTime<Utc>>(12), m);
    assert_eq!(row.get::<_, serde_json::Value>(13), n);
    assert_eq!(row.get::<_, serde_json::Value>(14), o);
    // NULLs in every column.
    let nulls: Vec<Option<i32>> = vec![None; 15];
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&2i32];
    for n in &nulls {
        params.push(n);
    }
    c.execute("INSERT INTO every (id, b) VALUES ($1, $2)", &params[..2])
        .await
        .unwrap();
    let row = c
        .query_one("SELECT a, b, g, m FROM every WHERE id = 2", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<i16>>(0), None);
    assert_eq!(row.get::<_, Option<i32>>(1), None);
    assert_eq!(row.get::<_, Option<String>>(2), None);
    assert_eq!(row.get::<_, Option<DateTime<Utc>>>(3), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_parameters_and_numeric() {
    let cluster = DevCluster::start(1);
    let c = cluster.connect(0).await;
    c.batch_execute("CREATE TABLE acct (id bigint PRIMARY KEY, balance numeric(12,2))")
        .await
        .unwrap();
    // The simple protocol sends everything as text.
    c.simple_query("INSERT INTO acct VALUES (1, 10.5), (2, '20.25')")
        .await
        .unwrap();
    let rows = c
        .simple_query("SELECT balance, balance * 2 FROM acct ORDER BY id")
        .await
        .unwrap();
    let values: Vec<(String, String)> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((r.get(0).unwrap().to_string(), r.get(1).unwrap().to_string()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        values,
        vec![
            ("10.50".to_string(), "21.00".to_string()),
            ("20.25".to_string(), "40.50".to_string())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_are_reused_across_transactions() {
    let cluster = DevCluster::start(1);
    let mut c = cluster.connect(0).await;
    c.batch_execute("CREATE TABLE kv (k int PRIMARY KEY, v text)")
        .await
        .unwrap();
    let insert = c.prepare("INSERT INTO kv VALUES ($1, $2)").await.unwrap();
    let select = c.prepare("SELECT v FROM kv WHERE k = $1").await.unwrap();
    assert_eq!(insert.params().len(), 2, "parameter types are inferred");
    for round in 0..3 {
        let tx = c.transaction().await.unwrap();
        tx.execute(&insert, &[&round, &format!("v{round}")])
            .await
            .unwrap();
        let v: String = tx.query_one(&select, &[&round]).await.unwrap().get(0);
        assert_eq!(v, format!("v{round}"));
        if round == 1 {
            tx.rollback().await.unwrap();
        } else {
            tx.commit().await.unwrap();
        }
    }
    let n: i64 = c
        .query_one("SELECT count(*) FROM kv", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2, "the rolled-back insert is gone");
    assert!(c.query_opt(&select, &[&1i32]).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_sqlstates_and_the_connection_survives() {
    let cluster = DevCluster::start(1);
    let c = cluster.connect(0).await;
    c.batch_execute("CREATE TABLE u (id int PRIMARY KEY, n int NOT NULL)")
        .await
        .unwrap();
    c.batch_execute("INSERT INTO u VALUES (1, 1)")
        .await
        .unwrap();
    let cases = [
        ("SELECT * FROM nope", "42P01"),
        ("SELECT nope FROM u", "42703"),
        ("SELEC 1", "42601"),
        ("SELECT 1/0", "22012"),
        ("SELECT 2147483647 + 1", "22003"),
        ("SELECT 'abc'::int", "22P02"),
        ("INSERT INTO u VALUES (1, 2)", "23505"),
        ("INSERT INTO u VALUES (2, NULL)", "23502"),
        ("CREATE TABLE u (x int)", "42P07"),
        ("SELECT nosuchfunction(1)", "42883"),
    ];
    for (sql, code) in cases {
        let e = c.batch_execute(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&e), code, "{sql}: {e}");
        // The same through the extended protocol.
        let e = c.query(sql, &[]).await.expect_err(sql);
        assert_eq!(sqlstate(&e), code, "{sql} (extended): {e}");
    }
    // A failed statement inside a block fails the block until ROLLBACK.
    c.batch_execute("BEGIN").await.unwrap();
    assert!(c.batch_execute("SELECT 1/0").await.is_err());
    let e = c.batch_execute("SELECT 1").await.unwrap_err();
    assert_eq!(sqlstate(&e), "25P02");
    c.batch_execute("ROLLBACK").await.unwrap();
    let one: i32 = c.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
}

/// Sends raw bytes after a normal startup and returns what came back.
fn raw_session(addr: std::net::SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut startup = Vec::new();
    startup.extend_from_slice(&196608u32.to_be_bytes());
    for kv in ["user", "postgres", "database", "postgres"] {
        startup.extend_from_slice(kv.as_bytes());
        startup.push(0);
    }
    startup.push(0);
    let mut msg = ((startup.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(&startup);
    s.write_all(&msg).unwrap();
    // Read until ReadyForQuery ('Z').
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen
        .windows(6)
        .any(|w| w[0] == b'Z' && w[1..5] == [0, 0, 0, 5])
    {
        let n = s.read(&mut buf).expect("read startup answer");
        assert!(n > 0, "closed during startup");
        seen.extend_from_slice(&buf[..n]);
    }
    s.write_all(payload).unwrap();
    let mut out = Vec::new();
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out
                    .windows(6)
                    .any(|w| w[0] == b'Z' && w[1..5] == [0, 0, 0, 5])
                {
                    break;
                }
            }
        }
    }
    out
}

fn query_msg(sql: &[u8]) -> Vec<u8> {
    let mut m = vec![b'Q'];
    m.extend_from_slice(&((sql.len() + 5) as u32).to_be_bytes());
    m.extend_from_slice(sql);
    m.push(0);
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_get_errors_not_crashes() {
    let cluster = DevCluster::start(1);
    let addr = cluster.frontends[0];
    // Invalid UTF-8 in a query: an ErrorResponse ('E'), then ReadyForQuery.
    let out = raw_session(addr, &query_msg(b"SELECT '\xff\xfe'"));
    assert!(out.contains(&b'E'), "an error for invalid UTF-8: {out:?}");
    // An unknown message type.
    let mut bogus = vec![b'!'];
    bogus.extend_from_slice(&8u32.to_be_bytes());
    bogus.extend_from_slice(b"abcd");
    let _ = raw_session(addr, &bogus);
    // A message that claims to be 1 GiB: refused, the connection closed.
    let mut huge = vec![b'Q'];
    huge.extend_from_slice(&(1u32 << 30).to_be_bytes());
    huge.extend_from_slice(b"SELECT 1");
    let _ = raw_session(addr, &huge);
    // A Bind with the wrong number of parameters.
    let mut parse = vec![b'P'];
    let body = b"\0SELECT $1::int\0\0\0";
    parse.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    parse.extend_from_slice(body);
    let mut bind = vec![b'B'];
    let bbody = b"\0\0\0\0\0\0\0\0"; // portal, statement, 0 formats, 0 params, 0 result formats
    bind.extend_from_slice(&((bbody.len() + 4) as u32).to_be_bytes());
    bind.extend_from_slice(bbody);
    let mut sync = vec![b'S'];
    sync.extend_from_slice(&4u32.to_be_bytes());
    let out = raw_session(addr, &[parse, bind, sync].concat());
    assert!(out.contains(&b'E'), "an error for a wrong parameter count");
    // The server still serves new connections.
    let c = cluster.connect(0).await;
    let one: i32 = c.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_larger_than_grpc_defaults_commits() {
    let cluster = DevCluster::start(2);
    let c = cluster.connect(0).await;
    c.batch_execute("CREATE TABLE big (id int PRIMARY KEY, body text)")
        .await
        .unwrap();
    // About 10 MB in one commit (one coordinator message, one batch).
    let n = c
        .execute(
            "INSERT INTO big SELECT g, repeat('x', 1000) FROM generate_series(1, 10000) g",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 10_000);
    let other = cluster.connect(1).await;
    let total: i64 = other
        .query_one("SELECT sum(length(body)) FROM big", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, 10_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrays_jsonb_numeric_and_the_type_lookup_query() {
    let cluster = DevCluster::start(1);
    let c = cluster.connect(0).await;
    c.batch_execute("CREATE TABLE arr (id int PRIMARY KEY, ints int[], names text[], doc jsonb, n numeric(10,3))")
        .await
        .unwrap();
    let ints: Vec<i32> = vec![1, -2, 3];
    let names: Vec<Option<String>> = vec![Some("a".into()), None, Some("b c".into())];
    let doc = serde_json::json!({"k": [1, 2]});
    c.execute(
        "INSERT INTO arr VALUES ($1, $2, $3, $4, $5::text::numeric)",
        &[&1i32, &ints, &names, &doc, &"12.5"],
    )
    .await
    .unwrap();
    let row = c
        .query_one(
            "SELECT ints, names, doc, n::text FROM arr WHERE id = $1",
            &[&1i32],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Vec<i32>>(0), ints);
    assert_eq!(row.get::<_, Vec<Option<String>>>(1), names);
    assert_eq!(row.get::<_, serde_json::Value>(2), doc);
    assert_eq!(row.get::<_, String>(3), "12.500");
    // The query tokio-postgres sends for a type OID it does not know.
    let lookup = "SELECT t.typname, t.typtype, t.typelem, r.rngsubtype, t.typbasetype, \
                  n.nspname, t.typrelid FROM pg_catalog.pg_type t \
                  LEFT OUTER JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid \
                  INNER JOIN pg_catalog.pg_namespace n ON t.typnamespace = n.oid \
                  WHERE t.oid = $1";
    let row = c.query_one(lookup, &[&1007u32]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "_int4");
    // PostgreSQL types typtype as "char", which tokio-postgres reads as
    // i8; Shoal has no "char" type and sends text.
    assert_eq!(row.get::<_, String>(1), "b");
    assert_eq!(row.get::<_, u32>(2), 23);
    assert_eq!(row.get::<_, Option<u32>>(3), None);
    assert_eq!(row.get::<_, String>(5), "pg_catalog");
}

//! The wire protocol message by message, with a raw client against
//! `serve()` over the real engine: startup, simple query, the extended
//! protocol's error recovery and portal suspension, limits, cancel and
//! shutdown.

mod common;

use bytes::{BufMut, BytesMut};
use common::{types, Msg, Raw, Server};
use shoal_wire::WireOptions;

fn ready_status(msgs: &[Msg]) -> u8 {
    let last = msgs.last().expect("a message");
    assert_eq!(last.ty, b'Z', "ends with ReadyForQuery: {}", types(msgs));
    last.body[0]
}

async fn connected(server: &Server) -> (Raw, Vec<Msg>) {
    let mut raw = server.raw().await;
    let msgs = raw.startup("postgres").await;
    (raw, msgs)
}

#[tokio::test]
async fn startup_sends_parameters_key_data_and_ready() {
    let server = Server::start().await;
    let (_, msgs) = connected(&server).await;
    let t = types(&msgs);
    assert!(t.starts_with('R'), "{t}");
    assert!(t.ends_with("KZ"), "{t}");
    assert_eq!(ready_status(&msgs), b'I');
    let params: Vec<String> = msgs
        .iter()
        .filter(|m| m.ty == b'S')
        .map(|m| m.text())
        .collect();
    assert!(params.iter().any(|p| p == "server_version"), "{params:?}");
}

#[tokio::test]
async fn ssl_and_gss_requests_are_refused_without_tls() {
    let server = Server::start().await;
    let mut raw = server.raw().await;
    let mut b = BytesMut::new();
    b.put_i32(80877104);
    raw.send_untyped(&b).await;
    assert_eq!(raw.recv_byte().await, b'N');
    let mut raw = server.raw().await;
    let mut b = BytesMut::new();
    b.put_i32(80877103);
    raw.send_untyped(&b).await;
    assert_eq!(raw.recv_byte().await, b'N');
    let msgs = raw.startup("postgres").await;
    assert_eq!(ready_status(&msgs), b'I');
}

#[tokio::test]
async fn unknown_database_is_fatal_3d000() {
    let server = Server::start().await;
    let mut raw = server.raw().await;
    let mut b = BytesMut::new();
    b.put_i32(3 << 16);
    b.put_slice(b"user\0postgres\0database\0nope\0\0");
    raw.send_untyped(&b).await;
    let msgs = raw.until_ready().await;
    let err = msgs.iter().find(|m| m.ty == b'E').expect("an error");
    assert_eq!(err.sqlstate(), "3D000");
    assert_eq!(err.field(b'S').as_deref(), Some("FATAL"));
    assert!(raw.recv().await.is_none(), "connection closed");
}

#[tokio::test]
async fn simple_query_results_and_tags() {
    let server = Server::start().await;
    let (mut raw, _) = connected(&server).await;
    let msgs = raw.query("SELECT 1 AS a, 'x' AS b").await;
    assert_eq!(types(&msgs), "TDCZ");
    assert_eq!(msgs[2].text(), "SELECT 1");
    // RowDescription: 2 fields, first named "a" of type int4 (23).
    let body = &msgs[0].body;
    assert_eq!(&body[..2], &[0, 2]);
    assert_eq!(&body[2..4], b"a\0");
    assert_eq!(&body[10..14], &23u32.to_be_bytes());
    let msgs = raw
        .query("CREATE TABLE t (id int PRIMARY KEY, v text)")
        .await;
    assert_eq!(types(&msgs), "CZ");
    assert_eq!(msgs[0].text(), "CREATE TABLE");
    let msgs = raw.query("INSERT INTO t VALUES (1, 'a'), (2, 'b')").await;
    assert_eq!(msgs[0].text(), "INSERT 0 2");
}

#[tokio::test]
async fn empty_queries() {
    let server = Server::start().await;
    let (mut raw, _) = connected(&server).await;
    assert_eq!(types(&raw.query("").await), "IZ");
    assert_eq!(types(&raw.query(" ; ").await), "IZ");
}

#[tokio::test]
async fn an_error_skips_the_rest_of_a_simple_query() {
    let server = Server::start().await;
    let (mut raw, _) = connected(&server).await;
    let msgs = raw.query("SELECT 1; SELECT * FROM missing; SELECT 2").await;
    assert_eq!(types(&msgs), "TDCEZ");
    assert_eq!(msgs[3].sqlstate(), "42P01");
    let msgs = raw.query("SELEC 1").await;
    assert_eq!(types(&msgs), "EZ");
    assert_eq!(msgs[0].sqlstate(), "42601");
}

#[tokio::test]
async fn transaction_status_in_ready_for_query() {
    let server = Server::start().await;
    let (mut raw, _) = connected(&server).await;
    assert_eq!(ready_status(&raw.query("BEGIN").await), b'T');
    assert_eq!(
        ready_status(&raw.query("SELECT * FROM missing").await),
        b'E'
    );
    let msgs = raw.query("SELECT 1").await;
    assert_eq!(msgs[0].sqlstate(), "25P02");
    assert_eq!(ready_status(&msgs), b'E');
    assert_eq!(ready_status(&raw.query("ROLLBACK").await), b'I');
}

#[tokio::test]
async fn set_reports_parameter_status() {
    let server = Server::start().await;
    let (mut raw, _) = connected(&server).await;
    let msgs = raw.query("SET application_name = 'wire-test'").await;
    let status = msgs.iter().find(|m| m.ty == b'S').expect("ParameterStatus");
    assert_eq!(&status.body[..], b"application_name\0wire-test\0");
}

#[tokio::test]
async fn extended_errors_skip_until_sync() {
    let server = Server::start().await;
    let (mut raw, _) = connected(&server).await;
    raw.parse("s", "SELECT $1::int, $2::int", &[]).await;
    raw.bind("", "s", &[], &[Some(b"1")], &[]).await;
    raw.execute("", 0).await;
    let msgs = raw.sync().await;
    assert_eq!(types(&msgs), "1EZ");
    assert_eq!(msgs[1].sqlstate(), "08P01");
    assert_eq!(
        msgs[1].field(b'M').as_deref(),
        Some("bind message supplies 1 parameters, but prepared statement \"s\" requires 2")
    );
    // The statement survives; a correct Bind works.
    raw.bind("", "s", &[], &[Some(b"1"), Some(b"2")], &[]).await;
    raw.execute("", 0).await;
    let msgs = raw.sync().await;
    assert_eq!(types(&msgs), "2DCZ");
    assert_eq!(&msgs[1].body[..], b"\0\x02\0\0\0\x011\0\0\0\x012");
}

#[tokio::test]
async fn prepared_statement_names() {
    let server = Server::start().await;
    let (mut raw, _) = connected(&server).await;
    raw.parse("s", "SELECT 1", &[]).await;
    raw.parse("s", "SELECT 2", &[]).await;
    let msgs = raw.sync().await;
    assert_eq!(types(&msgs), "1EZ");
    assert_eq!(msgs[1].sqlstate(), "42P05");
    raw.bind("", "nope", &[], &[], &[]).await;
    let msgs = raw.sync().await;
    assert_eq!(msgs[0].sqlstate(), "26000");
    raw.close(b'S', "s").await;
    raw.parse("s", "SELECT 2", &[]).await;
    assert_eq!(types(&raw.sync().await), "31Z");
    raw.parse("", "SELECT $1", &[999_999]).await;
    let msgs = raw.sync().await;
    assert_eq!(msgs[0].sqlstate(), "42704");
    raw.describe(b'P', "nope").await;
    assert_eq!(raw.sync().await[0].sqlstate(), "34000");
}

#[tokio::test]
async fn describe_statement_and_portal() {
    let server = Server::start().await;
    let (mut raw, _) = connected(&server).await;
    raw.query("CREATE TABLE t (id int PRIMARY KEY, v text)")
        .await;
    raw.parse("ins", "INSERT INTO t VALUES ($1, $2)", &[]).await;
    raw.describe(b'S', "ins").await;
    raw.parse("sel", "SELECT id, v FROM t", &[]).await;
    raw.describe(b'S', "sel").await;
    raw.bind("p", "sel", &[], &[], &[1, 0]).await;
    raw.describe(b'P', "p").await;
    let msgs = raw.sync().await;
    assert_eq!(types(&msgs), "1tn1tT2TZ");
    // ParameterDescription of ins: int4, text; of sel: none.
    assert_eq!(&msgs[1].body[..], &[0, 2, 0, 0, 0, 23, 0, 0, 0, 25]);
    assert_eq!(&msgs[4].body[..], &[0, 0]);
    // The portal's RowDescription carries its result formats: binary, text.
    let rd = &msgs[7].body;
    let first_format = &rd[2 + 3 + 16..2 + 3 + 18];
    assert_eq!(first_format, &[0, 1]);
}

#[tokio::test]
async fn portals_suspend_and_resume() {
    let server = Server::start().await;
    let (mut raw, _) = connected(&server).await;
    raw.query("CREATE TABLE t (id int PRIMARY KEY)").await;
    raw.query("INSERT INTO t VALUES (1), (2), (3), (4), (5)")
        .await;
    raw.query("BEGIN").await;
    raw.parse("", "SELECT id FROM t ORDER BY id", &[]).await;
    raw.bind("c", "", &[], &[], &[]).await;
    raw.execute("c", 2).await;
    raw.execute("c", 2).await;
    let msgs = raw.sync().await;
    assert_eq!(types(&msgs), "12DDsDDsZ");
    assert_eq!(ready_status(&msgs), b'T');
    // The portal outlives Sync inside the transaction.
    raw.execute("c", 2).await;
    let msgs = raw.sync().await;
    assert_eq!(types(&msgs), "DCZ");
    assert_eq!(msgs[1].text(), "SELECT 1");
    raw.query("COMMIT").await;
    // ... and is gone after it.
    raw.execute("c", 2).await;
    assert_eq!(raw.sync().await[0].sqlstate(), "34000");
}

#[tokio::test]
async fn copy_from_stdin_messages() {
    let server = Server::start().await;
    let (mut raw, _) = connected(&server).await;
    raw.query("CREATE TABLE c (id int PRIMARY KEY, v text)")
        .await;
    let mut b = BytesMut::new();
    b.put_slice(b"COPY c FROM STDIN\0");
    raw.send(b'Q', &b).await;
    let start = raw.recv().await.expect("CopyInResponse");
    assert_eq!(start.ty, b'G');
    assert_eq!(&start.body[..], &[0, 0, 2, 0, 0, 0, 0]);
    raw.send(b'd', b"1\tone\n2\t").await;
    raw.send(b'd', b"two\n").await;
    raw.send(b'c', b"").await;
    let msgs = raw.until_ready().await;
    assert_eq!(types(&msgs), "CZ");
    assert_eq!(msgs[0].text(), "COPY 2");

    // CopyFail: 57014 with the client's message; data the client still
    // sends afterwards is ignored.
    raw.query("BEGIN").await;
    raw.send(b'Q', &b).await;
    assert_eq!(raw.recv().await.expect("CopyInResponse").ty, b'G');
    raw.send(b'd', b"3\tthree\n").await;
    raw.send(b'f', b"client gave up\0").await;
    let msgs = raw.until_ready().await;
    assert_eq!(types(&msgs), "EZ");
    assert_eq!(msgs[0].sqlstate(), "57014");
    assert_eq!(
        msgs[0].field(b'M').as_deref(),
        Some("COPY from stdin failed: client gave up")
    );
    assert_eq!(ready_status(&msgs), b'E', "the transaction block failed");
    raw.send(b'd', b"stray\n").await;
    assert_eq!(ready_status(&raw.query("ROLLBACK").await), b'I');
    let msgs = raw.query("SELECT id FROM c ORDER BY id").await;
    assert_eq!(types(&msgs), "TDDCZ");

    // Any other message during COPY: the connection is lost, as in
    // PostgreSQL.
    raw.send(b'Q', &b).await;
    assert_eq!(raw.recv().await.expect("CopyInResponse").ty, b'G');
    let msgs = raw.query("SELECT 1").await;
    assert_eq!(msgs[0].sqlstate(), "08P01");
    assert_eq!(msgs[0].field(b'S').as_deref(), Some("FATAL"));
    assert!(raw.recv().await.is_none());
}

#[tokio::test]
async fn malformed_messages_are_errors_not_crashes() {
    let server = Server::start().await;
    let (mut raw, _) = connected(&server).await;
    // A Bind cut short.
    raw.send(b'B', b"\0\0\0\x01").await;
    let msgs = raw.sync().await;
    assert_eq!(types(&msgs), "EZ");
    assert_eq!(msgs[0].sqlstate(), "08P01");
    // Invalid UTF-8 in a query.
    let msgs = {
        raw.send(b'Q', b"SELECT '\xff'\0").await;
        raw.until_ready().await
    };
    assert_eq!(msgs[0].sqlstate(), "22021");
    // Still usable.
    assert_eq!(types(&raw.query("SELECT 1").await), "TDCZ");
    // An unknown message type is fatal.
    raw.send(b'@', b"").await;
    let msgs = raw.until_ready().await;
    assert_eq!(msgs[0].field(b'S').as_deref(), Some("FATAL"));
    assert!(raw.recv().await.is_none());
}

#[tokio::test]
async fn oversized_messages_close_the_connection() {
    let server = Server::start_with(WireOptions {
        max_message_bytes: 1024,
        ..WireOptions::default()
    })
    .await;
    let (mut raw, _) = connected(&server).await;
    let big = format!("SELECT '{}'", "x".repeat(2000));
    let msgs = raw.query(&big).await;
    assert_eq!(msgs[0].sqlstate(), "08P01");
    assert_eq!(msgs[0].field(b'S').as_deref(), Some("FATAL"));
    assert!(raw.recv().await.is_none());
}

#[tokio::test]
async fn too_many_connections_is_53300() {
    let server = Server::start_with(WireOptions {
        max_connections: 1,
        ..WireOptions::default()
    })
    .await;
    let (_first, _) = connected(&server).await;
    let (_, msgs) = connected(&server).await;
    assert_eq!(msgs[0].sqlstate(), "53300");
}

#[tokio::test]
async fn a_cancel_while_idle_does_not_cancel_the_next_statement() {
    let server = Server::start().await;
    let (mut raw, msgs) = connected(&server).await;
    let key = msgs.iter().find(|m| m.ty == b'K').expect("BackendKeyData");
    let mut cancel = server.raw().await;
    let mut b = BytesMut::new();
    b.put_i32(80877102);
    b.put_slice(&key.body);
    cancel.send_untyped(&b).await;
    assert!(
        cancel.recv().await.is_none(),
        "no reply to a cancel request"
    );
    assert_eq!(types(&raw.query("SELECT 1").await), "TDCZ");
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_returns() {
    let mut server = Server::start().await;
    let (mut raw, _) = connected(&server).await;
    server.stop().await;
    let msg = raw.recv().await.expect("a goodbye");
    assert_eq!(msg.sqlstate(), "57P01");
    assert!(raw.recv().await.is_none());
}

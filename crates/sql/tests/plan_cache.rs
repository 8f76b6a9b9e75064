//! A prepared statement keeps its plan between executions; whatever the
//! plan was bound under (the catalog, `search_path`, the parameters'
//! types) changing makes the next execution bind it again.

mod common;

use common::*;
use shoal_sql::session::{Parsed, Session};
use shoal_sql::{ErrorCode, Value};

fn prepare(sql: &str) -> Parsed {
    shoal_sql::session::parse(sql)
        .expect("parse")
        .pop()
        .expect("one statement")
}

async fn exec(s: &mut Session, p: &Parsed, params: &[Value]) -> Vec<String> {
    match s.execute(p, params).await {
        Ok(out) => text(&out),
        Err(e) => panic!("{}: {e:?}", p.text),
    }
}

#[tokio::test]
async fn a_kept_plan_reads_the_data_as_it_is_now() {
    let (_c, e, mut s) = session().await;
    run(&mut s, "create table t (id int primary key, v text)")
        .await
        .unwrap();
    run(&mut s, "insert into t values (1, 'a'), (2, 'b')")
        .await
        .unwrap();
    let select = prepare("select v from t where id = $1");
    let update = prepare("update t set v = v || '!' where id = $1");
    assert_eq!(exec(&mut s, &select, &[Value::Int4(1)]).await, ["a"]);
    assert_eq!(exec(&mut s, &select, &[Value::Int4(2)]).await, ["b"]);
    exec(&mut s, &update, &[Value::Int4(1)]).await;
    exec(&mut s, &update, &[Value::Int4(1)]).await;
    assert_eq!(exec(&mut s, &select, &[Value::Int4(1)]).await, ["a!!"]);
    // Another session's writes too.
    let mut other = e.new_session("postgres", "postgres", &[]).await.unwrap();
    run(&mut other, "update t set v = 'z' where id = 2")
        .await
        .unwrap();
    assert_eq!(exec(&mut s, &select, &[Value::Int4(2)]).await, ["z"]);
    // A parameter of another type binds anew (NULL has none).
    assert_eq!(
        exec(&mut s, &select, &[Value::Null]).await,
        Vec::<String>::new()
    );
    assert_eq!(exec(&mut s, &select, &[Value::Int4(2)]).await, ["z"]);
}

#[tokio::test]
async fn ddl_by_another_session_or_frontend_binds_the_statement_again() {
    let (c, e, mut s) = session().await;
    run(&mut s, "create table t (id int primary key, v text)")
        .await
        .unwrap();
    run(&mut s, "insert into t values (1, 'old')")
        .await
        .unwrap();
    let select = prepare("select v from t where id = 1");
    let insert = prepare("insert into t (id) values ($1)");
    assert_eq!(exec(&mut s, &select, &[]).await, ["old"]);
    exec(&mut s, &insert, &[Value::Int4(2)]).await;

    // The table is dropped and made again: the kept plan names the old one.
    let mut other = e.new_session("postgres", "postgres", &[]).await.unwrap();
    run(
        &mut other,
        "drop table t; create table t (id int primary key, v text default 'dflt'); \
         insert into t values (1, 'new')",
    )
    .await
    .unwrap();
    assert_eq!(exec(&mut s, &select, &[]).await, ["new"]);
    exec(&mut s, &insert, &[Value::Int4(2)]).await;
    assert_eq!(
        query(&mut s, "select id, v from t order by id").await,
        ["1|new", "2|dflt"]
    );

    // DDL on another frontend reaches this one's plans as well.
    let e2 = c.engine().await;
    let mut far = e2.new_session("postgres", "postgres", &[]).await.unwrap();
    run(&mut far, "alter table t alter column v set default 'far'")
        .await
        .unwrap();
    exec(&mut s, &insert, &[Value::Int4(3)]).await;
    assert_eq!(query(&mut s, "select v from t where id = 3").await, ["far"]);
}

#[tokio::test]
async fn a_new_search_path_resolves_names_again() {
    let (_c, _e, mut s) = session().await;
    run(
        &mut s,
        "create schema a; create schema b; \
         create table a.t (v text); create table b.t (v text); \
         insert into a.t values ('in a'); insert into b.t values ('in b')",
    )
    .await
    .unwrap();
    let select = prepare("select v from t");
    run(&mut s, "set search_path = a").await.unwrap();
    assert_eq!(exec(&mut s, &select, &[]).await, ["in a"]);
    run(&mut s, "set search_path = b").await.unwrap();
    assert_eq!(exec(&mut s, &select, &[]).await, ["in b"]);
    run(&mut s, "set search_path = public").await.unwrap();
    let e = s.execute(&select, &[]).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::UndefinedTable, "{e:?}");
}

#[tokio::test]
async fn ddl_in_the_same_transaction_is_seen_by_a_kept_plan() {
    let (_c, _e, mut s) = session().await;
    run(&mut s, "create table t (id int primary key)")
        .await
        .unwrap();
    let insert = prepare("insert into t values ($1)");
    let select = prepare("select * from t order by id");
    exec(&mut s, &insert, &[Value::Int4(1)]).await;
    run(&mut s, "begin").await.unwrap();
    run(&mut s, "alter table t add column v int default 7")
        .await
        .unwrap();
    exec(&mut s, &insert, &[Value::Int4(2)]).await;
    assert_eq!(exec(&mut s, &select, &[]).await, ["1|7", "2|7"]);
    run(&mut s, "rollback").await.unwrap();
    assert_eq!(exec(&mut s, &select, &[]).await, ["1"]);
}

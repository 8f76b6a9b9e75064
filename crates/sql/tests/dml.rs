//! DDL and DML end to end: constraints with PostgreSQL's messages,
//! indexes, ON CONFLICT, RETURNING, sequences, COPY.

mod common;

use common::*;
use shoal_sql::session::Output;
use shoal_sql::{ErrorCode, Value};

#[tokio::test]
async fn constraints_report_like_postgres() {
    let (_c, _e, mut s) = session().await;
    run(
        &mut s,
        "create table t (id int primary key, v text not null, n int check (n > 0))",
    )
    .await
    .expect("create");
    assert_eq!(
        tag(&run(&mut s, "insert into t values (1, 'a', 1)")
            .await
            .expect("insert")),
        "INSERT 0 1"
    );
    let e = error(&mut s, "insert into t values (1, 'b', 2)").await;
    assert_eq!(e.code, ErrorCode::UniqueViolation);
    assert_eq!(
        e.message,
        "duplicate key value violates unique constraint \"t_pkey\""
    );
    assert_eq!(e.detail.as_deref(), Some("Key (id)=(1) already exists."));
    let e = error(&mut s, "insert into t values (2, null, 2)").await;
    assert_eq!(
        e.message,
        "null value in column \"v\" of relation \"t\" violates not-null constraint"
    );
    assert_eq!(
        e.detail.as_deref(),
        Some("Failing row contains (2, null, 2).")
    );
    let e = error(&mut s, "insert into t values (3, 'c', -1)").await;
    assert_eq!(e.code, ErrorCode::CheckViolation);
    assert_eq!(
        e.message,
        "new row for relation \"t\" violates check constraint \"t_n_check\""
    );
    run(
        &mut s,
        "create table c (id int primary key, tid int references t(id))",
    )
    .await
    .expect("child");
    let e = error(&mut s, "insert into c values (1, 5)").await;
    assert_eq!(e.code, ErrorCode::ForeignKeyViolation);
    assert_eq!(
        e.message,
        "insert or update on table \"c\" violates foreign key constraint \"c_tid_fkey\""
    );
    assert_eq!(
        e.detail.as_deref(),
        Some("Key (tid)=(5) is not present in table \"t\".")
    );
    run(&mut s, "insert into c values (1, 1)")
        .await
        .expect("child row");
    let e = error(&mut s, "delete from t where id = 1").await;
    assert_eq!(
        e.message,
        "update or delete on table \"t\" violates foreign key constraint \"c_tid_fkey\" on table \"c\""
    );
    assert_eq!(
        e.detail.as_deref(),
        Some("Key (id)=(1) is still referenced from table \"c\".")
    );
    let e = error(&mut s, "create table t (x int)").await;
    assert_eq!(e.code, ErrorCode::DuplicateTable);
    assert_eq!(e.message, "relation \"t\" already exists");
    let e = error(&mut s, "drop table nosuch").await;
    assert_eq!(e.message, "table \"nosuch\" does not exist");
    run(&mut s, "drop table if exists nosuch")
        .await
        .expect("if exists");
    assert_eq!(
        s.take_notices()[0].message,
        "table \"nosuch\" does not exist, skipping"
    );
    let e = error(&mut s, "insert into t (nosuch) values (1)").await;
    assert_eq!(
        e.message,
        "column \"nosuch\" of relation \"t\" does not exist"
    );
    let e = error(&mut s, "update t set v = null where id = 1").await;
    assert_eq!(
        e.detail.as_deref(),
        Some("Failing row contains (1, null, 1).")
    );
}

#[tokio::test]
async fn insert_update_delete_returning() {
    let (_c, _e, mut s) = session().await;
    run(
        &mut s,
        "create table a (id serial primary key, name varchar(10), bal int default 0)",
    )
    .await
    .expect("create");
    let out = run(
        &mut s,
        "insert into a (name) values ('x'), ('y'), ('z') returning id, name",
    )
    .await
    .expect("insert");
    assert_eq!(tag(&out), "INSERT 0 3");
    assert_eq!(text(&out), vec!["1|x", "2|y", "3|z"]);
    let out = run(
        &mut s,
        "update a set bal = bal + 10 where id >= 2 returning *",
    )
    .await
    .expect("update");
    assert_eq!(tag(&out), "UPDATE 2");
    assert_eq!(text(&out), vec!["2|y|10", "3|z|10"]);
    assert_eq!(
        tag(&run(&mut s, "delete from a where name = 'x'")
            .await
            .expect("delete")),
        "DELETE 1"
    );
    assert_eq!(
        query(&mut s, "select id, name, bal from a order by id").await,
        vec!["2|y|10", "3|z|10"]
    );
    // ON CONFLICT
    run(
        &mut s,
        "insert into a values (2, 'dup', 5) on conflict (id) do nothing",
    )
    .await
    .expect("nothing");
    run(&mut s, "insert into a values (2, 'new', 5) on conflict (id) do update set name = excluded.name, bal = a.bal + excluded.bal")
        .await
        .expect("upsert");
    assert_eq!(
        query(&mut s, "select name, bal from a where id = 2").await,
        vec!["new|15"]
    );
    // Parameters through describe.
    let out = run_params(
        &mut s,
        "update a set bal = bal + $1 where id = $2",
        &[Value::Int4(5), Value::Int4(3)],
    )
    .await
    .expect("params");
    assert_eq!(tag(&out), "UPDATE 1");
    let out = run_params(&mut s, "select bal from a where id = $1", &[Value::Int4(3)])
        .await
        .expect("select");
    assert_eq!(text(&out), vec!["15"]);
    assert_eq!(
        query(&mut s, "select currval('a_id_seq'), nextval('a_id_seq')").await,
        vec!["3|4"]
    );
}

#[tokio::test]
async fn unique_index_and_alter() {
    let (_c, _e, mut s) = session().await;
    run(&mut s, "create table u (id int primary key, email text)")
        .await
        .expect("create");
    run(
        &mut s,
        "insert into u values (1, 'a'), (2, 'b'), (3, null), (4, null)",
    )
    .await
    .expect("rows");
    run(&mut s, "create unique index u_email on u (email)")
        .await
        .expect("index");
    let e = error(&mut s, "insert into u values (5, 'a')").await;
    assert_eq!(
        e.message,
        "duplicate key value violates unique constraint \"u_email\""
    );
    assert_eq!(e.detail.as_deref(), Some("Key (email)=(a) already exists."));
    assert_eq!(
        query(&mut s, "select id from u where email = 'b'").await,
        vec!["2"]
    );
    run(&mut s, "alter table u add column n int default 7")
        .await
        .expect("add column");
    assert_eq!(
        query(&mut s, "select id, n from u where id = 1").await,
        vec!["1|7"]
    );
    run(&mut s, "alter table u rename column n to m")
        .await
        .expect("rename column");
    run(&mut s, "alter table u drop column m")
        .await
        .expect("drop column");
    assert_eq!(
        query(&mut s, "select * from u where id = 2").await,
        vec!["2|b"]
    );
    run(&mut s, "alter table u rename to u2")
        .await
        .expect("rename");
    assert_eq!(query(&mut s, "select count(*) from u2").await, vec!["4"]);
    run(&mut s, "truncate u2").await.expect("truncate");
    assert_eq!(query(&mut s, "select count(*) from u2").await, vec!["0"]);
    run(&mut s, "insert into u2 values (9, 'a')")
        .await
        .expect("after truncate");
}

#[tokio::test]
async fn copy_in_and_out() {
    let (_c, _e, mut s) = session().await;
    run(&mut s, "create table k (id int primary key, v text)")
        .await
        .expect("create");
    let p = shoal_sql::session::parse("copy k from stdin")
        .expect("parse")
        .pop()
        .expect("one");
    let Output::CopyIn(ci) = s.execute(&p, &[]).await.expect("copy") else {
        panic!("expected CopyIn");
    };
    assert_eq!(ci.columns, 2);
    let n = s
        .copy_in(&ci, b"1\tone\n2\t\\N\n3\tth\\tree\n")
        .await
        .expect("copy in");
    assert_eq!(n, 3);
    let out = run(&mut s, "copy k to stdout").await.expect("copy out");
    let Output::CopyOut { data, tag, .. } = out else {
        panic!("copy out")
    };
    assert_eq!(tag, "COPY 3");
    assert_eq!(data.concat(), b"1\tone\n2\t\\N\n3\tth\\tree\n".to_vec());
    let out = run(
        &mut s,
        "copy (select id from k where id > 1) to stdout with (format csv)",
    )
    .await
    .expect("csv");
    let Output::CopyOut { data, .. } = out else {
        panic!("copy out")
    };
    assert_eq!(data.concat(), b"2\n3\n".to_vec());
}

#[tokio::test]
async fn transactions_roll_back_and_fail() {
    let (_c, _e, mut s) = session().await;
    run(&mut s, "create table t (id int primary key)")
        .await
        .expect("create");
    run(&mut s, "begin; insert into t values (1); rollback")
        .await
        .expect("rollback");
    assert_eq!(query(&mut s, "select count(*) from t").await, vec!["0"]);
    run(
        &mut s,
        "begin; insert into t values (1); savepoint s; insert into t values (2)",
    )
    .await
    .expect("sp");
    let e = error(&mut s, "insert into t values (2)").await;
    assert_eq!(e.code, ErrorCode::UniqueViolation);
    let e = error(&mut s, "select 1").await;
    assert_eq!(e.code, ErrorCode::InFailedTransaction);
    run(&mut s, "rollback to savepoint s")
        .await
        .expect("rollback to");
    run(&mut s, "commit").await.expect("commit");
    assert_eq!(query(&mut s, "select id from t").await, vec!["1"]);
    run(&mut s, "begin").await.expect("begin");
    let _ = error(&mut s, "select * from nosuch").await;
    assert_eq!(
        tag(&run(&mut s, "commit").await.expect("commit")),
        "ROLLBACK"
    );
}

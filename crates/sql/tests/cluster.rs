//! Two frontends over one coordinator: DDL on one is seen by the other
//! (schema cache invalidation), writers serialise on row locks, READ
//! COMMITTED re-checks the newest row version, REPEATABLE READ fails
//! with 40001, NOWAIT fails with 55P03, sequences never collide.

mod common;

use std::time::Duration;

use common::*;
use shoal_sql::ErrorCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_and_rows_are_seen_by_the_other_frontend() {
    let c = Cluster::start().await;
    let e1 = c.engine().await;
    let e2 = c.engine().await;
    let mut s1 = e1
        .new_session("postgres", "postgres", &[])
        .await
        .expect("s1");
    let mut s2 = e2
        .new_session("postgres", "postgres", &[])
        .await
        .expect("s2");
    run(
        &mut s1,
        "create table t (id int primary key, v int); insert into t values (1, 10)",
    )
    .await
    .expect("setup");
    assert_eq!(
        query(&mut s2, "select v from t where id = 1").await,
        vec!["10"]
    );
    run(&mut s2, "alter table t add column w int default 5")
        .await
        .expect("alter");
    assert_eq!(
        query(&mut s1, "select w from t where id = 1").await,
        vec!["5"]
    );
    run(&mut s1, "create sequence q").await.expect("seq");
    let a = query(&mut s1, "select nextval('q')").await;
    let b = query(&mut s2, "select nextval('q')").await;
    assert_ne!(a, b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_wait_and_recheck() {
    let c = Cluster::start().await;
    let e1 = c.engine().await;
    let e2 = c.engine().await;
    let mut s1 = e1
        .new_session("postgres", "postgres", &[])
        .await
        .expect("s1");
    let mut s2 = e2
        .new_session("postgres", "postgres", &[])
        .await
        .expect("s2");
    run(
        &mut s1,
        "create table t (id int primary key, v int); insert into t values (1, 10), (2, 20)",
    )
    .await
    .expect("setup");
    run(&mut s1, "begin; update t set v = v + 1 where id = 1")
        .await
        .expect("t1 update");
    // NOWAIT fails at once.
    let e = error(&mut s2, "select * from t where id = 1 for update nowait").await;
    assert_eq!(e.code, ErrorCode::LockNotAvailable);
    assert_eq!(e.message, "could not obtain lock on row in relation \"t\"");
    // SKIP LOCKED leaves the row out.
    assert_eq!(
        query(
            &mut s2,
            "select id from t order by id for update skip locked"
        )
        .await,
        vec!["2"]
    );
    // A waiting writer sees the committed version (READ COMMITTED).
    let waiter = tokio::spawn(async move {
        let r = run(&mut s2, "update t set v = v * 2 where id = 1")
            .await
            .map(|o| tag(&o));
        (s2, r)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiter.is_finished(),
        "the second writer waits for the row lock"
    );
    run(&mut s1, "commit").await.expect("commit");
    let (mut s2, r) = waiter.await.expect("join");
    assert_eq!(r.expect("second update"), "UPDATE 1");
    assert_eq!(
        query(&mut s2, "select v from t where id = 1").await,
        vec!["22"]
    );
    // REPEATABLE READ: a concurrent update is a serialization failure.
    run(
        &mut s2,
        "begin isolation level repeatable read; select * from t",
    )
    .await
    .expect("rr");
    run(&mut s1, "update t set v = 0 where id = 2")
        .await
        .expect("t1 update 2");
    let e = error(&mut s2, "update t set v = 1 where id = 2").await;
    assert_eq!(e.code, ErrorCode::SerializationFailure);
    run(&mut s2, "rollback").await.expect("rollback");
}

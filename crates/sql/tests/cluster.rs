//! Two frontends over one coordinator: DDL on one is seen by the other
//! (schema cache invalidation), writers serialise on row locks, READ
//! COMMITTED re-checks the newest row version, REPEATABLE READ fails
//! with 40001, NOWAIT fails with 55P03, sequences never collide; the
//! cluster views show both frontends and the locks held and waited for
//! on either, and fail with 08006 once the coordinator is gone.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_views_show_members_and_locks_of_every_frontend() {
    let c = Cluster::start().await;
    let a = c.engine().await;
    let b = c.engine().await;
    let session = |e: &std::sync::Arc<shoal_sql::Engine>| {
        let e = e.clone();
        async move {
            e.new_session("postgres", "postgres", &[])
                .await
                .expect("session")
        }
    };
    let mut on_a = session(&a).await;
    let mut waiter_b = session(&b).await;
    let mut on_b = session(&b).await;

    // Frontend B lists the coordinator and both frontends, itself marked.
    assert_eq!(
        query(
            &mut on_b,
            "select role, frontend_id, address, is_self, subscribed, lease_remaining_ms > 0, \
                    lease_expires_at > now(), visible_lsn >= 0 \
             from shoal_cluster_members where role = 'frontend' order by frontend_id"
        )
        .await,
        vec!["frontend|1|test-1|f|t|t|t|t", "frontend|2|test-2|t|t|t|t|t"]
    );
    let coordinator = query(
        &mut on_b,
        "select address, epoch > 0, is_self, frontend_id is null \
         from pg_catalog.shoal_cluster_members where role = 'coordinator'",
    )
    .await;
    assert_eq!(coordinator, vec![format!("{}|t|f|t", c.coordinator.addr)]);

    // A holds a row lock in an open transaction; a writer on B waits for it.
    run(
        &mut on_a,
        "create table accounts (id int primary key, v int); insert into accounts values (1, 10)",
    )
    .await
    .expect("setup");
    run(
        &mut on_a,
        "begin; select * from accounts where id = 1 for update",
    )
    .await
    .expect("lock on A");
    let waiter = tokio::spawn(async move {
        let r = run(
            &mut waiter_b,
            "select * from accounts where id = 1 for update",
        )
        .await
        .map(|o| tag(&o));
        (waiter_b, r)
    });
    let locks = "select frontend_id, mode, granted, relation::regclass::text, txn_id > 0 \
                 from shoal_locks where locktype = 'tuple' order by granted desc, frontend_id";
    let want = vec!["1|FOR UPDATE|t|accounts|t", "2|FOR UPDATE|f|accounts|t"];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = query(&mut on_b, locks).await;
        if got == want {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "shoal_locks on B never showed the holder on A and the waiter on B: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A's table intent lock is listed too, by relation.
    assert_eq!(
        query(
            &mut on_b,
            "select mode, granted from shoal_locks where locktype = 'relation' \
             and relation = 'accounts'::regclass and frontend_id = 1"
        )
        .await,
        vec!["IX|t"]
    );
    // One statement asks once: a join of both views sees one state.
    assert_eq!(
        query(
            &mut on_b,
            "select m.address, l.granted from shoal_locks l \
             join shoal_cluster_members m on m.frontend_id = l.frontend_id \
             where l.locktype = 'tuple' order by l.granted desc"
        )
        .await,
        vec!["test-1|t", "test-2|f"]
    );

    run(&mut on_a, "commit").await.expect("commit");
    let (_, r) = waiter.await.expect("join");
    assert_eq!(r.expect("waiter's lock"), "SELECT 1");
    // Both released their locks when their transactions ended.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = query(&mut on_b, "select resource, mode from shoal_locks").await;
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "locks left after both transactions ended: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_views_fail_cleanly_without_the_coordinator() {
    let c = Cluster::start().await;
    let e = c.engine().await;
    let mut s = e
        .new_session("postgres", "postgres", &[])
        .await
        .expect("session");
    // A REPEATABLE READ transaction keeps its snapshot, so its next
    // statement gets as far as asking the coordinator for its status.
    run(
        &mut s,
        "begin isolation level repeatable read; select count(*) from shoal_cluster_members",
    )
    .await
    .expect("members");
    c.coordinator.stop().await.expect("stop the coordinator");
    let e = error(&mut s, "select * from shoal_locks").await;
    assert_eq!(e.code, ErrorCode::Unavailable);
    assert!(
        e.message
            .starts_with("could not get the cluster status from the coordinator"),
        "{}",
        e.message
    );
}

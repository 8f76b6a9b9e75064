//! Hermitage-style isolation tests (github.com/ept/hermitage, PostgreSQL's
//! column): two connections, interleaved by hand, under READ COMMITTED and
//! REPEATABLE READ. Each anomaly is prevented or allowed exactly as
//! PostgreSQL 15 does. With `SHOAL_TEST_POSTGRES` set to a connection
//! string the same tests run against PostgreSQL itself.
//!
//! The two connections go to two different frontends of one cluster, so
//! the locks and visibility rules are exercised across nodes.

mod common;

use std::time::Duration;

use tokio_postgres::Client;

use common::{connect, DevCluster};

struct Pair {
    t1: Client,
    t2: Client,
    _cluster: Option<DevCluster>,
}

async fn pair(table: &str) -> Pair {
    let (t1, t2, cluster) = match std::env::var("SHOAL_TEST_POSTGRES") {
        Ok(base) => {
            let c = format!("{base} dbname=postgres");
            (connect(&c).await, connect(&c).await, None)
        }
        Err(_) => {
            let cluster = DevCluster::start(2);
            (
                cluster.connect(0).await,
                cluster.connect(1).await,
                Some(cluster),
            )
        }
    };
    t1.batch_execute(&format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int PRIMARY KEY, value int); \
         INSERT INTO {table} VALUES (1, 10), (2, 20)"
    ))
    .await
    .expect("setup");
    Pair {
        t1,
        t2,
        _cluster: cluster,
    }
}

async fn ids_values(c: &Client, sql: &str) -> Vec<(i32, i32)> {
    c.query(sql, &[])
        .await
        .expect(sql)
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn exec(c: &Client, sql: &str) {
    c.batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_string()).unwrap_or_default()
}

const LEVELS: [&str; 2] = ["read committed", "repeatable read"];

/// G0, dirty write: the second writer waits for the first, and the end
/// state is a serial one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g0_dirty_write_is_prevented() {
    for level in LEVELS {
        let p = pair("g0").await;
        exec(&p.t1, &format!("begin isolation level {level}")).await;
        exec(&p.t2, &format!("begin isolation level {level}")).await;
        exec(&p.t1, "update g0 set value = 11 where id = 1").await;
        let t2 = std::sync::Arc::new(p.t2);
        let waiter = {
            let t2 = t2.clone();
            tokio::spawn(async move {
                t2.batch_execute("update g0 set value = 12 where id = 1")
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !waiter.is_finished(),
            "{level}: T2 must wait for T1's row lock"
        );
        exec(&p.t1, "update g0 set value = 21 where id = 2").await;
        exec(&p.t1, "commit").await;
        let second = waiter.await.expect("join");
        if level == "read committed" {
            second.expect("T2 proceeds after T1 commits");
            exec(&t2, "update g0 set value = 22 where id = 2").await;
            exec(&t2, "commit").await;
            assert_eq!(
                ids_values(&p.t1, "select id, value from g0 order by id").await,
                vec![(1, 12), (2, 22)]
            );
        } else {
            let e = second.expect_err("RR: concurrent update is a serialization failure");
            assert_eq!(sqlstate(&e), "40001", "{e}");
            exec(&t2, "rollback").await;
            assert_eq!(
                ids_values(&p.t1, "select id, value from g0 order by id").await,
                vec![(1, 11), (2, 21)]
            );
        }
    }
}

/// G1a, aborted read: nobody sees a rolled-back write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g1a_aborted_read_is_prevented() {
    for level in LEVELS {
        let p = pair("g1a").await;
        exec(&p.t1, &format!("begin isolation level {level}")).await;
        exec(&p.t2, &format!("begin isolation level {level}")).await;
        exec(&p.t1, "update g1a set value = 101 where id = 1").await;
        assert_eq!(
            ids_values(&p.t2, "select id, value from g1a order by id").await,
            vec![(1, 10), (2, 20)]
        );
        exec(&p.t1, "abort").await;
        assert_eq!(
            ids_values(&p.t2, "select id, value from g1a order by id").await,
            vec![(1, 10), (2, 20)]
        );
        exec(&p.t2, "commit").await;
    }
}

/// G1b, intermediate read: only a transaction's final value is visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g1b_intermediate_read_is_prevented() {
    for level in LEVELS {
        let p = pair("g1b").await;
        exec(&p.t1, &format!("begin isolation level {level}")).await;
        exec(&p.t2, &format!("begin isolation level {level}")).await;
        exec(&p.t1, "update g1b set value = 101 where id = 1").await;
        assert_eq!(
            ids_values(&p.t2, "select id, value from g1b where value = 101").await,
            vec![]
        );
        exec(&p.t1, "update g1b set value = 11 where id = 1").await;
        exec(&p.t1, "commit").await;
        assert_eq!(
            ids_values(&p.t2, "select id, value from g1b where value = 101").await,
            vec![]
        );
        exec(&p.t2, "commit").await;
    }
}

/// G1c, circular information flow: neither sees the other's write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g1c_circular_information_flow_is_prevented() {
    for level in LEVELS {
        let p = pair("g1c").await;
        exec(&p.t1, &format!("begin isolation level {level}")).await;
        exec(&p.t2, &format!("begin isolation level {level}")).await;
        exec(&p.t1, "update g1c set value = 11 where id = 1").await;
        exec(&p.t2, "update g1c set value = 22 where id = 2").await;
        assert_eq!(
            ids_values(&p.t1, "select id, value from g1c where id = 2").await,
            vec![(2, 20)]
        );
        assert_eq!(
            ids_values(&p.t2, "select id, value from g1c where id = 1").await,
            vec![(1, 10)]
        );
        exec(&p.t1, "commit").await;
        exec(&p.t2, "commit").await;
    }
}

/// P4, lost update: READ COMMITTED re-reads the locked row and applies the
/// increment to the committed value; REPEATABLE READ fails with 40001.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p4_lost_update() {
    for level in LEVELS {
        let p = pair("p4").await;
        exec(&p.t1, &format!("begin isolation level {level}")).await;
        exec(&p.t2, &format!("begin isolation level {level}")).await;
        assert_eq!(
            ids_values(&p.t1, "select id, value from p4 where id = 1").await,
            vec![(1, 10)]
        );
        assert_eq!(
            ids_values(&p.t2, "select id, value from p4 where id = 1").await,
            vec![(1, 10)]
        );
        exec(&p.t1, "update p4 set value = value + 1 where id = 1").await;
        let t2 = std::sync::Arc::new(p.t2);
        let waiter = {
            let t2 = t2.clone();
            tokio::spawn(async move {
                t2.batch_execute("update p4 set value = value + 1 where id = 1")
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiter.is_finished(), "{level}: T2 waits for the row lock");
        exec(&p.t1, "commit").await;
        let result = waiter.await.expect("join");
        if level == "read committed" {
            result.expect("RC re-checks the row and proceeds");
            exec(&t2, "commit").await;
            assert_eq!(
                ids_values(&p.t1, "select id, value from p4 where id = 1").await,
                vec![(1, 12)],
                "no increment is lost"
            );
        } else {
            let e = result.expect_err("RR: could not serialize access");
            assert_eq!(sqlstate(&e), "40001", "{e}");
            exec(&t2, "rollback").await;
            assert_eq!(
                ids_values(&p.t1, "select id, value from p4 where id = 1").await,
                vec![(1, 11)]
            );
        }
    }
}

/// G-single, read skew: READ COMMITTED allows it (each statement has its
/// own snapshot); REPEATABLE READ prevents it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g_single_read_skew() {
    for level in LEVELS {
        let p = pair("gs").await;
        exec(&p.t1, &format!("begin isolation level {level}")).await;
        exec(&p.t2, &format!("begin isolation level {level}")).await;
        assert_eq!(
            ids_values(&p.t1, "select id, value from gs where id = 1").await,
            vec![(1, 10)]
        );
        exec(&p.t2, "update gs set value = 12 where id = 1").await;
        exec(&p.t2, "update gs set value = 18 where id = 2").await;
        exec(&p.t2, "commit").await;
        let seen = ids_values(&p.t1, "select id, value from gs where id = 2").await;
        if level == "read committed" {
            assert_eq!(seen, vec![(2, 18)], "RC sees the newer commit");
        } else {
            assert_eq!(seen, vec![(2, 20)], "RR keeps its snapshot");
        }
        exec(&p.t1, "commit").await;
    }
}

/// PMP, predicate-many-preceders: a concurrent insert shows up in a
/// READ COMMITTED re-query but not under REPEATABLE READ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pmp_predicate_many_preceders() {
    for level in LEVELS {
        let p = pair("pmp").await;
        exec(&p.t1, &format!("begin isolation level {level}")).await;
        exec(&p.t2, &format!("begin isolation level {level}")).await;
        assert_eq!(
            ids_values(&p.t1, "select id, value from pmp where value = 30").await,
            vec![]
        );
        exec(&p.t2, "insert into pmp values (3, 30)").await;
        exec(&p.t2, "commit").await;
        let seen = ids_values(&p.t1, "select id, value from pmp where value % 3 = 0").await;
        if level == "read committed" {
            assert_eq!(seen, vec![(3, 30)]);
        } else {
            assert_eq!(seen, vec![]);
        }
        exec(&p.t1, "commit").await;
    }
}

/// G2-item, write skew: allowed by both (REPEATABLE READ is snapshot
/// isolation in PostgreSQL too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g2_item_write_skew_is_allowed() {
    for level in LEVELS {
        let p = pair("g2").await;
        exec(&p.t1, &format!("begin isolation level {level}")).await;
        exec(&p.t2, &format!("begin isolation level {level}")).await;
        assert_eq!(
            ids_values(
                &p.t1,
                "select id, value from g2 where id in (1,2) order by id"
            )
            .await,
            vec![(1, 10), (2, 20)]
        );
        assert_eq!(
            ids_values(
                &p.t2,
                "select id, value from g2 where id in (1,2) order by id"
            )
            .await,
            vec![(1, 10), (2, 20)]
        );
        exec(&p.t1, "update g2 set value = 11 where id = 1").await;
        exec(&p.t2, "update g2 set value = 21 where id = 2").await;
        exec(&p.t1, "commit").await;
        exec(&p.t2, "commit").await;
        assert_eq!(
            ids_values(&p.t1, "select id, value from g2 order by id").await,
            vec![(1, 11), (2, 21)]
        );
    }
}

/// A deadlock across two frontends: one of the two is chosen as the
/// victim (40P01), the other completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlock_victim_gets_40p01() {
    let p = pair("dl").await;
    exec(&p.t1, "begin").await;
    exec(&p.t2, "begin").await;
    exec(&p.t1, "update dl set value = 11 where id = 1").await;
    exec(&p.t2, "update dl set value = 22 where id = 2").await;
    let t1 = std::sync::Arc::new(p.t1);
    let t2 = std::sync::Arc::new(p.t2);
    let a = {
        let t1 = t1.clone();
        tokio::spawn(async move {
            t1.batch_execute("update dl set value = 12 where id = 2")
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let b = t2
        .batch_execute("update dl set value = 21 where id = 1")
        .await;
    let (ok, err) = match b {
        Err(e) => (a.await.expect("join"), e),
        Ok(()) => {
            let e = a
                .await
                .expect("join")
                .expect_err("one of the two is the victim");
            (Ok(()), e)
        }
    };
    assert_eq!(sqlstate(&err), "40P01", "{err}");
    ok.expect("the survivor completes");
    let _ = t1.batch_execute("rollback").await;
    let _ = t2.batch_execute("rollback").await;
}

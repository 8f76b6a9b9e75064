//! pgbench's statements end to end: its initialisation (DDL, COPY,
//! ALTER TABLE ADD PRIMARY KEY, VACUUM), its partition probe, and the
//! TPC-B-like transaction with parameters; the hot paths use key lookups.

mod common;

use common::*;
use shoal_sql::session::Output;
use shoal_sql::Value;

#[tokio::test]
async fn pgbench_init_and_transaction() {
    let (_c, _e, mut s) = session().await;
    run(
        &mut s,
        "drop table if exists pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers;
         create table pgbench_history(tid int,bid int,aid    int,delta int,mtime timestamp,filler char(22));
         create table pgbench_tellers(tid int not null,bid int,tbalance int,filler char(84)) with (fillfactor=100);
         create table pgbench_accounts(aid    int not null,bid int,abalance int,filler char(84)) with (fillfactor=100);
         create table pgbench_branches(bid int not null,bbalance int,filler char(88)) with (fillfactor=100);",
    )
    .await
    .expect("create");
    run(&mut s, "begin; truncate table pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers").await.expect("truncate");
    run(
        &mut s,
        "insert into pgbench_branches(bid,bbalance) values(1,0)",
    )
    .await
    .expect("branch");
    for t in 1..=10 {
        run(
            &mut s,
            &format!("insert into pgbench_tellers(tid,bid,tbalance) values ({t},1,0)"),
        )
        .await
        .expect("teller");
    }
    let p = shoal_sql::session::parse("copy pgbench_accounts from stdin with (freeze on)")
        .expect("parse")
        .pop()
        .expect("one");
    let Output::CopyIn(ci) = s.execute(&p, &[]).await.expect("copy") else {
        panic!("copy in")
    };
    let mut data = String::new();
    for a in 1..=1000 {
        data.push_str(&format!("{a}\t1\t0\t\n"));
    }
    assert_eq!(
        s.copy_in(&ci, data.as_bytes()).await.expect("copy data"),
        1000
    );
    run(&mut s, "commit").await.expect("commit");
    run(&mut s, "vacuum analyze pgbench_branches")
        .await
        .expect("vacuum");
    run(
        &mut s,
        "alter table pgbench_branches add primary key (bid);
         alter table pgbench_tellers add primary key (tid);
         alter table pgbench_accounts add primary key (aid)",
    )
    .await
    .expect("keys");
    assert_eq!(
        query(&mut s, "select count(*) from pgbench_accounts").await,
        vec!["1000"]
    );
    let plan = query(
        &mut s,
        "explain select abalance from pgbench_accounts where aid = 5",
    )
    .await;
    assert_eq!(
        plan[0],
        "Index Scan using pgbench_accounts_pkey on pgbench_accounts"
    );

    // The TPC-B-like transaction, extended protocol style.
    for i in 0..20 {
        let aid = Value::Int4(1 + (i * 37) % 1000);
        let delta = Value::Int4(i - 10);
        run(&mut s, "begin").await.expect("begin");
        run_params(
            &mut s,
            "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;",
            &[delta.clone(), aid.clone()],
        )
        .await
        .expect("update accounts");
        let out = run_params(
            &mut s,
            "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
            std::slice::from_ref(&aid),
        )
        .await
        .expect("select");
        assert_eq!(text(&out).len(), 1);
        run_params(
            &mut s,
            "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2;",
            &[delta.clone(), Value::Int4(1 + i % 10)],
        )
        .await
        .expect("tellers");
        run_params(
            &mut s,
            "UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2;",
            &[delta.clone(), Value::Int4(1)],
        )
        .await
        .expect("branches");
        run_params(
            &mut s,
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP);",
            &[Value::Int4(1 + i % 10), Value::Int4(1), aid, delta],
        )
        .await
        .expect("history");
        run(&mut s, "end").await.expect("end");
    }
    assert_eq!(
        query(&mut s, "select count(*) from pgbench_history").await,
        vec!["20"]
    );
    assert_eq!(
        query(&mut s, "select sum(delta) from pgbench_history").await,
        query(&mut s, "select bbalance from pgbench_branches").await
    );
}

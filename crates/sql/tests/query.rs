//! Queries end to end: joins, grouping, ordering, subqueries, set
//! operations, CTEs, result names, EXPLAIN, pg_catalog probes.

mod common;

use common::*;
use shoal_sql::session::Output;
use shoal_sql::ErrorCode;

async fn fixture() -> (
    Cluster,
    std::sync::Arc<shoal_sql::Engine>,
    shoal_sql::Session,
) {
    let (c, e, mut s) = session().await;
    run(
        &mut s,
        "create table t (id int primary key, v text, n int);
         insert into t values (1, 'a', 10), (2, 'b', 20), (3, 'a', null), (4, 'c', 40);
         create table c (id int primary key, tid int references t(id), w int);
         insert into c values (1, 1, 100), (2, 1, 200), (3, 2, 300);",
    )
    .await
    .expect("fixture");
    (c, e, s)
}

#[tokio::test]
async fn select_where_order_limit() {
    let (_c, _e, mut s) = fixture().await;
    assert_eq!(
        query(&mut s, "select id from t where v = 'a' order by id desc").await,
        vec!["3", "1"]
    );
    assert_eq!(
        query(&mut s, "select id, n from t order by n nulls first limit 2").await,
        vec!["3|NULL", "1|10"]
    );
    assert_eq!(
        query(&mut s, "select id from t order by 1 limit 2 offset 1").await,
        vec!["2", "3"]
    );
    assert_eq!(
        query(&mut s, "select id from t where id between 2 and 3").await,
        vec!["2", "3"]
    );
    assert_eq!(
        query(
            &mut s,
            "select id from t where id in (1, 4) and n is not null"
        )
        .await,
        vec!["1", "4"]
    );
    assert_eq!(
        query(&mut s, "select distinct v from t order by v").await,
        vec!["a", "b", "c"]
    );
    assert_eq!(
        query(&mut s, "select 1 + 2, 'x' || 'y'").await,
        vec!["3|xy"]
    );
    let Output::Rows { columns, .. } = run(
        &mut s,
        "select count(*), id, v as name, 1, n + 1 from t group by id, v, n",
    )
    .await
    .expect("names") else {
        panic!()
    };
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["count", "id", "name", "?column?", "?column?"]);
    assert!(columns[1].table_oid != 0);
    assert_eq!(columns[1].column_id, 1);
}

#[tokio::test]
async fn joins_and_grouping() {
    let (_c, _e, mut s) = fixture().await;
    assert_eq!(
        query(
            &mut s,
            "select t.id, c.w from t join c on c.tid = t.id order by c.w"
        )
        .await,
        vec!["1|100", "1|200", "2|300"]
    );
    assert_eq!(
        query(&mut s, "select t.id, count(c.id) from t left join c on c.tid = t.id group by t.id order by t.id").await,
        vec!["1|2", "2|1", "3|0", "4|0"]
    );
    assert_eq!(
        query(
            &mut s,
            "select v, sum(n), count(*) from t group by v having count(*) > 1"
        )
        .await,
        vec!["a|10|2"]
    );
    assert_eq!(
        query(&mut s, "select count(distinct v) from t").await,
        vec!["3"]
    );
    let e = error(&mut s, "select count(*), v from t").await;
    assert_eq!(e.code, ErrorCode::GroupingError);
    assert_eq!(
        e.message,
        "column \"t.v\" must appear in the GROUP BY clause or be used in an aggregate function"
    );
    let e = error(&mut s, "select id from t, c").await;
    assert_eq!(e.message, "column reference \"id\" is ambiguous");
}

#[tokio::test]
async fn subqueries_sets_ctes() {
    let (_c, _e, mut s) = fixture().await;
    assert_eq!(
        query(
            &mut s,
            "select id from t where id in (select tid from c) order by id"
        )
        .await,
        vec!["1", "2"]
    );
    assert_eq!(
        query(
            &mut s,
            "select id from t where not exists (select 1 from c where c.tid = t.id) order by id"
        )
        .await,
        vec!["3", "4"]
    );
    assert_eq!(
        query(
            &mut s,
            "select id, (select max(w) from c where c.tid = t.id) from t where id < 3 order by id"
        )
        .await,
        vec!["1|200", "2|300"]
    );
    assert_eq!(
        query(&mut s, "select 1 where 3 not in (1, null)").await,
        Vec::<String>::new()
    );
    let e = error(&mut s, "select (select 1 union select 2)").await;
    assert_eq!(e.code, ErrorCode::CardinalityViolation);
    assert_eq!(
        query(&mut s, "select 1 union select 1 union all select 2").await,
        vec!["1", "2"]
    );
    assert_eq!(
        query(
            &mut s,
            "select id from t except select tid from c order by 1"
        )
        .await,
        vec!["3", "4"]
    );
    assert_eq!(
        query(
            &mut s,
            "with x as (select id from t where id > 2) select count(*) from x"
        )
        .await,
        vec!["2"]
    );
    assert_eq!(
        query(&mut s, "with recursive r(n) as (select 1 union all select n + 1 from r where n < 5) select sum(n) from r").await,
        vec!["15"]
    );
    assert_eq!(
        query(&mut s, "select count(*) from generate_series(1, 10)").await,
        vec!["10"]
    );
    assert_eq!(
        query(
            &mut s,
            "select * from (values (1, 'x'), (2, 'y')) as v(a, b) where a = 2"
        )
        .await,
        vec!["2|y"]
    );
    assert_eq!(
        query(
            &mut s,
            "select case when n > 15 then 'big' else 'small' end from t where id = 2"
        )
        .await,
        vec!["big"]
    );
    assert_eq!(
        query(
            &mut s,
            "select coalesce(n, 0), nullif(v, 'a') from t where id = 3"
        )
        .await,
        vec!["0|NULL"]
    );
}

#[tokio::test]
async fn explain_shows_access_paths() {
    let (_c, _e, mut s) = fixture().await;
    let plan = query(&mut s, "explain select * from t where id = 1").await;
    assert_eq!(plan[0], "Index Scan using t_pkey on t");
    let plan = query(&mut s, "explain select * from t").await;
    assert_eq!(plan[0], "Seq Scan on t");
    let plan = query(&mut s, "explain select * from t join c on c.tid = t.id").await;
    assert_eq!(plan[0], "Hash Join");
}

#[tokio::test]
async fn views_schemas_and_catalog_probes() {
    let (_c, _e, mut s) = fixture().await;
    run(
        &mut s,
        "create view va as select id, v from t where v = 'a'",
    )
    .await
    .expect("view");
    assert_eq!(
        query(&mut s, "select id from va order by id").await,
        vec!["1", "3"]
    );
    run(
        &mut s,
        "create schema s2; create table s2.x (a int); insert into s2.x values (5)",
    )
    .await
    .expect("schema");
    assert_eq!(query(&mut s, "select a from s2.x").await, vec!["5"]);
    assert_eq!(
        query(&mut s, "select relname from pg_class where relname = 't'").await,
        vec!["t"]
    );
    assert_eq!(
        query(&mut s, "select t.typname from pg_catalog.pg_type t left outer join pg_catalog.pg_range r on r.rngtypid = t.oid inner join pg_catalog.pg_namespace n on t.typnamespace = n.oid where t.oid = 23").await,
        vec!["int4"]
    );
    assert_eq!(
        query(
            &mut s,
            "select table_name from information_schema.tables where table_schema = 's2'"
        )
        .await,
        vec!["x"]
    );
}

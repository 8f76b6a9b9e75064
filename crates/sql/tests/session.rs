//! Session basics end to end: startup, transaction control, warnings,
//! the failed-block state, SET/SHOW/RESET.

mod common;

use common::*;
use shoal_sql::session::TransactionStatus;
use shoal_sql::ErrorCode;

#[tokio::test]
async fn new_session_checks_database_and_role() {
    let (c, e, s) = session().await;
    let params = s.startup_parameters();
    assert!(params.contains(&("server_version".into(), "15.8".into())));
    assert!(params.contains(&("TimeZone".into(), "UTC".into())));
    assert!(params.contains(&("DateStyle".into(), "ISO, MDY".into())));
    let err = e
        .new_session("postgres", "nosuch", &[])
        .await
        .err()
        .expect("no db");
    assert_eq!(err.code, ErrorCode::UndefinedDatabase);
    assert_eq!(err.message, "database \"nosuch\" does not exist");
    let err = e
        .new_session("nobody", "postgres", &[])
        .await
        .err()
        .expect("no role");
    assert_eq!(err.code, ErrorCode::InvalidAuthorization);
    // A second frontend sees the same bootstrapped catalog.
    let e2 = c.engine().await;
    e2.new_session(
        "postgres",
        "postgres",
        &[("application_name".into(), "x".into())],
    )
    .await
    .expect("second frontend");
}

#[tokio::test]
async fn transaction_control_and_warnings() {
    let (_c, _e, mut s) = session().await;
    assert_eq!(tag(&run(&mut s, "COMMIT").await.expect("commit")), "COMMIT");
    let n = s.take_notices();
    assert_eq!(n[0].code, "25P01");
    assert_eq!(tag(&run(&mut s, "BEGIN").await.expect("begin")), "BEGIN");
    assert_eq!(s.transaction_status(), TransactionStatus::InBlock);
    run(&mut s, "BEGIN").await.expect("begin again");
    assert_eq!(
        s.take_notices()[0].message,
        "there is already a transaction in progress"
    );
    run(&mut s, "SAVEPOINT a").await.expect("savepoint");
    run(&mut s, "RELEASE SAVEPOINT a").await.expect("release");
    assert_eq!(tag(&run(&mut s, "END").await.expect("end")), "COMMIT");
    assert_eq!(s.transaction_status(), TransactionStatus::Idle);
    let e = error(&mut s, "SAVEPOINT x").await;
    assert_eq!(e.code, ErrorCode::NoActiveSqlTransaction);
}

#[tokio::test]
async fn set_show_reset() {
    let (_c, _e, mut s) = session().await;
    run(&mut s, "SET application_name = 'app'")
        .await
        .expect("set");
    assert_eq!(
        s.take_parameter_changes(),
        vec![("application_name".to_string(), "app".to_string())]
    );
    assert_eq!(query(&mut s, "SHOW application_name").await, vec!["app"]);
    run(&mut s, "SET TIME ZONE 'Europe/Berlin'")
        .await
        .expect("tz");
    assert_eq!(s.format_options().timezone, "Europe/Berlin");
    run(&mut s, "RESET timezone").await.expect("reset");
    assert_eq!(s.format_options().timezone, "UTC");
    let e = error(&mut s, "SET nosuch = 1").await;
    assert_eq!(e.code, ErrorCode::UndefinedObject);
    assert_eq!(e.message, "unrecognized configuration parameter \"nosuch\"");
    run(&mut s, "SET my.custom = 'x'").await.expect("dotted");
    assert_eq!(
        query(&mut s, "SHOW TRANSACTION ISOLATION LEVEL").await,
        vec!["read committed"]
    );
    run(&mut s, "BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .expect("begin rr");
    assert_eq!(
        query(&mut s, "SHOW transaction_isolation").await,
        vec!["repeatable read"]
    );
    run(&mut s, "COMMIT").await.expect("commit");
}

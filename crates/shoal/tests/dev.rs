//! `shoal dev` as a user runs it: data survives a restart (also after
//! kill -9), several frontends serve one database, and a frontend sees
//! another's commit at once.

mod common;

use common::DevCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_kill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}", dir.path().display());
    {
        let mut cluster = DevCluster::start_with(1, Some(store.clone()), &[]);
        let c = cluster.connect(0).await;
        c.batch_execute(
            "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL); \
             CREATE INDEX notes_body ON notes (body)",
        )
        .await
        .unwrap();
        for i in 0..50 {
            c.execute(
                "INSERT INTO notes (body) VALUES ($1)",
                &[&format!("note {i}")],
            )
            .await
            .unwrap();
        }
        cluster.kill(); // SIGKILL: no clean shutdown
    }
    let cluster = DevCluster::start_with(1, Some(store), &[]);
    let c = cluster.connect(0).await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM notes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 50, "every acknowledged insert is still there");
    let body: String = c
        .query_one("SELECT body FROM notes WHERE body = 'note 7'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(body, "note 7");
    // The sequence goes on past the values handed out before the crash.
    let id: i32 = c
        .query_one(
            "INSERT INTO notes (body) VALUES ('after') RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(id > 50, "serial values never repeat (got {id})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontends_share_one_database() {
    let cluster = DevCluster::start(3);
    let a = cluster.connect(0).await;
    let b = cluster.connect(1).await;
    let c = cluster.connect(2).await;
    a.batch_execute("CREATE TABLE shared (k int PRIMARY KEY, v int)")
        .await
        .unwrap();
    for round in 0..100i32 {
        let writer = [&a, &b, &c][round as usize % 3];
        writer
            .execute(
                "INSERT INTO shared VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                &[&(round % 10), &round],
            )
            .await
            .unwrap();
        // Read-your-writes on every other node, immediately.
        for reader in [&a, &b, &c] {
            let v: i32 = reader
                .query_one("SELECT v FROM shared WHERE k = $1", &[&(round % 10)])
                .await
                .unwrap()
                .get(0);
            assert_eq!(v, round, "a stale read after round {round}");
        }
    }
}

//! A follower's [`Store::reload`] while the writer keeps committing: the
//! replay reads the log to its end as it stood and stops there, however
//! often new segments arrive (a follower re-joining a busy cluster once
//! chased the tail segment by segment for minutes), and it holds at least
//! everything committed before it began.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;
use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::object::FaultyStore;
use shoal_storage::{CommittedTxn, Write};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_ends_while_the_writer_keeps_appending() {
    let faulty = FaultyStore::new(Arc::new(InMemory::new()));
    let faults = faulty.faults();
    let objects: Arc<dyn ObjectStore> = Arc::new(faulty);
    let writer = Arc::new(
        Store::open(objects.clone(), Path::from("db"), StoreOptions::default())
            .await
            .expect("open the writer"),
    );
    let follower = Store::open(
        objects.clone(),
        Path::from("db"),
        StoreOptions {
            replay_wal: false,
            ..StoreOptions::default()
        },
    )
    .await
    .expect("open the follower");

    // One segment per commit, one commit a millisecond: a follower whose
    // every GET takes 5 ms reads faster than that (64 segments per two
    // rounds of 32 concurrent GETs) but never finds the log without a new
    // segment since its last read.
    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(0));
    let appender = {
        let (writer, stop, committed) = (writer.clone(), stop.clone(), committed.clone());
        tokio::spawn(async move {
            let mut lsn = 0;
            while !stop.load(Ordering::Acquire) {
                lsn += 1;
                let writes = vec![Write::put(format!("k{lsn:06}"), "v")];
                writer
                    .append(vec![CommittedTxn { lsn, writes }], vec![])
                    .await
                    .expect("append");
                committed.store(lsn, Ordering::Release);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    while committed.load(Ordering::Acquire) < 200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    faults.set_get_latency(Duration::from_millis(5));

    let before = committed.load(Ordering::Acquire);
    let reloaded = tokio::time::timeout(Duration::from_secs(20), follower.reload()).await;
    stop.store(true, Ordering::Release);
    appender.await.expect("the appender");
    let last = reloaded
        .expect("the reload ended while the writer kept appending")
        .expect("reload");
    assert!(
        last >= before,
        "the reload holds LSN {last}, below the {before} committed before it began"
    );
    assert!(
        follower
            .get(format!("k{before:06}").as_bytes(), last)
            .await
            .expect("get")
            .is_some(),
        "the last commit before the reload is readable"
    );
}

//! When the store asks to be flushed: at `flush_bytes` of memtable, and,
//! however small the memtable, once `flush_segments` WAL segments lie
//! above the manifest (every one of them is a GET when a frontend opens
//! the store, so their number bounds a frontend's start).

use std::sync::Arc;

use object_store::memory::InMemory;
use object_store::path::Path;
use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::{CommittedTxn, Write};

fn txn(lsn: u64) -> CommittedTxn {
    CommittedTxn {
        lsn,
        writes: vec![Write::put(format!("k{lsn}"), "v")],
    }
}

#[tokio::test]
async fn many_small_segments_trigger_a_flush_that_bounds_the_replay() {
    let objects = Arc::new(InMemory::new());
    let opts = StoreOptions {
        flush_bytes: 1 << 30,
        flush_segments: 8,
        ..StoreOptions::default()
    };
    let store = Store::open(objects.clone(), Path::from("db"), opts.clone())
        .await
        .expect("open");
    assert!(!store.needs_flush(), "an empty store needs no flush");
    for lsn in 1..=7 {
        store.append(vec![txn(lsn)], vec![]).await.expect("append");
        assert!(!store.needs_flush(), "{lsn} segments, tiny memtable");
    }
    store.append(vec![txn(8)], vec![]).await.expect("append");
    assert!(store.needs_flush(), "8 segments above the manifest");
    assert!(store.flush().await.expect("flush"), "the flush ran");
    assert!(
        !store.needs_flush(),
        "the flush moved the manifest past them"
    );
    assert_eq!(store.manifest().flushed_lsn, 8);

    // A reader opening the store now replays nothing: every row is in the SST.
    let reader = Store::open(objects, Path::from("db"), opts)
        .await
        .expect("reopen");
    assert_eq!(reader.memtable_bytes(), 0, "nothing left to replay");
    for lsn in 1..=8 {
        let key = format!("k{lsn}");
        assert!(
            reader.get(key.as_bytes(), 8).await.expect("get").is_some(),
            "{key} is readable from the flushed SST"
        );
    }
}

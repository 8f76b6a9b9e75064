//! The object-store layer on every backend: create-if-absent races have one
//! winner, retries recover from injected faults without writing twice or
//! fencing a writer that won, metrics count, and bad URLs are refused.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use shoal_storage::object::{
    check_conditional_put, open_url, FailFilter, FaultConfig, FaultyStore, Op, RetryStore,
};
use shoal_storage::Error;

use common::{fast_retries, test_stores, TestStore};

/// `RetryStore` over `FaultyStore` over the test store's own stack, and the
/// handle that steers the faults.
fn faulty_stack(test: &TestStore) -> (Arc<dyn ObjectStore>, Arc<FaultConfig>) {
    let faulty = FaultyStore::new(Arc::clone(&test.store));
    let faults = faulty.faults();
    (
        Arc::new(RetryStore::new(Arc::new(faulty), fast_retries())),
        faults,
    )
}

async fn create(
    store: &dyn ObjectStore,
    path: &Path,
    bytes: &'static [u8],
) -> object_store::Result<()> {
    let payload = PutPayload::from_static(bytes);
    store
        .put_opts(path, payload, PutMode::Create.into())
        .await
        .map(|_| ())
}

async fn read(store: &dyn ObjectStore, path: &Path) -> Bytes {
    let got = store.get(path).await.expect("get");
    got.bytes().await.expect("read body")
}

async fn count_under(store: &dyn ObjectStore, prefix: &Path) -> usize {
    let listed: Vec<_> = store.list(Some(prefix)).try_collect().await.expect("list");
    listed.len()
}

fn is_already_exists<T>(result: &object_store::Result<T>) -> bool {
    matches!(result, Err(object_store::Error::AlreadyExists { .. }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_creates_of_one_key_have_exactly_one_winner() {
    for test in test_stores() {
        let path = test.root.clone().join("race").join("00000000000000000001");
        let writers: Vec<_> = (0..16)
            .map(|i| {
                let store = Arc::clone(&test.store);
                let path = path.clone();
                tokio::spawn(async move {
                    let payload = PutPayload::from(format!("writer {i}"));
                    let result = store.put_opts(&path, payload, PutMode::Create.into()).await;
                    (i, result)
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut losers = 0;
        for writer in writers {
            let (i, result) = writer.await.expect("writer task");
            match result {
                Ok(_) => winners.push(i),
                Err(object_store::Error::AlreadyExists { .. }) => losers += 1,
                Err(err) => panic!("{}: writer {i} failed unexpectedly: {err}", test.name),
            }
        }
        assert_eq!(winners.len(), 1, "{}: winners {winners:?}", test.name);
        assert_eq!(losers, 15, "{}", test.name);
        let stored = read(test.store.as_ref(), &path).await;
        assert_eq!(
            stored,
            format!("writer {}", winners[0]).as_bytes(),
            "{}",
            test.name
        );
    }
}

#[tokio::test]
async fn every_test_store_honours_create_if_absent() {
    for test in test_stores() {
        check_conditional_put(test.store.as_ref(), &test.root)
            .await
            .unwrap_or_else(|err| panic!("{}: {err}", test.name));
        let probes = test.root.clone().join("probe");
        assert_eq!(
            count_under(test.store.as_ref(), &probes).await,
            0,
            "{}: probe left behind",
            test.name
        );
    }
}

#[tokio::test]
async fn retry_recovers_from_a_failed_put_and_writes_once() {
    for test in test_stores() {
        let (store, faults) = faulty_stack(&test);
        let dir = test.root.clone().join("wal");
        let path = dir.clone().join("00000000000000000001");
        faults.fail_nth(1, FailFilter::Put);
        create(store.as_ref(), &path, b"segment one")
            .await
            .expect("retried create");
        assert_eq!(
            (faults.requests(), faults.injected()),
            (2, 1),
            "{}",
            test.name
        );
        assert_eq!(
            read(test.store.as_ref(), &path).await,
            &b"segment one"[..],
            "{}",
            test.name
        );
        assert_eq!(
            count_under(test.store.as_ref(), &dir).await,
            1,
            "{}",
            test.name
        );
        let again = create(store.as_ref(), &path, b"segment one, again").await;
        assert!(is_already_exists(&again), "{}: {again:?}", test.name);
    }
}

#[tokio::test]
async fn a_retried_create_that_had_landed_is_reported_as_ours() {
    for test in test_stores() {
        let (store, faults) = faulty_stack(&test);
        let path = test
            .root
            .clone()
            .join("epochs")
            .join("00000000000000000007");
        // The first put reaches the store and then "loses its response".
        faults.fail_after_nth(1, FailFilter::Put);
        create(store.as_ref(), &path, b"leader a")
            .await
            .expect("our own write must not fence us");
        // put (landed, failed), put (AlreadyExists), get (compare).
        assert_eq!(faults.requests(), 3, "{}", test.name);
        assert_eq!(
            read(test.store.as_ref(), &path).await,
            &b"leader a"[..],
            "{}",
            test.name
        );
    }
}

#[tokio::test]
async fn a_retried_create_that_lost_the_race_stays_lost() {
    for test in test_stores() {
        let (store, faults) = faulty_stack(&test);
        let path = test
            .root
            .clone()
            .join("epochs")
            .join("00000000000000000008");
        create(test.store.as_ref(), &path, b"leader b")
            .await
            .expect("rival's write");
        faults.fail_nth(1, FailFilter::Put);
        let ours = create(store.as_ref(), &path, b"leader a").await;
        assert!(is_already_exists(&ours), "{}: {ours:?}", test.name);
        assert!(matches!(
            Error::store("put", &path, ours.expect_err("lost")),
            Error::Fenced { .. }
        ));
        assert_eq!(
            read(test.store.as_ref(), &path).await,
            &b"leader b"[..],
            "{}",
            test.name
        );
    }
}

#[tokio::test]
async fn retry_gives_up_after_max_retries() {
    for test in test_stores() {
        let (store, faults) = faulty_stack(&test);
        let path = test.root.clone().join("down");
        faults.fail_all(FailFilter::Put);
        let result = create(store.as_ref(), &path, b"x").await;
        assert!(
            matches!(result, Err(object_store::Error::Generic { .. })),
            "{}: {result:?}",
            test.name
        );
        let attempts = u64::from(fast_retries().max_retries) + 1;
        assert_eq!(faults.requests(), attempts, "{}", test.name);
        faults.heal();
        create(store.as_ref(), &path, b"x").await.expect("healed");
    }
}

#[tokio::test]
async fn retry_recovers_reads_lists_and_deletes() {
    for test in test_stores() {
        let (store, faults) = faulty_stack(&test);
        let dir = test.root.clone().join("sst");
        let path = dir.clone().join("00000000000000000001.sst");
        create(store.as_ref(), &path, b"pages")
            .await
            .expect("create");

        faults.fail_nth(1, FailFilter::Get);
        assert_eq!(
            read(store.as_ref(), &path).await,
            &b"pages"[..],
            "{}",
            test.name
        );
        faults.fail_nth(1, FailFilter::Get);
        let range = store.get_range(&path, 1..3).await.expect("ranged read");
        assert_eq!(range, &b"ag"[..], "{}", test.name);

        faults.fail_nth(1, FailFilter::List);
        assert_eq!(count_under(store.as_ref(), &dir).await, 1, "{}", test.name);

        // The delete lands but its response is lost; the retry finds nothing
        // left to delete, which is success.
        faults.fail_after_nth(1, FailFilter::Delete);
        store.delete(&path).await.expect("retried delete");
        assert_eq!(
            count_under(test.store.as_ref(), &dir).await,
            0,
            "{}",
            test.name
        );
        assert_eq!(faults.injected(), 4, "{}", test.name);
    }
}

#[tokio::test]
async fn metrics_count_requests_through_the_stack() {
    for test in test_stores() {
        let path = test
            .root
            .clone()
            .join("manifest")
            .join("00000000000000000001");
        create(test.store.as_ref(), &path, b"manifest")
            .await
            .expect("create");
        let lost = create(test.store.as_ref(), &path, b"other").await;
        assert!(is_already_exists(&lost), "{}: {lost:?}", test.name);
        assert_eq!(read(test.store.as_ref(), &path).await.len(), 8);
        test.store.head(&path).await.expect("head");
        count_under(test.store.as_ref(), &test.root).await;

        let snap = test.metrics.snapshot();
        let put = snap.op(Op::Put);
        assert_eq!(
            (put.requests, put.errors, put.bytes_written),
            (2, 1, 8),
            "{}",
            test.name
        );
        let get = snap.op(Op::Get);
        assert_eq!(
            (get.requests, get.errors, get.bytes_read),
            (1, 0, 8),
            "{}",
            test.name
        );
        assert_eq!(snap.op(Op::Head).requests, 1, "{}", test.name);
        assert_eq!(snap.op(Op::List).requests, 1, "{}", test.name);
        let text = test.metrics.prometheus_text();
        assert!(
            text.contains("shoal_object_store_requests_total{op=\"put\"} 2\n"),
            "{}: {text}",
            test.name
        );
    }
}

#[test]
fn open_url_refuses_bad_urls_clearly() {
    for url in [
        "ftp://example.com/db",
        "gs://bucket/db",
        "not a url",
        "file://relative/db",
        "s3://",
    ] {
        match open_url(url) {
            Err(Error::InvalidInput(reason)) => {
                assert!(reason.contains(url), "{url}: {reason}");
                assert!(
                    reason.contains("file:///") && reason.contains("s3://bucket"),
                    "{reason}"
                );
            }
            Err(err) => panic!("{url}: wrong error {err}"),
            Ok(_) => panic!("{url}: accepted"),
        }
    }
}

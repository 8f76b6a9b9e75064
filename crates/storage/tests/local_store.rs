//! The `file://` base store: create-if-absent writes into spare files made
//! ahead of time still fence (one winner, the loser's bytes never show),
//! never show the spares as objects, survive a reopen, and clear up the
//! spares of processes that died.

use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use shoal_storage::object::LocalStore;

async fn create(store: &dyn ObjectStore, path: &Path, bytes: &str) -> object_store::Result<()> {
    let payload = PutPayload::from(bytes.to_string());
    store
        .put_opts(path, payload, PutMode::Create.into())
        .await
        .map(|_| ())
}

async fn read(store: &dyn ObjectStore, path: &Path) -> String {
    let got = store.get(path).await.expect("get");
    String::from_utf8(got.bytes().await.expect("read").to_vec()).expect("utf-8")
}

async fn listed(store: &dyn ObjectStore, prefix: &Path) -> Vec<String> {
    let mut names: Vec<String> = store
        .list(Some(prefix))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .expect("list");
    names.sort();
    names
}

/// Waits until `store` holds spare files ready in `dir`.
async fn spares_ready(store: &LocalStore, dir: &FsPath) {
    for _ in 0..500 {
        if store.spares_ready(dir) > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no spare files were made in {}", dir.display());
}

fn names_in(dir: &FsPath) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read the directory")
        .map(|e| e.expect("entry").file_name().into_string().expect("name"))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creates_into_spare_files_fence_and_stay_hidden() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Arc::new(LocalStore::new(dir.path()).expect("open"));
    let wal = dir.path().join("wal");
    // The directory's first object creates it the plain way; spares follow.
    create(store.as_ref(), &Path::from("wal/1"), "first")
        .await
        .expect("create");
    spares_ready(&store, &wal).await;
    let before = store.spares_ready(&wal);
    create(store.as_ref(), &Path::from("wal/2"), "second")
        .await
        .expect("create");
    assert_eq!(
        store.spares_ready(&wal),
        before - 1,
        "the create filled a spare"
    );

    // Eight writers race for each of three names, some into spares, some
    // the plain way: one wins each.
    for n in 3..=5 {
        let path = Path::from(format!("wal/{n}"));
        let mut racers = Vec::new();
        for w in 0..8 {
            let (store, path) = (store.clone(), path.clone());
            racers.push(tokio::spawn(async move {
                create(store.as_ref(), &path, &format!("{n} by {w}")).await
            }));
        }
        let mut winners = Vec::new();
        for (w, racer) in racers.into_iter().enumerate() {
            match racer.await.expect("join") {
                Ok(()) => winners.push(w),
                Err(object_store::Error::AlreadyExists { .. }) => {}
                Err(err) => panic!("an unexpected error: {err}"),
            }
        }
        assert_eq!(winners.len(), 1, "one winner for {path}: {winners:?}");
        assert_eq!(
            read(store.as_ref(), &path).await,
            format!("{n} by {}", winners[0])
        );
    }

    // A create of an existing name changes nothing.
    let err = create(store.as_ref(), &Path::from("wal/1"), "again").await;
    assert!(matches!(
        err,
        Err(object_store::Error::AlreadyExists { .. })
    ));
    assert_eq!(read(store.as_ref(), &Path::from("wal/1")).await, "first");

    // The spares are in the directory but are no objects.
    let expected = vec!["wal/1", "wal/2", "wal/3", "wal/4", "wal/5"];
    assert_eq!(listed(store.as_ref(), &Path::from("wal")).await, expected);
    assert!(names_in(&wal).iter().any(|n| n.starts_with("spare-")));

    // Overwrites keep working, and a new store over the directory reads
    // everything; the old one takes its spares with it.
    store
        .put(&Path::from("wal/4"), PutPayload::from("replaced"))
        .await
        .expect("overwrite");
    drop(store);
    let reopened = LocalStore::new(dir.path()).expect("reopen");
    assert_eq!(listed(&reopened, &Path::from("wal")).await, expected);
    assert_eq!(read(&reopened, &Path::from("wal/4")).await, "replaced");
    // (A refill still running when the store went removes what it makes.)
    let mut names = names_in(&wal);
    for _ in 0..500 {
        if names.len() == expected.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        names = names_in(&wal);
    }
    assert_eq!(names, vec!["1", "2", "3", "4", "5"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spares_of_dead_processes_are_removed_and_live_ones_kept() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let wal = dir.path().join("wal");
    std::fs::create_dir(&wal).expect("mkdir");
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let dead = child.id();
    child.wait().expect("wait");
    let dead_spare = format!("spare-{dead}-00000000#1");
    // Process 1 is always running.
    let live_spare = "spare-1-00000000#1".to_string();
    for name in [&dead_spare, &live_spare] {
        std::fs::write(wal.join(name), b"").expect("write a spare");
    }

    let store = LocalStore::new(dir.path()).expect("open");
    create(&store, &Path::from("wal/1"), "x")
        .await
        .expect("create");
    spares_ready(&store, &wal).await;
    let names = names_in(&wal);
    assert!(!names.contains(&dead_spare), "{names:?}");
    assert!(names.contains(&live_spare), "{names:?}");
    assert_eq!(listed(&store, &Path::from("wal")).await, vec!["wal/1"]);

    // Another process that took this one for dead (another PID namespace)
    // removed its spares: creates still land, the plain way.
    let own = format!("spare-{}-", std::process::id());
    for name in names_in(&wal) {
        if name.starts_with(&own) {
            std::fs::remove_file(wal.join(name)).expect("remove a spare");
        }
    }
    assert!(store.spares_ready(&wal) > 0);
    create(&store, &Path::from("wal/2"), "y")
        .await
        .expect("create without its spare");
    assert_eq!(read(&store, &Path::from("wal/2")).await, "y");
}

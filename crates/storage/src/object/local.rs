//! The `file://` base store: [`LocalFileSystem`] with fsync on, whose
//! create-if-absent writes (WAL segments, manifests, SSTs) use files made
//! ahead of time.
//!
//! `LocalFileSystem` creates each object as a new staging file, writes and
//! `fsync`s it, hard-links it to its name (which fails if the name exists:
//! that is the fence), `fsync`s the directory and unlinks the staging name.
//! Creating the inode is what makes the `fsync` slow: it commits the file
//! system's journal with the new inode in it (about 1.5 ms on ext4 against
//! 0.2 ms for an append and `fdatasync`). [`LocalStore`] keeps empty files
//! per directory, made off the commit path: a refill creates several and
//! `fsync`s the directory once, which commits their inodes in one journal
//! transaction. A create-if-absent write fills one and `fdatasync`s it
//! (its data and size, and the inode with them where the journal has not
//! committed it yet), renames it to its name with `RENAME_NOREPLACE` (which
//! fails if the name exists: the same fence; `link(2)` and `unlink(2)`
//! where the file system lacks it) and `fsync`s the directory. Every other
//! request goes to `LocalFileSystem` unchanged.
//!
//! Spare files are named `spare-<pid>-<nonce>#<n>`: `LocalFileSystem` never
//! lists a name ending in `#` and digits (its own staging files look like
//! that), so they never show up as objects. Several processes may share a
//! directory (a local multi-process cluster); each only takes its own
//! spares, and removes those of processes that are gone (left by a crash).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// Spare files kept ready per directory; a refill starts below half of it.
/// Each refill costs one directory `fsync` whatever it makes, so it makes
/// several.
const SPARES: usize = 16;

/// A local directory as an object store; see the module documentation.
#[derive(Debug)]
pub struct LocalStore {
    inner: LocalFileSystem,
    spares: Arc<Spares>,
}

#[derive(Debug)]
struct Spares {
    /// `spare-<pid>-<nonce>`, this store's prefix of spare file names.
    tag: String,
    next: AtomicU64,
    /// Set when the store is dropped: refills then remove what they made.
    closed: AtomicBool,
    dirs: Mutex<HashMap<PathBuf, Pool>>,
}

#[derive(Debug, Default)]
struct Pool {
    ready: Vec<PathBuf>,
    refilling: bool,
    /// Whether spares of dead processes were looked for here.
    swept: bool,
}

impl LocalStore {
    /// The store of the directory `dir`, which must exist. Writes are
    /// durable when they return (`fsync` of the file and its directory).
    pub fn new(dir: &FsPath) -> Result<LocalStore> {
        let inner = LocalFileSystem::new_with_prefix(dir)?.with_fsync(true);
        let nonce: u32 = rand::random();
        Ok(LocalStore {
            inner,
            spares: Arc::new(Spares {
                tag: format!("spare-{}-{nonce:08x}", std::process::id()),
                next: AtomicU64::new(1),
                closed: AtomicBool::new(false),
                dirs: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// How many spare files this store holds ready in `dir` (for tests).
    pub fn spares_ready(&self, dir: &FsPath) -> usize {
        let dirs = self.spares.dirs.lock().expect("spare pools poisoned");
        dirs.get(dir).map_or(0, |pool| pool.ready.len())
    }

    /// Creates `dest` in `dir` from a spare, if one is ready and usable:
    /// `None` means the write has to go the plain way.
    async fn create_from_spare(
        &self,
        dir: &FsPath,
        dest: PathBuf,
        payload: &PutPayload,
    ) -> Result<Option<PutResult>> {
        let Some(spare) = self.spares.take(dir) else {
            return Ok(None);
        };
        let payload = payload.clone();
        let filled = tokio::task::spawn_blocking(move || fill_spare(&spare, &dest, &payload))
            .await
            .map_err(|err| object_store::Error::Generic {
                store: "LocalStore",
                source: Box::new(err),
            })??;
        Ok(match filled {
            Filled::Put(result) => Some(result),
            Filled::Fallback => None,
        })
    }
}

impl Spares {
    /// Takes a spare of `dir`, starting a refill when few are left.
    fn take(self: &Arc<Self>, dir: &FsPath) -> Option<PathBuf> {
        let spare = {
            let mut dirs = self.dirs.lock().expect("spare pools poisoned");
            dirs.entry(dir.to_path_buf()).or_default().ready.pop()
        };
        self.top_up(dir);
        spare
    }

    /// Starts a refill of `dir` if few spares are left and none runs.
    fn top_up(self: &Arc<Self>, dir: &FsPath) {
        let mut dirs = self.dirs.lock().expect("spare pools poisoned");
        let pool = dirs.entry(dir.to_path_buf()).or_default();
        if pool.ready.len() < SPARES / 2 && !pool.refilling {
            pool.refilling = true;
            let sweep = !std::mem::replace(&mut pool.swept, true);
            let want = SPARES - pool.ready.len();
            let spares = Arc::clone(self);
            let dir = dir.to_path_buf();
            tokio::task::spawn_blocking(move || spares.refill(&dir, want, sweep));
        }
    }

    /// Creates `want` spares in `dir`, then `fsync`s the directory once.
    /// The spares' own names never need to be durable (a spare is renamed
    /// before its object counts); the directory `fsync` takes their inodes'
    /// journal commit off the commit path.
    fn refill(&self, dir: &FsPath, want: usize, sweep: bool) {
        if sweep {
            self.sweep(dir);
        }
        let mut made = Vec::with_capacity(want);
        let result = (|| -> std::io::Result<()> {
            for _ in 0..want {
                let n = self.next.fetch_add(1, Ordering::Relaxed);
                let path = dir.join(format!("{}#{n}", self.tag));
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)?;
                made.push(path);
            }
            fsync_dir(dir)
        })();
        let mut dirs = self.dirs.lock().expect("spare pools poisoned");
        let pool = dirs.entry(dir.to_path_buf()).or_default();
        pool.refilling = false;
        match result {
            Ok(()) if !self.closed.load(Ordering::Acquire) => pool.ready.extend(made),
            outcome => {
                // The directory may not exist yet (its first object creates
                // it) or be unwritable: writes go the slow way meanwhile.
                if let Err(err) = outcome {
                    tracing::debug!(dir = %dir.display(), error = %err, "no spare files");
                }
                for path in made {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }

    /// Removes the spares that processes no longer running left in `dir`.
    fn sweep(&self, dir: &FsPath) {
        if !FsPath::new("/proc/self").exists() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let own = std::process::id();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(spare_pid) else {
                continue;
            };
            if pid != own && !FsPath::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The process id in a spare file's name `spare-<pid>-<nonce>#<n>`.
fn spare_pid(name: &str) -> Option<u32> {
    let (stem, n) = name.split_once('#')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (pid, _nonce) = stem.strip_prefix("spare-")?.split_once('-')?;
    pid.parse().ok()
}

impl Drop for LocalStore {
    fn drop(&mut self) {
        self.spares.closed.store(true, Ordering::Release);
        let Ok(mut dirs) = self.spares.dirs.lock() else {
            return;
        };
        for pool in dirs.values_mut() {
            for path in pool.ready.drain(..) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

fn fsync_dir(dir: &FsPath) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What filling a spare came to.
enum Filled {
    Put(PutResult),
    /// The object's directory does not exist (the plain write creates it),
    /// or the spare is gone (removed by another process that took this one
    /// for dead, e.g. from another PID namespace): write the plain way.
    Fallback,
}

/// Writes `payload` into the empty `spare` and publishes it as `dest` if
/// no object of that name exists. The spare name is gone afterwards.
fn fill_spare(spare: &FsPath, dest: &FsPath, payload: &PutPayload) -> Result<Filled> {
    let result = fill_and_publish(spare, dest, payload);
    if !matches!(result, Ok(Filled::Put(_))) {
        let _ = std::fs::remove_file(spare);
    }
    result
}

fn fill_and_publish(spare: &FsPath, dest: &FsPath, payload: &PutPayload) -> Result<Filled> {
    let generic = |err: std::io::Error| object_store::Error::Generic {
        store: "LocalStore",
        source: format!("{}: {err}", dest.display()).into(),
    };
    let mut file = match OpenOptions::new().write(true).open(spare) {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Filled::Fallback),
        Err(err) => return Err(generic(err)),
    };
    for chunk in payload.iter() {
        file.write_all(chunk).map_err(generic)?;
    }
    // The data and the new size; the inode too where the journal has not
    // committed it already.
    file.sync_data().map_err(generic)?;
    let metadata = file.metadata().map_err(generic)?;
    drop(file);
    match rename_noreplace(spare, dest) {
        Ok(()) => {}
        Err(err) if err.kind() == ErrorKind::AlreadyExists => {
            return Err(object_store::Error::AlreadyExists {
                path: dest.display().to_string(),
                source: Box::new(err),
            })
        }
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Filled::Fallback),
        Err(err) => return Err(generic(err)),
    }
    if let Some(dir) = dest.parent() {
        fsync_dir(dir).map_err(generic)?;
    }
    Ok(Filled::Put(PutResult {
        e_tag: Some(etag(&metadata)),
        version: None,
        extensions: Default::default(),
    }))
}

/// Renames `from` to `to` unless `to` exists (`AlreadyExists` then): one
/// `renameat2(RENAME_NOREPLACE)` where the system has it, else `link(2)`
/// (which fails on an existing name just the same) and `unlink(2)`.
fn rename_noreplace(from: &FsPath, to: &FsPath) -> std::io::Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use nix::errno::Errno;
        use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
        match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
            Ok(()) => return Ok(()),
            // The file system has no such rename: link and unlink.
            Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {}
            Err(errno) => return Err(errno.into()),
        }
    }
    std::fs::hard_link(from, to)?;
    let _ = std::fs::remove_file(from);
    Ok(())
}

/// The entity tag `LocalFileSystem` gives the same file on reads.
fn etag(metadata: &std::fs::Metadata) -> String {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(metadata);
    #[cfg(not(unix))]
    let inode = 0u64;
    let mtime = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_micros();
    format!("\"{inode:x}-{mtime:x}-{:x}\"", metadata.len())
}

impl std::fmt::Display for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        if matches!(opts.mode, PutMode::Create) && opts.attributes.is_empty() {
            let dest = self.inner.path_to_filesystem(location)?;
            if let Some(dir) = dest.parent().map(FsPath::to_path_buf) {
                if let Some(result) = self.create_from_spare(&dir, dest, &payload).await? {
                    return Ok(result);
                }
                // No spare was ready, the directory is new (the plain
                // write creates it) or the spare was gone.
                let result = self.inner.put_opts(location, payload, opts).await;
                self.spares.top_up(&dir);
                return result;
            }
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[std::ops::Range<u64>],
    ) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spare_names_carry_their_process() {
        assert_eq!(spare_pid("spare-1234-0badf00d#17"), Some(1234));
        assert_eq!(spare_pid("spare-1234-0badf00d#"), None);
        assert_eq!(spare_pid("spare-1234-0badf00d#1a"), None);
        assert_eq!(spare_pid("00000000000000000001"), None);
        assert_eq!(spare_pid("00000000000000000001#3"), None);
    }
}

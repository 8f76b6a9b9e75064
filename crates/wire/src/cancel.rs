//! CancelRequest routing: a process-wide map from (pid, secret) in
//! BackendKeyData to the session's [`CancelHandle`]. A cancel arrives on a
//! new connection, so the map is shared by all of them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{LazyLock, Mutex};

use shoal_sql::session::CancelHandle;

/// Registered sessions by pid, with their secret.
static SESSIONS: LazyLock<Mutex<HashMap<i32, (i32, CancelHandle)>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The next "backend pid": unique in this process (there are no real
/// backend processes; the number only has to name the connection).
static NEXT_PID: AtomicI32 = AtomicI32::new(1);

/// A registered session; unregisters itself when dropped, so a closed
/// connection can no longer be cancelled by a stale key.
pub struct Registration {
    pub pid: i32,
    pub secret: i32,
}

/// Registers `handle`; the returned key goes into BackendKeyData.
pub fn register(handle: CancelHandle) -> Registration {
    let pid = loop {
        let pid = NEXT_PID.fetch_add(1, Ordering::Relaxed);
        if pid > 0 {
            break pid;
        }
        // Wrapped around after 2^31 connections; start over.
        NEXT_PID.store(1, Ordering::Relaxed);
    };
    let secret = rand::random::<i32>();
    SESSIONS
        .lock()
        .expect("cancel map poisoned")
        .insert(pid, (secret, handle));
    Registration { pid, secret }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut map) = SESSIONS.lock() {
            map.remove(&self.pid);
        }
    }
}

/// Handles a CancelRequest: cancels the session if the key matches. As in
/// PostgreSQL, nothing is sent back either way.
pub fn cancel(pid: i32, secret: i32) -> bool {
    let map = SESSIONS.lock().expect("cancel map poisoned");
    match map.get(&pid) {
        Some((s, handle)) if *s == secret => {
            handle.cancel();
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_needs_the_right_secret_and_a_live_session() {
        let handle = CancelHandle::default();
        let reg = register(handle.clone());
        assert!(!cancel(reg.pid, reg.secret.wrapping_add(1)));
        assert!(!handle.take());
        assert!(cancel(reg.pid, reg.secret));
        assert!(handle.take());
        let (pid, secret) = (reg.pid, reg.secret);
        drop(reg);
        assert!(!cancel(pid, secret));
    }

    #[test]
    fn pids_are_unique() {
        let a = register(CancelHandle::default());
        let b = register(CancelHandle::default());
        assert_ne!(a.pid, b.pid);
    }
}

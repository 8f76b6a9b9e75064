//! CancelRequest routing: a process-wide map from (pid, secret) in
//! BackendKeyData to the session's [`CancelHandle`]. A cancel arrives on a
//! new connection, so the map is shared by all of them.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use shoal_sql::session::CancelHandle;

/// Registered sessions by (pid, secret). The pid is the session's own
/// (`pg_backend_pid()`), unique per engine; the key includes the random
/// secret so that two engines in one process (tests) cannot collide.
static SESSIONS: LazyLock<Mutex<HashMap<(i32, i32), CancelHandle>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A registered session; unregisters itself when dropped, so a closed
/// connection can no longer be cancelled by a stale key.
pub struct Registration {
    pub pid: i32,
    pub secret: i32,
}

/// Registers the session `pid`'s `handle` under a fresh secret; the
/// returned key goes into BackendKeyData.
pub fn register(pid: i32, handle: CancelHandle) -> Registration {
    let mut map = SESSIONS.lock().expect("cancel map poisoned");
    let secret = loop {
        let secret = rand::random::<i32>();
        if !map.contains_key(&(pid, secret)) {
            break secret;
        }
    };
    map.insert((pid, secret), handle);
    Registration { pid, secret }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut map) = SESSIONS.lock() {
            map.remove(&(self.pid, self.secret));
        }
    }
}

/// Handles a CancelRequest: cancels the session if the key matches. As in
/// PostgreSQL, nothing is sent back either way.
pub fn cancel(pid: i32, secret: i32) -> bool {
    let map = SESSIONS.lock().expect("cancel map poisoned");
    match map.get(&(pid, secret)) {
        Some(handle) => {
            handle.cancel();
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_needs_the_right_secret_and_a_live_session() {
        let handle = CancelHandle::default();
        let reg = register(7, handle.clone());
        assert!(!cancel(reg.pid, reg.secret.wrapping_add(1)));
        assert!(!handle.take());
        assert!(cancel(reg.pid, reg.secret));
        assert!(handle.take());
        let (pid, secret) = (reg.pid, reg.secret);
        drop(reg);
        assert!(!cancel(pid, secret));
    }

    #[test]
    fn equal_pids_from_two_engines_do_not_collide() {
        let (a, b) = (CancelHandle::default(), CancelHandle::default());
        let ra = register(8, a.clone());
        let rb = register(8, b.clone());
        assert!(cancel(rb.pid, rb.secret));
        assert!(!a.take() && b.take());
        drop(ra);
        assert!(cancel(rb.pid, rb.secret), "b is still registered");
    }
}

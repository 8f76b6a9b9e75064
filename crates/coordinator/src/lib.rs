//! The coordinator: Shoal's lock and cache-invalidation service (DESIGN.md section 2).
//!
//! It will hold membership and leases, the global lock manager, commit
//! sequencing with group commit, the deliver/visible protocol, sequences,
//! flush and compaction, and leadership with epoch fencing. Not built yet.

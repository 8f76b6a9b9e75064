//! Transactions over the versioned store (DESIGN.md section 3): snapshots,
//! write sets, the lock client and isolation levels. Not built yet.

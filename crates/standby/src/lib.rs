//! Log-based standbys for disaster recovery (DESIGN.md section 5): WAL
//! receiver, apply, promotion. Not built yet.

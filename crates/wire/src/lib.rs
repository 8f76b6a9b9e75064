//! The PostgreSQL wire protocol front door (DESIGN.md section 3), on the
//! `pgwire` crate. Not built yet.

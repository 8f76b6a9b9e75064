//! The SQL layer (DESIGN.md section 3): binder, planner, executor, catalog,
//! types and the `pg_catalog` subset. Not built yet.

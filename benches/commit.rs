//! Commit throughput and latency of the group-commit sequencer (being written).

fn main() {}

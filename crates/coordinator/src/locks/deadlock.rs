//! Cycle search in the global wait-for graph, and the choice of a victim.
//!
//! The graph is never stored: [`find_cycle`] asks the lock table for one
//! transaction's out-edges at a time, so only the part reachable from the
//! new waiter is built, and only when a request actually starts waiting.
//! Because every new wait runs the search, the graph is acyclic before each
//! new wait, so any cycle passes through the new waiter and a search from it
//! alone finds it.

use rustc_hash::FxHashSet;

use super::TxnId;

/// Finds a cycle of waits through `start`. `blockers(txn, out)` appends the
/// transactions that `txn` waits for (none when it is not waiting).
///
/// Returns `[start, b1, .., bk]`: `start` waits for `b1`, each `bi` for
/// `bi+1`, and `bk` for `start`. Depth-first, O(edges reachable from start).
pub(crate) fn find_cycle(
    start: TxnId,
    mut blockers: impl FnMut(TxnId, &mut Vec<TxnId>),
) -> Option<Vec<TxnId>> {
    // A node whose edges were all explored without reaching `start` never
    // will, whatever path leads to it again, so `visited` never forgets.
    let mut visited = FxHashSet::default();
    visited.insert(start);
    let mut out = Vec::new();
    blockers(start, &mut out);
    // The current path, each node with the out-edges it has left to try.
    let mut path: Vec<(TxnId, Vec<TxnId>)> = vec![(start, out)];
    while let Some((_, edges)) = path.last_mut() {
        match edges.pop() {
            None => {
                path.pop();
            }
            Some(next) if next == start => {
                return Some(path.iter().map(|(txn, _)| *txn).collect());
            }
            Some(next) => {
                if visited.insert(next) {
                    let mut out = Vec::new();
                    blockers(next, &mut out);
                    path.push((next, out));
                }
            }
        }
    }
    None
}

/// The transaction to abort to break `cycle`: the youngest, i.e. the one
/// whose first lock request reached the lock table last (`age` is that
/// arrival number). It has likely done the least work, and an old
/// transaction cannot be starved by a stream of young ones. Transaction ids
/// are not compared because each frontend numbers its own.
pub(crate) fn choose_victim(cycle: &[TxnId], age: impl Fn(TxnId) -> u64) -> Option<TxnId> {
    cycle.iter().copied().max_by_key(|&txn| age(txn))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: u64) -> TxnId {
        TxnId {
            frontend: n % 3,
            txn: n,
        }
    }

    fn graph(edges: &[(u64, u64)]) -> impl Fn(TxnId, &mut Vec<TxnId>) + '_ {
        move |txn, out| {
            out.extend(
                edges
                    .iter()
                    .filter(|(from, _)| t(*from) == txn)
                    .map(|(_, to)| t(*to)),
            );
        }
    }

    #[test]
    fn no_cycle_in_a_chain() {
        assert_eq!(find_cycle(t(1), graph(&[(1, 2), (2, 3)])), None);
    }

    #[test]
    fn finds_three_cycle_from_any_member() {
        let edges = [(1, 2), (2, 3), (3, 1), (2, 4)];
        assert_eq!(
            find_cycle(t(1), graph(&edges)),
            Some(vec![t(1), t(2), t(3)])
        );
        assert_eq!(
            find_cycle(t(3), graph(&edges)),
            Some(vec![t(3), t(1), t(2)])
        );
    }

    #[test]
    fn ignores_cycles_not_through_start() {
        assert_eq!(find_cycle(t(1), graph(&[(1, 2), (2, 3), (3, 2)])), None);
    }

    #[test]
    fn finds_cycle_behind_a_diamond() {
        let edges = [(1, 2), (1, 3), (2, 4), (3, 4), (4, 5), (5, 1)];
        let cycle = find_cycle(t(1), graph(&edges)).expect("cycle");
        assert_eq!(cycle.first(), Some(&t(1)));
        assert_eq!(cycle.last(), Some(&t(5)));
        assert_eq!(cycle.len(), 4);
    }

    #[test]
    fn youngest_is_victim() {
        let cycle = [t(1), t(2), t(3)];
        assert_eq!(
            choose_victim(&cycle, |txn| [0, 10, 30, 20][txn.txn as usize]),
            Some(t(2))
        );
    }
}

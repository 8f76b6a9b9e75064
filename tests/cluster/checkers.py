"""Consistency checkers for the cluster tests, in plain Python (nothing here
knows about Shoal):

* `check_registers`: linearizability of single registers with read, write
  and compare-and-set, by the Wing & Gong search with Lowe's memoization
  of (set of linearized operations, register state), as porcupine does it.
  The history is partitioned per key; each key is checked on its own.
* `check_list_append`: Jepsen/Elle's list-append analysis. Per key, the
  longest read gives the version order (every read must be a prefix of
  it); ww, wr and rw dependencies between committed transactions form a
  graph whose strongly connected components (Tarjan) are classified as
  G0, G1c, G-single or G2; besides cycles it finds G1a, G1b, lost updates,
  duplicate or unknown elements, internal inconsistencies and, with real
  time, stale reads and lost appends.

Both return a `Report`: anomaly kind -> examples; empty means clean.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from collections.abc import Hashable, Iterable
from typing import Any

OK, FAIL, INFO = "ok", "fail", "info"


@dataclasses.dataclass
class Report:
    """Anomalies found, by kind, each with a few human-readable examples."""

    anomalies: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    #: How many examples of one kind are kept (the count stays exact).
    keep: int = 5
    counts: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    def add(self, kind: str, example: Any) -> None:
        self.counts[kind] += 1
        examples = self.anomalies.setdefault(kind, [])
        if len(examples) < self.keep:
            examples.append(example)

    def without(self, *allowed: str) -> dict[str, list[Any]]:
        """The anomalies other than the kinds `allowed` (e.g. an isolation
        level permits G2)."""
        return {k: v for k, v in self.anomalies.items() if k not in allowed}

    @property
    def ok(self) -> bool:
        return not self.anomalies

    def summary(self) -> str:
        if not self.counts:
            return "0 anomalies"
        return ", ".join(f"{k}: {n}" for k, n in sorted(self.counts.items()))


# --------------------------------------------------------------------------
# Registers
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Op:
    """One register operation as a client saw it.

    `f` is "read" (value: what it returned), "write" (value: what it wrote)
    or "cas" (value: (expected, new)). `status` is OK (it took effect, and a
    read returned `value`), FAIL (it certainly did not take effect, e.g. a
    compare-and-set whose compare failed, or an aborted statement: dropped
    from the history, as Jepsen does) or INFO (unknown: it may or may not
    have taken effect, at any time after `invoke`; `complete` is ignored).
    """

    process: Hashable
    f: str
    value: Any
    invoke: float
    complete: float | None
    status: str
    key: Hashable = None


def _step(state: Any, op: Op) -> tuple[bool, Any]:
    """The register model: whether `op` may take effect in `state`, and the
    state after it."""
    if op.f == "read":
        return op.value == state, state
    if op.f == "write":
        return True, op.value
    if op.f == "cas":
        expected, new = op.value
        if state == expected:
            return True, new
        # An unknown compare-and-set may have found another value and
        # changed nothing; a known one (OK) did apply.
        return op.status == INFO, state
    raise ValueError(f"unknown register operation {op.f!r}")


def check_registers(history: Iterable[Op], initial: Any = None, max_steps: int = 5_000_000) -> Report:
    """Checks each key's operations for linearizability against a register
    that starts at `initial`. Reports "nonlinearizable" per key that has no
    linearization, and "inconclusive" where the search gave up after
    `max_steps`."""
    report = Report()
    by_key: dict[Hashable, list[Op]] = collections.defaultdict(list)
    for op in history:
        if op.status == FAIL or (op.status == INFO and op.f == "read"):
            continue  # neither changed the register nor observed it
        if op.status not in (OK, INFO):
            raise ValueError(f"unknown status {op.status!r}")
        by_key[op.key].append(op)
    for key, ops in sorted(by_key.items(), key=lambda kv: repr(kv[0])):
        verdict = _linearize(ops, initial, max_steps)
        if verdict is not None:
            kind, detail = verdict
            report.add(kind, f"key {key!r}: {detail}")
    return report


def _linearize(ops: list[Op], initial: Any, max_steps: int) -> tuple[str, str] | None:
    """Wing & Gong / Lowe: walk the time-ordered call and return events;
    linearize a call when the model allows it and (linearized set, state)
    was not tried before; on reaching the return of an operation not yet
    linearized, undo the last choice. Unknown (INFO) operations have no
    return event: they may be linearized anywhere after their call, or
    never. Returns None when a linearization exists, else (kind, detail)."""
    n = len(ops)
    # Events as (time, 0 = call | 1 = return, op index): at equal times
    # calls come first, so touching intervals count as concurrent.
    events = [(op.invoke, 0, i) for i, op in enumerate(ops)]
    events += [(op.complete, 1, i) for i, op in enumerate(ops) if op.status == OK]
    events.sort()
    # A doubly linked list over the events, with sentinels HEAD and TAIL,
    # from which linearized operations are unlinked (and relinked on undo).
    m = len(events)
    head, tail = m, m + 1
    order = [head] + list(range(m)) + [tail]
    nxt = [0] * (m + 2)
    prv = [0] * (m + 2)
    for a, b in itertools.pairwise(order):
        nxt[a], prv[b] = b, a
    call_at = [0] * n
    return_at = [-1] * n
    for pos, (_, kind, i) in enumerate(events):
        if kind == 0:
            call_at[i] = pos
        else:
            return_at[i] = pos

    def unlink(pos: int) -> None:
        nxt[prv[pos]] = nxt[pos]
        prv[nxt[pos]] = prv[pos]

    def relink(pos: int) -> None:
        nxt[prv[pos]] = pos
        prv[nxt[pos]] = pos

    remaining = sum(1 for op in ops if op.status == OK)
    state = initial
    linearized = 0
    seen: set[tuple[int, Any]] = set()
    stack: list[tuple[int, Any]] = []  # (op index, state before it)
    best = (-1, None, set())  # (depth, blocking op, states seen there)
    entry = nxt[head]
    steps = 0
    while remaining and entry != tail:
        steps += 1
        if steps > max_steps:
            return "inconclusive", f"search gave up after {max_steps} steps ({n} operations)"
        _, kind, i = events[entry]
        if kind == 0:
            allowed, after = _step(state, ops[i])
            if allowed and (linearized | (1 << i), after) not in seen:
                seen.add((linearized | (1 << i), after))
                stack.append((i, state))
                state, linearized = after, linearized | (1 << i)
                unlink(call_at[i])
                if return_at[i] >= 0:
                    unlink(return_at[i])
                    remaining -= 1
                entry = nxt[head]
            else:
                entry = nxt[entry]
            continue
        # The return of operation i, which is not linearized yet: undo.
        depth = len(stack)
        if depth > best[0]:
            best = (depth, i, {repr(state)})
        elif depth == best[0] and best[1] == i:
            best[2].add(repr(state))
        if not stack:
            break
        j, state = stack.pop()
        linearized &= ~(1 << j)
        if return_at[j] >= 0:
            relink(return_at[j])
            remaining += 1
        relink(call_at[j])
        entry = nxt[call_at[j]]
    if remaining == 0 or entry == tail:
        return None
    _, blocking, states = best
    op = ops[blocking]
    concurrent = [
        _describe(o)
        for o in ops
        if o is not op and o.invoke <= (op.complete or 0) and (o.status == INFO or o.complete >= op.invoke)
    ]
    return "nonlinearizable", (
        f"{_describe(op)} cannot be linearized (register could only be "
        f"{', '.join(sorted(states))} there, after {best[0]} of {n} operations); "
        f"concurrent with: {concurrent[:8]}"
    )


def _describe(op: Op) -> str:
    arrow = {"read": "->", "write": ":=", "cas": "cas"}.get(op.f, op.f)
    end = "?" if op.status == INFO else f"{op.complete:.4f}"
    return f"p{op.process} {op.f}{arrow}{op.value!r} [{op.invoke:.4f}, {end}] {op.status}"


# --------------------------------------------------------------------------
# List-append
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Txn:
    """One list-append transaction as a client saw it: `ops` are
    ("append", key, value) and ("r", key, [values] or None when the read
    did not complete). Appended values are unique per key."""

    process: Hashable
    ops: list[tuple]
    invoke: float
    complete: float | None
    status: str


def _tname(index: int, txn: Txn) -> str:
    ops = " ".join(f"a{k}:{v}" if f == "append" else f"r{k}:{v}" for f, k, v in txn.ops)
    return f"T{index}(p{txn.process} {txn.status} [{ops}])"


def check_list_append(txns: list[Txn], realtime: bool = True, repeatable_reads: bool = True) -> Report:
    """Checks a list-append history (see the module docs). With `realtime`
    the history's invoke/complete times also count: a transaction invoked
    after another committed must see its appends (strict serializability's
    real-time order, as Shoal promises across nodes). Without
    `repeatable_reads` (READ COMMITTED) a transaction's later read of a
    key may show appends committed since its earlier read."""
    report = Report()
    # Who appended what, and each writer's last append per key (for G1b).
    writer: dict[tuple[Hashable, Any], int] = {}
    final_append: dict[tuple[int, Hashable], Any] = {}
    for t, txn in enumerate(txns):
        for f, k, v in txn.ops:
            if f == "append":
                if (k, v) in writer:
                    raise ValueError(f"value {v!r} appended to key {k!r} twice")
                writer[(k, v)] = t
                final_append[(t, k)] = v
    committed_reads = [
        (t, k, v) for t, txn in enumerate(txns) if txn.status == OK for f, k, v in txn.ops if f == "r" and v is not None
    ]

    # Version orders: the longest read of each key; the others must be
    # prefixes of it.
    order: dict[Hashable, list[Any]] = {}
    for _, k, v in committed_reads:
        if len(v) >= len(order.setdefault(k, [])):
            order[k] = list(v)
    for t, k, v in committed_reads:
        longest = order[k]
        if list(v) != longest[: len(v)]:
            report.add("incompatible-order", f"key {k!r}: {_tname(t, txns[t])} read {v} but another read {longest}")
        if len(set(v)) != len(v):
            report.add("duplicate-elements", f"key {k!r}: {_tname(t, txns[t])} read {v}")
        for x in v:
            w = writer.get((k, x))
            if w is None:
                report.add("garbage-read", f"key {k!r}: {_tname(t, txns[t])} read {x!r}, which nobody appended")
            elif txns[w].status == FAIL:
                report.add("G1a", f"key {k!r}: {_tname(t, txns[t])} read {x!r} of aborted {_tname(w, txns[w])}")
        if v:
            w = writer.get((k, v[-1]))
            if w is not None and w != t and final_append[(w, k)] != v[-1]:
                report.add(
                    "G1b",
                    f"key {k!r}: {_tname(t, txns[t])} read {v[-1]!r}, an intermediate append of {_tname(w, txns[w])}",
                )

    _check_internal(txns, report, repeatable_reads)

    # The committed transactions: OK ones, and unknown ones that somebody
    # observed (so they did commit).
    observed = {writer[(k, x)] for _, k, v in committed_reads for x in v if (k, x) in writer}
    nodes = {t for t, txn in enumerate(txns) if txn.status == OK or (txn.status == INFO and t in observed)}

    _check_lost_updates(txns, nodes, report)
    if realtime:
        _check_realtime(txns, order, committed_reads, report)

    edges = _dependencies(txns, nodes, order, writer, committed_reads)
    for component in _tarjan(nodes, edges):
        if len(component) > 1:
            kind, cycle = _classify(component, edges)
            report.add(kind, " -> ".join(f"{_tname(t, txns[t])} -{e}" for t, e in cycle) + " -> back")
    return report


def _check_internal(txns: list[Txn], report: Report, repeatable_reads: bool) -> None:
    """Within one committed transaction, a read of a key must end with the
    transaction's own appends since its previous read of it (it holds the
    row's lock), and begin with what that previous read returned (versions
    only grow); with `repeatable_reads` it must be exactly that plus them."""
    for t, txn in enumerate(txns):
        if txn.status != OK:
            continue
        before: dict[Hashable, list[Any]] = {}  # key -> what the last read returned
        mine: dict[Hashable, list[Any]] = collections.defaultdict(list)  # own appends since
        for f, k, v in txn.ops:
            if f == "append":
                mine[k].append(v)
                continue
            if v is None:
                continue
            v, own, prior = list(v), mine.pop(k, []), before.get(k)
            if own and v[-len(own) :] != own:
                report.add("internal", f"key {k!r}: {_tname(t, txn)} read {v} without its own appends {own}")
            elif prior is not None and repeatable_reads and v != prior + own:
                report.add("internal", f"key {k!r}: {_tname(t, txn)} read {v}, expected {prior + own}")
            elif prior is not None and v[: len(prior)] != prior:
                report.add("internal", f"key {k!r}: {_tname(t, txn)} read {v} after reading {prior}")
            before[k] = v


def _check_lost_updates(txns: list[Txn], nodes: set[int], report: Report) -> None:
    """Two committed transactions that read the same version of a key and
    then both appended to it: one overwrote the other's basis."""
    readers: dict[tuple[Hashable, tuple], list[int]] = collections.defaultdict(list)
    for t in nodes:
        first_read: dict[Hashable, tuple] = {}
        appended_after: set[Hashable] = set()
        for f, k, v in txns[t].ops:
            if f == "r" and v is not None and k not in first_read:
                first_read[k] = tuple(v)
            elif f == "append" and k in first_read:
                appended_after.add(k)
        for k in appended_after:
            readers[(k, first_read[k])].append(t)
    for (k, version), ts in readers.items():
        if len(ts) > 1:
            report.add(
                "lost-update",
                f"key {k!r}: "
                + ", ".join(_tname(t, txns[t]) for t in sorted(ts))
                + f" all read {list(version)} and appended",
            )


def _check_realtime(txns, order, committed_reads, report) -> None:
    """A read in a transaction invoked after a committed (OK) transaction
    completed must contain that transaction's appends to the key."""
    appends: dict[Hashable, list[tuple[float, Any, int]]] = collections.defaultdict(list)
    for t, txn in enumerate(txns):
        if txn.status == OK:
            for f, k, v in txn.ops:
                if f == "append":
                    appends[k].append((txn.complete, v, t))
    for r, k, v in committed_reads:
        seen = set(v)
        started = txns[r].invoke
        for done, x, w in appends.get(k, ()):
            if done < started and x not in seen:
                kind = "stale-read" if x in order.get(k, ()) else "lost-append"
                report.add(
                    kind,
                    f"key {k!r}: {_tname(r, txns[r])} (invoked {started:.4f}) missed {x!r} "
                    f"of {_tname(w, txns[w])} (completed {done:.4f})",
                )


def _dependencies(txns, nodes, order, writer, committed_reads) -> dict[int, dict[int, set[str]]]:
    """ww, wr and rw edges between committed transactions."""
    edges: dict[int, dict[int, set[str]]] = collections.defaultdict(lambda: collections.defaultdict(set))

    def edge(a, b, kind):
        if a != b and a in nodes and b in nodes:
            edges[a][b].add(kind)

    for k, versions in order.items():
        writers = [writer.get((k, x)) for x in versions]
        for a, b in itertools.pairwise(writers):
            if a is not None and b is not None:
                edge(a, b, "ww")
    for t, k, v in committed_reads:
        versions = order[k]
        # wr: from the writer of the last element not written by t itself.
        for x in reversed(v):
            w = writer.get((k, x))
            if w != t:
                if w is not None:
                    edge(w, t, "wr")
                break
        # rw: t did not see the next version.
        if len(v) < len(versions) and list(v) == versions[: len(v)]:
            w = writer.get((k, versions[len(v)]))
            if w is not None:
                edge(t, w, "rw")
    return edges


def _tarjan(nodes: set[int], edges) -> list[list[int]]:
    """Strongly connected components (Tarjan's algorithm, iteratively)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, {}))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, successors = work[-1]
            advanced = False
            for w in successors:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                components.append(sorted(component))
    return components


def _classify(component: list[int], edges) -> tuple[str, list[tuple[int, str]]]:
    """The worst anomaly a strongly connected component holds, with one
    cycle showing it: G0 (a cycle of ww edges), G1c (ww and wr), G-single
    (exactly one rw edge), else G2."""
    members = set(component)

    def sub(kinds: set[str]):
        return {
            a: {b: ks & kinds for b, ks in edges.get(a, {}).items() if b in members and ks & kinds} for a in members
        }

    for kind, allowed in (("G0", {"ww"}), ("G1c", {"ww", "wr"})):
        graph = sub(allowed)
        for part in _tarjan(members, graph):
            if len(part) > 1:
                return kind, _cycle_through(part[0], graph, set(part))
    no_rw = sub({"ww", "wr"})
    for a in sorted(members):
        for b, ks in sorted(edges.get(a, {}).items()):
            if b in members and "rw" in ks:
                path = _path(b, a, no_rw, members)
                if path is not None:
                    return "G-single", [(a, "rw")] + path
    return "G2", _cycle_through(component[0], sub({"ww", "wr", "rw"}), members)


def _path(src: int, dst: int, graph, members: set[int]) -> list[tuple[int, str]] | None:
    """A shortest path src -> dst in `graph` as [(node, edge kind to the
    next node)], ending with dst's edge left out (dst is where the cycle
    closes), or None."""
    if src == dst:
        return []
    parent: dict[int, tuple[int, str]] = {}
    queue = collections.deque([src])
    seen = {src}
    while queue:
        a = queue.popleft()
        for b, ks in graph.get(a, {}).items():
            if b in members and b not in seen:
                seen.add(b)
                parent[b] = (a, "/".join(sorted(ks)))
                if b == dst:
                    hops = []
                    node = dst
                    while node != src:
                        prev, kind = parent[node]
                        hops.append((prev, kind))
                        node = prev
                    return list(reversed(hops))
                queue.append(b)
    return None


def _cycle_through(start: int, graph, members: set[int]) -> list[tuple[int, str]]:
    """A cycle through `start` inside a strongly connected `members`."""
    for b, ks in sorted(graph.get(start, {}).items()):
        if b in members:
            path = _path(b, start, graph, members)
            if path is not None:
                return [(start, "/".join(sorted(ks)))] + path
    return [(start, "?")]

"""The checkers on hand-made histories: each anomaly they exist to find is
found, and histories that are fine pass (so a clean cluster run means
something). Needs no Shoal binary."""

import random

from checkers import FAIL, INFO, OK, Op, Txn, check_list_append, check_registers


def w(value, t0, t1, status=OK, key="x", p=0):
    return Op(p, "write", value, t0, t1, status, key)


def r(value, t0, t1, status=OK, key="x", p=1):
    return Op(p, "read", value, t0, t1, status, key)


def cas(expected, new, t0, t1, status=OK, key="x", p=2):
    return Op(p, "cas", (expected, new), t0, t1, status, key)


# --- registers ---------------------------------------------------------------


def test_sequential_history_is_linearizable():
    h = [w(1, 0, 1), r(1, 2, 3), cas(1, 2, 4, 5), r(2, 6, 7)]
    assert check_registers(h, initial=0).ok


def test_stale_read_is_flagged():
    h = [w(1, 0, 1), w(2, 2, 3), r(1, 4, 5)]
    report = check_registers(h, initial=0)
    assert list(report.anomalies) == ["nonlinearizable"]
    assert "read->1" in report.anomalies["nonlinearizable"][0]


def test_concurrent_write_may_take_effect_between_reads():
    assert check_registers([w(1, 0, 10), r(0, 1, 2), r(1, 3, 4)], initial=0).ok


def test_value_flipping_back_is_flagged():
    h = [w(1, 0, 10), r(1, 1, 2), r(0, 3, 4)]
    assert not check_registers(h, initial=0).ok


def test_two_cas_from_the_same_value_is_a_lost_update():
    h = [cas(0, 1, 0, 1), cas(0, 2, 2, 3, p=3)]
    assert not check_registers(h, initial=0).ok


def test_unknown_write_may_apply_late_but_not_be_undone():
    assert check_registers([w(5, 0, None, INFO), r(0, 1, 2), r(5, 10, 11)], initial=0).ok
    assert check_registers([w(5, 0, None, INFO), r(0, 1, 2)], initial=0).ok
    h = [w(5, 0, None, INFO), r(0, 1, 2), r(5, 3, 4), r(0, 5, 6)]
    assert not check_registers(h, initial=0).ok


def test_unknown_cas_may_not_have_applied():
    assert check_registers([cas(0, 1, 0, None, INFO), r(0, 5, 6)], initial=0).ok
    assert check_registers([cas(0, 1, 0, None, INFO), r(1, 5, 6)], initial=0).ok


def test_failed_operations_are_ignored_and_keys_are_separate():
    h = [w(9, 0, 1, FAIL), r(0, 2, 3), w(1, 0, 1, key="y"), r(0, 2, 3, key="z")]
    assert check_registers(h, initial=0).ok
    h = [w(1, 0, 1, key="y"), r(0, 2, 3, key="y")]
    report = check_registers(h, initial=0)
    assert report.counts["nonlinearizable"] == 1 and "'y'" in report.anomalies["nonlinearizable"][0]


def simulated_register_history(seed, processes=5, ops=300, values=4):
    """A history that is linearizable by construction: each operation
    takes effect at a random instant inside its interval."""
    rng = random.Random(seed)
    state, clock, events = 0, 0.0, []
    busy_until = [0.0] * processes
    for _ in range(ops):
        p = rng.randrange(processes)
        start = max(busy_until[p], clock) + rng.random()
        end = start + rng.random() * 5
        point = rng.uniform(start, end)
        events.append((point, p, start, end))
        busy_until[p] = end
        clock = start
    history = []
    for point, p, start, end in sorted(events):
        kind = rng.choice(["read", "write", "cas"])
        if kind == "read":
            history.append(Op(p, "read", state, start, end, OK))
        elif kind == "write":
            state = rng.randrange(values)
            history.append(Op(p, "write", state, start, end, OK))
        else:
            expected, new = rng.randrange(values), rng.randrange(values)
            if state == expected:
                state = new
                history.append(Op(p, "cas", (expected, new), start, end, OK))
            else:
                history.append(Op(p, "cas", (expected, new), start, end, FAIL))
    return history


def test_simulated_concurrent_histories_are_linearizable():
    for seed in range(20):
        history = simulated_register_history(seed)
        assert check_registers(history, initial=0).ok, seed
        # Moving one read's result to a value the register never held
        # there breaks it.
        reads = [i for i, op in enumerate(history) if op.f == "read"]
        i = reads[len(reads) // 2]
        bad = Op(history[i].process, "read", 99, history[i].invoke, history[i].complete, OK)
        assert not check_registers(history[:i] + [bad] + history[i + 1 :], initial=0).ok


# --- list-append -------------------------------------------------------------


def txn(ops, t0=0.0, t1=1.0, status=OK, p=0):
    return Txn(p, ops, t0, t1, status)


def A(k, v):
    return ("append", k, v)


def R(k, v):
    return ("r", k, v)


def kinds(report):
    return set(report.anomalies)


def test_serial_list_append_history_is_clean():
    h = [txn([A("x", 1)], 0, 1), txn([R("x", [1]), A("x", 2)], 2, 3), txn([R("x", [1, 2]), R("y", [])], 4, 5)]
    report = check_list_append(h)
    assert report.ok, report.anomalies


def test_g0_write_cycle_is_flagged():
    h = [
        txn([A("x", 1), A("y", 1)]),
        txn([A("x", 2), A("y", 2)]),
        txn([R("x", [1, 2]), R("y", [2, 1])]),
    ]
    assert "G0" in kinds(check_list_append(h, realtime=False))


def test_g1c_circular_information_flow_is_flagged():
    h = [txn([A("x", 1), R("y", [2])]), txn([A("y", 2), R("x", [1])])]
    report = check_list_append(h, realtime=False)
    assert kinds(report) == {"G1c"}, report.anomalies


def test_g_single_read_skew_is_flagged():
    h = [
        txn([A("x", 1), A("y", 1)]),
        txn([R("x", []), R("y", [1])]),
        txn([R("x", [1])]),
    ]
    report = check_list_append(h, realtime=False)
    assert kinds(report) == {"G-single"}, report.anomalies


def test_write_skew_is_g2_only():
    h = [
        txn([R("x", []), A("y", 1)]),
        txn([R("y", []), A("x", 2)]),
        txn([R("x", [2]), R("y", [1])]),
    ]
    report = check_list_append(h, realtime=False)
    assert kinds(report) == {"G2"}, report.anomalies
    assert not report.without("G2")


def test_g1a_aborted_read_is_flagged():
    h = [txn([A("x", 1)], status=FAIL), txn([R("x", [1])])]
    assert kinds(check_list_append(h, realtime=False)) == {"G1a"}


def test_g1b_intermediate_read_is_flagged():
    h = [txn([A("x", 1), A("x", 2)]), txn([R("x", [1])]), txn([R("x", [1, 2])])]
    assert "G1b" in kinds(check_list_append(h, realtime=False))


def test_lost_update_is_flagged():
    h = [
        txn([R("x", []), A("x", 1)]),
        txn([R("x", []), A("x", 2)]),
        txn([R("x", [1, 2])]),
    ]
    assert "lost-update" in kinds(check_list_append(h, realtime=False))


def test_incompatible_orders_and_duplicates_are_flagged():
    h = [txn([A("x", 1)]), txn([A("x", 2)]), txn([R("x", [1, 2])]), txn([R("x", [2, 1])])]
    assert "incompatible-order" in kinds(check_list_append(h, realtime=False))
    h = [txn([A("x", 1)]), txn([R("x", [1, 1])])]
    assert "duplicate-elements" in kinds(check_list_append(h, realtime=False))
    h = [txn([R("x", [7])])]
    assert kinds(check_list_append(h, realtime=False)) == {"garbage-read"}


def test_internal_inconsistency_is_flagged():
    h = [txn([A("x", 1), R("x", [])]), txn([R("x", [1])])]
    assert "internal" in kinds(check_list_append(h, realtime=False))
    # A non-repeatable read: legal under READ COMMITTED only.
    h = [txn([A("x", 1)]), txn([R("x", []), A("x", 2), R("x", [1, 2])]), txn([R("x", [1, 2])])]
    assert "internal" in kinds(check_list_append(h, realtime=False))
    assert "internal" not in kinds(check_list_append(h, realtime=False, repeatable_reads=False))
    # ... but versions never shrink.
    h = [txn([A("x", 1)]), txn([R("x", [1]), R("x", [])])]
    assert "internal" in kinds(check_list_append(h, realtime=False, repeatable_reads=False))


def test_real_time_stale_read_and_lost_append():
    h = [txn([A("x", 1)], 0, 1), txn([R("x", [])], 2, 3), txn([R("x", [1])], 4, 5)]
    assert kinds(check_list_append(h)) == {"stale-read"}
    assert check_list_append(h, realtime=False).ok
    h = [txn([A("x", 1)], 0, 1), txn([A("x", 2)], 2, 3), txn([R("x", [2])], 4, 5)]
    assert "lost-append" in kinds(check_list_append(h))


def test_observed_unknown_transaction_counts_as_committed():
    h = [txn([A("x", 1)], 0, None, INFO), txn([R("x", [1])], 2, 3)]
    assert check_list_append(h).ok
    # ... and its place in the graph still matters.
    h = [
        txn([A("x", 1), A("y", 1)], 0, None, INFO),
        txn([R("x", []), R("y", [1])], 2, 3),
        txn([R("x", [1])], 4, 5),
    ]
    assert "G-single" in kinds(check_list_append(h, realtime=False))


def test_simulated_serial_histories_are_clean():
    for seed in range(20):
        rng = random.Random(seed)
        state = {k: [] for k in range(4)}
        counter, history = 0, []
        for t in range(200):
            ops = []
            for _ in range(rng.randint(1, 4)):
                k = rng.randrange(4)
                if rng.random() < 0.5:
                    counter += 1
                    state[k].append(counter)
                    ops.append(A(k, counter))
                else:
                    ops.append(R(k, list(state[k])))
            history.append(txn(ops, 2 * t, 2 * t + 1, p=t % 5))
        report = check_list_append(history)
        assert report.ok, (seed, report.anomalies)

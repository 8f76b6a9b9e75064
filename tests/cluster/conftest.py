"""Fixtures of the cluster tests: clusters of real `shoal` processes (the
debug build in target/, or $SHOAL_BIN) that are killed after each test or
module, and whose log tails are attached to the report of a failed test."""

import os
import pathlib

import pytest

from cluster import Cluster, binary

#: The frontend lease of the cluster tests. 2 s, the default; the debug
#: build on a loaded machine may need more ($SHOAL_CLUSTER_LEASE_MS).
LEASE_MS = int(os.environ.get("SHOAL_CLUSTER_LEASE_MS", "2000"))


class ClusterFactory:
    """Starts clusters for one test and kills them all afterwards."""

    def __init__(self, tmp: pathlib.Path):
        self.tmp = tmp
        self.clusters: list[Cluster] = []

    def __call__(self, frontends=3, spare=False, lease_ms=LEASE_MS, **options) -> Cluster:
        c = Cluster(
            self.tmp / f"cluster-{len(self.clusters)}",
            frontends=frontends,
            spare=spare,
            lease_ms=lease_ms,
            **options,
        )
        self.clusters.append(c)
        return c.__enter__()

    def close(self):
        for c in self.clusters:
            c.close()


@pytest.fixture
def make_cluster(tmp_path):
    """`make_cluster(frontends=3, spare=False, lease_ms=...)` -> a running
    Cluster, killed when the test ends."""
    assert pathlib.Path(binary()).exists(), f"no shoal binary at {binary()} (cargo build -p shoal)"
    factory = ClusterFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="module")
def cluster3(tmp_path_factory):
    """Three frontends and a coordinator, shared by a module's tests (each
    uses tables of its own)."""
    assert pathlib.Path(binary()).exists(), f"no shoal binary at {binary()} (cargo build -p shoal)"
    with Cluster(tmp_path_factory.mktemp("cluster"), frontends=3, lease_ms=LEASE_MS) as c:
        yield c


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, adds the tail of every cluster process's log."""
    report = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            clusters = value.clusters if isinstance(value, ClusterFactory) else [value]
            for c in clusters:
                if isinstance(c, Cluster):
                    report.sections.append(("shoal logs", c.logs(40)))
    return report

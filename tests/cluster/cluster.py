"""A Shoal cluster of real processes on one machine: a coordinator, an
optional hot spare and N frontends, all on one store (a `file://`
directory under the test's temporary directory, or, with
SHOAL_TEST_STORE=s3, a fresh prefix of the S3 bucket $SHOAL_TEST_S3 that
scripts/moto.sh serves), each on free loopback ports, each logging its
stderr to a file there. Tests drive it with kill -9, SIGSTOP/SIGCONT and
SIGTERM, and cut a frontend off from the coordinator through a dropping TCP
proxy or, in a network namespace of its own, with a dead link (netns.py).

    with Cluster(tmp_path, frontends=3, spare=True) as c:
        conn = c.connect(0)
        c.kill(1); c.restart(1)
        c.kill_coordinator(); c.wait_coordinator_active("spare", 5)
"""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import psycopg

ROOT = pathlib.Path(__file__).resolve().parents[2]


def binary() -> str:
    """The `shoal` binary under test: $SHOAL_BIN, else the debug build."""
    return os.environ.get("SHOAL_BIN", str(ROOT / "target" / "debug" / "shoal"))


def store_url(tmp: pathlib.Path) -> str:
    """A fresh, empty store for one test: a directory under `tmp`, or with
    SHOAL_TEST_STORE=s3 a new prefix of $SHOAL_TEST_S3 (the AWS_* variables
    that configure it reach the processes through their environment)."""
    kind = os.environ.get("SHOAL_TEST_STORE", "file")
    if kind == "s3":
        bucket = os.environ.get("SHOAL_TEST_S3")
        if not bucket:
            raise RuntimeError("SHOAL_TEST_STORE=s3 needs SHOAL_TEST_S3 (run under scripts/moto.sh)")
        return f"{bucket.rstrip('/')}/cluster-{uuid.uuid4().hex[:12]}"
    if kind != "file":
        raise RuntimeError(f"SHOAL_TEST_STORE is {kind!r}: expected file or s3")
    store = tmp / "store"
    store.mkdir(parents=True, exist_ok=True)
    return f"file://{store}"


def free_ports(n: int) -> list[int]:
    """`n` distinct ports that were free a moment ago (bound to port 0 all
    at once, so none repeats, then closed for the processes to take)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_status(port: int, path: str = "/health", timeout: float = 0.5, host: str = "127.0.0.1") -> int | None:
    """The HTTP status of GET `path` on `host:port`; None when nothing
    answered in `timeout` (refused, or a stopped process)."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, TimeoutError):
        return None


class Proxy:
    """A TCP proxy on a loopback port in front of `target_port`, to cut one
    frontend off from the coordinator. `partition()` drops every byte in
    both directions (connections stay open, as behind a dead link, and new
    ones are accepted into the same void); `heal()` forwards again, and
    closes the connections that lost data, as a real link's would break."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.partitioned = threading.Event()
        self.closed = False
        self.lock = threading.Lock()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if not self.partitioned.is_set():
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def partition(self) -> None:
        self.partitioned.set()

    def heal(self) -> None:
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.partitioned.clear()

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        self.heal()


class Process:
    """One `shoal` process: its arguments, its log, and signals to it.
    `prefix` runs it through another command (`ip netns exec NS`), which
    must exec it, so that signals reach `shoal` itself."""

    def __init__(self, name: str, args: list[str], log: pathlib.Path, prefix: tuple[str, ...] = ()):
        self.name = name
        self.args = args
        self.log = log
        self.prefix = list(prefix)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        assert not self.running(), f"{self.name} is already running"
        with open(self.log, "a") as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} start {self.name}: {' '.join(self.prefix + self.args)}\n")
            log.flush()
            self.proc = subprocess.Popen(
                [*self.prefix, binary(), *self.args],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "RUST_LOG": os.environ.get("SHOAL_TEST_LOG", "warn"), "NO_COLOR": "1"},
            )

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        assert self.proc is not None, f"{self.name} was never started"
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL (also ends a stopped process) and reap it."""
        if self.running():
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return f"== {self.name}: no log"
        state = "running" if self.running() else f"exited {self.proc.returncode if self.proc else '-'}"
        return "\n".join([f"== {self.name} ({state}), last {lines} lines of {self.log}:", *text[-lines:]])


class ClusterError(AssertionError):
    """A process did not start or became unhealthy; carries the log tails."""


class Cluster:
    """A coordinator, optionally a spare, and `frontends` frontends (index
    0..n-1, cluster ids 1..n) on one store under `tmp`."""

    def __init__(
        self,
        tmp: pathlib.Path,
        frontends: int = 3,
        spare: bool = False,
        lease_ms: int = 2000,
        coordinator_args: tuple[str, ...] = (),
        proxied: tuple[int, ...] = (),
        netns: dict | None = None,
    ):
        """`coordinator_args` go to the active coordinator (fault
        injection); the frontends in `proxied` reach the coordinator only
        through `self.proxy` (see [`Proxy`]), which the coordinator also
        advertises in its epoch, so they cannot re-join around it.
        `netns` maps frontend indexes to a `netns.Namespace` each runs in:
        it dials the coordinator on the namespace's cluster link (so the
        coordinator listens on every address, and advertises loopback,
        which is no way out of the namespace) and listens on its client
        link, with trust authentication (the default off loopback is
        SCRAM)."""
        netns = netns or {}
        self.tmp = pathlib.Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.lease_ms = lease_ms
        self.store_url = url = store_url(self.tmp)
        ports = free_ports(4 + 2 * frontends)
        self.coordinator_port, self.coordinator_http = ports[0], ports[1]
        self.spare_port, self.spare_http = ports[2], ports[3]
        self.pg_ports = ports[4::2][:frontends]
        self.http_ports = ports[5::2][:frontends]
        #: The address each frontend listens on.
        self.hosts = [netns[i].client_host if i in netns else "127.0.0.1" for i in range(frontends)]
        lease = ["--lease-ms", str(lease_ms)]
        self.proxy = Proxy(self.coordinator_port) if proxied else None
        advertise = ["--advertise", f"127.0.0.1:{self.proxy.port}"] if self.proxy else []
        if netns and not self.proxy:
            advertise = ["--advertise", f"127.0.0.1:{self.coordinator_port}"]
        self.coordinator = Process(
            "coordinator",
            [
                "coordinator",
                "--store",
                url,
                "--listen",
                f"{'0.0.0.0' if netns else '127.0.0.1'}:{self.coordinator_port}",
                "--http",
                f"127.0.0.1:{self.coordinator_http}",
                *lease,
                *advertise,
                *coordinator_args,
            ],
            self.tmp / "coordinator.log",
        )
        self.spare = None
        if spare:
            self.spare = Process(
                "spare",
                [
                    "coordinator",
                    "--store",
                    url,
                    "--listen",
                    f"127.0.0.1:{self.spare_port}",
                    "--http",
                    f"127.0.0.1:{self.spare_http}",
                    "--spare",
                    "--watch",
                    f"127.0.0.1:{self.coordinator_port}",
                    *lease,
                ],
                self.tmp / "spare.log",
            )

        # Frontends are pointed at the first coordinator; after a failover
        # they find the new leader through the store's newest epoch.
        def coordinator_address(i: int) -> str:
            if i in proxied:
                return f"127.0.0.1:{self.proxy.port}"
            if i in netns:
                return f"{netns[i].coordinator_host}:{self.coordinator_port}"
            return f"127.0.0.1:{self.coordinator_port}"

        self.frontends = [
            Process(
                f"frontend {i}",
                [
                    "frontend",
                    "--coordinator",
                    coordinator_address(i),
                    "--store",
                    url,
                    "--listen",
                    f"{self.hosts[i]}:{self.pg_ports[i]}",
                    "--http",
                    f"{self.hosts[i]}:{self.http_ports[i]}",
                    "--id",
                    str(i + 1),
                    *(["--auth", "trust"] if i in netns else []),
                ],
                self.tmp / f"frontend-{i}.log",
                prefix=tuple(netns[i].exec_prefix()) if i in netns else (),
            )
            for i in range(frontends)
        ]

    # --- lifecycle ------------------------------------------------------

    def __enter__(self) -> Cluster:
        try:
            self.coordinator.start()
            self.wait_coordinator_active("coordinator", 30)
            if self.spare:
                self.spare.start()
            for f in self.frontends:
                f.start()
            for i in range(len(self.frontends)):
                self.wait_healthy(i, 30)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def processes(self) -> list[Process]:
        return [self.coordinator, *([self.spare] if self.spare else []), *self.frontends]

    def close(self) -> None:
        """Kills every process of the cluster (also stopped ones)."""
        for p in self.processes():
            p.kill()
        if self.proxy:
            self.proxy.close()

    def logs(self, lines: int = 30) -> str:
        return "\n".join(p.tail(lines) for p in self.processes())

    def fail(self, message: str) -> None:
        raise ClusterError(f"{message}\n{self.logs()}")

    # --- frontends ------------------------------------------------------

    def dsn(self, i: int) -> str:
        return f"host={self.hosts[i]} port={self.pg_ports[i]} user=postgres dbname=postgres"

    def connect(self, i: int, timeout: float = 5, **kwargs) -> psycopg.Connection:
        """An autocommit connection to frontend `i`."""
        return psycopg.connect(self.dsn(i), autocommit=True, connect_timeout=max(1, int(timeout)), **kwargs)

    def health(self, i: int, timeout: float = 0.5) -> int | None:
        """Frontend `i`'s /health status (200 while it holds a lease), or
        None when it does not answer."""
        return http_status(self.http_ports[i], timeout=timeout, host=self.hosts[i])

    def wait_healthy(self, i: int, timeout: float) -> float:
        """Waits until frontend `i`'s /health answers 200; returns how long
        that took. Fails (with the logs) when it exits or `timeout` passes."""
        start = time.monotonic()
        while True:
            if self.health(i) == 200:
                return time.monotonic() - start
            if not self.frontends[i].running():
                self.fail(f"frontend {i} exited before it became healthy")
            if time.monotonic() - start > timeout:
                self.fail(f"frontend {i} not healthy after {timeout} s")
            time.sleep(0.05)

    def kill(self, i: int) -> None:
        """kill -9 frontend `i`."""
        self.frontends[i].kill()

    def restart(self, i: int, timeout: float = 30) -> float:
        """Kills frontend `i` if it runs, starts it again (same id and
        ports) and waits until it is healthy; returns the time to healthy."""
        self.frontends[i].kill()
        self.frontends[i].start()
        return self.wait_healthy(i, timeout)

    def stop(self, i: int) -> None:
        """SIGSTOP frontend `i`: it freezes, holding its connections."""
        self.frontends[i].signal(signal.SIGSTOP)

    def cont(self, i: int) -> None:
        self.frontends[i].signal(signal.SIGCONT)

    def terminate(self, i: int, timeout: float = 10) -> int:
        """SIGTERM frontend `i` and wait for it to exit; returns its exit
        status. Fails when it does not exit within `timeout`."""
        f = self.frontends[i]
        f.signal(signal.SIGTERM)
        try:
            return f.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"frontend {i} still running {timeout} s after SIGTERM")

    # --- coordinators ---------------------------------------------------

    def coordinator_health(self, which: str = "coordinator") -> int | None:
        """A coordinator's /health: 200 while it is the active one."""
        return http_status(self.coordinator_http if which == "coordinator" else self.spare_http)

    def wait_coordinator_active(self, which: str, timeout: float) -> float:
        """Waits until `which` ("coordinator" or "spare") says it is
        active; returns how long that took."""
        proc = self.coordinator if which == "coordinator" else self.spare
        start = time.monotonic()
        while self.coordinator_health(which) != 200:
            if not proc.running():
                self.fail(f"{which} exited")
            if time.monotonic() - start > timeout:
                self.fail(f"{which} not active after {timeout} s")
            time.sleep(0.05)
        return time.monotonic() - start

    def kill_coordinator(self) -> None:
        """kill -9 the first (active) coordinator."""
        self.coordinator.kill()

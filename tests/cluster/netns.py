"""A network namespace for one frontend, joined to the host by two veth
pairs, so a test can cut that frontend off from the coordinator with a
real dead link while the test still reaches it:

    host                                   namespace (one frontend)
    198.18.b.1  <-- cluster link -->  198.18.b.2   frontend -> coordinator
    198.18.b.5  <-- client link  -->  198.18.b.6   its PostgreSQL and /health

`partition()` sets the host end of the cluster link down. The frontend's
end then has no carrier, keeps its route and sends into the void: SYNs and
segments vanish without an RST or an ICMP error, as behind a dead switch,
so the frontend can only notice by its lease running out. (iproute2's `tc
... netem loss 100%` would cut one port of one link as silently, but this
kernel has neither netem nor any tc classifier, and there is no iptables
or nft; `ip link` needs nothing beyond veth.) On the host the link's routes
go with it; a blackhole route under them keeps the coordinator's replies
from leaking out of the default route instead. The client link stays up,
so the test sees what a load balancer would: a frontend that still answers.
`heal()` sets the link up again. `close()` deletes the namespace, which
takes both veth pairs with it once no process runs inside.

198.18.0.0/15 is the range set aside for network tests (RFC 2544), so it
collides with no real network; each namespace takes an 8-address block
chosen from the pid. Needs root and `ip`; `unavailable()` says why not.
"""

from __future__ import annotations

import os
import shutil
import subprocess

#: Names of the namespaces these tests create: PREFIX + "<pid>-<n>".
PREFIX = "shoaltest-"


class NetnsError(RuntimeError):
    """An `ip` command failed; carries its output."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", *args], check=False, capture_output=True, text=True, timeout=10)
    if check and proc.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {proc.stderr.strip() or proc.returncode}")
    return proc


def unavailable() -> str | None:
    """Why namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    return None


def remove_orphans() -> None:
    """Deletes namespaces of earlier test runs whose process is gone (a
    killed pytest never ran its cleanup)."""
    listing = ip("netns", "list", check=False).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        pid = name[len(PREFIX) :].split("-")[0]
        if name.startswith(PREFIX) and pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            ip("netns", "delete", name, check=False)


class Namespace:
    """One namespace with a cluster link and a client link (see the module
    doc). Attributes: `name`; `coordinator_host`, the host's address on
    the cluster link (where the frontend dials the coordinator);
    `client_host`, the frontend's address on the client link (where it
    listens and the test connects)."""

    _count = 0

    def __init__(self):
        Namespace._count += 1
        n = Namespace._count
        self.name = f"{PREFIX}{os.getpid()}-{n}"
        # Interface names have at most 15 characters; the pid has at most 7.
        tag = f"{os.getpid() % 10_000_000}{n % 10}"
        self.cluster_if, self.client_if = f"shc{tag}", f"shl{tag}"
        block = (os.getpid() * 8 + n) % (1 << 14)  # 2^14 blocks of 8 in the /15
        a, b = divmod(block * 8, 256)
        base = f"198.{18 + a // 256}.{a % 256}"
        self.net = f"{base}.{b}/29"
        self.coordinator_host, self.cluster_ns = f"{base}.{b + 1}", f"{base}.{b + 2}"
        self.client_gw, self.client_host = f"{base}.{b + 5}", f"{base}.{b + 6}"
        self.partitioned = False
        self.created = False

    def create(self) -> Namespace:
        """Creates the namespace and its links; on any failure removes what
        it made and raises NetnsError."""
        remove_orphans()
        try:
            ip("netns", "add", self.name)
            self.created = True
            ns = ["-n", self.name]
            for host_if, host_addr, ns_addr in (
                (self.cluster_if, self.coordinator_host, self.cluster_ns),
                (self.client_if, self.client_gw, self.client_host),
            ):
                ip("link", "add", host_if, "type", "veth", "peer", "name", host_if + "n", "netns", self.name)
                ip("addr", "add", f"{host_addr}/30", "dev", host_if)
                ip("link", "set", host_if, "up")
                ip(*ns, "addr", "add", f"{ns_addr}/30", "dev", host_if + "n")
                ip(*ns, "link", "set", host_if + "n", "up")
            ip(*ns, "link", "set", "lo", "up")
            ip("route", "replace", "blackhole", self.net, "metric", "4242")
        except BaseException:
            self.close()
            raise
        return self

    def exec_prefix(self) -> list[str]:
        """Runs a command inside the namespace (`ip netns exec` execs it,
        so the pid is the command's own)."""
        return ["ip", "netns", "exec", self.name]

    def partition(self) -> None:
        ip("link", "set", self.cluster_if, "down")
        self.partitioned = True

    def heal(self) -> None:
        ip("link", "set", self.cluster_if, "up")
        self.partitioned = False

    def close(self) -> None:
        """Deletes the namespace and the blackhole route; never raises."""
        ip("route", "del", "blackhole", self.net, "metric", "4242", check=False)
        if self.created:
            # The host ends go with their peers; delete them too in case a
            # process still holds the namespace open.
            for host_if in (self.cluster_if, self.client_if):
                ip("link", "delete", host_if, check=False)
            ip("netns", "delete", self.name, check=False)
            self.created = False

    def __enter__(self) -> Namespace:
        return self.create()

    def __exit__(self, *exc) -> None:
        self.close()

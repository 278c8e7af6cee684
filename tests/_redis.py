"""A real, throwaway ``redis-server`` on 127.0.0.1 for the tests (no fakes), or a real
Redis Cluster of three of them.

A missing ``redis-server`` is a test failure, not a skip: the shared replay cache
is only tested against the real thing. ``REDIS_SERVER`` overrides the binary.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

from _asgi import free_port

__all__ = ["ClusterServers", "RedisServer", "redis_cluster", "redis_server"]


def _binary() -> str:
    found = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if not found:
        raise RuntimeError(
            "redis-server not found: install it (apt-get install redis-server) "
            "or point REDIS_SERVER at the binary"
        )
    return found


def _pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process on a fixed port: start, stop, pause, restart."""

    def __init__(self) -> None:
        self.binary = _binary()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start (again, on the same port) and wait until it answers PING."""
        args = [self.binary, "--save", "", "--appendonly", "no"]
        args += ["--port", str(self.port), "--bind", "127.0.0.1"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not _pings(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer PING on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the process (if running) and wait for it to exit."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)  # in case it was paused
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Freeze the server: connections are accepted by the kernel, never answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A started :class:`RedisServer`, always stopped at the end."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _redis_cli(port: int, *args: str, timeout: float = 10.0) -> str:
    """``redis-cli -p port args...``'s output (redis-cli ships with redis-server)."""
    cli = shutil.which("redis-cli", path=os.path.dirname(_binary()) + os.pathsep + os.defpath)
    if not cli:
        raise RuntimeError("redis-cli not found (it comes with redis-server)")
    command = [cli, "-h", "127.0.0.1", "-p", str(port), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode:
        raise RuntimeError(f"redis-cli {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


class ClusterNodeServer(RedisServer):
    """A redis-server in cluster mode: its node id and slots live in ``config`` (under
    ``directory``), so a restart on the same port rejoins the cluster as the same node."""

    def __init__(self, directory: str) -> None:
        super().__init__()
        self.bus_port = free_port()  # the default, port + 10000, may be taken
        self.directory = directory
        self.config = os.path.join(directory, f"nodes-{self.port}.conf")

    def start(self, timeout: float = 10.0) -> None:
        args = [self.binary, "--save", "", "--appendonly", "no", "--dir", self.directory]
        args += ["--port", str(self.port), "--bind", "127.0.0.1", "--cluster-enabled", "yes"]
        args += ["--cluster-config-file", self.config, "--cluster-port", str(self.bus_port)]
        args += ["--cluster-node-timeout", "5000"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not _pings(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer PING on port {self.port}")
            time.sleep(0.02)

    def cli(self, *args: str) -> str:
        return _redis_cli(self.port, *args)


class ClusterServers:
    """A Redis Cluster of ``masters`` redis-servers on 127.0.0.1 and no replicas, made with
    ``redis-cli --cluster create``; the slots are split evenly between the masters."""

    def __init__(self, masters: int = 3) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="hmac-asgi-cluster-")
        self.nodes = [ClusterNodeServer(self._tmp.name) for _ in range(masters)]
        self.url = f"redis://127.0.0.1:{self.nodes[0].port}/0"  # any node will do

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{node.port}" for node in self.nodes]

    def start(self, timeout: float = 30.0) -> None:
        for node in self.nodes:
            node.start()
        _redis_cli(
            self.nodes[0].port,
            "--cluster", "create", *self.addresses,
            "--cluster-replicas", "0", "--cluster-yes",
            timeout=timeout,
        )  # fmt: skip
        self.wait_ok(timeout)
        self.wait_consistent(timeout)

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every node says ``cluster_state:ok`` and knows every master."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                ok = all(
                    "cluster_state:ok" in node.cli("cluster", "info")
                    and node.cli("cluster", "nodes").count("master") == len(self.nodes)
                    for node in self.nodes
                )
            except (RuntimeError, subprocess.TimeoutExpired):
                ok = False
            if ok:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not reach cluster_state:ok")
            time.sleep(0.1)

    def config(self, node: ClusterNodeServer) -> set[tuple[str, ...]]:
        """``node``'s view of the cluster: each master's id, config epoch and slot ranges
        (CLUSTER NODES without its link state, its own flags or migrations in progress)."""
        view = set()
        # CLUSTER NODES: <id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slots>
        for line in node.cli("cluster", "nodes").splitlines():
            fields = line.split()
            slots = (s for s in fields[8:] if not s.startswith("["))
            view.add((fields[0], fields[6], *sorted(slots)))
        return view

    def wait_consistent(self, timeout: float = 30.0) -> None:
        """Until every node has the same view of every master's epoch and slots: what a
        node was told reaches the others by gossip, and a stale gossip message with a
        higher epoch than a node knows of the new owner would hand a moved slot back."""
        deadline = time.monotonic() + timeout
        while len({frozenset(self.config(node)) for node in self.nodes}) > 1:
            if time.monotonic() > deadline:
                raise RuntimeError("the nodes of the cluster do not agree on its config")
            time.sleep(0.05)

    def masters(self) -> dict[int, list[tuple[int, int]]]:
        """Each master's port and the slot ranges it serves, as the first node sees them."""
        served: dict[int, list[tuple[int, int]]] = {}
        # CLUSTER NODES: <id> <ip:port@bus> <flags> <master> ... <epoch> <link> <slots...>
        for line in self.nodes[0].cli("cluster", "nodes").splitlines():
            fields = line.split()
            port = int(fields[1].split("@")[0].rpartition(":")[2])
            ranges = served.setdefault(port, [])
            for slots in fields[8:]:
                if not slots.startswith("["):  # "[slot->-id]": a slot being migrated
                    start, _, end = slots.partition("-")
                    ranges.append((int(start), int(end or start)))
        return served

    def node_of(
        self, key: str, masters: dict[int, list[tuple[int, int]]] | None = None
    ) -> ClusterNodeServer:
        """The :class:`ClusterNodeServer` serving ``key``'s slot (``masters``: from
        :meth:`masters`, to look up many keys with one ``CLUSTER NODES``)."""
        from redis.crc import key_slot

        slot = key_slot(key.encode())
        for port, ranges in (masters or self.masters()).items():
            if any(start <= slot <= end for start, end in ranges):
                return next(node for node in self.nodes if node.port == port)
        raise LookupError(f"no master serves slot {slot}")

    def node_id(self, node: ClusterNodeServer) -> str:
        return node.cli("cluster", "myid").strip()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self._tmp.cleanup()


@contextlib.contextmanager
def redis_cluster(masters: int = 3) -> Iterator[ClusterServers]:
    """A started :class:`ClusterServers`, always stopped (and its files removed) at the end."""
    cluster = ClusterServers(masters)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()

"""A real Ray cluster on this machine's loopback addresses, for the tests and bench_build.py --ray: one
`ray start --block` process per node, each in its own session, and every process of those sessions killed by
PID when the cluster stops. Nothing listens for or sends to any other address."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
STARTED = "Ray runtime started"


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def session_pids(sessions: set[int]) -> list[int]:
    """Processes whose session is one of `sessions` (a node's processes, and the workers its raylet started)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.name.isdigit() and int(fields[3]) in sessions:
            found.append(int(entry.name))
    return found


class LoopbackCluster:
    """A head node on 127.0.0.2 and worker nodes on further loopback addresses, each with `cpus` CPU slots."""

    def __init__(self, head: str = "127.0.0.2", cpus: int = 1):
        # Ray 2.60 turns token authentication on where a token file exists (~/.ray/auth_token, written by any
        # earlier local Ray), so the nodes get the mode and a token of this cluster's own, and so must a
        # client: `client_env` is what to add to its environment.
        self.client_env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                           "RAY_USAGE_STATS_ENABLED": "0"}
        self.head, self.port = head, free_port(head)
        self.address = f"{head}:{self.port}"
        self.temp = Path(tempfile.mkdtemp(prefix="nd-ray-", dir="/tmp"))  # short: Ray's socket paths have a limit
        self.nodes: dict[str, subprocess.Popen] = {}
        self._start(head, ["--head", f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={self.temp}"],
                    cpus)

    def add_node(self, ip: str, cpus: int = 1) -> None:
        self._start(ip, [f"--address={self.address}"], cpus)

    def _start(self, ip: str, options: list[str], cpus: int) -> None:
        log = open(self.temp / f"node-{ip}.log", "w+")
        self.nodes[ip] = subprocess.Popen([RAY, "start", "--block", f"--node-ip-address={ip}", f"--num-cpus={cpus}",
                                           "--disable-usage-stats", *options],
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                          env={**os.environ, **self.client_env})
        deadline = time.monotonic() + 120
        while STARTED not in (said := Path(log.name).read_text()):
            if self.nodes[ip].poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ray start for {ip} failed:\n{said[-2000:]}")
            time.sleep(0.2)

    def raylet(self, ip: str) -> int:
        """The PID of a node's raylet."""
        return next(pid for pid in session_pids({self.nodes[ip].pid})
                    if Path(f"/proc/{pid}/comm").read_text().strip() == "raylet")

    def busy_workers(self, ip: str) -> list[int]:
        """PIDs of the Ray Data workers running on a node."""
        return [pid for pid in session_pids({self.nodes[ip].pid}) if _cmdline(pid).startswith("ray::MapWorker")]

    def stop(self) -> None:
        """SIGKILL every process of every node's session, until none is left."""
        sessions = {p.pid for p in self.nodes.values()}
        for _ in range(50):
            pids = session_pids(sessions)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        for process in self.nodes.values():
            process.wait(timeout=10)
        shutil.rmtree(self.temp, ignore_errors=True)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""

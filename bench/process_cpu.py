"""CPU time by process for a benchmark's window, read from /proc: each service (its process
and any children), the broker, the webhook receiver, the load generator itself, and PostgreSQL,
whose backends are attributed to the service that opened their connection (by the client's TCP
port), so a reader sees what each evidence command costs in each process on a shared machine,
where CPU time is steadier than wall-clock percentiles (bench/NOTES.md, issue 24).

Linux only; elsewhere every figure is empty rather than wrong.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg

TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
POSTGRES = "PostgreSQL"
LOAD_GENERATOR = "load generator"


@dataclass(frozen=True)
class ProcessTimes:
    """One process's CPU seconds: its own (every thread), and its reaped children's."""

    parent_pid: int
    own_s: float
    reaped_children_s: float


def read_times(pid: int) -> ProcessTimes | None:
    """The process's times from /proc/<pid>/stat; None when it is gone (or there is no /proc)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: the fields follow the last ")".
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return ProcessTimes(
        int(fields[1]), (utime + stime) / TICKS_PER_S, (cutime + cstime) / TICKS_PER_S
    )


def every_process() -> dict[int, ProcessTimes]:
    """Every process this machine shows in /proc, by process id, with its times."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        times = read_times(int(entry.name))
        if times is not None:
            found[int(entry.name)] = times
    return found


def descendants(root: int, processes: Mapping[int, ProcessTimes]) -> set[int]:
    """The root and every live process below it."""
    children: dict[int, list[int]] = {}
    for pid, times in processes.items():
        children.setdefault(times.parent_pid, []).append(pid)
    tree, waiting = set(), [root]
    while waiting:
        pid = waiting.pop()
        if pid in processes and pid not in tree:
            tree.add(pid)
            waiting.extend(children.get(pid, ()))
    return tree


def tree_cpu_s(root: int, processes: Mapping[int, ProcessTimes]) -> float:
    """CPU of a process tree, live or reaped: each live process's own time plus what it reaped."""
    return sum(
        processes[pid].own_s + processes[pid].reaped_children_s
        for pid in descendants(root, processes)
    )


def socket_inodes(pids: Iterable[int]) -> set[int]:
    """The inodes of the sockets the processes hold open."""
    inodes = set()
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue  # gone, or not ours to read
        inodes |= {int(link[8:-1]) for link in links if link.startswith("socket:[")}
    return inodes


def client_ports_to(server_port: int) -> dict[int, int]:
    """Local TCP port → socket inode, for every connection to `server_port` on this machine."""
    ports = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == server_port:
                ports[local_port] = int(fields[9])
    return ports


@dataclass(frozen=True)
class Snapshot:
    """CPU seconds so far by name, and each PostgreSQL backend's own seconds with its owner."""

    by_name: dict[str, float]
    backends: dict[int, tuple[str, float]]


class CpuMeter:
    """Reads CPU seconds by process at the start and end of a window: `roots` names each
    process tree to count (services, broker, receiver); the load generator is this process
    alone; PostgreSQL is the postmaster's tree, split by which root's connection each backend
    serves ("PostgreSQL: gateway"), the rest (backends that ended, background workers) on its
    own line."""

    def __init__(self, roots: Mapping[str, int], postmaster_pid: int, postgres_port: int) -> None:
        self.roots = dict(roots)
        self.postmaster_pid = postmaster_pid
        self.postgres_port = postgres_port

    async def snapshot(self, connection: asyncpg.Connection) -> Snapshot:
        """CPU seconds so far by name; `connection` reads which client each backend serves."""
        processes = every_process()
        by_name = {name: tree_cpu_s(pid, processes) for name, pid in self.roots.items()}
        own = processes.get(os.getpid())
        by_name[LOAD_GENERATOR] = own.own_s if own else 0.0
        by_name[POSTGRES] = tree_cpu_s(self.postmaster_pid, processes)
        owners = self._backend_owners(processes, await self._backend_ports(connection))
        backends = {
            pid: (owner, processes[pid].own_s) for pid, owner in owners.items() if pid in processes
        }
        return Snapshot(by_name, backends)

    async def _backend_ports(self, connection: asyncpg.Connection) -> dict[int, int]:
        """Each PostgreSQL backend's process id → the TCP port of the client it serves."""
        rows = await connection.fetch(
            "SELECT pid, client_port FROM pg_stat_activity WHERE client_port > 0"
        )
        return {row["pid"]: row["client_port"] for row in rows}

    def _backend_owners(
        self, processes: Mapping[int, ProcessTimes], backend_ports: Mapping[int, int]
    ) -> dict[int, str]:
        """Each backend → the root whose process tree holds the client end of its socket."""
        inode_owner = {}
        trees = {name: descendants(pid, processes) for name, pid in self.roots.items()}
        trees[LOAD_GENERATOR] = {os.getpid()}
        for name, pids in trees.items():
            inode_owner.update(dict.fromkeys(socket_inodes(pids), name))
        port_inode = client_ports_to(self.postgres_port)
        return {
            pid: inode_owner.get(port_inode.get(port, -1), "unknown")
            for pid, port in backend_ports.items()
        }


def cpu_between(start: Snapshot, end: Snapshot) -> dict[str, float]:
    """CPU seconds spent in the window by name, PostgreSQL split by the backends' owners."""
    spent = {name: end.by_name[name] - start.by_name.get(name, 0.0) for name in end.by_name}
    postgres_total = spent.pop(POSTGRES)
    attributed: dict[str, float] = {}
    for pid, (owner, seconds) in end.backends.items():
        before = start.backends.get(pid, (owner, 0.0))[1]
        attributed[owner] = attributed.get(owner, 0.0) + seconds - before
    for owner, seconds in sorted(attributed.items()):
        spent[f"{POSTGRES}: {owner}"] = seconds
    spent[f"{POSTGRES}: other"] = postgres_total - sum(attributed.values())
    return spent


def per_command_ms(spent: Mapping[str, float], commands: int) -> dict[str, float]:
    """Milliseconds of CPU per command by name, largest first, with the total."""
    if commands <= 0:
        return {}
    ordered = sorted(spent.items(), key=lambda item: -item[1])
    shares = {name: round(seconds * 1000 / commands, 2) for name, seconds in ordered}
    shares["total"] = round(sum(spent.values()) * 1000 / commands, 2)
    return shares

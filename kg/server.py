"""A real Neo4j 5.26 LTS Community server that kgrec fetches, configures, starts and stops itself.

The jars come from Maven Central through ``mvn`` into a per-user cache shared by every workspace; each
workspace has its own configuration, data, logs and generated password (a 0600 file) under
``Settings.workspace_dir``. The server runs detached, so it outlives the command that started it; a small
state file records its port and process id.

Example:
    >>> server = ManagedNeo4j(Settings(workspace="demo"))   # doctest: +SKIP
    >>> uri = server.start()                                 # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import string
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import neo4j

from core.errors import ConfigError, Neo4jError
from core.progress import Progress
from core.settings import Settings
from kg.distribution import Neo4jDistribution

__all__ = ["ADMIN_ENTRY_POINT", "ManagedNeo4j", "ServerStatus", "read_password"]

_ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_ENTRY_POINT = "org.neo4j.cli.AdminTool"
"""neo4j-admin's main class: the password set before a first start, the bulk import (:mod:`kg.bulk_import`)."""
_JVM_OPENS = (
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
)


@dataclass(frozen=True)
class ServerStatus:
    """What ``kgrec neo4j status`` reports."""

    uri: str | None
    running: bool
    answers: bool
    pid: int | None
    plugins: tuple[str, ...]
    managed: bool = True


@dataclass(frozen=True)
class _State:
    """What the state file records of the server it started."""

    pid: int
    port: int


def read_password(path: Path) -> str:
    """Read a password file, refusing one that others can read."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}")
    return path.read_text().strip()


class ManagedNeo4j:
    """Fetches, configures, starts and stops the workspace's own Neo4j server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.jars = Neo4jDistribution(settings)
        self.root = settings.workspace_dir / "neo4j"
        self.password_file = settings.workspace_dir / "neo4j-password"
        self._state_file = self.root / "run" / "kgrec-server.json"
        # what a server started here has on its command line, and nothing else has
        self._markers = [
            arg.encode()
            for arg in (_ENTRY_POINT, f"--home-dir={self.root}", f"--config-dir={self.root / 'conf'}")
        ]

    # -- lifecycle ----------------------------------------------------------------------------------
    def password(self) -> str:
        """The workspace's generated password, created (0600) on first use; never logged."""
        if not self.password_file.exists():
            self.password_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                # a letter first: neo4j-admin would read a password starting with "-" as an option
                handle.write(secrets.choice(string.ascii_letters) + secrets.token_urlsafe(24))
        return read_password(self.password_file)

    def _state(self) -> _State | None:
        """The server the state file names, or None: a missing, damaged or stale file names none.

        Stale means the process is not this workspace's Neo4j: dead, or a pid reused by any other process.
        """
        try:
            state = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict):
            return None
        pid, port = state.get("pid"), state.get("port")
        if type(pid) is not int or type(port) is not int or not 0 < port < 65536:
            return None
        return _State(pid, port) if self._is_server(pid) else None

    def uri(self) -> str | None:
        state = self._state()
        return f"bolt://127.0.0.1:{state.port}" if state else None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the workspace's server lock: one start or stop at a time, whichever process asks.

        Two ``kgrec neo4j start`` at once used to write the same ``neo4j.conf`` and state file; the second
        now waits here, then finds the first one's server answering and adopts it.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".kgrec-server.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _is_server(self, pid: int) -> bool:
        """Whether ``pid`` is this workspace's Neo4j: a process of this user running the Neo4j entry point
        on this workspace's home and configuration directories. kgrec signals no other process."""
        proc = Path(f"/proc/{pid}")
        try:
            if proc.stat().st_uid != os.getuid():
                return False
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone, or not a pid at all
            return False
        # a zombie's command line reads empty, so a server that has exited is not one either
        return all(marker in argv for marker in self._markers)

    def _servers(self) -> list[int]:
        """Every process that is this workspace's Neo4j, whether the state file names it or not (a crashed
        start leaves one that none names)."""
        return [int(p.name) for p in Path("/proc").glob("[0-9]*") if self._is_server(int(p.name))]

    def _signal(self, pid: int, sig: signal.Signals) -> None:
        """Send ``sig`` to ``pid`` if it is this workspace's Neo4j when the signal goes."""
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            # The descriptor pins the process checked below: had the pid been reused since, the signal
            # would reach no one rather than the newcomer.
            if self._is_server(pid):
                signal.pidfd_send_signal(fd, sig)
        except ProcessLookupError:
            pass
        finally:
            os.close(fd)

    def start(self, progress: Progress | None = None, timeout: float = 180.0) -> str:
        """Start the server unless it already runs; return its bolt URI once it answers.

        Under the workspace lock: a state file naming anything but this workspace's Neo4j (a dead process,
        or any other) is removed without signalling it, and a server of this workspace that no state file
        names (left by a crashed start) is stopped before a new one starts.
        """
        with self._locked():
            running = self.uri()
            if running and _answers(running, self.password()):
                return running
            self._stop_unlocked()
            return self._start_unlocked(progress, timeout)

    @contextlib.contextmanager
    def offline(
        self, progress: Progress | None = None, timeout: float = 180.0
    ) -> Iterator[Callable[[], str]]:
        """Stop the server for a job on its store files (``neo4j-admin``), under the workspace lock so that no
        command starts it meanwhile. Yields ``start``, which starts it again (on its port when that is still
        free) and returns its URI; when the block ends without having called it, whatever ended it, the
        server is started here."""
        with self._locked():
            state = self._state()
            port = state.port if state else None
            self._stop_unlocked()
            called = False

            def start() -> str:
                nonlocal called
                called = True
                return self._start_unlocked(progress, timeout, port)

            try:
                yield start
            finally:
                if not called:
                    self._start_unlocked(progress, timeout, port)

    def _start_unlocked(self, progress: Progress | None, timeout: float, port: int | None = None) -> str:
        self.jars.install(progress)
        # the same port when a restart can have it: drivers of other processes then find the server again
        port = port if port is not None and _port_free(port) else _free_port()
        dirs = {name: self.root / name for name in ("conf", "data", "logs", "run", "import", "plugins")}
        _private(self.settings.workspace_dir, self.root, *dirs.values())
        # without plugins: an empty plugin directory of its own, and no plugin jar on the class path
        plugins = self.jars.plugins_dir if self.settings.neo4j_plugins else dirs["plugins"]
        (dirs["conf"] / "neo4j.conf").write_text(
            _config(port, dirs, plugins, read_only=self.settings.neo4j_read_only)
        )
        env = {**os.environ, "NEO4J_HOME": str(self.root), "NEO4J_CONF": str(dirs["conf"])}
        classpath = self.jars.classpath if self.settings.neo4j_plugins else self.jars.server_classpath
        if not (dirs["data"] / "dbms" / "auth.ini").exists():
            # Set before the first start so the server never runs with the default neo4j/neo4j login. The
            # password goes in a 0600 argument file that java expands itself: on the command line it would
            # be readable by every user in /proc/PID/cmdline. AdminTool is called directly because the
            # neo4j-admin bootstrapper re-launches java with every argument on its command line.
            argfile = dirs["run"] / "set-initial-password.args"
            argfile.unlink(missing_ok=True)
            fd = os.open(argfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(f'-cp "{classpath}"\n{ADMIN_ENTRY_POINT}\ndbms\nset-initial-password\n')
                handle.write(f'"{self.password()}"\n')
            try:
                done = subprocess.run(
                    ["java", f"@{argfile}"], env=env, capture_output=True, text=True, check=False
                )
            finally:
                argfile.unlink(missing_ok=True)
            if done.returncode != 0:
                raise Neo4jError(f"could not set the initial Neo4j password: {done.stderr.strip()[-300:]}")
        if progress:
            progress(f"starting Neo4j on 127.0.0.1:{port} (workspace {self.settings.workspace})", 0, 0)
        cmd = [
            "java",
            "-Xms256m",
            f"-Xmx{self.settings.heap}",
            *_JVM_OPENS,
            "-cp",
            classpath,
            _ENTRY_POINT,
            f"--home-dir={self.root}",
            f"--config-dir={dirs['conf']}",
            "--console-mode",
        ]
        with open(dirs["logs"] / "console.log", "ab") as log:
            proc = subprocess.Popen(
                cmd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                umask=0o077,  # the store, logs and transaction files are the user's alone
            )
        self._state_file.write_text(json.dumps({"pid": proc.pid, "port": port}))
        uri = f"bolt://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise Neo4jError(
                    f"Neo4j exited at start (code {proc.returncode}); see {dirs['logs']}/console.log"
                )
            if _answers(uri, self.password()):
                return uri
            time.sleep(0.5)
        self._stop_unlocked()
        raise Neo4jError(f"Neo4j did not answer within {timeout:.0f}s; see {dirs['logs']}/console.log")

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the server and any orphan of this workspace. Returns whether one was running."""
        with self._locked():
            return self._stop_unlocked(timeout)

    def _stop_unlocked(self, timeout: float = 60.0) -> bool:
        pids = self._servers()
        for pid in pids:
            self._signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(self._is_server(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in pids:
            self._signal(pid, signal.SIGKILL)
        # A state file is removed whether it named a live server, a dead one or another process (stale).
        self._state_file.unlink(missing_ok=True)
        return bool(pids)

    def status(self) -> ServerStatus:
        state = self._state()
        uri = self.uri()
        jars = self.jars
        plugins = (
            tuple(sorted(p.name for p in jars.plugins_dir.glob("*.jar")))
            if jars.installed() and self.settings.neo4j_plugins
            else ()
        )
        return ServerStatus(
            uri=uri,
            running=state is not None,
            answers=uri is not None and _answers(uri, self.password()),
            pid=state.pid if state else None,
            plugins=plugins,
        )


def _config(port: int, dirs: dict[str, Path], plugins: Path, *, read_only: bool) -> str:
    return "\n".join(
        [
            "server.default_listen_address=127.0.0.1",
            f"server.bolt.listen_address=127.0.0.1:{port}",
            "server.http.enabled=false",
            "server.https.enabled=false",
            *(f"server.directories.{name}={dirs[name]}" for name in ("data", "logs", "run", "import")),
            f"server.directories.plugins={plugins}",
            "server.memory.pagecache.size=256m",
            "server.memory.heap.max_size=1g",
            "dbms.usage_report.enabled=false",
            "dbms.security.procedures.unrestricted=apoc.*,gds.*",
            "db.transaction.timeout=120s",
            f"server.databases.default_to_read_only={'true' if read_only else 'false'}",
            "",
        ]
    )


def _private(*paths: Path) -> None:
    """Create the directories if needed and make them the user's alone (0700), as the graph data is."""
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)


def _port_free(port: int) -> bool:
    """Whether the server could listen on ``port``: as it binds (``SO_REUSEADDR``, Java's default), the
    connections of a server just stopped, waiting out TIME_WAIT, do not hold the port."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(uri: str, password: str) -> bool:
    try:
        with neo4j.GraphDatabase.driver(uri, auth=("neo4j", password), connection_timeout=2) as driver:
            driver.verify_connectivity()
        return True
    except Exception:  # noqa: BLE001 - any failure means "does not answer yet"
        return False

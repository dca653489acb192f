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
import json
import os
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import neo4j

from core.errors import ConfigError, Neo4jError
from core.progress import Progress
from core.settings import Settings

__all__ = ["ManagedNeo4j", "ServerStatus", "read_password"]

_ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
_ADMIN_ENTRY_POINT = "org.neo4j.server.startup.Neo4jAdminCommand"
_JVM_OPENS = (
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
)
_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kgrec</groupId><artifactId>kgrec-neo4j-{artifact}</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>{dependencies}</dependencies>
</project>
"""
_DEPENDENCY = (
    "<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
    "<version>{version}</version>{classifier}</dependency>"
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
        self.install_dir = settings.cache / "neo4j" / settings.neo4j_version
        self.root = settings.workspace_dir / "neo4j"
        self.password_file = settings.workspace_dir / "neo4j-password"
        self._state_file = self.root / "run" / "kgrec-server.json"

    # -- installation -------------------------------------------------------------------------------
    @property
    def lib_dir(self) -> Path:
        return self.install_dir / "lib"

    @property
    def plugins_dir(self) -> Path:
        return self.install_dir / "plugins"

    def installed(self) -> bool:
        return (self.lib_dir / ".complete").exists() and (self.install_dir / ".plugins-complete").exists()

    def install(self, progress: Progress | None = None) -> None:
        """Fetch the Neo4j jars (and APOC core) with ``mvn`` unless already cached. Idempotent."""
        if self.installed():
            return
        if shutil.which("mvn") is None or shutil.which("java") is None:
            raise ConfigError("the managed Neo4j needs 'java' (17) and 'mvn' on PATH; or set NEO4J_URI")
        self.install_dir.mkdir(parents=True, exist_ok=True)
        if not (self.lib_dir / ".complete").exists():
            if progress:
                progress(f"fetching Neo4j {self.settings.neo4j_version} from Maven Central", 0, 0)
            neo4j_dep = _DEPENDENCY.format(
                group="org.neo4j", artifact="neo4j", version=self.settings.neo4j_version, classifier=""
            )
            self._fetch("server", neo4j_dep, self.lib_dir)
            (self.lib_dir / ".complete").write_text(self.settings.neo4j_version)
        if progress:
            progress(f"fetching APOC core {self.settings.apoc_version}", 0, 0)
        # apoc-core's jar needs apoc-common's result classes beside it in plugins/.
        apoc = "".join(
            _DEPENDENCY.format(
                group="org.neo4j.procedure", artifact=a, version=self.settings.apoc_version, classifier=""
            )
            for a in ("apoc-common", "apoc-core")
        )
        # APOC is optional: kgrec's own queries use plain Cypher, and the server runs without it.
        with contextlib.suppress(Neo4jError):
            self._fetch("apoc", apoc, self.install_dir / "apoc")
        self._split_plugin_jars(self.install_dir / "apoc")
        (self.install_dir / ".plugins-complete").write_text(self.settings.apoc_version)

    @property
    def plugin_deps_dir(self) -> Path:
        return self.install_dir / "plugin-deps"

    def _split_plugin_jars(self, fetched: Path) -> None:
        """Plugin jars go to ``plugins/``; their libraries to ``plugin-deps/`` unless Neo4j ships them.

        Neo4j scans every class of every jar in ``plugins/``, so third-party jars there can stop procedure
        registration; they only need to be on the class path.
        """
        self.plugins_dir.mkdir(parents=True, exist_ok=True)
        self.plugin_deps_dir.mkdir(parents=True, exist_ok=True)
        shipped = {_artifact(j.name) for j in self.lib_dir.glob("*.jar")}
        for jar in sorted(fetched.glob("*.jar")) if fetched.exists() else []:
            if jar.name.startswith("apoc-"):
                jar.rename(self.plugins_dir / jar.name)
            elif _artifact(jar.name) not in shipped:
                jar.rename(self.plugin_deps_dir / jar.name)
        shutil.rmtree(fetched, ignore_errors=True)

    def _fetch(self, name: str, dependencies: str, target: Path) -> None:
        with tempfile.TemporaryDirectory(dir=self.install_dir) as tmp:
            pom = Path(tmp) / "pom.xml"
            pom.write_text(_POM.format(artifact=name, dependencies=dependencies))
            staging = Path(tmp) / "jars"
            cmd = [
                "mvn",
                "-B",
                "-q",
                "-f",
                str(pom),
                "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging}",
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0 or not staging.exists():
                tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
                raise Neo4jError(f"mvn could not fetch {name} jars: {' | '.join(tail)}")
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)

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

    def _state(self) -> dict[str, int] | None:
        try:
            state = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return None
        return state if _alive(int(state.get("pid", 0))) else None

    def uri(self) -> str | None:
        state = self._state()
        return f"bolt://127.0.0.1:{state['port']}" if state else None

    def start(self, progress: Progress | None = None, timeout: float = 180.0) -> str:
        """Start the server unless it already runs; return its bolt URI once it answers."""
        running = self.uri()
        if running and _answers(running, self.password()):
            return running
        if running:
            self.stop()
        self.install(progress)
        port = _free_port()
        dirs = {name: self.root / name for name in ("conf", "data", "logs", "run", "import")}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        (dirs["conf"] / "neo4j.conf").write_text(_config(port, dirs, self.plugins_dir))
        env = {**os.environ, "NEO4J_HOME": str(self.root), "NEO4J_CONF": str(dirs["conf"])}
        classpath = f"{self.plugins_dir}/*:{self.lib_dir}/*:{self.plugin_deps_dir}/*"
        if not (dirs["data"] / "dbms" / "auth.ini").exists():
            # Set before the first start so the server never runs with the default neo4j/neo4j login.
            admin = [
                "java",
                "-cp",
                classpath,
                _ADMIN_ENTRY_POINT,
                "dbms",
                "set-initial-password",
                self.password(),
            ]
            done = subprocess.run(admin, env=env, capture_output=True, text=True, check=False)
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
        self.stop()
        raise Neo4jError(f"Neo4j did not answer within {timeout:.0f}s; see {dirs['logs']}/console.log")

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``). Returns whether one was running."""
        state = self._state()
        if state is None:
            return False
        pid = int(state["pid"])
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        self._state_file.unlink(missing_ok=True)
        return True

    def status(self) -> ServerStatus:
        state = self._state()
        uri = self.uri()
        plugins = tuple(sorted(p.name for p in self.plugins_dir.glob("*.jar"))) if self.installed() else ()
        return ServerStatus(
            uri=uri,
            running=state is not None,
            answers=uri is not None and _answers(uri, self.password()),
            pid=int(state["pid"]) if state else None,
            plugins=plugins,
        )


def _config(port: int, dirs: dict[str, Path], plugins: Path) -> str:
    return "\n".join(
        [
            "server.default_listen_address=127.0.0.1",
            f"server.bolt.listen_address=127.0.0.1:{port}",
            "server.http.enabled=false",
            "server.https.enabled=false",
            *(f"server.directories.{name}={path}" for name, path in dirs.items() if name != "conf"),
            f"server.directories.plugins={plugins}",
            "server.memory.pagecache.size=256m",
            "server.memory.heap.max_size=1g",
            "dbms.usage_report.enabled=false",
            "dbms.security.procedures.unrestricted=apoc.*,gds.*",
            "db.transaction.timeout=120s",
            "",
        ]
    )


def _artifact(jar_name: str) -> str:
    """``commons-text-1.10.0.jar`` -> ``commons-text``."""
    return re.sub(r"-\d[^-]*(-[A-Za-z]+)?\.jar$", "", jar_name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); /proc tells it apart.
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return True


def _answers(uri: str, password: str) -> bool:
    try:
        with neo4j.GraphDatabase.driver(uri, auth=("neo4j", password), connection_timeout=2) as driver:
            driver.verify_connectivity()
        return True
    except Exception:  # noqa: BLE001 - any failure means "does not answer yet"
        return False

"""The Neo4j 5.26 LTS Community jars, fetched once from Maven Central with ``mvn`` into a per-user cache.

Every workspace's server (:class:`kg.server.ManagedNeo4j`) runs from the same cached jars; APOC core is
fetched beside them when Maven Central has it (kgrec's own queries do not need it).

Example:
    >>> from core.settings import Settings
    >>> jars = Neo4jDistribution(Settings(workspace="demo"))
    >>> jars.lib_dir.name
    'lib'
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from core.errors import ConfigError, Neo4jError
from core.progress import Progress
from core.settings import Settings

__all__ = ["Neo4jDistribution"]

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


class Neo4jDistribution:
    """Where the cached jars live, whether they are complete, and how to fetch them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.install_dir = settings.cache / "neo4j" / settings.neo4j_version

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

    @property
    def classpath(self) -> str:
        """The java class path of the server and its plugins."""
        return f"{self.plugins_dir}/*:{self.server_classpath}"

    @property
    def server_classpath(self) -> str:
        """The java class path of the server alone: no plugin is loaded from it."""
        return f"{self.lib_dir}/*:{self.plugin_deps_dir}/*"


def _artifact(jar_name: str) -> str:
    """``commons-text-1.10.0.jar`` -> ``commons-text``."""
    return re.sub(r"-\d[^-]*(-[A-Za-z]+)?\.jar$", "", jar_name)

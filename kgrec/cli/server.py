"""``kgrec setup`` and ``kgrec neo4j start|stop|status``: the Neo4j server a workspace runs on."""

from __future__ import annotations

import typer

from kg import ManagedNeo4j
from kgrec.cli.output import JsonFlag, dim, emit_json, err, out
from kgrec.cli.session import open_store, settings_of

__all__ = ["neo4j_app", "setup"]

NOT_ANSWERING = 3
"""``kgrec neo4j status``'s exit status when the server is not running or does not answer (LSB's "not
running")."""

neo4j_app = typer.Typer(help="Run the workspace's own Neo4j server.", no_args_is_help=True)


def _note(stage: str, done: int, total: int) -> None:
    err.print(dim(stage))


def setup(ctx: typer.Context) -> None:
    """Fetch what kgrec runs on (the Neo4j jars) unless already there. Quick when done before."""
    settings = settings_of(ctx)
    server = ManagedNeo4j(settings)
    if server.jars.installed():
        err.print(dim(f"Neo4j {settings.neo4j_version} jars present in {server.jars.install_dir}"))
        return
    server.jars.install(progress=_note)
    err.print(f"Neo4j {settings.neo4j_version} installed in {server.jars.install_dir}")


@neo4j_app.command("start")
def neo4j_start(ctx: typer.Context) -> None:
    """Start the workspace's Neo4j (fetching it with mvn the first time)."""
    settings = settings_of(ctx)
    if settings.neo4j.uri:
        out.print(f"NEO4J_URI is set: kgrec uses {settings.neo4j.uri}; no local server started.")
        return
    uri = ManagedNeo4j(settings).start(progress=_note)
    out.print(f"Neo4j is running at {uri} (workspace {settings.workspace})")


@neo4j_app.command("stop")
def neo4j_stop(ctx: typer.Context) -> None:
    """Stop the workspace's Neo4j."""
    settings = settings_of(ctx)
    if settings.neo4j.uri:
        out.print(f"NEO4J_URI is set ({settings.neo4j.uri}); kgrec does not manage that server.")
        return
    out.print("Neo4j stopped." if ManagedNeo4j(settings).stop() else "Neo4j was not running.")


@neo4j_app.command("status")
def neo4j_status(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Print the URI and whether the server answers; exit status 3 when it does not (as ``systemctl status``
    does), so that a script can test it."""
    settings = settings_of(ctx)
    if settings.neo4j.uri:
        with open_store(settings, quiet=True) as store:
            check = store.server
            payload = {
                "uri": settings.neo4j.uri,
                "managed": False,
                "answers": True,
                "version": check.version,
                "database": check.database,
                "read_only": check.read_only,
                "user_writes": check.user_writes,
                "vector_index": check.vector_index,
                "apoc": check.apoc,
            }
    else:
        status = ManagedNeo4j(settings).status()
        payload = {
            "uri": status.uri,
            "managed": True,
            "running": status.running,
            "answers": status.answers,
            "pid": status.pid,
            "workspace": settings.workspace,
            "plugins": list(status.plugins),
        }
    if as_json:
        emit_json(payload)
    elif payload.get("uri"):
        out.print(f"{payload['uri']}  answers: {'yes' if payload['answers'] else 'no'}")
    else:
        out.print(f"not running (workspace {settings.workspace}); start it with: kgrec neo4j start")
    if not payload["answers"]:
        raise typer.Exit(NOT_ANSWERING)

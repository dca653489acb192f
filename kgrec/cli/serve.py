"""``kgrec serve``: the HTTP service (:mod:`kgrec.service`) on uvicorn."""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer

from kgrec.cli.output import err, fail
from kgrec.cli.session import settings_of

__all__ = ["serve"]


def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="address to bind (another than 127.0.0.1 exposes it)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes (each loads the models)")] = 1,
) -> None:
    """Serve recommendations over HTTP (OpenAPI docs at /docs). Every route but /healthz and /readyz needs
    the API key: KGREC_API_KEY, else the key generated into the workspace's api-key file (mode 0600)."""
    import uvicorn

    from kgrec.service import ApiKey, ServiceSettings, create_app, key_file

    if workers < 1:
        fail(f"--workers must be at least 1, got {workers}")
    settings = settings_of(ctx)
    service = ServiceSettings()
    key = ApiKey(settings, service)  # generated now, before any worker starts
    where = "KGREC_API_KEY" if key.from_environment else str(key_file(settings))
    _check_free(host, port)
    err.print(f"kgrec serving workspace {settings.workspace} on http://{host}:{port} (API key: {where})")
    if workers == 1:
        uvicorn.run(create_app(settings, service), host=host, port=port, log_level="warning")
        return
    # each worker builds its app from the environment: hand it this command's workspace and model folder
    os.environ["KGREC_WORKSPACE"] = settings.workspace
    os.environ["KGREC_HOME"] = str(settings.home)
    if settings.model_dir is not None:
        os.environ["KGREC_MODEL_DIR"] = str(settings.model_dir)
    uvicorn.run(
        "kgrec.service:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


def _check_free(host: str, port: int) -> None:
    """Fail with one line, before announcing the service, when ``host:port`` cannot be bound (taken, or an
    address this machine does not have); uvicorn would say so only after the announcement."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        fail(f"cannot serve on {host}:{port}: {e.strerror}")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # as uvicorn binds: a port in TIME_WAIT is free, one with a listener is not
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            fail(f"cannot serve on {host}:{port}: {e.strerror}")

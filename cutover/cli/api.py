"""`cutover serve-api`: the migration controller over uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from cutover.cli._common import app


@app.command("serve-api")
def serve_api(
    host: Annotated[str, typer.Option(envvar="CUTOVER_API_HOST", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="CUTOVER_API_PORT", min=1, max=65535, help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve the REST API (OpenAPI at /docs); needs CUTOVER_API_TOKEN, reads every other CUTOVER_* setting."""
    import uvicorn

    from cutover.api import create_app

    create_app()  # fail now, with the CLI's error map, when CUTOVER_API_TOKEN is missing
    uvicorn.run(
        "cutover.api.main:create_app", factory=True, host=host, port=port, workers=workers, log_level="info",
        proxy_headers=True, server_header=False,
    )  # fmt: skip

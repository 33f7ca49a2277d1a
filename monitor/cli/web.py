"""`monitor serve`: the staff web workspace on this database (uvicorn, one process, no scheduler)."""

from __future__ import annotations

import click

from monitor.cli.context import as_of_option, pass_app

READY = "web workspace on"
WARM_EVERY_S = 60  # how often the server checks whether the cohort in memory is still the data's
STOP_WAIT_S = 30  # how long a stopping server waits for the warming thread to reach its next step


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; keep 127.0.0.1 behind a TLS reverse proxy (README: Web workspace).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--proxy-headers", is_flag=True,
              help="Trust X-Forwarded-Proto/For from --forwarded-allow-ips (a TLS proxy): cookies become Secure.")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True, metavar="IPS",
              help="Comma-separated proxy addresses whose forwarded headers are trusted.")
@click.option("--idle-minutes", type=click.IntRange(1, 720), default=30, show_default=True,
              help="A session idle this long signs out (sessions end after 12 hours whatever happens).")
@as_of_option
@pass_app
def serve(app, host, port, proxy_headers, forwarded_allow_ips, idle_minutes, as_of):
    """The staff web workspace: worklist, patient chart, reminders, review, clinic, downloads.

    Every page needs an account (`monitor users add`). Runs in the foreground until Ctrl-C or
    SIGTERM; it never runs the nightly jobs (that is `monitor daemon`). --as-of fixes the
    evaluation date (the demo, training); the default is today in the clinic's time zone. The
    cohort's evaluation is kept in memory and made again in the background when the data or the
    day changes (checked every minute).

    \b
    Example:
      monitor serve --port 8000                       # a clinic: today, in the clinic's time zone
      monitor serve --port 8000 --as-of 2026-11-20    # the demo or training: a fixed date
    """
    import logging
    import os
    import signal
    import sys
    from datetime import timedelta

    import uvicorn

    from monitor.store import require_initialised
    from monitor.web.app import WebSettings, create_app

    require_initialised(app.engine)
    settings = WebSettings(idle=timedelta(minutes=idle_minutes), as_of=as_of)
    web_app = create_app(app.engine, app.config, settings=settings)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = uvicorn.Config(web_app, host=host, port=port, workers=1, access_log=False, log_config=None,
                            proxy_headers=proxy_headers, forwarded_allow_ips=forwarded_allow_ips,
                            server_header=False)
    server = uvicorn.Server(config)

    original_startup = server.startup

    async def startup(sockets=None):
        await original_startup(sockets)
        for s in server.servers:
            for sock in s.sockets:
                bound_host, bound_port = sock.getsockname()[:2]
                click.echo(f"{READY} http://{bound_host}:{bound_port}/ (Ctrl-C stops it)", err=True)

    server.startup = startup
    # The cohort made before the first page, and again when the data or the day changes.
    import threading

    from monitor.services.audit import today_in
    from monitor.services.web_views import keep_warm

    stop_warming = threading.Event()
    warming = keep_warm(app.engine, app.config, lambda: as_of or today_in(app.config), every_s=WARM_EVERY_S,
                        stop=stop_warming)
    # uvicorn re-raises the signal that stopped it once it has shut down; a quiet handler makes
    # that a clean exit 0 instead of death by signal.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        server.run()
    finally:
        stop_warming.set()
        # Python must not shut down under a thread that is inside pandas or Arrow ("terminate called
        # without an active exception", exit by SIGABRT): the thread stops at its next chunk.
        warming.join(timeout=STOP_WAIT_S)
    click.echo("Stopped.", err=True)
    if warming.is_alive():  # still in one step after STOP_WAIT_S: end now, without the shutdown it could abort
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

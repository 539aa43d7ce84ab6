"""The Flask application behind the daemon's HTTP port: the ops endpoints, and the read-only
history pages when the daemon passes their blueprint."""

from __future__ import annotations

from flask import Blueprint, Flask

from monitor.web.ops import Ops, ops_blueprint


def create_app(ops: Ops, history: Blueprint | None = None) -> Flask:
    """The app: /metrics, /healthz and /readyz always; `history` (the pages at /) when given.

    The ops endpoints need no login (no customer text, no secret; the port is loopback by
    default); a history blueprint brings its own login and configures what it needs (session
    cookie, secret key) on the app when registered.
    """
    app = Flask("monitor.web")
    app.json.sort_keys = False  # type: ignore[attr-defined]  # checks keep their order
    app.register_blueprint(ops_blueprint(ops))
    if history is not None:
        app.register_blueprint(history)
    return app

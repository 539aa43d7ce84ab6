"""The local HTTP port (an adapter, like `monitor.slack`): Flask served by waitress.

`app.create_app` assembles the blueprints (`ops`: /metrics, /healthz, /readyz; the read-only
history pages when given), `server.WebServer` runs it in a thread of the daemon. Imports the
core, storage and leaves, never `monitor.slack`, the daemon or the CLI.
"""

"""A tracking server seen from a client: is it there, does it take our user, how long to wait for it."""

from __future__ import annotations

import base64
import os
import time
import urllib.error
import urllib.parse
import urllib.request

from reprozoo.config.errors import ReprozooError

# How long a call waits for a tracking server that went away (a restart takes seconds) before failing, at a
# stage's start as in its middle.
SERVER_WAIT_S = 120
# What a user whose tracking server does not answer can do. No plain `mlflow server`: it has no auth and no
# PostgreSQL, and a team's runs would land where nobody else sees them.
SERVER_ADVICE = ("check that the tracking server runs (a team's: make team-server, docs/team.md); to log alone instead, "
                 "unset MLFLOW_TRACKING_URI, MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD")


# The servers that took our user in this process. MLflow's auth app answers 401 when its database drops a
# query after its credentials cache (60 s) expired: a user it took minutes ago is waited for, as a 503 is.
ACCEPTED: set[str] = set()
# A 401 at a stage's start is asked again this often, 2 s apart: that database blip, or a wrong password.
START_ASKS = 3


def accepted(uri: str) -> bool:
    return redact(uri).rstrip("/") in ACCEPTED


def server_wait_s() -> float:
    return float(os.environ.get("REPROZOO_SERVER_WAIT_S", SERVER_WAIT_S))


def redact(uri: str) -> str:
    """A URI without user:password, fit for messages and logs."""
    parts = urllib.parse.urlsplit(uri)
    if not (parts.username or parts.password):
        return uri  # untouched: urlunsplit would rewrite sqlite:////abs/path
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")))


def check_server(uri: str, timeout: float = 5.0) -> None:
    """An http(s) tracking server's health and our user: one that refuses connections or answers 502/503 is
    waited for up to REPROZOO_SERVER_WAIT_S, as a call in a stage's middle waits; then one line. A 401 is
    asked START_ASKS times; any other failure (a name that does not resolve, a 403) is one line at once."""
    if not uri.startswith(("http://", "https://")):
        return
    base = redact(uri).rstrip("/")  # urllib takes user:password@ for part of the host name
    deadline = None
    while True:
        try:
            with urllib.request.urlopen(base + "/health", timeout=timeout) as response:
                response.read()
            break
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            down = getattr(err, "code", None) in (502, 503) or "refused" in str(reason).lower()
            deadline = deadline or time.monotonic() + server_wait_s()
            if down and time.monotonic() < deadline:
                time.sleep(2)
                continue
            waited = f" in {server_wait_s():.0f} s (REPROZOO_SERVER_WAIT_S)" if down else ""
            raise ReprozooError(f"MLFLOW_TRACKING_URI={redact(uri)}: no MLflow server answers{waited} ({reason}); "
                                f"{SERVER_ADVICE}") from None
    # /health needs no login; a team server (docs/team.md) asks every other request for one.
    request = urllib.request.Request(base + "/api/2.0/mlflow/experiments/search?max_results=1")
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user or password:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    for ask in range(START_ASKS):
        try:
            urllib.request.urlopen(request, timeout=timeout).close()
            ACCEPTED.add(base)
        except urllib.error.HTTPError as err:
            if err.code == 401 and user and ask + 1 < START_ASKS:
                time.sleep(2)
                continue
            if err.code in (401, 403):
                raise ReprozooError(credentials_fault(uri, err.code)) from None
        break


def credentials_fault(uri: str, code: int | str) -> str:
    """One line naming the variables a client of a basic-auth server sets."""
    who = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if not who:
        return (f"MLFLOW_TRACKING_USERNAME: not set, and the MLflow server at {redact(uri)} asks for a user "
                f"({code}); set it and MLFLOW_TRACKING_PASSWORD (docs/team.md)")
    return (f"MLFLOW_TRACKING_USERNAME={who} / MLFLOW_TRACKING_PASSWORD: the MLflow server at {redact(uri)} "
            f"refused them ({code}); check both with whoever runs the server (docs/team.md)")

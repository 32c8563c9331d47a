"""How the stack tells that a part is ready: one probe per part, saved with the stack record.

A probe is data (a discriminated union, saved in the stack record) so that
``qiloop status`` runs the same checks as ``qiloop up`` did, from another process.
Every check is bounded by a timeout and answers :class:`Health`, never raises.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

DAEMON_QUERY = "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"


@dataclass(frozen=True)
class Health:
    """The answer of one probe: ready or not, and a short reason a person can act on."""

    ok: bool
    detail: str = ""


class _Probe(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HttpProbe(_Probe):
    """Ready when ``url`` answers with a status below 400 (``any_status``: any HTTP answer at all)."""

    kind: Literal["http"] = "http"
    url: str
    any_status: bool = False

    def check(self, timeout: float = 2.0) -> Health:
        try:
            with urllib.request.urlopen(self.url, timeout=timeout) as response:
                return Health(True, f"HTTP {response.status}")
        except urllib.error.HTTPError as exc:
            return Health(self.any_status or exc.code < 400, f"HTTP {exc.code}")
        except (OSError, ValueError) as exc:
            return Health(False, _reason(exc))


class TcpProbe(_Probe):
    """Ready when ``host:port`` accepts a TCP connection (the MQTT broker)."""

    kind: Literal["tcp"] = "tcp"
    host: str
    port: int

    def check(self, timeout: float = 2.0) -> Health:
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout):
                return Health(True, "accepts connections")
        except OSError as exc:
            return Health(False, _reason(exc))


class LogProbe(_Probe):
    """Ready once the part's log holds ``text`` (a part with no port, such as the collector, says when it is)."""

    kind: Literal["log"] = "log"
    path: str
    text: str

    def check(self, timeout: float = 2.0) -> Health:
        try:
            with open(self.path, "rb") as log:
                found = self.text.encode() in log.read()
        except OSError as exc:
            return Health(False, _reason(exc))
        return Health(True, "connected") if found else Health(False, f"its log does not say {self.text!r} yet")


class HeartbeatProbe(_Probe):
    """Ready when the fleet controller with ``pid`` beat in ``fleet.db`` within ``within_s`` seconds.

    ``pid`` 0 stands for the part's own process: the supervisor fills it in when it starts the part.
    """

    kind: Literal["heartbeat"] = "heartbeat"
    db: str
    pid: int = 0
    within_s: float = 10.0

    def check(self, timeout: float = 2.0) -> Health:
        path = Path(self.db)
        if not path.exists():
            return Health(False, f"no {path.name} yet")
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout) as db:
                row = db.execute("SELECT max(heartbeat_at) FROM controllers WHERE pid = ?", (self.pid,)).fetchone()
        except sqlite3.Error as exc:
            return Health(False, f"cannot read {path.name}: {exc}")
        if row is None or row[0] is None:
            return Health(False, "no heartbeat yet")
        age = time.time() - row[0]
        return Health(age <= self.within_s, f"beat {age:.0f} s ago")


class DagsterDaemonProbe(_Probe):
    """Ready when every required Dagster daemon beats, as the webserver at ``graphql_url`` reports."""

    kind: Literal["dagster-daemon"] = "dagster-daemon"
    graphql_url: str

    def check(self, timeout: float = 2.0) -> Health:
        body = json.dumps({"query": DAEMON_QUERY}).encode()
        request = urllib.request.Request(self.graphql_url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                answer = json.load(response)
            statuses = answer["data"]["instance"]["daemonHealth"]["allDaemonStatuses"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return Health(False, f"the webserver does not tell daemon health: {_reason(exc)}")
        down = sorted(s["daemonType"] for s in statuses if s.get("required") and not s.get("healthy"))
        if down:
            return Health(False, "no heartbeat from " + ", ".join(down))
        return Health(True, f"{sum(1 for s in statuses if s.get('required'))} daemons beat")


Probe = Annotated[HttpProbe | TcpProbe | LogProbe | HeartbeatProbe | DagsterDaemonProbe, Field(discriminator="kind")]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and exc.reason is not None:
        exc = exc.reason if isinstance(exc.reason, BaseException) else Exception(str(exc.reason))
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__

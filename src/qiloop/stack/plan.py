"""The parts of qiloop's local stack, built from the settings and the ``qiloop up`` options.

Stage 0 is the MQTT broker (only when no broker is configured: ``QILOOP_MQTT_URL``
unset); stage 1 the MLflow UI, the labelling service, the fleet controller, the
collector and Dagster's webserver; stage 2 Dagster's daemon, whose health the
webserver reports. Every part gets ``QILOOP_HOME`` (absolute), ``QILOOP_MQTT_URL``
and ``DAGSTER_HOME=<home>/dagster``, so cursors and run history persist with the home.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from qiloop.broker.addresses import local_host
from qiloop.core.errors import ConfigurationError, MissingDependencyError
from qiloop.settings import Settings
from qiloop.stack.health import DagsterDaemonProbe, HeartbeatProbe, HttpProbe, LogProbe, TcpProbe
from qiloop.stack.ports import free_port
from qiloop.stack.supervisor import Part

DAGSTER_MODULE = "qiloop.orchestration.definitions"
PART_NAMES = ("broker", "mlflow", "labeling", "fleet", "collector", "dagster-webserver", "dagster-daemon")
GROUPS = {"dagster": ("dagster-webserver", "dagster-daemon")}
# Where each part listens by default, and the `qiloop up` option that moves it.
DEFAULT_PORTS = {"broker": 1883, "mlflow": 5000, "labeling": 8080, "fleet": 8470, "dagster-webserver": 3000}
PORT_OPTIONS = {
    "broker": "--mqtt-port",
    "mlflow": "--mlflow-port",
    "labeling": "--labeling-port",
    "fleet": "--fleet-port",
    "dagster-webserver": "--dagster-port",
}
COLLECTOR_READY = "collecting from"
DAGSTER_YAML = """# Written by qiloop up: the local Dagster instance of this qiloop home (SQLite in this folder).
# Edit freely; qiloop up writes this file only when it is missing. The execution limits are those of
# deploy/dagster/dagster.yaml (which adds PostgreSQL storage for a deployment beyond a laptop).
concurrency:
  runs:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      # One run per trigger kind at a time: two labelling jobs opened together would race for the same images.
      - key: qiloop/trigger
        value:
          applyLimitPerUniqueValue: true
        limit: 1
      # One run at a time opens labelling jobs (an ingest run opens one once enough images wait, and the
      # labels_wanted trigger for feedback and other arrivals): together they would race for the same images.
      - key: qiloop/opens_labeling_jobs
        limit: 1
  pools:
    # The only pool is `training` (qiloop.orchestration.policies): one training step at a time.
    default_limit: 1

# Sensors are evaluated side by side, so a slow tick (the first one that opens the registry) does not hold
# back the camera trigger behind it.
sensors:
  use_threads: true
  num_workers: 4

# The daemon looks for queued runs to start every second (Dagster's default is 5 s): on a laptop a new
# camera image waits for its labelling job on this, and the look is one query on the local run storage.
run_queue:
  dequeue_interval_seconds: 1

# Sensor ticks that started nothing are kept a week, so the instance does not grow forever.
retention:
  sensor:
    purge_after_days:
      skipped: 7
      failure: 30
      success: -1

telemetry:
  enabled: false
"""


@dataclass(frozen=True)
class StackOptions:
    """What ``qiloop up`` was asked: interface, ports (0: a free one), parts left out, patience."""

    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    without: frozenset[str] = frozenset()
    start_timeout: float = 180.0


@dataclass(frozen=True)
class StackPlan:
    """The parts to start, the ports to check first, and the parts that run elsewhere (name → URL)."""

    parts: list[Part]
    ports: dict[str, tuple[int, str]]
    external: dict[str, str]
    env: dict[str, str]


def expand_without(names: list[str]) -> frozenset[str]:
    """Part names from ``--without`` values (``dagster`` names both its parts).

    Raises:
        ConfigurationError: An unknown name.
    """
    out: set[str] = set()
    for name in names:
        if name in GROUPS:
            out.update(GROUPS[name])
        elif name in PART_NAMES:
            out.add(name)
        else:
            raise ConfigurationError(
                f"--without {name}: no such part", hint=f"choose among {', '.join([*PART_NAMES, *GROUPS])}"
            )
    return frozenset(out)


def plan_stack(settings: Settings, options: StackOptions, python: str = sys.executable) -> StackPlan:
    """The parts of the stack for a home (``settings.home`` must be absolute).

    Raises:
        ConfigurationError: The fleet or the collector has no broker (none configured, broker left out).
        MissingDependencyError: A part's install extra is missing (the hint says which, or to leave it out).
    """
    home, host, skip = settings.home, options.host, options.without
    ports = {name: port or free_port(host) for name, port in options.ports.items() if name not in skip}
    local = local_host(host)
    url = {name: f"http://{local}:{port}" for name, port in ports.items()}
    qiloop = (python, "-m", "qiloop.cli.main")
    parts: list[Part] = []
    external: dict[str, str] = {}

    broker_url = settings.mqtt_url
    if broker_url:
        external["broker"] = broker_url
        ports.pop("broker", None)
    elif "broker" not in skip:
        broker_url = f"mqtt://{local}:{ports['broker']}"
        _need("amqtt", "broker", "broker")
        argv = (*qiloop, "broker", "run", "--host", host, "--port", str(ports["broker"]))
        probe = TcpProbe(host=local, port=ports["broker"])
        parts.append(Part("broker", "MQTT broker", argv, probe, broker_url, stage=0))
    elif not {"fleet", "collector"} <= skip:
        raise ConfigurationError(
            "the fleet controller and the collector need an MQTT broker, and none is configured or started",
            hint="set QILOOP_MQTT_URL to a running broker, or leave out --without broker",
        )

    if settings.mlflow_tracking_uri.startswith(("http://", "https://")):
        external["mlflow"] = settings.mlflow_tracking_uri
        ports.pop("mlflow", None)
    elif "mlflow" not in skip:
        _need("mlflow", "registry", "mlflow")
        from qiloop.registry.backend import artifact_root_uri, database_uri

        argv = [python, "-m", "mlflow", "server", "--backend-store-uri", database_uri(settings.mlflow_tracking_uri),
                "--host", host, "--port", str(ports["mlflow"]), "--workers", "1"]  # fmt: skip
        root = artifact_root_uri(settings.mlflow_artifact_root or None, settings.mlflow_tracking_uri)
        if root:
            argv += ["--default-artifact-root", root]
        parts.append(Part("mlflow", "MLflow UI", tuple(argv), HttpProbe(url=f"{url['mlflow']}/health"), url["mlflow"]))

    if "labeling" not in skip:
        _need("fastapi", "label", "labeling")
        argv = (*qiloop, "labeling", "serve", "--host", host, "--port", str(ports["labeling"]))
        parts.append(Part("labeling", "labelling service", argv, HttpProbe(url=f"{url['labeling']}/healthz"),
                          url["labeling"]))  # fmt: skip
    if "fleet" not in skip:
        argv = (*qiloop, "fleet", "serve", "--broker", broker_url, "--host", host, "--port", str(ports["fleet"]),
                "--no-collect")  # fmt: skip
        probe = HeartbeatProbe(db=str(home / "fleet.db"))
        parts.append(Part("fleet", "fleet controller", argv, probe, url["fleet"]))
    if "collector" not in skip:
        argv = (*qiloop, "collect", "--broker", broker_url, "--quiet")
        probe = LogProbe(path=str(home / "stack" / "logs" / "collector.log"), text=COLLECTOR_READY)
        parts.append(Part("collector", "results collector", argv, probe))

    dagster_env = {"DAGSTER_HOME": str(home / "dagster")}
    if "dagster-webserver" not in skip:
        argv = (_script("dagster-webserver", python), "-h", host, "-p", str(ports["dagster-webserver"]),
                "-m", DAGSTER_MODULE)  # fmt: skip
        probe = HttpProbe(url=f"{url['dagster-webserver']}/server_info")
        parts.append(Part("dagster-webserver", "Dagster webserver", argv, probe, url["dagster-webserver"],
                          dagster_env))  # fmt: skip
    if "dagster-daemon" not in skip:
        argv = (_script("dagster-daemon", python), "run", "-m", DAGSTER_MODULE)
        probe = (
            DagsterDaemonProbe(graphql_url=f"{url['dagster-webserver']}/graphql")
            if "dagster-webserver" in url
            else LogProbe(path=str(home / "stack" / "logs" / "dagster-daemon.log"), text="daemon")
        )
        parts.append(Part("dagster-daemon", "Dagster daemon", argv, probe, None, dagster_env, stage=2))

    parts = [Part(p.name, p.title, p.argv, p.probe, p.url, p.env, p.stage, options.start_timeout) for p in parts]
    env = {"QILOOP_HOME": str(home), "PYTHONUNBUFFERED": "1", **({"QILOOP_MQTT_URL": broker_url} if broker_url else {})}
    return StackPlan(parts, {n: (p, PORT_OPTIONS[n]) for n, p in ports.items()}, external, env)


def prepare_dagster_home(home: Path) -> Path:
    """``<home>/dagster`` with a ``dagster.yaml`` (written only when missing); its path."""
    folder = home / "dagster"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return folder


def _need(module: str, extra: str, part: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise _missing(module, extra, part)


def _missing(package: str, extra: str, part: str) -> MissingDependencyError:
    error = MissingDependencyError(package, extra)
    error.hint = f"{error.hint}, or leave the part out: qiloop up --without {part}"
    return error


def _script(name: str, python: str) -> str:
    """A console script of the environment ``python`` runs in (beside it), else on PATH."""
    beside = Path(python).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise _missing(name, "orchestrate", "dagster")
    return found

"""One deployment, from the signed bytes to exactly one final state.

verify → admit → accept → DOWNLOADING → INSTALLING → switch → restart what changed →
HEALTH_CHECK → SUCCEEDED; on a failure after the switch the previous running set and
its processes come back (FAILED_ROLLBACK_COMPLETE, or FAILED_ROLLBACK_FAILED when they
do not come back healthy). A deployment that cannot install as given — a wrong
digest, an artefact that fails its sha256 or size, an unsafe archive, an unmet
dependency — is REJECTED before anything switched: the device is unchanged and there
is nothing to roll back, so it is reported as a refusal of the document, like a bad
signature. Every step is safe to redo, which is how a restarted nucleus finishes a
deployment it was killed in (:meth:`Deployer.resume`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone

from qiloop.core.components import ComponentKind
from qiloop.core.deployments import Deployment, DeploymentState, SignedDeployment, admission_problem
from qiloop.core.errors import InvalidRecordError
from qiloop.core.retry import DOWNLOAD, Interrupted
from qiloop.edge.agent.config import AgentConfig
from qiloop.edge.agent.download import TransferError
from qiloop.edge.agent.failpoint import Failpoints
from qiloop.edge.agent.health import check_model, check_processes
from qiloop.edge.agent.home import DeviceHome
from qiloop.edge.agent.installer import Installer, installed
from qiloop.edge.agent.launch import configuration_of, converge, process_specs
from qiloop.edge.agent.reporter import Reporter, payload_key
from qiloop.edge.agent.state import AgentState
from qiloop.edge.agent.supervisor import Supervisor
from qiloop.edge.agent.trust import TrustStore
from qiloop.protocol.reports import DeploymentReport

log = logging.getLogger(__name__)
S = DeploymentState
MAX_RESUMES = 3


class Stopping(Exception):
    """The nucleus was asked to stop mid-deployment; the deployment resumes on the next start."""


class Deployer:
    """Carries deployments through their states on one device (collaborators built by the nucleus)."""

    def __init__(
        self, config: AgentConfig, home: DeviceHome, state: AgentState, trust: TrustStore, installer: Installer,
        supervisor: Supervisor, reporter: Reporter, *, failpoints: Failpoints, stop: threading.Event,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:  # fmt: skip
        self.config, self.home, self.state, self.trust = config, home, state, trust
        self.installer, self.supervisor, self.reporter = installer, supervisor, reporter
        self.failpoints, self.stop, self.on_change = failpoints, stop, on_change

    def handle(self, payload: bytes) -> DeploymentState | None:
        """Act on a document received over MQTT; its final state, or None when it was already known."""
        try:
            deployment = self.trust.verify(payload)
        except InvalidRecordError as exc:
            report = self._report(None, S.REJECTED, exc.message, deployment_id=claimed_id(payload))
            self.reporter.report(report, key=payload_key(payload))
            return S.REJECTED
        if self.state.get(deployment.id) is not None:
            return None  # the retained copy of a deployment this device already handled
        target = str(deployment.target)
        problem = admission_problem(
            deployment, device_id=self.config.device_id, groups=set(self.config.groups),
            last_sequence=self.state.last_sequence(target), now=datetime.now(timezone.utc),
        )  # fmt: skip
        if problem:
            self.reporter.report(self._report(deployment, S.REJECTED, problem))
            return S.REJECTED
        self.state.accept(deployment.id, target, deployment.sequence, payload.decode())
        self._enter(deployment, S.RECEIVED)
        self.failpoints.hit("after_verify")
        return self.run(deployment, self.home.current())

    def resume(self) -> list[DeploymentState]:
        """Finish (or roll back) every deployment a previous nucleus accepted and never ended."""
        ended = []
        for row in self.state.unfinished():
            previous = row.previous if row.previous is not None else self.home.current()
            attempts = self._count_attempt(row.id)
            try:
                deployment = self.trust.verify(row.document.encode())
            except InvalidRecordError as exc:
                ended.append(self._rollback(None, row.id, previous, f"cannot resume: {exc.message}"))
                continue
            if attempts > MAX_RESUMES:
                detail = f"the nucleus died {attempts} times during this deployment"
                ended.append(self._rollback(deployment, deployment.id, previous, detail))
            else:
                ended.append(self.run(deployment, previous))
        return ended

    def run(self, deployment: Deployment, previous: dict[str, str]) -> DeploymentState:
        """Install, switch, restart and health-check an accepted deployment; its final state."""
        self.installer.bytes_downloaded = 0
        try:
            documents = self._retry(lambda: self.installer.documents(deployment))
            new_set = self.installer.plan(documents)
            self._enter(deployment, S.DOWNLOADING, previous=previous)
            for component in documents.values():
                self._retry(lambda c=component: self.installer.download(c))
            self.failpoints.hit("after_download")
            self._enter(deployment, S.INSTALLING)
            for component in documents.values():
                self.installer.install(component)
        except InvalidRecordError as exc:  # refused as given: digest, integrity, unsafe archive, dependency
            if self.home.current() != previous:
                return self._rollback(deployment, deployment.id, previous, exc.message)
            return self._finish(deployment, S.REJECTED, exc.message)
        except TransferError as exc:
            return self._rollback(deployment, deployment.id, previous, f"{exc.message} (gave up retrying)")
        except Stopping:
            raise
        except Exception as exc:  # a disk or store failure: nothing may stay half-done
            log.exception("deployment %s failed before the switch", deployment.id)
            return self._rollback(deployment, deployment.id, previous, f"{type(exc).__name__}: {exc}")
        self.failpoints.hit("before_switch")
        try:
            self.home.switch(new_set)
            self.failpoints.hit("after_switch")
            restarted = converge(self.supervisor, self._specs(new_set, deployment))
            self.on_change()
            self.failpoints.hit("after_restart")
            self._enter(deployment, S.HEALTH_CHECK)
            problem = self._health(new_set, previous, restarted, point="health")
        except Stopping:
            raise
        except Exception as exc:  # whatever went wrong after the switch, the device must get its old set back
            log.exception("deployment %s failed after the switch", deployment.id)
            problem = f"{type(exc).__name__}: {exc}"
        if problem:
            return self._rollback(deployment, deployment.id, previous, problem)
        self.failpoints.hit("before_finish")
        state = self._finish(deployment, S.SUCCEEDED, f"running {new_set}")
        self.home.prune(keep=set(previous.items()))
        return state

    def _health(self, new_set: dict, previous: dict, restarted: list[str], *, point: str | None = None) -> str | None:
        for name, version in sorted(new_set.items()):
            component = installed(self.home, name, version)
            if component is not None and component.kind == ComponentKind.MODEL and previous.get(name) != version:
                folder = self.home.version_dir(name, version)
                problem = check_model(folder, self.home.root, timeout_s=self.config.model_check_timeout_s)
                if problem:
                    return f"{name}/{version}: {problem}"
        if point:
            self.failpoints.hit(point)
        problem = check_processes(self.supervisor, restarted, window_s=self.config.health_window_s, stop=self.stop)
        if problem and self.stop.is_set():
            raise Stopping(problem)
        return problem

    def _rollback(self, deployment: Deployment | None, deployment_id: str, previous: dict, problem: str) -> S:
        """Put the previous set and its processes back; FAILED_ROLLBACK_COMPLETE or _FAILED."""
        failed_set = self.home.current()
        try:
            self.home.switch(previous)
            self.failpoints.hit("rollback")
            restarted = converge(self.supervisor, self._specs(previous, None))
            self.on_change()
            again = self._health(previous, failed_set, restarted)
        except Stopping:
            raise
        except Exception as exc:
            log.exception("rolling back deployment %s failed", deployment_id)
            again = f"{type(exc).__name__}: {exc}"
        if again:
            return self._finish(deployment, S.FAILED_ROLLBACK_FAILED, f"{problem}; rollback failed: {again}",
                                deployment_id=deployment_id)  # fmt: skip
        self.home.prune(keep=set())
        return self._finish(deployment, S.FAILED_ROLLBACK_COMPLETE, f"{problem}; back on {previous}",
                            deployment_id=deployment_id)  # fmt: skip

    def _specs(self, running: dict, deployment: Deployment | None) -> dict:
        return process_specs(self.home, self.config, running, configuration_of(self.state, running, deployment))

    def _retry(self, step):
        """Run ``step``, retrying a :class:`TransferError` under :data:`DOWNLOAD` until ``download_retry_s``."""
        policy = DOWNLOAD.with_(deadline_s=self.config.download_retry_s)
        try:
            return policy.call(
                step, retry_on=TransferError, stop=self.stop, log=log, what="fetching from the controller"
            )
        except Interrupted as exc:
            error = exc.error
            raise Stopping(error.message if isinstance(error, TransferError) else str(exc)) from error

    def _enter(self, deployment: Deployment, state: S, *, previous: dict | None = None) -> None:
        if state != S.RECEIVED:
            self.state.update(deployment.id, state, previous=previous)
        self.reporter.report(self._report(deployment, state))

    def _finish(self, deployment: Deployment | None, state: S, detail: str, *, deployment_id: str = "") -> S:
        deployment_id = deployment.id if deployment else deployment_id
        self.state.finish(deployment_id, state, detail)
        self.reporter.report(self._report(deployment, state, detail, deployment_id=deployment_id))
        self.installer.clear_downloads()
        self.on_change()
        return state

    def _report(
        self, deployment: Deployment | None, state: S, detail: str = "", *, deployment_id: str = ""
    ) -> DeploymentReport:
        return DeploymentReport(
            device_id=self.config.device_id, deployment_id=deployment.id if deployment else deployment_id,
            target=str(deployment.target) if deployment else "", state=state, detail=detail,
            deployment_sequence=deployment.sequence if deployment else 0, running=self.home.current(),
            bytes_downloaded=self.installer.bytes_downloaded,
        )  # fmt: skip

    def _count_attempt(self, deployment_id: str) -> int:
        path = self.home.root / "attempts" / deployment_id
        path.parent.mkdir(exist_ok=True)
        count = int(path.read_text() or 0) + 1 if path.is_file() else 1
        path.write_text(str(count))
        return count


def claimed_id(payload: bytes) -> str:
    """The id an untrusted document claims (for the report only), or "" when it names none."""
    for parse in (lambda: SignedDeployment.model_validate_json(payload).deployment(),
                  lambda: Deployment.model_validate_json(payload)):  # fmt: skip
        try:
            return parse().id
        except (ValueError, InvalidRecordError):
            continue
    return ""

"""The fleet controller: creates signed deployments, records what devices report, drives rollouts.

:class:`FleetController` is the I/O shell around :func:`qiloop.fleet.rollout.advance`:
:meth:`~FleetController.receive` records a report, hello or status message in the fleet
database; :meth:`~FleetController.step` advances every active rollout against what is
recorded and carries out what it asks for (sign and publish a deployment retained on its
target's topic, or withdraw one). :meth:`~FleetController.deploy` only records a rollout;
whichever controller process steps next starts it (``qiloop fleet serve``, see
:mod:`qiloop.fleet.service`). :func:`deploy_model` is the hook orchestration calls when a
model version is approved.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import ValidationError

from qiloop.core.components import Component
from qiloop.core.deployments import ComponentRef, Deployment, RolloutPolicy, SignedDeployment, Target
from qiloop.core.errors import ConfigurationError, InvalidRecordError, NotFoundError, QiloopError
from qiloop.fleet.component_store import ComponentStore
from qiloop.fleet.device_trust import DeviceTrust, UntrustedMessage
from qiloop.fleet.registry_db import FleetDB
from qiloop.fleet.rollout import Clear, Phase, Publish, Rollout, View, advance, recorded
from qiloop.fleet.signing import FileSigner, Signer, sign_deployment
from qiloop.protocol.messages import DeviceStatus
from qiloop.protocol.reports import DeploymentReport, DeviceHello
from qiloop.protocol.topics import HELLO, REPORTS, STATUS, deployment_topic, device_of

log = logging.getLogger(__name__)
_KINDS = {REPORTS: ("deployment", DeploymentReport), HELLO: ("hello", DeviceHello), STATUS: ("status", DeviceStatus)}
Publisher = Callable[[str, bytes], None]  # (topic, payload): publish retained, QoS 1, return once acknowledged


def parse_target(text: str) -> Target:
    """``GROUP``, ``group:GROUP`` or ``device:ID`` as a :class:`Target`.

    Raises:
        ConfigurationError: The name is not a valid device or group name.
    """
    kind, _, name = text.partition(":") if text.startswith(("device:", "group:")) else ("group", "", text)
    try:
        return Target(kind=kind, name=name)
    except ValidationError as exc:
        raise ConfigurationError(
            f"invalid target {text!r}", hint="write a group name (line-1) or device:ID (lowercase letters, digits, ._-)"
        ) from exc


class FleetController:
    """Signs, records and publishes deployments and carries rollouts through their phases.

    Args:
        db: The fleet database.
        signer: Signs every deployment (the home's key or a KMS-backed signer).
        store: The component store the devices download from.
        publish: Publishes a retained message and returns once the broker acknowledged it.
        trust: Checks every device message (signature, topic, enrollment, replay); None believes them all,
            for tests of the rollout logic alone.
        stale_after_s: A canary whose status reports stop for this long fails its soak.
        expires_in: How long a deployment document stays valid.
        clock: Epoch seconds (swappable in tests).
    """

    def __init__(
        self, db: FleetDB, signer: Signer, store: ComponentStore, publish: Publisher | None = None, *,
        trust: DeviceTrust | None = None, stale_after_s: float = 90.0, expires_in: timedelta = timedelta(days=7),
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.db, self.signer, self.store, self.publish, self.trust = db, signer, store, publish, trust
        self.outcomes: Counter[tuple[str, str]] = Counter()  # (kind, recorded|duplicate|rejected|ignored)
        self.stale_after_s, self.expires_in, self.clock = stale_after_s, expires_in, clock

    @classmethod
    def from_settings(
        cls, settings, publish: Publisher | None = None, *, verify_devices: bool = True, **options
    ) -> FleetController:
        """The controller of a qiloop home: ``fleet.db``, ``keys/`` and the ``components/`` store.

        ``verify_devices`` (the default) believes only signed messages of enrolled devices.
        """
        store = ComponentStore.from_settings(settings)
        signer = FileSigner.load_or_create(settings.home / "keys")
        db = FleetDB.from_settings(settings)
        trust = DeviceTrust(db) if verify_devices else None
        return cls(db, signer, store, publish, trust=trust, **options)

    def refs(self, components: Sequence[Component | ComponentRef]) -> list[ComponentRef]:
        """Component references fixed by digest (a :class:`Component` is looked up as given)."""
        return [
            c if isinstance(c, ComponentRef) else ComponentRef(name=c.name, version=c.version, digest=c.digest)
            for c in components
        ]

    def create_deployment(
        self, components: Sequence[Component | ComponentRef], target: Target | str,
        configuration: dict[str, dict[str, Any]] | None = None, rollout: RolloutPolicy | None = None,
        *, rollout_id: str = "", role: str = "",
    ) -> SignedDeployment:  # fmt: skip
        """Sign a deployment with the next sequence of ``target`` and record it (not yet published)."""
        target = parse_target(target) if isinstance(target, str) else target
        deployment = Deployment(
            sequence=self.db.next_sequence(str(target)), target=target, components=self.refs(components),
            configuration=configuration or {}, rollout=rollout or RolloutPolicy(),
            expires_at=datetime.now(timezone.utc) + self.expires_in,
        )  # fmt: skip
        signed = sign_deployment(deployment, self.signer)
        self.db.add_deployment(signed, rollout_id=rollout_id, role=role)
        return signed

    def check_target(self, target: Target | str) -> Target:
        """``target`` when the registry knows it: a group with a member, or a device that said hello.

        Raises:
            NotFoundError: No device is in that group, or no such device; the hint lists the known ones.
        """
        target = parse_target(target) if isinstance(target, str) else target
        devices = self.db.devices()
        known = {d.device_id for d in devices} if target.kind == "device" else {g for d in devices for g in d.groups}
        if target.name in known:
            return target
        groups = sorted({g for d in devices for g in d.groups})
        ids = [d.device_id for d in devices]
        listed = (f"known groups: {_some(groups) or 'none'}; known devices: {_some(ids)}" if devices
                  else "no device has said hello to this controller yet")  # fmt: skip
        what = "group" if target.kind == "group" else "device"
        raise NotFoundError(
            f"no {what} {target.name!r} in the fleet registry",
            hint=f"{listed}. Check the name (device:ID for one device), or pass --allow-new-target "
            "to record the rollout for devices that have not joined yet",
        )

    def deploy(
        self, components: Sequence[Component | ComponentRef], target: Target | str,
        configuration: dict[str, dict[str, Any]] | None = None, policy: RolloutPolicy | None = None,
        *, allow_new_target: bool = False,
    ) -> Rollout:  # fmt: skip
        """Record a rollout of ``components`` to ``target``; the next :meth:`step` starts it.

        A rollout still running for the same target is superseded (it stops where it is).
        A component that ``configuration`` does not name keeps its configuration (settings included)
        from the target's last successful rollout that configured it; naming it with ``{}`` clears it.

        Raises:
            NotFoundError: No known device is in ``target`` (see :meth:`check_target`),
                unless ``allow_new_target``: then the rollout waits for devices to join.
        """
        target = parse_target(target) if isinstance(target, str) else target
        if not allow_new_target:
            self.check_target(target)
        refs = self.refs(components)
        configuration = {**self._kept_configuration(target, refs), **(configuration or {})}
        now = self.clock()
        rollout = Rollout(
            target=target, components=refs, previous=self._previous(target, refs), configuration=configuration,
            policy=policy or RolloutPolicy(), created_at=now, phase_since=now,
        )  # fmt: skip
        for other in self.db.rollouts(active=True):
            if other.target == target:
                self.db.save_rollout(other.model_copy(update={"phase": Phase.SUPERSEDED, "reason": f"by {rollout.id}"}))
        self.db.save_rollout(rollout)
        return rollout

    def receive(self, topic: str, payload: bytes, at: float | None = None) -> str:
        """Record one message from a device; what became of it.

        ``deployment``, ``hello`` or ``status`` when recorded; ``duplicate`` for a copy of one
        already recorded; ``rejected`` when the device trust does not believe it (unsigned, wrong
        key or topic, not enrolled, replayed: see :mod:`qiloop.fleet.device_trust`); ``ignored``
        for another topic or a malformed message.
        """
        where = device_of(topic)
        kind, parse = _KINDS.get(where[1] if where else "", (None, None))
        if kind is None or not payload:
            return "ignored"
        try:
            data = self.trust.check(topic, payload, enroll=kind == "hello") if self.trust is not None else payload
            message = parse.model_validate(data) if isinstance(data, dict) else parse.model_validate_json(data)
            outcome = self._record(message, at)
        except UntrustedMessage as exc:
            log.warning("rejected a %s message on %s: %s", kind, topic, exc.message)
            if exc.pending and where is not None:
                self.db.note_pending(where[0], exc.pending, topic, payload)
            outcome = "rejected"
        except (ValidationError, InvalidRecordError) as exc:
            why = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else exc.message
            log.warning("dropped a malformed %s message on %s: %s", kind, topic, why)
            outcome = "ignored"
        self.outcomes[(kind, outcome if outcome in ("duplicate", "rejected", "ignored") else "recorded")] += 1
        return outcome

    def _record(self, message: DeploymentReport | DeviceHello | DeviceStatus, at: float | None) -> str:
        """Store a believed message; with a device trust, copies and stale messages are refused here.

        Raises:
            UntrustedMessage: A replayed (older) hello or status, a hello presenting another key than the
                registered one, or a message without the sequence that identifies it.
        """
        device = message.device_id
        if self.trust is not None and message.sequence is None:
            raise UntrustedMessage(f"a {message.kind} message from {device!r} without its sequence", kind=message.kind)
        if isinstance(message, DeviceHello):
            if self.trust is not None:
                assert message.sequence is not None
                key = self.db.device_key(device)
                if key is not None and message.public_key and message.public_key != key.public_key:
                    raise UntrustedMessage(f"the hello of {device!r} presents another key than its registered one",
                                           kind="hello", hint="re-enroll the device if its key changed")  # fmt: skip
                fresh = self.db.accept_hello(device, message.sequence)
                if fresh != "new":
                    return self._stale(fresh, "hello", device, f"hello {message.sequence}, older than the last one")
            self.db.add_hello(message, at)
            return "hello"
        if isinstance(message, DeploymentReport):
            return "deployment" if self.db.add_report(message, at) else "duplicate"
        if self.trust is not None:
            assert message.sequence is not None
            fresh = self.db.accept_status(device, message.sequence)
            if fresh != "new":
                return self._stale(fresh, "status", device, f"status {message.sequence}, older than the last one")
        self.db.note_status(device, message.state, at)
        return "status"

    @staticmethod
    def _stale(fresh: str, kind: str, device: str, what: str) -> str:
        if fresh == "same":  # the same message again (a retained hello on reconnect, a QoS 1 copy)
            return "duplicate"
        raise UntrustedMessage(f"replayed or stale: {what} from {device!r}", kind=kind)

    def step(self) -> list[Rollout]:
        """Admit waiting devices an admin registered meanwhile, advance every active rollout once; what changed."""
        for topic, payload in self.db.take_admitted():  # their last hello, now checked against the registered key
            self.receive(topic, payload)
        changed = []
        for rollout in self.db.rollouts(active=True):
            new, actions = advance(rollout, self._view(rollout), self.clock(), stale_after_s=self.stale_after_s)
            try:
                for action in actions:
                    new = self._carry_out(new, action)
            except QiloopError as exc:  # e.g. the broker is away: retry the whole step later
                log.warning("rollout %s waits: %s", rollout.id[:8], exc.message)
                continue
            if new != rollout:
                self.db.save_rollout(new)
                changed.append(new)
                if new.phase != rollout.phase:
                    log.info("rollout %s: %s %s", new.id[:8], new.phase.value, new.reason)
        return changed

    def _carry_out(self, rollout: Rollout, action: Publish | Clear) -> Rollout:
        if self.publish is None:
            raise ConfigurationError("this controller has no broker to publish on", hint="run qiloop fleet serve")
        if isinstance(action, Clear):
            self.publish(deployment_topic(action.target), b"")
            return rollout
        signed = self.create_deployment(
            action.components, action.target, rollout.configuration, rollout.policy, rollout_id=rollout.id,
            role=action.role,
        )  # fmt: skip
        self.publish(deployment_topic(action.target), signed.model_dump_json().encode())
        return recorded(rollout, action, signed.deployment().id)

    def _view(self, rollout: Rollout) -> View:
        members = self.db.devices(rollout.target.name) if rollout.target.kind == "group" else []
        every = self.db.devices()
        status = {d.device_id: (d.status_state or "", d.status_at) for d in every if d.status_at is not None}
        ids = [*rollout.deployments.values()]
        return View(members=tuple(d.device_id for d in members), finals=self.db.finals(ids), status=status)

    def _kept_configuration(self, target: Target, refs: list[ComponentRef]) -> dict[str, dict[str, Any]]:
        """Each component's configuration in the target's last successful rollout that configured it."""
        done = [r for r in self.db.rollouts(limit=200) if r.target == target and r.phase == Phase.SUCCEEDED]
        kept = {}
        for ref in refs:
            found = next((r.configuration[ref.name] for r in done if ref.name in r.configuration), None)
            if found:
                kept[ref.name] = found
        return kept

    def _previous(self, target: Target, refs: list[ComponentRef]) -> list[ComponentRef]:
        """What the target ran before, for each component the rollout changes (what an abort returns to).

        The version of the target's last successful rollout that named the component, else the
        version most of the target's devices run (from their hellos and reports).
        """
        done = [r for r in self.db.rollouts(limit=200) if r.target == target and r.phase == Phase.SUCCEEDED]
        devices = [d for d in self.db.devices(target.name if target.kind == "group" else None)
                   if target.kind == "group" or d.device_id == target.name]  # fmt: skip
        previous = []
        for ref in refs:
            before = next((c for r in done for c in r.components if c.name == ref.name), None)
            if before is None:
                versions = Counter(d.running[ref.name] for d in devices if ref.name in d.running)
                component = self.store.find(ref.name, versions.most_common(1)[0][0]) if versions else None
                if component is not None:
                    before = ComponentRef(name=ref.name, version=component.version, digest=component.digest)
            if before is not None and before != ref:
                previous.append(before)
        return previous


def _some(names: list[str], most: int = 20) -> str:
    """``names`` joined, the first ``most`` of them and how many more."""
    shown = ", ".join(names[:most])
    return f"{shown} and {len(names) - most} more" if len(names) > most else shown

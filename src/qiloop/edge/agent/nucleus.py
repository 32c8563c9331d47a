"""The device nucleus: one long-lived process that owns the device home.

Lifecycle: :meth:`Nucleus.setup` (kill children a killed predecessor left, discard
half-installed versions, finish or roll back an interrupted deployment, start the
running set's processes, connect to the broker) → :meth:`Nucleus.loop` (take
deployments off the MQTT queue one at a time, keep the processes up) →
:meth:`Nucleus.teardown` (stop the processes, flush reports). :meth:`Nucleus.stop`
(SIGTERM) ends the loop at the next step.

Deployments arrive retained on ``qiloop/deployments/device/<id>`` and on each group's
topic; a device that was offline gets the latest one per topic on connect. Reports go
through the durable outbox (:mod:`qiloop.edge.agent.reporter`); the hello, with the
running set, is published retained on start and after every change. Hello and reports are
signed by the device key (:mod:`qiloop.edge.agent.identity`); with an enrollment token the
hello also carries the proof that enrolls the key with the fleet.
"""

from __future__ import annotations

import logging
import queue
import threading

import paho.mqtt.client as mqtt

from qiloop import __version__
from qiloop.core.deployments import Target
from qiloop.edge.agent.config import AgentConfig
from qiloop.edge.agent.deployer import Deployer, Stopping
from qiloop.edge.agent.failpoint import Failpoints
from qiloop.edge.agent.home import DeviceHome
from qiloop.edge.agent.identity import device_signer, next_hello_sequence
from qiloop.edge.agent.installer import Installer
from qiloop.edge.agent.launch import configuration_of, converge, process_specs
from qiloop.edge.agent.reporter import Reporter
from qiloop.edge.agent.state import AgentState
from qiloop.edge.agent.supervisor import Supervisor
from qiloop.edge.agent.trust import TrustStore
from qiloop.protocol.enrollment import enrollment_proof
from qiloop.protocol.keys import encode_public_key
from qiloop.protocol.mqtt import mqtt_client
from qiloop.protocol.reports import DeviceHello
from qiloop.protocol.topics import deployment_topic, hello_topic

log = logging.getLogger(__name__)


class Nucleus:
    """Runs deployments on one device until stopped.

    Args:
        config: The device's identity and endpoints.
        client: A paho client (callback API 2) that knows its broker; the nucleus connects it.
        failpoints: Testing hook; see :mod:`qiloop.edge.agent.failpoint`.
    """

    def __init__(self, config: AgentConfig, client: mqtt.Client, *, failpoints: Failpoints | None = None) -> None:
        self.config, self.client = config, client
        self.home = DeviceHome(config.home)
        self.state = AgentState(self.home.state_path)
        self.supervisor = Supervisor(self.home.root, stop_timeout_s=config.stop_timeout_s)
        self.signer = device_signer(self.home.root)
        self.reporter = Reporter.open(self.home.root, config.device_id, config.broker_url, signer=self.signer)
        self.failpoints = failpoints or Failpoints()
        self.installer = Installer(self.home, config.controller_url, failpoints=self.failpoints)
        self.inbox: queue.Queue[bytes] = queue.Queue()
        self.stopping = threading.Event()
        self._failed: list[str] = []
        self._announcing = threading.Lock()  # hellos leave in the order they are made (the fleet drops older ones)
        self.deployer = Deployer(
            config, self.home, self.state, TrustStore.load(self.home.trusted_keys), self.installer, self.supervisor,
            self.reporter, failpoints=self.failpoints, stop=self.stopping, on_change=self._announce,
        )  # fmt: skip
        self.topics = [deployment_topic(Target(kind="device", name=config.device_id))]
        self.topics += [deployment_topic(Target(kind="group", name=g)) for g in config.groups]
        client.on_connect = self._on_connect
        client.on_message = self._on_message

    @classmethod
    def create(cls, config: AgentConfig, *, failpoints: Failpoints | None = None) -> Nucleus:
        """A nucleus with a paho client for ``config.broker_url`` (not yet connected)."""
        client = mqtt_client(config.broker_url, f"{config.device_id}-nucleus", reconnect_s=(0.2, 5.0))
        return cls(config, client, failpoints=failpoints or Failpoints.from_env())

    def run(self) -> int:
        """setup → loop → teardown; 0 after a clean stop."""
        try:
            self.setup()
            self.loop()
        except Stopping:
            log.info("stopped mid-deployment; it resumes on the next start")
        finally:
            self.teardown()
        return 0

    def setup(self) -> None:
        """Recover from whatever the previous nucleus left, then start the running set and connect."""
        log.info("device key %s (its public half: %s)", self.signer.key_id, self.home.root / "identity" / "device.pub")
        killed = self.supervisor.kill_stale()
        discarded = self.home.discard_incomplete()
        if killed or discarded:
            log.info("recovered: killed stale processes %s, discarded half-installed %s", killed, discarded)
        self.home.refresh_links()
        self.client.loop_start()
        self.deployer.resume()
        running = self.home.current()
        converge(self.supervisor, process_specs(self.home, self.config, running, configuration_of(self.state, running)))
        self._announce()

    def loop(self) -> None:
        """Handle deployments one at a time and keep the processes up, until :meth:`stop`."""
        while not self.stopping.is_set():
            try:
                payload = self.inbox.get(timeout=0.2)
            except queue.Empty:
                failed = self.supervisor.poll()
                if failed != self._failed:  # a component started crash-looping (or recovered): say so
                    self._failed = failed
                    self._announce()
                continue
            self.deployer.handle(payload)

    def stop(self) -> None:
        """Ask the loop to end (safe from a signal handler)."""
        self.stopping.set()

    def teardown(self) -> None:
        """Stop the component processes, disconnect, and give queued reports a moment to leave."""
        self.supervisor.stop_all()
        self.client.disconnect()
        self.client.loop_stop()
        self.reporter.close()
        self.state.close()

    def _announce(self) -> None:
        """Publish the signed hello (from the loop, a deployment, or paho's thread on a reconnect).

        Only while connected: paho sends what was queued offline *after* what ``on_connect`` publishes,
        so a queued hello would arrive after a newer one and be dropped as stale. ``on_connect``
        announces the state of that moment anyway.
        """
        if not self.client.is_connected():
            return
        public_key = encode_public_key(self.signer.public_key)
        token = self.config.enroll_token
        proof = enrollment_proof(token.get_secret_value(), self.config.device_id, public_key) if token else ""
        with self._announcing:
            hello = DeviceHello(
                device_id=self.config.device_id, groups=list(self.config.groups), running=self.home.current(),
                public_key=public_key, failed=list(self._failed), agent_version=__version__, enrollment=proof,
            )  # fmt: skip
            body = {**hello.body(), "sequence": next_hello_sequence(self.home.root)}
            self.client.publish(hello_topic(self.config.device_id), self.signer.sign(body), 1, True)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("the broker refused the nucleus: %s", reason_code)
            return
        client.subscribe([(topic, 1) for topic in self.topics])
        self._announce()

    def _on_message(self, client, userdata, message) -> None:
        if message.payload:  # an empty retained message clears a topic
            self.inbox.put(message.payload)

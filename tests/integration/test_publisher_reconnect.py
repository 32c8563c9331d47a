"""The device publisher reconnects under its retry policy: waits that grow to the cap, never a tight loop.

The "broker" is a real listening socket that accepts each connection and closes
it at once, before any CONNACK: every attempt fails after the TCP connect, the
case a plain connection-refused test does not reach.
"""

from __future__ import annotations

import socket
import threading
import time

from qiloop.edge.inference import MqttPublisher, Outbox


class SlammingDoor:
    """Accepts connections and closes them at once, noting when each arrived."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self.arrivals: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            self.arrivals.append(time.monotonic())
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.server.close()


def test_attempts_back_off_to_the_cap_and_stop_promptly(tmp_path):
    door = SlammingDoor()
    box = Outbox(tmp_path / "outbox.sqlite", device_id="cam-1", max_bytes=1000)
    box.put("t", b"waits")
    pub = MqttPublisher.connect(f"mqtt://127.0.0.1:{door.port}", box, "cam-1-door", backoff=(0.1, 0.4)).start()
    try:
        deadline = time.monotonic() + 10
        while len(door.arrivals) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(door.arrivals) >= 6, "the publisher stopped trying"
    finally:
        started = time.monotonic()
        pub.stop(timeout=5)
        stopped_in = time.monotonic() - started
        door.close()
    gaps = [b - a for a, b in zip(door.arrivals, door.arrivals[1:], strict=False)]
    assert gaps[0] >= 0.09, f"no wait after the first failure: {gaps}"  # 0.1, 0.2, 0.4, 0.4, …
    assert max(gaps[2:5]) >= 0.35, f"the waits did not grow to the cap: {gaps}"
    assert max(gaps) < 2.0, f"a wait went past the 0.4 s cap: {gaps}"
    assert stopped_in < 1.0 and not pub.running
    assert box.depth() == 1  # nothing acknowledged, nothing lost
    box.close()

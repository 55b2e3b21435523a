"""A thread that calls one function every `interval` seconds until stopped: the
controller's status file is rewritten by it, so a reader sees the Southbound's state
(and that the controller lives) even while the main loop is blocked (a clang build, a
transaction the server does not answer)."""
import logging
import threading

log = logging.getLogger("ovnbpf.controller")


class Heartbeat:
    def __init__(self, beat, interval=1.0):
        self._beat = beat
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-heartbeat", daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self._interval):
            try:
                self._beat()
            except Exception:   # noqa: BLE001 - a status write must never end the beat
                log.debug("status heartbeat failed", exc_info=True)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)

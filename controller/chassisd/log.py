"""Log lines in the style of OVS's: `2026-11-25T10:01:02.345Z|00042|module|INFO|text`."""
import itertools
import logging
import sys
import time

LEVELS = {"dbg": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "err": logging.ERROR}
_NAMES = {logging.DEBUG: "DBG", logging.INFO: "INFO", logging.WARNING: "WARN",
          logging.ERROR: "ERR", logging.CRITICAL: "EMER"}


class OvsFormatter(logging.Formatter):
    def __init__(self):
        super().__init__()
        self._seq = itertools.count(1)

    def format(self, record):
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ms = int(record.msecs)
        module = record.name.rsplit(".", 1)[-1]
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return f"{ts}.{ms:03d}Z|{next(self._seq):05d}|{module}|{_NAMES.get(record.levelno, 'INFO')}|{text}"


def setup(level="info", log_file=None, console=True):
    root = logging.getLogger("ovnbpf")
    root.handlers.clear()
    root.setLevel(LEVELS[level])
    fmt = OvsFormatter()
    if log_file:
        h = logging.FileHandler(log_file)
        h.setFormatter(fmt)
        root.addHandler(h)
    if console:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(fmt)
        root.addHandler(h)
    return root

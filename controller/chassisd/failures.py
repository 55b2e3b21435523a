"""Step failures logged as ovn-controller would: a traceback the first time a failure is
seen, then one counted line now and then, never a traceback per retry. What failed last
goes to the status file, which keeps being written while the loop retries."""
from __future__ import annotations

import time


class StepFailures:
    REPEAT_S = 60.0      # a failure seen before is logged again (one line) this often

    def __init__(self, log):
        self.log = log
        self.seen: dict[str, dict] = {}      # message -> {"count", "first", "last", "logged"}

    def failed(self, error: BaseException) -> None:
        msg = f"{type(error).__name__}: {str(error)[:300]}"
        now = time.monotonic()
        rec = self.seen.get(msg)
        if rec is None:
            self.seen[msg] = {"count": 1, "first": time.time(), "last": time.time(), "logged": now}
            self.log.error("iteration failed; retrying in a second", exc_info=error)
            return
        rec["count"] += 1
        rec["last"] = time.time()
        if now - rec["logged"] >= self.REPEAT_S:
            rec["logged"] = now
            self.log.error("iteration failed again (%d times): %s", rec["count"], msg)

    def succeeded(self) -> None:
        if self.seen:
            self.log.info("iteration succeeded after %d failures",
                          sum(r["count"] for r in self.seen.values()))
            self.seen.clear()

    def status(self) -> list:
        return [{"error": m, "count": r["count"], "first": r["first"], "last": r["last"]}
                for m, r in self.seen.items()]

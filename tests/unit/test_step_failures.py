"""A failing controller step is logged like ovn-controller logs it: one traceback per
distinct error, then a counted line at most once a minute (issue 13: a ~1,000-line
traceback every second, 72,694 log lines in 6 minutes)."""
import logging

from controller.chassisd.failures import StepFailures


def _fail(failures, message):
    try:
        raise RuntimeError(message)
    except RuntimeError as e:
        failures.failed(e)


def test_one_traceback_per_distinct_failure_then_counted(caplog):
    log = logging.getLogger("test.failures")
    failures = StepFailures(log)
    with caplog.at_level(logging.DEBUG, logger="test.failures"):
        for _ in range(300):            # five minutes of retries, one a second
            _fail(failures, "a bad row")
        _fail(failures, "another problem")
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 2
    assert len(caplog.records) == 2       # the repeats inside a minute say nothing more
    [bad, other] = failures.status()
    assert bad["count"] == 300 and "a bad row" in bad["error"] and other["count"] == 1
    with caplog.at_level(logging.DEBUG, logger="test.failures"):
        failures.succeeded()
    assert failures.status() == []
    assert "after 301 failures" in caplog.records[-1].getMessage()


def test_a_repeated_failure_is_named_again_after_a_while(caplog):
    failures = StepFailures(logging.getLogger("test.failures"))
    failures.REPEAT_S = 0.0
    with caplog.at_level(logging.DEBUG, logger="test.failures"):
        _fail(failures, "x")
        _fail(failures, "x")
    assert "again (2 times)" in caplog.records[-1].getMessage()
    assert not caplog.records[-1].exc_info

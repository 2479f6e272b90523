import io
import time

from workbench.progress import step


def test_step_records_time_and_reports_slow_steps_once_when_not_a_terminal():
    out, timings = io.StringIO(), {}
    with step("fit", timings, stream=out, after_s=0.01):
        time.sleep(0.1)
    lines = out.getvalue().splitlines()
    assert lines[0] == "  fit ... still running"
    assert lines[1].startswith("  fit ... ") and lines[1].endswith(" s")
    assert timings["fit"] >= 0.1


def test_fast_step_prints_only_its_time():
    out = io.StringIO()
    with step("load", stream=out, after_s=5.0):
        pass
    assert out.getvalue().count("\n") == 1 and "still running" not in out.getvalue()

"""The store's training lock (`workbench.store.lock`): a second trainer of the same artefact waits, says so,
and is told that another process went first; other keys do not wait; a dead holder's lock is free."""

import os
import re
import subprocess
import sys
import threading

from workbench.store.lock import training


def test_a_second_trainer_waits_and_says_so(tmp_path):
    held, release = threading.Event(), threading.Event()

    def first():
        with training(tmp_path, "abc", print) as waited:
            assert not waited
            held.set()
            release.wait(10)

    t = threading.Thread(target=first)
    t.start()
    held.wait(10)
    said = []
    threading.Timer(0.6, release.set).start()
    with training(tmp_path, "abc", said.append, expected_s=100.0, poll_s=0.05) as waited:
        assert waited
    t.join()
    assert "is being trained by another process" in said[0] and "s left" in said[0]
    started, left = (int(x) for x in re.search(r"started (-?\d+) s ago; about (-?\d+) s left", said[0]).groups())
    assert 0 <= started <= 10 and 90 <= left <= 100  # held well under 10 s of the expected 100 s
    assert "finished after" in said[-1]
    with training(tmp_path, "abd", said.append) as waited:  # another key: no wait
        assert not waited


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    code = ("import sys, time; from workbench.store.lock import training\n"
            f"with training(sys.argv[1], 'abc', print):\n    print('held', flush=True); time.sleep(60)")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ})  # fmt: skip
    assert proc.stdout.readline().strip() == "held"
    proc.kill()
    proc.wait()
    with training(tmp_path, "abc", print) as waited:
        assert not waited

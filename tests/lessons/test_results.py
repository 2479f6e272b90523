"""`workbench.lessons.results`: the pages' persisted results are keyed by the code that computes them."""

import pytest

from workbench.lessons import results


def test_code_digest_names_the_modules_it_covers(tmp_path, monkeypatch):
    assert results.code("rerank") == results.code("rerank")
    assert results.code("rerank") != results.code("metrics") != results.code("rerank", "metrics")
    with pytest.raises(ValueError, match="nowhere"):
        results.code("nowhere")
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    assert results.folder() == str(tmp_path)

import pytest

from workbench.cli import main


def test_evaluate_prints_the_metric_table_and_step_times(capsys):
    assert main(["evaluate", "--model", "popular", "--k", "5", "--extra-k", "10"]) == 0
    out, err = capsys.readouterr()
    assert "popular on synthetic (temporal split, seed 0, binary relevance)" in out
    for metric in ("precision", "ndcg", "catalogue_coverage", "personalisation"):
        assert metric in out
    assert out.count("ndcg") == 2  # k = 5 and k = 10
    assert "step times: load synthetic" in out
    assert "fit popular ... " in err


def test_bad_arguments_are_named(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--k", "0"])
    assert "--k 0: expected a positive list length" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--model", "magic"])
    assert "invalid choice: 'magic'" in capsys.readouterr().err


def test_report_passes_data_seed_and_size_through(monkeypatch, tmp_path):
    import workbench.report as report

    seen = {}

    def fake_export(out_dir, settings, notebooks, offline=False):
        seen.update(out=out_dir, settings=settings, offline=offline)
        return []

    monkeypatch.setattr(report, "export_reports", fake_export)
    assert main(["report", "--out", str(tmp_path), "--data", "movielens-100k", "--seed", "3", "--small"]) == 0
    assert seen["out"] == str(tmp_path) and not seen["offline"]
    assert (seen["settings"].data, seen["settings"].seed, seen["settings"].small) == ("movielens-100k", 3, True)

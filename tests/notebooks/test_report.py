"""Provenance stamps and the notebook listing of `workbench.report`."""

from workbench.lessons.kit import NotebookSettings
from workbench.report import list_notebooks, provenance, provenance_markdown


def test_provenance_names_seed_command_and_versions():
    prov = provenance(NotebookSettings(seed=5), config={"lam": 0.7}, notebook="04_reranking.py")
    assert prov["command"] == "python notebooks/04_reranking.py --data synthetic --seed 5"
    assert prov["config"] == {"lam": 0.7}
    assert {"python", "numpy", "marimo"} <= set(prov["versions"])
    text = provenance_markdown(prov)
    assert "seed **5**" in text and '"lam": 0.7' in text
    small = provenance(NotebookSettings("movielens-100k", 2, True, out="x"), notebook="01_tour.py")
    assert small["command"] == "python notebooks/01_tour.py --data movielens-100k --seed 2 --small"  # --out changes no figure


def test_notebooks_are_listed_in_teaching_order(tmp_path):
    for name in ("02_b.py", "01_a.py", "10_c.py", "00_start.py", "helper.py"):
        (tmp_path / name).write_text("")
    assert [p.name for p in list_notebooks(tmp_path)] == ["00_start.py", "01_a.py", "02_b.py", "10_c.py"]

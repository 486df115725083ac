"""experiments/flows/run.py on a tiny setting: its files, its manifest, and its --out policy."""

import csv
import importlib.util
import json
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location("flows_run", ROOT / "experiments/flows/run.py")
flows_run = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(flows_run)

TINY = ["--epochs", "1", "--train-size", "200", "--n-test", "6", "--k", "20",
        "--steps", "3", "3", "--common-k", "10", "--batch", "4"]


@pytest.fixture
def mnist_stub(monkeypatch):
    def load_dataset(name, split):
        n = 300 if split == "train" else 10_000
        images = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(1))
        return type("Data", (), {"images": images})()

    monkeypatch.setattr(flows_run.vae_lib, "load_dataset", load_dataset)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_tiny_run_writes_paired_files_and_resumes(tmp_path, mnist_stub):
    out = tmp_path / "run"
    assert flows_run.main(["--out", str(out), *TINY]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["specs"]["gaussian"]["n_flows"] == 0
    assert "machine" in manifest["sessions"][0] and manifest["finished"]
    for arm in ("gaussian", "iaf"):
        bounds, gaps = rows(out / f"{arm}_bounds.csv"), rows(out / f"{arm}_gaps.csv")
        assert [r["test_index"] for r in bounds] == [r["test_index"] for r in gaps]
        assert len(bounds) == 6
        for r in bounds:  # L_K >= the mean of the same log-weights (Jensen)
            assert float(r["l_20"]) >= float(r["elbo"]) - 1e-9
        assert set(gaps[0]) == {"test_index", "elbo_enc", "elbo_s3", "elbo_s4", "elbo_s6"}
        assert manifest["stages"][arm]["gaps_seconds"] > 0
    gaussian = rows(out / "gaussian_bounds.csv")
    assert [r["test_index"] for r in gaussian] == [r["test_index"] for r in rows(
        out / "iaf_bounds.csv")]
    # a second run into the same folder needs --resume, which redoes nothing
    assert flows_run.main(["--out", str(out), *TINY]) == 2
    before = (out / "iaf_gaps.csv").read_text()
    assert flows_run.main(["--out", str(out), "--resume", *TINY]) == 0
    assert (out / "iaf_gaps.csv").read_text() == before
    assert len(json.loads((out / "manifest.json").read_text())["sessions"]) == 2


def test_committed_results_need_into_committed(tmp_path, mnist_stub, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the current folder's experiments/ counts as committed
    out = Path("experiments") / "flows" / "x"
    assert flows_run.main(["--out", str(out), *TINY]) == 2
    assert not (out / "manifest.json").exists()

"""Figure 2's command resumes bit for bit, refuses a foreign folder, and runs wake-sleep."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from vae_lib import aevb, load_checkpoint
from vae_lib import commands as cli
from vae_lib.aevb import figure as runner
from vae_lib.aevb import wake_sleep as ws
from vae_lib.aevb.config import AEVBConfig

ARGS = ["aevb", "--dataset", "frey", "--latent-dims", "2", "--samples", "1000", "--first", "100",
        "--per-decade", "4"]  # points 100, 200, 300, 600, 1000


def tiny_data(n: int = 200) -> aevb.Data:
    g = torch.Generator().manual_seed(123)
    base = torch.rand(1, 1, 28, 20, generator=g)
    images = (base + 0.1 * torch.randn(n, 1, 28, 20, generator=g)).clamp(0, 1)
    return aevb.Data(images, images[:100], images[-50:])


@pytest.fixture(autouse=True)
def _tiny(monkeypatch):
    monkeypatch.setattr(runner, "load_data", lambda *a, **k: tiny_data())


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def bounds(path) -> list[list[str]]:
    return [row[:3] for row in csv.reader(open(path))]  # not the wall-clock column


@pytest.mark.parametrize(("method", "stem"), [("aevb", "frey_nz2"), ("wake-sleep", "frey_ws_nz2")])
def test_a_stopped_run_resumes_bit_for_bit(capsys, tmp_path, monkeypatch, method, stem):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    argv = [*ARGS, "--method", method]
    assert run_cli(capsys, *argv, "--out", str(whole))[0] == 0
    real_write, calls = runner.write_curve, []

    def killed_at_the_third_point(path, curve):
        calls.append(len(curve))
        if len(curve) == 3:
            raise KeyboardInterrupt  # after the checkpoint of point 3, before its CSV
        real_write(path, curve)

    monkeypatch.setattr(runner, "write_curve", killed_at_the_third_point)
    assert run_cli(capsys, *argv, "--out", str(broken))[0] == 130
    assert len(bounds(broken / f"{stem}.csv")) == 1 + 2
    monkeypatch.setattr(runner, "write_curve", real_write)
    code, out, err = run_cli(capsys, *argv, "--out", str(broken), "--resume")
    assert code == 0, err
    assert bounds(whole / f"{stem}.csv") == bounds(broken / f"{stem}.csv")
    assert len(bounds(whole / f"{stem}.csv")) == 1 + 5
    a = load_checkpoint(whole / f"{stem}_checkpoint.pt", map_location="cpu")[0].state_dict()
    b = load_checkpoint(broken / f"{stem}_checkpoint.pt", map_location="cpu")[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    manifest = json.loads((broken / f"{stem.rsplit('_', 1)[0]}_manifest.json").read_text())
    assert manifest["runs"]["2"]["finished"] and manifest["runs"]["2"]["csv"] == f"{stem}.csv"
    assert len(manifest["sessions"]) == 2 and manifest["settings"]["method"] == method
    code, out, _ = run_cli(capsys, *argv, "--out", str(broken), "--resume")
    assert code == 0 and "already finished" in out


def test_a_folder_made_with_other_settings_is_refused_in_one_line(capsys, tmp_path):
    assert run_cli(capsys, *ARGS, "--out", str(tmp_path))[0] == 0
    code, _, err = run_cli(capsys, *ARGS, "--lr", "0.02", "--out", str(tmp_path), "--resume")
    assert code == 2 and "other settings (lr 0.01 vs 0.02)" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, *ARGS, "--latent-dims", "3", "--out", str(tmp_path), "--resume")
    assert code == 0, err  # another latent size is another, independent curve
    manifest = json.loads((tmp_path / "frey_manifest.json").read_text())
    assert "--latent-dims 2 3" in manifest["command"]
    assert manifest["config"]["latent_dims"] == [2, 3]


def test_the_tail_split_results_are_not_continued_on_the_new_split(capsys, tmp_path):
    assert run_cli(capsys, *ARGS, "--out", str(tmp_path))[0] == 0
    path = tmp_path / "frey_manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["settings"]["frey_split"]  # as written before the split was recorded
    path.write_text(json.dumps(manifest))
    code, _, err = run_cli(capsys, *ARGS, "--out", str(tmp_path), "--resume")
    assert code == 2 and "frey split tail vs blocks" in err


def test_wake_sleep_improves_the_bound_and_is_deterministic():
    data = tiny_data()
    points = [100, 500, 1500]
    config = AEVBConfig("frey", method="wake-sleep")
    _, first = aevb.one_curve(config, 2, points, data=data)
    _, again = aevb.one_curve(config, 2, points, data=data)
    _, other = aevb.one_curve(AEVBConfig("frey", method="wake-sleep", seed=1), 2, points, data=data)
    _, by_aevb = aevb.one_curve(AEVBConfig("frey"), 2, points, data=data)
    strip = [(p.samples_seen, p.train_bound, p.test_bound) for p in first]
    assert strip == [(p.samples_seen, p.train_bound, p.test_bound) for p in again]
    assert strip != [(p.samples_seen, p.train_bound, p.test_bound) for p in other]
    assert first[-1].train_bound > first[0].train_bound + 50
    assert strip != [(p.samples_seen, p.train_bound, p.test_bound) for p in by_aevb]


def test_each_phase_trains_only_its_own_half():
    model = aevb.paper_model(AEVBConfig("mnist"), 3)
    rec, gen = ws.recognition_parameters(model), ws.generative_parameters(model)
    assert {id(p) for p in rec}.isdisjoint(id(p) for p in gen)
    assert len(rec) + len(gen) == len(list(model.parameters()))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    learner = ws.WakeSleep(model, lr=0.01, weight_decay=0.0)
    learner.sleep.step = lambda: None  # wake phase only
    learner.step(torch.rand(10, 1, 28, 28))
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(n.split(".")[0] not in ws.RECOGNITION for n in changed)
    z, x = ws.dream(model, 5)
    assert z.shape == (5, 3) and set(x.unique().tolist()) <= {0.0, 1.0}  # Bernoulli draws
    z, x = ws.dream(model, 5, "means")  # the decoder's means: grey, noise-free
    assert torch.allclose(x, model.decode(z)) and not set(x.unique().tolist()) <= {0.0, 1.0}

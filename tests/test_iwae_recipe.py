"""Burda et al.'s recipe (vae_lib.iwae): the objective, the model, resumable training, the CLI."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

from vae_lib import commands as cli
from vae_lib import iwae_bound, load_checkpoint
from vae_lib.iwae import IWAEConfig, iwae_objective, schedule, training
from vae_lib.iwae import table as iwae_command
from vae_lib.models import DeepVAE, build_model

TINY = ["--k", "2", "--batch-size", "20", "--train-size", "100", "--stages", "3", "--eval-k", "4",
        "--stage-test-images", "10", "--final-test-images", "16", "--checkpoint-every", "2"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_model_is_784_200_200_50_tanh_mirrored_with_glorot_weights():
    model = build_model(IWAEConfig().model_spec())
    assert isinstance(model, DeepVAE)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    shapes = [tuple(m.weight.shape) for m in linears]
    assert shapes == [(200, 784), (200, 200), (50, 200), (50, 200), (200, 50), (200, 200),
                      (784, 200)]
    assert all(isinstance(m, torch.nn.Tanh) for m in model.encoder[1][1::2])
    bound = math.sqrt(6 / (784 + 200))
    first = linears[0].weight
    assert first.abs().max() <= bound and first.abs().max() > 0.95 * bound
    assert all(torch.all(m.bias == 0) for m in linears)
    assert build_model(model.spec).spec == model.spec


def test_schedule_is_3_to_the_i_passes_at_decaying_rates():
    stages = schedule(IWAEConfig())
    assert [p for p, _ in stages] == [1, 3, 9, 27, 81, 243, 729, 2187]
    assert sum(p for p, _ in stages) == 3280
    assert stages[7][1] == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="stages must be <= 8"):
        IWAEConfig(stages=9)


def test_objective_is_the_iwae_bound_with_the_same_noise_and_k1_is_the_elbo():
    model = build_model(IWAEConfig().model_spec())
    x = torch.bernoulli(torch.full((3, 1, 28, 28), 0.3))
    torch.manual_seed(5)
    ours = iwae_objective(model, x, 7)
    torch.manual_seed(5)
    torch.testing.assert_close(ours.detach(), iwae_bound(model, x, 7))
    assert ours.requires_grad
    torch.manual_seed(5)
    one = iwae_objective(model, x, 1)
    torch.manual_seed(5)
    mu, logvar = model.encode(x)
    z = mu + (0.5 * logvar).exp() * torch.randn(1, *mu.shape)[0]
    log_q = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(1)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1) + model.log_likelihood(x, z)
    torch.testing.assert_close(one, log_p - log_q)


def test_training_improves_the_bound(capsys, tmp_path):
    code, out, err = run_cli(capsys, "iwae", "train", *TINY, "--out", str(tmp_path))
    assert code == 0, err
    rows = list(csv.DictReader(open(tmp_path / "iwae_stages.csv")))
    assert [int(r["stage"]) for r in rows] == [0, 1, 2]
    assert [int(r["test_images"]) for r in rows] == [10, 10, 16]
    assert float(rows[-1]["train_objective"]) > float(rows[0]["train_objective"]) + 50
    assert (tmp_path / "iwae_weights.pt").stat().st_size > 1_000_000
    model, extras = load_checkpoint(tmp_path / "iwae_weights.pt", map_location="cpu")
    assert isinstance(model, DeepVAE) and len(extras["rows"]) == 3


def test_an_interrupted_run_resumes_bit_for_bit(capsys, tmp_path, monkeypatch):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    assert run_cli(capsys, "iwae", "train", *TINY, "--out", str(whole))[0] == 0
    real_epoch, calls = training._epoch, []

    def dies_on_the_seventh_pass(*args):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return real_epoch(*args)

    monkeypatch.setattr(training, "_epoch", dies_on_the_seventh_pass)
    assert run_cli(capsys, "iwae", "train", *TINY, "--out", str(broken))[0] == 130
    _, extras = load_checkpoint(broken / "iwae_checkpoint.pt", map_location="cpu")
    assert (extras["stage"], extras["epoch_in_stage"]) == (2, 2)  # mid-stage
    monkeypatch.setattr(training, "_epoch", real_epoch)
    code, _, err = run_cli(capsys, "iwae", "train", *TINY, "--resume", "--out", str(broken))
    assert code == 0, err

    def table(folder):
        rows = list(csv.reader(open(folder / "iwae_stages.csv")))
        wall = rows[0].index("wall_seconds")
        return [r[:wall] + r[wall + 1 :] for r in rows]  # not wall time

    assert table(whole) == table(broken)
    a = load_checkpoint(whole / "iwae_weights.pt", map_location="cpu")[0].state_dict()
    b = load_checkpoint(broken / "iwae_weights.pt", map_location="cpu")[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    manifest = (broken / "iwae_manifest.json").read_text()
    assert '"from_pass": 6' in manifest and '"finished": true' in manifest


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["iwae", "train", "--k", "0", "--out", "x"], "--k must be >= 1"),
        (["iwae", "train", "--batch-size", "many", "--out", "x"], "batch-size must be a number"),
        (["iwae", "train", "--stages", "9", "--out", "x"], "stages must be <= 8"),
        (["iwae", "train", "--k", "1"], "--out"),
        (["iwae", "eval", "nowhere.pt", "--k", "0"], "--k must be between 1 and 100000"),
        (["iwae", "eval", "nowhere.pt", "--images", "20000"], "--images must be between"),
        (["iwae", "eval", "nowhere.pt"], "no checkpoint at nowhere.pt"),
        (["iwae", "fly"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("vae_lib: error:") and message in err and err.count("\n") == 1


def test_foreign_checkpoints_and_mismatched_resumes_are_refused(capsys, tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint\n\nat all")
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(3)}, plain)
    from vae_lib import MLPVAE, save_checkpoint

    frey = save_checkpoint(MLPVAE(2, 20, (1, 28, 20), likelihood="gaussian"), tmp_path / "f.pt")
    for path, message in [(garbage, "not a readable checkpoint"),
                          (plain, "not a vae-book checkpoint"),
                          (frey, "not a Bernoulli MNIST VAE")]:
        code, _, err = run_cli(capsys, "iwae", "eval", str(path), "--k", "2", "--images", "3")
        assert code == 2 and message in err and err.count("\n") == 1, err
    out = tmp_path / "run"
    assert run_cli(capsys, "iwae", "train", *TINY, "--stages", "1", "--out", str(out))[0] == 0
    code, _, err = run_cli(capsys, "iwae", "train", *TINY, "--out", str(out))
    assert code == 2 and "pass --resume" in err
    code, _, err = run_cli(capsys, "iwae", "train", *TINY, "--resume", "--out", str(out))
    assert code == 2 and "other settings (stages 1 vs 3)" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "iwae", "train", *TINY, "--resume", "--out", str(tmp_path))
    assert code == 2 and "no run to continue" in err
    assert "test_nll" in iwae_command.CSV_COLUMNS


def test_committed_results_are_guarded_for_iwae_and_from_any_folder(capsys, tmp_path,
                                                                     monkeypatch):
    repo = Path(__file__).resolve().parents[1]
    target = repo / "experiments" / "iwae" / "never-written"
    code, _, err = run_cli(capsys, "iwae", "train", *TINY, "--out", str(target))
    assert code == 2 and "--into-committed" in err and not target.exists()
    code, _, err = run_cli(capsys, "iwae", "train", *TINY, "--resume", "--out",
                           str(repo / "experiments" / "iwae" / "vae_k1_b100"))
    assert code == 2 and "--into-committed" in err
    # another checkout of the book, the command run from its book/ folder with a relative --out
    other = tmp_path / "checkout"
    (other / "vae_lib").mkdir(parents=True)
    (other / "book").mkdir()
    (other / "_toc.yml").write_text("root: intro\n")
    monkeypatch.chdir(other / "book")
    for command in (["iwae", "train", *TINY], ["train", "-e", "1"],
                    ["aevb", "--dataset", "mnist"]):
        code, _, err = run_cli(capsys, *command, "--out", "../experiments/new")
        assert code == 2 and "--into-committed" in err, (command, err)
    assert not (other / "experiments").exists()

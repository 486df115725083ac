"""The Kingma & Welling reproduction (vae_lib.aevb) and its `python -m vae_lib aevb` command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from vae_lib import aevb
from vae_lib import commands as cli
from vae_lib.aevb import figure as aevb_command
from vae_lib.aevb.config import AEVBConfig
from vae_lib.commands import build_parser
from vae_lib.commands.flags import config_from_args

RESULTS = Path(__file__).parent.parent / "experiments" / "aevb"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


# -- bad input: one line on stderr, exit status 2 ----------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["aevb"], "--dataset"),
        (["aevb", "--dataset", "cifar"], "invalid choice"),
        (["aevb", "--dataset", "mnist", "--samples", "50"], "samples must be >= 100"),
        (["aevb", "--dataset", "mnist", "--samples", "lots"], "samples must be a number"),
        (["aevb", "--dataset", "mnist", "--lr", "0"], "--lr must be > 0"),
        (["aevb", "--dataset", "mnist", "--latent-dims", "3", "0"], "--latent-dims must be >= 1"),
        (["aevb", "--dataset", "frey", "--threads", "0"], "threads must be >= 1"),
        (["aevb", "--dataset", "frey", "--first", "50"], "first must be >= 100"),
        (["aevb", "--dataset", "frey", "--init-std", "-1"], "--init-std must be > 0"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("vae_lib: error:") and message in err
    assert err.count("\n") == 1


def test_first_point_after_the_last_is_refused_before_loading_data(capsys, tmp_path, monkeypatch):
    def no_data(*args, **kwargs):
        raise AssertionError("loaded data before checking the arguments")

    monkeypatch.setattr(aevb_command, "load_data", no_data)
    argv = ["aevb", "--dataset", "frey", "--samples", "1000", "--first", "5000"]
    code, _, err = run_cli(capsys, *argv, "--out", str(tmp_path))
    assert code == 2 and "must not exceed --samples" in err and err.count("\n") == 1


def test_unwritable_output_folder(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, _, err = run_cli(capsys, "aevb", "--dataset", "frey", "--out", str(blocker / "sub"))
    assert code == 2 and "cannot write to output folder" in err and err.count("\n") == 1


def test_divergence_is_reported_in_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(aevb_command, "load_data", lambda *a, **k: tiny_data())

    def diverge(*args, **kwargs):
        raise FloatingPointError("the loss became nan after 300 samples; try a smaller step size")

    monkeypatch.setattr(aevb_command, "one_curve", diverge)
    code, _, err = run_cli(capsys, "aevb", "--dataset", "frey", "--samples", "300",
                           "--first", "100", "--out", str(tmp_path))
    assert code == 2 and "N_z = 2" in err and "smaller step size" in err


# -- the pieces ---------------------------------------------------------------------------------


def tiny_data(n: int = 200) -> aevb.Data:
    """Frey-shaped random images: enough for a few Adagrad steps in well under a second."""
    g = torch.Generator().manual_seed(123)
    base = torch.rand(1, 1, 28, 20, generator=g)
    images = (base + 0.1 * torch.randn(n, 1, 28, 20, generator=g)).clamp(0, 1)
    return aevb.Data(images, images[:100], images[-50:])


def test_evaluation_points_are_log_spaced_batches():
    points = aevb.evaluation_points(AEVBConfig(samples=500_000, per_decade=4, first=1000))
    assert points[0] == 1000 and points[-1] == 500_000
    assert all(p % aevb.BATCH_SIZE == 0 for p in points)
    assert all(b > a for a, b in zip(points, points[1:], strict=False))
    ratios = [b / a for a, b in zip(points[:-2], points[1:-1], strict=True)]
    assert all(abs(math.log10(r) - 0.25) < 0.03 for r in ratios)
    assert len(points) == 12  # 1e3 .. 3.2e5 is 11 points, then 5e5
    with pytest.raises(ValueError, match="must not exceed"):
        AEVBConfig(samples=500, first=1000)


def test_paper_init_draws_from_n_0_001():
    model = aevb.paper_model(AEVBConfig("mnist", seed=3), 20)
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert abs(weights.std().item() / aevb.INIT_STD - 1) < 0.02
    assert abs(weights.mean().item()) < 0.02 * aevb.INIT_STD
    assert all(p.detach().abs().sum() > 0 for p in model.parameters())  # biases too
    again = aevb.paper_model(AEVBConfig("mnist", seed=3), 20)
    other = aevb.paper_model(AEVBConfig("mnist", seed=4), 20)
    pairs = zip(model.parameters(), again.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert not torch.equal(model.to_mu.weight, other.to_mu.weight)


def test_paper_models_have_the_papers_shapes():
    mnist = aevb.paper_model(AEVBConfig("mnist"), 3)
    frey = aevb.paper_model(AEVBConfig("frey"), 2)
    assert mnist.encoder[1].out_features == 500 and mnist.likelihood == "bernoulli"
    assert isinstance(mnist.encoder[2], torch.nn.Tanh)
    assert frey.encoder[1].out_features == 200 and frey.likelihood == "gaussian"
    assert frey.image_shape == (1, 28, 20) and hasattr(frey, "to_pixel_logvar")
    with pytest.raises(ValueError, match="--dataset must be one of mnist, frey"):
        AEVBConfig("digits")


def test_lower_bound_is_repeatable_and_noise_is_fixed_by_seed():
    model = aevb.paper_model(AEVBConfig("frey"), 2)
    x = tiny_data().eval_train
    assert aevb.lower_bound(model, x, seed=1) == aevb.lower_bound(model, x, seed=1)
    assert aevb.lower_bound(model, x, seed=1) != aevb.lower_bound(model, x, seed=2)


def test_training_is_deterministic_given_the_seed_and_improves_the_bound():
    data = tiny_data()
    points = [100, 500, 1500]
    _, first = aevb.one_curve(AEVBConfig("frey", seed=0), 2, points, data=data)
    _, again = aevb.one_curve(AEVBConfig("frey", seed=0), 2, points, data=data)
    _, other = aevb.one_curve(AEVBConfig("frey", seed=1), 2, points, data=data)
    strip = [(p.samples_seen, p.train_bound, p.test_bound) for p in first]
    assert strip == [(p.samples_seen, p.train_bound, p.test_bound) for p in again]
    assert strip != [(p.samples_seen, p.train_bound, p.test_bound) for p in other]
    assert [p.samples_seen for p in first] == [100, 500, 1500]
    assert first[-1].train_bound > first[0].train_bound + 50


def test_the_committed_manifests_give_back_their_own_command():
    for dataset in ("mnist", "frey"):
        manifest, _ = aevb.load_results(RESULTS, dataset)
        config = aevb.config_from_manifest(manifest)
        # the recorded config is the stored command's, plus the settings it did not spell out
        # then (the first-N evaluation subsets, binary sleep fantasies)
        legacy = manifest["command"].replace(" --first", " --eval-subset first --first")
        legacy = legacy.replace(" --out", " --method aevb --sleep-fantasies binary --out")
        assert config.command_line("experiments/aevb") == legacy
        args = build_parser().parse_args(config.command_line("x").split()[3:])
        assert config_from_args(aevb.AEVBConfig, args) == config  # the command gives it back
        assert aevb.evaluation_points(config) == manifest["settings"]["eval_points"]
    with pytest.raises(ValueError, match="records no config"):
        aevb.config_from_manifest({"command": manifest["command"]})


def test_curve_csv_round_trip_and_bad_header(tmp_path):
    curve = [
        aevb.CurvePoint(1000, -200.25, -199.5, 3.0),
        aevb.CurvePoint(1800, -180.0, -179.0, 5.5),
    ]
    path = tmp_path / "c.csv"
    path.write_text(aevb.results.curve_csv(curve))
    assert aevb.read_curve(path) == curve
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="expected columns"):
        aevb.read_curve(path)


def test_command_writes_curves_samples_and_manifest(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(aevb_command, "load_data", lambda *a, **k: tiny_data())
    code, out, err = run_cli(capsys, "aevb", "--dataset", "frey", "--latent-dims", "2", "3",
                             "--samples", "400", "--first", "100", "--lr", "0.01",
                             "--out", str(tmp_path))
    assert code == 0, err
    assert "frey N_z=2" in out and "frey N_z=3" in out
    for nz in (2, 3):
        curve = aevb.read_curve(tmp_path / f"frey_nz{nz}.csv")
        assert [p.samples_seen for p in curve] == [100, 200, 300, 400]
        assert (tmp_path / f"frey_nz{nz}_samples.png").stat().st_size > 100
    manifest = json.loads((tmp_path / "frey_manifest.json").read_text())
    assert manifest["settings"]["lr"] == 0.01 and manifest["settings"]["optimizer"] == "adagrad"
    assert manifest["settings"]["weight_decay"] == pytest.approx(1 / 200)
    assert manifest["runs"]["3"]["finished"] is True
    assert manifest["command"].startswith("python -m vae_lib aevb --dataset frey --latent-dims 2 3")
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_a_finished_curve_saves_its_per_image_bounds(capsys, tmp_path, monkeypatch):
    """The bounds file: draw 0 is the curve's own last point; the redraw differs by noise only."""
    from vae_lib.aevb.results import read_bounds
    from vae_lib.evaluation import mean_se, monte_carlo_se

    data = tiny_data()
    monkeypatch.setattr(aevb_command, "load_data", lambda *a, **k: data)
    code, _, err = run_cli(capsys, "aevb", "--dataset", "frey", "--latent-dims", "2",
                           "--samples", "400", "--first", "100", "--out", str(tmp_path))
    assert code == 0, err
    last = aevb.read_curve(tmp_path / "frey_nz2.csv")[-1]
    bounds = read_bounds(tmp_path / "frey_nz2_bounds.pt")
    assert bounds["test"].shape == (2, data.eval_test.shape[0])
    first = mean_se(bounds["test"][0])
    assert math.isclose(first.mean, last.test_bound, abs_tol=1e-3)
    assert math.isclose(first.se, last.test_se, abs_tol=1e-3)
    assert math.isclose(mean_se(bounds["train"][0]).mean, last.train_bound, abs_tol=1e-3)
    assert not torch.equal(bounds["test"][0], bounds["test"][1])  # the noise was redrawn
    assert monte_carlo_se(bounds["test"]).se < first.se  # noise is smaller than image spread
    manifest = json.loads((tmp_path / "frey_manifest.json").read_text())
    assert manifest["runs"]["2"]["bounds"] == "frey_nz2_bounds.pt"
    path = tmp_path / "junk.pt"
    torch.save([1, 2], path)
    with pytest.raises(ValueError, match="not a file of per-image bounds"):
        read_bounds(path)

"""Chapter 18's experiment (experiments/hierarchy/run.py) against references it does not compute
itself: the paper's schedule written out, the closed-form ELBO, an uninterrupted run."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch

import vae_lib
from vae_lib.models import build_model

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location("hierarchy_run",
                                               ROOT / "experiments/hierarchy/run.py")
run = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(run)


def test_the_learning_rates_are_burda_et_al_s_stages():
    paper = [1e-3 * 10 ** (-i / 7) for i in range(8) for _ in range(3**i)]
    assert len(paper) == 3280
    torch.testing.assert_close(torch.tensor(run.schedule(run.parse(["--out", "x", "--passes",
                                                                     "3280"]))),
                               torch.tensor(paper), rtol=1e-12, atol=0)
    first = run.schedule(run.parse(["--out", "x", "--passes", "40"]))
    assert first == paper[:40] and first[0] == 1e-3 and len(set(first)) == 4


def test_the_one_layer_objective_is_the_elbo_with_a_sampled_kl():
    """Its mean over many draws is the mean of `vae_lib.elbo` (closed-form KL), within 4 SE."""
    torch.manual_seed(0)
    model = build_model({**run.SPECS["one_layer"], "image_shape": [1, 3, 3]})
    x = torch.bernoulli(torch.full((1, 1, 3, 3), 0.4)).expand(20_000, -1, -1, -1)
    with torch.no_grad():
        sampled = run.one_sample_elbo(model, x).double()
        closed = vae_lib.elbo(model, x).total.double()
    se = math.hypot(sampled.std().item(), closed.std().item()) / math.sqrt(x.shape[0])
    assert abs(sampled.mean().item() - closed.mean().item()) < 4 * se
    assert sampled.std() > 2 * closed.std()  # the sampled KL adds its own noise


@pytest.fixture(scope="module")
def tiny_data(mnist):
    return mnist[0].images[:200]


def _train(tmp_path: Path, data, resume=False, log=lambda line: None):
    args = run.parse(["--out", str(tmp_path), "--passes", "2", "--batch-size", "50"]
                     + (["--resume"] if resume else []))
    run._MANIFESTS[tmp_path] = {"stages": {}}
    return run.train_arm("two_layer", args, tmp_path, data, {}, log)


def test_a_stopped_run_resumes_bit_for_bit(tmp_path, tiny_data):
    whole = _train(tmp_path / "whole", tiny_data)

    def stop(line: str) -> None:
        raise KeyboardInterrupt(line)

    (tmp_path / "stopped").mkdir()
    with pytest.raises(KeyboardInterrupt, match="pass 1/2"):
        _train(tmp_path / "stopped", tiny_data, log=stop)
    with pytest.raises(run.UsageError, match="--resume"):
        _train(tmp_path / "stopped", tiny_data)
    resumed = _train(tmp_path / "stopped", tiny_data, resume=True)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name
    rows = [line.split(",")[:3] for line in
            (tmp_path / "whole" / "two_layer_passes.csv").read_text().splitlines()]
    assert rows == [line.split(",")[:3] for line in
                    (tmp_path / "stopped" / "two_layer_passes.csv").read_text().splitlines()]


def test_the_bounds_are_the_mean_and_the_log_mean_exp_of_the_weights(tiny_data):
    torch.manual_seed(0)
    model = build_model(run.SPECS["two_layer"]).eval()
    x = torch.bernoulli(tiny_data[:20], generator=torch.Generator().manual_seed(0))
    got = run.bounds(model, x, 40)
    torch.manual_seed(run.LOG_WEIGHT_SEED)
    lw = torch.cat([vae_lib.log_weights(model, x[i : i + 10], 40, chunk=500)
                    for i in range(0, 20, 10)], 1).double()
    torch.testing.assert_close(got["elbo"], lw.mean(0))
    torch.testing.assert_close(got["l_40"], torch.logsumexp(lw, 0) - math.log(40))
    torch.testing.assert_close(got["l_20_b"], torch.logsumexp(lw[20:], 0) - math.log(20))
    assert torch.all(got["l_40"] >= got["elbo"])


def test_the_committed_results_are_written_only_when_asked(capsys):
    assert run.main(["--out", str(ROOT / "experiments/hierarchy/scratch")]) == 2
    assert "--into-committed" in capsys.readouterr().err
    assert not (ROOT / "experiments/hierarchy/scratch").exists()

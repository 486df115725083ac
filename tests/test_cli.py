"""`python -m vae_lib train`: its outputs, and one-line errors with exit status 2 on bad input."""

import csv
import subprocess
import sys

import pytest

from vae_lib.commands import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vae_lib", *args], capture_output=True, text=True)


def test_a_short_run_writes_history_plots_gif_and_checkpoint(tmp_path):
    out = tmp_path / "run"
    done = run_cli(
        "train",
        "-e",
        "2",
        "-b",
        "64",
        "-n",
        "3",
        "--dataset",
        "digits",
        "--out",
        str(out),
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "train_loss", "test_loss", "test_recon", "test_kl"]
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert float(rows[1]["test_loss"]) < float(rows[0]["test_loss"])
    for name in ("loss.png", "reconstructions.gif", "model.pt", "reconstructions/epoch_002.png"):
        assert (out / name).stat().st_size > 0
    from PIL import Image

    assert Image.open(out / "reconstructions.gif").n_frames == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["-e", "-1"], "--epochs must be >= 0"),
        (["-n", "0"], "--latent-dim must be >= 1"),
        (["-b", "0"], "--batch-size must be >= 1"),
        (["-lr", "-0.001"], "--learning-rate must be > 0"),
        (["--model", "resnet"], "invalid choice"),
        (["--dataset", "cifar"], "invalid choice"),
        (["--frobnicate"], "unrecognized arguments"),
        (["--out", "/proc/no/such/dir"], "cannot write to output folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(args, message, capsys):
    assert main(["train", "--dataset", "digits", "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_input_through_the_real_entry_point():
    done = run_cli("train", "-n", "0")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "vae_lib: error: --latent-dim must be >= 1, got 0"
    ]

"""Nothing lost, nothing different: stopped runs resume bit for bit, seeded runs repeat (issue 11).

All at one torch thread: a fixed thread count fixes the order of floating-point sums.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import vae_lib
from vae_lib import aevb
from vae_lib.commands import main
from vae_lib.runkit.state import fit_resumably

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "VAE_DEVICE": "cpu"}
TRAIN = ["train", "--dataset", "digits", "-n", "2", "--hidden-dim", "16", "--train-size", "300",
         "--test-size", "50", "--track-size", "50", "-b", "64", "--quiet"]


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def weights(path) -> dict:
    return vae_lib.checkpoint.read_checkpoint(path)["state_dict"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "weights differ"


def digits():
    data = vae_lib.load_dataset("digits", "train").images
    return data[:300], data[300:360]


def test_fit_stopped_after_k_epochs_resumes_bit_for_bit(tmp_path):
    train, test = digits()
    settings = {"epochs": 4, "batch_size": 64, "quiet": True, "binarize": True, "seed": 3}
    torch.manual_seed(1)
    straight = vae_lib.MLPVAE(2, 16, (1, 8, 8))
    fit_all = fit_resumably(straight, train, test, tmp_path / "a.pt", **settings)

    def stop_after_2(record, model):
        if record.epoch == 2:
            raise KeyboardInterrupt

    torch.manual_seed(1)
    with pytest.raises(KeyboardInterrupt):
        fit_resumably(vae_lib.MLPVAE(2, 16, (1, 8, 8)), train, test, tmp_path / "b.pt",
                      on_epoch=stop_after_2, **settings)
    assert len(vae_lib.checkpoint.read_checkpoint(tmp_path / "b.pt")["history"]) == 2
    torch.manual_seed(99)  # another process: other initial weights, another global RNG state
    resumed = vae_lib.MLPVAE(2, 16, (1, 8, 8))
    history = fit_resumably(resumed, train, test, tmp_path / "b.pt", resume=True, **settings)
    assert_same_weights(straight.state_dict(), resumed.state_dict())
    assert history.column("test_loss") == fit_all.column("test_loss")
    assert_same_weights(weights(tmp_path / "a.pt"), weights(tmp_path / "b.pt"))


def test_resuming_with_other_settings_is_refused(tmp_path):
    train, test = digits()
    fit_resumably(vae_lib.MLPVAE(2, 16, (1, 8, 8)), train, test, tmp_path / "a.pt", epochs=1,
                  quiet=True)
    with pytest.raises(ValueError, match=r"other settings \(seed 0 vs 1, train '\w+' vs '\w+'\)"):
        fit_resumably(vae_lib.MLPVAE(2, 16, (1, 8, 8)), train[:200], test, tmp_path / "a.pt",
                      epochs=2, seed=1, quiet=True, resume=True)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vae_lib", *args], capture_output=True,
                          text=True, env=ENV, timeout=120)


def test_the_same_train_command_twice_gives_the_same_weights(tmp_path):
    done = cli(*TRAIN, "-e", "1", "--out", str(tmp_path / "a"))  # a fresh process ...
    assert done.returncode == 0, done.stderr
    torch.manual_seed(12345)  # ... and this one, whatever its generator's state
    assert main([*TRAIN, "-e", "1", "--out", str(tmp_path / "b")]) == 0
    assert_same_weights(weights(tmp_path / "a" / "model.pt"), weights(tmp_path / "b" / "model.pt"))


def test_ctrl_c_saves_the_finished_epochs_and_resume_finishes_the_same_run(tmp_path):
    run = tmp_path / "stopped"
    proc = subprocess.Popen([sys.executable, "-m", "vae_lib", *TRAIN, "-e", "500", "--out",
                             str(run)], stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 60
    while not (run / "reconstructions" / "epoch_002.png").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "no epoch finished"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "finished epoch(s) are saved" in err and err.strip().endswith("--resume")
    saved = len(vae_lib.checkpoint.read_checkpoint(run / "checkpoint.pt")["history"])
    assert saved >= 2 and not (run / "model.pt").exists()  # no final model from a stopped run
    epochs = str(saved + 1)
    assert main([*TRAIN, "-e", epochs, "--out", str(run), "--resume"]) == 0
    assert main([*TRAIN, "-e", epochs, "--out", str(tmp_path / "straight")]) == 0
    assert_same_weights(weights(tmp_path / "straight" / "model.pt"), weights(run / "model.pt"))
    assert (run / "history.csv").read_text() == (tmp_path / "straight" / "history.csv").read_text()


def test_train_resumes_in_process_after_an_interrupt(tmp_path, monkeypatch, capsys):
    assert main([*TRAIN, "-e", "3", "--out", str(tmp_path / "straight")]) == 0
    from vae_lib.commands import train as train_command

    save = train_command._save_reconstructions

    def interrupt_at_2(out, epoch, *args):
        save(out, epoch, *args)
        if epoch == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(train_command, "_save_reconstructions", interrupt_at_2)
    assert main([*TRAIN, "-e", "3", "--out", str(tmp_path / "run")]) == 130
    err = capsys.readouterr().err
    assert "2 finished epoch(s) are saved" in err and "--resume" in err
    monkeypatch.setattr(train_command, "_save_reconstructions", save)
    assert main([*TRAIN, "-e", "3", "--out", str(tmp_path / "run"), "--resume"]) == 0
    assert_same_weights(weights(tmp_path / "straight" / "model.pt"),
                        weights(tmp_path / "run" / "model.pt"))
    from PIL import Image

    assert Image.open(tmp_path / "run" / "reconstructions.gif").n_frames == 3


def tiny_data(n: int = 200) -> aevb.Data:
    g = torch.Generator().manual_seed(123)
    images = (0.5 + 0.1 * torch.randn(n, 1, 28, 20, generator=g)).clamp(0, 1)
    return aevb.Data(images, images[:100], images[-50:])


def test_ctrl_c_before_the_first_epoch_says_nothing_was_saved(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(vae_lib.train, "fit", interrupted)
    assert main([*TRAIN, "-e", "3", "--out", str(tmp_path / "run")]) == 130
    err = capsys.readouterr().err
    assert err == "vae_lib: interrupted; no epoch had finished; nothing was saved\n"
    assert not list((tmp_path / "run").iterdir())  # so the same command can simply run again

"""Bad input, table by table: command line, library, data files, checkpoints (issue 11).

Every case must end in one line that says what was wrong (the command line: exit status 2,
one stderr line, no traceback), and no file may change that should not: each test snapshots
its folder before and after.
"""

import gzip
import hashlib
import io
import math
import os
from pathlib import Path

import pytest
import torch

import vae_lib
from vae_lib import runs
from vae_lib.aevb.config import AEVBConfig
from vae_lib.checkpoint import CheckpointError, read_checkpoint, save_checkpoint, weights_digest
from vae_lib.commands import main
from vae_lib.config import VAEConfig
from vae_lib.data import DataError


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under `folder`, with a hash of each file's bytes."""
    return {
        str(p.relative_to(folder)): "dir" if p.is_dir()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
    }


def one_line(err: BaseException) -> str:
    message = str(err)
    assert message and "\n" not in message, f"not one line: {message!r}"
    return message


# -- the command line ---------------------------------------------------------------------------

TRAIN = ["train", "--dataset", "digits", "--quiet", "-e", "1"]
AEVB = ["aevb", "--dataset", "frey", "--samples", "1000", "--first", "100"]
CLI_CASES = [
    # counts: negative, zero, fractional, infinite, NaN or unbounded
    (TRAIN + ["-e", "-1"], "--epochs must be >= 0"),
    (TRAIN + ["-e", "1e9"], "--epochs must be <= 100000"),
    (TRAIN + ["-e", "1.5"], "--epochs must be a number"),
    (TRAIN + ["-e", "inf"], "--epochs must be a number"),
    (TRAIN + ["-e", "nan"], "--epochs must be a number"),
    (TRAIN + ["-n", "0"], "--latent-dim must be >= 1"),
    (TRAIN + ["-n", "100000"], "--latent-dim must be <= 4096"),
    (TRAIN + ["--hidden-dim", "0"], "--hidden-dim must be >= 1"),
    (TRAIN + ["--hidden-dim", "1e9"], "--hidden-dim must be <= 65536"),
    (TRAIN + ["-b", "0"], "--batch-size must be >= 1"),
    (TRAIN + ["-b", "-5"], "--batch-size must be >= 1"),
    (TRAIN + ["-b", "ten"], "--batch-size must be a number"),
    (TRAIN + ["--size", "2"], "--size must be >= 4"),
    (TRAIN + ["--size", "100000"], "--size must be <= 512"),
    (TRAIN + ["--train-size", "0"], "--train-size must be >= 1"),
    (TRAIN + ["--test-size", "-1"], "--test-size must be >= 1"),
    (TRAIN + ["--track-size", "-1"], "--track-size must be >= 0"),
    (TRAIN + ["--frames", "1e6"], "--frames must be <= 1000"),
    (TRAIN + ["--seed", "-1"], "--seed must be >= 0"),
    (TRAIN + ["--seed", "1e30"], "--seed must be <= "),
    # real numbers: out of range, infinite, NaN
    (TRAIN + ["-lr", "0"], "--learning-rate must be > 0"),
    (TRAIN + ["-lr", "-0.001"], "--learning-rate must be > 0"),
    (TRAIN + ["-lr", "inf"], "--learning-rate must be a finite number"),
    (TRAIN + ["-lr", "nan"], "--learning-rate must be a finite number"),
    (TRAIN + ["--beta", "-1"], "--beta must be >= 0"),
    (TRAIN + ["--beta", "nan"], "--beta must be a finite number"),
    (TRAIN + ["--beta", "inf"], "--beta must be a finite number"),
    (TRAIN + ["--beta", "1e9"], "--beta must be <= 1e+06"),
    # choices and flags
    (TRAIN + ["--model", "resnet"], "invalid choice"),
    (TRAIN + ["--dataset", "cifar"], "invalid choice"),
    (TRAIN + ["--frobnicate"], "unrecognized arguments"),
    (TRAIN + ["--model", "conv", "--dataset", "frey"], "the conv model needs square images"),
    (["bake"], "invalid choice"),
    ([], "required"),
    # output folders: empty, committed results, an existing run, nothing to resume, unwritable
    (TRAIN + ["--out", ""], "--out must name a folder"),
    (TRAIN + ["--out", "."], "--out must name a folder"),
    (TRAIN + ["--out", "experiments/aevb"], "inside experiments/, the book's committed results"),
    (TRAIN + ["--out", "experiments/new"], "pass --into-committed"),
    (TRAIN + ["--out", "existing"], "already holds a run: pass --resume"),
    (TRAIN + ["--out", "fresh", "--resume"], "there is no run to continue in fresh"),
    (TRAIN + ["--out", "existing", "--resume"], "has no checkpoint.pt to continue from"),
    (TRAIN + ["--out", "a-file/sub"], "cannot write to output folder"),
    # the paper experiment
    (["aevb"], "--dataset"),
    (["aevb", "--dataset", "cifar"], "invalid choice"),
    (AEVB + ["--samples", "50"], "--samples must be >= 100"),
    (AEVB + ["--samples", "inf"], "--samples must be a number"),
    (AEVB + ["--samples", "1e12"], "--samples must be <= 1e+09"),
    (AEVB + ["--samples", "lots"], "--samples must be a number"),
    (AEVB + ["--per-decade", "1e9"], "--per-decade must be <= 100"),
    (AEVB + ["--per-decade", "0"], "--per-decade must be >= 1"),
    (AEVB + ["--threads", "100000"], "--threads must be <= 256"),
    (AEVB + ["--threads", "0"], "--threads must be >= 1"),
    (AEVB + ["--lr", "0"], "--lr must be > 0"),
    (AEVB + ["--lr", "inf"], "--lr must be a finite number"),
    (AEVB + ["--lr", "nan"], "--lr must be a finite number"),
    (AEVB + ["--latent-dims", "3", "0"], "--latent-dims must be >= 1"),
    (AEVB + ["--first", "50"], "--first must be >= 100"),
    (AEVB + ["--first", "5000"], "must not exceed --samples"),
    (AEVB + ["--init-std", "-1"], "--init-std must be > 0"),
    (AEVB + ["--init-std", "inf"], "--init-std must be a finite number"),
    (AEVB + ["--eval-train", "0"], "--eval-train must be >= 1"),
    (AEVB + ["--seed", "-1"], "--seed must be >= 0"),
    (AEVB + ["--out", ""], "--out must name a folder"),
    (AEVB, "--out runs/aevb already holds a run"),  # the default --out
    (AEVB + ["--out", "experiments/aevb"], "pass --into-committed"),
    (AEVB + ["--out", "experiments/aevb", "--into-committed"], "already holds a run"),
    (AEVB + ["--out", "results"], "already holds a run: pass --resume"),
    (AEVB + ["--out", "fresh", "--resume"], "there is no run to continue"),
    (AEVB + ["--out", "results", "--resume"], "made with other settings"),
]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A current folder with committed results, an earlier run and a file in the way."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiments" / "aevb").mkdir(parents=True)
    (tmp_path / "experiments" / "aevb" / "frey_manifest.json").write_text("{}")
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "history.csv").write_text("epoch\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "frey_manifest.json").write_text('{"config": {"dataset": "frey"}}')
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "runs" / "aevb").mkdir(parents=True)
    (tmp_path / "runs" / "aevb" / "frey_nz2.csv").write_text("samples_seen\n")
    return tmp_path


@pytest.mark.parametrize("argv, message", CLI_CASES, ids=[" ".join(a[3:] or a) for a, _ in
                                                          CLI_CASES])
def test_command_line(workdir, capsys, argv, message):
    before = snapshot(workdir)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("vae_lib: error: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert snapshot(workdir) == before


@pytest.mark.parametrize("lr", ["1e6", "1e300"])
def test_a_diverging_run_stops_in_one_line_and_saves_nothing(workdir, capsys, lr):
    assert main(TRAIN + ["-lr", lr, "--out", "run", "-b", "1500", "--train-size", "300"]) == 2
    err = capsys.readouterr().err
    assert "training diverged" in err and err.count("\n") == 1
    assert not [p.name for p in (workdir / "run").rglob("*")]  # no model, no checkpoint


# -- the library --------------------------------------------------------------------------------

MODEL = vae_lib.MLPVAE(latent_dim=2, hidden_dim=8, image_shape=(1, 4, 4))
X = torch.rand(6, 1, 4, 4, generator=torch.Generator().manual_seed(0))
NAN = X.clone().index_put_((torch.tensor([0]),), torch.tensor(float("nan")))
INF = X.clone().index_put_((torch.tensor([1]),), torch.tensor(float("inf")))
LOGITS = torch.zeros(6, 1, 4, 4)


def _fit(**kwargs):
    args = {"model": vae_lib.MLPVAE(2, 8, (1, 4, 4)), "train": X, "test": X, "epochs": 1,
            "quiet": True, **kwargs}
    if "checkpoint" in args:  # the run layer's resumable fit
        from vae_lib.runkit.state import fit_resumably

        return fit_resumably(**args)
    return vae_lib.fit(**args)


def _cache(name):
    return vae_lib.cached_model(name, {}, lambda: MODEL)


PIXELS = "pixels must lie in [0, 1]"
LIBRARY_CASES = [
    # pixels out of range, NaN, infinite
    (lambda: vae_lib.elbo(MODEL, X * 255), f"{PIXELS}; got max"),
    (lambda: vae_lib.elbo(MODEL, X * 255), "divide by 255?"),
    (lambda: vae_lib.elbo(MODEL, X - 1), f"{PIXELS}; got min"),
    (lambda: vae_lib.elbo(MODEL, NAN), "contains NaN values"),
    (lambda: vae_lib.elbo(MODEL, INF), f"{PIXELS}; got max inf"),
    (lambda: vae_lib.evaluate(MODEL, X * 255), PIXELS),
    (lambda: vae_lib.evaluate(MODEL, NAN), "NaN"),
    (lambda: _fit(train=X * 255), f"train: {PIXELS}"),
    (lambda: _fit(test=X * 255), f"test: {PIXELS}"),
    (lambda: _fit(train=NAN), "train contains NaN values"),
    (lambda: _fit(train=(X * 255, torch.zeros(6))), PIXELS),
    (lambda: vae_lib.bernoulli_log_likelihood(LOGITS, X * 255), PIXELS),
    (lambda: vae_lib.bernoulli_log_likelihood(LOGITS, NAN), "NaN"),
    (lambda: vae_lib.iwae_bound(MODEL, X * 255, k=2), PIXELS),
    (lambda: MODEL.encode(X * 255), PIXELS),
    (lambda: MODEL.log_likelihood(X * 2, torch.zeros(6, 2)), PIXELS),
    (lambda: vae_lib.Autoencoder(2, 8, (1, 4, 4)).objective(X * 255), PIXELS),
    (lambda: vae_lib.gaussian_log_likelihood(X, NAN, 0.1), "x contains NaN values"),
    # beta: negative, NaN, infinite, not a number
    (lambda: vae_lib.elbo(MODEL, X, beta=-1.0), "beta must be a finite number >= 0"),
    (lambda: vae_lib.elbo(MODEL, X, beta=float("nan")), "beta must be a finite number >= 0"),
    (lambda: vae_lib.elbo(MODEL, X, beta=float("inf")), "beta must be a finite number >= 0"),
    (lambda: MODEL.objective(X, beta=-0.5), "beta must be a finite number >= 0"),
    (lambda: vae_lib.evaluate(MODEL, X, beta=-1), "beta must be"),
    (lambda: _fit(beta=-1), "beta must be"),
    (lambda: _fit(beta=float("nan")), "beta must be"),
    (lambda: _fit(beta="1"), "beta must be"),
    # sizes and counts
    (lambda: vae_lib.evaluate(MODEL, X, batch_size=-1), "batch_size must be >= 1"),
    (lambda: vae_lib.evaluate(MODEL, X, batch_size=0), "batch_size must be >= 1"),
    (lambda: vae_lib.evaluate(MODEL, X, batch_size=2.5), "batch_size must be a whole number"),
    (lambda: vae_lib.evaluate(MODEL, X[:0]), "images is empty"),
    (lambda: _fit(batch_size=0), "batch_size must be >= 1"),
    (lambda: _fit(batch_size=-1), "batch_size must be >= 1"),
    (lambda: _fit(epochs=-1), "epochs must be >= 0"),
    (lambda: _fit(epochs=1.5), "epochs must be a whole number"),
    (lambda: _fit(train=X[:0]), "train is empty"),
    (lambda: vae_lib.iwae_bound(MODEL, X, k=0), "k must be between 1 and 1000000"),
    (lambda: vae_lib.iwae_bound(MODEL, X, k=2.5), "k must be a whole number"),
    (lambda: vae_lib.iwae_bound(MODEL, X, k=math.inf), "k must be a whole number"),
    (lambda: vae_lib.log_weights(MODEL, X, k=2, chunk=0), "chunk must be between 1 and 1000000"),
    (lambda: vae_lib.MLPVAE(latent_dim=0), "latent_dim must be >= 1, got 0"),
    (lambda: vae_lib.load_dataset("digits", size=0), "size must be a whole number from 1"),
    (lambda: vae_lib.load_dataset("digits", size=10**6), "size must be a whole number from 1"),
    (lambda: VAEConfig(latent_dim=10**6), "--latent-dim must be <= 4096"),
    (lambda: VAEConfig(beta=-1.0), "--beta must be >= 0"),
    (lambda: AEVBConfig("frey", samples=10**12), "--samples must be <= 1e+09"),
    # learning rates and optimizers
    (lambda: _fit(lr=0), "learning rate must be a finite number > 0"),
    (lambda: _fit(lr=math.inf), "learning rate must be a finite number > 0"),
    (lambda: _fit(lr=math.nan), "learning rate must be a finite number > 0"),
    (lambda: _fit(optimizer="rmsprop"), "unknown optimizer"),
    (lambda: _fit(model=torch.nn.Linear(2, 2)), "needs a model with an objective"),
    # a log-variance must be a tensor of the mean's shape; a scale a positive finite float
    (lambda: vae_lib.gaussian_log_likelihood(X, X, torch.tensor(0.0)), "read as a log-variance"),
    (lambda: vae_lib.gaussian_log_likelihood(X, X, torch.zeros(4)), "read as a log-variance"),
    (lambda: vae_lib.gaussian_log_likelihood(X, X, 0.0), "must be a finite number > 0"),
    (lambda: vae_lib.gaussian_log_likelihood(X, X, -1.0), "must be a finite number > 0"),
    (lambda: vae_lib.gaussian_log_likelihood(X, X, math.nan), "must be a finite number > 0"),
    (lambda: vae_lib.gaussian_log_likelihood(X, X, math.inf), "must be a finite number > 0"),
    # shapes and names
    (lambda: vae_lib.gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 4)), "shapes differ"),
    (lambda: vae_lib.bernoulli_log_likelihood(LOGITS[:2], X), "shapes differ"),
    (lambda: MODEL.encode(torch.rand(2, 1, 28, 28)), "expects images of shape (n, 1, 4, 4)"),
    (lambda: MODEL.decode(torch.zeros(2, 5)), "has a 2-d latent space"),
    (lambda: vae_lib.build_model({"kind": "rnn"}), "unknown model kind"),
    (lambda: vae_lib.load_dataset("cifar"), "unknown data set"),
    (lambda: vae_lib.load_dataset("digits", "validation"), "unknown split"),
    # the run cache's names stay inside its folder
    (lambda: _cache("../../x"), "cache name must be"),
    (lambda: _cache("/tmp/x"), "cache name must be"),
    (lambda: _cache("a/b"), "cache name must be"),
    (lambda: _cache(".hidden"), "cache name must be"),
    (lambda: _cache(""), "cache name must be"),
]


@pytest.mark.parametrize("call, message", LIBRARY_CASES, ids=[m for _, m in LIBRARY_CASES])
def test_library(tmp_path, monkeypatch, call, message):
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path))
    with pytest.raises((ValueError, TypeError)) as err:
        call()
    assert message in one_line(err.value)
    assert snapshot(tmp_path) == {}


def test_a_diverging_fit_raises_and_saves_nothing(tmp_path):
    with pytest.raises(FloatingPointError, match="diverged") as err:
        _fit(checkpoint=tmp_path / "run.pt", lr=1e300)
    one_line(err.value)
    assert snapshot(tmp_path) == {}


def test_a_fit_that_turns_nan_keeps_the_last_good_epoch(tmp_path):
    def nan_from_step_2(model, x, step):
        return -model.objective(x).total.mean() * (math.nan if step >= 2 else 1.0)

    path = tmp_path / "run.pt"
    with pytest.raises(FloatingPointError, match="diverged in epoch 2: the loss became nan"):
        _fit(checkpoint=path, epochs=3, batch_size=3, loss_fn=nan_from_step_2)
    saved = read_checkpoint(path)
    assert [row["epoch"] for row in saved["history"]] == [1]
    assert all(torch.isfinite(t).all() for t in saved["state_dict"].values())


def test_fit_does_not_overwrite_another_run(tmp_path):
    path = tmp_path / "run.pt"
    _fit(checkpoint=path)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match="already holds a run") as err:
        _fit(checkpoint=path, lr=0.5)
    one_line(err.value)
    with pytest.raises(ValueError, match=r"other settings \(lr 0.001 vs 0.5\)"):
        _fit(checkpoint=path, lr=0.5, resume=True)
    assert snapshot(tmp_path) == before


# -- data files ---------------------------------------------------------------------------------


def idx(shape: tuple[int, ...], body: bytes | None = None) -> bytes:
    header = bytes([0, 0, 8, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)
    return header + (bytes(math.prod(shape)) if body is None else body)


def _mnist(images: bytes, labels: bytes = idx((3,)), suffix: str = "") -> None:
    raw = Path(os.environ["VAE_DATA_DIR"]) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / f"train-images-idx3-ubyte{suffix}").write_bytes(images)
    (raw / f"train-labels-idx1-ubyte{suffix}").write_bytes(labels)


def _frey(matrix=None, raw: bytes | None = None) -> None:
    from scipy.io import savemat

    path = Path(os.environ["VAE_DATA_DIR"]) / "frey" / "frey_rawface.mat"
    path.parent.mkdir(parents=True)
    if raw is not None:
        path.write_bytes(raw)
    else:
        savemat(path, matrix)


def _np_frames(rows: int, cols: int, dtype="uint8", value=0):
    import numpy as np

    return np.full((rows, cols), value, dtype=dtype)


GOOD_IMAGES = idx((3, 28, 28))
DATA_CASES = [
    ("mnist", lambda: _mnist(GOOD_IMAGES[:-100]), "truncated or corrupt: its header promises"),
    ("mnist", lambda: _mnist(GOOD_IMAGES + b"x"), "truncated or corrupt"),
    ("mnist", lambda: _mnist(b"\x00\x00\x08\x02" + GOOD_IMAGES[4:]), "bad header"),
    ("mnist", lambda: _mnist(b""), "bad header"),
    ("mnist", lambda: _mnist(b"<html>not found</html>"), "bad header"),
    ("mnist", lambda: _mnist(idx((3, 8, 8))), "expected n 28x28 images"),
    ("mnist", lambda: _mnist(GOOD_IMAGES, idx((2,))), "and 2 labels"),
    ("mnist", lambda: _mnist(gzip.compress(GOOD_IMAGES)[:-20], gzip.compress(idx((3,))), ".gz"),
     "is corrupt or truncated"),
    ("mnist", lambda: _mnist(b"not gzip at all", gzip.compress(idx((3,))), ".gz"),
     "is corrupt or truncated"),
    ("frey", lambda: _frey(raw=b"MATLAB 5.0 but not really"), "corrupt or truncated, or not a"),
    ("frey", lambda: _frey({"faces": _np_frames(560, 300)}), "has no 'ff' matrix"),
    ("frey", lambda: _frey({"ff": _np_frames(300, 560)}), "300x560 matrix (transposed?)"),
    ("frey", lambda: _frey({"ff": _np_frames(100, 100)}), "expected 560 x frames"),
    ("frey", lambda: _frey({"ff": _np_frames(560, 300, "float64", 0.5)}), "float64 values"),
    ("frey", lambda: _frey({"ff": _np_frames(560, 300, "int32", 1000)}), "outside 0-255"),
]


@pytest.mark.parametrize("name, make, message", DATA_CASES, ids=[m for _, _, m in DATA_CASES])
def test_data_files(tmp_path, monkeypatch, name, make, message):
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    make()
    before = snapshot(tmp_path)
    with pytest.raises(DataError) as err:
        vae_lib.load_dataset(name, "train")
    text = one_line(err.value)
    assert message in text and str(tmp_path) in text and "download" not in text
    assert snapshot(tmp_path) == before


# -- checkpoints --------------------------------------------------------------------------------


def _payload(**changes) -> dict:
    model = vae_lib.MLPVAE(2, 8, (1, 4, 4))
    state = model.state_dict()
    payload = {"format": "vae-book/2", "config": model.spec, "state_dict": state,
               "sha256": weights_digest(state)}
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _flipped() -> bytes:
    """A good checkpoint with one byte of one weight flipped, as by a bad disk."""
    model = vae_lib.MLPVAE(2, 8, (1, 4, 4))
    data = bytearray(_saved(_payload(state_dict=model.state_dict(),
                                     sha256=weights_digest(model.state_dict()))))
    weights = model.to_pixels.weight.detach().numpy().tobytes()
    at = bytes(data).index(weights) + 7
    data[at] ^= 0xFF
    return bytes(data)


class RunsCode:
    """A pickle that would create a file if it were ever unpickled."""

    def __reduce__(self):
        return (os.mkdir, (str(Path(os.environ["VAE_CACHE_DIR"]) / "pwned"),))


def _wrong_shapes() -> dict:
    state = vae_lib.MLPVAE(3, 8, (1, 4, 4)).state_dict()
    return _payload(state_dict=state, sha256=weights_digest(state))


def _tampered() -> dict:
    payload = _payload()
    payload["state_dict"]["to_mu.bias"] += 1.0
    return payload


CHECKPOINT_CASES = [
    ("truncated", lambda: _saved(_payload())[:300], "not a readable checkpoint"),
    ("text", lambda: b"just some text", "not a readable checkpoint"),
    ("empty", lambda: b"", "not a readable checkpoint"),
    ("runs code", lambda: _saved(RunsCode()), "not a readable checkpoint"),
    ("flipped byte", _flipped, "do not match their checksum"),
    ("tampered", lambda: _saved(_tampered()), "do not match their checksum"),
    ("no checksum", lambda: _saved(_payload(sha256=None)), "do not match their checksum"),
    ("foreign dict", lambda: _saved({"model": 1}), "is not a vae-book checkpoint"),
    ("a list", lambda: _saved([1, 2, 3]), "is not a vae-book checkpoint"),
    ("old format", lambda: _saved(_payload(format="vae-book/1")), "format 'vae-book/1'"),
    ("newer format", lambda: _saved(_payload(format="vae-book/99")), "format 'vae-book/99'"),
    ("no config", lambda: _saved(_payload(config=None)), "has no model config"),
    ("config not a dict", lambda: _saved(_payload(config="mlp")), "has no model config"),
    ("unknown kind", lambda: _saved(_payload(config={"kind": "rnn"})), "unknown model kind"),
    ("bad config value", lambda: _saved(_payload(config={"kind": "mlp", "latent_dim": 0})),
     "cannot build its model"),
    ("unexpected config key", lambda: _saved(_payload(config={"kind": "mlp", "depth": 3})),
     "cannot build its model"),
    ("no weights", lambda: _saved(_payload(state_dict=None)), "has no weights"),
    ("weights not tensors", lambda: _saved(_payload(state_dict={"w": 1})), "has no weights"),
    ("wrong shapes", lambda: _saved(_wrong_shapes()), "weights do not fit the stored config"),
]


@pytest.mark.parametrize("make, message", [c[1:] for c in CHECKPOINT_CASES],
                         ids=[c[0] for c in CHECKPOINT_CASES])
def test_checkpoints(tmp_path, monkeypatch, make, message):
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path))
    path = tmp_path / "m.pt"
    path.write_bytes(make())
    before = snapshot(tmp_path)
    with pytest.raises(CheckpointError) as err:
        vae_lib.load_checkpoint(path)
    assert message in one_line(err.value)
    assert snapshot(tmp_path) == before  # nothing ran, nothing was written


@pytest.mark.parametrize("make", [c[1] for c in CHECKPOINT_CASES],
                         ids=[c[0] for c in CHECKPOINT_CASES])
def test_the_cache_retrains_over_a_bad_entry(tmp_path, monkeypatch, make):
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path))
    trained = []

    def train():
        trained.append(1)
        return vae_lib.MLPVAE(2, 8, (1, 4, 4))

    vae_lib.cached_model("m", {}, train)
    (entry,) = tmp_path.glob("m-*.pt")
    entry.write_bytes(make())
    vae_lib.cached_model("m", {}, train)
    assert trained == [1, 1] and not (tmp_path / "pwned").exists()
    vae_lib.load_checkpoint(entry)  # rewritten whole and good


@pytest.mark.parametrize("path", ["absent.pt", "."], ids=["missing", "a folder"])
def test_no_checkpoint_there(tmp_path, path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        vae_lib.load_checkpoint(tmp_path / path)


def test_a_finished_model_is_not_a_run_to_resume(tmp_path):
    path = save_checkpoint(vae_lib.MLPVAE(2, 8, (1, 4, 4)), tmp_path / "m.pt")
    before = snapshot(tmp_path)
    with pytest.raises(CheckpointError, match="not a run that can be resumed"):
        _fit(checkpoint=path, resume=True)
    assert snapshot(tmp_path) == before


def test_cached_names_stay_inside_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="cache name"):
        _cache("../escaped")
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.rglob("*.pt"))
    assert runs.safe_name("digits-mlp2-beta0.5") == "digits-mlp2-beta0.5"


def test_one_run_per_output_folder_at_a_time(tmp_path):
    """Issue 21.1: a second run into the same --out, while the first holds it, is refused."""
    from vae_lib.runkit.folder import _HELD_LOCKS, UsageError, lock_folder, output_folder

    out = tmp_path / "same"
    output_folder(out, resume=False, into_committed=False, holds_run=lambda p: False)
    first = _HELD_LOCKS.pop(out.resolve())  # as if another process held it
    try:
        with pytest.raises(UsageError, match="in use by another run"):
            lock_folder(out)
    finally:
        os.close(first)
    lock_folder(out)  # free again once the holder is gone (the OS drops it at exit)
    os.close(_HELD_LOCKS.pop(out.resolve()))
    assert list(out.iterdir()) == []  # the lock writes nothing into the folder
    # a run that got in between the look and the lock is seen after the lock
    looks = iter([False, True])
    with pytest.raises(UsageError, match="already holds a run"):
        output_folder(tmp_path / "raced", False, False, lambda p: next(looks))
    os.close(_HELD_LOCKS.pop((tmp_path / "raced").resolve()))


def test_two_processes_into_one_out(tmp_path):
    """Issue 21.1 end to end: two `train` commands into one folder; the second is refused."""
    import subprocess
    import sys
    import textwrap

    out = tmp_path / "run"
    holder = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from vae_lib.runkit.folder import output_folder
        output_folder(Path({str(out)!r}), False, False, lambda p: False)
        print("locked", flush=True)
        time.sleep(30)
    """)
    first = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().strip() == "locked"
        second = subprocess.run([sys.executable, "-m", "vae_lib", "train", "-e", "1", "--out",
                                 str(out)], capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and "in use by another run" in second.stderr
    finally:
        first.kill()
        first.wait()


def test_allowed_values_that_would_exhaust_memory_are_refused_in_one_line():
    """Issue 21.7: a large --size is applied to the subset only; a huge model is refused."""
    from vae_lib.data import resize
    from vae_lib.models import check_model_size

    with pytest.raises(ValueError, match="GiB"):
        resize(torch.zeros(60_000, 1, 28, 28), 512)  # 63 GB, refused before any work
    assert resize(torch.rand(10, 1, 28, 28), 512).shape == (10, 1, 512, 512)
    spec = VAEConfig(latent_dim=4096, hidden_dim=65536).model_spec((1, 28, 28))
    with pytest.raises(ValueError, match="parameters, more than"):
        check_model_size(spec)  # counted on the meta device: nothing allocated
    assert check_model_size(VAEConfig().model_spec((1, 28, 28))) > 0


def test_unbounded_work_is_refused():
    """Issue 21.8: iwae_bound(k=10**12) is refused; downloads carry a socket timeout."""
    import socket

    from vae_lib import downloads
    from vae_lib.models import MLPVAE

    model = MLPVAE(latent_dim=2, hidden_dim=8)
    with pytest.raises(ValueError, match="k must be between"):
        vae_lib.iwae_bound(model, torch.rand(1, 1, 28, 28), k=10**12)
    before = socket.getdefaulttimeout()
    with downloads.network_timeout(5):
        assert socket.getdefaulttimeout() == 5
    assert socket.getdefaulttimeout() == before


def test_silent_wrong_answers_now_speak():
    """Issue 21.10: integer codes, an --out with a space, a model of another data set."""
    from vae_lib.commands.iwae import recorded_dataset

    with pytest.raises(ValueError, match="floating-point codes"):
        vae_lib.lerp(torch.tensor([0, 0]), torch.tensor([2, 2]), 0.5)
    assert "--out 'my runs/x'" in AEVBConfig(dataset="mnist").command_line("my runs/x")
    assert recorded_dataset({"run": {"dataset": "fashion-mnist"}}) == "fashion-mnist"
    assert recorded_dataset({"iwae_config": {}}) == "mnist"
    assert recorded_dataset({}) is None


def test_devices_that_are_absent_or_hold_no_data_are_one_line(monkeypatch):
    """Issue 21.12: VAE_DEVICE=cuda|mps|meta when absent, device='bogus' in the library."""
    from vae_lib.device import pick_device
    from vae_lib.models import MLPVAE

    for name in ("meta", *(["cuda"] if not torch.cuda.is_available() else [])):
        monkeypatch.setenv("VAE_DEVICE", name)
        with pytest.raises(ValueError, match=f"device '{name}'"):
            pick_device()
    monkeypatch.delenv("VAE_DEVICE")
    x = torch.rand(8, 1, 28, 28)
    for bad in ("bogus", "meta"):
        with pytest.raises(ValueError, match="fit"):
            vae_lib.fit(MLPVAE(latent_dim=2, hidden_dim=8), x, x, epochs=1, device=bad,
                        quiet=True)


def test_save_checkpoint_refuses_what_load_checkpoint_could_not_read(tmp_path):
    """Issue 21.10: history=fit(...) is stored as plain rows; an object is refused at save."""
    from vae_lib.models import MLPVAE

    model = MLPVAE(latent_dim=2, hidden_dim=8)
    x = torch.rand(16, 1, 28, 28)
    history = vae_lib.fit(model, x, x, epochs=1, quiet=True)
    path = save_checkpoint(model, tmp_path / "m.pt", history=history)
    _, extras = vae_lib.load_checkpoint(path, map_location="cpu")
    assert extras["history"] == history.as_dicts()
    with pytest.raises(ValueError, match="not plain data"):
        save_checkpoint(model, tmp_path / "bad.pt", thing=object())
    assert not (tmp_path / "bad.pt").exists()


def test_stale_temp_files_of_a_killed_writer_are_cleaned(tmp_path):
    """Issue 21.12: a .tmp left by kill -9 beside a file goes at the next write of that file."""
    import time

    from vae_lib.files import STALE_SECONDS, atomic_write_text

    stale, fresh = tmp_path / ".out.csv.abc.tmp", tmp_path / ".out.csv.def.tmp"
    stale.write_text("half")
    fresh.write_text("a writer at work")
    old = time.time() - 2 * STALE_SECONDS
    os.utime(stale, (old, old))
    atomic_write_text(tmp_path / "out.csv", "a,b\n")
    assert not stale.exists() and fresh.exists() and (tmp_path / "out.csv").read_text() == "a,b\n"


def test_nan_and_infinite_loss_settings_are_refused_when_made():
    """Issue 21.10: warmup_loss(nan) and free_bits_loss(inf) used to surface as a divergence."""
    for bad in (float("nan"), float("inf"), 2.5, -1):
        with pytest.raises(ValueError, match="warmup_steps"):
            vae_lib.warmup_loss(bad)
    for bad in (float("nan"), float("inf"), -0.5):
        with pytest.raises(ValueError, match="finite number >= 0"):
            vae_lib.free_bits_loss(bad)
    with pytest.raises(ValueError, match="start"):
        vae_lib.warmup_loss(10, start=float("nan"))


def test_odd_output_paths_are_one_line(tmp_path, capsys, monkeypatch):
    """Issue 21.12: --out that is a symlink loop, a file, or a name too long."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "a-file").write_text("x")
    for out, message in (("loop", "cannot be used"), ("a" * 300, "cannot be used"),
                         ("a-file", "cannot write")):
        assert main(["train", "-e", "1", "--out", out]) == 2
        err = capsys.readouterr().err
        assert err.startswith("vae_lib: error: ") and message in err and err.count("\n") == 1


def test_resume_refuses_fewer_epochs_than_done(tmp_path, capsys):
    """Issue 21.10: `--resume -e 1` after 2 epochs stored --epochs 1 in the model's command."""
    out = str(tmp_path / "run")
    base = ["train", "--dataset", "digits", "-n", "2", "--hidden-dim", "8", "--quiet"]
    assert main([*base, "-e", "2", "--out", out]) == 0
    capsys.readouterr()
    assert main([*base, "-e", "1", "--out", out, "--resume"]) == 2
    assert "has done 2 epochs already" in capsys.readouterr().err


def test_aevb_checkpoints_of_other_settings_or_missing_ones_are_refused(tmp_path, capsys,
                                                                       monkeypatch):
    """Issue 21.6 and 21.9: a curve checkpoint made with --lr 0.1 does not resume into an
    --lr 0.01 folder; a curve with samples but no checkpoint is not silently restarted."""
    import json
    import shutil

    from vae_lib.aevb import figure as runner

    monkeypatch.setattr(runner, "load_data", lambda *a, **k: _tiny_frey())
    base = ["aevb", "--dataset", "frey", "--latent-dims", "2", "--first", "100", "--quiet"]
    fast, slow = tmp_path / "fast", tmp_path / "slow"
    assert main([*base, "--samples", "200", "--lr", "0.1", "--out", str(fast)]) == 0
    assert main([*base, "--samples", "200", "--out", str(slow)]) == 0
    shutil.copy(fast / "frey_nz2_checkpoint.pt", slow / "frey_nz2_checkpoint.pt")
    capsys.readouterr()
    assert main([*base, "--samples", "400", "--out", str(slow), "--resume"]) == 2
    assert "made with other settings (lr 0.1 vs 0.01)" in capsys.readouterr().err
    (slow / "frey_nz2_checkpoint.pt").unlink()
    assert main([*base, "--samples", "400", "--out", str(slow), "--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert json.loads((slow / "frey_manifest.json").read_text())["runs"]["2"]["samples_seen"] == 200


def _tiny_frey():
    from vae_lib import aevb

    g = torch.Generator().manual_seed(0)
    train, test = torch.rand(200, 1, 28, 20, generator=g), torch.rand(50, 1, 28, 20, generator=g)
    return aevb.Data(train, train[:100], test)

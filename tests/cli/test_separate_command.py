"""``diversa separate``: a generated song end to end with its SDR printed, the cached model, stereo and
resampled songs, standard input, and --train / --make-song outputs."""

import io

import numpy as np
import pytest
import scipy.io.wavfile

from diversa.cli import main

TINY = ["--songs", "2", "--epochs", "1"]


@pytest.fixture
def workdir(tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def model(workdir, capsys):
    assert main(["separate", "--train", *TINY, "--model", "m.pt"]) == 0
    assert "separator written to m.pt" in capsys.readouterr().out
    return workdir / "m.pt"


def test_a_generated_song_is_separated_end_to_end_with_its_sdr(model, workdir, capsys):
    assert main(["separate", "--make-song", "song", "--seed", "3", "--duration", "1"]) == 0
    assert sorted(p.name for p in (workdir / "song").iterdir()) == ["accompaniment.wav", "mixture.wav", "vocals.wav"]
    assert main(["separate", "song/mixture.wav", "--out", "stems", "--model", "m.pt", "--reference", "song"]) == 0
    out = capsys.readouterr().out
    assert "BSS Eval" in out and "vocals" in out and "NSDR" in out
    fs, mix = scipy.io.wavfile.read(workdir / "song" / "mixture.wav")
    fs_v, vocals = scipy.io.wavfile.read(workdir / "stems" / "vocals.wav")
    _, acc = scipy.io.wavfile.read(workdir / "stems" / "accompaniment.wav")
    assert fs == fs_v == 8000 and vocals.shape == acc.shape == mix.shape
    assert not any(p.name.endswith(".tmp") for p in (workdir / "stems").iterdir())


def test_the_cached_model_is_trained_once_and_reused(workdir, capsys):
    assert main(["separate", "--make-song", "song", "--duration", "1"]) == 0
    assert main(["separate", "--train", *TINY]) == 0
    cached = list((workdir / "cache" / "separate").glob("*.pt"))
    assert len(cached) == 1
    capsys.readouterr()
    assert main(["separate", "song/mixture.wav", "--out", "stems", *TINY]) == 0
    assert "training" not in capsys.readouterr().err     # the --train model was reused


def _song(path, fs, channels=1):
    t = np.arange(int(fs * 0.5)) / fs
    mono = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.random.default_rng(0).standard_normal(t.size)
    data = mono if channels == 1 else np.stack([mono, 0.5 * mono], axis=1)
    scipy.io.wavfile.write(path, fs, (data * 32767).astype(np.int16))


def test_stereo_at_another_rate_is_downmixed_resampled_and_announced(model, workdir, capsys):
    _song(workdir / "s.wav", 22050, channels=2)
    assert main(["separate", "s.wav", "--out", "stems", "--model", "m.pt"]) == 0
    err = capsys.readouterr().err
    assert "2 channels" in err and "22050 Hz" in err and err.count("diversa: warning:") == 2
    fs, vocals = scipy.io.wavfile.read(workdir / "stems" / "vocals.wav")
    assert fs == 22050 and vocals.shape == (int(22050 * 0.5),)   # back at the song's rate and length


def test_standard_input(model, workdir, monkeypatch, capsys):
    _song(workdir / "s.wav", 8000)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((workdir / "s.wav").read_bytes())))
    assert main(["separate", "-", "--out", "stems", "--model", "m.pt"]) == 0
    assert (workdir / "stems" / "accompaniment.wav").exists()


def test_overwrite_replaces_both_stems(model, workdir):
    _song(workdir / "s.wav", 8000)
    assert main(["separate", "s.wav", "--out", "stems", "--model", "m.pt"]) == 0
    (workdir / "stems" / "vocals.wav").write_text("old")
    assert main(["separate", "s.wav", "--out", "stems", "--model", "m.pt"]) == 2
    assert (workdir / "stems" / "vocals.wav").read_text() == "old"
    assert main(["separate", "s.wav", "--out", "stems", "--model", "m.pt", "--overwrite"]) == 0
    assert scipy.io.wavfile.read(workdir / "stems" / "vocals.wav")[0] == 8000


def test_train_without_cache_needs_a_model_path(workdir, monkeypatch, capsys):
    monkeypatch.setenv("DIVERSA_CACHE", "0")
    assert main(["separate", "--train", *TINY]) == 2
    assert "--model" in capsys.readouterr().err

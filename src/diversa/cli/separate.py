"""``diversa separate``: split a song into vocals and accompaniment with a mask-predicting CNN.

``diversa separate SONG.wav --out DIR`` writes ``DIR/vocals.wav`` and
``DIR/accompaniment.wav`` (both or neither), masking the song's spectrogram with
the voice probability of a CNN trained on ideal binary masks with cross-entropy
(Lin, Balamurali, Koh, Lui, Herremans, arXiv:1812.01278;
:mod:`diversa.apps.separation`). ``--reference DIR`` (a folder holding the true
``vocals.wav`` and ``accompaniment.wav``) prints BSS Eval SDR, SIR, SAR and NSDR
of the result. ``diversa separate --train`` trains a separator on generated songs
and saves it (``--model PATH``, or the cache: the model ``diversa separate``
uses when given no ``--model``); ``diversa separate --make-song DIR`` writes a
generated song with its stems (``mixture.wav``, ``vocals.wav``,
``accompaniment.wav``) to try it on.

A song at another sample rate than the model's is resampled to it and the
stems back to the song's rate; a stereo song is separated as the mean of its
channels; both are announced as a warning line.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from diversa.cli.errors import UserError
from diversa.cli.outputs import add_overwrite, check_inputs, check_output_file, check_output_folder

STEMS = ("vocals.wav", "accompaniment.wav")
SONG_FILES = ("mixture.wav", *STEMS)
#: The network the command trains: the ibmsvs reproduction's quick setting (8 kHz, 129 bins).
NETWORK = dict(target="ibm", fs=8000, win_length=256, n_fft=256, hop=64, context=9, train_hop=2,
               input_transform="log1p", channels=(8, 8, 8, 8), kernel=(3, 5), pool=4, fc=(128, 64), dropout=0.0,
               pretrain=None, lr=1e-3, batch_size=16)
#: Version of the cached default model's recipe (bump when NETWORK or the song generator changes).
RECIPE = 1


def add_parser(commands) -> None:
    p = commands.add_parser(
        "separate", help="split a song into vocals and accompaniment (CNN trained on ideal binary masks)",
        description="Separate the singing voice from the accompaniment of a WAV file with a CNN that classifies "
                    "every spectrogram pixel as voice or accompaniment (ideal-binary-mask targets, cross-entropy; "
                    "arXiv:1812.01278), and write vocals.wav and accompaniment.wav. --train trains a separator on "
                    "generated songs; --make-song writes a generated song with its true stems.",
    )
    p.add_argument("song", nargs="?", metavar="SONG", help="WAV file to separate ('-' for standard input)")
    p.add_argument("--out", default=None, metavar="DIR", help="folder for vocals.wav and accompaniment.wav")
    p.add_argument("--model", default=None, metavar="PATH",
                   help="separator model file (default: the cached model --train makes with the same --seed, "
                        "--songs and --epochs, trained on first use)")
    p.add_argument("--threshold", type=float, default=0.35,
                   help="tau: voice and accompaniment probabilities below it are zeroed (the paper's iKala value)")
    p.add_argument("--reference", default=None, metavar="DIR",
                   help="folder with the true vocals.wav and accompaniment.wav: print SDR, SIR, SAR and NSDR")
    p.add_argument("--train", action="store_true",
                   help="train a separator on generated songs and save it to --model (default: the cache)")
    p.add_argument("--make-song", default=None, metavar="DIR",
                   help="write a generated song (mixture.wav, vocals.wav, accompaniment.wav) to DIR")
    p.add_argument("--songs", type=int, default=16, help="generated training songs of 2 s (--train)")
    p.add_argument("--epochs", type=int, default=8, help="training epochs (--train)")
    p.add_argument("--duration", type=float, default=4.0, help="seconds of the generated song (--make-song)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the training songs and network (--train, and the model used without --model) or "
                        "of the generated song (--make-song)")
    add_overwrite(p)
    p.set_defaults(handler=run)


# -- checks -----------------------------------------------------------------------------------------

def _mode(args) -> str:
    modes = [name for name, on in (("separate", args.song is not None), ("train", args.train),
                                   ("make-song", args.make_song is not None)) if on]
    if len(modes) != 1:
        raise UserError("give exactly one of SONG, --train or --make-song DIR"
                        + (f" (got {' and '.join(modes)})" if modes else ""))
    return modes[0]


def _check_numbers(args) -> None:
    if args.songs < 1:
        raise UserError(f"--songs must be >= 1, got {args.songs}")
    if args.epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {args.epochs}")
    if not (math.isfinite(args.duration) and 0.5 <= args.duration <= 600):
        raise UserError(f"--duration must be from 0.5 to 600 seconds, got {args.duration:g}")
    if not (math.isfinite(args.threshold) and 0 <= args.threshold < 1):
        raise UserError(f"--threshold must be in [0, 1), got {args.threshold:g}")


def default_model_path(args) -> Path | None:
    """Where the cache keeps the model of these --seed, --songs and --epochs (None: caching is off)."""
    from diversa.reproduce.testbeds.cache import cache_root

    root = cache_root()
    if root is None:
        return None
    return root / "separate" / f"separator-r{RECIPE}-songs{args.songs}-epochs{args.epochs}-seed{args.seed}.pt"


# -- training -----------------------------------------------------------------------------------------

def train_separator(n_songs: int, epochs: int, seed: int):
    """A separator (:data:`NETWORK`) trained on ``n_songs`` generated 2 s songs."""
    from diversa.apps.separation import SingingVoiceSeparator
    from diversa.datasets.songs import make_synthetic_songs
    from diversa.nn.training import torch_threads

    voices, accompaniments = make_synthetic_songs(n_songs, fs=NETWORK["fs"], duration=2.0, random_state=seed)
    # One thread: a network this small trains several times slower on two contending threads.
    with torch_threads(1):
        return SingingVoiceSeparator(**NETWORK, epochs=epochs, random_state=seed).fit(voices, accompaniments)


def _default_separator(args):
    from diversa.apps.separation import is_separator_payload, separator_from_payload, separator_payload
    from diversa.reproduce.testbeds.cache import load_or_build

    path = default_model_path(args)
    if path is None or not path.exists():
        print(f"training a separator on {args.songs} generated songs ({args.epochs} epochs, seed {args.seed})"
              + ("" if path is None else f"; cached at {path}"), file=sys.stderr)
    payload = load_or_build(path, lambda: separator_payload(train_separator(args.songs, args.epochs, args.seed)),
                            is_valid=is_separator_payload)
    return separator_from_payload(payload, "the cached model")


def run_train(args) -> int:
    import io

    import torch

    from diversa.apps.separation import separator_payload
    from diversa.datasets.files import atomic_write_bytes

    target = Path(args.model) if args.model is not None else default_model_path(args)
    if target is None:
        raise UserError("caching is off (DIVERSA_CACHE=0): give --model PATH to save the separator")
    if args.model is not None:
        check_output_file(args.model, argument="--model", overwrite=args.overwrite)
    print(f"training a separator on {args.songs} generated songs ({args.epochs} epochs, seed {args.seed})",
          file=sys.stderr)
    separator = train_separator(args.songs, args.epochs, args.seed)
    buffer = io.BytesIO()
    torch.save(separator_payload(separator), buffer)
    atomic_write_bytes(target, buffer.getvalue())
    losses = separator.loss_curve_
    print(f"separator written to {target} (training loss {losses[0]:.4f} -> {losses[-1]:.4f} over "
          f"{len(losses)} epochs, {separator.n_patches_} patches)")
    return 0


# -- generated songs -----------------------------------------------------------------------------------

def run_make_song(args) -> int:
    from diversa.apps.separation import wav_bytes
    from diversa.datasets.files import StagedWrites
    from diversa.datasets.songs import make_synthetic_songs

    check_output_folder(args.make_song, argument="--make-song", files=SONG_FILES, overwrite=args.overwrite)
    fs = NETWORK["fs"]
    (voice,), (acc,) = make_synthetic_songs(1, fs=fs, duration=args.duration, random_state=args.seed)
    writes = StagedWrites()
    for name, signal in zip(SONG_FILES, (voice + acc, voice, acc)):
        writes.add(Path(args.make_song) / name, wav_bytes(signal, fs), argument="--make-song")
    writes.commit()
    print(f"song of {args.duration:g} s at {fs} Hz (seed {args.seed}) written to {args.make_song}: "
          f"{', '.join(SONG_FILES)}")
    return 0


# -- separation ---------------------------------------------------------------------------------------

def _read_song(path, argument: str, *, announce: bool = True):
    import warnings

    from diversa.apps.separation import read_wav, to_mono

    fs, samples = read_wav(path, argument=argument)
    if samples.ndim == 2 and samples.shape[1] > 1:
        if announce:
            warnings.warn(f"{argument} has {samples.shape[1]} channels; separating their mean (mono)")
    return fs, to_mono(samples)


def _read_references(folder, fs: int, n: int):
    import numpy as np

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--reference {str(folder)!r} is not a folder holding {' and '.join(STEMS)}.")
    stems = []
    for name in STEMS:
        ref_fs, ref = _read_song(folder / name, f"--reference {name}", announce=False)
        if ref_fs != fs or ref.size != n:
            raise ValueError(f"--reference {name}: {ref.size} samples at {ref_fs} Hz, but the song has {n} at {fs} Hz.")
        if not ref.any():
            raise ValueError(f"--reference {name} is silent; SDR is undefined against it.")
        stems.append(ref)
    return np.stack(stems)


def _report_metrics(references, estimates, mixture) -> None:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from diversa.evaluate.bss import bss_eval_sources

    silent = [name for name, e in zip(STEMS, estimates) if not e.any()]
    if silent:
        print(f"BSS Eval skipped: the estimate {', '.join(silent)} is silent (SDR undefined).")
        return
    from threadpoolctl import threadpool_limits

    # One BLAS thread: the Cholesky factorisations of BSS Eval (1024 x 1024) ran 20x slower on two
    # contending OpenBLAS threads than on one.
    with threadpool_limits(limits=1):
        scores = bss_eval_sources(references, np.stack([estimates, np.stack([mixture, mixture])]))
    table = Table(title="BSS Eval v3 against the reference stems (dB)")
    for column in ("stem", "SDR", "SIR", "SAR", "NSDR (vs mixture)"):
        table.add_column(column)
    for j, name in enumerate(STEMS):
        table.add_row(name[:-4], f"{scores.sdr[0, j]:.2f}", f"{scores.sir[0, j]:.2f}", f"{scores.sar[0, j]:.2f}",
                      f"{scores.sdr[0, j] - scores.sdr[1, j]:+.2f}")
    Console(width=None if sys.stdout.isatty() else 100).print(table)


def run_separate(args) -> int:
    import warnings

    import numpy as np

    from diversa.apps.separation import load_separator, resample, wav_bytes
    from diversa.datasets.files import StagedWrites, describe

    if args.out is None:
        raise UserError("give --out DIR for vocals.wav and accompaniment.wav")
    inputs = [("SONG", args.song), ("--model", args.model)]
    check_inputs(inputs)
    if args.model is not None and args.model == "-":
        raise UserError("--model must be a file, not standard input")
    check_output_folder(args.out, argument="--out", files=STEMS, inputs=inputs, overwrite=args.overwrite)
    fs, mixture = _read_song(args.song, "SONG")
    references = None if args.reference is None else _read_references(args.reference, fs, mixture.size)
    separator = load_separator(args.model, argument="--model") if args.model is not None else None
    model_fs = separator.fs if separator is not None else NETWORK["fs"]
    work = mixture if fs == model_fs else resample(mixture, fs, model_fs)
    min_len = separator.win_length if separator is not None else NETWORK["win_length"]
    if work.size < min_len:
        raise ValueError(f"{describe(args.song, 'SONG')} is too short: {mixture.size} samples at {fs} Hz; "
                         f"the separator needs at least {min_len} samples at {model_fs} Hz.")
    if fs != model_fs:
        warnings.warn(f"SONG is sampled at {fs} Hz; separating at the model's {model_fs} Hz and resampling "
                      f"the stems back to {fs} Hz")
    if separator is None:
        separator = _default_separator(args)
    voice, acc = separator.separate(work, threshold=args.threshold)
    if fs != model_fs:
        voice = _fit_length(resample(voice, model_fs, fs), mixture.size)
        acc = _fit_length(resample(acc, model_fs, fs), mixture.size)
    writes = StagedWrites()
    for name, signal in zip(STEMS, (voice, acc)):
        writes.add(Path(args.out) / name, wav_bytes(signal, fs), argument="--out")
    writes.commit()
    print(f"{mixture.size / fs:.2f} s at {fs} Hz separated (threshold {args.threshold:g}): "
          f"{', '.join(STEMS)} written to {args.out}")
    if references is not None:
        _report_metrics(references, np.stack([voice, acc]), mixture)
    return 0


def _fit_length(x, n: int):
    import numpy as np

    return x[:n] if x.size >= n else np.concatenate([x, np.zeros(n - x.size)])


def run(args) -> int:
    mode = _mode(args)
    _check_numbers(args)
    if mode == "train":
        return run_train(args)
    if mode == "make-song":
        return run_make_song(args)
    return run_separate(args)

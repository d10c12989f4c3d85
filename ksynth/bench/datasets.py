"""KT benchmark datasets: the synthetic sampler and the natural modalities as 128-byte chunks.

Natural data (KT.md section 6) is cut into non-overlapping chunks at offsets that are multiples
of 128; the last chunk of a file may be shorter (that is how KT counts 7,846 text chunks).
Files are read through a read-only np.memmap, chunk by chunk as items are asked for: a 1 GB DNA
or text file is never read whole (`iter_items` yields them lazily; `load` lists them).
Split convention: chunk index < half is `dev`, the rest is `test`; `all` is both.
`n` picks a seeded random sample of n chunks from the split (all of them when n is None or larger).

Synthetic items come from `ksynth.dsl.sample.sample` and carry their ground-truth program; dev and
test draw from different seeds so tuning never sees the test sequences.

The data directory: an explicit path, else env KSYNTH_DATA_DIR, else `../shared/kt-data` beside
the repository that holds this package.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ksynth.errors import DataError, UsageError

CHUNK_BYTES = 128
NATURAL = {
    "text": "text.bin",
    "dna": "dna.bin",
    "audio_8bit": "audio_8bit.bin",
    "audio_16bit": "audio_16bit.bin",
    "audio_mfcc": "audio_mfcc.bin",
}
MODALITIES = ("synthetic",) + tuple(NATURAL)
SPLITS = ("dev", "test", "all")
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Item:
    """One benchmark sequence. `program` is the ground-truth KT text (synthetic only)."""

    modality: str
    index: int             # chunk index in the file, or position in the synthetic sample
    data: bytes
    program: str | None = None


def default_data_dir() -> Path:
    return REPO_ROOT.parent / "shared" / "kt-data"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Where the KT .bin files are: explicit > $KSYNTH_DATA_DIR > ../shared/kt-data."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("KSYNTH_DATA_DIR")
    return Path(env) if env else default_data_dir()


def check_modalities(names) -> tuple[str, ...]:
    names = tuple(names)
    for name in names:
        if name not in MODALITIES:
            import difflib

            near = difflib.get_close_matches(name, MODALITIES, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise UsageError(f"unknown modality {name!r}{hint}; choose from {', '.join(MODALITIES)}")
    return names


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


def _path(modality: str, directory: str | os.PathLike | None) -> Path:
    path = data_dir(directory) / NATURAL[modality]
    if not path.is_file():
        raise DataError(f"missing KT data file {path} (for {modality}); pass --data-dir DIR or set "
                        f"KSYNTH_DATA_DIR to the folder holding {NATURAL[modality]}")
    return path


def read_file(modality: str, directory: str | os.PathLike | None = None) -> bytes:
    """The whole file (the 1 MB KT files; use `open_chunks` for large ones)."""
    path = _path(modality, directory)
    try:
        return path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read KT data file {path}: {e.strerror}") from None


class Chunks:
    """A data file as a sequence of CHUNK_BYTES-byte chunks over a read-only memmap: len() and
    [k] without reading the file (the OS pages in only the chunks used)."""

    def __init__(self, path: Path, size: int = CHUNK_BYTES):
        import numpy as np

        self.path, self.size = path, size
        try:
            nbytes = path.stat().st_size
            self._map = np.memmap(path, dtype=np.uint8, mode="r") if nbytes else None
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read KT data file {path}: {getattr(e, 'strerror', None) or e}") from None
        self.nbytes = nbytes

    def __len__(self) -> int:
        return -(-self.nbytes // self.size)

    def __getitem__(self, k: int) -> bytes:
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self._map[k * self.size:(k + 1) * self.size].tobytes()


def open_chunks(modality: str, directory: str | os.PathLike | None = None) -> Chunks:
    return Chunks(_path(modality, directory))


def chunks(data: bytes, size: int = CHUNK_BYTES) -> list[bytes]:
    """Non-overlapping chunks at offsets 0, size, 2*size, ...; the last may be shorter."""
    return [data[k:k + size] for k in range(0, len(data), size)]


def split_indices(n_chunks: int, split: str) -> range:
    _check_split(split)
    half = n_chunks // 2
    return {"dev": range(0, half), "test": range(half, n_chunks), "all": range(0, n_chunks)}[split]


def pick(indices, n: int | None, seed: int) -> list[int]:
    """A seeded random sample of n indices (sorted), or all of them. `indices` may be a range of
    millions: random.sample draws from it without listing it (the same draw as from the list)."""
    if n is None or n >= len(indices):
        return list(indices)
    if n < 0:
        raise UsageError(f"n must be positive, got {n}")
    return sorted(random.Random(seed).sample(indices, n))


def synthetic_seed(seed: int, split: str) -> int:
    """Distinct sampler seeds per split (dev: 2*seed, test: 2*seed+1, all: 2*seed+1 as well)."""
    return 2 * seed + (split != "dev")


def indices(modality: str, split: str = "test", n: int | None = None, seed: int = 0,
            directory: str | os.PathLike | None = None):
    """The item indices of one modality (a range when all are taken), without reading data."""
    check_modalities([modality])
    _check_split(split)
    if modality == "synthetic":
        if n is None:
            raise UsageError("the synthetic dataset is drawn on demand: give a number of items (--n)")
        return range(n)
    span = split_indices(len(open_chunks(modality, directory)), split)
    return span if n is None or n >= len(span) else pick(span, n, seed)


def iter_items(modality: str, split: str = "test", n: int | None = None, seed: int = 0,
               directory: str | os.PathLike | None = None) -> Iterator[Item]:
    """Items of one modality, in index order, read one chunk at a time."""
    if modality == "synthetic":
        from ksynth.dsl.sample import sample

        indices(modality, split, n)                 # the same checks
        for i, s in enumerate(sample(n, synthetic_seed(seed, split))):
            yield Item("synthetic", i, bytes(s.sequence), s.program.format())
        return
    parts = open_chunks(modality, directory)
    for i in indices(modality, split, n, seed, directory):
        yield Item(modality, i, parts[i])


def load(modality: str, split: str = "test", n: int | None = None, seed: int = 0,
         directory: str | os.PathLike | None = None) -> list[Item]:
    """Items of one modality, in index order."""
    return list(iter_items(modality, split, n, seed, directory))

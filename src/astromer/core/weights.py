"""The authors' published weights by name (``SingleBandEncoder.from_pretraining("macho")``): a local cache,
filled once from their weights repository, every file checked against a SHA-256 recorded here.

Where the names come from: the authors' package (``astromer`` 0.1.8, ``ASTROMER/models.py``) downloads
``https://github.com/astromer-science/weights/raw/main/{name}.zip`` for ``from_pretraining(name)``, with
``name='macho'`` by default. Their weights repository has since renamed ``macho.zip`` to ``macho_a0.zip``
(the authors' main-code README's weights table: "v0 | MACHO | Paper's model | macho_a0.zip" and "v1 | MACHO |
Mask token and residual connections | macho_a1.zip"; ../shared/data/README.md: "macho_a0.zip, formerly
macho.zip"; users of 0.1.8 report a 404 for ``macho``). We try the current file name first, 0.1.8's second.
We could not reach the repository from here: these names were read, not fetched.

Checksums: we could not download the zip where this library was written, so the zip's SHA-256 is not known
here. What is recorded is the SHA-256 of each file of the published checkpoint, computed from the published
MACHO weights as unzipped (``../shared/data/astromer_macho_v0``: the same files a user gets from
``macho_a0.zip``). After a download, and every time the cache is used, those files are checked; the zip
itself is checked only when its SHA-256 is given (``zip_sha256``; the workflow's config key
``pretrain.published_sha256``).

Cache: ``$ASTROMER_WEIGHTS_DIR/<name>`` if that variable is set, else
``${XDG_CACHE_HOME:-~/.cache}/astromer/weights/<name>``. ``$ASTROMER_WEIGHTS_URL`` replaces the weights
repository's base URL (a mirror). To place the weights by hand, unzip ``macho_a0.zip`` so that
``<cache>/macho_a0/weights.index`` exists.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
from pathlib import Path

from ..errors import WeightsError

ENV_DIR = "ASTROMER_WEIGHTS_DIR"
ENV_URL = "ASTROMER_WEIGHTS_URL"
REPOSITORY_URL = "https://github.com/astromer-science/weights/raw/main/"  # as astromer 0.1.8 builds it


@dataclasses.dataclass(frozen=True)
class Published:
    name: str  # the cache folder's name
    zips: tuple  # file names in the weights repository, tried in this order
    files: dict  # path inside the unzipped folder -> SHA-256
    description: str


# sha256sum of ../shared/data/astromer_macho_v0/{checkpoint,conf.json,weights.index,weights.data-*}
_MACHO_V0_FILES = {
    "checkpoint": "10c68e19b9ee3362d19ad75f9c2549e6a6df8727525accb8601b1bc248546f7c",
    "conf.json": "a16a99636156e388437e2f8b4f75735c53abe67356172d5d65de048e4641b75f",
    "weights.index": "09c628f4fa0264c2d64b801fda150f54ed23a3f169f6eff2a525dedb3abe517e",
    "weights.data-00000-of-00001": "052a4d96e6c1d0fbb468e181c383a1e5c5873ebb810aca8628e50f967a545e96",
}
PUBLISHED = {
    "macho_a0": Published(
        "macho_a0",
        ("macho_a0.zip", "macho.zip"),
        _MACHO_V0_FILES,
        "the paper's encoder pretrained on MACHO (v0; legacy mode)",
    ),
}
ALIASES = {"macho": "macho_a0"}  # the name of the paper's listing and of astromer 0.1.8
# Names the authors publish that this library does not load by name, and why.
NOT_LOADED = {
    "macho_a1": "Astromer v1 (mask token and residual connections) is another architecture than this library's",
    "atlas": "listed by the authors' package, but its files' SHA-256 are not recorded here: download atlas.zip "
    "yourself and pass its unzipped folder as a path",
}


def known_names() -> str:
    return ", ".join(sorted([*PUBLISHED, *ALIASES]))


def cache_dir() -> Path:
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "astromer" / "weights"


def lookup(name: str) -> Published | None:
    """The published weights a name stands for, or None when it is not a name of ours."""
    name = ALIASES.get(str(name), str(name))
    if name in NOT_LOADED:
        raise WeightsError(f"published weights {name!r} are not loaded by name: {NOT_LOADED[name]}")
    return PUBLISHED.get(name)


def urls(spec: Published, base_url: str | None = None) -> list[str]:
    base = base_url or os.environ.get(ENV_URL) or REPOSITORY_URL
    return [base.rstrip("/") + "/" + z for z in spec.zips]


def checkpoint_folder(folder: Path) -> Path:
    """The folder that holds ``weights.index`` (the zip's top folder is flattened by unpack)."""
    if (folder / "weights.index").is_file():
        return folder
    found = sorted(folder.rglob("weights.index"))
    return found[0].parent if found else folder


def verify(folder, spec: Published) -> None:
    """Every recorded file present with its recorded SHA-256, else a WeightsError naming the file."""
    from ..download import sha256_file

    base = checkpoint_folder(Path(folder))
    for rel, expected in spec.files.items():
        path = base / rel
        if not path.is_file():
            raise WeightsError(f"published weights {spec.name!r}: {path} is missing")
        got = sha256_file(path)
        if got != expected:
            raise WeightsError(
                f"published weights {spec.name!r}: {path} has SHA-256 {got}, expected {expected} "
                "(corrupt, truncated or other weights)"
            )


def _by_hand(spec: Published, dest: Path, base_url: str | None) -> str:
    return (
        f"To place them by hand: download {urls(spec, base_url)[0]} and unzip it so that "
        f"{dest / 'weights.index'} exists (the cache folder is set by ${ENV_DIR})."
    )


@contextlib.contextmanager
def _locked(path: Path):
    """One process at a time fills a cache folder (parallel jobs, parallel tests)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch(name: str, dest=None, base_url: str | None = None, zip_sha256: str | None = None) -> Path:
    """The unzipped, verified folder of the published weights ``name`` (downloaded if absent).

    ``dest`` defaults to the cache folder ``cache_dir() / name``; the workflow's ``download_weights`` rule
    gives its output folder. Used by :meth:`SingleBandEncoder.from_pretraining` and
    ``astromer data download-weights``.
    """
    from ..download import DownloadError, unpack
    from ..download import fetch as download

    spec = lookup(name)
    if spec is None:
        raise WeightsError(f"{name!r} is not a name of published weights (known: {known_names()})")
    dest = Path(dest).expanduser() if dest is not None else cache_dir() / spec.name
    what = f"published weights {name!r} (cache: {dest})"
    with _locked(dest.with_name(f".{dest.name}.lock")):
        if dest.exists():
            try:
                verify(dest, spec)
            except WeightsError as exc:
                raise WeightsError(f"{exc}. Delete {dest} to download them again.") from None
            return dest
        archive = dest.with_name(f"{dest.name}.zip")
        try:
            download(
                urls(spec, base_url), archive, what=what, by_hand=_by_hand(spec, dest, base_url), sha256=zip_sha256
            )
            unpack(archive, dest, check=lambda folder: verify(folder, spec))
        except DownloadError as exc:
            raise WeightsError(str(exc)) from None
        except WeightsError as exc:
            raise WeightsError(f"{exc}; nothing was kept. {_by_hand(spec, dest, base_url)}") from None
        finally:
            archive.unlink(missing_ok=True)
    return dest


def resolve(name_or_path) -> Path:
    """A path that exists as given, else the cache folder of published weights of that name."""
    path = Path(name_or_path).expanduser()
    if path.exists() or lookup(str(name_or_path)) is None:
        return path  # checkpoint.locate says what is missing
    return fetch(str(name_or_path))

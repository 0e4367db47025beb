"""Locating and reading weights: the authors' object-based TF checkpoint (``weights.index`` +
``weights.data-*``, with ``conf.json``) and our Keras 3 ``.keras`` files, from a folder, a file or a zip.

Nothing is downloaded here: a path that holds no weights gets an error that lists where we looked (names of
the authors' published weights are resolved to a cache, downloaded if absent, by :mod:`astromer.core.weights`)."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

from ..errors import WeightsError
from . import weights
from .layers import MODEL_DEFAULTS

# our config keys -> the authors' conf.json keys
AUTHORS_CONF_KEYS = {
    "num_layers": "layers",
    "d_model": "head_dim",
    "num_heads": "heads",
    "dff": "dff",
    "max_obs": "max_obs",
}

SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
KERAS_NAMES = ("model.keras", "astromer.keras")


def _authors_prefix(folder: Path) -> Path | None:
    for index in sorted(folder.rglob("weights.index")):
        return index.with_suffix("")
    return None


def _keras_file(folder: Path) -> Path | None:
    for name in KERAS_NAMES:
        if (folder / name).is_file():
            return folder / name
    found = sorted(folder.rglob("*.keras"))
    return found[0] if found else None


def locate(path) -> tuple[str, Path]:
    """Return ("keras", file) or ("authors", checkpoint prefix) for a folder, a .keras file or a zip."""
    path = Path(path).expanduser()
    looked = [str(path.resolve())]
    if path.is_file() and path.suffix == ".keras":
        return "keras", path
    if path.is_file() and zipfile.is_zipfile(path):
        target = Path(tempfile.mkdtemp(prefix="astromer-weights-"))
        with zipfile.ZipFile(path) as archive:
            archive.extractall(target)
        path = target
        looked.append(f"{target} (unzipped)")
    elif path.is_file():
        raise WeightsError(f"{path}: neither a .keras file, a zip, nor a folder of ASTROMER weights")
    if path.is_dir():
        keras_file = _keras_file(path)
        if keras_file is not None:
            return "keras", keras_file
        prefix = _authors_prefix(path)
        if prefix is not None:
            return "authors", prefix
        raise WeightsError(
            f"no ASTROMER weights in {path}: looked for {', '.join(KERAS_NAMES)}, any *.keras and the authors' "
            f"'weights.index' checkpoint (searched: {'; '.join(looked)}). Nothing is downloaded for a path: "
            "give a published name instead (e.g. 'macho') or `astromer data download-weights`."
        )
    raise WeightsError(
        f"weights path {path} does not exist (searched: {'; '.join(looked)}); "
        f"published weights by name: {weights.known_names()}"
    )


def read_authors_config(prefix: Path) -> dict:
    """Architecture from the authors' conf.json beside the checkpoint (paper defaults if absent)."""
    conf = {key: MODEL_DEFAULTS[key] for key in AUTHORS_CONF_KEYS}
    conf_file = prefix.parent / "conf.json"
    if conf_file.is_file():
        try:
            raw = json.loads(conf_file.read_text())
        except json.JSONDecodeError as exc:
            raise WeightsError(f"{conf_file}: unreadable conf.json ({exc})") from None
        conf.update({ours: raw.get(theirs, conf[ours]) for ours, theirs in AUTHORS_CONF_KEYS.items()})
    return conf


def authors_variable_map(encoder, head) -> dict:
    """checkpoint key (without suffix) -> our Keras variable, following docs/checkpoint-variables.md."""
    mapping = {}

    def dense(prefix, layer):
        mapping[f"{prefix}/kernel"] = layer.kernel
        mapping[f"{prefix}/bias"] = layer.bias

    def norm(prefix, layer):
        mapping[f"{prefix}/gamma"] = layer.gamma
        mapping[f"{prefix}/beta"] = layer.beta

    enc = "layer_with_weights-0"
    dense(f"{enc}/inp_transform", encoder.inp_transform)
    for i, block in enumerate(encoder.enc_layers):
        base = f"{enc}/enc_layers/{i}"
        for name in ("wq", "wk", "wv", "dense"):
            dense(f"{base}/mha/{name}", getattr(block.mha, name))
        dense(f"{base}/ffn/layer_with_weights-0", block.ffn_1)
        dense(f"{base}/ffn/layer_with_weights-1", block.ffn_2)
        norm(f"{base}/layernorm1", block.layernorm1)
        norm(f"{base}/layernorm2", block.layernorm2)
    norm("layer_with_weights-1/bn_0", head.bn_0)
    dense("layer_with_weights-1/reg_layer", head.reg_layer)
    return mapping


def load_authors_weights(prefix: Path, encoder, head) -> int:
    """Assign every variable from the authors' checkpoint; returns the number of values loaded."""
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(str(prefix))
        shapes = reader.get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError, IndexError) as exc:
        raise WeightsError(f"{prefix}: unreadable or truncated TF checkpoint ({type(exc).__name__}: {exc})") from None
    mapping = authors_variable_map(encoder, head)
    stored = {k[: -len(SUFFIX)] for k in shapes if k.endswith(SUFFIX)}
    missing = sorted(set(mapping) - stored)
    if missing:
        raise WeightsError(
            f"{prefix}: not an ASTROMER v1 checkpoint of this architecture: {len(missing)} expected variables "
            f"are missing (first: {missing[0]})"
        )
    extra = sorted(k for k in stored - set(mapping) if "enc_layers" in k)
    if extra:
        raise WeightsError(f"{prefix}: the checkpoint has more attention blocks than the model (e.g. {extra[0]})")
    total = 0
    for key, variable in mapping.items():
        shape = tuple(shapes[key + SUFFIX])
        if shape != tuple(variable.shape):
            raise WeightsError(
                f"{prefix}: architecture mismatch at {key}: checkpoint {shape}, model {tuple(variable.shape)}"
            )
        try:
            value = reader.get_tensor(key + SUFFIX)
        except (tf.errors.OpError, ValueError, IndexError) as exc:
            raise WeightsError(f"{prefix}: truncated or corrupt checkpoint data at {key} ({exc})") from None
        variable.assign(value)
        total += value.size
    return total

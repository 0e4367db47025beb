import shutil
import zipfile

import pytest

from astromer import SingleBandEncoder
from astromer.errors import WeightsError

from conftest import WEIGHTS


def test_missing_folder_says_where_it_looked(tmp_path):
    with pytest.raises(WeightsError, match="does not exist") as info:
        SingleBandEncoder.from_pretraining(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)


def test_empty_folder_lists_what_it_looked_for(tmp_path):
    with pytest.raises(WeightsError, match="weights.index") as info:
        SingleBandEncoder.from_pretraining(tmp_path)
    assert "Nothing is downloaded" in str(info.value)


def test_truncated_checkpoint(tmp_path):
    folder = tmp_path / "w"
    shutil.copytree(WEIGHTS, folder)
    data = folder / "weights.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 3])
    with pytest.raises(WeightsError, match="truncated|corrupt|unreadable"):
        SingleBandEncoder.from_pretraining(folder)


def test_other_architecture(tmp_path):
    folder = tmp_path / "w"
    shutil.copytree(WEIGHTS, folder)
    (folder / "conf.json").write_text('{"layers": 2, "heads": 4, "head_dim": 128, "dff": 128, "max_obs": 200}')
    with pytest.raises(WeightsError, match="architecture mismatch"):
        SingleBandEncoder.from_pretraining(folder)
    (folder / "conf.json").write_text('{"layers": 3, "heads": 4, "head_dim": 256, "dff": 128, "max_obs": 200}')
    with pytest.raises(WeightsError, match="missing"):
        SingleBandEncoder.from_pretraining(folder)


def test_corrupt_keras_file(tmp_path):
    bad = tmp_path / "model.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(WeightsError, match="not a readable"):
        SingleBandEncoder.from_pretraining(bad)


def test_zip_of_published_weights(tmp_path):
    archive = tmp_path / "macho_a0.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in WEIGHTS.rglob("*"):
            if f.is_file():
                zf.write(f, f"macho/{f.relative_to(WEIGHTS)}")
    model = SingleBandEncoder.from_pretraining(archive)
    assert model.config["mode"] == "legacy" and model.model.count_params() == 661_505

"""Published weights by name (issue 15): the cache, a download from a local server (resumed, verified file
by file, unpacked atomically), and the one-line error offline or on a mismatch. Never a real host: the
weights repository's URL is replaced by 127.0.0.1 (a local server, or port 9 where nothing listens)."""

import io
import shutil
import zipfile

import pytest

from astromer import SingleBandEncoder, cli
from astromer.core import weights
from astromer.errors import WeightsError

from conftest import WEIGHTS
from http_support import serve


def data_main(argv):  # `astromer data ARGV`
    return cli.main(["data", *argv])


OFFLINE = "http://127.0.0.1:9/"  # the discard port: connection refused at once


def published_zip(tamper: str | None = None) -> bytes:
    """The published folder zipped as the authors publish it (one top folder), one file optionally altered."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for f in sorted(WEIGHTS.rglob("*")):
            if f.is_file():
                data = f.read_bytes()
                if f.name == tamper:
                    data = data[:-1] + bytes([data[-1] ^ 1])
                zf.writestr(f"macho/{f.relative_to(WEIGHTS)}", data)
    return buffer.getvalue()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(weights.ENV_DIR, str(folder))
    monkeypatch.setenv(weights.ENV_URL, OFFLINE)
    monkeypatch.chdir(tmp_path)  # a name must not be found as a folder of the working directory
    return folder


def test_recorded_checksums_are_those_of_the_published_files():
    weights.verify(WEIGHTS, weights.PUBLISHED["macho_a0"])
    assert set(weights.PUBLISHED["macho_a0"].files) == {
        "checkpoint",
        "conf.json",
        "weights.index",
        "weights.data-00000-of-00001",
    }


def test_name_loads_from_a_seeded_cache_without_network(cache, published_model):
    shutil.copytree(WEIGHTS, cache / "macho_a0")
    model = SingleBandEncoder.from_pretraining("macho")
    assert model.config["mode"] == "legacy" and model.model.count_params() == 661_505
    for ours, ref in zip(model.model.get_weights(), published_model.model.get_weights(), strict=True):
        assert (ours == ref).all()


def test_offline_error_is_one_line_saying_what_was_tried_and_what_to_do(cache):
    with pytest.raises(WeightsError) as info:
        SingleBandEncoder.from_pretraining("macho")
    message = str(info.value)
    assert "\n" not in message
    assert f"{OFFLINE}macho_a0.zip" in message and f"{OFFLINE}macho.zip" in message
    assert str(cache / "macho_a0" / "weights.index") in message and "by hand" in message
    assert not (cache / "macho_a0").exists()


def test_download_resumes_a_broken_transfer_and_unpacks_verified_files(cache, tmp_path):
    body = published_zip()
    dest = tmp_path / "w" / "macho_a0"
    with serve({"/macho_a0.zip": body}) as (url, requests):
        # a transfer that broke after 1000 bytes, from this very URL
        from astromer.download import part_path

        part = part_path(dest.with_name("macho_a0.zip"), f"{url}macho_a0.zip")
        part.parent.mkdir(parents=True)
        part.write_bytes(body[:1000])
        assert weights.fetch("macho", dest, base_url=url) == dest
    assert requests == [("/macho_a0.zip", "bytes=1000-")]
    for rel in weights.PUBLISHED["macho_a0"].files:
        assert (dest / rel).read_bytes() == (WEIGHTS / rel).read_bytes()
    assert sorted(p.name for p in dest.parent.iterdir()) == [".macho_a0.lock", "macho_a0"]  # no zip, no .part


def test_server_without_ranges_starts_over(tmp_path):
    body = published_zip()
    dest = tmp_path / "macho_a0"
    with serve({"/macho.zip": body}, ranges=False) as (url, requests):
        from astromer.download import part_path

        part_path(tmp_path / "macho_a0.zip", f"{url}macho.zip").write_bytes(b"garbage that is not the zip")
        weights.fetch("macho_a0", dest, base_url=url)
    # macho_a0.zip is absent on this server (404): astromer 0.1.8's name macho.zip is tried next
    assert [path for path, _ in requests] == ["/macho_a0.zip", "/macho.zip"]
    weights.verify(dest, weights.PUBLISHED["macho_a0"])


def test_a_tampered_file_is_refused_and_nothing_kept(tmp_path):
    dest = tmp_path / "macho_a0"
    with serve({"/macho_a0.zip": published_zip(tamper="weights.index")}) as (url, _):
        with pytest.raises(WeightsError) as info:
            weights.fetch("macho", dest, base_url=url)
    message = str(info.value)
    assert "weights.index" in message and weights.PUBLISHED["macho_a0"].files["weights.index"] in message
    assert "by hand" in message and "\n" not in message
    assert not dest.exists() and sorted(p.name for p in tmp_path.iterdir()) == [".macho_a0.lock"]


def test_a_corrupt_cache_is_reported_not_used(cache):
    shutil.copytree(WEIGHTS, cache / "macho_a0")
    data = cache / "macho_a0" / "weights.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(WeightsError, match=r"weights.data-00000-of-00001 has SHA-256 .* Delete .*macho_a0"):
        SingleBandEncoder.from_pretraining("macho")


def test_names_of_other_architectures_and_unknown_names(cache):
    with pytest.raises(WeightsError, match="another architecture"):
        SingleBandEncoder.from_pretraining("macho_a1")
    with pytest.raises(WeightsError, match="does not exist.*macho, macho_a0"):
        SingleBandEncoder.from_pretraining("nowhere")


def test_a_path_wins_over_a_name(cache, tmp_path):
    shutil.copytree(WEIGHTS, tmp_path / "macho")  # ./macho is a folder of weights: used as is
    assert SingleBandEncoder.from_pretraining("macho").config["mode"] == "legacy"
    assert not cache.exists()


# ---------------------------------------------------------------- the workflow's command (download_weights)
def test_download_weights_command_offline(tmp_path, capsys):
    out = tmp_path / "resources" / "weights" / "macho_a0"
    assert data_main(["download-weights", "--name", "macho_a0", "--out", str(out), "--url", OFFLINE]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: published weights 'macho_a0'")
    assert "\n" not in err and f"{OFFLINE}macho_a0.zip ([Errno 111]" in err and str(out / "weights.index") in err
    assert not out.exists()


def test_download_weights_command_checks_the_configured_sha256(tmp_path, capsys):
    import hashlib

    body = published_zip()
    out = tmp_path / "macho_a0"
    with serve({"/macho_a0.zip": body}) as (url, _):
        wrong = hashlib.sha256(body + b"x").hexdigest()
        assert (
            data_main(["download-weights", "--name", "macho_a0", "--out", str(out), "--url", url, "--sha256", wrong])
            == 2
        )
        err = capsys.readouterr().err
        assert "checksum mismatch" in err and wrong in err and hashlib.sha256(body).hexdigest() in err
        assert not out.exists() and not list(tmp_path.glob("*.part"))
        right = hashlib.sha256(body).hexdigest()
        assert (
            data_main(["download-weights", "--name", "macho_a0", "--out", str(out), "--url", url, "--sha256", right])
            == 0
        )
    assert (out / "weights.index").read_bytes() == (WEIGHTS / "weights.index").read_bytes()


def test_download_weights_rule_fails_clearly_offline(tmp_path):
    """The workflow's rule itself, run by Snakemake with the weights repository at an unreachable address."""
    import yaml

    from workflow_support import snakemake

    config = tmp_path / "published.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "pathvars": {name: str(tmp_path / name) for name in ("results", "resources", "logs", "benchmarks")},
                "pretrain": {"encoder_source": "published"},
            }
        )
    )
    target = tmp_path / "resources" / "weights" / "macho_a0"
    result = snakemake(
        "--configfile",
        str(config),
        "--cores",
        "1",
        "--nolock",
        str(target),
        env={weights.ENV_URL: OFFLINE, weights.ENV_DIR: str(tmp_path / "unused-cache")},
    )
    assert result.returncode != 0
    assert "download_weights" in result.stdout + result.stderr
    log = (tmp_path / "logs" / "download_weights_macho_a0.log").read_text().strip()
    assert log.startswith("error: published weights 'macho_a0'"), log
    assert f"{OFFLINE}macho_a0.zip" in log and str(target / "weights.index") in log
    assert not target.exists()

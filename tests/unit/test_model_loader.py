"""The quicker botocore loader (core/s3/model_loader.py) loads what
botocore's own loader loads and refuses what it refuses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader

from mpugui.core.s3.model_loader import loader_for


def test_the_s3_model_and_endpoint_data_are_botocore_s() -> None:
    ours, theirs = loader_for(None), Loader()
    for type_name in ("service-2", "endpoint-rule-set-1"):
        assert ours.load_service_model("s3", type_name) == \
            theirs.load_service_model("s3", type_name)
    assert ours.load_data("endpoints") == theirs.load_data("endpoints")
    assert ours.load_data("partitions") == theirs.load_data("partitions")


def test_the_service_list_is_botocore_s_and_an_unknown_service_is_refused() -> None:
    ours = loader_for(None)
    assert "s3" in ours.list_available_services("service-2")
    assert list(ours.list_available_services("service-2")) == \
        Loader().list_available_services("service-2")
    with pytest.raises(UnknownServiceError):
        ours.load_service_model("no-such-service", "service-2")


def test_a_model_on_aws_data_path_is_found_first(tmp_path: Path) -> None:
    # A user's own model (AWS_DATA_PATH) overrides botocore's, as with botocore.
    folder = tmp_path / "s3" / "2006-03-01"
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text('{"metadata": {"serviceId": "mine"}, "shapes": {}}')
    model = loader_for(str(tmp_path)).load_service_model("s3", "service-2")
    assert model["metadata"]["serviceId"] == "mine"


def test_a_parsed_file_is_kept_and_a_changed_or_broken_copy_is_not_used(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "data" / "s3" / "2006-03-01"
    folder.mkdir(parents=True)
    model = folder / "service-2.json"
    model.write_text('{"metadata": {"serviceId": "first"}, "shapes": {"a": 1, "b": [2, 3]}}')
    load = loader_for(str(tmp_path / "data")).file_loader.load_file
    assert load(str(folder / "service-2"))["metadata"]["serviceId"] == "first"
    (copy,) = (tmp_path / "cache" / "mpugui" / "botocore-data").iterdir()
    assert load(str(folder / "service-2")) == {"metadata": {"serviceId": "first"},
                                               "shapes": {"a": 1, "b": [2, 3]}}
    copy.write_bytes(b"\x00not marshal")  # broken: the JSON again, kept anew
    assert load(str(folder / "service-2"))["shapes"] == {"a": 1, "b": [2, 3]}
    model.write_text('{"metadata": {"serviceId": "second"}, "shapes": {}}')
    st = model.stat()
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert load(str(folder / "service-2"))["metadata"]["serviceId"] == "second"  # not the copy
    copies = list((tmp_path / "cache" / "mpugui" / "botocore-data").iterdir())
    assert len(copies) == 2 and not [c for c in copies if c.suffix == ".tmp"]


def test_an_unwritable_cache_dir_costs_only_the_copy(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache dir would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert loader_for(None).load_service_model("s3", "service-2") == \
        Loader().load_service_model("s3", "service-2")

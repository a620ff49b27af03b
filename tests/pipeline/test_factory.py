"""Wiring helpers of the factory."""

from pipeline.factory import _shown


def test_recorded_program_paths_do_not_name_this_machines_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path / ".")
    (tmp_path / "artifacts").mkdir()
    assert _shown(tmp_path / "artifacts" / "program.json") == "artifacts/program.json"
    assert _shown("artifacts/program.json") == "artifacts/program.json"
    elsewhere = tmp_path.parent / "other" / "program.json"
    assert _shown(elsewhere) == str(elsewhere.resolve())  # outside the working directory: absolute


def test_a_stored_persona_that_is_no_longer_valid_is_a_clear_error(tmp_path):
    """An index ingested before site_map hrefs were checked may hold a javascript: link."""
    import json

    import pytest

    from pipeline.factory import PERSONA_FILE, index_persona
    from pipeline.providers.base import ProviderError
    from pipeline.settings import Settings

    (tmp_path / PERSONA_FILE).write_text(json.dumps({"name": "X", "site_map": [{"label": "a", "href": "javascript:x"}]}))
    with pytest.raises(ProviderError, match="workbench ingest"):
        index_persona(Settings(index_dir=tmp_path))

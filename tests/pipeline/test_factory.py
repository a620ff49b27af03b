"""Wiring helpers of the factory."""

from pipeline.factory import _shown


def test_recorded_program_paths_do_not_name_this_machines_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path / ".")
    (tmp_path / "artifacts").mkdir()
    assert _shown(tmp_path / "artifacts" / "program.json") == "artifacts/program.json"
    assert _shown("artifacts/program.json") == "artifacts/program.json"
    elsewhere = tmp_path.parent / "other" / "program.json"
    assert _shown(elsewhere) == str(elsewhere.resolve())  # outside the working directory: absolute

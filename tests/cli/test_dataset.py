"""The own-content path on the command line: chunks → dataset draft → dataset check → eval --dataset."""

import json

import pytest
from typer.testing import CliRunner

from workbench import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in ("GEMINI_API_KEY", "PINECONE_API_KEY", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "RAG_LM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path


def test_chunks_lists_ids_sources_headings_and_doc_types(env, mini_index):
    result = runner.invoke(app, ["chunks", "--index", str(mini_index.index_dir), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {"id": "education.md#ms-in-robotics", "source": "education.md", "heading": "M.S. in Robotics",
            "doc_type": "education", "page": "CV / Education"} in rows
    table = runner.invoke(app, ["chunks", "--index", str(mini_index.index_dir)])
    assert table.exit_code == 0 and "papers.md#swarm-coordination-with-sparse-signals" in table.stdout
    missing = runner.invoke(app, ["chunks", "--index", str(env / "none")])
    assert missing.exit_code == 1 and "workbench ingest" in missing.output


def test_draft_then_check_a_dataset_for_your_own_content(env, mini_corpus, mini_index):
    out = env / "mine.jsonl"
    drafted = runner.invoke(app, ["dataset", "draft", str(mini_corpus), "--out", str(out)])
    assert drafted.exit_code == 0, drafted.output
    assert "draft cases from 4 chunks" in drafted.stdout and "workbench dataset check" in drafted.output
    again = runner.invoke(app, ["dataset", "draft", str(mini_index.index_dir), "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.output  # never overwrites edits quietly
    assert runner.invoke(app, ["dataset", "draft", str(mini_index.index_dir), "--out", str(out),
                               "--force"]).exit_code == 0  # an index works as well as the corpus
    checked = runner.invoke(app, ["dataset", "check", str(out), "--index", str(mini_index.index_dir)])
    assert checked.exit_code == 0, checked.output
    assert "0 error(s)" in checked.stdout and "draft case, not reviewed yet" in checked.stdout

    lines = out.read_text(encoding="utf-8").splitlines()
    case = json.loads(lines[0])
    case["reference_contexts"] = [{"source": "education.md", "heading": "MS in Robotic"}]
    lines[0] = json.dumps(case)
    out.write_text("\n".join(lines), encoding="utf-8")
    broken = runner.invoke(app, ["dataset", "check", str(out), "--index", str(mini_index.index_dir)])
    assert broken.exit_code == 1
    assert "line 1: error: reference context 'education.md#ms-in-robotic' is not a chunk" in broken.stdout
    assert "closest chunks: education.md#ms-in-robotics" in broken.stdout and "workbench chunks" in broken.stdout


def test_check_without_an_index_still_validates_the_file(env):
    bad = env / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    result = runner.invoke(app, ["dataset", "check", str(bad), "--index", str(env / "none")])
    assert result.exit_code == 1 and "reference contexts are not checked" in result.output
    assert 'line 1: error: question: Field required' in result.stdout and 'add "question"' in result.stdout


def test_the_schema_command_prints_the_committed_schema(env):
    from evals.dataset import SCHEMA_FILE

    result = runner.invoke(app, ["dataset", "schema"])
    assert result.exit_code == 0 and json.loads(result.stdout) == json.loads(SCHEMA_FILE.read_text())


@pytest.mark.model
def test_eval_on_another_index_without_a_dataset_says_so_once(env, mini_corpus, monkeypatch):
    index = env / "mine"
    assert runner.invoke(app, ["ingest", str(mini_corpus), "--index", str(index)]).exit_code == 0
    monkeypatch.setenv("RAG_PROGRAM", "none")
    from tests.conftest import ROOT

    monkeypatch.chdir(ROOT)  # the default dataset and baseline are repo paths
    result = runner.invoke(app, ["eval", "--index", str(index), "--runs", str(env / "runs")])
    assert result.exit_code == 1
    assert "this dataset is for the demo corpus; pass --dataset for your index (see `workbench dataset draft`)" \
        in result.output
    assert result.output.count("is not a chunk") == 0  # not one line per reference

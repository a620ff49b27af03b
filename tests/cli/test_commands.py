"""The `workbench` command line, driven in-process through Typer's runner."""

import json

import pytest
from typer.testing import CliRunner

from workbench import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A clean environment: no keys, private cache and program paths."""
    for name in ("GEMINI_API_KEY", "PINECONE_API_KEY", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "RAG_LM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RAG_PROGRAM", "none")  # the unoptimized program
    monkeypatch.chdir(tmp_path)  # no stray .env
    return monkeypatch


def test_help_lists_the_commands(env):
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("ingest", "chat", "config", "accept"):
        assert command in result.output


def test_config_masks_secrets_and_shows_the_chosen_providers(env):
    env.setenv("GEMINI_API_KEY", "AIzaSECRETSECRET1234")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 0
    assert "AIzaSECRETSECRET1234" not in result.output and "****1234" in result.output
    assert "gemini/gemini-2.5-flash" in result.output  # the key switches the LM to Gemini


def test_ingest_reports_a_missing_folder_clearly(env, tmp_path):
    result = runner.invoke(app, ["ingest", str(tmp_path / "missing"), "--index", str(tmp_path / "i")])
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output


def test_ingest_reports_a_folder_without_usable_files(env, tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "notes.txt").write_text("plain notes")
    (tmp_path / "c" / "page.md").write_text("---\ntitle: [unclosed\n---\ntext\n")
    result = runner.invoke(app, ["ingest", str(tmp_path / "c"), "--index", str(tmp_path / "i")])
    assert result.exit_code == 1
    assert "no readable page or data file" in result.output and "notes.txt" in result.output


@pytest.mark.model
def test_ingest_twice_with_the_real_embedder(env, mini_corpus, tmp_path):
    index = tmp_path / "index"
    first = runner.invoke(app, ["ingest", str(mini_corpus), "--index", str(index), "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout.strip().splitlines()[-1])
    assert report["new"] == 4 and report["files"] == 2
    second = json.loads(runner.invoke(app, ["ingest", str(mini_corpus), "--index", str(index), "--json"]).stdout)
    assert (second["new"], second["updated"], second["unchanged"]) == (0, 0, 4)


def test_chat_rejects_bad_input(env, tmp_path):
    assert runner.invoke(app, ["chat", "   "]).exit_code == 2
    assert runner.invoke(app, ["chat", "--mode", "sparse", "hi"]).exit_code == 2
    missing = runner.invoke(app, ["chat", "--index", str(tmp_path / "none"), "hello"])
    assert missing.exit_code == 1 and "workbench ingest" in missing.output


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize("question", ["Who is your Ph.D. advisor?", "지도교수님이 누구세요?"])
def test_chat_answers_from_the_education_page(env, demo_index, question):
    result = runner.invoke(app, ["chat", "--index", str(demo_index), "--json", question])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert "education.md" in [s["source"] for s in data["sources"]]
    assert "Junho Moon" in data["text"] or "Kyungmin Cho" in data["text"]
    assert data["language"] == ("ko" if "지도" in question else "en")


@pytest.mark.parametrize("command", [
    ["chat", "hello"], ["eval", "--split", "dev"], ["serve", "--port", "9"], ["optimize"], ["accept"],
])
def test_a_program_that_does_not_exist_is_an_error_naming_it(env, tmp_path, command):
    missing = tmp_path / "typo" / "program.json"
    result = runner.invoke(app, [*command, "--program", str(missing)])
    assert result.exit_code == 1, result.output
    assert str(missing) in result.output.replace("\n", "") and "does not exist" in result.output
    assert "Traceback" not in result.output


def test_a_missing_rag_program_is_an_error_too(env, tmp_path):
    env.setenv("RAG_PROGRAM", str(tmp_path / "gone.json"))
    result = runner.invoke(app, ["chat", "hello"])
    assert result.exit_code == 1 and "gone.json" in result.output


def one_error_line(result) -> str:
    """The CLI's whole answer to a failure: one `error: …` line, no traceback."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output and len(lines) == 1, result.output
    assert lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.fixture
def fake_embedder(env):
    """No model load: the commands get the keyword-hash embedder of the unit tests."""
    from tests.fakes import HashEmbedder

    env.setattr("pipeline.factory.make_embedder", lambda settings: HashEmbedder())


def test_ingest_with_a_persona_of_the_wrong_type_is_one_clear_error(env, fake_embedder, mini_corpus, tmp_path):
    (mini_corpus / "persona.yaml").write_text("name: 5\n")
    result = runner.invoke(app, ["ingest", str(mini_corpus), "--index", str(tmp_path / "i")])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "persona.yaml" in line and "'name' must be text" in line
    assert not (tmp_path / "i").exists()  # refused before anything was embedded or written


def test_ingest_into_an_index_that_cannot_be_written_is_one_clear_error(env, fake_embedder, mini_corpus, tmp_path):
    # chmod does not stop root: a regular file where the index's parent folder should be stops everyone
    (tmp_path / "a-file").write_text("")
    index = tmp_path / "a-file" / "index"
    result = runner.invoke(app, ["ingest", str(mini_corpus), "--index", str(index)])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert str(index) in line and "--index" in line


def test_ingest_reports_any_os_error_in_one_line(env, fake_embedder, mini_corpus, tmp_path):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "i" / "chunks.lance"))

    env.setattr("pipeline.ingest.ingest", denied)
    result = runner.invoke(app, ["ingest", str(mini_corpus), "--index", str(tmp_path / "i")])
    assert result.exit_code == 1
    assert "Permission denied" in one_error_line(result)


def test_ingest_reports_what_it_split(env, fake_embedder, tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.md").write_text("---\ntitle: A\n---\n## Long\n" + "A sentence that goes on. " * 200 + "\n")
    result = runner.invoke(app, ["ingest", str(corpus), "--index", str(tmp_path / "i"), "--json"])
    assert result.exit_code == 0, result.output
    assert "a.md#long" in result.output and "4 chunks" in result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["split"] == [{"source": "a.md", "anchor": "long", "parts": 4}]


def test_serve_with_a_missing_index_that_cannot_be_written_is_one_clear_error(env, fake_embedder, mini_corpus,
                                                                             tmp_path):
    env.setenv("RAG_CORPUS_DIR", str(mini_corpus))
    (tmp_path / "a-file").write_text("")
    index = tmp_path / "a-file" / "index"
    result = runner.invoke(app, ["serve", "--index", str(index), "--port", "9"])
    assert result.exit_code == 1
    notice, _, error = result.output.partition("error: ")
    assert notice.startswith("no index at")  # it was about to ingest
    assert "Traceback" not in result.output and "\n" not in error.strip()
    assert str(index) in error and "--index" in error


def test_serve_brings_an_index_from_an_older_version_up_to_date(tmp_path, mini_corpus, monkeypatch):
    """An index the current version would refuse (every request a 503) is re-ingested before serving."""
    from pipeline import factory
    from pipeline.ingest import ingest
    from pipeline.providers.lancedb_store import LanceDBStore
    from pipeline.settings import Settings
    from pipeline.text import KEYWORDS_VERSION
    from tests.fakes import HashEmbedder
    from workbench import ensure_index

    index = tmp_path / "index"
    ingest(mini_corpus, LanceDBStore(index), HashEmbedder())
    manifest = LanceDBStore(index).data_dir / "manifest.json"
    manifest.write_text(manifest.read_text().replace(f'"keywords": {KEYWORDS_VERSION}', '"keywords": 4'))
    assert LanceDBStore(index).keywords_version() == 4
    monkeypatch.setattr(factory, "make_embedder", lambda settings: HashEmbedder())
    ensure_index(Settings(corpus_dir=mini_corpus, index_dir=index))
    store = LanceDBStore(index)
    assert store.keywords_version() == KEYWORDS_VERSION
    factory.check_index(store, HashEmbedder())  # what start-up checks: it is served now


def test_widget_prints_the_pinned_tag_and_refuses_a_url_with_a_path():
    from service.widget import widget_script

    script = widget_script()
    result = runner.invoke(app, ["widget", "https://twin.example.org", "--site", "https://ada.github.io"])
    assert result.exit_code == 0, result.output
    assert f'src="https://twin.example.org{script.path}" integrity="{script.integrity}"' in result.stdout
    assert "RAG_WIDGET_ORIGINS=https://ada.github.io" in result.output
    bad = runner.invoke(app, ["widget", "https://twin.example.org/api/chat"])
    assert bad.exit_code == 2 and "no path" in bad.output


def test_glossary_draft_writes_the_sites_pairs_for_review_and_optimize_refuses_a_broken_one(env, tmp_path,
                                                                                          mini_corpus):
    from pipeline.ingest import ingest
    from pipeline.providers.lancedb_store import LanceDBStore
    from tests.fakes import HashEmbedder

    (mini_corpus / "projects.md").write_text("# Projects\n\n## 느린 기술 (Slow Tech)\n\nA research theme.\n",
                                             encoding="utf-8")
    ingest(mini_corpus, LanceDBStore(tmp_path / "index"), HashEmbedder())
    out = tmp_path / "glossary.yaml"
    result = runner.invoke(app, ["glossary", "draft", "--index", str(tmp_path / "index"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Glossary entries drafted") and "느린 기술: Slow Tech" in text
    assert runner.invoke(app, ["glossary", "draft", "--index", str(tmp_path / "index"), "--out", str(out)]).exit_code == 1

    bad = tmp_path / "bad.yaml"
    bad.write_text("ko:\n  glossary: [not, a, mapping]\n", encoding="utf-8")
    refused = runner.invoke(app, ["optimize", "--index", str(tmp_path / "index"), "--glossary", str(bad)])
    assert refused.exit_code == 1 and "--glossary" in refused.output and "bad.yaml" in refused.output

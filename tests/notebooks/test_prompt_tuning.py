"""The prompt-tuning notebook: committed without outputs, and it runs top to bottom."""

import nbformat
import pytest

from tests.conftest import ROOT

NOTEBOOK = ROOT / "notebooks" / "prompt_tuning.ipynb"


def test_the_notebook_is_committed_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    dirty = [i for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"strip the outputs of cells {dirty} (jupyter nbconvert --clear-output --inplace)"


@pytest.mark.model
@pytest.mark.slow
def test_the_notebook_runs_top_to_bottom(local_settings, monkeypatch, tmp_path):
    from nbclient import NotebookClient

    monkeypatch.setenv("RAG_INDEX_DIR", str(local_settings.index_dir))
    monkeypatch.setenv("RAG_CACHE_DIR", str(local_settings.cache_dir))
    monkeypatch.setenv("RAG_PROGRAM", "none")  # the unoptimized program
    for name in ("GEMINI_API_KEY", "PINECONE_API_KEY", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "RAG_LM"):
        monkeypatch.delenv(name, raising=False)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    texts = "\n".join(
        output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "candidate:" in texts and "saved" in texts
    assert "Traceback" not in texts
    assert (ROOT / "runs" / "notebook-candidate.json").exists()

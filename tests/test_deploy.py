"""The workbench as its users install it: a built wheel in a fresh virtualenv with the locked
dependencies, used from a folder that is not the checkout. The container image installs with the
same script (`deploy/install.sh`), so this is also what the Dockerfile's steps do."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "datasets" / "sites" / "alfolio"


def test_the_container_installs_and_serves_with_the_tested_scripts():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "deploy/install.sh /opt/venv" in dockerfile
    assert 'CMD ["workbench", "serve"' in dockerfile and "HEALTHCHECK" in dockerfile and "USER twin" in dockerfile
    compose = (ROOT / "compose.yaml").read_text()
    assert "build: ." in compose and "RAG_SERVICE_URL: http://api:8000" in compose


@pytest.mark.slow
@pytest.mark.model
def test_a_built_wheel_in_a_clean_venv_ingests_chats_evaluates_and_serves(tmp_path):
    venv, work = tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "VIRTUAL_ENV", "GEMINI", "PINECONE",
                                                                     "LANGFUSE"))}
    env["UV"] = str(ROOT / ".venv" / "bin" / "uv")
    subprocess.run([str(ROOT / "deploy" / "install.sh"), str(venv)], check=True, env=env, timeout=1500)
    smoke = subprocess.run([str(ROOT / "deploy" / "smoke.sh"), str(venv), str(SITE / "site"),
                            str(SITE / "questions.jsonl")], cwd=work, env=env, capture_output=True, text=True,
                           timeout=900)
    assert smoke.returncode == 0, smoke.stderr[-3000:]

    ingested = json.loads((work / "ingest.json").read_text())
    assert ingested["layout"] == "jekyll" and ingested["chunks"] > 50
    assert json.loads((work / "chat.json").read_text())["text"]
    assert json.loads((work / "eval.json").read_text())["score"] > 0.5
    answer = json.loads((work / "answer.json").read_text())
    assert answer["status"] == 200 and answer["response"]
    assert answer["widget_bytes"] > 1000  # the widget is package data: a wheel without it serves none
    # its data in the working folder, none in the installed package; the served program ships in it
    assert (work / ".data" / "index").is_dir() and (work / ".data" / "dspy-cache").is_dir()
    site_packages = next(venv.glob("lib/python*/site-packages"))
    assert not (site_packages / ".data").exists()
    assert (site_packages / "pipeline" / "artifacts" / "program.json").is_file()

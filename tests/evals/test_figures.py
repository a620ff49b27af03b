import json
from pathlib import Path

from evals.figures import readme_table, rewrite_readme, table

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_shows_the_figures_the_committed_baselines_hold():
    assert readme_table(ROOT / "README.md") == table(ROOT / "datasets"), \
        "README.md is stale: run `workbench figures --readme` (make eval-baseline does)"


def test_the_table_has_a_row_per_baseline_single_before_chat(tmp_path):
    root = tmp_path / "datasets"
    for folder, chat, score in (("", False, 0.8), ("", True, 0.7), ("sites/x", False, 0.6)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        name = "baseline-conversation.json" if chat else "baseline.json"
        summary = {"dataset": f"datasets/{folder}/questions.jsonl".replace("//", "/"), "conversation": chat,
                   "questions": 3, "metrics": {"score": score, "chat_consistency": 0.5 if chat else None}}
        (root / folder / name).write_text(json.dumps({"questions": [], "summary": summary}))
    lines = table(root).splitlines()[2:]
    assert [line.split(" | ")[:2] for line in lines] == [["| demo", "single"], ["| demo", "one chat"],
                                                        ["| sites/x", "single"]]
    assert "0.700" in lines[1] and lines[1].endswith("0.500 |") and lines[0].endswith("– |")
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- figures:start -->\nold\n<!-- figures:end -->\nrest\n")
    assert rewrite_readme(readme, root) and not rewrite_readme(readme, root)
    assert readme.read_text().startswith("intro\n") and readme.read_text().endswith("rest\n")

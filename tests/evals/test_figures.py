import json
from pathlib import Path

from evals.figures import BLOCKS, Block, acceptance_table, stale, table, write

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_show_the_figures_the_committed_measurements_hold():
    assert {b.page for b in BLOCKS} == {"README.md", "docs/evaluation.md"}
    assert not stale(ROOT), "stale generated figures: run `make docs` (make eval-baseline and make accept do)"


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
    block = Block("README.md", "figures", table)
    assert write(block, tmp_path) and not write(block, tmp_path)
    assert readme.read_text().startswith("intro\n") and readme.read_text().endswith("rest\n")


def test_the_acceptance_table_leads_with_retrieval_hybrid_beside_dense_and_keeps_counts_whole(tmp_path):
    figures = {"declined (off-topic, injection)": {"en": 1.0, "ko": 0.5, "all": 0.75},
               "hit@1": {"en": 0.9, "ko": 0.8, "all": 0.85}, "scored questions": {"en": 3, "ko": 2, "all": 5},
               "korean answer has korean": {"en": None, "ko": 1.0, "all": 1.0}}
    kept = {"hybrid": {"cases": 7, "figures": figures}, "dense": {"cases": 7, "figures": {"hit@1": {"en": 0.5}}}}
    (tmp_path / "acceptance.json").write_text(json.dumps(kept))
    rows = acceptance_table(tmp_path).splitlines()
    assert rows[0] == "| figure (7 cases) | en | ko | all | goal |"
    assert rows[2].startswith("| hit@1 (hybrid) | 0.900 |") and rows[3].startswith("| hit@1 (dense) | 0.500 | – |")
    assert "| scored questions | 3 | 2 | 5 |" in rows[-2] + rows[-1] + "".join(rows)
    assert any(r.startswith("| korean answer has korean | – | 1.000") for r in rows)

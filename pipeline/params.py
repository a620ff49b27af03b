"""Everything tunable that is not a prompt: saved beside the predictors' state.

Language knowledge (exemplars, cues, glossary…) is not copied here: it lives in the
language packs (`pipeline/lang`), and a program saves only its overrides of them and the
packs' fingerprint, so the two cannot silently drift apart.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from pipeline.providers.base import DEFAULT_HYBRID_ALPHA
from pipeline.turn import MAX_ANSWER_CHARS


class PlannerParams(BaseModel):
    """Thresholds of the signal planner (the exemplars are in the language packs)."""

    label_margin: float = 0.02  # a non-owner label must beat "owner" by this much
    # no label won: "owner" when its similarity is within this much of the highest label threshold
    owner_margin: float = 0.02
    greeting_min_sim: float = 0.86
    identity_min_sim: float = 0.86
    off_topic_min_sim: float = 0.84
    injection_min_sim: float = 0.86
    relevance_min_score: float = 0.80  # best dense similarity for an unlabelled query to count as on-topic
    lm_weight_local: float = 0.0  # how much the plan trusts a small local LM (0 skips the call)
    lm_weight_capable: float = 0.8
    multi_section_k: int = 8


class ProgramParams(BaseModel):
    planner: PlannerParams = Field(default_factory=PlannerParams)
    retrieval_mode: Literal["hybrid", "dense"] = "hybrid"
    hybrid_alpha: float = Field(DEFAULT_HYBRID_ALPHA, ge=0.0, le=1.0)
    # how much a section guessed from keyword cues counts (soft filter: rank fusion weight)
    section_filter_weight: float = 1.0
    top_k: int = Field(5, ge=0, le=50)
    max_answer_chars: int = Field(MAX_ANSWER_CHARS, ge=50)
    # the local LM writes a one-line framing, kept only when it passes compose.safe_lead;
    # measured: SmolLM2-135M passes 0 of 66 times on the demo questions (the optimizer's call)
    lead_from_lm: bool = True
    # a follow-up carries the previous question, and this much of the previous answer, into retrieval
    follow_up_with_answer: bool = True
    follow_up_answer_chars: int = 160
    # a message with no word that refers back is a follow-up when the earlier question raises the best
    # similarity to the site's content by this much (stage rewrite)
    follow_up_evidence_gain: float = 0.025
    follow_up_confident: float = 0.82  # ...unless the message alone is already this close to the content
    # the most of the visitor's text that is embedded and keyword-searched (e5 reads 512 tokens at most)
    max_search_chars: int = Field(400, ge=50)
    # the extractive answer (pipeline.compose): how much of the passages it quotes, and how close in
    # meaning (best dense similarity) passages must be to count as answering when no line shares a word
    found_min_similarity: float = 0.82
    fact_chars: int = 360
    fact_passages: int = 3
    fact_lines_top: int = 3
    fact_lines_other: int = 1
    # language packs: this program's overrides ({"en": {"glossary": {...}}}) and the packs' fingerprint
    lang_overrides: dict = Field(default_factory=dict)
    lang_fingerprint: str = ""

"""Answers that do not need a capable LM: fixed replies in both languages and
extractive answers built from the retrieved passages' best lines."""

from __future__ import annotations

import re
from typing import Callable, Sequence

from pipeline.persona import Persona
from pipeline.providers.base import Hit
from pipeline.text import contains_korean

LANGUAGE_NAMES = {"en": "English", "ko": "Korean"}
MAX_FACT_CHARS = 360
_LINE_SPLIT = re.compile(r"\n+")


def _name(persona: Persona, language: str) -> str:
    return persona.native_name if language == "ko" and persona.native_name else persona.name


def greeting(persona: Persona, language: str) -> str:
    if language == "ko":
        return (
            f"안녕하세요! 저는 {_name(persona, 'ko')}의 디지털 트윈이에요. "
            "학력, 연구, 프로젝트, 논문, 수상 경력에 대해 편하게 물어보세요."
        )
    return (
        f"Hi! I'm the digital twin of {persona.name}. "
        "Ask me about my education, research, projects, papers or awards."
    )


def identity(persona: Persona, language: str) -> str:
    if language == "ko":
        return (
            f"저는 {_name(persona, 'ko')}의 포트폴리오 사이트 내용을 바탕으로 답하는 디지털 트윈이에요. "
            "학력, 경력, 프로젝트, 논문, 수상에 대해 물어보세요."
        )
    summary = f" {persona.summary}" if persona.summary else ""
    return (
        f"I'm the digital twin of {persona.name}, answering from the content of this site.{summary} "
        "Ask me about my education, experience, projects, papers or awards."
    )


def decline(persona: Persona, language: str) -> str:
    if language == "ko":
        return (
            f"죄송하지만 저는 {_name(persona, 'ko')}의 학력, 연구, 프로젝트, 논문, 수상 등에 관한 질문에만 답할 수 있어요."
        )
    return (
        f"Sorry, I can only answer questions about {persona.name}'s background and work: "
        "education, research, projects, papers and awards."
    )


def not_found(persona: Persona, language: str) -> str:
    if language == "ko":
        return "죄송해요, 제 사이트에서 그 내용을 찾지 못했어요. 학력, 프로젝트, 논문에 대해 물어봐 주세요."
    return "Sorry, I couldn't find that on my site. Try asking about my education, projects or papers."


def lookup_unavailable(persona: Persona, language: str) -> str:
    """The degraded reply when the site's content cannot be searched (embedder or store down)."""
    if language == "ko":
        return "죄송해요, 지금은 제 사이트 내용을 찾아볼 수 없어요. 잠시 후에 다시 물어봐 주세요."
    return "Sorry, I can't look that up right now. Please ask me again in a little while."


def format_passages(hits: Sequence[Hit]) -> str:
    """Numbered, delimited passages: the LM sees them as quoted data."""
    blocks = []
    for i, hit in enumerate(hits, start=1):
        c = hit.chunk
        blocks.append(f"[{i}] source: {c.source} | section: {c.title}\n<<<\n{c.text}\n>>>")
    return "\n\n".join(blocks)


def supporting_lines(
    query: str,
    hits: Sequence[Hit],
    tokenize: Callable[[str], list[str]],
    limit: int = MAX_FACT_CHARS,
    *,
    passages: int = 3,
    lines_top: int = 3,
    lines_other: int = 1,
) -> list[str]:
    """The best lines of the top passages for this query, within `limit` characters.

    The top passage leads with its heading and its `lines_top` lines that share most
    words with the query; among the next `passages - 1`, one from another file adds
    `lines_other` lines when room remains, which is what multi-hop questions need.
    """
    wanted = set(tokenize(query))
    facts: list[str] = []
    used = 0
    seen_sources: set[str] = set()
    for rank, hit in enumerate(hits[: max(1, passages)]):
        if rank > 0 and (lines_other <= 0 or hit.chunk.source in seen_sources or used > limit * 0.6):
            continue
        lines = [ln.strip() for ln in _LINE_SPLIT.split(hit.chunk.text) if ln.strip()]
        scored = sorted(
            range(len(lines)), key=lambda i: (-len(wanted & set(tokenize(lines[i]))), i)
        )
        keep = sorted(scored[: max(1, lines_top) if rank == 0 else lines_other])
        block = [hit.chunk.title] + [lines[i] for i in keep if lines[i] != hit.chunk.title]
        text = " — ".join([block[0], "; ".join(block[1:])]) if len(block) > 1 else block[0]
        room = limit - used
        if room < 40:
            break
        if len(text) > room:
            text = text[: room - 1].rsplit(" ", 1)[0] + "…"
        facts.append(text)
        used += len(text)
        seen_sources.add(hit.chunk.source)
    return facts


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def safe_lead(lead: str, facts: Sequence[str], question: str = "") -> str | None:
    """Keep an LM framing sentence only if it is short, is not a copy of the facts,
    and names no number or proper noun that the facts and question do not."""
    lead = (lead or "").strip().split("\n")[0]
    words = lead.split()
    if not 4 <= len(words) <= 24 or len(lead) > 160 or contains_korean(lead):
        return None
    if re.search(r"[{}#<>_@|\[\]]", lead) or not re.match(r"(I|I'm|I've|My|Yes|No|Here|This|That)\b", lead):
        return None  # template debris, markup, or not a first-person framing
    if max(words.count(w) for w in words) > 2:
        return None  # a small model's loop
    known_text = " ".join([*facts, question])
    if "—" in lead or ";" in lead or _norm(lead) in _norm(known_text):
        return None  # a copied fact line, not a framing sentence
    if set(re.findall(r"\d+", lead)) - set(re.findall(r"\d+", known_text)):
        return None  # a small model invents dates; drop the sentence rather than the facts
    names = {w.rstrip(".") for w in re.findall(r"\b[A-Z][\w.-]+", lead) if w.lower() not in _SENTENCE_WORDS}
    if {n for n in names if n not in known_text}:
        return None
    return lead if lead.endswith((".", ":", "!")) else lead + ":"


_SENTENCE_WORDS = {"i", "i'm", "i've", "my", "the", "this", "here", "these", "it", "yes", "sure", "in", "at", "as"}


def mentions_query(query: str, facts: Sequence[str], tokenize: Callable[[str], list[str]]) -> bool:
    """Whether the quoted facts share any content word with the query."""
    wanted = set(tokenize(query))
    return bool(wanted & set(tokenize(" ".join(facts))))


def extractive(
    persona: Persona,
    language: str,
    facts: Sequence[str],
    lead: str | None,
    section: str | None,
    writes_language: bool,
    found: bool = True,
) -> str:
    """Framing sentence + quoted facts + pointer to the site section."""
    body = "\n".join(f"• {fact}" for fact in facts)
    if language == "ko":
        if not found:
            intro = "그 내용은 제 사이트에 나와 있지 않아요. 가장 가까운 정보는 다음과 같아요:"
        elif writes_language:
            intro = "제 사이트에 있는 내용을 정리하면 다음과 같아요:"
        else:
            intro = "지금 쓰는 작은 로컬 모델은 한국어 문장을 잘 만들지 못해서, 사이트에 있는 내용을 그대로 보여드릴게요:"
        outro = f"\n자세한 내용은 {section} 섹션을 참고하세요." if section else ""
        return f"{intro}\n{body}{outro}"
    if not found:
        intro = "My site doesn't say that. The closest I have is:"
    else:
        intro = lead or "Here is what my site says:"
    outro = f"\nMore in {section}." if section else ""
    return f"{intro}\n{body}{outro}"

from pathlib import Path

import pytest

from pipeline.persona import PersonaError, is_allowed_href, load_persona


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "persona.yaml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("href", ["/cv/education", "/", "#contact", "cv/papers", "papers", "?tab=2",
                                  "https://example.org/x", "HTTP://example.org", "/a(b)"])
def test_site_relative_paths_and_http_urls_are_allowed(tmp_path, href):
    persona = load_persona(write(tmp_path, f'site_map:\n  - {{label: "X", href: "{href}"}}\n'))
    assert persona.site_map[0].href == href


@pytest.mark.parametrize("href", [
    "javascript:alert(1)", "JavaScript:alert(1)", "vbscript:msgbox(1)", "data:text/html,<script>alert(1)</script>",
    "//evil.example", "/\\\\evil.example", "\\\\evil.example", " javascript:alert(1)", "java\\tscript:alert(1)",
    "https:evil.example", "https://", "mailto:a@b.c", "file:///etc/passwd", "/a b",
])
def test_other_hrefs_are_refused_naming_the_entry(tmp_path, href):
    text = f'site_map:\n  - {{label: "About", href: "/about"}}\n  - {{label: "Evil", href: "{href}"}}\n'
    with pytest.raises(PersonaError) as caught:
        load_persona(write(tmp_path, text))
    message = str(caught.value)
    assert "site_map entry 2 ('Evil')" in message and "not allowed" in message
    assert "site path" in message and "http(s)" in message
    assert not is_allowed_href(href.replace("\\\\", "\\").replace("\\t", "\t"))


@pytest.mark.parametrize("text, expected", [
    ("name: 5\n", "field 'name' must be text, not 5"),
    ("summary: [a, b]\n", "field 'summary' must be text"),
    ("site_map: /about\n", "field 'site_map'"),
    ("- name\n", "must be a YAML mapping"),
    ("name: [unclosed\n", "not valid YAML"),
])
def test_wrong_fields_are_clear_errors(tmp_path, text, expected):
    with pytest.raises(PersonaError, match="persona.yaml") as caught:
        load_persona(write(tmp_path, text))
    assert expected in str(caught.value)


def test_yaml_aliases_are_refused(tmp_path):
    bomb = 'a: &a ["x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nsummary: *b\n'
    with pytest.raises(PersonaError, match="aliases"):
        load_persona(write(tmp_path, bomb))


def test_the_demo_persona_loads():
    from tests.conftest import DEMO_CORPUS

    assert load_persona(DEMO_CORPUS).site_map


def test_a_persona_linked_from_outside_the_corpus_is_refused(tmp_path):
    (tmp_path / "elsewhere.yaml").write_text('name: "Someone Else"\n')
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "persona.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    with pytest.raises(PersonaError, match="symlink leaves the corpus folder"):
        load_persona(corpus)

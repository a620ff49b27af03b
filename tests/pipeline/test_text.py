from pipeline.text import contains_korean, detect_language, keyword_tokens, sparse_vector


def test_detect_language():
    assert detect_language("Who is your advisor?") == "en"
    assert detect_language("지도교수님이 누구세요?") == "ko"
    assert detect_language("HAPTIQ 프로젝트에 대해 알려줘") == "ko"
    assert detect_language("What was your 석사 thesis about?") == "en"
    assert not contains_korean("plain") and contains_korean("한")


def test_keyword_tokens_stem_english_and_split_korean():
    assert keyword_tokens("The Papers of CS4830") == ["paper", "cs4830"]
    tokens = keyword_tokens("지도교수는")
    assert "지도교수는" in tokens and "교수" in tokens and "지도" in tokens


def test_sparse_vector_is_sorted_and_query_weights_are_flat():
    doc = sparse_vector("robot robot swarm")
    assert doc["indices"] == sorted(doc["indices"]) and len(doc["indices"]) == 2
    assert max(doc["values"]) > min(doc["values"])  # term frequency shows in documents
    query = sparse_vector("robot swarm", query=True)
    assert query["values"] == [1.0, 1.0]

from pipeline.text import contains_korean, detect_language, keyword_fields, keyword_tokens, sparse_vector


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


def test_korean_glued_to_a_latin_word_is_split_off_and_particles_dropped():
    assert keyword_tokens("kornorm은 어떤 라이브러리야?")[:2] == ["kornorm", "어떤"]
    assert keyword_tokens("CSCW 2025 paper의 co-author가") == ["cscw", "2025", "paper", "co", "author"]
    assert keyword_fields("한국HCI학회") == (["한국", "hci", "학회"], ["한국", "학회"])
    assert "chi" in keyword_tokens("CHI에서 상 받은 적 있어?") and "상" in keyword_tokens("CHI에서 상 받은 적 있어?")
    assert "지도" in keyword_tokens("지도교수는")  # a Korean word keeps its own particles and bigrams


def test_dotted_abbreviations_are_one_word():
    # a CV writes "Ph.D." and "M.S."; visitors type "PhD" and "MS"
    assert keyword_tokens("Ph.D. in HCI") == keyword_tokens("PhD in HCI") == ["phd", "hci"]
    assert keyword_tokens("(M.S.), KAIST") == ["ms", "kaist"]
    assert keyword_tokens("see example.org/kaist") == ["see", "example", "org", "kaist"]  # not an abbreviation
    assert keyword_tokens("Dr. Yoo, Mar. 2020") == ["dr", "yoo", "mar", "2020"]


def test_korean_bigrams_are_a_field_of_their_own():
    # one word per written word, Korean or English: BM25's length norm treats both alike
    words, bigrams = keyword_fields("대전에 거주하는 독거 어르신 24명")
    assert words == ["대전에", "거주하는", "독거", "어르신", "24"]  # "명" after a number is a particle-like unit
    assert bigrams[:2] == ["대전", "전에"] and "어르" in bigrams
    assert keyword_tokens("대전에 거주하는") == ["대전에", "거주하는", "대전", "전에", "거주", "주하", "하는"]


def test_english_clitics_leave_no_one_letter_tokens():
    # "s" from "what's" would match every passage with a possessive in it
    assert keyword_tokens("What's your phone number?") == ["phone", "number"]
    assert keyword_tokens("I'm sure I don't know your advisor’s name") == ["sure", "know", "advisor", "name"]
    assert keyword_tokens("Python, C and R") == ["python", "c", "r"]  # one-letter words stay

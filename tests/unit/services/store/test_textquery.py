"""Free-text query syntax shared by both stores (services/store/textquery.py)."""

from __future__ import annotations

from services.store.textquery import Clause, engine_clauses, forms, fts5_match, parse


def test_a_word_matches_its_case_forms_and_definite_suffixes() -> None:
    got = set(forms("referendum"))
    # sr/hr/bs/cnr cases, mk definite article, sq definite / case suffixes
    assert {"referendum", "referenduma", "referendumu", "referendumom", "referendumima"} <= got
    assert {"referendumot", "referendumite", "referendumit", "referendumin", "referendumi"} <= got
    assert "referendumski" in got  # adjective


def test_an_inflected_query_word_is_reduced_to_its_base_first() -> None:
    assert "referendum" in forms("referendumot")
    assert "referenduma" in forms("referendumu")
    assert "vlada" in forms("vladata")  # mk "the government"


def test_consonant_suffixes_are_not_stripped_from_the_query() -> None:
    # "putin" must not become "put" (road) with all its forms
    assert "puta" not in forms("putin") and "putina" in forms("putin")


def test_short_words_and_numbers_stay_exact() -> None:
    assert forms("eu") == ("eu",)
    assert forms("2018") == ("2018",)


def test_cyrillic_and_latin_queries_parse_to_the_same_clauses() -> None:
    assert parse("Референдумот Скопје") == parse("referendumot skopje")


def test_prefix_and_phrase_syntax() -> None:
    assert parse("referend*") == (Clause("prefix", ("referend",)),)
    assert parse('"Izbori u Srbiji" vlada')[0] == Clause("phrase", ("izbori", "u", "srbiji"))
    # typographic quotes fold to ASCII ones
    assert parse("„izbori u“")[0] == Clause("phrase", ("izbori", "u"))
    assert parse("!!!") == () and parse('""') == ()


def test_operators_typed_by_users_are_words_in_both_query_languages() -> None:
    clauses = parse('NEAR "x OR" -y')
    match = fts5_match(clauses)
    assert match.startswith('"x or" AND ("near" OR ')
    engine = engine_clauses(clauses, "text_latn")
    assert engine[0] == {"match_phrase": {"text_latn": "x or"}}
    assert engine[1]["terms"]["text_latn"][0] == "near"


def test_quotes_inside_tokens_cannot_break_the_fts_expression() -> None:
    assert fts5_match((Clause("any", ('a"b',)),)) == '("a""b")'

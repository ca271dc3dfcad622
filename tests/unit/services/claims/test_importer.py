"""`claims import`: field mapping, row validation with line numbers, merging, reload."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detectors.claim_index import ClaimIndex, ClaimText, build_index
from detectors.claims import ClaimsDetector, ClaimsOptions
from detectors.view import ArticleView
from hybridwatch.config import ConfigError
from services.claims.importer import import_claims, imported_path, parse_map
from services.claims.reload import ImportedClaims
from tests.unit.detectors.conftest import make_article

# synthetic claims, written for these tests
CLAIM_A = "Vakcine protiv gripa sadrže mikročipove za praćenje građana"
CLAIM_B = "Zapadne sile planiraju da podele Bosnu i Hercegovinu na tri države do kraja godine"
CLAIM_C = "Струјни удар из 5G антена изазива главобољу код деце у школама"
BACKGROUND = ["Vlada je usvojila budžet za narednu godinu.", "Skupština je zasedala u utorak."]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> ClaimIndex:
    blob = build_index(
        [ClaimText("ship-1", "NATO je bombardovao most u Novom Sadu 1999")], BACKGROUND
    )
    return ClaimIndex.from_bytes(blob)


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def test_parse_map_takes_several_text_columns_and_names_mistakes() -> None:
    assert parse_map(["id=case,text=title+summary", "url=link"]) == {
        "id": ["case"], "text": ["title", "summary"], "url": ["link"],
    }  # fmt: skip
    for bad, message in (
        (["body=x"], "'body' is not a claim field"),
        (["id=a,id=b"], "'id' is mapped twice"),
        (["text"], "is not FIELD=COLUMN"),
        (["url=a+b"], "only text takes several columns"),
        (["text=a+"], "is not FIELD=COLUMN"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_map(bad)


def test_default_columns_read_an_euvsdisinfo_style_export(tmp_path: Path, base: ClaimIndex) -> None:
    src = _write(tmp_path / "export.jsonl", [
        {"case_id": "c1", "title": CLAIM_A, "summary": CLAIM_B, "euvsdisinfo_url": "https://e/c1",
         "date": "2020-02-03"},
    ])  # fmt: skip
    report = import_claims(src, tmp_path / "data", base)
    assert (report.imported, report.skipped, report.rows) == (1, [], 1)
    idx = ClaimIndex.from_bytes(imported_path(tmp_path / "data").read_bytes())
    assert idx.claims == ({"id": "c1", "url": "https://e/c1", "date": "2020-02-03",
                           "source": "import:export.jsonl"},)  # fmt: skip
    assert idx.n_vectors == 2  # title and summary, two texts of one claim


def test_bad_rows_are_skipped_with_line_and_reason_and_never_abort(
    tmp_path: Path, base: ClaimIndex
) -> None:
    src = tmp_path / "claims.jsonl"
    lines = [
        json.dumps({"id": "ok-1", "text": CLAIM_A, "url": "https://fc.example/1"}),
        "",
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"text": CLAIM_B}),
        json.dumps({"id": "short", "text": "Too short"}),
        json.dumps({"id": "ftp", "text": CLAIM_B, "url": "ftp://fc.example/2"}),
        json.dumps({"id": "true-1", "text": CLAIM_B, "label": "TRUE"}),
        json.dumps({"id": "ok-1", "text": CLAIM_C}),
        json.dumps({"id": "when", "text": CLAIM_B, "date": "last week"}),
        json.dumps({"id": "ok-2", "text": CLAIM_C, "date": "2021-05-06T10:00:00Z"}),
    ]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_claims(src, tmp_path / "data", base)
    assert report.imported == 2 and report.rows == 10
    reasons = dict(report.skipped)
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert reasons[3].startswith("not JSON")
    assert "not an object" in reasons[4]
    assert reasons[5].startswith("no claim id")
    assert "too short" in reasons[6]
    assert "not an http(s) address" in reasons[7]
    assert "label 'true'" in reasons[8]
    assert reasons[9] == "duplicate claim id 'ok-1' (first on line 1)"
    assert "not YYYY-MM-DD" in reasons[10]
    assert report.to_dict()["skipped"] == 8


def test_csv_with_a_map_and_a_missing_column_is_an_error_before_any_row(
    tmp_path: Path, base: ClaimIndex
) -> None:
    src = tmp_path / "fc.csv"
    src.write_text(
        f'ref,claim,verdict\nr1,"{CLAIM_A}",false\nr2,"{CLAIM_B}",true\n', encoding="utf-8"
    )
    report = import_claims(
        src, tmp_path / "d", base, parse_map(["id=ref,text=claim,label=verdict"])
    )
    assert report.imported == 1 and report.skipped == [
        (3, "label 'true' marks it as not a false claim")
    ]
    with pytest.raises(ConfigError, match="no column for id=case"):
        import_claims(src, tmp_path / "d", base, parse_map(["id=case,text=claim"]))


def test_reimport_replaces_the_same_id_keeps_the_others_and_is_deterministic(
    tmp_path: Path, base: ClaimIndex
) -> None:
    first = _write(
        tmp_path / "1.jsonl", [{"id": "a", "text": CLAIM_A}, {"id": "b", "text": CLAIM_B}]
    )
    second = _write(tmp_path / "2.jsonl", [{"id": "b", "text": CLAIM_C}])
    for run in ("x", "y"):
        import_claims(first, tmp_path / run, base)
        report = import_claims(second, tmp_path / run, base)
        assert (report.new, report.replaced, report.total_claims) == (0, 1, 2)
    assert imported_path(tmp_path / "x").read_bytes() == imported_path(tmp_path / "y").read_bytes()
    det = ClaimsDetector(ClaimsOptions())
    det.use_imported(ClaimIndex.from_bytes(imported_path(tmp_path / "x").read_bytes()))
    hit = det.detect(ArticleView(make_article(CLAIM_C + ", piše portal.")), {})
    assert [s.details["claim_id"] for s in hit] == ["b"]
    assert det.detect(ArticleView(make_article(CLAIM_B)), {}) == []  # replaced


def test_reload_hands_a_changed_file_to_the_detector_and_keeps_it_on_a_broken_one(
    tmp_path: Path, base: ClaimIndex
) -> None:
    det = ClaimsDetector(ClaimsOptions())
    watcher = ImportedClaims(tmp_path, [det])
    article = ArticleView(make_article(CLAIM_A + " - tvrdi jedan portal."))
    assert watcher.refresh() is False and det.imported is None
    import_claims(_write(tmp_path / "a.jsonl", [{"id": "a", "text": CLAIM_A}]), tmp_path, base)
    assert watcher.refresh() is True and watcher.claims == 1
    assert watcher.refresh() is False  # unchanged: one stat, nothing loaded
    assert [s.details["claim_id"] for s in det.detect(article, {})] == ["a"]
    imported_path(tmp_path).write_bytes(b"garbage")
    assert watcher.refresh() is False and watcher.errors == 1
    assert det.imported is not None and det.imported.version == watcher.version
    imported_path(tmp_path).unlink()
    assert watcher.refresh() is True and det.imported is None

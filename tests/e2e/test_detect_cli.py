"""`hybridwatch detect` and `hybridwatch eval` run as real subprocesses on synthetic JSONL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]

# Synthetic articles written for this test (not from any corpus).
LINES = [
    json.dumps({"id": "s1", "title": "НАТО агресија", "text": "Двадесет година од НАТО агресије на Србију.", "country": "RS", "synthetic": True}),
    "{not json",
    json.dumps({"id": "s2", "title": "Vrijeme", "text": "Sutra sunčano, temperature do 25 stupnjeva.", "synthetic": True}),
    json.dumps({"id": "s3", "text": "a record without a title", "synthetic": True}),
    json.dumps({"id": "s4", "title": "x", "text": "y", "published": "yesterday", "synthetic": True}),
    json.dumps(["not", "an", "object"]),
]  # fmt: skip


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HW_")}
    return subprocess.run(
        [sys.executable, "-m", "services.entrypoints.cli", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_detect_writes_one_result_per_line_and_reports_bad_lines(tmp_path: Path) -> None:
    src = tmp_path / "articles.jsonl"
    dst = tmp_path / "results.jsonl"
    src.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    proc = run_cli("detect", "--input", str(src), "--output", str(dst))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
    assert len(out) == len(LINES)

    first = out[0]
    assert first["article_id"] == "s1" and first["flagged"] is True
    assert first["risk"] >= 0.5
    narr = [s for s in first["signals"] if s["detector"] == "narrative"]
    assert narr and narr[0]["narrative"] == "nato-aggression" and narr[0]["country"] == "RS"
    for s in first["signals"]:
        for ev in s["evidence"]:
            field = {
                "title": "НАТО агресија",
                "text": "Двадесет година од НАТО агресије на Србију.",
            }[ev["field"]]
            assert field[ev["start"] : ev["end"]] == ev["text"]

    assert out[2] == {"article_id": "s2", "flagged": False, "risk": 0.0, "signals": []}
    for n, needle in ((2, "not valid JSON"), (4, "title"), (5, "published"), (6, "JSON object")):
        assert out[n - 1]["line"] == n and needle in out[n - 1]["error"], out[n - 1]
        assert f"line {n}:" in proc.stderr


def test_detect_is_deterministic(tmp_path: Path) -> None:
    src = tmp_path / "a.jsonl"
    src.write_text(LINES[0] + "\n" + LINES[2] + "\n", encoding="utf-8")
    a = run_cli("detect", "-i", str(src)).stdout
    b = run_cli("detect", "-i", str(src)).stdout
    assert a == b and a.count("\n") == 2


def test_detect_batch_size_changes_no_result_and_keeps_line_order(tmp_path: Path) -> None:
    # every line of LINES (good and malformed) three times, with varied ids: batches of
    # 1, 4 and the default cut the stream at different places
    lines = []
    for rep in range(3):
        for line in LINES:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                lines.append(line)
                continue
            if isinstance(rec, dict):
                rec["id"] = f"{rec['id']}-{rep}"
                lines.append(json.dumps(rec))
            else:
                lines.append(line)
    src = tmp_path / "a.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outs = [
        run_cli("detect", "-i", str(src), *extra)
        for extra in ((), ("--batch", "1"), ("--batch", "4"))
    ]
    assert all(p.returncode == 0 for p in outs), [p.stderr for p in outs]
    assert outs[0].stdout == outs[1].stdout == outs[2].stdout
    rows = [json.loads(x) for x in outs[0].stdout.splitlines()]
    assert len(rows) == len(lines)
    assert [r.get("line") for r in rows if "error" in r] == [
        2,
        4,
        5,
        6,
        8,
        10,
        11,
        12,
        14,
        16,
        17,
        18,
    ]
    assert rows[0]["article_id"] == "s1-0" and rows[0]["flagged"] is True
    bad = run_cli("detect", "-i", str(src), "--batch", "0")
    assert bad.returncode == 2 and "--batch" in bad.stderr


def test_detect_fails_only_when_input_cannot_be_opened(tmp_path: Path) -> None:
    proc = run_cli("detect", "--input", str(tmp_path / "missing.jsonl"))
    assert proc.returncode == 1
    assert "cannot open input" in proc.stderr and "missing.jsonl" in proc.stderr


def test_eval_prints_metrics_as_json(tmp_path: Path) -> None:
    recs = [
        {"id": "d1", "label": "disinfo", "language": "en", "text": "NATO aggression against Yugoslavia in 1999 was a crime."},
        {"id": "d2", "label": "disinfo", "language": "en", "text": "Soros-funded NGOs are preparing a colour revolution."},
        {"id": "p1", "label": "disproof", "language": "en", "text": "There is no evidence for this claim; it is a recurring disinformation narrative."},
        {"id": "n1", "label": "neutral", "language": "sr-Latn", "text": "Vlada je usvojila budžet."},
        {"id": "x", "label": "maybe", "text": "bad label"},
    ]  # fmt: skip
    src = tmp_path / "labelled.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in recs), encoding="utf-8")
    proc = run_cli("eval", "--input", str(src), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    full = result["variants"]["full"]
    assert full["overall"]["tp"] == 2 and full["overall"]["fp"] == 0
    assert full["confusion"]["neutral"] == {"flagged": 0, "not_flagged": 1}
    assert "label must be one of" in proc.stderr and ":5:" in proc.stderr
    assert "without_claims" in result["variants"]

    text = run_cli("eval", "--input", str(src))
    assert "language-balanced accuracy" in text.stdout and "F1" in text.stdout

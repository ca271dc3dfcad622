"""STIX 2.1 export of flagged articles (what OpenCTI, MISP and the FIMI community exchange).

`build_bundle(hits)` turns flagged articles with their signals into one bundle
(made with the `stix2` library; see docs/stix.md for the full mapping):

| hybridwatch | STIX 2.1 |
|---|---|
| flagged article | `report` (report_types threat-report; confidence = risk x 100) referring to an `observed-data` of the article's `url` |
| outlet (source) | `identity` (identity_class organization, sector communications) |
| narrative | `campaign` named after the narrative |
| detector with a DISARM technique | `attack-pattern` with a DISARM external reference; `campaign uses attack-pattern` |
| matched known claim | `note` on the report naming the claim id and similarity |
| amplification cluster | the other outlets' `identity` objects in the report's object_refs |
| hybridwatch itself | `identity` (identity_class system), `created_by_ref` of everything it writes |

Deterministic: every id is a UUIDv5 of the object's content key (article id, outlet,
narrative, technique) and every timestamp comes from the data (publication and
signal times), never from the clock, so the same window exports the same bundle.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from hybridwatch.events import Signal
from services.store.base import ArticleHit

NAMESPACE = uuid.UUID("6f7c1b0e-3a1d-5b8e-9c2f-4d5e6f708192")
"""UUIDv5 namespace of hybridwatch STIX ids (fixed forever: ids must stay stable)."""
EPOCH = datetime(2018, 1, 1, tzinfo=UTC)
"""`created` of the fixed objects (the producer identity, DISARM techniques)."""

DISARM: dict[str, tuple[str, str]] = {
    "amplification": ("T0119", "Cross-Posting"),
    "narrative": ("T0003", "Leverage Existing Narratives"),
    "claims": ("T0023", "Distort Facts"),
    "burst": ("T0049", "Flooding the Information Space"),
    "lookalike": ("T0099", "Prepare Assets Impersonating Legitimate Entities"),
}
"""Detector -> DISARM Red technique (id, name). Why each, in docs/stix.md:
amplification = near-identical copies by distinct outlets inside a window
(coordinated cross-outlet publication); narrative = a known manipulative narrative
pack's phrases; claims = repeats a claim already debunked; burst = an abnormal
volume of one narrative; lookalike = a domain imitating a known outlet. Detectors
that describe the outlet or the moment (reputation, calendar, threat, learned) map
to no technique."""


def stix_id(kind: str, *parts: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, kind + chr(31) + chr(31).join(parts))}"


def _outlet(name: str, domain: str, country: str, producer: str, when: datetime) -> Any:
    import stix2

    refs = [{"source_name": "website", "url": f"https://{domain}/"}] if domain else None
    return stix2.Identity(
        id=stix_id("identity", "outlet", name.casefold()),
        name=name,
        identity_class="organization",
        sectors=["communications"],
        description=f"News outlet ({country})" if country else "News outlet",
        created_by_ref=producer,
        created=when,
        modified=when,
        external_references=refs,
    )


def build_bundle(hits: Iterable[ArticleHit]) -> Any:
    """A `stix2.Bundle` of the given (flagged) articles; empty articles list -> only
    the producer identity."""
    import stix2

    producer = stix2.Identity(
        id=stix_id("identity", "hybridwatch"),
        name="hybridwatch",
        identity_class="system",
        description="Western Balkans disinformation and hybrid-threat monitoring",
        created=EPOCH,
        modified=EPOCH,
    )
    objects: dict[str, Any] = {producer.id: producer}
    campaigns: dict[str, dict[str, Any]] = {}
    techniques: dict[str, Any] = {}
    uses: set[tuple[str, str]] = set()
    for hit in sorted(hits, key=lambda h: (h.article.published, h.article.id)):
        a = hit.article
        when = a.published
        outlet = _outlet(
            a.source.outlet or a.source.id, a.source.domain, a.source.country, producer.id, when
        )
        objects.setdefault(outlet.id, outlet)
        refs: list[str] = [outlet.id]
        if a.url:
            url = stix2.URL(value=a.url)
            observed = stix2.ObservedData(
                id=stix_id("observed-data", a.id),
                first_observed=when,
                last_observed=when,
                number_observed=1,
                object_refs=[url.id],
                created_by_ref=producer.id,
                created=when,
                modified=when,
            )
            objects[url.id] = url
            objects[observed.id] = observed
            refs += [observed.id, url.id]
        report_id = stix_id("report", a.id)
        article_techniques: list[str] = []
        for s in hit.signals:
            if s.detector in DISARM:
                tid, tname = DISARM[s.detector]
                ap = techniques.get(tid)
                if ap is None:
                    ap = stix2.AttackPattern(
                        id=stix_id("attack-pattern", "disarm", tid),
                        name=tname,
                        created_by_ref=producer.id,
                        created=EPOCH,
                        modified=EPOCH,
                        external_references=[
                            {"source_name": "DISARM", "external_id": tid, "description": tname}
                        ],
                    )
                    techniques[tid] = ap
                article_techniques.append(ap.id)
            if s.narrative:
                c = campaigns.setdefault(
                    s.narrative, {"first": when, "last": when, "techniques": set()}
                )
                c["first"], c["last"] = min(c["first"], when), max(c["last"], when)
                if s.detector in DISARM:
                    c["techniques"].add(techniques[DISARM[s.detector][0]].id)
                refs.append(stix_id("campaign", "narrative", s.narrative))
            if s.detector == "claims" and s.details.get("claim_id"):
                note = _claim_note(s, report_id, producer.id)
                objects[note.id] = note
            if s.detector == "amplification":
                for name in s.details.get("outlets") or []:
                    if isinstance(name, str) and name and name != outlet.name:
                        other = _outlet(name, "", "", producer.id, when)
                        objects.setdefault(other.id, other)
                        refs.append(other.id)
        refs += article_techniques
        report = stix2.Report(
            id=report_id,
            name=a.title.strip() or a.url or a.id,
            description=_describe(hit),
            report_types=["threat-report"],
            published=when,
            created=when,
            modified=when,
            created_by_ref=producer.id,
            confidence=round(hit.risk * 100),
            labels=sorted({s.detector for s in hit.signals}) or ["hybridwatch"],
            object_refs=sorted(set(refs)),
            external_references=[
                {
                    "source_name": "hybridwatch",
                    "external_id": a.id,
                    **({"url": a.url} if a.url else {}),
                }
            ],
        )
        objects[report.id] = report
    for ap in techniques.values():
        objects[ap.id] = ap
    for name, c in sorted(campaigns.items()):
        camp = stix2.Campaign(
            id=stix_id("campaign", "narrative", name),
            name=name,
            description=f"Narrative '{name}' as detected by hybridwatch",
            aliases=[name],
            first_seen=c["first"],
            last_seen=c["last"],
            created=c["first"],
            modified=c["last"],
            created_by_ref=producer.id,
        )
        objects[camp.id] = camp
        for ap_id in sorted(c["techniques"]):
            uses.add((camp.id, ap_id))
    for src, dst in sorted(uses):
        rel = stix2.Relationship(
            id=stix_id("relationship", src, "uses", dst),
            relationship_type="uses",
            source_ref=src,
            target_ref=dst,
            created=EPOCH,
            modified=EPOCH,
            created_by_ref=producer.id,
        )
        objects[rel.id] = rel
    ordered = [objects[k] for k in sorted(objects)]
    return stix2.Bundle(id=stix_id("bundle", *sorted(objects)), objects=ordered, allow_custom=False)


def _claim_note(s: Signal, report_id: str, producer: str) -> Any:
    import stix2

    claim = str(s.details["claim_id"])
    sim = s.details.get("similarity")
    return stix2.Note(
        id=stix_id("note", s.id),
        abstract=f"Matches known claim {claim}",
        content=f"The article repeats known (debunked) claim {claim}"
        + (f" with similarity {sim}" if sim is not None else "")
        + ".",
        object_refs=[report_id],
        created=s.event_time,
        modified=s.event_time,
        created_by_ref=producer,
        external_references=[
            {
                "source_name": "known-claims",
                "external_id": claim,
                **({"url": claim} if claim.startswith(("http://", "https://")) else {}),
            }
        ],
    )


def _describe(hit: ArticleHit) -> str:
    lines = [f"risk {hit.risk:.2f}; source {hit.article.source.id} ({hit.article.source.country})"]
    for s in hit.signals:
        rules = sorted({e.rule for e in s.evidence})
        tech = f" [DISARM {DISARM[s.detector][0]}]" if s.detector in DISARM else ""
        lines.append(
            f"- {s.detector}{'/' + s.narrative if s.narrative else ''} {s.severity} "
            f"score {s.score:.2f}{tech}: {', '.join(rules) or 'no span'}"
        )
    return "\n".join(lines)


def serialize(bundle: Any) -> str:
    text: str = bundle.serialize(pretty=True, sort_keys=True)
    return text


def bundle_json(hits: Sequence[ArticleHit]) -> str:
    return serialize(build_bundle(hits))

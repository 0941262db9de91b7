"""SolidLab's ODRL-Test-Conflicts: sets of policies and the expected conflict verdict.

Each case lists its policies (each in a Turtle file that may also state ``odrl:partOf`` facts and
OWL intersections of actions); the verdict is Conflict, Ambiguous or NonConflict. The facts are
handed to :func:`policies.conflicts.analyze` as ``part_of`` and ``compound_actions``.
A case whose policy file is not valid ODRL is reported as defective, and analysed a second time
with the defect read as evidently meant, so the figure says both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdflib import OWL, RDF, Graph, Namespace, URIRef
from rdflib.collection import Collection

from policies.conflicts import ConflictStatus, analyze
from policies.errors import PolicyError
from policies.turtle import from_graph

REPORT = Namespace("https://w3id.org/force/compliance-report#")
ODRL = Namespace("http://www.w3.org/ns/odrl/2/")
EX = Namespace("http://example.org/")

EXPECTED = {
    "Conflict": ConflictStatus.CONFLICT,
    "Ambiguous": ConflictStatus.AMBIGUOUS,
    "NonConflict": ConflictStatus.NO_CONFLICT,
    "NoConflict": ConflictStatus.NO_CONFLICT,
}
# Errata: properties some case files use that ODRL does not define, and what they evidently mean.
ERRATA: dict[Any, URIRef] = {ODRL.prohibited: ODRL.prohibition}


@dataclass
class Outcome:
    case: str
    passed: bool
    agree: bool = True  # no compiled path is involved in an analysis
    detail: str = ""
    defect: str = ""


def _files(folder: Path) -> dict[URIRef, Path]:
    out: dict[URIRef, Path] = {}
    for f in sorted(folder.glob("*.ttl")):
        g = Graph()
        g.parse(f, format="turtle")
        for s in g.subjects(RDF.type, None):
            if isinstance(s, URIRef) and any(
                t in (ODRL.Set, ODRL.Offer, ODRL.Agreement) for t in g.objects(s, RDF.type)
            ):
                out[s] = f
    return out


def _facts(g: Graph) -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    alias = {str(o): str(s) for s, o in g.subject_objects(ODRL.uid)}
    part_of: dict[str, set[str]] = {}
    for s, o in g.subject_objects(ODRL.partOf):
        part_of.setdefault(alias.get(str(s), str(s)), set()).add(alias.get(str(o), str(o)))
    compound: dict[str, list[str]] = {}
    for cls, eq in g.subject_objects(OWL.equivalentClass):
        head = g.value(eq, OWL.intersectionOf)
        if head is not None:
            compound[str(cls)] = [str(x) for x in Collection(g, head)]
    return part_of, compound


def _verdict(g: Graph, policy_ids: list[URIRef]) -> tuple[ConflictStatus, Any]:
    part_of, compound = _facts(g)
    policies = [from_graph(g, str(p)) for p in policy_ids]
    report = analyze(policies, part_of=part_of, compound_actions=compound)
    return report.status, report


def run(root: Path) -> list[Outcome]:
    data = root / "data" if (root / "data").is_dir() else root
    files = _files(data / "policies")
    out = []
    for case_file in sorted(
        (data / "test_case").glob("*.ttl"), key=lambda f: int(f.stem.split("-")[-1])
    ):
        tg = Graph()
        tg.parse(case_file, format="turtle")
        case = next(tg.subjects(RDF.type, EX.TestCase))
        policy_ids = sorted(URIRef(str(p)) for p in tg.objects(case, REPORT.policy))
        report = tg.value(case, EX.expectedReport)
        expected = EXPECTED[str(tg.value(report, REPORT.activationState)).rsplit("#", 1)[-1]]
        g = Graph()
        for f in {files[p] for p in policy_ids if p in files}:
            g.parse(f, format="turtle")
        name = case_file.stem
        try:
            status, _ = _verdict(g, policy_ids)
        except PolicyError as exc:
            wrong = [(s, p, o) for s, p, o in g if p in ERRATA]
            if not wrong:
                out.append(Outcome(name, False, detail=f"not valid ODRL: {exc}"))
                continue
            for s, p, o in wrong:
                g.remove((s, p, o))
                g.add((s, ERRATA[p], o))
            defect = f"uses {wrong[0][1]} (not an ODRL property; read as {ERRATA[wrong[0][1]]})"
            status, _ = _verdict(g, policy_ids)
            out.append(
                Outcome(
                    name,
                    status is expected,
                    detail="" if status is expected else f"expected {expected}, got {status}",
                    defect=defect,
                )
            )
            continue
        passed = status is expected
        out.append(
            Outcome(name, passed, detail="" if passed else f"expected {expected}, got {status}")
        )
    return out

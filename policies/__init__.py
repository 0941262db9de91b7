"""Agora policies: ODRL 2.2 policies as a library.

Read and write policies (JSON-LD, Turtle), evaluate them with a full report, compile agreements to
a fast decision function with NGSI-LD narrowing, keep usage counters, explain decisions in plain
language and start from city templates. No HTTP, no DSP state — the connector wires those.
"""

from .agreements import same_terms, to_agreement
from .compiler import CompiledPolicy, Verdict, compile_policy
from .conflicts import ConflictReport, ConflictStatus, analyze, explain_conflicts
from .errors import PaymentError, PoliciesError, PolicyError, UsageError
from .evaluator import evaluate
from .explain import explain_policy, explain_report
from .inherit import resolve as resolve_inheritance
from .jsonld import from_expanded, parse_policy, to_compact, to_expanded
from .model import (
    Action,
    Asset,
    ConflictStrategy,
    Constraint,
    Duty,
    LogicalConstraint,
    LogicalOperator,
    Party,
    Permission,
    Policy,
    PolicyType,
    Prohibition,
)
from .money import Payment, currency_code, currency_iri
from .narrowing import Narrowing
from .report import CounterSpec, Decision, Report
from .usage import InMemoryUsageStore, SqlUsageStore, authorize, create_schema
from .validate import validate
from .values import IRI, Literal
from .world import Consent, EvaluationRequest, World

__all__ = [
    "IRI",
    "Action",
    "Asset",
    "CompiledPolicy",
    "ConflictReport",
    "ConflictStatus",
    "ConflictStrategy",
    "Consent",
    "Constraint",
    "CounterSpec",
    "Decision",
    "Duty",
    "EvaluationRequest",
    "InMemoryUsageStore",
    "Literal",
    "LogicalConstraint",
    "LogicalOperator",
    "Narrowing",
    "Party",
    "Payment",
    "PaymentError",
    "Permission",
    "PoliciesError",
    "Policy",
    "PolicyError",
    "PolicyType",
    "Prohibition",
    "Report",
    "SqlUsageStore",
    "UsageError",
    "Verdict",
    "World",
    "analyze",
    "authorize",
    "compile_policy",
    "create_schema",
    "currency_code",
    "currency_iri",
    "evaluate",
    "explain_conflicts",
    "explain_policy",
    "explain_report",
    "from_expanded",
    "parse_policy",
    "resolve_inheritance",
    "same_terms",
    "to_agreement",
    "to_compact",
    "to_expanded",
    "validate",
]

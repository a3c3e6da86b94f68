"""Printing FOLD-SE models as logic programs, and justifying single predictions.

Wang & Gupta, "FOLD-SE: An Efficient Rule-based Machine Learning Algorithm
with Scalable Explainability", arXiv:2208.07912; the post-processing is
FOLD-R++'s (``flatten_rules``, ``decode_rules``, ``proof_rules`` in the
authors' ``foldrpp`` code, arXiv:2110.07843):

1. numeric literals on the same feature in one body merge into the tightest
   bounds (at most one ``>`` and one ``<=``; string literals first, then the
   numeric ones by feature of first appearance);
2. an exception that is a single rule of one literal without exceptions is
   folded into its parent as the negated literal;
3. every other exception becomes an auxiliary predicate ``abK`` (K = 1, 2, ...
   as the depth-first walk finishes them; identical exceptions share one).

A program prints in ASP syntax, one rule per line, e.g.
``label(X,'1') :- not chest_pain(X,'4'), not ab1(X,'True').``: feature and
class names lower-cased with spaces as ``_``; ``f(X,'v')`` for ``==``,
``not f(X,'v')`` for ``!=``, ``f(X,N1), N1=<t`` and ``N1>t`` for numbers
(``t`` rounded to 3 decimals, ``Nk`` numbered by feature in order of first
appearance). Model size (FOLD-R++ ``num_predicates``): the number of printed
rules and of their body literals, ``not abK`` references excluded.

A printed numeric literal that came from folding ``not (f <= t)`` reads
``f > t`` as in FOLD-R++; unlike a learnt ``f > t`` it also holds on string and
missing cells of f (see :class:`~diversa.learners.rules.literals.Literal`), so
the program, :meth:`FOLDSEClassifier.predict` and the justifications agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .literals import Literal, Rule
from .table import EncodedTable, TableEncoder

#: Head predicate of the default rules.
LABEL_PREDICATE = "label"


@dataclass(frozen=True)
class FlatRule:
    """One printed rule: ``head(X, value) :- literals, not ab(X,'True') for ab in exceptions``.

    ``label`` is the predicted class for default rules, None for ``abK`` rules.
    """

    head: str
    value: str
    literals: tuple[Literal, ...]
    exceptions: tuple[str, ...] = ()
    label: object = None

    @property
    def is_default(self) -> bool:
        return self.head == LABEL_PREDICATE


def merge_bounds(literals) -> tuple[Literal, ...]:
    """FOLD-R++ ``unite_like_items``: tightest numeric bounds per feature, string literals first.

    Bounds from learnt literals are false on non-numeric cells, bounds from
    folded exceptions true: the merged bounds of a feature are false there as
    soon as one learnt literal takes part, so the merge keeps the meaning.
    """
    strings, bounds = [], {}
    for literal in literals:
        if not literal.is_numeric:
            strings.append(literal)
            continue
        upper, lower, strict, name = bounds.get(literal.feature, (np.inf, -np.inf, False, literal.name))
        if literal.op == "<=":
            upper = min(upper, literal.value)
        else:
            lower = max(lower, literal.value)
        bounds[literal.feature] = (upper, lower, strict or not literal.negated, name)
    merged = list(strings)
    for feature, (upper, lower, strict, name) in bounds.items():
        if lower != -np.inf:
            merged.append(Literal(feature, ">", float(lower), name, negated=not strict))
        if upper != np.inf:
            merged.append(Literal(feature, "<=", float(upper), name, negated=not strict))
    return tuple(merged)


def fold_atomic_exceptions(rule: Rule) -> Rule:
    """FOLD-R++ ``unite_atom_ab``: fold one-literal exceptions into the body as negated literals."""
    if not rule.exceptions:
        return _replace_rule(rule, merge_bounds(rule.literals), ())
    body, kept = list(rule.literals), []
    for exception in (fold_atomic_exceptions(e) for e in rule.exceptions):
        if len(exception.literals) == 1 and not exception.exceptions:
            body.append(exception.literals[0].complement())
        else:
            kept.append(exception)
    return _replace_rule(rule, merge_bounds(body), tuple(kept))


def _replace_rule(rule: Rule, literals, exceptions) -> Rule:
    """``rule`` with a new body and exceptions, same label."""
    return Rule(tuple(literals), tuple(exceptions), rule.label)


def flatten_rules(rules: list[Rule]) -> list[FlatRule]:
    """The printed program of ``rules``: default rules (in order) then ``abK`` rules."""
    default, auxiliary = [], []
    names: dict = {}

    def reference(rule: Rule) -> str:
        key = (rule.literals, tuple(reference(e) for e in rule.exceptions))
        if key not in names:
            names[key] = f"ab{len(names) + 1}"
            auxiliary.append(FlatRule(names[key], "True", rule.literals, key[1]))
        return names[key]

    for rule in (fold_atomic_exceptions(r) for r in rules):
        refs = tuple(reference(e) for e in rule.exceptions)
        default.append(FlatRule(LABEL_PREDICATE, str(rule.label), rule.literals, refs, rule.label))
    return default + auxiliary


def asp_name(name: str) -> str:
    """An attribute or class name as FOLD-R++ prints it: lower case, spaces as ``_``."""
    return str(name).lower().replace(" ", "_")


def _mark(value: bool | None) -> str:
    return "" if value is None else ("[T]" if value else "[F]")


@dataclass
class _Printer:
    """Renders flat rules; numeric variables ``Nk`` are numbered over the whole program."""

    rules: list[FlatRule]
    variables: dict = field(default_factory=dict)

    def __post_init__(self):
        for rule in self.rules:
            for literal in rule.literals:
                if literal.is_numeric:
                    self.variables.setdefault(asp_name(literal.name), len(self.variables) + 1)

    def literal(self, literal: Literal, holds: bool | None = None) -> str:
        attr = asp_name(literal.name)
        if literal.op == "==":
            return f"{_mark(holds)}{attr}(X,'{literal.value}')"
        if literal.op == "!=":
            return f"not {_mark(None if holds is None else not holds)}{attr}(X,'{literal.value}')"
        k = self.variables[attr]
        op = "=<" if literal.op == "<=" else ">"
        return f"{attr}(X,N{k}), {_mark(holds)}N{k}{op}{round(float(literal.value), 3)}"

    def rule(self, rule: FlatRule, holds: bool | None = None, literal_holds=None, ab_holds=None) -> str:
        head = f"{_mark(holds)}{rule.head}(X,'{rule.value}')"
        items = []
        for i, literal in enumerate(rule.literals):
            items.extend(self.literal(literal, None if literal_holds is None else literal_holds[i]).split(", "))
        body = ", ".join(dict.fromkeys(items))  # FOLD-R++ prints a repeated f(X,Nk) once
        tail = ", ".join(f"not {_mark(None if ab_holds is None else ab_holds[name])}{name}(X,'True')"
                         for name in rule.exceptions)
        return f"{head} :- {body}{', ' + tail if tail else ''}."


def program_rules(flat_rules: list[FlatRule]) -> list[str]:
    """The program in ASP syntax, one string per flat rule."""
    printer = _Printer(flat_rules)
    return [printer.rule(rule) for rule in flat_rules]


def format_program(flat_rules: list[FlatRule], classes, pos_label, fallback) -> str:
    """The program as readable text: a comment on how to read it, then one rule per line."""
    label = f"label(X,'{fallback}')"
    if pos_label is not None:
        header = (f"% default theory for label(X,'{pos_label}'); "
                  f"a row no rule covers gets {label}.")
    elif len(classes) > 2:
        header = (f"% rules tried in order: the first label rule whose body holds gives the label; "
                  f"otherwise {label}.")
    else:
        header = f"% a single class: every row gets {label}."
    return "\n".join([header, *program_rules(flat_rules)])


@dataclass(frozen=True)
class Justification:
    """Why a row got its label.

    ``rule`` is the position (in ``flat_rules_``) of the default rule that
    fired, None when no rule holds and the default (``fallback_``) applied.
    ``lines`` are the rules involved, marked ``[T]``/``[F]`` per literal,
    head and exception reference, as FOLD-R++'s ``proof_rules`` does.
    """

    prediction: object
    rule: int | None
    lines: tuple[str, ...]

    @property
    def default_applied(self) -> bool:
        return self.rule is None

    def __str__(self) -> str:
        if self.rule is None:
            head = f"label(X,'{self.prediction}'): default, no rule holds"
        else:
            head = f"label(X,'{self.prediction}') because rule {self.rule + 1} holds"
        return "\n".join([head, *("  " + line for line in self.lines)])


def flat_rule_holds(flat_rules: list[FlatRule], table: EncodedTable, encoder: TableEncoder):
    """(rule holds (n_rules, n_samples), literal holds per rule, predicate holds by ab name)."""
    literal_cache: dict[Literal, np.ndarray] = {}

    def literal_holds(literal: Literal) -> np.ndarray:
        if literal not in literal_cache:
            literal_cache[literal] = literal.holds(table, encoder)
        return literal_cache[literal]

    by_head: dict[str, list[int]] = {}
    for k, rule in enumerate(flat_rules):
        by_head.setdefault(rule.head, []).append(k)
    rule_cache: dict[int, np.ndarray] = {}
    predicate_cache: dict[str, np.ndarray] = {}

    def predicate(name: str) -> np.ndarray:
        if name not in predicate_cache:
            predicate_cache[name] = np.any([rule_holds(k) for k in by_head[name]], axis=0)
        return predicate_cache[name]

    def rule_holds(k: int) -> np.ndarray:
        if k not in rule_cache:
            rule = flat_rules[k]
            mask = np.ones(table.n_samples, dtype=bool)
            for literal in rule.literals:
                mask &= literal_holds(literal)
            for name in rule.exceptions:
                mask &= ~predicate(name)
            rule_cache[k] = mask
        return rule_cache[k]

    holds = np.array([rule_holds(k) for k in range(len(flat_rules))]).reshape(len(flat_rules), table.n_samples)
    literals = [np.array([literal_holds(lit) for lit in rule.literals]).reshape(len(rule.literals), -1)
                for rule in flat_rules]
    for name in by_head:
        if name != LABEL_PREDICATE:
            predicate(name)
    return holds, literals, predicate_cache


def justify_rows(flat_rules: list[FlatRule], table: EncodedTable, encoder: TableEncoder,
                 pos_label, fallback) -> list[Justification]:
    """One :class:`Justification` per row of ``table``."""
    printer = _Printer(flat_rules)
    holds, literal_holds, predicates = flat_rule_holds(flat_rules, table, encoder)
    defaults = [k for k, rule in enumerate(flat_rules) if rule.is_default]
    by_head: dict[str, list[int]] = {}
    for k, rule in enumerate(flat_rules):
        by_head.setdefault(rule.head, []).append(k)
    result = []
    for i in range(table.n_samples):
        fired = next((k for k in defaults if holds[k, i]), None)
        shown = [fired] if fired is not None else list(defaults)
        order, seen = [], set()
        stack = list(shown)
        while stack:  # the rules shown and, depth first, the exception predicates they use
            k = stack.pop(0)
            if k in seen:
                continue
            seen.add(k)
            order.append(k)
            for name in flat_rules[k].exceptions:
                stack.extend(by_head[name])
        ab_marks = {name: bool(mask[i]) for name, mask in predicates.items()}
        lines = tuple(printer.rule(flat_rules[k], bool(holds[k, i]), literal_holds[k][:, i], ab_marks)
                      for k in order)
        prediction = flat_rules[fired].label if fired is not None else fallback
        result.append(Justification(prediction, fired, lines))
    return result

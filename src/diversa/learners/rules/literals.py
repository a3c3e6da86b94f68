"""Literals and default rules with exceptions, and how they hold on mixed-type rows.

Wang & Gupta, "FOLD-SE: An Efficient Rule-based Machine Learning Algorithm
with Scalable Explainability", arXiv:2208.07912, building on FOLD-R++
(arXiv:2110.07843). A literal compares one feature with one training value:
``f <= t`` and ``f > t`` for numbers t, ``f == v`` and ``f != v`` for strings v.
The comparison semantics are those of the FOLD-R++ code, which the spec takes
as FOLD-SE's "refined comparison operator":

* a numeric literal (``<=``, ``>``) is FALSE on a string or missing cell;
* ``==`` is FALSE on a number, ``!=`` is TRUE on a number;
* a missing cell is the string ``''`` and equals only ``''``.

A :class:`Rule` is a default rule: it covers a row when every literal of its
body holds and none of its exception rules covers the row (recursively). The
top-level rules of a model carry the class they predict in ``label``.

Printing a model folds one-literal exceptions into their parent as the
negated literal (FOLD-R++ ``flatten_rules``). ``not (f <= t)`` is printed
``f > t`` as in FOLD-R++, but keeps its own truth value: such a literal has
``negated=True`` and holds on non-numeric cells, so a printed model and its
justifications always agree with :meth:`FOLDSEClassifier.predict`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .table import EncodedTable, TableEncoder

#: Operators of literals; ``<=`` is printed ``=<`` in ASP as in FOLD-R++.
NUMERIC_OPS = ("<=", ">")
STRING_OPS = ("==", "!=")
COMPLEMENT = {"<=": ">", ">": "<=", "==": "!=", "!=": "=="}


@dataclass(frozen=True)
class Literal:
    """One test ``feature op value`` on a row.

    Attributes
    ----------
    feature : column index
    op : ``'<='``, ``'>'`` (numeric ``value``) or ``'=='``, ``'!='`` (string ``value``)
    value : a training number (float) or a training string
    name : the feature's name (for printing)
    negated : only for numeric literals made by folding a one-literal
        exception: the literal means ``not (feature <complement op> value)``
        and therefore also holds on string and missing cells
    """

    feature: int
    op: str
    value: float | str
    name: str = ""
    negated: bool = False

    def __post_init__(self):
        if self.op in NUMERIC_OPS:
            if isinstance(self.value, str):
                raise ValueError(f"Literal: op {self.op!r} needs a numeric value, got {self.value!r}.")
        elif self.op in STRING_OPS:
            if not isinstance(self.value, str):
                raise ValueError(f"Literal: op {self.op!r} needs a string value, got {self.value!r}.")
            if self.negated:
                raise ValueError("Literal: negated applies to numeric literals only.")
        else:
            raise ValueError(f"Literal: op must be one of <=, >, ==, !=; got {self.op!r}.")

    @property
    def is_numeric(self) -> bool:
        """Whether this is a ``<=``/``>`` comparison with a number."""
        return self.op in NUMERIC_OPS

    def complement(self) -> Literal:
        """The literal that holds exactly where this one does not.

        For a numeric literal this is the ``negated`` form of the opposite
        comparison (and back), since ``<=`` and ``>`` are both false on
        non-numeric cells.
        """
        if self.is_numeric:
            return Literal(self.feature, COMPLEMENT[self.op], self.value, self.name, not self.negated)
        return Literal(self.feature, COMPLEMENT[self.op], self.value, self.name)

    def holds(self, table: EncodedTable, encoder: TableEncoder, rows: np.ndarray | None = None) -> np.ndarray:
        """Boolean mask over ``rows`` (all rows if None) of where the literal holds."""
        return literal_mask(self, table, encoder, rows)

    def describe(self) -> str:
        """Readable form, e.g. ``mean radius <= 13.5`` or ``island != 'Dream'``."""
        value = repr(self.value) if isinstance(self.value, str) else f"{self.value:g}"
        text = f"{self.name or f'x{self.feature}'} {self.op} {value}"
        return f"{text} (or not a number)" if self.negated else text


@dataclass(frozen=True)
class Rule:
    """A default rule: body literals and exception rules.

    ``label`` is the class a top-level rule predicts (``None`` for an
    exception rule). The rule covers a row iff all ``literals`` hold and no
    rule of ``exceptions`` covers it.
    """

    literals: tuple[Literal, ...]
    exceptions: tuple[Rule, ...] = ()
    label: object = None

    def covers(self, table: EncodedTable, encoder: TableEncoder, rows: np.ndarray | None = None) -> np.ndarray:
        """Boolean mask over ``rows`` (all rows if None) of the rows this rule covers."""
        return rule_mask(self, table, encoder, rows)

    @property
    def depth(self) -> int:
        """Nesting depth of exceptions (0 for a rule without exceptions)."""
        return 1 + max((e.depth for e in self.exceptions), default=-1)

    def n_literals(self) -> int:
        """Literals in this rule and all its exceptions (before flattening)."""
        return len(self.literals) + sum(e.n_literals() for e in self.exceptions)


def literal_mask(literal: Literal, table: EncodedTable, encoder: TableEncoder,
                 rows: np.ndarray | None = None) -> np.ndarray:
    """Where ``literal`` holds on the table's ``rows`` (shape (len(rows),) or (n_samples,))."""
    j = literal.feature
    if literal.is_numeric:
        column = table.numbers[:, j] if rows is None else table.numbers[rows, j]
        if literal.negated:
            # not (f <complement> t): true on strings/missing, where NaN comparisons are false
            complement = column <= literal.value if literal.op == ">" else column > literal.value
            return ~complement
        return column <= literal.value if literal.op == "<=" else column > literal.value
    codes = table.codes[:, j] if rows is None else table.codes[rows, j]
    equal = codes == encoder.string_code(j, literal.value)
    return equal if literal.op == "==" else ~equal


def rule_mask(rule: Rule, table: EncodedTable, encoder: TableEncoder, rows: np.ndarray | None = None) -> np.ndarray:
    """Where ``rule`` covers the table's ``rows``: body holds and no exception covers."""
    n = table.n_samples if rows is None else len(rows)
    if not rule.literals and not rule.exceptions:
        return np.zeros(n, dtype=bool)  # FOLD-R++: an empty rule covers nothing
    index = np.arange(table.n_samples) if rows is None else np.asarray(rows)
    mask = np.ones(n, dtype=bool)
    for literal in rule.literals:
        alive = np.flatnonzero(mask)
        if alive.size == 0:
            return mask
        mask[alive] = literal_mask(literal, table, encoder, index[alive])
    for exception in rule.exceptions:
        alive = np.flatnonzero(mask)
        if alive.size == 0:
            return mask
        mask[alive] = ~rule_mask(exception, table, encoder, index[alive])
    return mask

"""Rule learners: explainable default theories learnt from mixed-type tables.

Implements Wang & Gupta, "FOLD-SE: An Efficient Rule-based Machine Learning
Algorithm with Scalable Explainability", arXiv:2208.07912, and its ancestor
FOLD-R++ (arXiv:2110.07843), with the FOLD-RM loop (arXiv:2202.06913) for
more than two classes:

* :class:`FOLDSEClassifier` — default rules with nested exceptions, literals
  chosen by weighted Gini impurity, long-tail pruning; a scikit-learn
  classifier on numeric and string columns (no one-hot), with
  :meth:`~FOLDSEClassifier.explain` (the logic program) and
  :meth:`~FOLDSEClassifier.justify` (why one row got its label);
* :class:`FOLDRPPClassifier` — FOLD-R++: information gain, no pruning;
* building blocks: :class:`Literal` and :class:`Rule` (the model's
  structure), :class:`LiteralSearch` (prefix-sum best-literal search),
  :func:`flatten_rules` / :func:`program_rules` (ASP printing).
"""

from .explain import FlatRule, Justification, flatten_rules, program_rules
from .fold_se import (
    FOLDRPPClassifier,
    FOLDSEClassifier,
    RuleLearner,
    learn_ordered_rules,
)
from .literals import Literal, Rule
from .split_search import (
    LiteralCounts,
    LiteralSearch,
    gini_score,
    info_gain,
    score_literals,
)
from .table import EncodedTable, TableEncoder

#: Spelling of the spec's API sketch.
FoldSEClassifier = FOLDSEClassifier
FoldRPPClassifier = FOLDRPPClassifier

__all__ = [
    "EncodedTable",
    "FOLDRPPClassifier",
    "FOLDSEClassifier",
    "FlatRule",
    "FoldRPPClassifier",
    "FoldSEClassifier",
    "Justification",
    "Literal",
    "LiteralCounts",
    "LiteralSearch",
    "Rule",
    "RuleLearner",
    "TableEncoder",
    "flatten_rules",
    "gini_score",
    "info_gain",
    "learn_ordered_rules",
    "program_rules",
    "score_literals",
]

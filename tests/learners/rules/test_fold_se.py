"""Tests of diversa.learners.rules.fold_se: FOLD-SE / FOLD-R++ classifiers (Wang & Gupta, arXiv:2208.07912)."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.utils.estimator_checks import parametrize_with_checks

from diversa.learners.rules import (
    FOLDRPPClassifier,
    FOLDSEClassifier,
    FoldSEClassifier,
    Justification,
    Literal,
    learn_ordered_rules,
)
from diversa.reproduce.fold_se import make_mixed_classification


def all_rules(rules):
    for rule in rules:
        yield rule
        yield from all_rules(rule.exceptions)


def paths(rule, prefix=()):
    """Every root-to-leaf list of literals through nested exceptions."""
    here = prefix + rule.literals
    if not rule.exceptions:
        yield here
    for exception in rule.exceptions:
        yield from paths(exception, here)


@pytest.fixture(scope="module")
def breast_cancer():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, np.asarray(load_breast_cancer().target_names)[y]


@pytest.fixture(scope="module")
def mixed():
    return make_mixed_classification(1500, random_state=3)


# --- hand-checkable data sets (spec unit-test ideas) ---------------------------------------------

def test_a_single_threshold_is_learnt_as_one_rule_with_one_literal():
    X = np.arange(10.0).reshape(-1, 1)
    y = (X[:, 0] <= 3.5).astype(int)
    model = FOLDSEClassifier(pos_label=1).fit(X, y)
    assert len(model.rules_) == 1 and model.rules_[0].literals == (Literal(0, "<=", 3.0, "x0"),)
    assert model.rules_[0].exceptions == () and model.score(X, y) == 1.0
    assert model.asp_rules_ == ["label(X,'1') :- x0(X,N1), N1=<3.0."]


def test_a_rule_with_one_exception_is_recovered_exactly():
    # birds fly, except penguins; non-birds do not fly
    X = pd.DataFrame({"bird": ["yes"] * 13 + ["no"] * 8, "penguin": ["no"] * 10 + ["yes"] * 3 + ["no"] * 8})
    y = np.array([1] * 10 + [0] * 11)
    model = FOLDSEClassifier(tail=0, pos_label=1).fit(X, y)
    (rule,) = model.rules_
    assert rule.literals == (Literal(0, "!=", "no", "bird"),)
    assert len(rule.exceptions) == 1 and rule.exceptions[0].literals == (Literal(1, "!=", "no", "penguin"),)
    assert model.asp_rules_ == ["label(X,'1') :- not bird(X,'no'), penguin(X,'no')."]
    assert model.n_rules_ == 1 and model.n_literals_ == 2 and model.score(X, y) == 1.0


def test_xor_like_data_needs_two_literals_or_an_exception_and_is_learnt_exactly():
    grid = pd.DataFrame([(a, float(b)) for a in "uv" for b in range(-3, 4)] * 3, columns=["a", "b"])
    y = ((grid["a"] == "u") & (grid["b"] <= 0)).astype(int).to_numpy()
    model = FOLDSEClassifier(tail=0, pos_label=1).fit(grid, y)
    assert model.score(grid, y) == 1.0
    assert sum(len(rule.literals) for rule in all_rules(model.rules_)) >= 2


def test_numeric_and_categorical_features_are_used_without_one_hot(mixed):
    X, y = mixed
    model = FOLDSEClassifier().fit(X, y)
    assert model.categorical_.tolist() == [False] * 8 + [True] * 4
    ops = {literal.op for rule in all_rules(FOLDRPPClassifier().fit(X, y).rules_) for literal in rule.literals}
    assert ops & {"<=", ">"} and ops & {"==", "!="}
    assert model.score(X, y) > 0.85


# --- invariants --------------------------------------------------------------------------------

def test_a_literal_and_its_complement_never_share_a_path(mixed):
    X, y = mixed
    for model in (FOLDSEClassifier(), FOLDRPPClassifier()):
        for rule in model.fit(X, y).rules_:
            for path in paths(rule):
                keys = [(lit.feature, lit.value) for lit in path]
                assert len(keys) == len(set(keys))


def test_ratio_zero_learns_no_exceptions(mixed):
    X, y = mixed
    model = FOLDRPPClassifier(ratio=0).fit(X, y)
    assert model.rules_ and all(rule.exceptions == () for rule in model.rules_)
    assert not any(rule.head.startswith("ab") for rule in model.flat_rules_)


def test_max_depth_exceptions_bounds_nesting(mixed):
    X, y = mixed
    assert max(rule.depth for rule in FOLDRPPClassifier().fit(X, y).rules_) >= 2
    assert all(rule.depth <= 1 for rule in FOLDRPPClassifier(max_depth_exceptions=1).fit(X, y).rules_)
    assert all(rule.depth == 0 for rule in FOLDRPPClassifier(max_depth_exceptions=0).fit(X, y).rules_)


def test_tail_pruning_keeps_fewer_rules_and_every_kept_rule_covers_enough(mixed):
    X, y = mixed
    unpruned = FOLDSEClassifier(tail=0).fit(X, y)
    pruned = FOLDSEClassifier(tail=0.05).fit(X, y)
    assert pruned.n_rules_ <= unpruned.n_rules_
    for rule in pruned.rules_:
        covered = rule.covers(pruned.encoder_.transform([X[c].to_numpy(dtype=object) for c in X]), pruned.encoder_)
        assert covered[y == pruned.pos_label_].sum() >= 0.05 * len(y)


def test_fold_rpp_is_fold_se_with_information_gain_and_no_tail(mixed):
    X, y = mixed
    a = FOLDRPPClassifier(ratio=0.4).fit(X, y)
    b = FOLDSEClassifier(ratio=0.4, heuristic="info_gain", tail=0).fit(X, y)
    assert a.rules_ == b.rules_ and a.asp_rules_ == b.asp_rules_
    assert FOLDRPPClassifier().get_params() == {"ratio": 0.5, "categorical_features": "auto",
                                                 "max_depth_exceptions": None, "pos_label": None}


def test_fitting_is_deterministic(mixed):
    X, y = mixed
    first, second = FOLDSEClassifier().fit(X, y), clone(FOLDSEClassifier()).fit(X, y)
    assert first.rules_ == second.rules_ and first.explain() == second.explain()


def test_default_positive_class_is_the_more_frequent_one_and_pos_label_overrides_it():
    X = np.arange(10.0).reshape(-1, 1)
    y = np.array(["no"] * 6 + ["yes"] * 4)
    assert FOLDSEClassifier().fit(X, y).pos_label_ == "no"
    model = FOLDSEClassifier(pos_label="yes").fit(X, y)
    assert model.pos_label_ == "yes" and model.fallback_ == "no"
    assert model.asp_rules_ == ["label(X,'yes') :- x0(X,N1), N1>5.0."]


# --- multi-class --------------------------------------------------------------------------------

def test_multiclass_first_matching_rule_wins_and_uncovered_rows_get_the_fallback(mixed):
    X, y = mixed
    y3 = np.where(X["num0"] > 1, 2, y)  # three classes
    model = FOLDSEClassifier(tail=0.08).fit(X, y3)
    assert model.classes_.tolist() == [0, 1, 2] and len(model.rules_) >= 2
    table = model.encoder_.transform([X[c].to_numpy(dtype=object) for c in X])
    expected = np.full(len(y3), model.fallback_)
    open_rows = np.ones(len(y3), dtype=bool)
    for rule in model.rules_:
        hit = rule.covers(table, model.encoder_) & open_rows
        expected[hit] = rule.label
        open_rows &= ~hit
    assert open_rows.any()  # pruning left some rows to the fallback
    assert model.fallback_ == np.bincount(y3).argmax()
    assert np.array_equal(model.predict(X), expected)


def test_multiclass_loop_learns_the_majority_class_first():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    y = np.where(x[:, 0] > 0.8, "c", np.where(x[:, 1] > 0, "a", "b"))
    model = FOLDSEClassifier().fit(x, y)
    counts = pd.Series(y).value_counts()
    assert model.rules_[0].label == counts.idxmax()
    assert model.score(x, y) > 0.95
    assert model.explain().startswith("% rules tried in order")


def test_single_class_predicts_it_everywhere():
    model = FOLDSEClassifier().fit(np.arange(6.0).reshape(-1, 2), ["z"] * 3)
    assert model.rules_ == [] and model.predict([[0.0, 1.0]]).tolist() == ["z"]


# --- mixed DataFrames, missing values, explanations ----------------------------------------------

@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(5)
    n = 400
    size = rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], n)
    y = np.where((color == "red") | (size > 1), "hot", "cold")
    size_obj = size.astype(object)
    size_obj[rng.random(n) < 0.05] = None
    color_obj = color.astype(object)
    color_obj[rng.random(n) < 0.05] = None
    X = pd.DataFrame({"size": pd.Series(size_obj, dtype=float), "color": pd.Categorical(color_obj),
                      "flag": rng.random(n) < 0.5, "note": pd.Series(rng.choice(["a", "b"], n), dtype="str")})
    return X, y


def test_mixed_dataframe_with_missing_values_fits_and_names_features(frame):
    X, y = frame
    model = FOLDSEClassifier().fit(X, y)
    assert model.feature_names_in_.tolist() == ["size", "color", "flag", "note"]
    assert model.n_features_in_ == 4 and model.categorical_.tolist() == [False, True, True, True]
    assert model.score(X, y) > 0.9
    assert "color(X,'red')" in model.explain() or "size(X," in model.explain()


def test_justification_agrees_with_predict_row_by_row(frame):
    X, y = frame
    model = FOLDSEClassifier().fit(X, y)
    predictions = model.predict(X)
    justifications = model.justify(X)
    assert [j.prediction for j in justifications] == predictions.tolist()
    for justification, prediction in zip(justifications, predictions):
        assert justification.default_applied == (prediction == model.fallback_)
        assert justification.lines and all("[T]" in line or "[F]" in line for line in justification.lines)


def test_justify_one_row_returns_one_justification(frame):
    X, y = frame
    model = FOLDSEClassifier().fit(X, y)
    single = model.justify(X.iloc[3])
    assert isinstance(single, Justification) and single.prediction == model.predict(X.iloc[[3]])[0]
    assert str(single).startswith(f"label(X,'{single.prediction}')")


def test_unseen_category_and_strings_in_numeric_columns_at_predict_time(frame):
    X, y = frame
    model = FOLDSEClassifier().fit(X, y)
    new = X.iloc[:2].copy()
    new["color"] = pd.Categorical(["purple", None])
    assert model.predict(new).shape == (2,)


def test_numpy_object_array_with_explicit_categorical_columns():
    X = np.array([[1.5, "a"], [2.5, "b"], ["?", "a"], [0.5, "b"]] * 10, dtype=object)
    y = np.array([1, 0, 1, 0] * 10)
    model = FOLDSEClassifier(categorical_features=[1], tail=0, pos_label=1).fit(X, y)
    assert model.score(X, y) == 1.0
    assert model.asp_rules_ == ["label(X,'1') :- x1(X,'a')."]


def test_no_predict_proba_for_crisp_rules():
    model = FOLDSEClassifier().fit(np.arange(8.0).reshape(-1, 1), [0, 1] * 4)
    assert not hasattr(model, "predict_proba")
    with pytest.raises(AttributeError, match="predict_proba") as error:
        model.predict_proba([[1.0]])
    assert "crisp" in str(error.value.__cause__)


def test_spec_spelling_is_the_same_class():
    assert FoldSEClassifier is FOLDSEClassifier


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("params, error, message", [
    ({"ratio": -0.1}, ValueError, "ratio"), ({"ratio": 1.5}, ValueError, "ratio"),
    ({"ratio": "half"}, TypeError, "ratio"), ({"tail": 1.0}, ValueError, "tail"),
    ({"tail": -0.01}, ValueError, "tail"), ({"heuristic": "entropy"}, ValueError, "heuristic"),
    ({"max_depth_exceptions": -1}, ValueError, "max_depth_exceptions"),
    ({"max_depth_exceptions": 1.5}, ValueError, "max_depth_exceptions"),
    ({"pos_label": "maybe"}, ValueError, "pos_label"),
    ({"categorical_features": "some"}, ValueError, "categorical_features"),
])
def test_bad_hyper_parameters_name_the_argument(params, error, message):
    X, y = np.arange(8.0).reshape(-1, 1), np.array(["no", "yes"] * 4)
    with pytest.raises(error, match=message):
        FOLDSEClassifier(**params).fit(X, y)


def test_pos_label_with_more_than_two_classes_is_rejected():
    with pytest.raises(ValueError, match="pos_label"):
        FOLDSEClassifier(pos_label=0).fit(np.arange(6.0).reshape(-1, 1), [0, 1, 2] * 2)


def test_bad_data_is_rejected():
    model = FOLDSEClassifier()
    with pytest.raises(ValueError, match="Unknown label type"):
        model.fit(np.ones((4, 1)), [0.5, 1.5, 2.5, 3.5])
    model.fit(np.arange(8.0).reshape(-1, 2), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="features"):
        model.predict(np.ones((2, 3)))


# --- scikit-learn contract --------------------------------------------------------------------------

@parametrize_with_checks([FOLDSEClassifier(), FOLDRPPClassifier()])
def test_scikit_learn_estimator_checks(estimator, check):
    # Every check passes: the estimator declares allow_nan (missing values are the string ''),
    # string and categorical input, so no check needs an expected failure.
    check(estimator)


# --- anchors: the authors' foldrpp and foldrm packages ---------------------------------------------

def _foldrpp_model(frame: pd.DataFrame, labels, path, pos_val):
    foldrpp = pytest.importorskip("foldrpp")
    data = frame.copy()
    data["label"] = labels
    data.to_csv(path, index=False, na_rep="")
    model = foldrpp.Foldrpp([], list(frame.columns), "label", pos_val)
    return model, model.load_data(str(path))


def test_same_rule_set_and_predictions_as_foldrpp_on_breast_cancer(breast_cancer, tmp_path):
    X, y = breast_cancer
    theirs, data = _foldrpp_model(X, y, tmp_path / "bc.csv", "benign")
    theirs.fit(data, ratio=0.5)
    ours = FOLDRPPClassifier(ratio=0.5).fit(X, y)
    assert ours.pos_label_ == "benign"
    assert [" ".join(s.split()) for s in ours.asp_rules_] == [" ".join(s.split()) for s in theirs.asp()]
    assert np.array_equal(ours.predict(X) == "benign", np.array(theirs.predict(data)))
    assert ours.n_literals_ == pytest.importorskip("foldrpp").num_predicates(theirs.flat_rules)


def test_same_rules_as_foldrpp_with_missing_values_and_a_held_out_split(breast_cancer, tmp_path):
    X, y = breast_cancer
    rng = np.random.default_rng(0)
    X = X.mask(rng.random(X.shape) < 0.05)  # 5% missing cells: the string '' for both
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    theirs, train = _foldrpp_model(X_train, y_train, tmp_path / "train.csv", "benign")
    _, test = _foldrpp_model(X_test, y_test, tmp_path / "test.csv", "benign")
    theirs.fit(train, ratio=0.5)
    ours = FOLDRPPClassifier().fit(X_train, y_train)
    # predict before asp(): foldrpp's flattening appends the folded literals to its learnt rules in place,
    # after which its own predictions treat a missing value as failing "not (f <= t)"
    assert np.array_equal(ours.predict(X_test) == "benign", np.array(theirs.predict(test)))
    assert ours.asp_rules_ == theirs.asp()


def test_same_ordered_rules_as_foldrm_on_penguins(tmp_path):
    foldrm = pytest.importorskip("foldrm")
    penguins = pytest.importorskip("palmerpenguins").load_penguins()
    penguins.to_csv(tmp_path / "penguins.csv", index=False, na_rep="")
    features = [c for c in penguins.columns if c != "species"]
    numeric = [c for c in features if c not in ("island", "sex")]
    theirs = foldrm.Classifier(attrs=list(features), numeric=numeric, label="species")
    theirs.fit(theirs.load_data(str(tmp_path / "penguins.csv")), ratio=0.5)

    def as_tuples(rule):
        head, body, exceptions = rule[0], rule[1], rule[2]
        return (head[2] if isinstance(head, tuple) else None,
                tuple((features[i], op, value) for i, op, value in body), tuple(as_tuples(e) for e in exceptions))

    def ours_as_tuples(rule):
        return (rule.label, tuple((lit.name, lit.op, lit.value) for lit in rule.literals),
                tuple(ours_as_tuples(e) for e in rule.exceptions))

    ours = learn_ordered_rules(penguins[features], penguins["species"], ratio=0.5, tail=0, heuristic="info_gain",
                               drop_covered_negatives=False)
    assert [ours_as_tuples(r) for r in ours] == [as_tuples(r) for r in theirs.rules]


# --- comparison with other rule learners ---------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:For backward compatibility")  # wittgenstein on pandas 3
def test_fewer_rules_than_ripper_and_a_tree_at_comparable_accuracy(breast_cancer):
    wittgenstein = pytest.importorskip("wittgenstein")
    from sklearn.tree import DecisionTreeClassifier

    X, y = breast_cancer
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    ours = FOLDSEClassifier().fit(X_train, y_train)
    ripper = wittgenstein.RIPPER(random_state=0)
    ripper.fit(X_train, y_train, pos_class="malignant")
    tree = DecisionTreeClassifier(random_state=0).fit(X_train, y_train)
    ripper_accuracy = np.mean(np.where(ripper.predict(X_test), "malignant", "benign") == y_test)
    assert ours.n_rules_ < len(ripper.ruleset_.rules) and ours.n_rules_ < tree.get_n_leaves()
    assert ours.score(X_test, y_test) >= min(tree.score(X_test, y_test), ripper_accuracy) - 0.03
    assert re.fullmatch(r"label\(X,'benign'\) :- .+\.", ours.asp_rules_[0])

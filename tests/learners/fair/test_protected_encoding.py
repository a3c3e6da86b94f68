import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from diversa.learners.fair import ProtectedAttributeEncoder, as_attribute_frame, infer_attribute_type


@pytest.fixture
def attributes():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"age": rng.uniform(18, 80, 50), "sex": rng.choice(["f", "m"], 50),
                         "ethnicity": rng.integers(0, 4, 50)})


def test_mixed_types_are_encoded_as_the_spec_says(attributes):
    encoder = ProtectedAttributeEncoder().fit(attributes)
    assert encoder.types_ == ["continuous", "binary", "categorical"]
    age, sex, ethnicity = encoder.transform_blocks(attributes)
    np.testing.assert_allclose([age.mean(), age.std()], [0.0, 1.0], atol=1e-12)  # z-score
    np.testing.assert_array_equal(sex[:, 0], (attributes["sex"] == "m").to_numpy(float))  # {0, 1}
    # one-hot / sqrt(2): two different categories are at distance 1, like the two values of a binary attribute
    different = attributes["ethnicity"].to_numpy()[:, None] != attributes["ethnicity"].to_numpy()[None, :]
    distances = np.linalg.norm(ethnicity[:, None] - ethnicity[None, :], axis=-1)
    np.testing.assert_allclose(distances, different.astype(float), atol=1e-12)
    assert encoder.transform(attributes).shape == (50, 1 + 1 + 4)
    assert list(encoder.get_feature_names_out()) == ["age", "sex", "ethnicity=0", "ethnicity=1", "ethnicity=2",
                                                     "ethnicity=3"]


def test_declared_types_override_inference(attributes):
    encoder = ProtectedAttributeEncoder(types={"ethnicity": "continuous"}).fit(attributes)
    assert encoder.types_ == ["continuous", "binary", "continuous"]
    assert infer_attribute_type(pd.Series([1.5, 2.5, 3.5])) == "continuous"
    assert infer_attribute_type(pd.Series(np.arange(30) % 12)) == "continuous"  # more levels than max_levels
    assert infer_attribute_type(pd.Series([True, False, True])) == "binary"


def test_bad_input_names_the_argument(attributes):
    broken = attributes.copy()
    broken.loc[3, "age"] = np.nan
    with pytest.raises(ValueError, match="sensitive_features contains NaN or infinity in attribute 'age'"):
        as_attribute_frame(broken)
    with pytest.raises(ValueError, match="takes one value"):
        ProtectedAttributeEncoder().fit(attributes.assign(sex="f"))
    with pytest.raises(ValueError, match="declared binary"):
        ProtectedAttributeEncoder(types={"ethnicity": "binary"}).fit(attributes)
    with pytest.raises(ValueError, match="unknown attributes"):
        ProtectedAttributeEncoder(types={"income": "continuous"}).fit(attributes)
    encoder = ProtectedAttributeEncoder().fit(attributes)
    with pytest.raises(ValueError, match="level not seen in fit"):
        encoder.transform(attributes.assign(ethnicity=7))


@parametrize_with_checks([ProtectedAttributeEncoder()])
def test_sklearn_compatible(estimator, check):
    check(estimator)

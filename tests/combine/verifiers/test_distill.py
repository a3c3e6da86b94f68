import numpy as np
import pytest

from diversa.combine.verifiers import CrossEncoderDistiller




def test_distiller_learns_embedding_dependent_target(one_thread):
    rng = np.random.default_rng(0)
    q = rng.standard_normal((100, 4))
    r = rng.standard_normal((100, 5, 4))
    target = 1 / (1 + np.exp(-3 * np.einsum("qd,qnd->qn", q, r)))
    d = CrossEncoderDistiller(hidden=(32,), epochs=60, batch_size=128, random_state=0).fit(q, r, target)
    pred = d.predict(q, r)
    assert pred.shape == (100, 5) and np.all((pred >= 0) & (pred <= 1))
    assert np.mean((pred - target) ** 2) < 0.25 * np.var(target)
    np.testing.assert_allclose(pred, CrossEncoderDistiller(hidden=(32,), epochs=60, batch_size=128,
                                                           random_state=0).fit(q, r, target).predict(q, r))


def test_bad_input():
    q, r = np.zeros((3, 2)), np.zeros((3, 4, 2))
    with pytest.raises(ValueError, match="target_scores"):
        CrossEncoderDistiller().fit(q, r, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="resp_emb"):
        CrossEncoderDistiller().fit(q, np.zeros((3, 4, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="target_scores"):
        CrossEncoderDistiller().fit(q, r, np.full((3, 4), 2.0))

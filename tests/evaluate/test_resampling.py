import diversa.evaluate.bootstrap as bootstrap
import diversa.evaluate.bootstrap_intervals as bootstrap_intervals
import diversa.evaluate.crossval as crossval
import diversa.evaluate.holdout as holdout
from diversa.evaluate import resampling


def test_gathers_every_public_name_of_the_resampling_modules():
    for module in (holdout, bootstrap, bootstrap_intervals, crossval):
        for name in module.__all__:
            assert getattr(resampling, name) is getattr(module, name)
            assert name in resampling.__all__
    assert sorted(resampling.__all__) == resampling.__all__

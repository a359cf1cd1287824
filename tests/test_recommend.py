"""evaluate's detector recommendation (host_tools.modeling.recommend)."""

from host_tools.modeling import recommend


def _res(**methods):
    out = {}
    for k, (fa, det, auc) in methods.items():
        out[k] = {"family": "ours", "normal": {"fa_rate": fa}, "pooled": {"detection_rate": det, "auc": auc}}
    return {"name": "custom", "methods": out}


def test_recommends_the_one_that_detects_more_within_the_rate():
    key, why = recommend.recommend(_res(mahalanobis=(0.005, 0.97, 0.999), zscore=(0.004, 0.0, 1.0)), 0.01)
    assert key == "mahalanobis" and "detects more" in why and "zscore detects 0%" in why


def test_a_detector_over_twice_the_rate_is_not_recommended():
    key, why = recommend.recommend(_res(mahalanobis=(0.05, 1.0, 1.0), zscore=(0.01, 0.8, 0.95)), 0.01)
    assert key == "zscore" and "mahalanobis raised more than twice" in why


def test_equal_results_pick_the_simpler_and_none_within_rate_says_so():
    key, why = recommend.recommend(_res(mahalanobis=(0.0, 1.0, 1.0), zscore=(0.0, 1.0, 1.0)), 0.01)
    assert key == "zscore" and "simpler" in why
    key, why = recommend.recommend(_res(mahalanobis=(0.08, 1.0, 1.0), zscore=(0.05, 0.9, 1.0)), 0.01)
    assert key == "zscore" and "No detector kept" in why
    assert "recommended detector" in recommend.text([_res(zscore=(0.0, 1.0, 1.0))], 0.01)

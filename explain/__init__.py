"""Shapley-value explanations of JAX models (Lundberg & Lee 2017,
arXiv:1705.07874), with the outputs people expect from the `shap` package.

    import numpy as np
    from explain import shapley, plots

    f = lambda x: model.apply(variables, x)[:, 0]   # [n, D] -> [n] (or [n, K])
    background = shapley.sample_background(x_train, 100)
    e = shapley.exact_shapley(f, x_test[:50], background)      # M <= ~16
    e = shapley.kernel_shap(f, x_test[:50], background, num_samples=2048)
    e = shapley.permutation_shap(f, x_test[:50], background)
    e.values, e.base_values, e.stderr, e.efficiency_error()
    plots.waterfall(e, 0, 'waterfall.png'); plots.beeswarm(e, 'beeswarm.png')
    e.save('values.npz')

    # Images, players = superpixels:
    groups = shapley.superpixels(images.shape[1:], 4)
    e = shapley.kernel_shap(f, images[:8], background_images, groups=groups)

    # Differentiable models (Sundararajan et al. 2017; Erion et al. 2021):
    from explain import gradients
    e = gradients.integrated_gradients(f, x, baseline=x_train.mean(0))
    e = gradients.expected_gradients(f, x, background)

Values are interventional: v(S) averages f over background rows with the
features outside S taken from them. `explain.run` is the config entry (a
trained `explain.train` MLP or `vae.train` M2 reopened with
`common.runs.load_run`); it is not imported here.
"""
from explain.gradients import expected_gradients
from explain.gradients import integrated_gradients
from explain.plots import beeswarm
from explain.plots import error_vs_budget
from explain.plots import image_attribution
from explain.plots import waterfall
from explain.shapley import exact_shapley
from explain.shapley import Explanation
from explain.shapley import explain
from explain.shapley import kernel_shap
from explain.shapley import kmeans_background
from explain.shapley import MAX_EXACT_PLAYERS
from explain.shapley import permutation_shap
from explain.shapley import sample_background
from explain.shapley import superpixels

__all__ = (
    'Explanation', 'explain', 'exact_shapley', 'kernel_shap',
    'permutation_shap', 'integrated_gradients', 'expected_gradients',
    'superpixels', 'sample_background', 'kmeans_background',
    'MAX_EXACT_PLAYERS', 'waterfall', 'beeswarm', 'image_attribution',
    'error_vs_budget')

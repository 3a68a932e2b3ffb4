"""deltatheory: the delta learning hypothesis in logistic regression, computed and simulated.

The public API is exactly the names listed here. ``import deltatheory`` never imports torch.

References: Geng et al. 2025, "The Delta Learning Hypothesis: Preference Tuning on Weak Data can
Yield Strong Gains", §6 (Theorem 6.1, Corollary 6.2).
"""

from .checks import check_corollary, check_theorem
from .closed_forms import (
    RayPrediction,
    kappa,
    lambda_from_sgd,
    predict,
    predict_from_gram,
    ray_alignment,
    signal_noise,
    steps_for_lambda,
)
from .corollary import min_dimension, p_c1_exact, p_c1_gaussian, p_c1_monte_carlo
from .errors import DeltaTheoryError
from .geometry import (
    Geometry,
    accuracy_to_alignment,
    alignment_to_accuracy,
    gram_matrix,
    random_overlaps,
    vectors,
)
from .losses import CONTROLS, LOSSES, loss_derivative, loss_value
from .simulate import SimulationResult, simulate
from .stats import mean_ci

__version__ = "0.1.0"

__all__ = [
    "CONTROLS",
    "LOSSES",
    "DeltaTheoryError",
    "Geometry",
    "RayPrediction",
    "SimulationResult",
    "accuracy_to_alignment",
    "alignment_to_accuracy",
    "check_corollary",
    "check_theorem",
    "gram_matrix",
    "kappa",
    "lambda_from_sgd",
    "loss_derivative",
    "loss_value",
    "mean_ci",
    "min_dimension",
    "p_c1_exact",
    "p_c1_gaussian",
    "p_c1_monte_carlo",
    "predict",
    "predict_from_gram",
    "random_overlaps",
    "ray_alignment",
    "signal_noise",
    "simulate",
    "steps_for_lambda",
    "vectors",
]

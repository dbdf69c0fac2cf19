"""bcejax: exact, stable and transformable binary cross-entropy losses in JAX."""

from bcejax import metrics
from bcejax._binary_cross_entropy import binary_cross_entropy
from bcejax._binary_cross_entropy import sigmoid_binary_cross_entropy
from bcejax._checks import check_labels
from bcejax._checks import check_logits
from bcejax._checks import check_probabilities
from bcejax._focal import asymmetric_loss
from bcejax._focal import sigmoid_focal_loss
from bcejax._focal import sigmoid_poly1_loss

__version__ = "0.1.0"

__all__ = (
    "asymmetric_loss",
    "binary_cross_entropy",
    "check_labels",
    "check_logits",
    "check_probabilities",
    "metrics",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "sigmoid_poly1_loss",
)

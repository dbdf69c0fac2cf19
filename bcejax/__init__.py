"""bcejax: exact, stable and transformable binary cross-entropy losses in JAX."""

from bcejax import metrics
from bcejax._binary_cross_entropy import binary_cross_entropy
from bcejax._binary_cross_entropy import sigmoid_binary_cross_entropy
from bcejax._checks import check_labels
from bcejax._checks import check_logits
from bcejax._checks import check_probabilities
from bcejax._class_weights import class_balanced_weight
from bcejax._class_weights import known_labels
from bcejax._class_weights import label_counts
from bcejax._class_weights import pos_weight_from_labels
from bcejax._focal import asymmetric_loss
from bcejax._focal import sigmoid_focal_loss
from bcejax._focal import sigmoid_poly1_loss
from bcejax._multilabel import multilabel_soft_margin_loss
from bcejax._multilabel import zlpr_loss

__version__ = "0.1.0"

__all__ = (
    "asymmetric_loss",
    "binary_cross_entropy",
    "check_labels",
    "check_logits",
    "check_probabilities",
    "class_balanced_weight",
    "known_labels",
    "label_counts",
    "metrics",
    "multilabel_soft_margin_loss",
    "pos_weight_from_labels",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "sigmoid_poly1_loss",
    "zlpr_loss",
)

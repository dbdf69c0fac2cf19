"""High-precision references for the losses, computed with mpmath at 60 digits."""

import mpmath
import numpy as np

mpmath.mp.dps = 60


def _mpf(value):
    if isinstance(value, mpmath.mpf):
        return value
    return mpmath.mpf(float(value))


def softplus(x):
    """Return log(1 + exp(x)) as an mpf, exact for x = ±inf."""
    x = _mpf(x)
    if mpmath.isinf(x):
        return x if x > 0 else mpmath.mpf(0)
    if x > 0:
        return x + mpmath.log1p(mpmath.exp(-x))
    return mpmath.log1p(mpmath.exp(x))


def sigmoid(x):
    x = _mpf(x)
    if mpmath.isinf(x):
        return mpmath.mpf(1) if x > 0 else mpmath.mpf(0)
    return 1 / (1 + mpmath.exp(-x))


def _times(coefficient, value):
    return mpmath.mpf(0) if coefficient == 0 else coefficient * value


def logits_loss(x, y, weight=1.0, pos_weight=1.0):
    """Return the element loss w * (p * y * softplus(-x) + (1 - y) * softplus(x))."""
    y, w, p = _mpf(y), _mpf(weight), _mpf(pos_weight)
    return _times(w * p * y, softplus(-_mpf(x))) + _times(w * (1 - y), softplus(x))


def logits_gradient(x, y, weight=1.0, pos_weight=1.0):
    """Return d loss / d x = w * ((1 - y) * sigmoid(x) - p * y * sigmoid(-x))."""
    y, w, p = _mpf(y), _mpf(weight), _mpf(pos_weight)
    return w * ((1 - y) * sigmoid(x) - p * y * sigmoid(-_mpf(x)))


def labels_gradient(x, weight=1.0, pos_weight=1.0):
    """Return d loss / d y = w * (p * softplus(-x) - softplus(x))."""
    w, p = _mpf(weight), _mpf(pos_weight)
    return _times(w * p, softplus(-_mpf(x))) - _times(w, softplus(x))


def as_array(function, *columns, dtype=np.float64):
    """Apply an mpmath function element by element and round once to ``dtype``."""
    columns = np.broadcast_arrays(*[np.asarray(c, dtype=np.float64) for c in columns])
    flat = [c.ravel() for c in columns]
    values = [float(function(*args)) for args in zip(*flat)]
    return np.asarray(values, dtype=np.float64).reshape(columns[0].shape).astype(dtype)


def ulp_error(actual, exact, dtype=np.float32):
    """Return |actual - exact| in units of the spacing of ``dtype`` at ``exact``.

    Below the smallest normal number the spacing is the subnormal step, so results
    in the subnormal range are compared in absolute terms.
    """
    actual = np.asarray(actual, dtype=np.float64)
    exact = np.asarray(exact, dtype=np.float64)
    both_equal = (actual == exact) | (np.isnan(actual) & np.isnan(exact))
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    tiny = np.finfo(dtype).smallest_subnormal
    spacing = np.maximum(spacing, float(tiny))
    with np.errstate(invalid="ignore"):
        error = np.abs(actual - exact) / spacing
    return np.where(both_equal, 0.0, error)


def focal_loss(x, y, alpha=None, gamma=2.0):
    """Return alpha_t * (1 - p_t)^gamma * CE(x, y), with 1 - p_t = y (1 - p) + (1 - y) p."""
    x, y, gamma = _mpf(x), _mpf(y), _mpf(gamma)
    miss = y * sigmoid(-x) + (1 - y) * sigmoid(x)
    focus = mpmath.mpf(1) if gamma == 0 else miss ** gamma
    scale = mpmath.mpf(1) if alpha is None else _mpf(alpha) * y + (1 - _mpf(alpha)) * (1 - y)
    return _times(scale * focus, logits_loss(x, y))


def asymmetric_loss(x, y, gamma_pos=0.0, gamma_neg=4.0, clip=0.05):
    """Return y (1-p)^g+ (-log p) + (1-y) p_m^g- (-log(1 - p_m)), p_m = max(p - clip, 0)."""
    x, y = _mpf(x), _mpf(y)
    p = sigmoid(x)
    shifted = max(p - _mpf(clip), mpmath.mpf(0))
    positive = (1 - p) ** _mpf(gamma_pos) * softplus(-x) if gamma_pos else softplus(-x)
    if shifted == 0:
        negative = mpmath.mpf(0)
    else:
        negative = shifted ** _mpf(gamma_neg) * -mpmath.log(1 - shifted)
    return _times(y, positive) + _times(1 - y, negative)


def poly1_loss(x, y, epsilon=1.0):
    """Return CE(x, y) + epsilon * (1 - p_t)."""
    x, y = _mpf(x), _mpf(y)
    return logits_loss(x, y) + _mpf(epsilon) * (y * sigmoid(-x) + (1 - y) * sigmoid(x))


def derivative(function, x, *args, **kwargs):
    """Return d function / dx at a finite x by mpmath's high-precision differentiation."""
    return mpmath.diff(lambda t: function(t, *args, **kwargs), _mpf(x))

"""Models whose every bias is decided by :func:`biaslab.models.layers.has_bias`."""

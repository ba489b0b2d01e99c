"""Datasets held as tensors on the training device, batched by index slicing."""

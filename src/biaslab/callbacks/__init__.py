"""The callbacks a config names by _target_: the shifted-input test, the built bias of each
conv layer, the whole-training-set evaluation, the sweep's summary."""

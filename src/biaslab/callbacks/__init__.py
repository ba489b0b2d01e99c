"""The callbacks a config names by _target_: the shifted-input test, the sweep's summary."""

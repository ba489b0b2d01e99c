"""biaslab: does the bias in a convolutional layer change test accuracy?"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # a module that moved into a folder still resolves under its old name, as records and
    # configs written before the move name their classes (biaslab.records.moved)
    from biaslab.records.moved import MOVED

    new = MOVED.get(f"{__name__}.{name}")
    if new is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return importlib.import_module(new)

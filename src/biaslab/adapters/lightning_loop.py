"""Lightning's own answer to "does validation run at the end of this step?".

Lightning has no public API for it; ``_TrainingEpochLoop._should_check_val_fx`` is what its fit
loop calls (lightning 2.2-2.6). A checkpoint must be taken after that validation, not before
(see :mod:`biaslab.resume.checkpointing`), so biaslab asks the same function with the same state.
"""

from __future__ import annotations

import lightning as L


def validates_now(trainer: L.Trainer) -> bool:
    """Whether the fit loop validates at the end of the step now ending."""
    loop = trainer.fit_loop
    fetcher = getattr(loop, "_data_fetcher", None)
    return fetcher is not None and bool(loop.epoch_loop._should_check_val_fx(fetcher))

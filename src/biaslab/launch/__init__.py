"""Before Hydra writes: one writer per folder, every job's folder checked up front."""

"""What a run folder holds, continued or refused: fingerprint, checkpoints, signals."""

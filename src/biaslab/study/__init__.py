"""Studies: a plan written before any run, stage 1 tunes on some seeds, stage 2 confirms on
fresh seeds in batches until a confidence sequence decides each cell (docs/studies.md)."""

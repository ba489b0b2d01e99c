"""What the project's Lightning path costs: training throughput against a hand-written PyTorch
loop on the same model, data, optimizer and precision; the fixed cost of one job of a
multirun; optionally the wall time of the default ``python train.py``; and, as modes of their
own, one seed-parallel job against K single runs, and K steps per call against one.

    python -m biaslab.bench [--quick] [--e2e] [--out bench.json] [--cases mnist1d cnn2d-w32]
    python -m biaslab.bench --parallel-seeds 5
    python -m biaslab.bench --steps-per-call 10 --cases images-w4

One module per job: ``cases`` (what is measured), ``clock`` (timestamps shared by both
training paths), ``raw`` (the hand-written loop), ``throughput`` (project vs raw per case),
``overhead`` (fixed cost per job), ``e2e`` (``python train.py`` end to end), ``profiling``
(cProfile of the project path), ``seeds`` (seed-parallel), ``calls`` (steps per call),
``report`` (bench.json and the tables), ``cli`` (the command line).
"""

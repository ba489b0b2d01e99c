from biaslab.bench.cli import main

main()

# make bench: timings, reported and never asserted. Builds what it runs into $(B).
bench: all-targets
	@bench/flash-bench.sh $(B)
	@bench/fleet-bench.sh $(B)
	@bench/diff-bench.sh $(B)

# The two set-up commands of the README. Both install what is missing first.

.PHONY: run test setup bench

setup:
	@scripts/setup.sh

run: setup
	cargo build --release -p scan2dms-cli
	@scripts/demo.sh

test: setup
	cargo test --workspace

# Benchmarks against peers; see benches/README.md.
bench: setup
	cargo bench -p scan2dms-benches

# The two commands: `make run` and `make test`. Both install what is missing, then build.
#   make run    release build, then peerd in the foreground as a one-node cluster (data in ./var;
#               --init: 'swarm init' at the first start, the node certificate afterwards)
#   make test   ASan+UBSan build, then every test (unit, sim, e2e, fuzz) through ctest
#   make bench  benchmarks (not part of CI); results go to docs/bench/
BUILD      ?= build
TEST_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
# ctest's own filters, e.g. make test CTEST_ARGS="-L unit"
CTEST_ARGS ?=

.PHONY: all deps build build-test run test bench clean
all: build

deps:
	@deploy/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target peerd peerctl

$(TEST_BUILD)/CMakeCache.txt:
	cmake -S . -B $(TEST_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DPD_SANITIZE=ON -DPD_SIMULATION=ON

build-test: deps $(TEST_BUILD)/CMakeCache.txt
	cmake --build $(TEST_BUILD) -j $(JOBS)

run: build
	@mkdir -p var
	$(BUILD)/core/daemon/peerd --data-dir ./var --init $(PEERD_ARGS)

test: build-test
	cd $(TEST_BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

bench: build
	@if [ -x tests/bench/run.sh ]; then tests/bench/run.sh $(BUILD); else echo "no benchmarks yet"; fi

clean:
	rm -rf $(BUILD) $(TEST_BUILD)

# rgpu — convenience wrapper around CMake/ctest.
#   make demo    build, start rgpud on the CPU device, run the nvcc-built demo through it
#   make check   build and run the whole test suite
#   make deps    install the Debian packages the build and tests need (as root)

BUILD ?= build
JOBS ?= $(shell nproc)
DEPS_PKGS = cmake libcmocka-dev libzstd-dev liblz4-dev libxxhash-dev python3

.PHONY: all build demo check deps clean

all: build

deps:
	@if ! dpkg -s $(DEPS_PKGS) >/dev/null 2>&1; then \
	  echo "installing build dependencies: $(DEPS_PKGS)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEPS_PKGS) >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEPS_PKGS) >/dev/null; fi; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@tools/demo.sh $(BUILD)

check: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD)

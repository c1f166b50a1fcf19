# rgpu — convenience wrapper around CMake/ctest.
#   make demo    build, start rgpud on the CPU device, run the nvcc-built demo through it
#   make check   build and run the whole test suite
#   make deps    install the Debian packages the build and tests need (as root), NVIDIA's
#                nvml.h (nvidia-nvml-dev wheel) unless the toolkit has it, and
#                the CUDA 12 runtime, cuBLAS 12 and cuDNN 9 wheels (DEPS_PIP) with pip if pip is there

BUILD ?= build
JOBS ?= $(shell nproc)
DEPS_PKGS = cmake libcmocka-dev libzstd-dev liblz4-dev libssl-dev python3
DEPS_PIP = nvidia-cuda-runtime-cu12 nvidia-cublas-cu12 nvidia-cudnn-cu13

.PHONY: all build demo check deps clean

all: build

deps:
	@if ! dpkg -s $(DEPS_PKGS) >/dev/null 2>&1; then \
	  echo "installing build dependencies: $(DEPS_PKGS)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEPS_PKGS) >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEPS_PKGS) >/dev/null; fi; \
	fi
	@# build dependency: nvml.h (wire/CMakeLists.txt), when the CUDA toolkit lacks it
	@if ! ls /usr/local/cuda/include/nvml.h >/dev/null 2>&1 && ! python3 -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("nvidia.cu13") is None)' 2>/dev/null; then \
	  echo "installing build dependency: nvidia-nvml-dev (pip)"; \
	  python3 -m pip install --quiet "nvidia-nvml-dev~=13.0" 2>/dev/null || \
	  python3 -m pip install --quiet --break-system-packages "nvidia-nvml-dev~=13.0"; \
	fi
	@# test dependency (tests/integration/cudart12.cmake): optional, never fails deps
	@if python3 -m pip --version >/dev/null 2>&1 && ! python3 -c 'import nvidia.cuda_runtime, nvidia.cublas, nvidia.cudnn' 2>/dev/null; then \
	  echo "installing test dependency: $(DEPS_PIP) (pip)"; \
	  python3 -m pip install --quiet $(DEPS_PIP) 2>/dev/null || \
	  python3 -m pip install --quiet --break-system-packages $(DEPS_PIP) || \
	  echo "warning: could not pip install $(DEPS_PIP): the cudart12 and cudnn tests will be skipped"; \
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

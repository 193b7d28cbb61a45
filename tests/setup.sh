#!/usr/bin/env bash
# Development set-up on Debian or Ubuntu: Chromium for the browser tests (the lean way), then a venv in
# .venv with the package and its test extra. Run it from anywhere; it is what .ci/run runs.
#
# llama-cpp-python (the real LLM server of tests/test_llm.py) has no wheel on PyPI and builds from source.
# Built for the machine's own CPU (llama.cpp's default), its AMX kernels fault ("general protection fault
# in libggml-cpu" at `ldtilecfg`) on the first chat completion on CPUs that report AMX, so it is built
# portable: AVX2 and FMA, no AMX, without the multimodal library and tools nothing here uses. It is
# installed first, with pip's cache off, so that a wheel built earlier with other flags is never reused.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "installing Debian's Chromium for the browser tests (apt-get, --no-install-recommends)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF"
if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
    echo "building llama-cpp-python from source (about 7 minutes on 2 cores)"
    .venv/bin/pip install -q --no-cache-dir 'llama-cpp-python[server]==0.3.36'
fi
.venv/bin/pip install -q -e '.[test]'
echo "set up: run the tests with .venv/bin/python -m pytest --full"

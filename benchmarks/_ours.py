"""Run a few real PPO iterations of ``DenseRewardPPO`` (Lightning ``fit``) and time each one; shared by benchmarks."""

from __future__ import annotations

import resource
import tempfile
import time

MODEL = "asset:smollm2-135m-instruct"
LORA = {"r": 16, "alpha": 32}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def sentiment_data(batch_size: int):
    from lit_critic_rl.data import SentimentPrompts

    data = SentimentPrompts(batch_size=batch_size, val_size=8)
    data.setup()
    return data


def run_ours(
    *,
    prompts: int,
    samples_per_prompt: int,
    new_tokens: int,
    steps: int,
    model: dict | None = None,
    ppo: dict | None = None,
    critic=None,
    adapter: dict | None = None,
    reward=None,
    prompt_list: list[str] | None = None,
    callbacks: list | None = None,
    generation: dict | None = None,
    objective=None,
) -> tuple[list[float], dict[str, float]]:
    """``steps`` iterations on the sentiment prompts with a VADER reward (or on ``prompt_list``, the same batch every
    iteration, with ``reward``); returns the wall time of every iteration and the ``perf/*`` phase times of the last
    one. ``objective``: an :class:`~lit_critic_rl.objectives.Objective` (None = PPO, the module's default)."""
    import lightning as L
    from lightning.pytorch.callbacks import Callback

    from lit_critic_rl.args import AdapterArgs, GenerationArgs, ModelArgs, PPOArgs
    from lit_critic_rl.module import DenseRewardPPO
    from lit_critic_rl.rewards import VaderSentiment

    class StepTimes(Callback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.phases: dict[str, float] = {}

        def on_train_batch_start(self, *_) -> None:
            self.start = time.perf_counter()

        def on_train_batch_end(self, trainer, *_) -> None:
            self.times.append(time.perf_counter() - self.start)
            self.phases = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("perf/")}

    L.seed_everything(0)
    batch = prompts * samples_per_prompt
    module = DenseRewardPPO(
        reward=reward or VaderSentiment(),
        critic=critic,
        objective=objective,
        model=ModelArgs(name_or_path=MODEL, **{"value_mode": "shared_trunk", **(model or {})}),
        adapter=AdapterArgs(**(adapter or LORA)),
        generation=GenerationArgs(
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            samples_per_prompt=samples_per_prompt,
            **(generation or {}),
        ),
        ppo=PPOArgs(
            **{
                "learning_rate": 1e-5,
                "epochs": 1,
                "minibatch_size": batch,
                "kl_coef": 0.04,
                "adaptive_kl": False,
                **(ppo or {}),
            }
        ),
    )
    timer = StepTimes()
    with tempfile.TemporaryDirectory() as root:
        trainer = L.Trainer(
            accelerator="cpu",
            max_epochs=1,
            limit_train_batches=steps,
            limit_val_batches=0,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=root,
            callbacks=[timer, *(callbacks or [])],
        )
        if prompt_list is None:
            trainer.fit(module, sentiment_data(prompts))
        else:
            from torch.utils.data import DataLoader

            batches = DataLoader([prompt_list] * steps, batch_size=None, collate_fn=list)
            trainer.fit(module, train_dataloaders=batches)
    return timer.times, timer.phases

"""Run lit_critic_rl from a checkout: ``python cli.py fit --config configs/quickstart.yaml``."""

from lit_critic_rl.launch import run

if __name__ == "__main__":
    run()

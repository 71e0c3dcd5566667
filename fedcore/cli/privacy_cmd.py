"""``fedcore privacy epsilon|plan``: the accountant and the noise planner from the shell."""

from __future__ import annotations

import argparse

from fedcore.deployment_defaults import DEFAULT_ACCOUNTANT, DEFAULT_DELTA
from fedcore.privacy.accountant import StepRecord, compute_epsilon
from fedcore.privacy.planner import plan_noise_multiplier, poisson_sample_rate, steps_per_round


def register(commands) -> None:
    privacy = commands.add_parser("privacy", help="compute epsilon or plan a noise multiplier")
    sub = privacy.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")

    eps = sub.add_parser(
        "epsilon",
        help="epsilon of DP-SGD with Poisson sampling (last line: the epsilon)",
        description="Epsilon spent by `steps` Poisson-subsampled Gaussian steps.",
    )
    eps.add_argument("--noise-multiplier", type=float, required=True, help="sigma / clipping norm")
    eps.add_argument("--sample-rate", type=float, required=True, help="Poisson sampling rate q = batch / rows")
    eps.add_argument("--steps", type=int, required=True, help="number of optimizer steps")
    eps.add_argument("--delta", type=float, default=DEFAULT_DELTA, help="target delta (default %(default)g)")
    eps.add_argument("--accountant", choices=("rdp", "prv"), default=DEFAULT_ACCOUNTANT, help="default %(default)s")
    eps.set_defaults(handler=_epsilon)

    plan = sub.add_parser(
        "plan",
        help="noise multiplier that reaches a target epsilon (last line: the multiplier)",
        description="Smallest noise multiplier whose whole run stays within the target epsilon.",
    )
    plan.add_argument("--target-epsilon", type=float, required=True)
    plan.add_argument("--rows", type=int, required=True, help="rows at the hospital")
    plan.add_argument("--batch-size", type=int, required=True, help="expected Poisson batch size")
    plan.add_argument("--epochs-per-round", type=int, required=True)
    plan.add_argument("--rounds", type=int, required=True)
    plan.add_argument("--delta", type=float, default=DEFAULT_DELTA)
    plan.add_argument("--accountant", choices=("rdp", "prv"), default=DEFAULT_ACCOUNTANT, help="default %(default)s")
    plan.set_defaults(handler=_plan)


def _epsilon(args: argparse.Namespace) -> int:
    history = [StepRecord(args.noise_multiplier, args.sample_rate, args.steps)]
    epsilon = compute_epsilon(history, args.delta, args.accountant)
    print(f"accountant={args.accountant} q={args.sample_rate} sigma={args.noise_multiplier} "
          f"steps={args.steps} delta={args.delta}")
    print(f"{epsilon:.5f}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    sample_rate = poisson_sample_rate(args.rows, args.batch_size)
    steps = steps_per_round(args.rows, args.batch_size, args.epochs_per_round) * args.rounds
    sigma = plan_noise_multiplier(
        target_epsilon=args.target_epsilon, sample_rate=sample_rate, steps=steps,
        delta=args.delta, accountant=args.accountant,
    )
    epsilon = compute_epsilon([StepRecord(sigma, sample_rate, steps)], args.delta, args.accountant)
    print(f"q={sample_rate:.6f} steps={steps} epsilon={epsilon:.4f} (target {args.target_epsilon})")
    print(f"{sigma:.4f}")
    return 0

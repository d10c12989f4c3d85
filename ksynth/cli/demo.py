"""`ksynth demo`: the first real job on built-in defaults.

Draws a few sequences from the KT synthetic distribution, searches each with the default config,
prints the verified program beside the ground truth and gzip, then the pooled official scores.
"""
from __future__ import annotations

import click

from ksynth.cli.params import SECONDS


@click.command("demo")
@click.option("--n", "n", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many KT synthetic sequences to draw.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampler seed.")
@click.option("--budget", type=SECONDS, default=None,
              help="Wall seconds per sequence [default: the search's default budget].")
def demo_cmd(n, seed, budget):
    """Sample KT sequences, find a short program for each, compare with ground truth and gzip."""
    import json

    from ksynth.bench.metrics import gzip_bits, score
    from ksynth.config import Budget, SearchConfig
    from ksynth.dsl.interp import run_lines
    from ksynth.dsl.sample import sample
    from ksynth.search.portfolio import Portfolio

    cfg = SearchConfig() if budget is None else SearchConfig(budget=Budget(seconds=budget))
    portfolio = Portfolio(cfg)
    found, truth = [], []
    for k, s in enumerate(sample(n, seed)):
        res = portfolio.search(s.sequence)
        found.append((s.sequence, res.program))
        truth.append((s.sequence, s.program))
        gz = gzip_bits(bytes(s.sequence))
        click.echo(f"== sequence {k} ({len(s.sequence)} bytes): {s.sequence}")
        click.echo(res.program.format(run_lines(res.program)))
        click.echo(f"-- found {res.kt_bits:.1f} KT bits ({res.bits} real bits, {res.strategy}, "
                   f"{res.seconds:.2f} s, verified={res.verified}); ground truth "
                   f"{s.kt_bits:.1f} KT bits; gzip {gz} bits; raw {8 * len(s.sequence)} bits\n")
    ours, gt = score(found).to_dict(), score(truth).to_dict()
    summary = {"n": n, "seed": seed, "config": cfg.to_dict(),
               "compression_rate": ours["compression_rate"],
               "ground_truth_rate": gt["compression_rate"], "gzip_rate": ours["gzip_rate"]}
    click.echo(json.dumps(summary))


COMMANDS = [demo_cmd]

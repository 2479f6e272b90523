"""``workbench data [NAME|PATH]``: check a data set and print its card (`workbench.data.card`)."""

from __future__ import annotations

import argparse
import json


def cmd_data(args: argparse.Namespace) -> int:
    from workbench.arguments import resolve_small
    from workbench.data import load
    from workbench.data.card import card_for, card_lines

    small = resolve_small(args)
    seed = args.seed or 0
    ds = load(args.data, cache_dir=args.cache_dir, seed=seed, small=small)  # every check of a file first
    card = card_for(ds, args.split, seed)
    print(json.dumps(card, indent=1) if args.json else "\n".join(card_lines(card)))
    return 0


def register(sub) -> None:
    """Add ``workbench data`` to the CLI's subparsers (called from ``workbench.cli``)."""
    from workbench.arguments import SEED, add_file_args, data_arg, data_help
    from workbench.data import SPLITS

    p = sub.add_parser("data", help="check a data set (a name, or an interactions file) and print its data card")
    p.add_argument("data", nargs="?", type=data_arg, default="synthetic", help=data_help())
    add_file_args(p)
    p.add_argument("--split", choices=sorted(SPLITS), default="temporal", help="the split the card reports (default temporal)")
    p.add_argument("--seed", type=SEED, default=None, help="seed of the synthetic world and the random split (default 0)")
    p.add_argument("--small", action="store_true", default=None, help="the small synthetic world")
    p.add_argument("--cache-dir", default="data", help="where downloaded data is cached (default: data)")
    p.add_argument("--json", action="store_true", help="the card as JSON")
    p.set_defaults(func=cmd_data)

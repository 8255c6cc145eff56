"""``bayescale datasets [NAME]``: list bundled datasets or show one's card."""

from __future__ import annotations


def add_parser(subparsers):
    parser = subparsers.add_parser("datasets", help="list bundled datasets, or show one's card")
    parser.add_argument("name", nargs="?", help="dataset to describe")
    return parser


def run(args) -> int:
    from bayescale import datasets

    if args.name:
        print(datasets.card(args.name))
        frame = datasets.load(args.name)
        print(f"{len(frame)} rows; columns: {', '.join(frame.columns)}")
    else:
        for name in datasets.names():
            print(name)
    return 0

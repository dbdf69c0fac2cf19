"""Run every benchmark in turn and print their tables as one Markdown document.

    python benchmarks/run_all.py            # the full tables of docs/benchmarks.md (about 4 minutes on 2 cores)
    python benchmarks/run_all.py --smoke    # tiny sizes, to check that every script runs (CI does this)

The exit status is 1 when a script fails or finds a recompilation.
"""

import argparse
import sys

import accuracy
import compilation
import memory
import speed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check that every script runs")
    args = parser.parse_args(argv)
    options = ["--smoke"] if args.smoke else []
    status = 0
    for module in (speed, memory, accuracy, compilation):
        status |= module.main(options)
        print()
    return status


if __name__ == "__main__":
    sys.exit(main())

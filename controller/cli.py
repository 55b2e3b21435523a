"""The `ovnbpf` command: one entry point, one subcommand per job."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ovnbpf")
    parser.add_subparsers(dest="command", required=True)
    args = parser.parse_args(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())

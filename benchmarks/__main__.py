"""Run one benchmark: python -m benchmarks pi30|modbus [ARGS...]."""

from collections.abc import Sequence
import importlib
import sys

BENCHMARKS = ("pi30", "modbus")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the named benchmark and return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in BENCHMARKS:
        print(f"usage: python -m benchmarks {'|'.join(BENCHMARKS)} [ARGS...]", file=sys.stderr)
        return 2
    name, rest = args[0], args[1:]
    module = importlib.import_module(f"benchmarks.{name}")
    # Each benchmark parses sys.argv itself, so hand it only its own arguments.
    sys.argv = [f"python -m benchmarks {name}", *rest]
    status = module.main()
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())

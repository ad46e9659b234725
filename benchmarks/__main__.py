"""Run one benchmark: python -m benchmarks FAMILY [ARGS...] (or relay)."""

from collections.abc import Sequence
import importlib
import importlib.util
import sys

from inverterlib.families import FAMILIES

# A family's benchmark is the module named after it; families without one are left out.
BENCHMARKS = tuple(
    name for name in (*FAMILIES, "relay") if importlib.util.find_spec(f"benchmarks.{name}")
)


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

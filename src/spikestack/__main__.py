"""``python -m spikestack``: the same as the ``spikestack`` command."""

from spikestack.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

"""The benchmark behind ``make bench``: load, latency, ingest and memory figures.

Run it from the repository root with ``.venv/bin/python -m bench``. It starts
its own broker and services on free ports of 127.0.0.1 and stops them at the
end. ``--help`` lists the options.
"""

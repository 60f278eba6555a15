"""Benchmarks of PyStator against transitions, python-statemachine and sismic.

Run ``python -m benchmarks`` (or ``make bench``); ``--quick`` gives a short smoke run. Every
scenario is described once, library-neutrally, in ``benchmarks.shapes``; each library's
adapter (``benchmarks.core`` for PyStator, ``benchmarks.peers`` for the others) translates it
into that library's own dialect outside the timed region. These are benchmarks, not tests:
nothing in the test suite imports them or asserts on a timing.
"""

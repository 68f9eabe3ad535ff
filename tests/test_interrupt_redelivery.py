"""A Ctrl-C that lands in a finalizer is not lost (roofsim.cli._redeliver_interrupts): Python cannot
raise it there and would print "Exception ignored ... KeyboardInterrupt" and go on; the command
line sends it again, so the run still ends with one line and status 130."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from roofsim.cli import _redeliver_interrupts


def test_the_hook_wraps_once_and_passes_other_exceptions_on():
    seen = []
    hook = _redeliver_interrupts(seen.append)
    assert _redeliver_interrupts(hook) is hook

    class Unraisable:
        exc_value = ValueError("from a finalizer")

    hook(Unraisable)
    assert seen == [Unraisable]


def test_an_interrupt_lost_in_a_finalizer_ends_the_run():
    """A child raises KeyboardInterrupt inside a weakref callback (where Python cannot propagate
    it), then works on: with the hook the run ends by that interrupt, quietly; without it, the
    interrupt is printed and lost, and the child finishes its work."""
    script = textwrap.dedent("""
        import signal, sys, time, weakref
        from roofsim.cli import _redeliver_interrupts
        # as a terminal leaves it: a test run started in the background of a non-interactive
        # shell ignores SIGINT, and this child would inherit that
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if sys.argv[1] == "hook":
            sys.unraisablehook = _redeliver_interrupts(sys.unraisablehook)
        class Thing:
            pass
        def callback(ref):
            raise KeyboardInterrupt
        thing = Thing()
        keep = weakref.ref(thing, callback)
        try:
            del thing                   # the callback runs now; its KeyboardInterrupt is unraisable
            time.sleep(2)
            print("finished")
        except KeyboardInterrupt:
            print("interrupted")
    """)
    with_hook = subprocess.run([sys.executable, "-c", script, "hook"], capture_output=True,
                               text=True, timeout=60)
    assert with_hook.stdout.strip() == "interrupted", with_hook.stderr
    assert "Exception ignored" not in with_hook.stderr
    without = subprocess.run([sys.executable, "-c", script, "plain"], capture_output=True,
                             text=True, timeout=60)
    assert without.stdout.strip() == "finished"
    assert "KeyboardInterrupt" in without.stderr

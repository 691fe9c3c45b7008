"""The zoo (``tests/zoo``) in subprocess mode: every bug case with its schedule and checker, every correct
handler with its three schedules, each run with ``backend=Subprocess()``.

Run from the repository root: ``python scripts/zoo_subprocess.py``. Prints bugs caught and correct runs passed.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import tests.zoo.test_zoo as z
from chaosdurable.backends import Subprocess

orig = z._check
def sub_check(handler, input, faults, **kw):
    kw.setdefault("backend", Subprocess())
    return orig(handler, input, faults, **kw)
z._check = sub_check
caught = 0
missed = []
t0 = time.time()
for case in z.BUGS:
    try:
        z.test_bug_is_caught(case)
        caught += 1
    except BaseException as e:
        missed.append((case.id, type(e).__name__, str(e).splitlines()[0][:150]))
print(f"bugs caught {caught}/{len(z.BUGS)} in {time.time()-t0:.0f}s", flush=True)
for m in missed:
    print("  MISS", m)
ok = 0
fa = []
for case in z.GOOD:
    for label, faults in case.schedules.items():
        try:
            z.test_correct_handler_passes(case, faults)
            ok += 1
        except BaseException as e:
            fa.append((case.handler.__name__, label, str(e).splitlines()[0][:200]))
print(f"correct passed {ok}/{ok+len(fa)} in {time.time()-t0:.0f}s")
for f in fa:
    print("  FA", f)

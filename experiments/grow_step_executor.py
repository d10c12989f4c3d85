"""Why enumerate computes values with the op table's bodies (OpSpec.body) instead of batching through the executor.

    python experiments/grow_step_executor.py

enumerate grows each settled value by ~20 one-line children (reverse, scan_add, filters, +/- c,
modulo, jumps, repeats). This times those children for 400 sampled values three ways: the
interpreter's op bodies on the values (what enumerate does), one jit.run batch of two-line programs
per value, and one batch for all of them. Values are needed back as Python tuples (the bank hashes
them), and lowering Program objects is paid per child.
"""
from __future__ import annotations

import time

from ksynth.dsl.ops import OPS
from ksynth.dsl.program import Program, Ref
from ksynth.dsl import jit
from ksynth.dsl.sample import sample
jit.warm_up(parallel=False)
vals = [tuple(s.sequence) for s in sample(400, 5)]
def children(v):
    ref = Ref(0)
    out = [("reverse_list", (ref,)), ("scan_add", (ref,))] + [("filter", (p, ref)) for p in ("is_even", "is_odd", "is_not_zero")]
    out += [("add_item_list", (ref, 3)), ("subtract_item_list", (ref, 2))]
    out += [("modulo_item_list", (ref, c)) for c in (2, 3, 4, 5, 256)]
    out += [("get_subsequence_with_jumps", (ref, j)) for j in range(2, 6)]
    out += [("repeat_list", (r, ref)) for r in range(2, 6)]
    return out
t = time.perf_counter(); n = 0
for v in vals:
    lv = list(v)
    for op, args in children(v):
        a = [lv if isinstance(x, Ref) else x for x in args]
        try: tuple(OPS[op].body(*a)); n += 1
        except ZeroDivisionError: pass
ti = time.perf_counter() - t
# batched: per entry, one Batch of 2-line programs lowered with jit.lower, run, values back as tuples
t = time.perf_counter(); m = 0
for v in vals:
    progs = [Program.build([("set_list", (v,)), (op, args)]) for op, args in children(v)]
    out = jit.run(jit.lower(progs), threads=1)
    vs = [tuple(out[i].tolist()) for i in range(len(progs))]; m += len(vs)
tb = time.perf_counter() - t
# batched across ALL entries at once (best case for the executor)
t = time.perf_counter()
progs = [Program.build([("set_list", (v,)), (op, args)]) for v in vals for op, args in children(v)]
out = jit.run(jit.lower(progs), threads=1)
vs = [tuple(out[i].tolist()) for i in range(len(progs))]
ta = time.perf_counter() - t
print(f"OpSpec.body {ti/n*1e6:.1f} us/child; jit per entry {tb/m*1e6:.1f} us/child; jit one batch {ta/len(progs)*1e6:.1f} us/child")

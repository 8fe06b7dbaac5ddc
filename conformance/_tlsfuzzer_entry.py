"""Run one tlsfuzzer app with a fixed random seed (run by tlsfuzzer.sh, in its venv).

    tlsfuzzer.sh <relative path to this file> MODULE SEED [script options]

The shipped scripts/ entries are symlink stubs that do not run here, so the app
module under tlsfuzzer/_apps/ is imported directly. Seeding makes `-n` sampling
(and the scripts' random fuzz values) identical across targets and runs, so
results can be compared probe by probe.
"""

import importlib
import random
import sys
import types

module, seed, *args = sys.argv[1:]
random.seed(int(seed))
sys.argv = [module.replace("_", "-") + ".py", *args]
# structured_random_iter (the fuzzed-plaintext payloads, which also name the probes) draws
# from SystemRandom: give it a seeded generator so every target gets the same probes.
fuzzers = importlib.import_module("tlsfuzzer.fuzzers")
fuzzers.random = types.SimpleNamespace(
    **{name: getattr(random, name) for name in dir(random) if not name.startswith("_")})
fuzzers.random.SystemRandom = lambda: random.Random(int(seed) + 1)
app = importlib.import_module(f"tlsfuzzer._apps.{module}")
if hasattr(app, "sample"):
    # The probe sample gets its own generator: other random draws made while the
    # probes are built (fuzz payloads, key shares) must not change which probes run.
    app.sample = random.Random(int(seed)).sample
app.main()

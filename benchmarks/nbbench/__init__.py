"""The benchmark suite behind ``benchmarks/suite.py``, one concept per module.

Driver side (plain Python; it never imports NumPy or torch, so it cannot disturb the
workers): ``driver`` (the run), ``protocol`` (starting a worker, reading its answer),
``stats`` (summaries, the bootstrap, the targets), ``checks`` (the like-for-like
check's results), ``tables``, ``profile_tables`` and ``console`` (the text output),
``report`` (RESULTS.md from the JSON).

Worker side (``suite.py _worker SPEC``; NumPy, neuroback and maybe torch arrive through
``train_step.py`` once the thread variables are set): ``worker`` (the job and the timing
loop), ``prepare`` (machine information, probes, the like-for-like check), ``steps``
with ``steps_numpy``, ``steps_neuroback`` and ``steps_torch`` (the implementations), and
``cnn`` (the convolutional cases, in neuroback and in PyTorch).

Both: ``sizes`` (what is measured: sizes, implementations, targets), ``phases`` (the
per-phase profile of neuroback's step), ``fitshare`` (the share of a fit epoch outside
``train_step``) and ``digits`` (the time-to-accuracy comparison): each its worker job and
its summary. No module imports NumPy or torch at import time.
"""

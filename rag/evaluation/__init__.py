"""`rag eval`: the evaluation set, its metrics, the runner, reports and the SQuAD runner.

Kept apart from the answer path: nothing here imports the pipeline's rules for checking or
citing answers, so the figures grade the pipeline instead of agreeing with it.
"""

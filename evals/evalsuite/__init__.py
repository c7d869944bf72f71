"""The eval suite behind ``evals/eval.py``: cases, evaluators, the parallel runner, summaries."""

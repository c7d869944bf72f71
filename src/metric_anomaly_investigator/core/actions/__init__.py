"""The analysis behind each action of the Tool Executor, one module per action.

Every ``run(bench, action)`` turns one validated action into warehouse queries + statistics and
a :class:`~..models.StepResult`; :class:`~.workbench.Workbench` holds what they share (the
warehouse, the investigation context, cached queries and the comparison windows).
"""

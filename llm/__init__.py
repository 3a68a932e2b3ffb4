"""Companion package for real-model delta-learning DPO (TRL + transformers).

Not built yet: see the project's open issue for the ``llm`` companion. Its heavy dependencies sit
behind the ``llm`` extra (``pip install -e .[llm]``) and are never imported by ``deltatheory``.
"""

"""What the web process and the worker share: settings, domain types, policy and storage.

Nothing here imports Flask, Celery or scikit-learn.
"""

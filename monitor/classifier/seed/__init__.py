"""A labelled seed set written for this project (MIT): see README.md beside it.

Package data only: `importlib.resources.files("monitor.classifier.seed") / "seed_posts.csv"`.
"""

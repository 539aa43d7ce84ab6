"""Persistence: SQLAlchemy models, the repository, and Alembic migrations."""

from monitor.storage.database import Database
from monitor.storage.repository import DueAlert, NewPost, Repository, StoredPoll

__all__ = ["Database", "DueAlert", "NewPost", "Repository", "StoredPoll"]

"""PostgreSQL checks that verdicts and alerts refer to a post once per statement, not per row
(issue 16)

A foreign key makes PostgreSQL run a query for each new row (`SELECT 1 FROM posts WHERE id = $1
FOR KEY SHARE`, through its per-row RI trigger). A poll inserts its verdicts and alerts in one
statement each, and those per-row checks were 31-33 µs of the server's 72 µs a post at polls of
5,000 (`bench/postgres_store_costs.py --per-poll 5000 --posts 20000`). The same guarantee, given
once per statement from the statement's new rows (a transition table), costs 3-4 µs a post
there (9 at polls of 100): the technique of PostgreSQL's own proposed statement-level RI checks.

What the two foreign keys `classifications.post_id` and `alerts.post_id` (ON DELETE CASCADE)
gave, and what replaces each, on PostgreSQL only (SQLite keeps its foreign keys: it checks them
cheaply in-process):
- A row that refers to no post is refused: an AFTER INSERT statement trigger joins the new rows
  to `posts`, locking those posts FOR KEY SHARE as the foreign key did, and raises
  `foreign_key_violation` (SQLSTATE 23503, the foreign key's own, so the poll's quarantine path
  reads it the same) when any row found no post.
- A post cannot be deleted from under a transaction that has just referred to it: that lock
  holds until the referring transaction ends, so the delete waits; and a post deleted by a
  transaction that committed first is not found by the join (PostgreSQL re-checks a locked row
  that changed), so the referring row is refused.
- Deleting posts deletes their verdicts and alerts: an AFTER DELETE statement trigger on `posts`
  (retention deletes them first anyway; this keeps any other delete from leaving orphans).
- `post_id` never changes: an update that would change it is refused.
Not covered: `TRUNCATE posts`, which the foreign keys refused unless the referring tables went
with it, now leaves them behind; nothing here truncates.

The functions pin their search_path to the schema they were made in, so a caller's own
search_path cannot point them at other tables.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

REFERRING = ("classifications", "alerts")
"""Written out, not imported: a migration keeps meaning what it meant when written."""

UPGRADE = [
    """
    CREATE FUNCTION post_references_exist() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
      IF (SELECT count(*) FROM (
            SELECT 1 FROM posts p JOIN new_rows n ON p.id = n.post_id FOR KEY SHARE OF p
          ) AS found) <> (SELECT count(*) FROM new_rows) THEN
        RAISE foreign_key_violation USING
          MESSAGE = format('a row of %I refers to a post that does not exist', TG_TABLE_NAME);
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION post_id_is_fixed() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
      RAISE foreign_key_violation USING
        MESSAGE = format('the post of a row of %I cannot change', TG_TABLE_NAME);
    END $$
    """,
    """
    CREATE FUNCTION posts_deleted() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
      DELETE FROM alerts WHERE post_id IN (SELECT id FROM old_rows);
      DELETE FROM classifications WHERE post_id IN (SELECT id FROM old_rows);
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER posts_deleted AFTER DELETE ON posts
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION posts_deleted()
    """,
]
for _table in REFERRING:
    UPGRADE += [
        f"ALTER TABLE {_table} DROP CONSTRAINT {_table}_post_id_fkey",
        f"""
        CREATE TRIGGER {_table}_post_exists AFTER INSERT ON {_table}
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION post_references_exist()
        """,
        f"""
        CREATE TRIGGER {_table}_post_id_fixed BEFORE UPDATE OF post_id ON {_table}
        FOR EACH ROW WHEN (OLD.post_id IS DISTINCT FROM NEW.post_id)
        EXECUTE FUNCTION post_id_is_fixed()
        """,
    ]

DOWNGRADE = [
    "DROP TRIGGER posts_deleted ON posts",
    *(f"DROP TRIGGER {t}_post_exists ON {t}" for t in REFERRING),
    *(f"DROP TRIGGER {t}_post_id_fixed ON {t}" for t in REFERRING),
    "DROP FUNCTION posts_deleted()",
    "DROP FUNCTION post_id_is_fixed()",
    "DROP FUNCTION post_references_exist()",
    *(
        f"ALTER TABLE {t} ADD CONSTRAINT {t}_post_id_fkey FOREIGN KEY (post_id) "
        "REFERENCES posts (id) ON DELETE CASCADE"
        for t in REFERRING
    ),
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DOWNGRADE:
            op.execute(statement)

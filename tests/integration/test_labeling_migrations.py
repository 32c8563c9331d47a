"""Schema migrations of the labelling database on SQLite and PostgreSQL.

The comparison of the migrated schema with the ORM models is the test that
fails when a model changes without a migration.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from contextlib import ExitStack

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect, select, text

from labeling_helpers import PASSWORD, add_users, labeling_db_url
from qiloop.core.errors import StoreError
from qiloop.core.records import Box
from qiloop.labeling import boxes as box_json
from qiloop.labeling import gold_prelabels, migrate
from qiloop.labeling.auth import authenticate
from qiloop.labeling.db import Base, Database
from qiloop.labeling.models import GoldItem, Job, JobGoldPrelabel, LoginFailure, User

pytestmark = pytest.mark.slow

KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SCRATCH = Box.from_xyxy(10, 10, 60, 20)
LATER_TABLES = {JobGoldPrelabel.__tablename__, LoginFailure.__tablename__}  # added by 0002 and 0003


@pytest.fixture(params=KINDS)
def url(request, tmp_path):
    with ExitStack() as stack:
        yield labeling_db_url(request.param, tmp_path, stack)


def differences(engine, metadata=Base.metadata) -> list:
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)


def metadata_of_0001() -> MetaData:
    """The models as they were at revision 0001: every table but those later revisions added."""
    old = MetaData()
    for table in Base.metadata.sorted_tables:
        if table.name not in LATER_TABLES:
            table.to_metadata(old)
    return old


def revision_of(engine) -> list[str]:
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))]


def test_an_empty_database_migrates_to_the_head_and_matches_the_models(url):
    db = Database.from_url(url)
    try:
        state = db.schema_state()
        assert state.up_to_date and state.current == migrate.history()[-1].id
        assert revision_of(db.engine) == [state.head]
        assert differences(db.engine) == []
    finally:
        db.dispose()


def test_revision_0001_is_the_schema_create_all_made_before_migrations(url):
    db = Database.from_url(url, create=False)
    try:
        before, after = db.upgrade("0001")
        assert (before.current, after.current) == (None, "0001")
        assert differences(db.engine, metadata_of_0001()) == []
        assert not LATER_TABLES & set(inspect(db.engine).get_table_names())
    finally:
        db.dispose()


def test_a_database_made_before_migrations_is_adopted_and_keeps_its_data(url):
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))
    metadata_of_0001().create_all(engine)  # what the code before migrations did on every open
    legacy = Database(engine)
    add_users(legacy, "ann")
    with legacy.session() as session:
        session.add(Job(name="old-job", classes=["scratch"], annotators_per_image=1, lease_seconds=60.0))
        session.add(
            GoldItem(image_sha256="a" * 64, image_uri="file:///a.png", image_width=96, image_height=64, boxes=[])
        )
    legacy.dispose()

    before, after = migrate.upgrade(create_engine(url.replace("postgresql://", "postgresql+psycopg2://")))
    assert (before.current, before.legacy) == (None, True)
    assert after.current == after.head
    db = Database.from_url(url)
    try:
        assert differences(db.engine) == []
        with db.session() as session:
            assert authenticate(session, "ann", PASSWORD).username == "ann"
            job = session.scalar(select(Job).where(Job.name == "old-job"))
            gold = session.scalar(select(GoldItem))
            gold_prelabels.store(session, job.id, {gold.image_sha256: [SCRATCH]})
        with db.session() as session:
            assert gold_prelabels.for_task(session, job.id, gold.id) == (SCRATCH,)
    finally:
        db.dispose()


def test_downgrade_to_0001_drops_only_what_later_revisions_added_and_upgrades_again(url):
    db = Database.from_url(url)
    try:
        add_users(db, "ann")
        before, after = db.downgrade("0002")
        assert (before.current, after.current) == ("0003", "0002")
        assert LoginFailure.__tablename__ not in inspect(db.engine).get_table_names()
        assert JobGoldPrelabel.__tablename__ in inspect(db.engine).get_table_names()
        before, after = db.downgrade("0001")
        assert (before.current, after.current) == ("0002", "0001")
        assert not LATER_TABLES & set(inspect(db.engine).get_table_names())
        assert differences(db.engine, metadata_of_0001()) == []
        with db.session() as session:
            assert session.scalar(select(User.username)) == "ann"
        db.create_schema()
        assert db.schema_state().up_to_date and differences(db.engine) == []
    finally:
        db.dispose()


def test_a_database_at_an_unknown_revision_is_refused(url):
    db = Database.from_url(url)
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    state = db.schema_state()
    assert (state.current, state.known) == ("f00d", False)
    db.dispose()
    with pytest.raises(StoreError, match="'f00d', which this qiloop does not know") as caught:
        Database.from_url(url)
    assert "upgrade qiloop" in caught.value.hint


def test_a_database_with_only_some_of_the_tables_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'partial.db'}"
    engine = create_engine(url)
    Base.metadata.tables["users"].create(engine)
    engine.dispose()
    with pytest.raises(StoreError, match="lacks annotations, api_tokens"):
        Database.from_url(url)
    assert "alembic_version" not in inspect(create_engine(url)).get_table_names()


OPEN = """
import sys, time
from qiloop.labeling.db import Database
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # every process opens at the same instant
Database.from_url(sys.argv[1]).dispose()
"""


def test_concurrent_first_opens_migrate_once(url):
    start = time.time() + 6  # after every interpreter has imported SQLAlchemy and Alembic
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(OPEN), url, str(start)], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    db = Database.from_url(url, create=False)
    try:
        assert revision_of(db.engine) == [db.schema_state().head]
        assert differences(db.engine) == []
    finally:
        db.dispose()


def test_gold_prelabels_round_trip_with_scores(tmp_path):
    db = Database.from_url(f"sqlite:///{tmp_path / 'labeling.db'}")
    scored = SCRATCH.model_copy(update={"score": 0.75})
    with db.session() as session:
        job = Job(name="j", classes=["scratch"], annotators_per_image=1, lease_seconds=60.0)
        gold = GoldItem(image_sha256="b" * 64, image_uri="u", image_width=96, image_height=64, boxes=[])
        session.add_all([job, gold])
        session.flush()
        # a sha256 that is no gold image is not stored
        assert gold_prelabels.store(session, job.id, {gold.image_sha256: [scored], "c" * 64: [SCRATCH]}) == 1
    with db.session() as session:
        assert gold_prelabels.for_task(session, job.id, gold.id) == (scored,)
        assert gold_prelabels.for_task(session, job.id + 1, gold.id) == ()
        assert box_json.from_json(session.get(JobGoldPrelabel, (job.id, gold.id)).boxes)[0].score == 0.75
    db.dispose()

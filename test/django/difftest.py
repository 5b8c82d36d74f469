#!/usr/bin/python3
"""Differential test: Django's Collector (obj.delete() / qs.delete()) against cascade_delete
(cascade_delete_django.delete()), on identical databases cloned from one template.

Two databases are made from one schema template (tables by migrate and schema_editor,
policies by `cascade_delete_sync`). Each scenario empties both, builds the same data in both
(checked identical), deletes with Django in one and with cascade_delete in the other (three
times: default settings, batch_size 1, fast_path off with batch_size 3), then compares every
table's contents, success versus failure (and the kind of refusal) and the per-model counts. Scenarios marked with a
documented difference assert that exact difference instead.

Needs PGHOST/PGPORT/PGUSER (a superuser). Prints `django: N passed, M failed`.
"""
import io
import os
import subprocess
import sys
import time
import traceback
import uuid

import zoo_settings

PREFIX = 'django_%d' % os.getpid()
SCHEMA_DB = PREFIX + '_schema'
zoo_settings.configure(SCHEMA_DB)

import psycopg2  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.management.base import CommandError  # noqa: E402
from django.db import IntegrityError, connections, transaction  # noqa: E402
from django.db.models import ProtectedError, RestrictedError  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402

import cascade_delete_django  # noqa: E402
from cascade_delete_django import DeleteProtected, DeleteRefused, DeleteRestricted  # noqa: E402
from zoo.models import *  # noqa: E402,F401,F403
from zoo.models import DEFAULT_R  # noqa: E402

VERBOSE = '-v' in sys.argv
# cascade_delete settings the extension's side runs each scenario with.
CD_VARIANTS = [(), ('cascade_delete.batch_size = 1',),
               ('cascade_delete.fast_path = off', 'cascade_delete.batch_size = 3')]
ONLY = [a for a in sys.argv[1:] if not a.startswith('-')]

# ------------------------------------------------------------------------------------------------
# databases


def admin():
    c = psycopg2.connect(dbname='postgres')
    c.autocommit = True
    return c


ADMIN = admin()
CREATED = []


def create_db(name, template=None):
    with ADMIN.cursor() as cur:
        cur.execute('CREATE DATABASE "%s"%s' % (name, ' TEMPLATE "%s"' % template if template else ''))
    CREATED.append(name)


def drop_db(name):
    if name in _DUMP:
        _DUMP.pop(name)[0].close()
    with ADMIN.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS "%s"' % name)
    if name in CREATED:
        CREATED.remove(name)


def use_db(name):
    """Points Django's default alias at database name."""
    conn = connections['default']
    conn.close()
    conn.settings_dict['NAME'] = name


_DUMP = {}     # database -> (connection, query)


def dump(name):
    """{table: sorted rows} of every table in schema public, read in one query."""
    if name not in _DUMP:
        c = psycopg2.connect(dbname=name)
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1")
            tables = [r[0] for r in cur.fetchall()]
        query = ' UNION ALL '.join(
            "SELECT %s, (SELECT coalesce(json_agg(x), '[]') FROM public.%s x)"
            % (psycopg2.extensions.QuotedString(t).getquoted().decode(), '"%s"' % t.replace('"', '""'))
            for t in tables)
        _DUMP[name] = (c, query)
    c, query = _DUMP[name]
    with c.cursor() as cur:
        cur.execute(query)
        return {t: sorted((tuple(r.values()) for r in rows), key=repr) for t, rows in cur.fetchall()}


def policies(name):
    c = psycopg2.connect(dbname=name)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT child::text, columns::text, action, value, parent::text, parent_columns::text, "
                        "parent_link, type_column, type_value FROM cascade_delete_policy ORDER BY 1, 2, 5")
            return cur.fetchall()
    finally:
        c.close()


def sql(name, statement):
    c = psycopg2.connect(dbname=name)
    c.autocommit = True
    try:
        with c.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall() if cur.description else None
    finally:
        c.close()


# ------------------------------------------------------------------------------------------------
# scenarios

SCENARIOS = []


def scenario(expect=None):
    """Registers a builder: it creates data (in the default alias) and returns a callable that
    returns the instance or queryset to delete. expect: a documented difference, a function
    (django_outcome, extension_outcome, before) -> list of problems."""
    def deco(fn):
        SCENARIOS.append((fn.__name__, fn, expect))
        return fn
    return deco


def base():
    R.objects.create(pk=DEFAULT_R, is_default=True, name='default')


def a(pk, **kw):
    kw.setdefault('auto_id', DEFAULT_R)
    return A.objects.create(pk=pk, name='a%d' % pk, **kw)


def rs(*pks):
    for pk in pks:
        R.objects.create(pk=pk, name='r%d' % pk)


# --- the on_delete zoo


@scenario()
def cascade():
    base(); rs(1, 2)
    a(1, auto_id=1); a(2, auto_id=1); a(3, auto_id=2)
    return lambda: R.objects.get(pk=1)


@scenario()
def cascade_nullable():
    base(); rs(1, 2)
    a(1, auto_id=2, auto_nullable_id=1); a(2, auto_id=2, auto_nullable_id=2)
    return lambda: R.objects.get(pk=1)


@scenario()
def set_value():
    base(); rs(1, 2)
    a(1, setvalue_id=1); a(2, setvalue_id=2)
    return lambda: R.objects.get(pk=1)


@scenario()
def set_null():
    base(); rs(1)
    a(1, setnull_id=1); a(2, setnull_id=1)
    return lambda: R.objects.get(pk=1)


@scenario()
def set_default():
    base(); rs(1)
    a(1, setdefault_id=1); a(2)
    return lambda: R.objects.get(pk=1)


@scenario()
def set_default_none():
    base(); rs(1)
    a(1, setdefault_none_id=1)
    return lambda: R.objects.get(pk=1)


@scenario()
def set_default_to_deleted_row():
    """SET_DEFAULT points at the row being deleted: both fail (Django at commit)."""
    base(); rs(1)
    a(1, auto_id=1); a(2, auto_id=1, setdefault_id=1)
    a(3, setdefault_id=DEFAULT_R)
    return lambda: R.objects.get(pk=DEFAULT_R)


@scenario()
def protect():
    base(); rs(1)
    a(1, protect_id=1)
    return lambda: R.objects.get(pk=1)


@scenario()
def protect_blocks_cascaded_row():
    base(); rs(1)
    a(1, auto_id=1, protect_id=1)
    return lambda: R.objects.get(pk=1)


@scenario()
def restrict():
    base(); rs(1)
    a(1, restrict_id=1)
    return lambda: R.objects.get(pk=1)


@scenario()
def restrict_row_also_cascaded():
    base(); rs(1)
    a(1, auto_id=1, restrict_id=1)
    return lambda: R.objects.get(pk=1)


@scenario()
def restrict_row_set_null_still_blocks():
    """Being SET_NULL'ed on another key does not exempt a RESTRICT'ed row."""
    base(); rs(1)
    a(1, setnull_id=1, restrict_id=1)
    return lambda: R.objects.get(pk=1)


@scenario()
def protect_and_restrict():
    """Both block: Django raises ProtectedError while collecting."""
    base(); rs(1)
    a(1, protect_id=1); a(2, restrict_id=1)
    return lambda: R.objects.get(pk=1)


@scenario()
def do_nothing_with_constraint():
    """DO_NOTHING on a real (deferred) constraint: the commit fails in both."""
    base(); rs(1)
    a(1, donothing_id=1)
    return lambda: R.objects.get(pk=1)


@scenario()
def do_nothing_unreferenced():
    base(); rs(1, 2)
    a(1, donothing_id=2)
    return lambda: R.objects.get(pk=1)


@scenario()
def every_action_at_once():
    base(); rs(1, 2)
    a(1, auto_id=2, auto_nullable_id=2, setvalue_id=1, setnull_id=1, setdefault_id=1,
      setdefault_none_id=1, o2o_setnull_id=1)
    a(2, auto_id=1, restrict_id=1, setnull_id=1)
    a(3, auto_id=2, restrict_id=2, protect_id=2, donothing_id=2)
    return lambda: R.objects.get(pk=1)


@scenario()
def o2o_set_null():
    base(); rs(1)
    a(1, o2o_setnull_id=1)
    return lambda: R.objects.get(pk=1)


@scenario()
def cascade_p():
    base(); P.objects.create(pk=1); P.objects.create(pk=2)
    a(1, cascade_p_id=1); a(2, cascade_p_id=2)
    return lambda: P.objects.get(pk=1)


@scenario()
def chain_s_t():
    base(); rs(1)
    S.objects.create(pk=1, r_id=1); S.objects.create(pk=2, r_id=1)
    T.objects.create(pk=1, s_id=1); T.objects.create(pk=2, s_id=2); T.objects.create(pk=3, s_id=2)
    return lambda: R.objects.get(pk=1)


@scenario()
def chain_protected_by_u():
    base(); rs(1)
    S.objects.create(pk=1, r_id=1); T.objects.create(pk=1, s_id=1); U.objects.create(pk=1, t_id=1)
    return lambda: R.objects.get(pk=1)


@scenario()
def b_protect():
    base(); rs(1, 2)
    B.objects.create(pk=1, protect_id=2)
    B.objects.create(pk=2, protect_id=1)
    return lambda: R.objects.get(pk=1)


@scenario()
def b_protect_unreferenced():
    base(); rs(1, 2)
    B.objects.create(pk=1, protect_id=2)
    a(1, auto_id=1)
    return lambda: R.objects.get(pk=1)


# --- multi-table inheritance in the zoo


def rchild(pk, cls=None):
    (cls or RChild).objects.create(pk=pk, name='c%d' % pk)


@scenario()
def child_cascade():
    base(); rs(1); rchild(5); rchild(6)
    a(1, child_id=5); a(2, child_id=6); a(3, auto_id=5)
    return lambda: RChild.objects.get(pk=5)


@scenario()
def child_set_null():
    base(); rchild(5)
    a(1, child_setnull_id=5, setnull_id=5)
    return lambda: RChild.objects.get(pk=5)


@scenario()
def parent_row_cascades_to_child():
    base(); rchild(5); rchild(6)
    a(1, child_id=5); a(2, auto_id=5)
    return lambda: R.objects.get(pk=5)


@scenario()
def child_child():
    base(); rchild(6, RChildChild); rchild(7, RChildChild)
    a(1, auto_id=6); a(2, child_id=6); a(3, child_id=7)
    return lambda: RChildChild.objects.get(pk=6)


@scenario()
def child_child_from_top():
    base(); rchild(6, RChildChild); rchild(5)
    a(1, auto_id=6); a(2, child_id=6); a(3, child_setnull_id=6)
    return lambda: R.objects.get(pk=6)


@scenario()
def child_queryset():
    base(); rchild(5); rchild(6); rchild(7, RChildChild)
    a(1, child_id=5); a(2, child_id=7); a(3, auto_id=6)
    return lambda: RChild.objects.filter(pk__in=[5, 7])


@scenario()
def child_parent_protected():
    base(); rchild(5)
    a(1, protect_id=5)
    return lambda: RChild.objects.get(pk=5)


@scenario()
def child_restricted_reached_from_parent():
    base(); rchild(5); rs(1)
    ChildHolder.objects.create(pk=1, rchild_id=5, r_id=1)
    return lambda: R.objects.get(pk=5)


@scenario()
def child_restricted_holder_also_cascaded():
    base(); rchild(5)
    ChildHolder.objects.create(pk=1, rchild_id=5, r_id=5)
    return lambda: R.objects.get(pk=5)


@scenario()
def proxy_instance():
    base(); rs(1)
    a(1, auto_id=1)
    return lambda: RProxy.objects.get(pk=1)


@scenario()
def set_callable_configured():
    base(); rs(1)
    SetCallableConfigured.objects.create(pk=1, r_id=1)
    return lambda: R.objects.get(pk=1)


def _skipped_set_callable(dj, cd, before):
    # Documented: SET(callable) without a configured value gets no policy, so the database's own
    # (deferred NO ACTION) constraint refuses the delete where Django calls the callable.
    problems = []
    if dj['status'] != 'ok' or dj['result'] != (1, {'zoo.R': 1}):
        problems.append('django: expected (1, {zoo.R: 1}), got %s' % short(dj))
    if cd['status'] != 'refused':
        problems.append('extension: expected a refusal by the NO ACTION constraint, got %s' % short(cd))
    if dj['tables'].get('zoo_setcallableskipped') != [(1, DEFAULT_R)]:
        problems.append('django: row not set to %d' % DEFAULT_R)
    if cd['tables'] != before:
        problems.append('extension: tables changed')
    return problems


@scenario(expect=_skipped_set_callable)
def set_callable_skipped():
    base(); rs(1)
    SetCallableSkipped.objects.create(pk=1, r_id=1)
    return lambda: R.objects.get(pk=1)


# --- many-to-many


def m2m_data():
    base(); rs(1, 2, 3)
    m1 = M.objects.create(pk=1); m2 = M.objects.create(pk=2)
    m1.m2m.set([1, 2]); m2.m2m.set([1])
    MR.objects.create(pk=1, m_id=1, r_id=1); MR.objects.create(pk=2, m_id=2, r_id=2)
    MRNull.objects.create(pk=1, m_id=2, r_id=1); MRNull.objects.create(pk=2, m_id=1, r_id=3)


@scenario()
def m2m_delete_r():
    m2m_data()
    return lambda: R.objects.get(pk=1)


@scenario()
def m2m_delete_m():
    m2m_data()
    return lambda: M.objects.get(pk=1)


@scenario()
def m2m_queryset():
    m2m_data()
    return lambda: R.objects.filter(pk__in=[1, 2, 3])


@scenario()
def m2m_symmetrical():
    for i in range(1, 5):
        Friendly.objects.create(pk=i)
    Friendly.objects.get(pk=1).friends.set([2, 3])
    Friendly.objects.get(pk=4).friends.set([2])
    return lambda: Friendly.objects.get(pk=2)


@scenario()
def queryset_overlapping():
    base(); rs(1, 2, 3)
    S.objects.create(pk=1, r_id=1); S.objects.create(pk=2, r_id=2)
    a(1, auto_id=1, auto_nullable_id=2); a(2, auto_id=3, setnull_id=2)
    return lambda: R.objects.filter(name__in=['r1', 'r2'])


@scenario()
def queryset_empty():
    base(); rs(1)
    return lambda: R.objects.filter(pk=-1)


@scenario()
def single_row_no_dependents():
    P.objects.create(pk=1); P.objects.create(pk=2)
    return lambda: P.objects.get(pk=1)


# --- RESTRICT reached through several paths


def tops(*pks):
    for pk in pks:
        DeleteTop.objects.create(pk=pk)


@scenario()
def restrict_paths_allowed():
    tops(1)
    B1.objects.create(pk=1, delete_top_id=1); B2.objects.create(pk=1, delete_top_id=1)
    DeleteBottom.objects.create(pk=1, b1_id=1, b2_id=1)
    return lambda: DeleteTop.objects.get(pk=1)


@scenario()
def restrict_paths_delete_b1():
    tops(1)
    B1.objects.create(pk=1, delete_top_id=1); B2.objects.create(pk=1, delete_top_id=1)
    DeleteBottom.objects.create(pk=1, b1_id=1, b2_id=1)
    return lambda: B1.objects.get(pk=1)


@scenario()
def restrict_paths_delete_b2():
    tops(1)
    B1.objects.create(pk=1, delete_top_id=1); B2.objects.create(pk=1, delete_top_id=1)
    DeleteBottom.objects.create(pk=1, b1_id=1, b2_id=1)
    return lambda: B2.objects.get(pk=1)


@scenario()
def restrict_paths_other_top():
    tops(1, 2)
    B1.objects.create(pk=1, delete_top_id=1); B2.objects.create(pk=2, delete_top_id=2)
    DeleteBottom.objects.create(pk=1, b1_id=1, b2_id=2)
    return lambda: DeleteTop.objects.get(pk=1)


@scenario()
def restrict_paths_two_hops():
    tops(1)
    B1.objects.create(pk=1, delete_top_id=1); B2.objects.create(pk=1, delete_top_id=1)
    B3.objects.create(pk=1, b2_id=1)
    DeleteBottom.objects.create(pk=1, b1_id=1, b3_id=1)
    return lambda: DeleteTop.objects.get(pk=1)


@scenario()
def restrict_paths_queryset_both_tops():
    tops(1, 2)
    B1.objects.create(pk=1, delete_top_id=1); B2.objects.create(pk=2, delete_top_id=2)
    DeleteBottom.objects.create(pk=1, b1_id=1, b2_id=2)
    return lambda: DeleteTop.objects.all()


def generic_tops(other_top_for_b2):
    tops(1, 2)
    ct = ContentType.objects.get_for_model(DeleteTop)
    GenericB1.objects.create(pk=1, content_type=ct, object_id=1)
    GenericB2.objects.create(pk=1, content_type=ct, object_id=2 if other_top_for_b2 else 1)
    GenericDeleteBottom.objects.create(pk=1, generic_b1_id=1, generic_b2_id=1)


@scenario()
def restrict_generic_allowed():
    generic_tops(False)
    return lambda: DeleteTop.objects.get(pk=1)


@scenario()
def restrict_generic_refused():
    generic_tops(True)
    return lambda: DeleteTop.objects.get(pk=1)


# --- Parent / Child


def family():
    Parent.objects.create(pk=1, name='p1')
    Child.objects.create(pk=2, name='c2', toy='ball')
    Child.objects.create(pk=3, name='c3', toy='kite')
    ChildCascade.objects.create(pk=1, child_id=2)
    ChildCascade.objects.create(pk=2, child_id=3)


@scenario()
def child_deletes_parent():
    family()
    return lambda: Child.objects.get(pk=2)


@scenario()
def parent_deletes_child():
    family()
    return lambda: Parent.objects.get(pk=3)


@scenario()
def child_parent_restricted():
    family(); ParentRestrict.objects.create(pk=1, parent_id=2)
    return lambda: Child.objects.get(pk=2)


@scenario()
def child_parent_protected_mti():
    family(); ParentProtect.objects.create(pk=1, parent_id=3)
    return lambda: Child.objects.get(pk=3)


@scenario()
def children_queryset():
    family()
    return lambda: Child.objects.all()


@scenario()
def explicit_parent_link():
    ExplicitChild.objects.create(pk=1, name='x')
    ExplicitParent.objects.create(pk=2, name='y')
    return lambda: ExplicitChild.objects.get(pk=1)


def _sibling_children(dj, cd, before):
    # Documented: with two child tables below one parent row (Child 4 and Child2 4), Django
    # deletes the Child and the Parent but not the sibling Child2 (it is not among the child's
    # relations), so its deferred constraint fails at commit; cascade_delete deletes the parent
    # row through the parent link and cascades to the sibling.
    problems = []
    if dj['status'] != 'refused':
        problems.append('django: expected the commit to fail, got %s' % short(dj))
    if cd['status'] != 'ok' or cd['result'] != (3, {'zoo.Child': 1, 'zoo.Parent': 1, 'zoo.Child2': 1}):
        problems.append('extension: expected (3, Child, Parent, Child2), got %s' % short(cd))
    elif any(r[0] == 4 for t in ('zoo_parent', 'zoo_child', 'zoo_child2') for r in cd['tables'][t]):
        problems.append('extension: rows of 4 left')
    return problems


@scenario(expect=_sibling_children)
def sibling_children():
    Child.objects.create(pk=4, name='c4')
    with connections['default'].cursor() as cur:      # a second child row for the same parent
        cur.execute("INSERT INTO zoo_child2 (parent_ptr_id, pet) VALUES (4, 'cat')")
    return lambda: Child.objects.get(pk=4)


@scenario()
def restrict_row_deleted_as_parent_of_cascaded_child():
    """The RESTRICT'ed Parent row is deleted because its Child row is (upward, parent link)."""
    Owner.objects.create(pk=1)
    Child.objects.create(pk=8, owner_id=1, restrict_owner_id=1)
    Child.objects.create(pk=9)
    return lambda: Owner.objects.get(pk=1)


@scenario()
def restrict_row_of_parent_survives():
    Owner.objects.create(pk=1)
    Child.objects.create(pk=8, owner_id=1)
    Parent.objects.create(pk=9, restrict_owner_id=1)
    return lambda: Owner.objects.get(pk=1)


def side_family():
    SideChild.objects.create(code=10, side_link=SideParent.objects.create(pk=1, name='p1'))
    SideChild.objects.create(code=20, side_link=SideParent.objects.create(pk=2, name='p2'))
    SideParent.objects.create(pk=3)
    SideChildRef.objects.create(pk=1, side_child_id=10)
    SideChildRef.objects.create(pk=2, side_child_id=20, side_parent_id=1)


@scenario()
def parent_link_not_primary_key():
    side_family()
    return lambda: SideChild.objects.get(code=10)


@scenario()
def parent_link_not_primary_key_from_parent():
    side_family()
    return lambda: SideParent.objects.filter(pk__in=[2, 3])


# --- Artist / Album / Song (Django's on_delete documentation)


def artists(song_model=Song):
    artist_one = Artist.objects.create(pk=1, name='one')
    artist_two = Artist.objects.create(pk=2, name='two')
    album_one = Album.objects.create(pk=1, artist=artist_one)
    album_two = Album.objects.create(pk=2, artist=artist_two)
    song_model.objects.create(pk=1, artist=artist_one, album=album_one)
    song_model.objects.create(pk=2, artist=artist_one, album=album_two)


@scenario()
def artist_one():
    artists()
    return lambda: Artist.objects.get(pk=1)


@scenario()
def album_one():
    artists()
    return lambda: Album.objects.get(pk=1)


@scenario()
def artist_two():
    artists()
    return lambda: Artist.objects.get(pk=2)


@scenario()
def artist_one_protect():
    artists(ProtectedSong)
    return lambda: Artist.objects.get(pk=1)


@scenario()
def all_artists():
    artists()
    return lambda: Artist.objects.all()


# --- generic relations


def bookmarks():
    Bookmark.objects.create(pk=1, url='a'); Bookmark.objects.create(pk=2, url='b')
    Note.objects.create(pk=1, text='same pk as bookmark 1')
    for i, obj in enumerate([Bookmark.objects.get(pk=1), Bookmark.objects.get(pk=1),
                             Bookmark.objects.get(pk=2), Note.objects.get(pk=1)], start=1):
        Tag.objects.create(pk=i, label='t%d' % i, content_object=obj)
        TextTag.objects.create(pk=i, label='x%d' % i, content_object=obj)
    TagNote.objects.create(pk=1, tag_id=1); TagNote.objects.create(pk=2, tag_id=4)
    ct = ContentType.objects.get_for_model(Bookmark)
    TextTag.objects.create(pk=10, label='not 1', content_type=ct, object_id='01')   # equal as integers only
    TextTag.objects.create(pk=11, label='not 1', content_type=ct, object_id=' 1')


@scenario()
def generic_bookmark():
    bookmarks()
    return lambda: Bookmark.objects.get(pk=1)


@scenario()
def generic_note():
    bookmarks()
    return lambda: Note.objects.all()


@scenario()
def generic_restricted_below():
    bookmarks(); TagNote.objects.create(pk=3, tag_id=3, restricted_tag_id=1)
    return lambda: Bookmark.objects.get(pk=1)


@scenario()
def generic_restricted_below_allowed():
    bookmarks(); TagNote.objects.create(pk=3, tag_id=2, restricted_tag_id=1)
    return lambda: Bookmark.objects.get(pk=1)


@scenario()
def generic_protected_below():
    bookmarks(); TagNote.objects.create(pk=3, tag_id=4, protected_tag_id=2)
    return lambda: Bookmark.objects.get(pk=1)


@scenario()
def generic_uuid_text():
    ids = [uuid.UUID(int=1), uuid.UUID(int=2)]
    for u in ids:
        item = UuidItem.objects.create(id=u)
        TextTag.objects.create(label=str(u)[-1], content_object=item)
    return lambda: UuidItem.objects.get(id=ids[0])


@scenario()
def generic_content_type():
    bookmarks()
    return lambda: ContentType.objects.filter(model='note')


@scenario()
def generic_on_plain_r():
    base(); rs(1); rchild(5)
    Tag.objects.create(pk=1, label='r1', content_object=R.objects.get(pk=1))
    Tag.objects.create(pk=2, label='r5', content_object=R.objects.get(pk=5))
    Tag.objects.create(pk=3, label='c5', content_object=RChild.objects.get(pk=5))
    return lambda: R.objects.filter(pk__in=[1, 5])


def _inherited_generic(dj, cd, before):
    # Documented: deleting an RChild, Django deletes the tags of the RChild (its inherited
    # GenericRelation) but not those attached to its R parent row, which it deletes without
    # looking at R's own relations of that kind; cascade_delete deletes the R row through the
    # parent link, and with it R's tags.
    problems = []
    if dj['status'] != 'ok' or dj['result'] != (3, {'zoo.RChild': 1, 'zoo.R': 1, 'zoo.Tag': 1}):
        problems.append('django: expected (3, RChild, R, Tag), got %s' % short(dj))
    if cd['status'] != 'ok' or cd['result'] != (4, {'zoo.RChild': 1, 'zoo.R': 1, 'zoo.Tag': 2}):
        problems.append('extension: expected (4, RChild, R, 2 Tags), got %s' % short(cd))
    if [r[0] for r in dj['tables']['zoo_tag']] != [2] or [r[0] for r in cd['tables']['zoo_tag']] != []:
        problems.append('tags left: django %s, extension %s' % (dj['tables']['zoo_tag'], cd['tables']['zoo_tag']))
    return problems


@scenario(expect=_inherited_generic)
def generic_inherited_by_child():
    base(); rchild(5)
    Tag.objects.create(pk=1, label='child', content_object=RChild.objects.get(pk=5))
    Tag.objects.create(pk=2, label='parent', content_object=R.objects.get(pk=5))
    return lambda: RChild.objects.get(pk=5)


# --- cycles and self references


def tree():
    Node.objects.create(pk=1)
    for pk, parent in [(2, 1), (3, 1), (4, 2), (5, 4), (6, 5), (7, None), (8, 7)]:
        Node.objects.create(pk=pk, parent_id=parent)


@scenario()
def self_tree():
    tree()
    return lambda: Node.objects.get(pk=2)


@scenario()
def self_protect_inside():
    tree(); Node.objects.filter(pk=6).update(guard_id=3)
    return lambda: Node.objects.get(pk=1)


@scenario()
def self_restrict_inside():
    tree(); Node.objects.filter(pk=6).update(hold_id=3)
    return lambda: Node.objects.get(pk=1)


@scenario()
def self_restrict_outside():
    tree(); Node.objects.filter(pk=8).update(hold_id=5)
    return lambda: Node.objects.get(pk=2)


@scenario()
def self_loop():
    Node.objects.create(pk=1); Node.objects.filter(pk=1).update(parent_id=1, hold_id=1)
    Node.objects.create(pk=2, parent_id=1)
    return lambda: Node.objects.get(pk=1)


@scenario()
def person_pet_cycle():
    Person.objects.create(pk=1); Person.objects.create(pk=2)
    Pet.objects.create(pk=1, owner_id=1); Pet.objects.create(pk=2, owner_id=2)
    Person.objects.filter(pk=1).update(best_pet_id=1)
    Person.objects.filter(pk=2).update(best_pet_id=1)
    return lambda: Person.objects.get(pk=1)


@scenario()
def cascade_cycle():
    CycA.objects.create(pk=1); CycA.objects.create(pk=2)
    CycB.objects.create(pk=1, a_id=1); CycB.objects.create(pk=2, a_id=2)
    CycA.objects.filter(pk=1).update(b_id=2)
    CycA.objects.filter(pk=2).update(b_id=1)
    CycA.objects.create(pk=3)
    return lambda: CycA.objects.get(pk=1)


@scenario()
def queryset_protect_among_roots():
    tree(); Node.objects.filter(pk=3).update(guard_id=7)
    return lambda: Node.objects.filter(pk__in=[3, 7])


@scenario()
def queryset_restrict_among_roots():
    tree(); Node.objects.filter(pk=3).update(hold_id=7)
    return lambda: Node.objects.filter(pk__in=[3, 7])


@scenario()
def do_nothing_row_also_cascaded():
    base(); rs(1)
    a(1, auto_id=1, donothing_id=1)
    return lambda: R.objects.get(pk=1)


@scenario()
def larger_tree_and_fanout():
    """A few hundred rows: several batches of the extension's statements."""
    base(); rs(1, 2)
    Node.objects.bulk_create([Node(pk=1)] + [Node(pk=i, parent_id=i // 2) for i in range(2, 301)])
    Node.objects.filter(pk__in=range(150, 160)).update(hold_id=5)
    A.objects.bulk_create([A(pk=i, name='a', auto_id=1 + i % 2, setnull_id=1, setdefault_id=1 + (i % 3 == 0),
                             restrict_id=2 if i % 2 else None) for i in range(1, 201)])
    m = M.objects.create(pk=1)
    m.m2m.set([1, 2, DEFAULT_R])
    return lambda: Node.objects.filter(pk__in=[2, 3])


@scenario()
def larger_fanout_r():
    base(); rs(1, 2)
    A.objects.bulk_create([A(pk=i, name='a', auto_id=1 + i % 2, setnull_id=1, setdefault_id=1 + (i % 3 == 0),
                             restrict_id=1 if i % 2 == 0 else None) for i in range(1, 201)])
    S.objects.bulk_create([S(pk=i, r_id=1 + i % 2) for i in range(1, 51)])
    T.objects.bulk_create([T(pk=i, s_id=1 + i % 50) for i in range(1, 151)])
    return lambda: R.objects.filter(pk__in=[1])


@scenario()
def quoted_names():
    for i in (1, 2):
        Weird.objects.create(id=i)
    WeirdChild.objects.create(pk=1, weird_id=1); WeirdChild.objects.create(pk=2, weird_id=2, weird_loose_id=1)
    return lambda: Weird.objects.get(pk=1)


# --- keys


@scenario()
def to_field():
    base(); rs(1, 2)
    ByName.objects.create(pk=1, r_id='r1'); ByName.objects.create(pk=2, r_id='r2')
    return lambda: R.objects.get(pk=1)


@scenario()
def one_to_one_primary_key():
    base(); rs(1, 2)
    Profile.objects.create(r_id=1); Profile.objects.create(r_id=2)
    ProfileItem.objects.create(pk=1, profile_id=1); ProfileItem.objects.create(pk=2, profile_id=2)
    return lambda: R.objects.get(pk=1)


@scenario()
def uuid_keys():
    u1, u2 = uuid.UUID(int=11), uuid.UUID(int=12)
    UParent.objects.create(id=u1); UParent.objects.create(id=u2)
    UChild.objects.create(pk=1, parent_id=u1); UChild.objects.create(pk=2, parent_id=u2, setnull_id=u1)
    return lambda: UParent.objects.get(id=u1)


@scenario()
def uuid_queryset():
    u1, u2 = uuid.UUID(int=11), uuid.UUID(int=12)
    UParent.objects.create(id=u1); UParent.objects.create(id=u2)
    UChild.objects.create(pk=1, parent_id=u1, setnull_id=u2)
    return lambda: UParent.objects.all()


@scenario()
def text_keys():
    for c in ('none', 'x', 'y'):
        Code.objects.create(code=c)
    CodeUse.objects.create(pk=1, code_id='x'); CodeUse.objects.create(pk=2, code_id='y', fallback_id='x')
    return lambda: Code.objects.get(code='x')


@scenario()
def application_only_keys():
    base(); rs(1, 2)
    Loose.objects.create(pk=1, r_cascade_id=1)
    Loose.objects.create(pk=2, r_setnull_id=1, r_nothing_id=1)
    Loose.objects.create(pk=3, r_cascade_id=2, by_name_id='r1')
    Loose.objects.create(pk=4, by_name_id='r2')
    return lambda: R.objects.get(pk=1)


@scenario()
def application_only_protect():
    base(); rs(1)
    Loose.objects.create(pk=1, r_protect_id=1)
    return lambda: R.objects.get(pk=1)


# ------------------------------------------------------------------------------------------------
# running


def classify(exc):
    if isinstance(exc, ProtectedError):
        return 'protected'
    if isinstance(exc, RestrictedError):
        return 'restricted'
    if isinstance(exc, IntegrityError):
        return 'refused'
    return 'error'


def run_side(dbname, target, deleter, settings=()):
    use_db(dbname)
    out = {'status': 'ok', 'result': None, 'exc': None}
    try:
        if settings:
            with connections['default'].cursor() as cur:
                for s in settings:
                    cur.execute('SET ' + s)
        with transaction.atomic():
            out['result'] = deleter(target())
    except Exception as e:  # noqa: BLE001
        out['status'] = classify(e)
        out['exc'] = '%s: %s' % (type(e).__name__, str(e).splitlines()[0] if str(e) else '')
        if out['status'] == 'error':
            out['exc'] += '\n' + traceback.format_exc()
    connections['default'].close()
    out['tables'] = dump(dbname)
    return out


def short(o):
    return '%s %s' % (o['status'], o['result'] if o['status'] == 'ok' else o['exc'])


def table_label_map():
    from django.apps import apps
    m = {}
    for model in apps.get_models(include_auto_created=True):
        if not model._meta.proxy:
            m.setdefault(model._meta.db_table, model._meta.label)
    return m


def compare(dj, cd, before):
    problems = []
    if dj['status'] == 'error':
        problems.append('django raised: ' + dj['exc'])
    if cd['status'] == 'error':
        problems.append('extension raised: ' + cd['exc'])
    if dj['status'] != cd['status']:
        problems.append('outcome: django %s / extension %s' % (short(dj), short(cd)))
    elif dj['status'] == 'ok' and dj['result'] != cd['result']:
        problems.append('counts: django %s / extension %s' % (dj['result'], cd['result']))
    for t in sorted(set(dj['tables']) | set(cd['tables'])):
        x, y = dj['tables'].get(t), cd['tables'].get(t)
        if x != y:
            only_dj = [r for r in x or [] if r not in (y or [])]
            only_cd = [r for r in y or [] if r not in (x or [])]
            problems.append('table %s: only after django %s; only after extension %s' % (t, only_dj, only_cd))
    # The extension's counts must match the rows that went.
    if cd['status'] == 'ok':
        labels = table_label_map()
        gone = {}
        for t, rows in before.items():
            n = len(rows) - len(cd['tables'].get(t, []))
            if n:
                gone[labels.get(t, t)] = n
        counted = {}
        for label, n in cd['result'][1].items():
            if label == 'zoo.RProxy':
                label = 'zoo.R'
            counted[label] = counted.get(label, 0) + n
        if gone != counted:
            problems.append('extension counts %s, rows gone %s' % (counted, gone))
    elif cd['tables'] != before:
        problems.append('extension refused but changed tables')
    return problems


class Side:
    """One of the two databases made from the schema template, with a connection of its own for
    resetting and dumping it (Django's default alias is pointed at it to build and delete)."""

    def __init__(self, name):
        self.name = name
        create_db(name, SCHEMA_DB)
        self.conn = psycopg2.connect(dbname=name)
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("SELECT format('public.%I', relname) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                        "AND c.relkind IN ('r', 'p') AND c.relname NOT IN "
                        "('django_migrations', 'cascade_delete_policy', 'django_content_type')")
            self.tables = [r[0] for r in cur.fetchall()]
            cur.execute("SELECT format('public.%I', relname) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                        "AND c.relkind = 'S' AND c.relname NOT IN "
                        "('django_migrations_id_seq', 'django_content_type_id_seq')")
            self.sequences = [r[0] for r in cur.fetchall()]
            cur.execute('SELECT id, app_label, model FROM django_content_type')
            self.content_types = cur.fetchall()
        # Emptying the few small tables row by row is faster than TRUNCATE of all of them.
        self.reset_sql = ('BEGIN; SET CONSTRAINTS ALL DEFERRED; ' +
                          ''.join('DELETE FROM %s; ' % t for t in self.tables) +
                          ''.join("SELECT pg_catalog.setval('%s', 1, false); " % q for q in self.sequences) +
                          'COMMIT;')

    def reset(self):
        """Empties every table but the content types, policies and migrations; restarts sequences."""
        with self.conn.cursor() as cur:
            cur.execute(self.reset_sql)
            cur.executemany('INSERT INTO django_content_type (id, app_label, model) VALUES (%s, %s, %s) '
                            'ON CONFLICT DO NOTHING', self.content_types)

    def close(self):
        self.conn.close()
        drop_db(self.name)


def run_scenarios(results):
    dj_side, cd_side = Side('%s_dj' % PREFIX), Side('%s_cd' % PREFIX)
    try:
        for name, build, expect in SCENARIOS:
            if ONLY and name not in ONLY:
                continue
            t0 = time.time()
            dj = cd = None
            try:
                def build_in(side):
                    side.reset()
                    use_db(side.name)
                    with transaction.atomic():
                        target = build()
                    connections['default'].close()
                    return target, dump(side.name)

                target, before = build_in(dj_side)
                dj = run_side(dj_side.name, target, lambda o: o.delete())
                problems = []
                # The extension's side runs once per setting variant, on the same data each time.
                for variant in CD_VARIANTS:
                    target, cd_before = build_in(cd_side)
                    if cd_before != before:
                        problems.append('the builder made different data in the two databases')
                        break
                    cd = run_side(cd_side.name, target, lambda o: cascade_delete_django.delete(o), variant)
                    found = expect(dj, cd, before) if expect else compare(dj, cd, before)
                    problems += ['[%s] %s' % (', '.join(variant) or 'defaults', p) for p in found]
            except Exception:  # noqa: BLE001
                problems = ['scenario crashed:\n' + traceback.format_exc()]
            finally:
                connections['default'].close()
            label = 'documented difference' if expect else 'same'
            results.append((name, problems))
            if problems:
                print('FAIL %s (%s)' % (name, label))
                for p in problems:
                    print('     ' + p)
            elif VERBOSE:
                print('ok   %s (%s): %s  [%.2fs]' % (name, label, short(dj), time.time() - t0))
            else:
                print('ok   %s' % name)
    finally:
        dj_side.close()
        cd_side.close()


# --- the sync command


def check_sync(results):
    def record(name, problems):
        results.append((name, problems))
        print(('ok   %s' % name) if not problems else 'FAIL %s\n     %s' % (name, '\n     '.join(problems)))

    if ONLY and 'sync' not in ONLY:
        return
    db = '%s_sync' % PREFIX
    create_db(db, SCHEMA_DB)
    use_db(db)
    try:
        expected = policies(SCHEMA_DB)
        # idempotent
        out = io.StringIO()
        call_command('cascade_delete_sync', stdout=out, stderr=io.StringIO())
        record('sync_idempotent', [] if '0 policies written, 0 dropped' in out.getvalue()
               else ['second run: %s' % out.getvalue().strip()])
        out = io.StringIO()
        try:
            call_command('cascade_delete_sync', check=True, stdout=out, stderr=io.StringIO())
            record('sync_check_in_sync', [])
        except CommandError as e:
            record('sync_check_in_sync', ['--check failed: %s %s' % (e, out.getvalue())])

        # the policies the models ask for
        pol = {(p[0], p[1], p[4]): p for p in expected}
        problems = []

        def want(child, cols, parent, action, value=None, parent_link=False, type_column=None, type_value=None):
            p = pol.get((child, cols, parent))
            got = p and (p[2], p[3], p[6], p[7], p[8])
            if action is None:
                if p is not None:
                    problems.append('%s%s -> %s: expected no policy, got %s' % (child, cols, parent, got))
            elif got != (action, value, parent_link, type_column, type_value):
                problems.append('%s%s -> %s: expected %s, got %s' % (child, cols, parent,
                                (action, value, parent_link, type_column, type_value), got))

        def ct(model):
            return str(sql(SCHEMA_DB, "SELECT id FROM django_content_type WHERE app_label = 'zoo' AND model = '%s'"
                           % model)[0][0])
        want('zoo_a', '{auto_id}', 'zoo_r', 'CASCADE')
        want('zoo_a', '{setvalue_id}', 'zoo_r', 'SET', str(DEFAULT_R))
        want('zoo_a', '{setdefault_id}', 'zoo_r', 'SET', str(DEFAULT_R))
        want('zoo_a', '{setdefault_none_id}', 'zoo_r', 'SET_NULL')
        want('zoo_a', '{protect_id}', 'zoo_r', 'PROTECT')
        want('zoo_a', '{restrict_id}', 'zoo_r', 'RESTRICT')
        want('zoo_a', '{donothing_id}', 'zoo_r', 'DO_NOTHING')
        want('zoo_a', '{child_id}', 'zoo_rchild', 'CASCADE')
        want('zoo_rchild', '{r_ptr_id}', 'zoo_r', 'CASCADE', parent_link=True)
        want('zoo_rchildchild', '{rchild_ptr_id}', 'zoo_rchild', 'CASCADE', parent_link=True)
        want('zoo_explicitchild', '{base_id}', 'zoo_explicitparent', 'CASCADE', parent_link=True)
        want('zoo_m_m2m', '{m_id}', 'zoo_m', 'CASCADE')
        want('zoo_m_m2m', '{r_id}', 'zoo_r', 'CASCADE')
        want('zoo_friendly_friends', '{from_friendly_id}', 'zoo_friendly', 'CASCADE')
        want('zoo_setcallableconfigured', '{r_id}', 'zoo_r', 'SET', str(DEFAULT_R))
        want('zoo_setcallableskipped', '{r_id}', 'zoo_r', None)
        want('zoo_loose', '{r_cascade_id}', 'zoo_r', 'CASCADE')
        want('zoo_loose', '{by_name_id}', 'zoo_r', 'CASCADE')
        want('zoo_loose', '{r_nothing_id}', 'zoo_r', None)
        want('zoo_codeuse', '{fallback_id}', 'zoo_code', 'SET', 'none')
        want('zoo_tag', '{object_id}', 'zoo_r', 'CASCADE', type_column='content_type_id', type_value=ct('r'))
        want('zoo_tag', '{object_id}', 'zoo_rchild', 'CASCADE', type_column='content_type_id',
             type_value=ct('rchild'))
        want('zoo_tag', '{object_id}', 'zoo_bookmark', 'CASCADE', type_column='content_type_id',
             type_value=ct('bookmark'))
        want('zoo_texttag', '{object_id}', 'zoo_uuiditem', 'CASCADE', type_column='content_type_id',
             type_value=ct('uuiditem'))
        want('zoo_genericb1', '{object_id}', 'zoo_deletetop', 'CASCADE', type_column='content_type_id',
             type_value=ct('deletetop'))
        record('sync_policies', problems)

        # SET(callable): reported and skipped
        err = io.StringIO()
        call_command('cascade_delete_sync', stdout=io.StringIO(), stderr=err)
        record('sync_set_callable_reported',
               [] if 'zoo.SetCallableSkipped.r: SET(callable)' in err.getvalue()
               and 'SetCallableConfigured' not in err.getvalue()
               else ['warnings were: %r' % err.getvalue()])

        # drift: a changed action, a dropped policy, a stale policy on a managed table
        sql(db, "SELECT cascade_delete_set_policy('zoo_a', '{auto_id}', 'PROTECT')")
        sql(db, "SELECT cascade_delete_drop_policy('zoo_b', '{protect_id}')")
        sql(db, "SELECT cascade_delete_set_policy('zoo_loose', '{r_nothing_id}', 'CASCADE', parent => 'zoo_r')")
        out = io.StringIO()
        problems = []
        try:
            call_command('cascade_delete_sync', check=True, stdout=out, stderr=io.StringIO())
            problems.append('--check did not fail')
        except CommandError as e:
            if e.returncode != 1:
                problems.append('returncode %r' % e.returncode)
            text = out.getvalue()
            for s in ('zoo_a(auto_id)', 'zoo_b(protect_id)', 'drop zoo_loose(r_nothing_id)'):
                if s not in text:
                    problems.append('--check output lacks %r: %s' % (s, text))
        # the real command line: exit status 1
        connections['default'].close()
        env = dict(os.environ, ZOO_DB=db)
        here = os.path.dirname(os.path.abspath(__file__))
        p = subprocess.run([sys.executable, os.path.join(here, 'manage.py'), 'cascade_delete_sync', '--check'],
                           env=env, cwd=here, capture_output=True, text=True)
        if p.returncode != 1:
            problems.append('manage.py cascade_delete_sync --check exited %d: %s' % (p.returncode, p.stderr))
        record('sync_check_detects_drift', problems)

        # --dry-run prints the SQL and changes nothing
        before = policies(db)
        p = subprocess.run([sys.executable, os.path.join(here, 'manage.py'), 'cascade_delete_sync', '--dry-run'],
                           env=env, cwd=here, capture_output=True, text=True)
        problems = []
        if p.returncode != 0 or p.stdout.count('cascade_delete_') != 3 \
                or "'zoo_a'::regclass, ARRAY['auto_id']::text[], 'CASCADE')" not in p.stdout:
            problems.append('dry run printed (%d): %s %s' % (p.returncode, p.stdout, p.stderr))
        if policies(db) != before:
            problems.append('dry run changed policies')
        record('sync_dry_run', problems)

        # the sync repairs the drift, to exactly the template's policies
        p = subprocess.run([sys.executable, os.path.join(here, 'manage.py'), 'cascade_delete_sync'],
                           env=env, cwd=here, capture_output=True, text=True)
        problems = []
        if p.returncode != 0 or '2 policies written, 1 dropped' not in p.stdout:
            problems.append('sync printed (%d): %s %s' % (p.returncode, p.stdout, p.stderr))
        if policies(db) != expected:
            problems.append('policies differ from the first sync')
        p = subprocess.run([sys.executable, os.path.join(here, 'manage.py'), 'cascade_delete_sync', '--check'],
                           env=env, cwd=here, capture_output=True, text=True)
        if p.returncode != 0:
            problems.append('--check after repair exited %d: %s' % (p.returncode, p.stdout + p.stderr))
        record('sync_repairs_drift', problems)

        # settings.CASCADE_DELETE_SYNC_ON_MIGRATE: migrate syncs
        sql(db, "SELECT cascade_delete_drop_policy('zoo_a', '{auto_id}', 'zoo_r')")
        p = subprocess.run([sys.executable, os.path.join(here, 'manage.py'), 'migrate'],
                           env=dict(env, ZOO_SYNC_ON_MIGRATE='1'), cwd=here, capture_output=True, text=True)
        record('sync_on_migrate', [] if p.returncode == 0 and policies(db) == expected
               and 'cascade_delete: 1 policies written, 0 dropped' in p.stdout
               else ['migrate (%d): %s %s' % (p.returncode, p.stdout, p.stderr)])

        # a field whose action changes (as after editing models.py and migrating); a session that
        # used the old policy sees the new one on its next call
        from django.db.models import deletion
        sql(db, "INSERT INTO zoo_r (id, name, is_default) VALUES (900, 'default', true), (1, 'r1', false); "
                "INSERT INTO zoo_a (id, name, auto_id, setdefault_id, setnull_id) VALUES (1, 'a', 900, 900, 1)")
        watcher = psycopg2.connect(dbname=db)
        watcher.autocommit = True
        problems = []

        def watch():
            with watcher.cursor() as cur:
                cur.execute("SELECT cascade_delete('zoo_r', 1, dry_run => true)")
                rep = cur.fetchone()[0]
            return [b['action'] for b in rep.get('blocked', [])], rep.get('updated')

        try:
            if watch() != ([], {'public.zoo_a': 1}):
                problems.append('before: %s' % (watch(),))
            field = A._meta.get_field('setnull')
            old = field.remote_field.on_delete
            field.remote_field.on_delete = deletion.PROTECT
            try:
                use_db(db)
                out = io.StringIO()
                call_command('cascade_delete_sync', stdout=out, stderr=io.StringIO())
                got = sql(db, "SELECT action FROM cascade_delete_policy WHERE child = 'zoo_a'::regclass "
                              "AND columns = '{setnull_id}'")
            finally:
                field.remote_field.on_delete = old
            if got != [('PROTECT',)] or '1 policies written, 0 dropped' not in out.getvalue():
                problems.append('got %s / %s' % (got, out.getvalue()))
            if watch() != (['PROTECT'], {}):
                problems.append('a session that used the old policy: %s' % (watch(),))
            call_command('cascade_delete_sync', stdout=io.StringIO(), stderr=io.StringIO())
            if watch() != ([], {'public.zoo_a': 1}):
                problems.append('after restoring: %s' % (watch(),))
        finally:
            watcher.close()
        record('sync_follows_model_change', problems)
    finally:
        connections['default'].close()
        drop_db(db)


def check_api(results):
    """delete(): dry_run, report=True, a pk-less instance, a sliced queryset."""
    if ONLY and 'api' not in ONLY:
        return
    db = '%s_api' % PREFIX
    create_db(db, SCHEMA_DB)
    use_db(db)
    problems = []
    try:
        base(); rs(1); a(1, auto_id=1); a(2, protect_id=1)
        r = R.objects.get(pk=1)
        total, counts, report = cascade_delete_django.delete(r, dry_run=True, report=True)
        if (total, counts) != (2, {'zoo.R': 1, 'zoo.A': 1}) or not report.get('dry_run') \
                or not report.get('blocked'):
            problems.append('dry run: %s %s %s' % (total, counts, report))
        try:
            cascade_delete_django.delete(r)
            problems.append('no refusal')
        except DeleteProtected as e:
            if not (isinstance(e, ProtectedError) and isinstance(e, DeleteRefused) and isinstance(e, IntegrityError)):
                problems.append('class hierarchy')
            if e.action != 'PROTECT' or e.keys != ['2'] or e.protected_objects != {'2'} \
                    or 'zoo_a' not in (e.blocking_table or ''):
                problems.append('attributes: %s %s %s %s' % (e.action, e.keys, e.protected_objects, e.blocking_table))
        if r.pk != 1:
            problems.append('pk cleared after a refusal')
        A.objects.filter(pk=2).update(protect_id=None, restrict_id=1)
        try:
            cascade_delete_django.delete(r)
            problems.append('no refusal (restrict)')
        except DeleteRestricted as e:
            if not isinstance(e, RestrictedError) or e.restricted_objects != {'2'}:
                problems.append('restricted attributes: %s' % e.restricted_objects)
        A.objects.filter(pk=2).update(restrict_id=None)
        SetCallableSkipped.objects.create(pk=7, r_id=1)      # no policy: the NO ACTION constraint blocks
        try:
            cascade_delete_django.delete(r)
            problems.append('no refusal (no action)')
        except DeleteRefused as e:
            if isinstance(e, (ProtectedError, RestrictedError)) or e.action != 'NO ACTION' \
                    or not (e.constraint or '').startswith('zoo_setcallableskipped_r_id') or e.keys != ['7'] \
                    or e.columns != ['r_id']:
                problems.append('no action attributes: %s %s %s %s' % (e.action, e.constraint, e.keys, e.columns))
        SetCallableSkipped.objects.filter(pk=7).delete()
        if cascade_delete_django.delete(r) != (2, {'zoo.R': 1, 'zoo.A': 1}) or r.pk is not None:
            problems.append('delete: pk %s' % r.pk)
        for bad, exc in [(R(), ValueError), (R.objects.all()[:1], TypeError), (R.objects.values('pk'), TypeError),
                         (42, TypeError)]:
            try:
                cascade_delete_django.delete(bad)
                problems.append('accepted %r' % bad)
            except exc:
                pass
    except Exception:  # noqa: BLE001
        problems.append(traceback.format_exc())
    finally:
        connections['default'].close()
        drop_db(db)
    results.append(('api', problems))
    print(('ok   %s' % 'api') if not problems else 'FAIL api\n     ' + '\n     '.join(problems))


def main():
    t0 = time.time()
    results = []
    try:
        create_db(SCHEMA_DB)
        use_db(SCHEMA_DB)
        call_command('migrate', verbosity=0)       # contenttypes, and the app's CREATE EXTENSION
        from django.apps import apps
        with connections['default'].schema_editor() as editor:   # the zoo's tables
            for model in apps.get_app_config('zoo').get_models():
                if not model._meta.proxy:
                    editor.create_model(model)
        err = io.StringIO()
        call_command('cascade_delete_sync', verbosity=0, stderr=err)
        if VERBOSE:
            print(err.getvalue(), end='')
        connections['default'].close()
        check_sync(results)
        check_api(results)
        run_scenarios(results)
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        results.append(('setup', ['crashed']))
    finally:
        connections['default'].close()
        for db in list(CREATED):
            drop_db(db)
    failed = sum(1 for _, p in results if p)
    print('(%d scenarios, %.1fs)' % (len(results), time.time() - t0))
    print('django: %d passed, %d failed' % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())

"""Exceptions raised when cascade_delete refuses a delete (SQLSTATE 23503).

All of them subclass django.db.IntegrityError. The two that correspond to Django's
own refusals also subclass ProtectedError / RestrictedError, so code written for
Django's Collector (``except ProtectedError:``) keeps working.
"""
import re

from django.db import IntegrityError
from django.db.models.deletion import ProtectedError, RestrictedError

_BLOCKED = re.compile(
    r'^delete from table (?P<table>.+?) is blocked by '
    r'(?:policy (?P<action>[A-Z_]+) on |parent link policy on |foreign key constraint (?P<constraint>.+?) on )'
    r'(?P<blocking>.+)\((?P<columns>[^()]*)\)$')
_KEYS = re.compile(r'; (?:key|keys|ctid|ctids): (?P<keys>.*?)(?:, \.\.\.)?\.$')


class DeleteRefused(IntegrityError):
    """cascade_delete refused the delete: a PROTECT, RESTRICT or NO ACTION foreign key blocks it.

    Attributes (None when the message does not say):
      table           the table rows were to be deleted from (as PostgreSQL names it)
      blocking_table  the referencing table whose rows block the delete
      columns         its referencing columns
      action          'PROTECT', 'RESTRICT' or 'NO ACTION'
      constraint      the foreign key constraint's name, or None for a policy
      keys            up to 10 primary keys (as text) of blocking rows
      detail, hint    PostgreSQL's DETAIL and HINT
    """

    def __init__(self, msg, table=None, blocking_table=None, columns=None, action=None,
                 constraint=None, keys=(), detail=None, hint=None):
        IntegrityError.__init__(self, msg)
        self.table = table
        self.blocking_table = blocking_table
        self.columns = columns
        self.action = action
        self.constraint = constraint
        self.keys = list(keys)
        self.detail = detail
        self.hint = hint

    def __str__(self):
        s = self.args[0] if self.args else ''
        return s + ('\nDETAIL: ' + self.detail if self.detail else '')


class DeleteProtected(DeleteRefused, ProtectedError):
    """A PROTECT foreign key refused the delete.

    ``protected_objects`` holds the keys (as text) of up to 10 blocking rows, not model
    instances: the transaction is aborted by then, so they cannot be fetched.
    """

    def __init__(self, msg, **kw):
        DeleteRefused.__init__(self, msg, **kw)
        self.protected_objects = set(self.keys)


class DeleteRestricted(DeleteRefused, RestrictedError):
    """A RESTRICT foreign key refused the delete (a referencing row would survive).

    ``restricted_objects`` holds the keys (as text) of up to 10 blocking rows.
    """

    def __init__(self, msg, **kw):
        DeleteRefused.__init__(self, msg, **kw)
        self.restricted_objects = set(self.keys)


def refusal_from(pg_error):
    """Builds the matching exception from a psycopg2 error with pgcode 23503."""
    diag = getattr(pg_error, 'diag', None)
    primary = (getattr(diag, 'message_primary', None) or str(pg_error)).strip()
    detail = getattr(diag, 'message_detail', None)
    hint = getattr(diag, 'message_hint', None)
    kw = {'detail': detail, 'hint': hint}
    m = _BLOCKED.match(primary)
    cls = DeleteRefused
    if m:
        action = m.group('action')
        if action is None:
            action = 'CASCADE' if m.group('constraint') is None else 'NO ACTION'
        constraint = m.group('constraint')
        if constraint and len(constraint) > 1 and constraint[0] == constraint[-1] == '"':
            constraint = constraint[1:-1].replace('""', '"')
        kw.update(table=m.group('table'), blocking_table=m.group('blocking'),
                  columns=[c.strip() for c in m.group('columns').split(',')],
                  action=action, constraint=constraint)
        if action == 'PROTECT':
            cls = DeleteProtected
        elif action == 'RESTRICT':
            cls = DeleteRestricted
        k = _KEYS.search(detail or '')
        if k:
            kw['keys'] = [x for x in k.group('keys').split(', ') if x]
    return cls(primary, **kw)

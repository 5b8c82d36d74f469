"""Django admin whose delete confirmation page and deletes go through cascade_delete.

    from cascade_delete_django.admin import CascadeDeleteAdmin
    admin.site.register(Artist, CascadeDeleteAdmin)

    class ArtistAdmin(CascadeDeleteAdminMixin, MyBaseAdmin): ...

Django's own page collects every object the delete would reach into memory (with
fast deletes turned off) to list them; on a large cascade it times out or runs out of
memory. Here the page comes from cascade_delete_explain: per path from the deleted
objects, the number of objects, a few of them (loaded and linked as Django links them)
and why they are reached; the summary counts come from the extension's dry run, the
protected objects from its blockers. Memory and queries are bounded by
cascade_delete_samples and cascade_delete_max_paths, not by the size of the cascade.
Deleting (the confirmation, and the "delete selected" action) calls
cascade_delete_django.delete().
"""
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.urls import NoReverseMatch, reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.text import capfirst

from .api import delete, explain

# Edges whose rows, when there are any, stop the delete.
BLOCKING = ('PROTECT', 'RESTRICT', 'NO ACTION')


class CascadeDeleteAdminMixin:
    cascade_delete_samples = 5      # objects named per path
    cascade_delete_max_paths = 200  # paths listed; the counts always cover the whole cascade

    def get_deleted_objects(self, objs, request):
        """(to_delete, model_count, perms_needed, protected), as Django's admin wants them."""
        if isinstance(objs, (list, tuple)):
            if not objs:
                return [], {}, set(), []
            target = objs[0] if len(objs) == 1 else \
                self.model._base_manager.filter(pk__in=[o.pk for o in objs])
        else:
            target = objs
        rows = explain(target, samples=self.cascade_delete_samples, max_paths=self.cascade_delete_max_paths)
        return _confirmation(rows, request, self.admin_site)

    def delete_model(self, request, obj):
        delete(obj)

    def delete_queryset(self, request, queryset):
        delete(queryset)


class CascadeDeleteAdmin(CascadeDeleteAdminMixin, admin.ModelAdmin):
    pass


def _object_text(obj, admin_site, with_model=True):
    """An object as Django's confirmation page names it ("Album: <link>"; with_model False:
    the link alone): a link to its admin page if it has one."""
    opts = obj._meta
    model = '%s: ' % capfirst(opts.verbose_name) if with_model else ''
    if obj.__class__ in admin_site._registry:
        try:
            url = reverse('%s:%s_%s_change' % (admin_site.name, opts.app_label, opts.model_name),
                          None, (quote(obj.pk),))
            return format_html('{}<a href="{}">{}</a>', model, url, obj)
        except NoReverseMatch:
            pass
    return '%s%s' % (model, obj)


def _samples(row, admin_site, with_model=True):
    """The path's sample objects, loaded (a few per path), in key order."""
    model, keys = row['model'], row['sample_keys'] or []
    if model is None or not keys:
        return list(keys)
    found = {str(o.pk): o for o in model._base_manager.filter(pk__in=keys)}
    return [_object_text(found[k], admin_site, with_model) if k in found else k for k in keys]


def _join(names):
    """Links and texts separated by commas; texts escaped, links kept."""
    return mark_safe(', '.join(conditional_escape(n) for n in names))


def _plural(row):
    model = row['model']
    return capfirst(model._meta.verbose_name_plural) if model is not None else row['table']


def _confirmation(rows, request, admin_site):
    by_path = {r['path']: r for r in rows}
    children = {}
    for r in rows:
        children.setdefault(r['parent_path'], []).append(r)
    model_count, perms_needed, protected, seen = {}, set(), [], set()

    for r in rows:
        if r['kind'] == 'truncated' or not r['rows']:
            continue
        deletes = r['kind'] == 'roots' or (r['action'] == 'CASCADE' and r['kind'] != 'partition')
        if deletes and r['table'] not in seen:
            seen.add(r['table'])
            model_count[r['model']._meta.verbose_name_plural if r['model'] else r['table']] = r['table_rows']
            model = r['model']
            if model in admin_site._registry and not admin_site._registry[model].has_delete_permission(request):
                perms_needed.add(model._meta.verbose_name)
        if r['action'] in BLOCKING:
            names = _samples(r, admin_site)
            protected += names
            if r['rows'] > len(names):
                protected.append('... %d more %s' % (r['rows'] - len(names), _plural(r)))
        elif r['action'] in ('SET_NULL', 'SET_DEFAULT', 'SET') and r['note']:
            protected.append('%s: %s' % (_plural(r), r['note']))

    def nested(path):
        """The items under a path: each child path, then its own children."""
        out = []
        for r in children.get(path, []):
            if r['kind'] == 'truncated':
                out.append(r['tree'].strip())
                continue
            if not r['rows'] or r['action'] in BLOCKING:
                continue  # Django lists existing objects only; blockers go to "protected"
            names = _samples(r, admin_site, with_model=False)
            more = r['rows'] - len(names)
            how = {'CASCADE': 'deleted', 'SET_NULL': 'set to NULL', 'SET_DEFAULT': 'set to their default',
                   'SET': 'set to a value', 'DO_NOTHING': 'left as they are'}.get(r['action'], r['action'])
            item = format_html('{}: {} ({} through {}){}{}', _plural(r), r['rows'], how,
                               ', '.join(r['columns'] or []), format_html(': {}', _join(names)) if names else '',
                               ', ... %d more' % more if more > 0 and names else '')
            out.append(item)
            below = nested(r['path'])
            if below:
                out.append(below)
        return out

    roots = by_path.get(1)
    to_delete = []
    if roots is not None:
        names = _samples(roots, admin_site)
        if roots['rows'] == 1 and names:
            to_delete.append(names[0])
        else:
            to_delete.append(format_html('{}: {}{}', _plural(roots), roots['rows'],
                                         format_html(' ({})', _join(names)) if names else ''))
        below = nested(1)
        if below:
            to_delete.append(below)
    return to_delete, model_count, perms_needed, protected

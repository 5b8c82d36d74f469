"""Django integration of the cascade_delete PostgreSQL extension.

    INSTALLED_APPS += ['cascade_delete_django']
    ./manage.py migrate && ./manage.py cascade_delete_sync
    from cascade_delete_django import delete; delete(artist)   # -> (3, {'app.Artist': 1, 'app.Album': 2})
    explain(artist)                                            # what it would delete, and why
    admin.site.register(Artist, CascadeDeleteAdmin)            # from cascade_delete_django.admin
    job = delete(artist, chunked=True); job.run()               # or background=True: in chunks
"""
from .api import delete, explain
from .jobs import Job, jobs, resume_jobs
from .exceptions import DeleteProtected, DeleteRefused, DeleteRestricted
from .hooks import DeleteChanged, DeleteOverridden

__all__ = ['delete', 'explain', 'Job', 'jobs', 'resume_jobs', 'DeleteChanged', 'DeleteOverridden', 'DeleteRefused', 'DeleteProtected', 'DeleteRestricted']

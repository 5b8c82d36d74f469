# Models for signaltest.py: the seed's chain with a SET_NULL side table, multi-table
# inheritance, an auto-created M2M, a PROTECT, a history table that post_delete receivers
# write (as django-simple-history does), and models whose delete() is overridden the way
# django-organizations, django-mptt and django-treebeard override it (written here, not
# imported from those packages).
from django.db import models


class A(models.Model):
    name = models.TextField()


class Label(models.Model):
    name = models.TextField()


class B(models.Model):
    a = models.ForeignKey(A, on_delete=models.CASCADE)
    note = models.TextField(default='')
    labels = models.ManyToManyField(Label)


class C(models.Model):
    b = models.ForeignKey(B, on_delete=models.CASCADE)
    n = models.IntegerField(default=0)


class Tag(models.Model):
    b = models.ForeignKey(B, null=True, on_delete=models.SET_NULL)


class Guard(models.Model):
    a = models.ForeignKey(A, on_delete=models.PROTECT)


class Place(models.Model):
    name = models.TextField()


class Restaurant(Place):
    seats = models.IntegerField(default=0)


class History(models.Model):
    """Written by post_delete receivers: one row per deleted instance."""
    model = models.TextField()
    object_pk = models.IntegerField()
    data = models.TextField()


# --- delete() overrides


class OwnershipRequired(Exception):
    pass


class Organization(models.Model):
    name = models.TextField()


class OrgUser(models.Model):
    """django-organizations: the owner cannot be removed."""
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    is_owner = models.BooleanField(default=False)

    def delete(self, using=None, keep_parents=False):
        if self.is_owner:
            raise OwnershipRequired('cannot delete the organization owner')
        return super().delete(using, keep_parents)


class TreeBase(models.Model):
    """django-mptt: delete() closes the gap in the nested-set numbering (an abstract base)."""
    lft = models.IntegerField()
    rght = models.IntegerField()

    class Meta:
        abstract = True

    def delete(self, *args, **kwargs):
        width = self.rght - self.lft + 1
        result = super().delete(*args, **kwargs)
        type(self).objects.filter(rght__gt=self.rght).update(rght=models.F('rght') - width)
        type(self).objects.filter(lft__gt=self.rght).update(lft=models.F('lft') - width)
        return result


class Node(TreeBase):
    parent = models.ForeignKey('self', null=True, on_delete=models.CASCADE)


class PathQuerySet(models.QuerySet):
    """django-treebeard: children are found by materialized path, not by a foreign key."""

    def delete(self):
        paths = list(self.values_list('path', flat=True))
        q = models.Q()
        for p in paths:
            q |= models.Q(path__startswith=p)
        return models.QuerySet.delete(PathNode.objects.filter(q))


class PathNode(models.Model):
    path = models.TextField(unique=True)
    objects = PathQuerySet.as_manager()

    def delete(self):
        return PathNode.objects.filter(pk=self.pk).delete()

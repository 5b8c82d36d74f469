# The seed's models (a <- b <- c, on_delete=CASCADE) and the kinds of edge the admin's
# confirmation page shows: PROTECT, RESTRICT and SET_NULL. Used by admintest.py.
from django.db import models


class A(models.Model):
    name = models.TextField()

    def __str__(self):
        return 'A %s' % self.name


class B(models.Model):
    a = models.ForeignKey(A, on_delete=models.CASCADE)
    data = models.JSONField(default=dict)


class C(models.Model):
    b = models.ForeignKey(B, on_delete=models.CASCADE)


class Invoice(models.Model):
    a = models.ForeignKey(A, on_delete=models.PROTECT)


class Refund(models.Model):
    c = models.ForeignKey(C, on_delete=models.RESTRICT)


class Tag(models.Model):
    b = models.ForeignKey(B, null=True, on_delete=models.SET_NULL)

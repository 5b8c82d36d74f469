# The seed's models: B.a and C.b are on_delete=CASCADE; the tables are made by bench.py.
from django.db import models


class A(models.Model):
    name = models.TextField()

    class Meta:
        db_table = "a"
        managed = False


class B(models.Model):
    id = models.BigAutoField(primary_key=True)
    a = models.ForeignKey(A, on_delete=models.CASCADE)
    data = models.JSONField()

    class Meta:
        db_table = "b"
        managed = False


class C(models.Model):
    id = models.BigAutoField(primary_key=True)
    b = models.ForeignKey(B, on_delete=models.CASCADE)

    class Meta:
        db_table = "c"
        managed = False

"""Models of the differential test, written for this project from Django's documentation of
on_delete, multi-table inheritance, ManyToManyField and generic relations."""
import uuid

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models

DEFAULT_R = 900      # primary key of the R row that SET(...) and SET_DEFAULT point to


def default_r():
    """A callable default: the sync evaluates it once, Django at each delete."""
    return DEFAULT_R


def pick_r():
    """A SET(callable) target that is not configured in settings: the sync skips it."""
    return DEFAULT_R


# --- generic relations ---------------------------------------------------------------------
class Tag(models.Model):
    label = models.CharField(max_length=30)
    content_type = models.ForeignKey(ContentType, models.CASCADE)
    object_id = models.PositiveIntegerField()
    content_object = GenericForeignKey('content_type', 'object_id')


class TextTag(models.Model):
    """object_id as text: matches integer and uuid primary keys compared as text."""
    label = models.CharField(max_length=30)
    content_type = models.ForeignKey(ContentType, models.CASCADE)
    object_id = models.CharField(max_length=64)
    content_object = GenericForeignKey('content_type', 'object_id')


class TagNote(models.Model):
    """Hangs below a Tag: cascades continue past a generic relation."""
    tag = models.ForeignKey(Tag, models.CASCADE)
    restricted_tag = models.ForeignKey(Tag, models.RESTRICT, null=True, related_name='restricted_notes')
    protected_tag = models.ForeignKey(Tag, models.PROTECT, null=True, related_name='protected_notes')


# --- the on_delete zoo ---------------------------------------------------------------------------
class R(models.Model):
    name = models.CharField(max_length=30, unique=True, null=True)
    is_default = models.BooleanField(default=False)
    tags = GenericRelation(Tag)


class RProxy(R):
    class Meta:
        proxy = True


class S(models.Model):
    r = models.ForeignKey(R, models.CASCADE)


class T(models.Model):
    s = models.ForeignKey(S, models.CASCADE)


class U(models.Model):
    t = models.ForeignKey(T, models.PROTECT)


class RChild(R):
    extra = models.IntegerField(default=0)


class RChildChild(RChild):
    deeper = models.IntegerField(default=0)


class ChildHolder(models.Model):
    """RESTRICT to the child table, CASCADE to the parent table."""
    rchild = models.ForeignKey(RChild, models.RESTRICT, related_name='holders')
    r = models.ForeignKey(R, models.CASCADE, null=True, related_name='child_holders')


class P(models.Model):
    note = models.CharField(max_length=10, default='')


class A(models.Model):
    name = models.CharField(max_length=30)
    auto = models.ForeignKey(R, models.CASCADE, related_name='auto_set')
    auto_nullable = models.ForeignKey(R, models.CASCADE, null=True, related_name='auto_nullable_set')
    setvalue = models.ForeignKey(R, models.SET(DEFAULT_R), null=True, related_name='setvalue_set')
    setnull = models.ForeignKey(R, models.SET_NULL, null=True, related_name='setnull_set')
    setdefault = models.ForeignKey(R, models.SET_DEFAULT, default=default_r, related_name='setdefault_set')
    setdefault_none = models.ForeignKey(R, models.SET_DEFAULT, default=None, null=True,
                                        related_name='setdefault_none_set')
    protect = models.ForeignKey(R, models.PROTECT, null=True, related_name='protect_set')
    restrict = models.ForeignKey(R, models.RESTRICT, null=True, related_name='restrict_set')
    donothing = models.ForeignKey(R, models.DO_NOTHING, null=True, related_name='donothing_set')
    child = models.ForeignKey(RChild, models.CASCADE, null=True, related_name='a_child_set')
    child_setnull = models.ForeignKey(RChild, models.SET_NULL, null=True, related_name='a_child_setnull_set')
    cascade_p = models.ForeignKey(P, models.CASCADE, null=True, related_name='a_set')
    o2o_setnull = models.OneToOneField(R, models.SET_NULL, null=True, related_name='o2o_setnull')


class B(models.Model):
    protect = models.ForeignKey(R, models.PROTECT)


class SetCallableSkipped(models.Model):
    r = models.ForeignKey(R, models.SET(pick_r), null=True)


class SetCallableConfigured(models.Model):
    r = models.ForeignKey(R, models.SET(pick_r), null=True)   # value in settings.CASCADE_DELETE_SET_VALUES


# --- many-to-many ----------------------------------------------------------------------------------
class M(models.Model):
    m2m = models.ManyToManyField(R, related_name='m_set')
    m2m_through = models.ManyToManyField(R, through='MR', related_name='m_through_set')
    m2m_through_null = models.ManyToManyField(R, through='MRNull', related_name='m_through_null_set')


class MR(models.Model):
    m = models.ForeignKey(M, models.CASCADE)
    r = models.ForeignKey(R, models.CASCADE)


class MRNull(models.Model):
    m = models.ForeignKey(M, models.CASCADE)
    r = models.ForeignKey(R, models.SET_NULL, null=True)


class Friendly(models.Model):
    friends = models.ManyToManyField('self')        # symmetrical: a through table with two FKs to one table


# --- RESTRICT reached through several paths ------------------------------------------------------------
class DeleteTop(models.Model):
    generic_b1 = GenericRelation('GenericB1')
    generic_b2 = GenericRelation('GenericB2')


class B1(models.Model):
    delete_top = models.ForeignKey(DeleteTop, models.CASCADE)


class B2(models.Model):
    delete_top = models.ForeignKey(DeleteTop, models.CASCADE)


class B3(models.Model):
    b2 = models.ForeignKey(B2, models.CASCADE)


class DeleteBottom(models.Model):
    b1 = models.ForeignKey(B1, models.RESTRICT)
    b2 = models.ForeignKey(B2, models.CASCADE, null=True)
    b3 = models.ForeignKey(B3, models.CASCADE, null=True)


class GenericB1(models.Model):
    content_type = models.ForeignKey(ContentType, models.CASCADE)
    object_id = models.PositiveIntegerField()
    generic_delete_top = GenericForeignKey()


class GenericB2(models.Model):
    content_type = models.ForeignKey(ContentType, models.CASCADE)
    object_id = models.PositiveIntegerField()
    generic_delete_top = GenericForeignKey()


class GenericDeleteBottom(models.Model):
    generic_b1 = models.ForeignKey(GenericB1, models.RESTRICT)
    generic_b2 = models.ForeignKey(GenericB2, models.CASCADE)


# --- multi-table inheritance: Parent/Child -----------------------------------------------------------
class Owner(models.Model):
    pass


class Parent(models.Model):
    name = models.CharField(max_length=30, default='')
    restrict_owner = models.ForeignKey(Owner, models.RESTRICT, null=True, related_name='restricted_parents')


class Child(Parent):
    toy = models.CharField(max_length=30, default='')
    owner = models.ForeignKey(Owner, models.CASCADE, null=True, related_name='children')


class Child2(Parent):
    pet = models.CharField(max_length=30, default='')


class ParentRestrict(models.Model):
    parent = models.ForeignKey(Parent, models.RESTRICT)


class ParentProtect(models.Model):
    parent = models.ForeignKey(Parent, models.PROTECT)


class ChildCascade(models.Model):
    child = models.ForeignKey(Child, models.CASCADE)


class ExplicitParent(models.Model):
    name = models.CharField(max_length=30, default='')


class ExplicitChild(ExplicitParent):
    """A parent link declared by hand."""
    base = models.OneToOneField(ExplicitParent, models.CASCADE, parent_link=True, primary_key=True,
                                related_name='explicit_child')


# --- Django's documentation example (on_delete RESTRICT) ------------------------------------------
class Artist(models.Model):
    name = models.CharField(max_length=10)


class Album(models.Model):
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE)


class Song(models.Model):
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE)
    album = models.ForeignKey(Album, on_delete=models.RESTRICT)


class ProtectedSong(models.Model):
    """The same with PROTECT: rows the cascade deletes block too."""
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE)
    album = models.ForeignKey(Album, on_delete=models.PROTECT)


# --- generic relation owners ------------------------------------------------------------------------
class Bookmark(models.Model):
    url = models.CharField(max_length=50)
    tags = GenericRelation(Tag)
    text_tags = GenericRelation(TextTag)


class Note(models.Model):
    text = models.CharField(max_length=50)
    tags = GenericRelation(Tag)


class UuidItem(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    text_tags = GenericRelation(TextTag)


# --- cycles and self references -----------------------------------------------------------------------
class Node(models.Model):
    parent = models.ForeignKey('self', models.CASCADE, null=True, related_name='children')
    guard = models.ForeignKey('self', models.PROTECT, null=True, related_name='guarded')
    hold = models.ForeignKey('self', models.RESTRICT, null=True, related_name='held')


class Person(models.Model):
    best_pet = models.ForeignKey('Pet', models.SET_NULL, null=True, related_name='favourite_of')


class Pet(models.Model):
    owner = models.ForeignKey(Person, models.CASCADE)


class CycA(models.Model):
    b = models.ForeignKey('CycB', models.CASCADE, null=True, related_name='+')


class CycB(models.Model):
    a = models.ForeignKey(CycA, models.CASCADE, null=True, related_name='+')


# --- keys: to_field, uuid and text primary keys, one-to-one primary keys -----------------------------
class ByName(models.Model):
    r = models.ForeignKey(R, models.CASCADE, to_field='name', null=True, related_name='by_name')


class Profile(models.Model):
    r = models.OneToOneField(R, models.CASCADE, primary_key=True)


class ProfileItem(models.Model):
    profile = models.ForeignKey(Profile, models.CASCADE)


class UParent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)


class UChild(models.Model):
    parent = models.ForeignKey(UParent, models.CASCADE)
    setnull = models.ForeignKey(UParent, models.SET_NULL, null=True, related_name='setnull_children')


class Code(models.Model):
    code = models.CharField(max_length=10, primary_key=True)


class CodeUse(models.Model):
    code = models.ForeignKey(Code, models.CASCADE)
    fallback = models.ForeignKey(Code, models.SET('none'), null=True, related_name='fallback_uses')


# --- application-only keys (db_constraint=False) -------------------------------------------------------
class Loose(models.Model):
    r_cascade = models.ForeignKey(R, models.CASCADE, db_constraint=False, null=True, related_name='+')
    r_setnull = models.ForeignKey(R, models.SET_NULL, db_constraint=False, null=True, related_name='+')
    r_nothing = models.ForeignKey(R, models.DO_NOTHING, db_constraint=False, null=True, related_name='+')
    r_protect = models.ForeignKey(R, models.PROTECT, db_constraint=False, null=True,
                                  related_name='loose_protect')
    by_name = models.ForeignKey(R, models.CASCADE, db_constraint=False, null=True, to_field='name',
                                related_name='+')


# --- quoted names --------------------------------------------------------------------------------------
class Weird(models.Model):
    id = models.AutoField(primary_key=True, db_column='Weird Id')

    class Meta:
        db_table = 'Weird Table'


class WeirdChild(models.Model):
    weird = models.ForeignKey(Weird, models.CASCADE, db_column='Parent, Id')
    weird_loose = models.ForeignKey(Weird, models.SET_NULL, null=True, db_constraint=False,
                                    db_column='Loose-Id', related_name='+')

    class Meta:
        db_table = 'weird child.Table'


# --- a parent link that is not the primary key -----------------------------------------------------------
class SideParent(models.Model):
    name = models.CharField(max_length=30, default='')


class SideChild(SideParent):
    code = models.AutoField(primary_key=True)
    side_link = models.OneToOneField(SideParent, models.CASCADE, parent_link=True, related_name='side_child')


class SideChildRef(models.Model):
    side_child = models.ForeignKey(SideChild, models.CASCADE)
    side_parent = models.ForeignKey(SideParent, models.CASCADE, null=True, related_name='refs')

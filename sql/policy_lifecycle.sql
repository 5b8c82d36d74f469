-- Policies across the ways tables and the policy table change without
-- cascade_delete_set_policy(): temporary tables, drops under replica role,
-- direct writes, restores that number columns anew.
\set SHOW_CONTEXT never
CREATE SCHEMA lc;
SET search_path = lc, public;
CREATE TABLE a (id int PRIMARY KEY);
INSERT INTO a VALUES (1), (2), (3), (4);

-- A temporary table vanishes without the event that drops its policies: refused,
-- as child and as parent.
CREATE TEMP TABLE mine (id int PRIMARY KEY, a_id int);
SELECT cascade_delete_set_policy('mine', '{a_id}', 'CASCADE', parent => 'lc.a');
CREATE TABLE perm (id int PRIMARY KEY, t_id int);
CREATE TEMP TABLE tparent (id int PRIMARY KEY);
SELECT cascade_delete_set_policy('lc.perm', '{t_id}', 'CASCADE', parent => 'tparent');

-- A table dropped under session_replication_role = replica (as logical
-- replication's apply worker does) takes its policies with it.
CREATE TABLE gone (id int PRIMARY KEY, a_id int);
SELECT cascade_delete_set_policy('gone', '{a_id}', 'PROTECT', parent => 'a');
SET session_replication_role = replica;
DROP TABLE gone;
RESET session_replication_role;
SELECT count(*) AS policies_left FROM cascade_delete_policy WHERE parent = 'a'::regclass;
SELECT cascade_delete('a', 1);

-- A policy row whose table is gone (written directly) binds nothing and breaks nothing.
INSERT INTO cascade_delete_policy (child, columns, action, parent, parent_columns, attnums, parent_attnums)
    VALUES (4000000000::oid::regclass, '{a_id}', 'PROTECT', 'a', '{id}', '{2}', '{1}');
SELECT cascade_delete('a', 2);
DELETE FROM cascade_delete_policy WHERE child = 4000000000::oid::regclass;

-- A direct write takes effect in this session at once (the cached table graph
-- is read again), and its column numbers are computed from the names, as they
-- are when pg_restore writes the table into a database whose columns were
-- numbered anew.
CREATE TABLE d (id int PRIMARY KEY, junk int, a_id int);
ALTER TABLE d DROP COLUMN junk;
INSERT INTO d VALUES (1, 3);
SELECT cascade_delete('a', 3, dry_run => true);
INSERT INTO cascade_delete_policy (child, columns, action, parent, parent_columns, attnums, parent_attnums)
    VALUES ('d', '{a_id}', 'PROTECT', 'a', '{id}', '{2}', '{7}');
SELECT columns, attnums, parent_attnums FROM cascade_delete_policy WHERE child = 'd'::regclass;
SELECT cascade_delete('a', 3, dry_run => true);
UPDATE cascade_delete_policy SET action = 'CASCADE' WHERE child = 'd'::regclass;
SELECT cascade_delete('a', 3);
-- A real rename is still told apart, with what changed.
SELECT cascade_delete_set_policy('d', '{a_id}', 'CASCADE', parent => 'a');
ALTER TABLE d RENAME a_id TO old_a;
ALTER TABLE d ADD COLUMN a_id int;
SELECT cascade_delete('a', 4);
ALTER TABLE d DROP COLUMN a_id;
ALTER TABLE d RENAME old_a TO a_id;
SELECT cascade_delete('a', 4);

-- The policies as SQL, to carry them where a dump does not (pg_dump -n, -T).
CREATE TABLE g (id int PRIMARY KEY, kind text, obj text);
SELECT cascade_delete_set_policy('g', '{obj}', 'CASCADE', parent => 'a', type_column => 'kind', type_value => 'a');
SELECT cascade_delete_set_policy('perm', '{t_id}', 'SET', value => '0', parent => 'a');
SELECT cascade_delete_policies_sql(schemas => '{lc}');
SELECT count(*) FROM cascade_delete_policies_sql(tables => '{lc.g}');
-- run back in: the same policies
CREATE TEMP TABLE before AS SELECT * FROM cascade_delete_policy;
CREATE TEMP TABLE script AS SELECT * FROM cascade_delete_policies_sql(schemas => '{lc}') s;
DELETE FROM cascade_delete_policy WHERE child IN ('d'::regclass, 'g'::regclass, 'perm'::regclass);
DO $$
DECLARE line text;
BEGIN
    FOR line IN SELECT s FROM script LOOP
        EXECUTE line;
    END LOOP;
END $$;
SELECT count(*) AS policies FROM cascade_delete_policy;
SELECT count(*) AS differences FROM (
    (SELECT * FROM before EXCEPT SELECT * FROM cascade_delete_policy)
    UNION ALL (SELECT * FROM cascade_delete_policy EXCEPT SELECT * FROM before)) x;

SET client_min_messages = warning;
DROP SCHEMA lc CASCADE;

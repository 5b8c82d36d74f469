-- A row of a partition is a row of each of its ancestors: a cascade from any
-- level of a partition tree obeys the foreign keys and policies of every level.
\set SHOW_CONTEXT never
CREATE SCHEMA pt;
SET search_path = pt, public;

-- Three levels: ev (range by id) > ev_low (list by kind, partitioned) > leaves; ev_high a leaf.
CREATE TABLE ev (id int, kind text, PRIMARY KEY (id, kind)) PARTITION BY RANGE (id);
CREATE TABLE ev_low PARTITION OF ev FOR VALUES FROM (0) TO (100) PARTITION BY LIST (kind);
CREATE TABLE ev_low_a PARTITION OF ev_low FOR VALUES IN ('a');
CREATE TABLE ev_low_b PARTITION OF ev_low FOR VALUES IN ('b');
CREATE TABLE ev_high PARTITION OF ev FOR VALUES FROM (100) TO (200);
-- an application-only key to the root, a real CASCADE key to the root,
-- a real NO ACTION key to a leaf, a policy to the intermediate table
CREATE TABLE app_child (id int PRIMARY KEY, ev_id int, ev_kind text);
SELECT cascade_delete_set_policy('app_child', '{ev_id,ev_kind}', 'CASCADE', parent => 'ev');
CREATE TABLE fk_child (id int PRIMARY KEY, ev_id int, ev_kind text,
                       FOREIGN KEY (ev_id, ev_kind) REFERENCES ev ON DELETE CASCADE);
CREATE TABLE leaf_ref (id int PRIMARY KEY, ev_id int, ev_kind text,
                       FOREIGN KEY (ev_id, ev_kind) REFERENCES ev_low_b DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE mid_ref (id int PRIMARY KEY, ev_id int, ev_kind text);
SELECT cascade_delete_set_policy('mid_ref', '{ev_id,ev_kind}', 'SET_NULL', parent => 'ev_low');

CREATE FUNCTION fill() RETURNS void LANGUAGE sql AS $$
    TRUNCATE ev, app_child, fk_child, leaf_ref, mid_ref;
    INSERT INTO ev VALUES (1, 'a'), (2, 'b'), (3, 'b'), (150, 'a');
    INSERT INTO app_child VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 150, 'a');
    INSERT INTO fk_child VALUES (1, 1, 'a'), (2, 3, 'b'), (3, 150, 'a');
    INSERT INTO leaf_ref VALUES (1, 3, 'b');
    INSERT INTO mid_ref VALUES (1, 1, 'a'), (2, 150, 'a');
$$;
CREATE FUNCTION state() RETURNS TABLE (t text, rows text) LANGUAGE sql AS $$
    SELECT 'ev', string_agg(format('%s:%s@%s', id, kind, tableoid::regclass), ' ' ORDER BY id) FROM ev
    UNION ALL SELECT 'app_child', string_agg(id::text, ' ' ORDER BY id) FROM app_child
    UNION ALL SELECT 'fk_child', string_agg(id::text, ' ' ORDER BY id) FROM fk_child
    UNION ALL SELECT 'leaf_ref', string_agg(id::text, ' ' ORDER BY id) FROM leaf_ref
    UNION ALL SELECT 'mid_ref', string_agg(format('%s->%s', id, coalesce(ev_id::text, 'null')), ' ' ORDER BY id) FROM mid_ref;
$$;

-- From a leaf: the policy and the key to the root, the policy to the
-- intermediate table; every row in the report.
SELECT fill();
SELECT cascade_delete('ev_low_a', ARRAY['1', 'a']);
SELECT * FROM state();
-- From the intermediate table: the key to the leaf blocks (deferred or not),
-- and the dry run says so.
SELECT cascade_delete('ev_low', ARRAY['3', 'b'], dry_run => true);
SELECT cascade_delete('ev_low', ARRAY['3', 'b']);
-- From the root: the leaf's key and the intermediate table's policy.
SELECT cascade_delete('ev', ARRAY['3', 'b'], dry_run => true);
DELETE FROM leaf_ref;
SELECT cascade_delete('ev', ARRAY['3', 'b']);
SELECT cascade_delete_many('ev', ARRAY[['2', 'b'], ['150', 'a']]);
SELECT * FROM state();

-- Retention purge on a leaf by a condition.
SELECT fill();
DELETE FROM leaf_ref;
SELECT cascade_delete_where('ev_low_b', 'id < 50');
SELECT cascade_delete_where('ev_high', 'true', dry_run => true);
SELECT * FROM state();

-- The same with key tables (a cycle: ev and its partitions reference each other's rows).
SET cascade_delete.memory_keys = 0;
SELECT fill();
SELECT cascade_delete('ev_low_a', ARRAY['1', 'a']);
SELECT cascade_delete('ev_low', ARRAY['3', 'b']);
DELETE FROM leaf_ref;
SELECT cascade_delete('ev', ARRAY['3', 'b']);
SELECT * FROM state();
RESET cascade_delete.memory_keys;

-- A partitioned table without a primary key cannot be matched with its
-- partitions' rows: refused, only when a cascade needs it.
CREATE TABLE log (id int, at int) PARTITION BY RANGE (at);
CREATE TABLE log_1 PARTITION OF log FOR VALUES FROM (0) TO (10);
ALTER TABLE log_1 ADD PRIMARY KEY (id);
INSERT INTO log VALUES (1, 1);
SELECT cascade_delete('log_1', 1);
INSERT INTO log VALUES (2, 2);
CREATE TABLE log_note (id int PRIMARY KEY, log_id int);
SELECT cascade_delete_set_policy('log_note', '{log_id}', 'CASCADE', parent => 'log_1');
SELECT cascade_delete_set_policy('log_note', '{log_id}', 'CASCADE', parent => 'log', parent_columns => '{id}');
SELECT cascade_delete('log_1', 2);
SELECT cascade_delete_where('log', 'id = 2');

-- Inheritance (legacy partitioning): DELETE FROM pay deletes the child's rows
-- too; cascade_delete refuses a row of a child instead of deleting nothing.
CREATE TABLE pay (id int PRIMARY KEY);
CREATE TABLE pay_2007 () INHERITS (pay);
INSERT INTO pay VALUES (4);
INSERT INTO pay_2007 VALUES (5);
SELECT cascade_delete('pay', 5);
SELECT cascade_delete_where('pay', 'id = 5');
SELECT cascade_delete_many('pay', ARRAY[4, 5]);
SELECT cascade_delete('pay', 4);
SELECT cascade_delete_where('pay_2007', 'id = 5');
SELECT count(*) FROM pay;

SET client_min_messages = warning;
DROP SCHEMA pt CASCADE;

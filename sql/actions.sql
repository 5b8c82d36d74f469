-- Each on_delete action set by policy on Django-style deferred foreign keys,
-- plus foreign keys that exist only in the application.
\set SHOW_CONTEXT never
CREATE SCHEMA actions;
SET search_path = actions, public;

CREATE TABLE parent (id int PRIMARY KEY, name text);
-- Django creates its foreign keys DEFERRABLE INITIALLY DEFERRED with NO ACTION.
CREATE TABLE c_cascade    (id int PRIMARY KEY, parent_id int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE c_setnull    (id int PRIMARY KEY, parent_id int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE c_setdefault (id int PRIMARY KEY, parent_id int DEFAULT 2 REFERENCES parent DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE c_setvalue   (id int PRIMARY KEY, parent_id int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE c_grandchild (id int PRIMARY KEY, c_id int REFERENCES c_cascade DEFERRABLE INITIALLY DEFERRED);
-- No constraint in the database: the relation exists only in the application.
CREATE TABLE c_app        (id int PRIMARY KEY, parent_id int);
CREATE TABLE c_nothing    (id int PRIMARY KEY, parent_id int);

SELECT cascade_delete_set_policy('c_cascade', '{parent_id}', 'CASCADE');
SELECT cascade_delete_set_policy('c_setnull', '{parent_id}', 'set_null');
SELECT cascade_delete_set_policy('c_setdefault', '{parent_id}', 'SET_DEFAULT');
SELECT cascade_delete_set_policy('c_setvalue', '{parent_id}', 'SET', '3');
SELECT cascade_delete_set_policy('c_grandchild', '{c_id}', 'CASCADE');
SELECT cascade_delete_set_policy('c_app', '{parent_id}', 'CASCADE', parent => 'parent');
SELECT cascade_delete_set_policy('c_nothing', '{parent_id}', 'DO_NOTHING', parent => 'parent');

INSERT INTO parent VALUES (1, 'one'), (2, 'two'), (3, 'three');
INSERT INTO c_cascade VALUES (10, 1), (11, 1), (12, 2);
INSERT INTO c_setnull VALUES (20, 1), (21, 2);
INSERT INTO c_setdefault VALUES (30, 1), (31, 3);
INSERT INTO c_setvalue VALUES (40, 1), (41, 2);
INSERT INTO c_grandchild VALUES (50, 10), (51, 11), (52, 12);
INSERT INTO c_app VALUES (60, 1), (61, 2);
INSERT INTO c_nothing VALUES (70, 1), (71, 2);

BEGIN;
SELECT cascade_delete('parent', 1);
COMMIT;

-- parent 1 is gone; CASCADE removed 10, 11 and their grandchildren 50, 51 and
-- c_app's 60; SET_NULL, SET_DEFAULT (2) and SET (3) changed 20, 30, 40;
-- DO_NOTHING left 70 pointing at the deleted parent.
SELECT * FROM parent ORDER BY id;
SELECT * FROM c_cascade ORDER BY id;
SELECT * FROM c_grandchild ORDER BY id;
SELECT * FROM c_setnull ORDER BY id;
SELECT * FROM c_setdefault ORDER BY id;
SELECT * FROM c_setvalue ORDER BY id;
SELECT * FROM c_app ORDER BY id;
SELECT * FROM c_nothing ORDER BY id;

-- DO_NOTHING on a real, immediate foreign key: PostgreSQL's own check decides,
-- and its error (23503) reaches the caller unchanged; nothing is deleted.
CREATE TABLE c_strict (id int PRIMARY KEY, parent_id int REFERENCES parent);
SELECT cascade_delete_set_policy('c_strict', '{parent_id}', 'DO_NOTHING');
INSERT INTO c_strict VALUES (80, 2);
SELECT cascade_delete('parent', 2);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM parent) AS parents, (SELECT count(*) FROM c_cascade) AS cascade_rows,
       (SELECT count(*) FROM c_setnull WHERE parent_id IS NULL) AS nulls;

-- The same key again deletes nothing and reports 0.
SELECT cascade_delete('parent', 1);

SET client_min_messages = warning;
DROP SCHEMA actions CASCADE;
